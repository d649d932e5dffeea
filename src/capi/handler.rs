//! `hurah_handler`: a C callback bound to one listener, run once (`handle`) or until stopped
//! (`watch`), and a stop that is safe to call from a signal handler.
//!
//! The handler talks to its root only through the core's backend seam: a [`Backend`] from
//! [`crate::backend::open`] (a directory or a `postgresql://` URL), the listener's
//! [`ListenerQueue`] for `handle` and a fresh [`crate::backend::WorkerLoop`] for each `watch`.
//! The backend is held outside the queue's lock, so the failed-task functions
//! (`super::failed`) work while the handler runs and from inside its callback.
//!
//! Stopping: the core's `StopHandle::stop` sends on an mpsc channel, which allocates and may
//! take a lock, so it is not async-signal-safe. `hurah_handler_stop` therefore only stores an
//! atomic flag and writes one byte to a non-blocking self-pipe (both async-signal-safe). During
//! a watch a small thread blocks on the pipe and forwards the request to the worker's
//! `StopHandle`; the callback bridge also checks the flag after every task, so a stop issued
//! from inside the callback takes effect before the next task.

use super::options::{hurah_log_callback, hurah_options, opts_or_default};
use super::status::{boundary, guard, hurah_error, hurah_status, Failure};
use super::strings::{c_path, c_utf8, put_out};
use super::task::hurah_task;
use crate::backend::{Backend, ListenerQueue};
use crate::{EventType, Handler, HandlerName, Level, Outcome, RunStats, StopHandle, Task};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The task callback: runs one task and returns `HURAH_SUCCESS`, `HURAH_FAILURE`,
/// `HURAH_RETRY` or `HURAH_INVALID` (any other value is a failure naming it). `task` is
/// borrowed for the duration of the call; `user_data` is the pointer given to
/// `hurah_handler_new()`. Called on the thread that called `hurah_handler_handle()` or
/// `hurah_handler_watch()`, one task at a time. It must not unwind (no C++ exception or
/// `longjmp` out of it). It may call `hurah_handler_stop()`, the `hurah_task_*` functions and
/// the failed-task functions, and may dispatch.
pub type hurah_task_callback =
    Option<unsafe extern "C" fn(task: *const hurah_task, user_data: *mut c_void) -> c_int>;

/// Counts of what a `hurah_handler_handle()` or `hurah_handler_watch()` call did.
/// Caller-allocated; the library only writes it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct hurah_stats {
    /// Tasks the callback ran.
    pub handled: u64,
    /// `HURAH_SUCCESS` outcomes (tasks moved to `archive/`).
    pub succeeded: u64,
    /// Tasks moved to `error/` (FAILURE, INVALID, unknown codes, retries used up, corrupt task
    /// files).
    pub failed: u64,
    /// `HURAH_RETRY` outcomes that went back to `inbox/` or `delayed/`.
    pub retried: u64,
    /// Tasks of dead workers put back in `inbox/`.
    pub recovered: u64,
}

impl From<RunStats> for hurah_stats {
    fn from(s: RunStats) -> Self {
        hurah_stats {
            handled: s.handled,
            succeeded: s.succeeded,
            failed: s.failed,
            retried: s.retried,
            recovered: s.recovered,
        }
    }
}

