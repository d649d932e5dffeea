//! [`FileBackend`]: the seam ([`crate::backend::Backend`]) on a directory, and the file
//! [`Worker`] as a [`WorkerLoop`].

use crate::backend::{
    foreign_queue, Backend, Cancelled, DispatchOptions, FailedAction, FsyncPolicy, ListenerQueue,
    ListenerStatus, Pick, Purged, Receipt, RunStats, StopHandle, TaskEntry, TaskError, TaskState,
    WorkerLoop, WorkerOptions,
};
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::file::delayed;
use crate::file::dispatcher::Dispatcher;
use crate::file::failed::{self, FailedTask};
use crate::file::layout::{
    parse_delayed_file_name, parse_final_file_name, parse_task_file_name, Layout, Listener, State,
};
use crate::file::queue::Queue;
use crate::file::worker::{handle_once, Worker};
use crate::handler::Handler;
use crate::handler_name::HandlerName;
use crate::task::TaskDoc;
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The file backend: a directory tree, one directory per task state (docs/ARCHITECTURE.md).
#[derive(Clone, Debug)]
pub struct FileBackend {
    layout: Layout,
    fsync: FsyncPolicy,
    /// Made by [`FileBackend::open`]; by the first dispatch after
    /// [`FileBackend::open_existing`].
    dispatcher: OnceLock<Dispatcher>,
}

impl FileBackend {
    /// The backend on directory `root`, created if missing. Fails if it cannot be created or
    /// is not writable.
    pub fn open(root: impl AsRef<Path>, fsync: FsyncPolicy) -> Result<FileBackend> {
        let d = Dispatcher::new(root.as_ref(), fsync)?;
        Ok(FileBackend {
            layout: d.layout().clone(),
            fsync,
            dispatcher: OnceLock::from(d),
        })
    }

    /// The backend on directory `root`, which must exist ([`Error::Io`], not found,
    /// otherwise). Neither creates it nor checks that it is writable, so listing and counting
    /// work on a root the caller may only read.
    pub fn open_existing(root: impl AsRef<Path>, fsync: FsyncPolicy) -> Result<FileBackend> {
        let root = root.as_ref();
        if !root.is_dir() {
            return Err(Error::io(
                "open",
                root,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such queue root"),
            ));
        }
        Ok(FileBackend {
            layout: Layout::new(root),
            fsync,
            dispatcher: OnceLock::new(),
        })
    }

    /// The root's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The fsync policy.
    pub fn fsync(&self) -> FsyncPolicy {
        self.fsync
    }

    fn dispatcher(&self) -> Result<&Dispatcher> {
        if let Some(d) = self.dispatcher.get() {
            return Ok(d);
        }
        let d = Dispatcher::new(self.layout.root(), self.fsync)?;
        Ok(self.dispatcher.get_or_init(|| d))
    }

    fn listener(&self, event_type: &EventType, name: &HandlerName) -> Listener {
        self.layout().listener(event_type, name)
    }

    fn no_failed_task(&self, l: &Listener, seq: u64) -> Error {
        Error::NotFound {
            what: format!(
                "failed task {seq} in {}",
                l.state_dir(State::Error).display()
            ),
        }
    }
}

/// `sequences` (duplicates dropped, order kept), each with the files of `listed` (`(seq, path)`
/// pairs, as a directory listing gives them) that have that sequence: none, one, or several
/// (`<seq>.json` and `<seq>.<n>.json`).
fn by_sequence(listed: Vec<(u64, PathBuf)>, sequences: &[u64]) -> Vec<(u64, Vec<PathBuf>)> {
    let mut by_seq: std::collections::HashMap<u64, Vec<PathBuf>> = std::collections::HashMap::new();
    for (seq, path) in listed {
        by_seq.entry(seq).or_default().push(path);
    }
    let mut seen = std::collections::HashSet::new();
    sequences
        .iter()
        .filter(|s| seen.insert(**s))
        .map(|s| (*s, by_seq.remove(s).unwrap_or_default()))
        .collect()
}

