//! Signals for long-running workers (PHP `watch()`, `hurah work`): SIGTERM and SIGINT stop after
//! the current task, SIGHUP forces a rescan, SIGUSR1/SIGUSR2 raise/lower log verbosity (PgQ's
//! logmore/logless). The handler only writes the signal number to a self-pipe (async-signal-safe);
//! a small thread turns it into [`Wake`] messages. The previous actions are restored when the
//! [`SignalGuard`] is dropped, so the host process gets its own behaviour back.

use crate::error::{Error, Result};
use crate::handler::Level;
use crate::watch::Wake;
use crate::worker::StopHandle;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

static PIPE_WR: AtomicI32 = AtomicI32::new(-1);
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The signals a worker handles.
pub const HANDLED_SIGNALS: [libc::c_int; 5] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = PIPE_WR.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer is one valid byte. A full pipe
        // (non-blocking) drops the byte, which only loses a duplicate signal.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Installed signal handling; dropping it restores the previous handlers.
pub struct SignalGuard {
    old: Vec<(libc::c_int, libc::sigaction)>,
    rd: libc::c_int,
    wr: libc::c_int,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SignalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalGuard")
    }
}

/// Routes SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2 to a worker. Only one guard can exist per
/// process at a time; a second call fails with [`Error::InvalidOption`].
pub fn install_signal_handlers(stop: &StopHandle, verbosity: Arc<AtomicU8>) -> Result<SignalGuard> {
    if ACTIVE.swap(true, Ordering::SeqCst) {
        return Err(Error::InvalidOption {
            name: "signals".into(),
            reason: "another worker in this process already handles signals".into(),
        });
    }
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        ACTIVE.store(false, Ordering::SeqCst);
        return Err(Error::io(
            "pipe",
            "<signal pipe>",
            std::io::Error::last_os_error(),
        ));
    }
    let (rd, wr) = (fds[0], fds[1]);
    // SAFETY: wr is a valid fd we own.
    unsafe {
        let fl = libc::fcntl(wr, libc::F_GETFL);
        libc::fcntl(wr, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    PIPE_WR.store(wr, Ordering::SeqCst);
    let mut old = Vec::new();
    for sig in HANDLED_SIGNALS {
        // SAFETY: sigaction structs are plain data; zeroed is a valid initial value.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            new.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            let mut prev: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, &new, &mut prev) == 0 {
                old.push((sig, prev));
            }
        }
    }
    let stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name("hurah-signals".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            loop {
                // SAFETY: buf is valid for its length; rd stays open until this thread is joined.
                let n = unsafe { libc::read(rd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                if n <= 0 {
                    return;
                }
                for &b in &buf[..n as usize] {
                    match b as libc::c_int {
                        libc::SIGTERM | libc::SIGINT => stop.stop(),
                        libc::SIGHUP => stop.waker().wake(Wake::Rescan),
                        libc::SIGUSR1 => {
                            let v = verbosity.load(Ordering::Relaxed);
                            verbosity.store((v + 1).min(Level::Debug as u8), Ordering::Relaxed);
                            stop.waker().wake(Wake::Verbosity);
                        }
                        libc::SIGUSR2 => {
                            let v = verbosity.load(Ordering::Relaxed);
                            verbosity.store(v.saturating_sub(1), Ordering::Relaxed);
                            stop.waker().wake(Wake::Verbosity);
                        }
                        _ => {}
                    }
                }
            }
        })
        .map_err(|e| Error::io("spawn", "<signal thread>", e))?;
    Ok(SignalGuard {
        old,
        rd,
        wr,
        thread: Some(thread),
    })
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restoring the exact action we replaced.
            unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
        }
        PIPE_WR.store(-1, Ordering::SeqCst);
        // SAFETY: we own wr; closing it makes the thread's read return 0.
        unsafe { libc::close(self.wr) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // SAFETY: the thread is gone; we own rd.
        unsafe { libc::close(self.rd) };
        ACTIVE.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Worker;

    #[test]
    fn sigusr1_raises_verbosity_and_sigterm_stops_then_handlers_are_restored() {
        let w = Worker::new();
        let stop = w.stop_handle();
        let v = w.verbosity();
        v.store(Level::Info as u8, Ordering::SeqCst);
        {
            let _g = install_signal_handlers(&stop, Arc::clone(&v)).unwrap();
            assert!(install_signal_handlers(&stop, Arc::clone(&v)).is_err());
            // SAFETY: raising a signal we handle.
            unsafe { libc::raise(libc::SIGUSR1) };
            unsafe { libc::raise(libc::SIGTERM) };
            for _ in 0..200 {
                if stop.is_stopped() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            assert!(stop.is_stopped());
            assert_eq!(v.load(Ordering::SeqCst), Level::Debug as u8);
        }
        // Restored: our handler is gone.
        // SAFETY: querying the current action only.
        let cur = unsafe {
            let mut cur: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGTERM, std::ptr::null(), &mut cur);
            cur
        };
        assert_ne!(
            cur.sa_sigaction,
            on_signal as extern "C" fn(libc::c_int) as usize
        );
    }
}
