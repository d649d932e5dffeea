//! Crash points for the kill tests: a test sets `HURAH_TEST_FAULT=<point>` in a child process
//! and the child kills itself with SIGKILL when it reaches that point, exactly as `kill -9`
//! would at that instant (no destructors, no unwinding; the kernel drops its locks). The
//! variable is read once per process; unset (always, outside the tests) a point costs one
//! load and compare.
//!
//! Points:
//! * `dispatch-between-sequence-and-publish`: the sequences are allocated and `tracking.json`
//!   written, no task file is published yet.
//! * `worker-after-claim`: a task is claimed (file renamed into `claimed/<worker>/`, or the
//!   database row claimed), its start not recorded yet, the handler not entered.
//! * `worker-after-start`: the start is recorded, the handler not entered yet.

use std::sync::OnceLock;

/// The environment variable naming the armed point.
pub const ENV: &str = "HURAH_TEST_FAULT";

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// Kills this process with SIGKILL if `name` is the armed point.
pub(crate) fn point(name: &str) {
    let armed = ARMED.get_or_init(|| std::env::var(ENV).ok().filter(|v| !v.is_empty()));
    if armed.as_deref() == Some(name) {
        // SAFETY: plain system calls on this process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
        std::process::abort();
    }
}