impl Backend for FileBackend {
    fn kind(&self) -> &'static str {
        "files"
    }

    fn describe(&self) -> String {
        self.layout().root().display().to_string()
    }

    fn dispatch(
        &self,
        event_type: &EventType,
        payload: &str,
        options: DispatchOptions,
    ) -> Result<Receipt> {
        self.dispatcher()?
            .dispatch_with(event_type, payload, options)
    }

    fn dispatch_many(
        &self,
        events: &[(EventType, String)],
        options: DispatchOptions,
    ) -> Result<Vec<Receipt>> {
        let payloads = events
            .iter()
            .map(|(_, payload)| crate::json::validate_payload(payload))
            .collect::<Result<Vec<_>>>()?;
        let d = self.dispatcher()?;
        events
            .iter()
            .zip(payloads)
            .map(|((t, _), payload)| d.dispatch_valid(t, payload, options))
            .collect()
    }

    fn cancel(&self, id: &str) -> Result<Cancelled> {
        delayed::cancel_id(self.layout(), id)
    }

    fn open_listener(
        &self,
        event_type: &EventType,
        name: &HandlerName,
    ) -> Result<Box<dyn ListenerQueue>> {
        let q = Queue::open(self.listener(event_type, name), self.fsync())?;
        Ok(Box::new(FileListenerQueue {
            event_type: event_type.clone(),
            name: name.clone(),
            queue: q,
        }))
    }

    fn worker<'h>(&self) -> Box<dyn WorkerLoop<'h> + 'h> {
        Box::new(Worker::new())
    }

    fn listeners(&self) -> Result<Vec<(EventType, HandlerName)>> {
        let mut all: Vec<(EventType, HandlerName)> = self
            .layout()
            .all_listeners()?
            .into_iter()
            .map(|l| (l.event_type().clone(), l.name().clone()))
            .collect();
        all.sort_by_key(|(t, n)| (t.to_string(), n.as_str().to_string()));
        Ok(all)
    }

    fn listeners_for(&self, event_type: &EventType) -> Result<Vec<(EventType, HandlerName)>> {
        // The dispatcher's cached listing of each level (one stat per level, no tree walk).
        Ok(self
            .dispatcher()?
            .listeners_for(event_type)?
            .into_iter()
            .map(|l| (l.event_type().clone(), l.name().clone()))
            .collect())
    }

    fn tasks(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        state: TaskState,
    ) -> Result<Vec<TaskEntry>> {
        let l = self.listener(event_type, name);
        let mut out = Vec::new();
        match state {
            TaskState::Inbox => {
                for seq in crate::file::queue::inbox_sequences(&l)? {
                    let path = l.inbox_file(seq);
                    let Some((doc, changed_ms)) = read_task(&path) else {
                        continue;
                    };
                    out.push(entry(seq, doc, None, path, changed_ms));
                }
            }
            TaskState::Delayed => {
                for e in delayed::entries(&l)? {
                    let Some((doc, changed_ms)) = read_task(&e.path) else {
                        continue;
                    };
                    out.push(entry(e.seq, doc, Some(e.due_ms), e.path, changed_ms));
                }
            }
            TaskState::Failed => {
                for (seq, path) in failed::entries(&l)? {
                    let f = match FailedTask::load(&l, &path) {
                        Ok(f) => f,
                        Err(Error::NotFound { .. }) => continue, // retried meanwhile
                        Err(e) => return Err(e),
                    };
                    let error = Some(TaskError {
                        reason: f.reason(),
                        class: f.class().map(str::to_string),
                        at: f.failed_at().map(str::to_string),
                    });
                    out.push(TaskEntry {
                        sequence: seq,
                        id: f.id().map(str::to_string),
                        attempts: f.attempts(),
                        due_ms: None,
                        error,
                        doc: f.doc().cloned(),
                        location: path.to_string_lossy().into_owned(),
                        changed_ms: f.changed_ms(),
                    });
                }
            }
        }
        Ok(out)
    }

    fn failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        pick: Pick<'_>,
        action: FailedAction,
        each: &mut dyn FnMut(u64, Result<()>) -> Result<()>,
    ) -> Result<()> {
        let l = self.listener(event_type, name);
        let listed = failed::entries(&l)?;
        let picked: Vec<(u64, Vec<PathBuf>)> = match pick {
            Pick::All => listed.into_iter().map(|(s, p)| (s, vec![p])).collect(),
            Pick::Sequences(sequences) => by_sequence(listed, sequences),
        };
        let mut deleted = false;
        let mut outcome = Ok(());
        for (seq, paths) in picked {
            if paths.is_empty() {
                outcome = each(seq, Err(self.no_failed_task(&l, seq)));
            }
            for path in paths {
                let r = match action {
                    FailedAction::Retry => failed::retry(&l, &path, self.fsync()).map(|_| ()),
                    FailedAction::Delete => failed::delete(&l, &path),
                };
                deleted |= r.is_ok() && action == FailedAction::Delete;
                outcome = match r {
                    Err(Error::NotFound { .. }) if pick == Pick::All => Ok(()),
                    r => each(seq, r),
                };
                if outcome.is_err() {
                    break;
                }
            }
            if outcome.is_err() {
                break;
            }
        }
        if deleted {
            self.fsync().sync_dir(&l.state_dir(State::Error))?;
        }
        outcome
    }

    fn cancel_delayed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequences: &[u64],
    ) -> Result<Cancelled> {
        let l = self.listener(event_type, name);
        let listed = delayed::entries(&l)?
            .into_iter()
            .map(|e| (e.seq, e.path))
            .collect();
        let mut c = Cancelled::default();
        for (_, paths) in by_sequence(listed, sequences) {
            if paths.is_empty() {
                c.too_late += 1;
            }
            for path in paths {
                // false: promoted to inbox/ by a worker meanwhile (or cancelled by someone else).
                if delayed::cancel(&path)? {
                    c.cancelled += 1;
                } else {
                    c.too_late += 1;
                }
            }
        }
        if c.cancelled > 0 {
            self.fsync().sync_dir(&l.state_dir(State::Delayed))?;
        }
        Ok(c)
    }

    fn status(&self) -> Result<Vec<ListenerStatus>> {
        let now = crate::clock::now_ms();
        let mut all = self.layout().all_listeners()?;
        all.sort_by_key(|l| (l.event_type().to_string(), l.name().as_str().to_string()));
        Ok(all.iter().map(|l| listener_status(l, now)).collect())
    }

    fn purge_archive(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        older_than: Duration,
        dry_run: bool,
    ) -> Result<Purged> {
        let l = self.listener(event_type, name);
        let dir = l.state_dir(State::Archive);
        let cutoff_ms = crate::clock::now_ms().saturating_sub(older_than.as_millis() as u64);
        let list = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Purged::default()),
            Err(e) => return Err(Error::io("read directory", &dir, e)),
        };
        let mut p = Purged::default();
        for e in list.flatten() {
            if e.file_name()
                .to_str()
                .and_then(parse_final_file_name)
                .is_none()
            {
                continue;
            }
            let path = e.path();
            // Its ctime: when it was renamed into archive/.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if ctime_ms(&meta) > cutoff_ms {
                p.kept += 1;
                continue;
            }
            if !dry_run {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io("remove", &path, e)),
                }
            }
            p.purged += 1;
        }
        Ok(p)
    }
}

