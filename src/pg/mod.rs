//! The PostgreSQL backend: the same dispatch, claim, outcome and recovery semantics as the file
//! backend, for several machines sharing one queue (DESIGN.md §5, issue 9).
//!
//! * Schema `hurah` (see [`migrate`]): a listener registry with one sequence per listener, and
//!   one `hurah.tasks` row per task copy, indexed for claims by `(listener, due, seq)`.
//! * Dispatch ([`PgDispatcher`], or the SQL function `hurah.dispatch(type, payload[, delay])`
//!   inside an application's own transaction: the outbox pattern) inserts one row per listener
//!   at the event's level, each ancestor level and the root, and `NOTIFY`s each listener's
//!   channel (delivered at commit, coalesced per transaction).
//! * Claims ([`PgQueue::claim`]) take a batch with `FOR UPDATE SKIP LOCKED` in one short
//!   statement. Each queue holds a session-level advisory lock on its own worker key for its
//!   connection's life: the twin of the file backend's kernel-released `flock`. Any worker
//!   returns the claims of a worker whose lock is free ([`PgQueue::recover_dead_workers`]),
//!   counting the attempt for the one task that had started. At-least-once, as the file
//!   backend.
//! * Outcomes ([`PgQueue::settle`]) follow `Queue::settle` exactly: SUCCESS → archive (or
//!   deleted), FAILURE/INVALID → error with `{"reason","class","at","attempts"}`, RETRY →
//!   `retry_count+1`, past max attempts → error `Hit retry limit which is set to: M.`.
//! * Wake-ups ([`PgWorker`]): `LISTEN` on the listeners' channels, a precise timer for the next
//!   delayed task, a slow safety poll.
//!
//! The client is the synchronous `postgres` crate: PHP has no async runtime and runs one
//! request or one worker loop at a time, so blocking calls fit like the file backend's syscalls.
//! TLS follows the DSN's `sslmode` (`disable`, `prefer` (default), `require`) with libpq's
//! meaning: encrypted, certificate not verified.

pub mod admin;
mod any;
mod dispatcher;
mod queue;
mod schema;
mod worker;

pub use any::{dsn_of, handle_once_any, AnyQueue};
pub use dispatcher::{cancel_id, PgDelivery, PgDispatcher, PgReceipt};
/// The client type of [`connect`] (re-exported so callers need not depend on `postgres`).
pub use postgres::Client as PgClient;
pub use queue::{PgClaim, PgQueue, PgSettled, PgStatusRow};
pub use schema::{migrate, migrate_to, schema_version, MIGRATIONS};
pub use worker::{pg_handle_once, PgStopHandle, PgWorker};

use crate::error::{Error, Result};
use postgres::config::SslMode;
use postgres::{Client, Config};
use std::str::FromStr;
use std::time::Duration;

/// Connect timeout used when the DSN names none (`connect_timeout=`), so a dead host never hangs.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory-lock class of hurah's session locks (`pg_advisory_lock(CLASS, key)`): "hura".
pub(crate) const LOCK_CLASS: i32 = 0x6875_7261;

/// True if `root` is a PostgreSQL connection URL (`postgresql://` or `postgres://`) rather
/// than a directory.
pub fn is_dsn(root: &str) -> bool {
    root.starts_with("postgresql://") || root.starts_with("postgres://")
}

/// The DSN with any password replaced by `***` (for messages).
pub fn redact(dsn: &str) -> String {
    if let Some(rest) = dsn.split_once("://").map(|(_, r)| r) {
        if let Some((auth, _)) = rest.split_once('@') {
            if let Some((user, _)) = auth.split_once(':') {
                return dsn.replacen(auth, &format!("{user}:***"), 1);
            }
        }
    }
    dsn.to_string()
}

/// `host:port` of the first host of a config (for messages).
fn describe(config: &Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("");
    format!("{host}:{port}/{db}")
}

/// Maps a client error onto [`Error::Database`], with the whole cause chain.
pub(crate) fn db_error(what: impl Into<String>, e: postgres::Error) -> Error {
    let reason = match e.as_db_error() {
        Some(d) => format!(
            "{}: {} (SQLSTATE {})",
            d.severity(),
            d.message(),
            d.code().code()
        ),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                let t = c.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                src = c.source();
            }
            s
        }
    };
    Error::Database {
        what: what.into(),
        reason,
    }
}

/// Shorthand: `.map_err(db("claim"))`.
pub(crate) fn db(what: &'static str) -> impl Fn(postgres::Error) -> Error {
    move |e| db_error(what, e)
}

/// Parses a DSN (URL or `key=value` form). A malformed one is [`Error::InvalidOption`]
/// naming `dsn`.
pub fn parse_dsn(dsn: &str) -> Result<Config> {
    let mut config = Config::from_str(dsn).map_err(|e| Error::InvalidOption {
        name: "dsn".into(),
        reason: format!("{}: {e}", redact(dsn)),
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("hurah");
    }
    Ok(config)
}

mod tls {
    //! rustls (ring) client configuration with libpq `sslmode=require` semantics: the channel is
    //! encrypted, the server certificate is not verified (as libpq does below `verify-ca`).
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
    use std::sync::Arc;

    #[derive(Debug)]
    struct AcceptAnyServerCert(Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAnyServerCert {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// An encrypting, non-verifying client configuration.
    pub(super) fn unverified_config() -> Result<ClientConfig, rustls::Error> {
        let provider = Arc::new(ring::default_provider());
        let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert(provider)))
            .with_no_client_auth();
        Ok(config)
    }
}

/// Opens a connection. Refused connections, unknown hosts, bad credentials and timeouts are
/// [`Error::Database`] naming `host:port/db` and the reason; never a hang past the connect
/// timeout.
pub fn connect(dsn: &str) -> Result<Client> {
    let config = parse_dsn(dsn)?;
    let what = format!("connect to {}", describe(&config));
    let client = match config.get_ssl_mode() {
        SslMode::Disable => config.connect(postgres::NoTls),
        _ => {
            // libpq's `prefer`/`require`: encrypt, do not verify the certificate.
            let tls = tls::unverified_config().map_err(|e| Error::Database {
                what: what.clone(),
                reason: format!("TLS setup failed: {e}"),
            })?;
            config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        }
    };
    client.map_err(|e| db_error(what, e))
}
