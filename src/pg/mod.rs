//! The PostgreSQL backend: the same dispatch, claim, outcome and recovery semantics as the file
//! backend, for several machines sharing one queue (docs/ARCHITECTURE.md, "PostgreSQL").
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
mod backend;
mod dispatcher;
mod queue;
mod schema;
mod worker;

pub use crate::url::{is_dsn, redact};
pub use backend::PgBackend;
pub use dispatcher::{cancel_id, PgDispatcher};
/// The client type of [`connect`] (re-exported so callers need not depend on `postgres`).
pub use postgres::Client as PgClient;
pub use queue::{PgClaim, PgQueue, PgSettled, PgStatusRow};
pub use schema::{migrate, migrate_to, schema_version, MIGRATIONS};
pub use worker::{pg_handle_once, PgWorker};

use crate::error::{Error, Result};
use postgres::config::SslMode;
use postgres::{Client, Config};
use std::str::FromStr;
use std::time::Duration;

/// Connect timeout used when the DSN names none (`connect_timeout=`), so a dead host never hangs.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The advisory-lock class of hurah's session locks (`pg_advisory_lock(CLASS, key)`): "hura".
pub(crate) const LOCK_CLASS: i32 = 0x6875_7261;

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
    let (rest, sslmode, sslrootcert) = take_tls_params(dsn).map_err(invalid)?;
    let mut config =
        Config::from_str(&rest).map_err(|e| invalid(format!("{}: {e}", redact(dsn))))?;
    let (ssl_mode, verify) =
        tls_mode(sslmode.as_deref(), sslrootcert.as_deref()).map_err(invalid)?;
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
            while it
                .next_if(|(_, c)| !c.is_whitespace() && *c != '=')
                .is_some()
            {}
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
        match (
            b[i],
            b.get(i + 1).and_then(|c| hex(*c)),
            b.get(i + 2).and_then(|c| hex(*c)),
        ) {
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
    //! rustls (ring) client configurations with libpq's `sslmode` semantics: `prefer`/`require`
    //! encrypt without verifying the server certificate; `verify-ca` checks its chain against
    //! trusted certificates, `verify-full` also that it names the host.
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
    use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::server::ParsedCertificate;
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
    use std::path::Path;
    use std::sync::Arc;

    /// What the server certificate is checked for.
    #[derive(Debug)]
    enum Check {
        /// Nothing (`prefer`, `require`).
        Nothing,
        /// Its chain ends at one of these (`verify-ca`), and with `true` it names the host
        /// (`verify-full`).
        Roots(RootCertStore, bool),
    }

    #[derive(Debug)]
    struct Verifier {
        provider: Arc<CryptoProvider>,
        check: Check,
    }

    impl ServerCertVerifier for Verifier {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            _ocsp: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            if let Check::Roots(roots, check_host) = &self.check {
                let cert = ParsedCertificate::try_from(end_entity)?;
                verify_server_cert_signed_by_trust_anchor(
                    &cert,
                    roots,
                    intermediates,
                    now,
                    self.provider.signature_verification_algorithms.all,
                )?;
                if *check_host {
                    verify_server_name(&cert, server_name)?;
                }
            }
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
                &self.provider.signature_verification_algorithms,
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
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    fn config(check: Check) -> Result<ClientConfig, rustls::Error> {
        let provider = Arc::new(ring::default_provider());
        let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier { provider, check }))
            .with_no_client_auth();
        Ok(config)
    }

    /// An encrypting, non-verifying client configuration.
    pub(super) fn unverified_config() -> Result<ClientConfig, rustls::Error> {
        config(Check::Nothing)
    }

    /// A configuration that accepts only a certificate chain ending at one of `roots`, and with
    /// `check_host` only one naming the host.
    pub(super) fn verified_config(
        roots: RootCertStore,
        check_host: bool,
    ) -> Result<ClientConfig, rustls::Error> {
        config(Check::Roots(roots, check_host))
    }

    /// The certificates of a PEM file. Every `CERTIFICATE` block must be a certificate
    /// (`lenient`: those that are not are skipped, for system bundles); there must be one.
    /// Errors name the file.
    pub(super) fn load_roots(path: &Path, lenient: bool) -> Result<RootCertStore, String> {
        let pem =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut roots = RootCertStore::empty();
        for (i, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
            let cert =
                cert.map_err(|e| format!("{} is not a valid PEM file: {e}", path.display()))?;
            if let Err(e) = roots.add(cert) {
                if !lenient {
                    return Err(format!(
                        "certificate {} of {} is not a valid X.509 certificate: {e}",
                        i + 1,
                        path.display()
                    ));
                }
            }
        }
        if roots.is_empty() {
            return Err(format!(
                "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            ));
        }
        Ok(roots)
    }

    /// The rustls error behind a failed connection, if the TLS layer failed.
    pub(super) fn rustls_error(e: &postgres::Error) -> Option<&rustls::Error> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(c) = cause {
            if let Some(r) = c.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
            let inner = c
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref());
            if let Some(r) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Some(r);
            }
            cause = c.source();
        }
        None
    }
}