/// A handler: a task callback bound to one listener `(root, event_type, handler_name)`, the
/// directory `<root>/<event_type>/<handler_name>_listener/` (or, when the root is a PostgreSQL
/// URL, the listener's row in `hurah.listeners`), shared with handlers in other processes and
/// languages (PHP `AbstractHandler`s with the same name see the same queue).
/// Create with `hurah_handler_new()`, free with `hurah_handler_free()`.
///
/// Thread-safety: `hurah_handler_stop()` may be called from any thread or a signal handler at
/// any time while the handler is alive. The failed-task functions may be called from any
/// thread. `hurah_handler_handle()` / `hurah_handler_watch()` run in one thread at a time per
/// handler (a concurrent call returns `HURAH_BUSY`); use one handler per thread to run several
/// workers on one listener (each task still runs exactly once among live workers).
pub struct hurah_handler {
    /// The root's backend; its methods take `&self` (the failed-task functions use it without
    /// the queue's lock).
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) event_type: EventType,
    pub(crate) name: HandlerName,
    /// `<type>:<name> on <root>` (password redacted), for messages.
    pub(crate) label: String,
    callback: unsafe extern "C" fn(*const hurah_task, *mut c_void) -> c_int,
    user_data: *mut c_void,
    max_attempts: u64,
    retry_backoff: Option<crate::Backoff>,
    log: hurah_log_callback,
    log_user_data: *mut c_void,
    /// The listener's queue, for `hurah_handler_handle()`.
    queue: Mutex<Box<dyn ListenerQueue>>,
    running: AtomicBool,
    stop: Arc<StopPipe>,
}

/// The async-signal-safe half of stopping: a sticky flag and a self-pipe.
struct StopPipe {
    stopped: AtomicBool,
    rd: c_int,
    wr: c_int,
}

