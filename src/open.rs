//! Picking a backend from a root (docs/ARCHITECTURE.md, "The seam"): the only place that knows
//! both backends. A `postgresql://`/`postgres://` URL is the database; anything else is a
//! directory.

use crate::backend::Backend;
use crate::backend::FsyncPolicy;
use crate::error::{Error, Result};
use crate::file::FileBackend;

/// True if `root` names a PostgreSQL database (`postgresql://` or `postgres://`) rather than
/// a directory.
pub fn is_database_url(root: &str) -> bool {
    crate::url::is_dsn(root)
}

/// The backend a root names: a `postgresql://`/`postgres://` URL opens `pg::PgBackend`
/// (connecting, creating or upgrading the schema if needed; `fsync` does not apply: the server's
/// `synchronous_commit` does); anything else is a directory for [`FileBackend`] (created if
/// missing; must be writable).
pub fn open(root: &str, fsync: FsyncPolicy) -> Result<Box<dyn Backend>> {
    if is_database_url(root) {
        #[cfg(feature = "pg")]
        return Ok(Box::new(crate::pg::PgBackend::open(root)?));
        #[cfg(not(feature = "pg"))]
        return Err(unsupported(root));
    }
    if root.is_empty() {
        return Err(Error::InvalidOption {
            name: "root".into(),
            reason: "must not be empty".into(),
        });
    }
    Ok(Box::new(FileBackend::open(root, fsync)?))
}

/// As [`open`], for tools that look before they touch: a directory root must exist already
/// ([`Error::Io`], not found, otherwise) and is neither created nor required to be writable
/// (operations that write fail when they do).
pub fn open_existing(root: &str, fsync: FsyncPolicy) -> Result<Box<dyn Backend>> {
    if is_database_url(root) || root.is_empty() {
        return open(root, fsync);
    }
    Ok(Box::new(FileBackend::open_existing(root, fsync)?))
}

/// The error for a PostgreSQL URL given to a build without the PostgreSQL backend.
#[cfg(not(feature = "pg"))]
fn unsupported(root: &str) -> Error {
    Error::InvalidOption {
        name: "root".into(),
        reason: format!(
            "{} is a PostgreSQL URL, and this hurah was built without PostgreSQL support \
             (cargo feature \"pg\")",
            crate::url::redact(root)
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
