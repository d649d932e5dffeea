//! Status codes, the caller-owned error object, the one mapping from [`crate::Error`] to a
//! status, and the panic boundary every entry point goes through.

use crate::{Error, ErrorKind};
use std::any::Any;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a fallible `hurah_*` function returns. `HURAH_OK` is 0; errors have their own range
/// (100 and up) so they can never be confused with the outcome codes a task callback returns
/// (`HURAH_SUCCESS` ... `HURAH_INVALID`, 0 to 3). `hurah_status_message()` describes each one.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum hurah_status {
    /// Success.
    HURAH_OK = 0,
    /// An argument has a value that makes no sense (bad option value, empty root path, ...).
    HURAH_INVALID_ARGUMENT = 100,
    /// A required pointer argument was NULL.
    HURAH_NULL_POINTER = 101,
    /// A string argument is not valid UTF-8.
    HURAH_INVALID_UTF8 = 102,
    /// A payload is not valid JSON text.
    HURAH_INVALID_JSON = 103,
    /// An event type failed validation (`/`-separated segments of `[A-Za-z0-9_.-]+`, not `.`
    /// or `..`, not ending in `_listener`, no empty segment).
    HURAH_INVALID_EVENT_TYPE = 104,
    /// A handler name failed validation (`^[A-Za-z0-9][A-Za-z0-9_.-]*$`, at most 200 bytes).
    HURAH_INVALID_HANDLER_NAME = 105,
    /// A file system operation failed (the message names the operation, the path and the OS
    /// error).
    HURAH_IO = 106,
    /// The file system is full (ENOSPC, EDQUOT). Nothing was published.
    HURAH_NO_SPACE = 107,
    /// The file system is read-only (EROFS).
    HURAH_READ_ONLY = 108,
    /// The process lacks permission (EACCES, EPERM).
    HURAH_PERMISSION_DENIED = 109,
    /// A task file exists but cannot be understood.
    HURAH_CORRUPT_TASK = 110,
    /// The task asked for does not exist (any more): a failed or delayed task named by its
    /// sequence.
    HURAH_NOT_FOUND = 111,
    /// A path would leave the queue root (symlinked listener, ...).
    HURAH_UNSAFE_PATH = 112,
    /// The handler was stopped with `hurah_handler_stop()`; it runs no more tasks.
    HURAH_STOPPED = 113,
    /// The handler is already running `hurah_handler_handle()` or `hurah_handler_watch()` in
    /// another thread (or the callback called it recursively).
    HURAH_BUSY = 114,
    /// The database failed (PostgreSQL root): the server cannot be reached or refused the
    /// connection or the credentials, the connection was lost, or a statement failed. The
    /// message names the operation and `host:port/db` (never the password) and gives the
    /// server's or the network's reason. (Earlier versions reported it as `HURAH_IO`.)
    HURAH_DATABASE = 115,
    /// A bug: Rust code panicked. The panic was stopped at the boundary; the object involved
    /// should be freed and not used again.
    HURAH_PANIC = 199,
}

use hurah_status::*;

impl hurah_status {
    /// The one mapping from a core error to a status code: by kind (`Error::kind`), refined
    /// where C has a finer status (the OS error of an I/O error, which input was invalid).
    pub fn from_error(e: &Error) -> hurah_status {
        match e.kind() {
            ErrorKind::InvalidArgument => match e {
                Error::InvalidEventType { .. } => HURAH_INVALID_EVENT_TYPE,
                Error::InvalidHandlerName { .. } => HURAH_INVALID_HANDLER_NAME,
                _ => HURAH_INVALID_ARGUMENT,
            },
            ErrorKind::InvalidPayload => HURAH_INVALID_JSON,
            ErrorKind::Io => match e.raw_os_error() {
                Some(libc::ENOSPC) | Some(libc::EDQUOT) => HURAH_NO_SPACE,
                Some(libc::EROFS) => HURAH_READ_ONLY,
                Some(libc::EACCES) | Some(libc::EPERM) => HURAH_PERMISSION_DENIED,
                _ => HURAH_IO,
            },
            ErrorKind::Corrupt => HURAH_CORRUPT_TASK,
            ErrorKind::UnsafePath => HURAH_UNSAFE_PATH,
            ErrorKind::NotFound => HURAH_NOT_FOUND,
            ErrorKind::Database => HURAH_DATABASE,
        }
    }

