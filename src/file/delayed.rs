//! Delayed tasks: the files in a listener's `delayed/` (`<due-ms>-<seq>.json`), listed earliest
//! first and cancelled before they come due. Used by `hurah delayed`, the PHP extension
//! (`Dispatcher::cancel()`, `AbstractHandler::getDelayed()`) and available to the C ABI.
//!
//! Cancelling removes the file. It races safely with a worker promoting the task: exactly one
//! of the unlink and the worker's rename wins, so a task is either cancelled or runs, never
//! both; a task already moved to `inbox/` is not cancelled (it counts as "too late").
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use hurah::*;
//! let l = Layout::new(dir.path()).listener(&EventType::parse("a").unwrap(),
//!                                          &HandlerName::new("h").unwrap());
//! Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
//! let d = Dispatcher::new(dir.path(), FsyncPolicy::Never).unwrap();
//! let due = clock::now_ms() + 60_000;
//! let r = d.dispatch_with(&EventType::parse("a").unwrap(), "1",
//!                         DispatchOptions { not_before_ms: Some(due) }).unwrap();
//! let waiting = delayed::entries(&l).unwrap();
//! assert_eq!(waiting[0].due_ms, due);
//! let c = delayed::cancel_id(&Layout::new(dir.path()), &r.id).unwrap();
//! assert_eq!((c.cancelled, c.too_late), (1, 0));
//! assert!(delayed::entries(&l).unwrap().is_empty());
//! ```

use crate::backend::Cancelled;
use crate::error::{Error, Result};
use crate::file::layout::{parse_delayed_file_name, Layout, Listener, State};
use crate::task::TaskDoc;
use std::fs;
use std::path::{Path, PathBuf};

/// One file in a listener's `delayed/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayedEntry {
    /// When it becomes due (ms since the epoch), from the file name.
    pub due_ms: u64,
    /// Its sequence in the listener.
    pub seq: u64,
    /// The file.
    pub path: PathBuf,
}

impl DelayedEntry {
    /// The task file, parsed (`None` if it is gone or unreadable).
    /// A file that is not a regular file (a symbolic link, a FIFO, ...) is not read: `None`.
    pub fn load(&self) -> Option<TaskDoc> {
        match crate::file::durability::read_regular(&self.path).ok()? {
            crate::file::durability::Read::Bytes(bytes) => TaskDoc::parse(&bytes, &self.path).ok(),
            _ => None,
        }
    }

    /// The dispatch id stored in the file (`None` if gone, unreadable or written without one).
    pub fn id(&self) -> Option<String> {
        self.load().and_then(|d| d.id().map(str::to_string))
    }
}

/// The files in `delayed/`, earliest due first (then by sequence). Reads names only; names that
/// are not `<due>-<seq>.json` are ignored. A missing directory is an empty list.
pub fn entries(listener: &Listener) -> Result<Vec<DelayedEntry>> {
    let dir = listener.state_dir(State::Delayed);
    let list = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", &dir, e)),
    };
    let mut out: Vec<DelayedEntry> = list
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let (due_ms, seq) = e.file_name().to_str().and_then(parse_delayed_file_name)?;
            Some(DelayedEntry {
                due_ms,
                seq,
                path: e.path(),
            })
        })
        .collect();
    out.sort_by_key(|d| (d.due_ms, d.seq));
    Ok(out)
}

/// Removes one delayed task file. `Ok(false)` when it is already gone (a worker promoted it to
/// `inbox/` meanwhile, or someone else cancelled it).
pub fn cancel(path: &Path) -> Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Cancels every delayed copy of dispatch `id` in `listeners`.
pub fn cancel_id_in(listeners: &[Listener], id: &str) -> Result<Cancelled> {
    let mut c = Cancelled::default();
    for l in listeners {
        for e in entries(l)? {
            if e.id().as_deref() != Some(id) {
                continue;
            }
            if cancel(&e.path)? {
                c.cancelled += 1;
            } else {
                c.too_late += 1;
            }
        }
    }
    Ok(c)
}

