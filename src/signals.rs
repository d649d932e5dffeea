//! Signals for long-running workers (PHP `watch()`, `hurah work`): SIGTERM and SIGINT stop after
//! the current task, SIGHUP forces a rescan, SIGUSR1/SIGUSR2 raise/lower log verbosity (PgQ's
//! logmore/logless).
//!
//! The thread that installs the handlers (the one running the worker and the handler code) gets
//! these signals blocked, so they never interrupt a running handler (a PHP `sleep()`, a
//! `read()`): a dedicated thread, which keeps them unblocked, takes them. The handler only
//! writes the signal number to a self-pipe (async-signal-safe); the thread turns it into
//! [`Wake`] messages and notes each signal for the worker to log from its own thread
//! ([`StopHandle::take_signal_notes`]). Dropping the [`SignalGuard`] (on the same thread)
//! restores the thread's signal mask and the previous actions, so the host process gets its
//! own behaviour back.

use crate::error::{Error, Result};
use crate::handler::Level;
use crate::stop::{Notice, StopHandle};
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

/// Installed signal handling; dropping it restores the previous handlers and the installing
/// thread's signal mask. Not `Send`: it must be dropped on the thread that installed it.
pub struct SignalGuard {
    old: Vec<(libc::c_int, libc::sigaction)>,
    old_mask: libc::sigset_t,
    rd: libc::c_int,
    wr: libc::c_int,
    thread: Option<JoinHandle<()>>,
    _not_send: std::marker::PhantomData<*const ()>,
}

/// The set of [`HANDLED_SIGNALS`].
fn handled_set() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in HANDLED_SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// The name of a handled signal.
pub fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => "signal",
    }
}

impl std::fmt::Debug for SignalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalGuard")
    }
}

