//! The stop handle both backends' workers obey (docs/ARCHITECTURE.md, "The seam"): a flag, the
//! signals noted for the worker to log, and a notifier the worker installs to be woken.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// What a [`StopHandle`] tells the worker it belongs to, through the notifier the worker
/// installed ([`StopHandle::set_notifier`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Stop requested (the stop flag is already set).
    Stop,
    /// Events may have been lost (SIGHUP, an overflow): look at every queue again.
    Rescan,
    /// The log verbosity changed (SIGUSR1/SIGUSR2).
    Verbosity,
}

/// The callback a worker installs to hear [`Notice`]s (e.g. a send on its wake channel).
pub type Notifier = Arc<dyn Fn(Notice) + Send + Sync>;

/// Stops a running worker from any thread: the current task finishes, nothing stays claimed,
/// and `run` returns. Cheap to clone; every clone drives the same worker.
#[derive(Clone, Default)]
pub struct StopHandle {
    flag: Arc<AtomicBool>,
    notifier: Arc<Mutex<Option<Notifier>>>,
    signals: Arc<SignalNotes>,
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StopHandle")
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

/// Signals the signal thread acted on, for the worker to log from its own thread (a PHP logger
/// may only be called there), and the signal that asked it to stop.
#[derive(Debug, Default)]
struct SignalNotes {
    lines: Mutex<Vec<String>>,
    stopped_by: AtomicI32,
}

impl StopHandle {
    /// A handle with no worker listening yet: [`StopHandle::is_stopped`] is all a polling
    /// worker needs; a sleeping one installs a notifier.
    pub fn new() -> StopHandle {
        StopHandle::default()
    }

    /// A handle whose notices go to `notifier` (see [`StopHandle::set_notifier`]).
    pub fn with_notifier(notifier: Notifier) -> StopHandle {
        let h = StopHandle::new();
        h.set_notifier(notifier);
        h
    }

    /// Installs the callback that wakes the worker (replacing any earlier one; every clone of
    /// this handle shares it).
    pub fn set_notifier(&self, notifier: Notifier) {
        if let Ok(mut n) = self.notifier.lock() {
            *n = Some(notifier);
        }
    }

    /// Tells the worker `notice` (nothing if no worker installed a notifier).
    pub fn notify(&self, notice: Notice) {
        let n = self.notifier.lock().ok().and_then(|n| n.clone());
        if let Some(n) = n {
            n(notice);
        }
    }

    /// Records that signal `sig` was taken (`line` says what it did), for the worker to log.
    pub fn note_signal(&self, sig: i32, line: String) {
        if matches!(sig, libc::SIGTERM | libc::SIGINT) {
            self.signals.stopped_by.store(sig, Ordering::SeqCst);
        }
        if let Ok(mut l) = self.signals.lines.lock() {
            l.push(line);
        }
    }

    /// Takes the lines of [`StopHandle::note_signal`] not logged yet, oldest first.
    pub fn take_signal_notes(&self) -> Vec<String> {
        match self.signals.lines.lock() {
            Ok(mut l) => std::mem::take(&mut *l),
            Err(_) => Vec::new(),
        }
    }

    /// True when [`StopHandle::take_signal_notes`] has something.
    pub fn has_signal_notes(&self) -> bool {
        self.signals.lines.lock().is_ok_and(|l| !l.is_empty())
    }

    /// The signal (SIGTERM or SIGINT) that asked the worker to stop, if one did.
    pub fn stopped_by_signal(&self) -> Option<i32> {
        Some(self.signals.stopped_by.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// Asks the worker to stop after the current task.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify(Notice::Stop);
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_reach_the_installed_notifier_from_every_clone() {
        let h = StopHandle::new();
        h.notify(Notice::Rescan); // no notifier yet: nothing happens
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        h.set_notifier(Arc::new(move |n| s.lock().unwrap().push(n)));
        let c = h.clone();
        c.notify(Notice::Verbosity);
        assert!(!h.is_stopped());
        c.stop();
        assert!(h.is_stopped());
        assert_eq!(*seen.lock().unwrap(), vec![Notice::Verbosity, Notice::Stop]);
    }
}
