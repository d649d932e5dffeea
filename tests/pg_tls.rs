//! `sslmode=verify-ca` / `verify-full` with `sslrootcert`, against the real test server
//! (`HURAH_TEST_PG`, default `postgresql://postgres@127.0.0.1:5432/postgres`). The server's
//! certificate is Debian's self-signed snakeoil (`/etc/ssl/certs/ssl-cert-snakeoil.pem`, or the
//! PEM file named by `HURAH_TEST_PG_SSLROOTCERT`), which is therefore its own CA. Cases that
//! need a TLS server print why and return early when the server has `ssl` off or the
//! certificate file is missing; the `sslrootcert` / `sslmode` errors need no server.

mod pg_support;

use hurah::pg;
use hurah::Error;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::process::Command;

/// A self-signed CA that issued nothing (P-256, valid to 2126; its key was thrown away): a
/// well-formed trust anchor that is not the server's.
const OTHER_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBujCCAWGgAwIBAgIUeDcB1fLu1GCBRlmRcJjoy6/Tv6UwCgYIKoZIzj0EAwIw
MjEwMC4GA1UEAwwnaHVyYWggdGVzdCBDQSAobm90IHRoZSBzZXJ2ZXIncyBpc3N1
ZXIpMCAXDTI2MTEyNTE0NTc0NFoYDzIxMjYxMTAxMTQ1NzQ0WjAyMTAwLgYDVQQD
DCdodXJhaCB0ZXN0IENBIChub3QgdGhlIHNlcnZlcidzIGlzc3VlcikwWTATBgcq
hkjOPQIBBggqhkjOPQMBBwNCAAS+VRpKuuzeE/ClZpYKahl9eUVKeygffUNBzlPU
z5WVPWGoMMcwgXM4KDoQf2mITV8/gP6U69uqj+tQg0uAq4LKo1MwUTAdBgNVHQ4E
FgQUVHjOAiUfE4Qrf1CQTrvYpn1Rcs0wHwYDVR0jBBgwFoAUVHjOAiUfE4Qrf1CQ
TrvYpn1Rcs0wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAlOH8C
SHeQnc6NWk+c/bi2xzpS0Bk+4sEEslySeWlixAIgOzC+je1gHQJtXgHMUfH9LCDo
jVZqxznG6+E2ZfQT2AU=
-----END CERTIFICATE-----
";

/// The system CA bundle (Debian's ca-certificates), which does not hold the snakeoil.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A name no certificate holds, connected to by address (`hostaddr`), so `verify-full`
/// compares the certificate with it.
const WRONG_NAME: &str = "hurah-tls-test.invalid";

/// The test server, as TLS cases need it.
struct Server {
    /// The URL of `HURAH_TEST_PG`.
    url: String,
    /// Its first host, the name `verify-full` checks.
    host: String,
    /// That host's address, for `hostaddr=`.
    ip: IpAddr,
    port: u16,
    user: String,
    password: Option<String>,
    dbname: String,
    /// The PEM file of the certificate the server presents.
    ca: String,
}

impl Server {
    /// The server, or `None` after printing why TLS cases cannot run here.
    fn tls() -> Option<Server> {
        let url = pg_support::admin_dsn();
        let ca = std::env::var("HURAH_TEST_PG_SSLROOTCERT")
            .unwrap_or_else(|_| "/etc/ssl/certs/ssl-cert-snakeoil.pem".into());
        let skip = |why: String| {
            eprintln!("skipping TLS verification cases: {why}");
            None
        };
        if !Path::new(&ca).exists() {
            return skip(format!(
                "no server certificate {ca} (set HURAH_TEST_PG_SSLROOTCERT)"
            ));
        }
        let config = pg::parse_dsn(&url).unwrap();
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => return skip(format!("{} is not a TCP host", pg::redact(&url))),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let ip = (host.as_str(), port)
            .to_socket_addrs()
            .unwrap_or_else(|e| panic!("resolve {host}: {e}"))
            .next()
            .unwrap()
            .ip();
        let mut c = pg::connect(&url).unwrap_or_else(|e| {
            panic!("the PostgreSQL test server is not reachable ({e}); set HURAH_TEST_PG")
        });
        let ssl: String = c.query_one("SHOW ssl", &[]).unwrap().get(0);
        if ssl != "on" {
            return skip(format!("the server at {host}:{port} has ssl={ssl}"));
        }
        Some(Server {
            host,
            ip,
            port,
            user: config.get_user().unwrap_or("postgres").into(),
            password: config
                .get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            dbname: config.get_dbname().unwrap_or("postgres").into(),
            url,
            ca,
        })
    }