/// Routes SIGTERM/SIGINT/SIGHUP/SIGUSR1/SIGUSR2 to a worker. Only one guard can exist per
/// process at a time; a second call fails with [`Error::InvalidOption`].
///
/// Kept in one piece (~130 lines): the signal thread's body, one match on the signal taken,
/// reads beside the mask it runs under and the guard that undoes it.
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
    let set = handled_set();
    let spawned = std::thread::Builder::new()
        .name("hurah-signals".into())
        .spawn(move || {
            // This thread takes the signals: make sure they are not blocked here (it inherits
            // the mask of the installing thread).
            // SAFETY: set is a valid sigset_t; changes this thread's mask only.
            unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
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
                    let sig = b as libc::c_int;
                    let name = signal_name(sig);
                    match sig {
                        libc::SIGTERM | libc::SIGINT => {
                            stop.note_signal(
                                sig,
                                format!("received {name}: stopping after the current task"),
                            );
                            stop.stop();
                        }
                        libc::SIGHUP => {
                            stop.note_signal(
                                sig,
                                format!("received {name}: rescanning the queues"),
                            );
                            stop.notify(Notice::Rescan);
                        }
                        libc::SIGUSR1 | libc::SIGUSR2 => {
                            let v = verbosity.load(Ordering::Relaxed);
                            let (v, verb) = if sig == libc::SIGUSR1 {
                                ((v + 1).min(Level::Debug as u8), "raised")
                            } else {
                                (v.saturating_sub(1), "lowered")
                            };
                            verbosity.store(v, Ordering::Relaxed);
                            let level = Level::from_u8(v).as_str();
                            stop.note_signal(
                                sig,
                                format!("received {name}: log level {verb} to {level}"),
                            );
                            stop.notify(Notice::Verbosity);
                        }
                        _ => {}
                    }
                }
            }
        });
    let thread = match spawned {
        Ok(t) => t,
        Err(e) => {
            for (sig, prev) in &old {
                // SAFETY: restoring the exact action we replaced.
                unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
            }
            PIPE_WR.store(-1, Ordering::SeqCst);
            // SAFETY: we own both ends; no thread reads them.
            unsafe {
                libc::close(wr);
                libc::close(rd);
            }
            ACTIVE.store(false, Ordering::SeqCst);
            return Err(Error::io("spawn", "<signal thread>", e));
        }
    };
    // From now on the signals are not delivered to this thread (the one running handlers):
    // the signal thread takes them.
    // SAFETY: sigset_t is plain data; set is valid; changes this thread's mask only.
    let old_mask = unsafe {
        let mut old_mask: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask);
        old_mask
    };
    Ok(SignalGuard {
        old,
        old_mask,
        rd,
        wr,
        thread: Some(thread),
        _not_send: std::marker::PhantomData,
    })
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        // Unblock first, while our handler is still installed: a signal sent to this very
        // thread meanwhile (raise()) is taken by our handler, not by the restored action.
        // SAFETY: restoring this thread's mask as it was before install.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
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

    /// One signal test at a time: handlers are per process.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// True when `sig` is blocked in the calling thread.
    fn blocked_here(sig: libc::c_int) -> bool {
        // SAFETY: querying this thread's mask into a zeroed sigset_t.
        unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
            libc::sigismember(&cur, sig) == 1
        }
    }

    /// Sleeps `ms` with nanosleep(2); returns false if a signal interrupted it.
    fn sleep_uninterrupted(ms: i64) -> bool {
        let req = libc::timespec {
            tv_sec: ms / 1000,
            tv_nsec: (ms % 1000) * 1_000_000,
        };
        let mut rem = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: both timespecs are valid.
        unsafe { libc::nanosleep(&req, &mut rem) == 0 }
    }

    #[test]
    fn signals_never_interrupt_the_installing_thread_and_are_noted_for_the_worker() {
        // The installing thread runs the handlers: a SIGUSR1/SIGHUP sent meanwhile must not cut
        // its sleep short; the signal thread takes them and notes them for the log.
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let w = Worker::new();
        let stop = w.stop_handle();
        let v = w.verbosity();
        v.store(Level::Info as u8, Ordering::SeqCst);
        assert!(!blocked_here(libc::SIGUSR1));
        let g = install_signal_handlers(&stop, Arc::clone(&v)).unwrap();
        for sig in HANDLED_SIGNALS {
            assert!(blocked_here(sig), "{} not blocked", signal_name(sig));
        }
        let sender = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            for sig in [libc::SIGUSR1, libc::SIGHUP] {
                // SAFETY: sending this process a signal it handles.
                unsafe { libc::kill(libc::getpid(), sig) };
            }
        });
        let slept = sleep_uninterrupted(800);
        sender.join().unwrap();
        let mut notes = Vec::new();
        for _ in 0..400 {
            notes.extend(stop.take_signal_notes());
            if notes.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(g);
        assert!(!blocked_here(libc::SIGUSR1), "the mask is restored");
        assert!(slept, "a signal interrupted the handler thread's sleep");
        notes.sort();
        assert_eq!(
            notes,
            [
                "received SIGHUP: rescanning the queues",
                "received SIGUSR1: log level raised to debug",
            ]
        );
        assert!(!stop.is_stopped());
        assert_eq!(stop.stopped_by_signal(), None);
    }

    #[test]
    fn sigusr1_raises_verbosity_and_sigterm_stops_then_handlers_are_restored() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let w = Worker::new();
        let stop = w.stop_handle();
        let v = w.verbosity();
        v.store(Level::Info as u8, Ordering::SeqCst);
        {
            let _g = install_signal_handlers(&stop, Arc::clone(&v)).unwrap();
            assert!(install_signal_handlers(&stop, Arc::clone(&v)).is_err());
            // SAFETY: sending this process signals we handle.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
            for _ in 0..200 {
                if stop.is_stopped() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            assert!(stop.is_stopped());
            assert_eq!(v.load(Ordering::SeqCst), Level::Debug as u8);
            assert_eq!(stop.stopped_by_signal(), Some(libc::SIGTERM));
            let mut notes = stop.take_signal_notes();
            notes.sort();
            assert_eq!(
                notes,
                [
                    "received SIGTERM: stopping after the current task",
                    "received SIGUSR1: log level raised to debug",
                ]
            );
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
