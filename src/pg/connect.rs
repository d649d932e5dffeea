//! Opening a connection: the DSN's TLS checks (see [`super::dsn`]) applied with the rustls
//! configurations of [`super::tls`], and errors that name the server and the reason.

use super::dsn::{parse, RootCert, Verify};
use super::{db_error, describe, tls};
use crate::error::{Error, Result};
use postgres::config::SslMode;
use postgres::{Client, Config};

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