fn entry(
    seq: u64,
    doc: TaskDoc,
    due_ms: Option<u64>,
    location: PathBuf,
    changed_ms: u64,
) -> TaskEntry {
    TaskEntry {
        sequence: seq,
        id: doc.id().map(str::to_string),
        attempts: doc.attempts(),
        due_ms,
        error: None,
        doc: Some(doc),
        location: location.to_string_lossy().into_owned(),
        changed_ms,
    }
}

/// A task file, parsed, with its ctime in ms (`None` if gone, unreadable or not a regular
/// file: a link is never followed, a FIFO never blocks). One open: the metadata comes from
/// the descriptor `read` needs anyway.
fn read_task(path: &Path) -> Option<(TaskDoc, u64)> {
    use std::io::Read;
    let crate::file::durability::Entry::File(mut f, meta) =
        crate::file::durability::open_regular(path).ok()?
    else {
        return None;
    };
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    f.read_to_end(&mut bytes).ok()?;
    let doc = TaskDoc::parse(&bytes, path).ok()?;
    Some((doc, ctime_ms(&meta)))
}

fn ctime_ms(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    (meta.ctime().max(0) as u64) * 1000 + meta.ctime_nsec().max(0) as u64 / 1_000_000
}

/// Task files in `dir` whose names `parse` accepts: regular files only (the type comes with
/// the listing; nothing is followed or opened).
fn count_files(dir: &Path, parse: fn(&str) -> Option<u64>) -> u64 {
    std::fs::read_dir(dir).map_or(0, |es| {
        es.flatten()
            .filter(|e| e.file_name().to_str().and_then(parse).is_some())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .count() as u64
    })
}

/// True if nobody holds the claim directory's lock (its worker is dead). Takes the lock for an
/// instant only.
fn claim_dir_is_dead(dir: &Path) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(f) = crate::file::queue::open_dir_nofollow(dir) else {
        return false;
    };
    // SAFETY: f's fd is valid for the call; the lock is released when f is closed.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// How long the longest-waiting inbox task has been due: since it arrived (mtime) or came due
