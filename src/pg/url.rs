//! Recognising PostgreSQL URLs: needs no database client, so it is compiled with or without
//! the PostgreSQL backend (cargo feature `pg`). Without it, this file alone is `crate::pg`, and
//! a `postgresql://` root is refused clearly instead of being taken for a directory.

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

/// The error for a PostgreSQL URL given to a build without the PostgreSQL backend.
#[cfg(not(feature = "pg"))]
pub(crate) fn unsupported(root: &str) -> crate::Error {
    crate::Error::InvalidOption {
        name: "root".into(),
        reason: format!(
            "{} is a PostgreSQL URL, and this hurah was built without PostgreSQL support \
             (cargo feature \"pg\")",
            redact(root)
        ),
    }
}

#[cfg(all(test, not(feature = "pg")))]
mod tests {
    use crate::{backend, Dispatcher, Error, FsyncPolicy};
    use std::path::Path;

    fn refused(r: crate::Result<Box<dyn backend::Backend>>) -> String {
        match r {
            Err(e @ Error::InvalidOption { .. }) => e.to_string(),
            Err(e) => panic!("not InvalidOption: {e:?}"),
            Ok(b) => panic!("opened a {} backend", b.kind()),
        }
    }

    #[test]
    fn a_postgresql_root_is_refused_clearly_without_the_pg_feature() {
        for url in [
            "postgresql://app:s3cret@127.0.0.1:5432/events",
            "postgres://app:s3cret@db.example/events?sslmode=require",
        ] {
            assert!(backend::is_database_url(url));
            for msg in [
                refused(backend::open(url, FsyncPolicy::Never)),
                refused(backend::open_existing(url, FsyncPolicy::Never)),
            ] {
                assert!(msg.contains("built without PostgreSQL support"), "{msg}");
                assert!(msg.contains("app:***@"), "names the URL: {msg}");
                assert!(!msg.contains("s3cret"), "password shown: {msg}");
            }
            // The file backend refuses it too, and nothing is created for it on disk.
            assert!(matches!(
                Dispatcher::new(url, FsyncPolicy::Never),
                Err(Error::InvalidOption { .. })
            ));
            let scheme = url.split_once("//").map(|(s, _)| s).unwrap_or(url);
            assert!(!Path::new(scheme).exists(), "{scheme} created");
        }
    }
}