    /// The URL with `params` added to its query.
    fn url(&self, params: &str) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{params}", self.url)
    }

    /// A `key=value` DSN naming `host` but connecting to the server's address.
    fn kv(&self, host: &str, params: &str) -> String {
        let mut dsn = format!(
            "host={host} hostaddr={} port={} user={} dbname={}",
            self.ip,
            self.port,
            quote(&self.user),
            quote(&self.dbname)
        );
        if let Some(p) = &self.password {
            dsn += &format!(" password={}", quote(p));
        }
        format!("{dsn} {params}")
    }
}

/// A single-quoted `key=value` DSN value.
fn quote(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Connects and checks the session is encrypted.
fn assert_connects_encrypted(dsn: &str) {
    let mut c = pg::connect(dsn).unwrap_or_else(|e| panic!("{}: {e}", pg::redact(dsn)));
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ssl, "{}: not encrypted", pg::redact(dsn));
    let one: i32 = c.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

/// The [`Error::Database`] reason of a connection that must fail.
fn rejected(dsn: &str) -> String {
    match pg::connect(dsn) {
        Ok(_) => panic!("{} connected", pg::redact(dsn)),
        Err(Error::Database { what, reason }) => {
            assert!(what.starts_with("connect to "), "{what}");
            reason
        }
        Err(e) => panic!("{}: {e:?}", pg::redact(dsn)),
    }
}

/// The [`Error::InvalidOption`] of a DSN that must be refused before connecting.
fn refused(dsn: &str) -> (String, String) {
    match pg::connect(dsn) {
        Err(Error::InvalidOption { name, reason }) => (name, reason),
        Err(e) => panic!("{dsn}: {e:?}"),
        Ok(_) => panic!("{dsn} connected"),
    }
}

fn pem_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn verify_ca_accepts_the_servers_certificate() {
    let Some(s) = Server::tls() else { return };
    assert_connects_encrypted(&s.url(&format!("sslmode=verify-ca&sslrootcert={}", s.ca)));
    assert_connects_encrypted(&s.kv(
        &s.host,
        &format!("sslmode=verify-ca sslrootcert={}", quote(&s.ca)),
    ));
    // verify-ca does not look at the host name.
    assert_connects_encrypted(&s.kv(
        WRONG_NAME,
        &format!("sslmode=verify-ca sslrootcert={}", quote(&s.ca)),
    ));
    // As libpq: require with an explicit sslrootcert verifies the chain too.
    assert_connects_encrypted(&s.url(&format!("sslmode=require&sslrootcert={}", s.ca)));
}

#[test]
fn a_certificate_from_another_ca_is_rejected() {
    let Some(s) = Server::tls() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other = pem_file(dir.path(), "other-ca.pem", OTHER_CA);
    for mode in ["verify-ca", "verify-full", "require", "prefer"] {
        let reason = rejected(&s.url(&format!("sslmode={mode}&sslrootcert={other}")));
        for part in [
            format!("server certificate for host {:?} rejected", s.host),
            format!("sslmode={mode}, sslrootcert {other}"),
            "not issued by a certificate of sslrootcert (UnknownIssuer)".into(),
        ] {
            assert!(reason.contains(&part), "{mode}: {reason}");
        }
    }
    // The system's CAs did not sign the snakeoil either.
    if Path::new(SYSTEM_BUNDLE).exists() {
        let reason = rejected(&s.url(&format!("sslmode=verify-ca&sslrootcert={SYSTEM_BUNDLE}")));
        assert!(reason.contains("UnknownIssuer"), "{reason}");
        let reason = rejected(&s.url("sslrootcert=system"));
        assert!(
            reason.contains("sslmode=verify-full") && reason.contains("UnknownIssuer"),
            "{reason}"
        );
    } else {
        eprintln!("skipping the system-CA cases: no {SYSTEM_BUNDLE}");
    }
}

#[test]
fn verify_full_checks_the_host_name() {
    let Some(s) = Server::tls() else { return };
    let full = format!("sslmode=verify-full sslrootcert={}", quote(&s.ca));
    // A name the certificate does not hold, at the server's address.
    let reason = rejected(&s.kv(WRONG_NAME, &full));
    for part in [
        format!("server certificate for host \"{WRONG_NAME}\" rejected"),
        format!("sslmode=verify-full, sslrootcert {}", s.ca),
        format!("certificate not valid for name \"{WRONG_NAME}\""),
    ] {
        assert!(reason.contains(&part), "{reason}");
    }
    // The names the certificate holds (from the message: `DnsName("...")`).
    let names: Vec<&str> = reason
        .split("DnsName(\"")
        .skip(1)
        .filter_map(|r| r.split_once("\")").map(|(n, _)| n))
        .collect();
    // The URL's host (127.0.0.1 by default): the snakeoil names the machine, not an address.
    match pg::connect(&s.url(&format!("sslmode=verify-full&sslrootcert={}", s.ca))) {
        Ok(_) => {
            assert!(names.contains(&s.host.as_str()), "{} accepted", s.host);
            eprintln!(
                "the server certificate names {}: no mismatch to check",
                s.host
            );
        }
        Err(Error::Database { reason, .. }) => {
            assert!(
                reason.contains(&format!("certificate not valid for name {:?}", s.host)),
                "{reason}"
            );
        }
        Err(e) => panic!("{e:?}"),
    }
    // A name the certificate holds passes verify-full.
    match names.first() {
        Some(name) => assert_connects_encrypted(&s.kv(name, &full)),
        None => eprintln!("the server certificate names no DNS host: {reason}"),
    }
}

#[test]
fn sslrootcert_problems_name_the_file() {
    // Checked before connecting: no server needed. The password never shows.
    let dir = tempfile::tempdir().unwrap();
    let base = "postgresql://u:secret@127.0.0.1:1/db?sslmode=verify-ca&sslrootcert=";
    let missing = dir.path().join("missing.pem").display().to_string();
    let not_pem = pem_file(dir.path(), "notes.txt", "just text\n");
    let bad_base64 = pem_file(
        dir.path(),
        "bad64.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let not_x509 = pem_file(
        dir.path(),
        "notx509.pem",
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    );
    for (path, says) in [
        (&missing, "cannot read"),
        (&not_pem, "holds no PEM certificate"),
        (&bad_base64, "is not a valid PEM file"),
        (&not_x509, "is not a valid X.509 certificate"),
    ] {
        let (name, reason) = refused(&format!("{base}{path}"));
        assert_eq!(name, "sslrootcert", "{reason}");
        assert!(reason.contains(path.as_str()), "{reason}");
        assert!(reason.contains(says), "{reason}");
        assert!(reason.contains("sslmode=verify-ca"), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
    }
    // Not a directory either.
    let (_, reason) = refused(&format!("{base}{}", dir.path().display()));
    assert!(reason.contains("cannot read"), "{reason}");

    let (name, reason) = refused("postgresql://u:secret@127.0.0.1:1/db?sslmode=verify_full");
    assert_eq!(name, "dsn");
    assert!(
        reason.contains("\"verify_full\"") && !reason.contains("secret"),
        "{reason}"
    );
    let (name, reason) =
        refused("postgresql://u:secret@127.0.0.1:1/db?sslmode=require&sslrootcert=system");
    assert_eq!(name, "dsn");
    assert!(reason.contains("weak sslmode \"require\""), "{reason}");
}

/// Runs `default_root_child` in a child process whose HOME is a fresh directory (the
/// environment is process-wide, so not in this one).
#[test]
fn without_sslrootcert_verify_uses_home_postgresql_root_crt() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["default_root_child", "--exact", "--ignored", "--nocapture"])
        .env("HOME", home.path())
        .env("HURAH_TLS_CHILD", "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(log.contains("1 passed"), "{log}");
    eprint!("{log}");
}

#[test]
#[ignore = "run by without_sslrootcert_verify_uses_home_postgresql_root_crt with its own HOME"]
fn default_root_child() {
    if std::env::var_os("HURAH_TLS_CHILD").is_none() {
        return;
    }
    let home = std::env::var("HOME").unwrap();
    let root = format!("{home}/.postgresql/root.crt");
    let (name, reason) = refused("postgresql://u:secret@127.0.0.1:1/db?sslmode=verify-full");
    assert_eq!(name, "sslrootcert");
    assert!(
        reason.contains(&format!("root certificate file {root} does not exist")),
        "{reason}"
    );
    let Some(s) = Server::tls() else { return };
    std::fs::create_dir(format!("{home}/.postgresql")).unwrap();
    std::fs::copy(&s.ca, &root).unwrap();
    assert_connects_encrypted(&s.url("sslmode=verify-ca"));
    // Without sslrootcert, require does not verify (libpq would, with this file present).
    std::fs::write(&root, OTHER_CA).unwrap();
    assert_connects_encrypted(&s.url("sslmode=require"));
    let reason = rejected(&s.url("sslmode=verify-ca"));
    assert!(reason.contains(&format!("sslrootcert {root}")), "{reason}");
}
