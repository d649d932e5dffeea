//! The one error type of the core. Every variant carries the value or path it concerns, so a
//! message alone tells the user what to fix. Every variant has exactly one [`ErrorKind`]
//! ([`Error::kind`], one `match` below), and the hosts map kinds, not variants, each in one
//! table: C status codes (`src/capi/status.rs`), PHP exceptions (`php/src/exceptions.rs`), CLI
//! exit codes (`cli/src/cli.rs`). A new variant therefore needs a kind here and nothing else to
//! be reported correctly by every host; a new kind is a compile error in the C mapping and falls
//! back to the base error of the PHP and CLI hosts until they name it.

use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of error an [`Error`] is: what the hosts map to a status code, an exception class
/// or an exit code. Small on purpose; more kinds may come (`#[non_exhaustive]`), so code outside
/// this crate matches them with a fallback arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input is invalid: an event type, a handler name, an option value.
    InvalidArgument,
    /// A payload is not valid JSON or cannot be encoded as JSON.
    InvalidPayload,
    /// A file system operation failed (the OS error is in the error's source).
    Io,
    /// A stored task cannot be understood.
    Corrupt,
    /// A path would leave the queue root (symlink, non-regular file).
    UnsafePath,
    /// The task or listener named by the caller does not exist (any more).
    NotFound,
    /// The database (PostgreSQL backend) failed: unreachable, refused, SQL error.
    Database,
}

/// Everything that can go wrong in the core. More variants may come (`#[non_exhaustive]`):
/// outside this crate, match on [`Error::kind`] rather than on the variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An event type failed validation (see [`crate::EventType`]).
    #[error("invalid event type {value:?}: {reason}")]
    InvalidEventType {
        /// The rejected input.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A handler name failed validation (see [`crate::HandlerName`]).
    #[error("invalid handler name {value:?}: {reason}")]
    InvalidHandlerName {
        /// The rejected input.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A payload is not valid JSON or cannot be encoded as JSON.
    #[error("invalid payload: {reason}")]
    InvalidPayload {
        /// Why it was rejected.
        reason: String,
    },
    /// An option had a value that makes no sense (bad fsync policy, negative delay, ...).
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// Option name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`"create"`, `"rename"`, ...).
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying OS error (ENOSPC, EROFS, EACCES, ...).
        #[source]
        source: io::Error,
    },
    /// A task file exists but cannot be understood.
    #[error("corrupt task file {}: {reason}", path.display())]
    CorruptTask {
        /// The task file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A path would leave the queue root (symlinked listener, inbox pointing elsewhere, ...).
    #[error("refusing {}: {reason}", path.display())]
    Unsafe {
        /// The offending path.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// A listener's sequence counter reached the largest number a sequence may have
    /// ([`crate::MAX_SEQUENCE`], the largest integer PHP and PostgreSQL hold): no task can be
    /// numbered any more. Nothing was published.
    #[error(
        "listener {}: sequence counter is at {sequence}, the largest allowed ({max}); \
         refusing to wrap around or reuse a number (archive the listener and start a new one)",
        listener.display(),
        max = crate::MAX_SEQUENCE
    )]
    SequenceExhausted {
        /// The listener directory.
        listener: PathBuf,
        /// The counter's value.
        sequence: u64,
    },
    /// A task named by the caller does not exist (any more).
    #[error("no such task: {what}")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// A PostgreSQL operation failed (PostgreSQL backend: connection refused, bad credentials,
    /// server gone, SQL error). `what` names the operation and the server (`connect to
    /// 127.0.0.1:5432`), `reason` the reason the server or the network gave.
    #[error("database {what}: {reason}")]
    Database {
        /// What was being done, naming the host where it helps.
        what: String,
        /// The reason (server message with SQLSTATE, or the network error).
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with the operation and path it concerns.
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: io::Error) -> Self {
        Error::Io {
            op,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// The kind of this error: the one mapping from variants to kinds.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidEventType { .. }
            | Error::InvalidHandlerName { .. }
            | Error::InvalidOption { .. } => ErrorKind::InvalidArgument,
            Error::InvalidPayload { .. } => ErrorKind::InvalidPayload,
            // No room left for another task in that listener, as a full disk has none: the
            // hosts report it as an I/O error (PHP IoException, HURAH_IO, exit 74).
            Error::Io { .. } | Error::SequenceExhausted { .. } => ErrorKind::Io,
            Error::CorruptTask { .. } => ErrorKind::Corrupt,
            Error::Unsafe { .. } => ErrorKind::UnsafePath,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Database { .. } => ErrorKind::Database,
        }
    }

    /// The OS error number behind an I/O error, if any (ENOSPC, EROFS, ...).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True for errors caused by the caller's input rather than by the system.
    pub fn is_invalid_argument(&self) -> bool {
        self.kind() == ErrorKind::InvalidArgument
    }
}

