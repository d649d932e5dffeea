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
//! TLS follows the DSN's `sslmode` and `sslrootcert` with libpq's meaning (rustls with ring, no
//! OpenSSL): `disable`; `prefer` (default) and `require` encrypt without verifying the
//! certificate; `verify-ca` checks its chain against `sslrootcert` (a PEM file; default
//! `~/.postgresql/root.crt`; `system` for the system's CA bundle), `verify-full` also the host
//! name. As in libpq, `prefer`/`require` with an explicit `sslrootcert` verify the chain.

pub mod admin;
mod any;
mod backend;
mod dispatcher;
mod queue;
mod schema;
mod worker;

pub use any::{dsn_of, handle_once_any, AnyQueue};
pub use backend::PgBackend;
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
/// naming `dsn`. `sslmode` and `sslrootcert` are read here rather than by `postgres::Config`,
/// which knows neither `verify-ca`/`verify-full` nor `sslrootcert`: the returned config has
/// `verify-*` as `require` (the certificate checks are [`connect`]'s).
pub fn parse_dsn(dsn: &str) -> Result<Config> {
    parse(dsn).map(|(config, _)| config)
}

/// [`parse_dsn`], with the certificate checks the DSN asks for.
fn parse(dsn: &str) -> Result<(Config, Option<Verify>)> {
    let invalid = |reason: String| Error::InvalidOption {
        name: "dsn".into(),
        reason,
    };
    let (rest, sslmode, sslrootcert) = take_tls_params(dsn).map_err(|e| invalid(e))?;
    let mut config = Config::from_str(&rest).map_err(|e| invalid(format!("{}: {e}", redact(dsn))))?;
    let (ssl_mode, verify) = tls_mode(sslmode.as_deref(), sslrootcert.as_deref()).map_err(invalid)?;
    config.ssl_mode(ssl_mode);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("hurah");
    }
    Ok((config, verify))
}

/// The certificate checks of `sslmode=verify-ca`/`verify-full` (or of `prefer`/`require` with
/// an explicit `sslrootcert`, which libpq verifies as `verify-ca`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verify {
    /// The `sslmode` as written (for messages).
    sslmode: String,
    /// `verify-full`: the certificate must also name the host.
    check_host: bool,
    /// The trusted certificates.
    roots: RootCert,
}

/// Where the trusted certificates of [`Verify`] come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RootCert {
    /// `sslrootcert=<path>`: a PEM file.
    File(String),
    /// No `sslrootcert`: libpq's default, `~/.postgresql/root.crt`.
    Default,
    /// `sslrootcert=system`: the system's CA bundle.
    System,
}

/// libpq's `sslmode` and `sslrootcert` → the client's `SslMode` and the checks to make.
fn tls_mode(
    sslmode: Option<&str>,
    sslrootcert: Option<&str>,
) -> std::result::Result<(SslMode, Option<Verify>), String> {
    let sslrootcert = sslrootcert.filter(|r| !r.is_empty());
    let system = sslrootcert == Some("system");
    let mode = sslmode.unwrap_or(if system { "verify-full" } else { "prefer" });
    if system && mode != "verify-full" {
        return Err(format!(
            "weak sslmode {mode:?} may not be used with sslrootcert=system (use \"verify-full\")"
        ));
    }
    let (ssl_mode, verify, check_host) = match mode {
        "disable" => return Ok((SslMode::Disable, None)),
        "prefer" => (SslMode::Prefer, sslrootcert.is_some(), false),
        "require" => (SslMode::Require, sslrootcert.is_some(), false),
        "verify-ca" => (SslMode::Require, true, false),
        "verify-full" => (SslMode::Require, true, true),
        other => {
            return Err(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            ))
        }
    };
    let verify = verify.then(|| Verify {
        sslmode: mode.to_string(),
        check_host,
        roots: match sslrootcert {
            None => RootCert::Default,
            Some("system") => RootCert::System,
            Some(path) => RootCert::File(path.to_string()),
        },
    });
    Ok((ssl_mode, verify))
}

