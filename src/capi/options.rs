//! `hurah_options`: one settings object for dispatchers, handlers and watch runs.

use super::status::{guard, hurah_status, hurah_status::*};
use crate::{FsyncPolicy, WorkerOptions};
use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

/// Fsync policy `always` (the default): every task file is `fdatasync`ed and its directory
/// `fsync`ed before a call returns.
pub const HURAH_FSYNC_ALWAYS: c_int = 0;
/// Fsync policy `never`: leave it to the kernel (tmpfs, tests, throughput). Files are still
/// never torn: they are written aside and renamed into place.
pub const HURAH_FSYNC_NEVER: c_int = 1;

/// Log level of a message passed to a `hurah_log_callback`: something failed.
pub const HURAH_LOG_ERROR: c_int = 0;
/// Log level: a task failed or something odd happened.
pub const HURAH_LOG_WARNING: c_int = 1;
/// Log level: normal operation worth a line.
pub const HURAH_LOG_INFO: c_int = 2;
/// Log level: per-task detail.
pub const HURAH_LOG_DEBUG: c_int = 3;

/// Receives the worker's log lines about a handler's tasks: `level` is one of `HURAH_LOG_*`,
/// `message` is NUL-terminated UTF-8, borrowed for the duration of the call. Called on the
/// thread running `hurah_handler_handle()` / `hurah_handler_watch()`. The level filter is the
/// environment variable `HURAH_LOG_LEVEL` (error, warning, info (default), debug).
pub type hurah_log_callback =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, user_data: *mut c_void)>;

/// Settings, created with `hurah_options_new()` and freed with `hurah_options_free()`.
/// Functions that take options copy what they need, so an options object can be freed (or
/// changed and reused) right after the call. Which function reads which setting:
///
/// | setting | read by |
/// |---|---|
/// | fsync | `hurah_dispatcher_new()`, `hurah_handler_new()` |
/// | max_attempts, retry_delay_ms, retry backoff, log | `hurah_handler_new()` |
/// | max_jobs, max_time_ms, memory_limit, stop_when_empty, rescan_interval_ms, group_commit | `hurah_handler_watch()` |
///
/// Not thread-safe while being modified; a finished options object may be read by several
/// threads at once.
#[derive(Clone, Debug)]
pub struct hurah_options {
    pub(crate) fsync: FsyncPolicy,
    pub(crate) max_attempts: u64,
    pub(crate) retry_delay_ms: u64,
    pub(crate) retry_multiplier: f64,
    pub(crate) retry_max_delay_ms: u64,
    pub(crate) retry_jitter: f64,
    pub(crate) log: hurah_log_callback,
    pub(crate) log_user_data: *mut c_void,
    pub(crate) watch: WorkerOptions,
}

impl Default for hurah_options {
    fn default() -> Self {
        hurah_options {
            fsync: FsyncPolicy::Always,
            max_attempts: 0,
            retry_delay_ms: 0,
            retry_multiplier: 1.0,
            retry_max_delay_ms: 0,
            retry_jitter: 0.0,
            log: None,
            log_user_data: std::ptr::null_mut(),
            watch: WorkerOptions::default(),
        }
    }
}

/// A new options object with the defaults: fsync always, max attempts 0 (a RETRY goes to
/// `error/`), no retry delay, no log callback (silent), no watch limits, rescan every 30 s.
/// Never returns NULL (aborts if memory is exhausted). Free with `hurah_options_free()`.
#[no_mangle]
pub extern "C" fn hurah_options_new() -> *mut hurah_options {
    Box::into_raw(Box::default())
}

/// Frees an options object. NULL is accepted and ignored.
///
/// # Safety
/// `opts` is NULL or an options object from `hurah_options_new()` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_free(opts: *mut hurah_options) {
    guard((), || {
        if !opts.is_null() {
            // SAFETY: ownership comes back from the caller.
            drop(unsafe { Box::from_raw(opts) });
        }
    })
}

/// Runs `f` on the options behind `opts`, or returns `HURAH_NULL_POINTER`.
unsafe fn with_opts(
    opts: *mut hurah_options,
    f: impl FnOnce(&mut hurah_options) -> hurah_status,
) -> hurah_status {
    // SAFETY: the caller passes NULL or a live options object.
    guard(HURAH_PANIC, || match unsafe { opts.as_mut() } {
        Some(o) => f(o),
        None => HURAH_NULL_POINTER,
    })
}

/// Sets the fsync policy: `HURAH_FSYNC_ALWAYS` (default) or `HURAH_FSYNC_NEVER`.
/// Returns `HURAH_OK`, `HURAH_NULL_POINTER` (opts is NULL) or `HURAH_INVALID_ARGUMENT`
/// (another value).
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_fsync(
    opts: *mut hurah_options,
    policy: c_int,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.fsync = match policy {
                HURAH_FSYNC_ALWAYS => FsyncPolicy::Always,
                HURAH_FSYNC_NEVER => FsyncPolicy::Never,
                _ => return HURAH_INVALID_ARGUMENT,
            };
            HURAH_OK
        })
    }
}