impl StopPipe {
    fn new() -> std::io::Result<Self> {
        let mut fds = [0 as c_int; 2];
        // SAFETY: fds is valid for two ints.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fds[1] is a pipe end we own.
        unsafe {
            let fl = libc::fcntl(fds[1], libc::F_GETFL);
            libc::fcntl(fds[1], libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        Ok(StopPipe {
            stopped: AtomicBool::new(false),
            rd: fds[0],
            wr: fds[1],
        })
    }

    /// Async-signal-safe: an atomic store and a non-blocking write(2).
    fn poke(&self) {
        let b = 1u8;
        // SAFETY: wr stays open while the handler lives; a full pipe (EAGAIN) only drops a
        // redundant wake-up, since the reader looks at the flags, not the bytes.
        unsafe { libc::write(self.wr, (&b as *const u8).cast(), 1) };
    }
}

impl Drop for StopPipe {
    fn drop(&mut self) {
        // SAFETY: we own both ends.
        unsafe {
            libc::close(self.rd);
            libc::close(self.wr);
        }
    }
}

/// Forwards stop requests from the pipe to a worker for the duration of one watch. Dropping it
/// ends and joins the thread (also when the watch panics).
struct Forwarder {
    pipe: Arc<StopPipe>,
    quit: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Forwarder {
    fn start(pipe: &Arc<StopPipe>, stop: StopHandle) -> Result<Self, Failure> {
        let quit = Arc::new(AtomicBool::new(false));
        let (p, q) = (Arc::clone(pipe), Arc::clone(&quit));
        let thread = std::thread::Builder::new()
            .name("hurah-capi-stop".into())
            .spawn(move || {
                let mut buf = [0u8; 64];
                loop {
                    if q.load(Ordering::SeqCst) {
                        return;
                    }
                    if p.stopped.load(Ordering::SeqCst) {
                        stop.stop();
                        return;
                    }
                    // SAFETY: buf is valid for its length; rd stays open (p holds the pipe).
                    let n = unsafe { libc::read(p.rd, buf.as_mut_ptr().cast(), buf.len()) };
                    if n == 0 {
                        return;
                    }
                }
            })
            .map_err(|e| Failure::from(crate::Error::io("spawn", "<stop forwarder thread>", e)))?;
        Ok(Forwarder {
            pipe: Arc::clone(pipe),
            quit,
            thread: Some(thread),
        })
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
        self.pipe.poke();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The bridge from the core's [`Handler`] trait to the C callback.
struct Bridge<'a> {
    h: &'a hurah_handler,
    stop: Option<StopHandle>,
}

impl Handler for Bridge<'_> {
    fn handle_task(&mut self, task: &Task) -> Outcome {
        let t = hurah_task::new(task);
        // SAFETY: the callback was checked non-NULL in hurah_handler_new; `t` outlives the call.
        let code = unsafe { (self.h.callback)(&t, self.h.user_data) };
        if let Some(stop) = &self.stop {
            if self.h.stop.stopped.load(Ordering::SeqCst) {
                stop.stop();
            }
        }
        t.outcome(code)
    }

    fn max_attempts(&mut self) -> u64 {
        self.h.max_attempts
    }

    fn retry_delay(&mut self, attempt: u64) -> Option<Duration> {
        self.h.retry_backoff.map(|b| b.delay_for(attempt))
    }

    fn log(&mut self, level: Level, message: &str) {
        if let Some(cb) = self.h.log {
            let msg = CString::new(message.replace('\0', " ")).unwrap_or_default();
            // SAFETY: cb is a valid function per hurah_options_set_log's contract; msg lives
            // for the call.
            unsafe { cb(level as c_int, msg.as_ptr(), self.h.log_user_data) };
        }
    }
}

/// Creates a handler for the listener `(root, event_type, handler_name)` and registers it:
/// the listener directory (or database row) is created if missing, so from now on dispatches
/// of `event_type` (or of more specific types) reach it, even before the first
/// `hurah_handler_handle()`.
///
/// - `root`: queue root directory (created if missing), or a `postgresql://` /
///   `postgres://` URL (the schema `hurah` is created or upgraded if needed).
/// - `event_type`: NUL-terminated UTF-8 (`"product"`, `"product/created"`, `""` for all).
/// - `handler_name`: NUL-terminated, `^[A-Za-z0-9][A-Za-z0-9_.-]*$`.
/// - `callback`: required; `user_data` is passed to it as is and must stay valid while the
///   handler runs tasks.
/// - `opts`: NULL (defaults) or options; fsync, max_attempts, retry_delay_ms and log are read
///   (fsync does not apply to a URL).
///
/// On success `*out` receives the handler (owned by the caller: `hurah_handler_free()`). On
/// failure `*out` is NULL and `*err` (if `err` is not NULL) receives an error the caller frees
/// with `hurah_error_free()` (an error already there is freed and replaced).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (root, event_type, handler_name, callback or out is
/// NULL); `HURAH_INVALID_ARGUMENT` (empty root, malformed URL); `HURAH_INVALID_UTF8`;
/// `HURAH_INVALID_EVENT_TYPE`; `HURAH_INVALID_HANDLER_NAME`; `HURAH_PERMISSION_DENIED`,
/// `HURAH_READ_ONLY`, `HURAH_NO_SPACE`, `HURAH_IO` (the root is not a writable directory or
/// the listener directories cannot be created); `HURAH_DATABASE` (for a URL: the database
/// cannot be reached, the message naming `host:port/db`); `HURAH_PANIC`.
///
/// # Safety
/// String arguments are NULL or NUL-terminated; `opts` is NULL or a live options object; `out`
/// is NULL or writable; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_new(
    root: *const c_char,
    event_type: *const c_char,
    handler_name: *const c_char,
    callback: hurah_task_callback,
    user_data: *mut c_void,
    opts: *const hurah_options,
    out: *mut *mut hurah_handler,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: out is writable.
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: forwarded contract (all three).
        let root = unsafe { c_path(root, "root") }?;
        let event_type = EventType::parse(unsafe { c_utf8(event_type, "event_type") }?)?;
        let name = HandlerName::new(unsafe { c_utf8(handler_name, "handler_name") }?)?;
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        // SAFETY: forwarded contract.
        let opts = unsafe { opts_or_default(opts) };
        // A directory root (created if missing) or a postgresql:// URL.
        let backend = super::open_backend(&root, opts.fsync)?;
        let queue = backend.open_listener(&event_type, &name)?;
        let label = format!("{event_type}:{name} on {}", backend.describe());
        let stop = StopPipe::new().map_err(|e| crate::Error::io("pipe", "<stop pipe>", e))?;
        let h = hurah_handler {
            backend,
            event_type,
            name,
            label,
            callback,
            user_data,
            max_attempts: opts.max_attempts,
            retry_backoff: (opts.retry_delay_ms > 0)
                .then(|| {
                    crate::Backoff::new(
                        Duration::from_millis(opts.retry_delay_ms),
                        opts.retry_multiplier,
                        (opts.retry_max_delay_ms > 0)
                            .then(|| Duration::from_millis(opts.retry_max_delay_ms)),
                        opts.retry_jitter,
                    )
                })
                .transpose()?,
            log: opts.log,
            log_user_data: opts.log_user_data,
            queue: Mutex::new(queue),
            running: AtomicBool::new(false),
            stop: Arc::new(stop),
        };
        // SAFETY: out is writable.
        unsafe { *out = Box::into_raw(Box::new(h)) };
        Ok(())
    })
}

