//! Wake sources: what tells a waiting worker that something changed. Each source turns its own
//! notifications into [`Wake`] messages on the worker's channel; the worker does the waiting.
//! [`NotifyWake`] uses inotify through the `notify` crate; [`NullWake`] reports nothing (tests,
//! and file systems without notifications, where the safety rescan does the work).

use crate::error::{Error, Result};
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::{RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

/// A reason to wake up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wake {
    /// These files appeared or were finished (renamed in, closed after writing, created).
    Paths(Vec<PathBuf>),
    /// Events may have been lost (queue overflow, rescan flag, SIGHUP): scan everything.
    Rescan,
    /// Stop requested (the stop flag is already set).
    Stop,
    /// Log verbosity changed (SIGUSR1/SIGUSR2).
    Verbosity,
}

/// Sends [`Wake`] messages to a worker; cheap to clone, usable from any thread.
#[derive(Clone, Debug)]
pub struct Waker(pub(crate) Sender<Wake>);

impl Waker {
    /// Delivers a message; a worker that is gone is ignored.
    pub fn wake(&self, wake: Wake) {
        let _ = self.0.send(wake);
    }
}

/// Something that reports file-system changes in watched directories to a [`Waker`].
pub trait WakeSource {
    /// Starts reporting changes inside `dir` (not recursive).
    fn watch(&mut self, dir: &Path) -> Result<()>;
}

/// Reports nothing: the worker relies on its start-up scan and safety rescans.
#[derive(Debug, Default)]
pub struct NullWake;

impl WakeSource for NullWake {
    fn watch(&mut self, _dir: &Path) -> Result<()> {
        Ok(())
    }
}

/// inotify (through `notify`): files renamed in (`Modify(Name(To))`; a rename out, `Name(From)`,
/// is ignored), closed after writing
/// (`Close(Write)`, legacy in-place writers) and created; a rescan on overflow or error.
pub struct NotifyWake {
    watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for NotifyWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NotifyWake")
    }
}

fn relevant(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Any
            | EventKind::Other
    )
}

impl NotifyWake {
    /// A watcher that sends to `waker`.
    pub fn new(waker: Waker) -> Result<Self> {
        let watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
                Ok(ev) if ev.need_rescan() => waker.wake(Wake::Rescan),
                Ok(ev) if relevant(&ev.kind) && !ev.paths.is_empty() => {
                    waker.wake(Wake::Paths(ev.paths))
                }
                Ok(_) => {}
                Err(_) => waker.wake(Wake::Rescan),
            })
            .map_err(|e| notify_error(e, Path::new("<inotify>")))?;
        Ok(NotifyWake { watcher })
    }
}

fn notify_error(e: notify::Error, path: &Path) -> Error {
    let source = match e.kind {
        notify::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    };
    Error::io("watch", path, source)
}

impl WakeSource for NotifyWake {
    fn watch(&mut self, dir: &Path) -> Result<()> {
        self.watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|e| notify_error(e, dir))
    }
}