/// The system's CA bundle for `sslrootcert=system`: `$SSL_CERT_FILE` (as OpenSSL), else the
/// first of the usual distribution paths that exists.
fn system_roots_file() -> std::path::PathBuf {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        return f.into();
    }
    const BUNDLES: [&str; 4] = [
        "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
        "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
        "/etc/ssl/ca-bundle.pem",             // openSUSE
        "/etc/ssl/cert.pem",                  // Alpine, BSDs
    ];
    let found = BUNDLES.iter().find(|f| std::path::Path::new(f).exists());
    found.unwrap_or(&BUNDLES[0]).into()
}

/// The trusted certificates of `verify` and the file they come from. A file that is missing,
/// unreadable, not PEM or without certificate is [`Error::InvalidOption`] `sslrootcert`
/// naming it.
fn root_store(verify: &Verify) -> Result<(rustls::RootCertStore, std::path::PathBuf)> {
    let invalid = |reason: String| Error::InvalidOption {
        name: "sslrootcert".into(),
        reason,
    };
    let (path, lenient) = match &verify.roots {
        RootCert::File(path) => (path.into(), false),
        RootCert::System => (system_roots_file(), true),
        RootCert::Default => {
            // libpq's default; like libpq, $HOME or else the user's passwd entry.
            #[allow(deprecated)] // not deprecated since Rust 1.86; correct on Unix before.
            let home = std::env::home_dir().filter(|h| !h.as_os_str().is_empty());
            let Some(home) = home else {
                return Err(invalid(format!(
                    "sslmode={} needs trusted certificates: no home directory for the default \
                     ~/.postgresql/root.crt; name a PEM file with sslrootcert=",
                    verify.sslmode
                )));
            };
            let path = home.join(".postgresql").join("root.crt");
            if !path.exists() {
                return Err(invalid(format!(
                    "sslmode={} needs trusted certificates: root certificate file {} does not \
                     exist; name a PEM file with sslrootcert=, use sslrootcert=system, or \
                     use sslmode=require (no verification)",
                    verify.sslmode,
                    path.display()
                )));
            }
            (path, false)
        }
    };
    let roots = tls::load_roots(&path, lenient)
        .map_err(|e| invalid(format!("{e} (sslmode={})", verify.sslmode)))?;
    Ok((roots, path))
}

/// The host name the server certificate is checked against: the first `host` (for messages).
fn tls_host(config: &Config) -> String {
    match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".into(),
    }
}