/// Frees a handler. NULL is accepted and ignored. It must not be running
/// (`hurah_handler_handle()` / `hurah_handler_watch()` must have returned) and no other thread
/// or signal handler may call `hurah_handler_stop()` on it any more.
///
/// # Safety
/// `h` is NULL or a handler from `hurah_handler_new()` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_free(h: *mut hurah_handler) {
    guard((), || {
        if !h.is_null() {
            // SAFETY: ownership comes back from the caller.
            drop(unsafe { Box::from_raw(h) });
        }
    })
}

/// Marks the handler running for the life of the guard.
struct Running<'a>(&'a AtomicBool);

impl<'a> Running<'a> {
    fn enter(h: &'a hurah_handler) -> Result<Self, Failure> {
        if h.stop.stopped.load(Ordering::SeqCst) {
            return Err(Failure::new(
                hurah_status::HURAH_STOPPED,
                format!(
                    "handler {} was stopped; create a new handler to run tasks again",
                    h.label
                ),
            ));
        }
        if h.running.swap(true, Ordering::SeqCst) {
            return Err(Failure::new(
                hurah_status::HURAH_BUSY,
                format!("handler {} is already running in another call", h.label),
            ));
        }
        Ok(Running(&h.running))
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// Runs every task due now once, in ascending sequence order, then returns: the meaning of
/// `handle()` in hurah/events. Tasks left claimed by dead workers are recovered first. A task
/// that returns `HURAH_RETRY` without a delay waits for the next call. Tasks are claimed by
/// rename (on PostgreSQL: by row locks), so other workers on the same listener (any process,
/// any language) never run the same task. `hurah_handler_stop()` does not interrupt this call
/// (it finishes what was due); it makes later calls return `HURAH_STOPPED`.
///
/// `stats` may be NULL; otherwise it receives the counts when the call returns `HURAH_OK`
/// (zeros otherwise).
///
/// Returns `HURAH_OK` (callback outcomes, including failures, are not errors); `HURAH_NULL_POINTER`
/// (h is NULL); `HURAH_STOPPED` (the handler was stopped); `HURAH_BUSY` (already running);
/// `HURAH_PERMISSION_DENIED`, `HURAH_READ_ONLY`, `HURAH_NO_SPACE`, `HURAH_IO` (the queue
/// cannot be read or a task moved); `HURAH_DATABASE`; `HURAH_PANIC`. Errors
/// go to `*err` as in `hurah_handler_new()`.
///
/// # Safety
/// `h` is NULL or a live handler; `stats` is NULL or writable; `err` is NULL or points to NULL
/// or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_handle(
    h: *mut hurah_handler,
    stats: *mut hurah_stats,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: stats is NULL or writable.
        unsafe { put_out(stats, hurah_stats::default()) };
        // SAFETY: h is NULL or live; only shared access is needed.
        let h = unsafe { h.as_ref() }.ok_or_else(|| Failure::null("handler"))?;
        let _running = Running::enter(h)?;
        let mut queue = h.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut bridge = Bridge { h, stop: None };
        let s = queue.handle_once(&mut bridge)?;
        // SAFETY: as above.
        unsafe { put_out(stats, s.into()) };
        Ok(())
    })
}

