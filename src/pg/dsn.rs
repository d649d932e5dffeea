//! PostgreSQL DSNs: parsing (URL or `key=value` form), with libpq's `sslmode` and
//! `sslrootcert`, which `postgres::Config` does not know, read here.

use super::DEFAULT_CONNECT_TIMEOUT;
use crate::error::{Error, Result};
use crate::url::redact;
use postgres::config::SslMode;
use postgres::Config;
use std::str::FromStr;

/// Parses a DSN (URL or `key=value` form). A malformed one is [`Error::InvalidOption`]
/// naming `dsn`. `sslmode` and `sslrootcert` are read here rather than by `postgres::Config`,
/// which knows neither `verify-ca`/`verify-full` nor `sslrootcert`: the returned config has
/// `verify-*` as `require` (the certificate checks are [`connect`]'s).
pub fn parse_dsn(dsn: &str) -> Result<Config> {
    parse(dsn).map(|(config, _)| config)
}

/// [`parse_dsn`], with the certificate checks the DSN asks for.
pub(super) fn parse(dsn: &str) -> Result<(Config, Option<Verify>)> {
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
pub(super) struct Verify {
    /// The `sslmode` as written (for messages).
    pub(super) sslmode: String,
    /// `verify-full`: the certificate must also name the host.
    pub(super) check_host: bool,
    /// The trusted certificates.
    pub(super) roots: RootCert,
}

/// Where the trusted certificates of [`Verify`] come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RootCert {
    /// `sslrootcert=<path>`: a PEM file.
    File(String),
    /// No `sslrootcert`: libpq's default, `~/.postgresql/root.crt`.
    Default,
    /// `sslrootcert=system`: the system's CA bundle.
    System,
}

/// libpq's `sslmode` and `sslrootcert` → the client's `SslMode` and the checks to make.
pub(super) fn tls_mode(
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
///
/// Kept in one piece (~95 lines): one scan over either DSN form (URL query or `key=value`),
/// with the quoting rules of each side by side.
#[allow(clippy::type_complexity)]
pub(super) fn take_tls_params(
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
pub(super) fn percent_decode(s: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
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