/// Cancels every delayed copy of dispatch `id` in every listener under the root. Copies already
/// promoted to `inbox/` (or running, or done) are left alone. Reads every delayed file's id, so
/// it costs one read per delayed task under the root.
pub fn cancel_id(layout: &Layout, id: &str) -> Result<Cancelled> {
    if !layout.root().is_dir() {
        return Ok(Cancelled::default());
    }
    cancel_id_in(&layout.all_listeners()?, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{clock, DispatchOptions, Dispatcher, EventType, FsyncPolicy, HandlerName, Queue};

    fn setup(dir: &Path, names: &[(&str, &str)]) -> Vec<Listener> {
        names
            .iter()
            .map(|(t, n)| {
                let l = Layout::new(dir)
                    .listener(&EventType::parse(t).unwrap(), &HandlerName::new(n).unwrap());
                Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
                l
            })
            .collect()
    }

    fn at(due: u64) -> DispatchOptions {
        DispatchOptions {
            not_before_ms: Some(due),
        }
    }

    #[test]
    fn entries_are_sorted_by_due_time_and_ignore_other_names() {
        let dir = tempfile::tempdir().unwrap();
        let l = setup(dir.path(), &[("a", "h")]).remove(0);
        let d = Dispatcher::new(dir.path(), FsyncPolicy::Never).unwrap();
        let now = clock::now_ms();
        let t = EventType::parse("a").unwrap();
        d.dispatch_with(&t, "1", at(now + 50_000)).unwrap();
        d.dispatch_with(&t, "2", at(now + 10_000)).unwrap();
        d.dispatch(&t, "3").unwrap(); // due now: inbox
        fs::write(l.state_dir(State::Delayed).join("junk.json"), "{}").unwrap();
        let e = entries(&l).unwrap();
        assert_eq!(
            e.iter().map(|e| (e.due_ms, e.seq)).collect::<Vec<_>>(),
            vec![(now + 10_000, 2), (now + 50_000, 1)]
        );
        assert!(e[0].id().is_some());
        assert_eq!(e[0].load().unwrap().payload(), &serde_json::json!(2));
    }

    #[test]
    fn a_missing_delayed_dir_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let l = Layout::new(dir.path()).listener(
            &EventType::parse("a").unwrap(),
            &HandlerName::new("h").unwrap(),
        );
        assert!(entries(&l).unwrap().is_empty());
        assert_eq!(
            cancel_id(&Layout::new(dir.path().join("nope")), "x").unwrap(),
            Cancelled::default()
        );
    }

    #[test]
    fn cancel_id_removes_every_listeners_delayed_copy_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let ls = setup(dir.path(), &[("a/b", "one"), ("a", "two"), ("x", "other")]);
        let d = Dispatcher::new(dir.path(), FsyncPolicy::Never).unwrap();
        let later = clock::now_ms() + 60_000;
        let keep = d
            .dispatch_with(&EventType::parse("a/b").unwrap(), "1", at(later))
            .unwrap();
        let gone = d
            .dispatch_with(&EventType::parse("a/b").unwrap(), "2", at(later))
            .unwrap();
        let now = d.dispatch(&EventType::parse("a/b").unwrap(), "3").unwrap();
        assert_eq!(gone.deliveries.len(), 2);
        let c = cancel_id(&Layout::new(dir.path()), &gone.id).unwrap();
        assert_eq!(
            c,
            Cancelled {
                cancelled: 2,
                too_late: 0
            }
        );
        for l in &ls[..2] {
            let left = entries(l).unwrap();
            assert_eq!(left.len(), 1);
            assert_eq!(left[0].id().as_deref(), Some(keep.id.as_str()));
        }
        // A task that is already in the inbox is not cancelled.
        let c = cancel_id(&Layout::new(dir.path()), &now.id).unwrap();
        assert_eq!(c, Cancelled::default());
        assert!(ls[0].inbox_file(now.deliveries[0].sequence).exists());
        // Cancelling twice finds nothing the second time.
        assert_eq!(
            cancel_id(&Layout::new(dir.path()), &gone.id).unwrap(),
            Cancelled::default()
        );
    }

    #[test]
    fn cancel_reports_a_file_that_left_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let l = setup(dir.path(), &[("a", "h")]).remove(0);
        let d = Dispatcher::new(dir.path(), FsyncPolicy::Never).unwrap();
        d.dispatch_with(
            &EventType::parse("a").unwrap(),
            "1",
            at(clock::now_ms() + 60_000),
        )
        .unwrap();
        let e = entries(&l).unwrap().remove(0);
        // A worker promoted it first.
        fs::rename(&e.path, l.inbox_file(e.seq)).unwrap();
        assert!(!cancel(&e.path).unwrap());
        assert!(l.inbox_file(e.seq).exists());
    }
}