    /// A status from a raw number, if it is one.
    pub fn from_int(n: c_int) -> Option<hurah_status> {
        const ALL: [hurah_status; 18] = [
            HURAH_OK,
            HURAH_INVALID_ARGUMENT,
            HURAH_NULL_POINTER,
            HURAH_INVALID_UTF8,
            HURAH_INVALID_JSON,
            HURAH_INVALID_EVENT_TYPE,
            HURAH_INVALID_HANDLER_NAME,
            HURAH_IO,
            HURAH_NO_SPACE,
            HURAH_READ_ONLY,
            HURAH_PERMISSION_DENIED,
            HURAH_CORRUPT_TASK,
            HURAH_NOT_FOUND,
            HURAH_UNSAFE_PATH,
            HURAH_STOPPED,
            HURAH_BUSY,
            HURAH_DATABASE,
            HURAH_PANIC,
        ];
        ALL.into_iter().find(|s| *s as c_int == n)
    }

    /// A static description.
    pub fn message(self) -> &'static CStr {
        match self {
            HURAH_OK => c"ok",
            HURAH_INVALID_ARGUMENT => c"invalid argument",
            HURAH_NULL_POINTER => c"a required pointer argument is NULL",
            HURAH_INVALID_UTF8 => c"a string argument is not valid UTF-8",
            HURAH_INVALID_JSON => c"the payload is not valid JSON",
            HURAH_INVALID_EVENT_TYPE => c"invalid event type",
            HURAH_INVALID_HANDLER_NAME => c"invalid handler name",
            HURAH_IO => c"file system error",
            HURAH_NO_SPACE => c"no space left on the file system",
            HURAH_READ_ONLY => c"read-only file system",
            HURAH_PERMISSION_DENIED => c"permission denied",
            HURAH_CORRUPT_TASK => c"corrupt task file",
            HURAH_NOT_FOUND => c"no such task",
            HURAH_UNSAFE_PATH => c"path would leave the queue root",
            HURAH_STOPPED => c"the handler was stopped",
            HURAH_BUSY => c"the handler is already running",
            HURAH_DATABASE => c"database error",
            HURAH_PANIC => c"internal error (panic caught at the C boundary)",
        }
    }
}

/// A static, NUL-terminated description of a status code (never NULL; an unknown number gives
/// "unknown status"). The string lives for the whole process: do not free it.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn hurah_status_message(status: c_int) -> *const c_char {
    hurah_status::from_int(status)
        .map(|s| s.message())
        .unwrap_or(c"unknown status")
        .as_ptr()
}

/// An error: a status code and a message naming what went wrong (the path, the rejected value,
/// the OS error). Created by the library when a call fails and handed to the caller through a
/// `hurah_error **err` argument; the caller owns it and frees it with `hurah_error_free()`.
pub struct hurah_error {
    status: hurah_status,
    message: CString,
}

/// The status code of an error; `HURAH_OK` when `err` is NULL (no error).
/// Thread-safe on a shared error (read only).
///
/// # Safety
/// `err` is NULL or an error from this library that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn hurah_error_status(err: *const hurah_error) -> hurah_status {
    // SAFETY: the caller passes NULL or a live error.
    match unsafe { err.as_ref() } {
        Some(e) => e.status,
        None => HURAH_OK,
    }
}

/// The message of an error, NUL-terminated UTF-8, never NULL ("no error" when `err` is NULL).
/// Borrowed: valid until `hurah_error_free(err)`.
///
/// # Safety
/// `err` is NULL or an error from this library that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn hurah_error_message(err: *const hurah_error) -> *const c_char {
    // SAFETY: the caller passes NULL or a live error.
    match unsafe { err.as_ref() } {
        Some(e) => e.message.as_ptr(),
        None => c"no error".as_ptr(),
    }
}

/// Frees an error. NULL is accepted and ignored.
///
/// # Safety
/// `err` is NULL or an error from this library that has not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn hurah_error_free(err: *mut hurah_error) {
    if !err.is_null() {
        // SAFETY: the caller hands back ownership of a box we made.
        drop(unsafe { Box::from_raw(err) });
    }
}

/// Why a call failed, before it is handed to C.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: hurah_status,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: hurah_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Self {
        Failure::new(HURAH_NULL_POINTER, format!("{what} is NULL"))
    }

    fn panic(payload: Box<dyn Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Failure::new(HURAH_PANIC, format!("internal error: {what}"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::new(hurah_status::from_error(&e), e.to_string())
    }
}

/// Stores `failure` in `*err` (freeing a previous error there) when `err` is not NULL.
unsafe fn set_error(err: *mut *mut hurah_error, failure: Failure) {
    if err.is_null() {
        return;
    }
    let message = CString::new(failure.message.replace('\0', "\\0"))
        .unwrap_or_else(|_| c"(message contained NUL)".to_owned());
    let new = Box::into_raw(Box::new(hurah_error {
        status: failure.status,
        message,
    }));
    // SAFETY: err is a valid pointer to a (possibly NULL) error pointer, per the contract.
    unsafe {
        hurah_error_free(*err);
        *err = new;
    }
}

/// The panic boundary of every fallible entry point: runs `f`, turns its failure or a panic
/// into a status, and fills `*err` on failure. `*err` is left untouched on success.
pub(crate) fn boundary<F>(err: *mut *mut hurah_error, f: F) -> hurah_status
where
    F: FnOnce() -> Result<(), Failure>,
{
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => return HURAH_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::panic(payload),
    };
    let status = failure.status;
    // Reporting allocates; if even that panics, the status still gets through.
    // SAFETY: err is NULL or valid, per each entry point's contract.
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { set_error(err, failure) }));
    status
}