/// Extension to attach an operation and path to `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(op, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One constructed example of every variant, with the kind it must have. A new variant
    /// that is not added here fails `every_variant_is_listed` below.
    fn examples() -> Vec<(Error, ErrorKind)> {
        vec![
            (
                Error::InvalidEventType {
                    value: "a/".into(),
                    reason: "empty segment".into(),
                },
                ErrorKind::InvalidArgument,
            ),
            (
                Error::InvalidHandlerName {
                    value: "../x".into(),
                    reason: "bad character".into(),
                },
                ErrorKind::InvalidArgument,
            ),
            (
                Error::InvalidOption {
                    name: "fsync".into(),
                    reason: "unknown policy".into(),
                },
                ErrorKind::InvalidArgument,
            ),
            (
                Error::InvalidPayload {
                    reason: "trailing comma".into(),
                },
                ErrorKind::InvalidPayload,
            ),
            (
                Error::io("create", "/q/x", io::Error::from_raw_os_error(libc::ENOSPC)),
                ErrorKind::Io,
            ),
            (
                Error::CorruptTask {
                    path: "/q/1.json".into(),
                    reason: "not JSON".into(),
                },
                ErrorKind::Corrupt,
            ),
            (
                Error::Unsafe {
                    path: "/q/a/h_listener".into(),
                    reason: "symlink".into(),
                },
                ErrorKind::UnsafePath,
            ),
            (Error::NotFound { what: "7".into() }, ErrorKind::NotFound),
            (
                Error::Database {
                    what: "connect to 127.0.0.1:1".into(),
                    reason: "connection refused".into(),
                },
                ErrorKind::Database,
            ),
            (
                Error::SequenceExhausted {
                    listener: "/q/a/h_listener".into(),
                    sequence: crate::MAX_SEQUENCE,
                },
                ErrorKind::Io,
            ),
        ]
    }

    #[test]
    fn every_variant_has_its_kind() {
        for (e, want) in examples() {
            assert_eq!(e.kind(), want, "{e}");
        }
    }

    #[test]
    fn every_variant_is_listed() {
        // Exhaustive on purpose (no `_` arm): a new variant does not compile here until it has
        // an example above and a kind in `Error::kind`.
        let mut seen = [false; 10];
        for (e, _) in examples() {
            let i = match e {
                Error::InvalidEventType { .. } => 0,
                Error::InvalidHandlerName { .. } => 1,
                Error::InvalidOption { .. } => 2,
                Error::InvalidPayload { .. } => 3,
                Error::Io { .. } => 4,
                Error::CorruptTask { .. } => 5,
                Error::Unsafe { .. } => 6,
                Error::NotFound { .. } => 7,
                Error::Database { .. } => 8,
                Error::SequenceExhausted { .. } => 9,
            };
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn invalid_argument_is_the_invalid_argument_kind() {
        for (e, kind) in examples() {
            assert_eq!(
                e.is_invalid_argument(),
                kind == ErrorKind::InvalidArgument,
                "{e}"
            );
        }
    }
}