/// Opens a connection. Refused connections, unknown hosts, bad credentials, timeouts and
/// server certificates that fail `sslmode=verify-ca`/`verify-full` are [`Error::Database`]
/// naming `host:port/db` and the reason; never a hang past the connect timeout. A malformed
/// DSN, or an `sslrootcert` file that cannot be read or holds no certificate, is
/// [`Error::InvalidOption`] naming the value.
pub fn connect(dsn: &str) -> Result<Client> {
    let (config, verify) = parse(dsn)?;
    let what = format!("connect to {}", describe(&config));
    let setup_failed = |e: rustls::Error| Error::Database {
        what: what.clone(),
        reason: format!("TLS setup failed: {e}"),
    };
    let (result, roots_file) = match (config.get_ssl_mode(), &verify) {
        (SslMode::Disable, _) => (config.connect(postgres::NoTls), None),
        (_, None) => {
            // libpq's `prefer`/`require`: encrypt, do not verify the certificate.
            let tls = tls::unverified_config().map_err(setup_failed)?;
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            (config.connect(tls), None)
        }
        (_, Some(v)) => {
            let (roots, path) = root_store(v)?;
            let tls = tls::verified_config(roots, v.check_host).map_err(setup_failed)?;
            let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
            (config.connect(tls), Some(path))
        }
    };
    result.map_err(|e| {
        let rejected = match tls::rustls_error(&e) {
            Some(rustls::Error::InvalidCertificate(why)) => why,
            _ => return db_error(what.clone(), e),
        };
        let why = match rejected {
            rustls::CertificateError::UnknownIssuer => {
                "it is not issued by a certificate of sslrootcert (UnknownIssuer)".to_string()
            }
            other => other.to_string(),
        };
        let checks = match (&verify, &roots_file) {
            (Some(v), Some(path)) => {
                format!("sslmode={}, sslrootcert {}", v.sslmode, path.display())
            }
            _ => "not verified".into(),
        };
        Error::Database {
            what: what.clone(),
            reason: format!(
                "server certificate for host {:?} rejected ({checks}): {why}",
                tls_host(&config)
            ),
        }
    })
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    fn split(dsn: &str) -> (String, Option<String>, Option<String>) {
        take_tls_params(dsn).unwrap()
    }

    #[test]
    fn tls_params_are_taken_from_urls() {
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            split("postgresql://u:p@h:5432/db?sslmode=verify-ca&sslrootcert=%2Fa%20b%2Fca.pem"),
            (
                "postgresql://u:p@h:5432/db".into(),
                s("verify-ca"),
                s("/a b/ca.pem")
            )
        );
        assert_eq!(
            split("postgres://h/db?connect_timeout=2&sslrootcert=/ca.pem&application_name=x"),
            (
                "postgres://h/db?connect_timeout=2&application_name=x".into(),
                None,
                s("/ca.pem")
            )
        );
        // The last one wins, as in postgres::Config; a `?` in the password is not the query.
        assert_eq!(
            split("postgresql://u:a?b@h/db?sslmode=require&sslmode=verify-full"),
            ("postgresql://u:a?b@h/db".into(), s("verify-full"), None)
        );
        assert_eq!(
            split("postgresql://h/db"),
            ("postgresql://h/db".into(), None, None)
        );
        assert!(take_tls_params("postgresql://h/db?sslrootcert=%FF").is_err());
    }

    #[test]
    fn tls_params_are_taken_from_key_value_dsns() {
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            split("host=h sslmode = verify-full user=u sslrootcert='/a b/c\\'a.pem' dbname=d"),
            (
                "host=h  user=u  dbname=d".into(),
                s("verify-full"),
                s("/a b/c'a.pem")
            )
        );
        assert_eq!(
            split("sslrootcert=/x\\ y.pem"),
            ("".into(), None, s("/x y.pem"))
        );
        // Malformed: left whole for postgres::Config to reject.
        for bad in ["host=h sslmode", "sslrootcert='/x", "=x sslmode=verify-ca"] {
            assert_eq!(split(bad), (bad.to_string(), None, None), "{bad}");
        }
        let c = parse_dsn("host=h sslmode=verify-ca sslrootcert=/ca.pem port=6543").unwrap();
        assert_eq!(c.get_ports(), &[6543]);
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn sslmode_follows_libpq() {
        let verify = |sslmode: &str, check_host, roots| Verify {
            sslmode: sslmode.into(),
            check_host,
            roots,
        };
        let file = || RootCert::File("/ca.pem".into());
        assert_eq!(tls_mode(None, None), Ok((SslMode::Prefer, None)));
        assert_eq!(
            tls_mode(Some("disable"), Some("/ca.pem")),
            Ok((SslMode::Disable, None))
        );
        assert_eq!(
            tls_mode(Some("require"), None),
            Ok((SslMode::Require, None))
        );
        assert_eq!(
            tls_mode(Some("require"), Some("/ca.pem")),
            Ok((SslMode::Require, Some(verify("require", false, file()))))
        );
        assert_eq!(
            tls_mode(Some("prefer"), Some("/ca.pem")),
            Ok((SslMode::Prefer, Some(verify("prefer", false, file()))))
        );
        assert_eq!(
            tls_mode(Some("verify-ca"), None),
            Ok((
                SslMode::Require,
                Some(verify("verify-ca", false, RootCert::Default))
            ))
        );
        assert_eq!(
            tls_mode(Some("verify-full"), Some("")),
            Ok((
                SslMode::Require,
                Some(verify("verify-full", true, RootCert::Default))
            ))
        );
        assert_eq!(
            tls_mode(None, Some("system")),
            Ok((
                SslMode::Require,
                Some(verify("verify-full", true, RootCert::System))
            ))
        );
        let e = tls_mode(Some("verify-ca"), Some("system")).unwrap_err();
        assert!(e.contains("weak sslmode \"verify-ca\""), "{e}");
        let e = tls_mode(Some("verify_full"), None).unwrap_err();
        assert!(e.contains("\"verify_full\""), "{e}");
    }
}
