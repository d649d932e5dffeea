//! The one error type of the core. Every variant carries the value or path it concerns, so a
//! message alone tells the user what to fix. Adapters map it once each: PHP exceptions
//! (`php/src/exceptions.rs`), C status codes (`src/capi`), CLI exit codes (`cli/src/main.rs`).

use std::io;
use std::path::{Path, PathBuf};

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
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

    /// The OS error number behind an I/O error, if any (ENOSPC, EROFS, ...).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    /// True for errors caused by the caller's input rather than by the system.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            Error::InvalidEventType { .. }
                | Error::InvalidHandlerName { .. }
                | Error::InvalidOption { .. }
        )
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