/// Splits `sslmode` and `sslrootcert` (the last of each, decoded) off a DSN, returning the rest
/// for `postgres::Config`. A DSN this cannot follow is returned whole, for `Config` to reject.
/// The only error is a value that is not UTF-8 once percent-decoded (the message holds no
/// other part of the DSN).
#[allow(clippy::type_complexity)]
fn take_tls_params(
    dsn: &str,
) -> std::result::Result<(String, Option<String>, Option<String>), String> {
    let mut sslmode = None;
    let mut sslrootcert = None;
    let mut take = |key: &str, value: String| match key {
        "sslmode" => sslmode = Some(value),
        "sslrootcert" => sslrootcert = Some(value),
        _ => unreachable!(),
    };
    let is_tls_key = |key: &str| key == "sslmode" || key == "sslrootcert";
    let rest = if let Some(url) = dsn
        .strip_prefix("postgresql://")
        .or_else(|| dsn.strip_prefix("postgres://"))
    {
        // As postgres::Config: the credentials end at the first `@`, the query starts at the
        // next `?`, its parameters are `&`-separated `key=value`, both percent-encoded.
        let from = dsn.len() - url.len() + url.find('@').map_or(0, |i| i + 1);
        let Some(q) = dsn[from..].find('?').map(|i| from + i) else {
            return Ok((dsn.to_string(), None, None));
        };
        let mut kept = Vec::new();
        for param in dsn[q + 1..].split('&') {
            match param.split_once('=') {
                Some((k, v)) if percent_decode(k).as_deref().is_some_and(is_tls_key) => {
                    let k = percent_decode(k).unwrap_or_default();
                    let v = percent_decode(v)
                        .ok_or_else(|| format!("{k} is not UTF-8 once percent-decoded"))?;
                    take(&k, v);
                }
                _ => kept.push(param),
            }
        }
        if kept.is_empty() {
            dsn[..q].to_string()
        } else {
            format!("{}?{}", &dsn[..q], kept.join("&"))
        }
    } else {
        // `key = value` pairs separated by white space; a value is bare or single-quoted, with
        // backslash escapes.
        let mut rest = String::new();
        let mut kept_from = 0;
        let mut it = dsn.char_indices().peekable();
        let skip_ws = |it: &mut std::iter::Peekable<std::str::CharIndices>| {
            while it.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        };
        loop {
            skip_ws(&mut it);
            let Some(&(start, _)) = it.peek() else { break };
            while it.next_if(|(_, c)| !c.is_whitespace() && *c != '=').is_some() {}
            let key = &dsn[start..it.peek().map_or(dsn.len(), |(i, _)| *i)];
            skip_ws(&mut it);
            if key.is_empty() || it.next_if(|(_, c)| *c == '=').is_none() {
                return Ok((dsn.to_string(), None, None));
            }
            skip_ws(&mut it);
            let quoted = it.next_if(|(_, c)| *c == '\'').is_some();
            let mut value = String::new();
            loop {
                match it.peek() {
                    None if quoted => return Ok((dsn.to_string(), None, None)),
                    None => break,
                    Some((_, '\'')) if quoted => {
                        it.next();
                        break;
                    }
                    Some((_, c)) if !quoted && c.is_whitespace() => break,
                    Some(_) => {
                        let (_, c) = it.next().unwrap();
                        if c == '\\' {
                            value.extend(it.next().map(|(_, c)| c));
                        } else {
                            value.push(c);
                        }
                    }
                }
            }
            if !quoted && value.is_empty() {
                return Ok((dsn.to_string(), None, None));
            }
            if is_tls_key(key) {
                rest.push_str(&dsn[kept_from..start]);
                kept_from = it.peek().map_or(dsn.len(), |(i, _)| *i);
                take(key, value);
            }
        }
        rest.push_str(&dsn[kept_from..]);
        rest
    };
    Ok((rest, sslmode, sslrootcert))
}

/// Percent-decoding as postgres::Config does it (`%` not followed by two hex digits stays).
/// `None` if the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).and_then(|c| hex(*c)), b.get(i + 2).and_then(|c| hex(*c))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
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