/// Runs tasks as they arrive until a limit is reached or the handler is stopped: handles what
/// is due, then sleeps (inotify on the queue, or LISTEN/NOTIFY on PostgreSQL; a precise timer
/// for delayed tasks, a periodic safety rescan) without polling. `opts` may be NULL (no
/// limits); max_jobs, max_time_ms, memory_limit, stop_when_empty and rescan_interval_ms are
/// read. Nothing stays claimed when it returns. It installs no signal handlers: to stop on SIGTERM, call `hurah_handler_stop()`
/// from your own handler.
///
/// `stats` may be NULL; otherwise it receives the counts when the call returns `HURAH_OK`
/// (zero otherwise).
///
/// Returns `HURAH_OK` (a limit was reached, the queue was empty with stop_when_empty, or
/// `hurah_handler_stop()` was called during the run); `HURAH_NULL_POINTER` (h is NULL);
/// `HURAH_STOPPED` (the handler had been stopped before this call: nothing was run);
/// `HURAH_BUSY`; `HURAH_PERMISSION_DENIED`, `HURAH_READ_ONLY`, `HURAH_NO_SPACE`, `HURAH_IO`
/// (including inotify limits); `HURAH_DATABASE`; `HURAH_PANIC`. Errors go to `*err` as in
/// `hurah_handler_new()`.
///
/// # Safety
/// `h` is NULL or a live handler; `opts` is NULL or a live options object; `stats` is NULL or
/// writable; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_watch(
    h: *mut hurah_handler,
    opts: *const hurah_options,
    stats: *mut hurah_stats,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: stats is NULL or writable.
        unsafe { put_out(stats, hurah_stats::default()) };
        // SAFETY: h is NULL or live; only shared access is needed.
        let h = unsafe { h.as_ref() }.ok_or_else(|| Failure::null("handler"))?;
        // SAFETY: forwarded contract.
        let opts = unsafe { opts_or_default(opts) };
        let _running = Running::enter(h)?;
        // A queue of its own for the worker (registering is idempotent); the handler's stays
        // for hurah_handler_handle().
        let queue = h.backend.open_listener(&h.event_type, &h.name)?;
        let mut worker = h.backend.worker();
        let stop = worker.stop_handle();
        worker.add(
            queue,
            Box::new(Bridge {
                h,
                stop: Some(stop.clone()),
            }),
        )?;
        let _forwarder = Forwarder::start(&h.stop, stop)?;
        let s = worker.run(&opts.watch)?;
        // SAFETY: as above.
        unsafe { put_out(stats, s.into()) };
        Ok(())
    })
}

/// Asks the handler to stop: a running `hurah_handler_watch()` finishes the current task (if
/// any) and returns `HURAH_OK`; the stop is sticky, so every later `hurah_handler_handle()` /
/// `hurah_handler_watch()` on this handler returns `HURAH_STOPPED` at once (also when the stop
/// came before the watch started: no request is lost). Calling it again is harmless.
///
/// Async-signal-safe and thread-safe: it only performs an atomic store and a non-blocking
/// `write(2)` to a pipe, so it may be called from a signal handler, from another thread or
/// from the task callback. Returns `HURAH_OK` or `HURAH_NULL_POINTER` (h is NULL).
///
/// # Safety
/// `h` is NULL or a live handler (not freed, and not being freed concurrently).
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_stop(h: *const hurah_handler) -> hurah_status {
    guard(hurah_status::HURAH_PANIC, || {
        // SAFETY: h is NULL or live.
        match unsafe { h.as_ref() } {
            None => hurah_status::HURAH_NULL_POINTER,
            Some(h) => {
                h.stop.stopped.store(true, Ordering::SeqCst);
                h.stop.poke();
                hurah_status::HURAH_OK
            }
        }
    })
}

/// True (non-zero) once `hurah_handler_stop()` was called on `h`; false for NULL.
/// Thread-safe and async-signal-safe.
///
/// # Safety
/// `h` is NULL or a live handler.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_is_stopped(h: *const hurah_handler) -> bool {
    // SAFETY: h is NULL or live.
    guard(false, || {
        unsafe { h.as_ref() }.is_some_and(|h| h.stop.stopped.load(Ordering::SeqCst))
    })
}