/// Retries allowed before a task goes to `error/`: a task may be run `max_attempts + 1` times
/// in all (RETRY outcomes and runs interrupted by a worker's death both count). Default 0, as
/// in hurah/events. Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_max_attempts(
    opts: *mut hurah_options,
    max_attempts: u64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.max_attempts = max_attempts;
            HURAH_OK
        })
    }
}

/// Delay before a task that returned `HURAH_RETRY` runs again (it waits in `delayed/`).
/// 0 (the default): straight back to `inbox/`, as in hurah/events. A delay set by the callback
/// with `hurah_task_set_retry_delay()` takes precedence. Returns `HURAH_OK` or
/// `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_retry_delay_ms(
    opts: *mut hurah_options,
    delay_ms: u64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.retry_delay_ms = delay_ms;
            HURAH_OK
        })
    }
}

/// Makes the retry delay grow: retry number n waits `retry_delay_ms × multiplier^(n-1)`,
/// capped at `max_delay_ms` (0: no cap), then spread by ± `jitter` (a fraction, 0.0–1.0) so
/// retries of many tasks do not arrive together. Needs a retry delay
/// (`hurah_options_set_retry_delay_ms()`); the defaults (1.0, 0, 0.0) keep it fixed.
/// Returns `HURAH_OK`, `HURAH_NULL_POINTER` (opts is NULL) or `HURAH_INVALID_ARGUMENT`
/// (multiplier below 1 or not finite, jitter outside 0–1 or not finite; nothing is changed).
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_retry_backoff(
    opts: *mut hurah_options,
    multiplier: f64,
    max_delay_ms: u64,
    jitter: f64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            if crate::Backoff::new(std::time::Duration::ZERO, multiplier, None, jitter).is_err() {
                return hurah_status::HURAH_INVALID_ARGUMENT;
            }
            o.retry_multiplier = multiplier;
            o.retry_max_delay_ms = max_delay_ms;
            o.retry_jitter = jitter;
            HURAH_OK
        })
    }
}

/// Sends the handler's log lines to `callback` (NULL: silent, the default). `user_data` is
/// passed back as is; it must stay valid as long as a handler created with these options
/// lives. Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object; `callback` is NULL or a valid function.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_log(
    opts: *mut hurah_options,
    callback: hurah_log_callback,
    user_data: *mut c_void,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.log = callback;
            o.log_user_data = user_data;
            HURAH_OK
        })
    }
}

/// `hurah_handler_watch()` returns after running this many tasks. 0 (default): no limit.
/// Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_max_jobs(
    opts: *mut hurah_options,
    max_jobs: u64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.watch.max_jobs = (max_jobs > 0).then_some(max_jobs);
            HURAH_OK
        })
    }
}

/// `hurah_handler_watch()` returns after this long (checked between tasks and while idle; a
/// running task is never interrupted). 0 (default): no limit. Returns `HURAH_OK` or
/// `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_max_time_ms(
    opts: *mut hurah_options,
    max_time_ms: u64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.watch.max_time = (max_time_ms > 0).then(|| Duration::from_millis(max_time_ms));
            HURAH_OK
        })
    }
}

/// `hurah_handler_watch()` returns when the process's resident memory exceeds this many bytes
/// (checked between tasks). 0 (default): no limit. Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_memory_limit(
    opts: *mut hurah_options,
    bytes: u64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.watch.memory_limit = (bytes > 0).then_some(bytes);
            HURAH_OK
        })
    }
}

/// When true, `hurah_handler_watch()` returns as soon as nothing is due (delayed tasks not yet
/// due do not count). Default false. Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_stop_when_empty(
    opts: *mut hurah_options,
    stop_when_empty: bool,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.watch.stop_when_empty = stop_when_empty;
            HURAH_OK
        })
    }
}

/// PostgreSQL roots: when true, `hurah_handler_watch()` settles each claimed batch in one
/// statement at its end instead of one per task (about twice the throughput; if the process
/// dies mid-batch, the batch's finished tasks run again, without an attempt counted). Ignored
/// on a directory. Default false. Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_group_commit(
    opts: *mut hurah_options,
    group_commit: bool,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            o.watch.group_commit = group_commit;
            HURAH_OK
        })
    }
}

/// Interval of the watch loop's safety rescan and dead-worker recovery while idle (inotify
/// does the normal wake-ups). Default 30000 ms. Returns `HURAH_OK`, `HURAH_NULL_POINTER` or
/// `HURAH_INVALID_ARGUMENT` (0).
///
/// # Safety
/// `opts` is NULL or a live options object.
#[no_mangle]
pub unsafe extern "C" fn hurah_options_set_rescan_interval_ms(
    opts: *mut hurah_options,
    interval_ms: u64,
) -> hurah_status {
    // SAFETY: forwarded contract.
    unsafe {
        with_opts(opts, |o| {
            if interval_ms == 0 {
                return HURAH_INVALID_ARGUMENT;
            }
            o.watch.rescan_interval = Duration::from_millis(interval_ms);
            HURAH_OK
        })
    }
}

/// The options behind a possibly-NULL pointer (NULL: defaults).
pub(crate) unsafe fn opts_or_default(opts: *const hurah_options) -> hurah_options {
    // SAFETY: the caller passes NULL or a live options object.
    unsafe { opts.as_ref() }.cloned().unwrap_or_default()
}