/// The panic boundary of infallible entry points (accessors, `_free`): a panic yields `default`.
pub(crate) fn guard<T, F: FnOnce() -> T>(default: T, f: F) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn io_err(errno: i32) -> Error {
        Error::io("create", "/q/x", io::Error::from_raw_os_error(errno))
    }

    #[test]
    fn each_core_error_maps_to_its_status() {
        let cases = [
            (
                Error::InvalidEventType {
                    value: "a/".into(),
                    reason: "r".into(),
                },
                HURAH_INVALID_EVENT_TYPE,
            ),
            (
                Error::InvalidHandlerName {
                    value: "../x".into(),
                    reason: "r".into(),
                },
                HURAH_INVALID_HANDLER_NAME,
            ),
            (
                Error::InvalidPayload { reason: "r".into() },
                HURAH_INVALID_JSON,
            ),
            (
                Error::InvalidOption {
                    name: "fsync".into(),
                    reason: "r".into(),
                },
                HURAH_INVALID_ARGUMENT,
            ),
            (
                Error::CorruptTask {
                    path: "/q/1.json".into(),
                    reason: "r".into(),
                },
                HURAH_CORRUPT_TASK,
            ),
            (
                Error::Unsafe {
                    path: "/q".into(),
                    reason: "r".into(),
                },
                HURAH_UNSAFE_PATH,
            ),
            (Error::NotFound { what: "3".into() }, HURAH_NOT_FOUND),
            (
                Error::Database {
                    what: "connect to 127.0.0.1:1".into(),
                    reason: "refused".into(),
                },
                HURAH_DATABASE,
            ),
            (io_err(libc::ENOSPC), HURAH_NO_SPACE),
            (io_err(libc::EDQUOT), HURAH_NO_SPACE),
            (io_err(libc::EROFS), HURAH_READ_ONLY),
            (io_err(libc::EACCES), HURAH_PERMISSION_DENIED),
            (io_err(libc::EPERM), HURAH_PERMISSION_DENIED),
            (io_err(libc::ENOTDIR), HURAH_IO),
            (Error::io("x", "/q", io::Error::other("no errno")), HURAH_IO),
        ];
        for (e, want) in cases {
            assert_eq!(hurah_status::from_error(&e), want, "{e}");
        }
    }

    #[test]
    fn statuses_round_trip_through_ints_and_have_messages() {
        for n in -1..300 {
            if let Some(s) = hurah_status::from_int(n) {
                assert_eq!(s as c_int, n);
                assert!(!s.message().to_bytes().is_empty());
            }
        }
        assert_eq!(hurah_status::from_int(42), None);
        // SAFETY: hurah_status_message returns a static C string.
        let unknown = unsafe { CStr::from_ptr(hurah_status_message(42)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown status");
    }

    #[test]
    fn boundary_reports_failures_and_panics_and_replaces_old_errors() {
        let mut err: *mut hurah_error = std::ptr::null_mut();
        let s = boundary(&mut err, || {
            Err(Failure::from(Error::NotFound { what: "7".into() }))
        });
        assert_eq!(s, HURAH_NOT_FOUND);
        // SAFETY: err was just filled by boundary.
        unsafe {
            assert_eq!(hurah_error_status(err), HURAH_NOT_FOUND);
            let msg = CStr::from_ptr(hurah_error_message(err)).to_str().unwrap();
            assert!(msg.contains('7'), "{msg}");
        }
        // A second failure replaces (and frees) the first error; a panic becomes HURAH_PANIC.
        let s = boundary(&mut err, || panic!("boom"));
        assert_eq!(s, HURAH_PANIC);
        // SAFETY: err is a live error.
        unsafe {
            let msg = CStr::from_ptr(hurah_error_message(err)).to_str().unwrap();
            assert!(msg.contains("boom"), "{msg}");
            hurah_error_free(err);
        }
        // Success leaves err alone; a NULL err is fine.
        let mut none: *mut hurah_error = std::ptr::null_mut();
        assert_eq!(boundary(&mut none, || Ok(())), HURAH_OK);
        assert!(none.is_null());
        assert_eq!(
            boundary(std::ptr::null_mut(), || Err(Failure::null("x"))),
            HURAH_NULL_POINTER
        );
    }
}