/// (`not_before`), whichever is later. Not the lowest sequence: a retried task keeps its
/// sequence but arrives anew. Files are visited oldest mtime first, and only until no later one
/// can have been due longer (a task's due time is never before its mtime), so usually one is
/// read. Symlinks and other non-regular files are skipped.
fn oldest_due(l: &Listener, now: u64) -> Option<u64> {
    let dir = l.state_dir(State::Inbox);
    let mut files: Vec<(u64, u64)> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let seq = e.file_name().to_str().and_then(parse_task_file_name)?;
            // DirEntry::metadata does not follow a symlink.
            let m = e.metadata().ok().filter(|m| m.file_type().is_file())?;
            let mtime = m
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_millis() as u64;
            Some((mtime, seq))
        })
        .collect();
    files.sort_unstable();
    let mut due: Option<u64> = None;
    for (mtime, seq) in files {
        if due.is_some_and(|d| mtime >= d) {
            break;
        }
        let path = l.inbox_file(seq);
        // Not followed, not blocking: an entry swapped for a link or FIFO is not read.
        let not_before = match crate::file::durability::open_regular(&path) {
            Ok(crate::file::durability::Entry::File(mut f, _)) => {
                use std::io::Read;
                let mut b = Vec::new();
                f.read_to_end(&mut b)
                    .ok()
                    .and_then(|_| TaskDoc::parse(&b, &path).ok())
                    .and_then(|d| d.not_before())
                    .unwrap_or(0)
            }
            _ => continue,
        };
        let d = mtime.max(not_before);
        due = Some(due.map_or(d, |best| best.min(d)));
    }
    due.map(|d| now.saturating_sub(d))
}

/// The counts of one listener's directories (`ls` is the truth).
fn listener_status(l: &Listener, now: u64) -> ListenerStatus {
    let mut r = ListenerStatus {
        event_type: l.event_type().clone(),
        name: l.name().clone(),
        inbox: count_files(&l.state_dir(State::Inbox), parse_task_file_name),
        delayed: count_files(&l.state_dir(State::Delayed), |n| {
            parse_delayed_file_name(n).map(|(_, s)| s)
        }),
        claimed: 0,
        live_workers: 0,
        dead_workers: 0,
        error: count_files(&l.state_dir(State::Error), parse_final_file_name),
        archive: count_files(&l.state_dir(State::Archive), parse_final_file_name),
        oldest_due_ms: oldest_due(l, now),
    };
    if let Ok(workers) = std::fs::read_dir(l.state_dir(State::Claimed)) {
        for w in workers.flatten() {
            if !w.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            r.claimed += count_files(&w.path(), |n| {
                crate::file::layout::parse_claimed_file_name(n).map(|(s, _)| s)
            });
            if claim_dir_is_dead(&w.path()) {
                r.dead_workers += 1;
            } else {
                r.live_workers += 1;
            }
        }
    }
    r
}

/// A listener's queue on the file backend.
#[derive(Debug)]
pub struct FileListenerQueue {
    event_type: EventType,
    name: HandlerName,
    queue: Queue,
}

impl FileListenerQueue {
    /// The underlying [`Queue`].
    pub fn queue(&self) -> &Queue {
        &self.queue
    }
}

impl ListenerQueue for FileListenerQueue {
    fn event_type(&self) -> &EventType {
        &self.event_type
    }

    fn name(&self) -> &HandlerName {
        &self.name
    }

    fn handle_once(&mut self, handler: &mut dyn Handler) -> Result<RunStats> {
        handle_once(&mut self.queue, handler)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl<'h> WorkerLoop<'h> for Worker<'h> {
    fn add(&mut self, queue: Box<dyn ListenerQueue>, handler: Box<dyn Handler + 'h>) -> Result<()> {
        let q = queue
            .into_any()
            .downcast::<FileListenerQueue>()
            .map_err(|_| foreign_queue("file"))?;
        Worker::add(self, q.queue, handler);
        Ok(())
    }

    fn stop_handle(&self) -> StopHandle {
        Worker::stop_handle(self)
    }

    fn verbosity(&self) -> Arc<AtomicU8> {
        Worker::verbosity(self)
    }

    fn set_memory_probe(&mut self, probe: Box<dyn FnMut() -> u64 + 'h>) {
        Worker::set_memory_probe(self, probe)
    }

    fn run(&mut self, options: &WorkerOptions) -> Result<RunStats> {
        Worker::run(self, options)
    }
}
