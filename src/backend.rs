//! The backend seam: one trait, [`Backend`], that every adapter (PHP, C, CLI) talks to, with
//! two implementations: [`FileBackend`] (a directory: the embedded default) and
//! [`crate::pg::PgBackend`] (a `postgresql://` URL: several machines sharing one queue).
//!
//! [`open`] picks the implementation from the root the user gave, so an adapter never branches
//! on the kind of root: it dispatches ([`Backend::dispatch`]), registers listeners
//! ([`Backend::open_listener`] → a [`ListenerQueue`] whose [`ListenerQueue::handle_once`] is
//! the original `handle()`), runs long-lived workers ([`Backend::worker`] → a [`WorkerLoop`]),
//! cancels delayed tasks and inspects, retries and deletes failed ones, all with the same
//! semantics on both backends (`tests/backend_behaviour.rs` runs one suite against both).
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use hurah::backend::{self, TaskState};
//! use hurah::*;
//! let b = backend::open(dir.path().to_str().unwrap(), FsyncPolicy::Never).unwrap();
//! let (ty, name) = (EventType::parse("product").unwrap(), HandlerName::new("mailer").unwrap());
//! let mut q = b.open_listener(&ty, &name).unwrap();
//! b.dispatch(&EventType::parse("product/created").unwrap(), r#"{"id":1}"#,
//!            DispatchOptions::default()).unwrap();
//! assert_eq!(b.tasks(&ty, &name, TaskState::Inbox).unwrap().len(), 1);
//! let stats = q.handle_once(&mut |_: &Task| Outcome::failure("boom")).unwrap();
//! assert_eq!(stats.failed, 1);
//! let failed = b.tasks(&ty, &name, TaskState::Failed).unwrap();
//! assert_eq!(failed[0].error.as_ref().unwrap().reason, "boom");
//! let mut n = 0;
//! b.retry_failed(&ty, &name, None, &mut n).unwrap();
//! assert_eq!(n, 1);
//! ```

use crate::delayed::{self, Cancelled};
use crate::dispatcher::{DispatchOptions, Dispatcher, Receipt};
use crate::durability::FsyncPolicy;
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::failed::{self, FailedTask};
use crate::handler::Handler;
use crate::handler_name::HandlerName;
use crate::layout::{parse_task_file_name, Layout, Listener, State};
use crate::queue::Queue;
use crate::task::TaskDoc;
use crate::worker::{handle_once, RunStats, StopHandle, Worker, WorkerOptions};
use std::any::Any;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU8;
use std::sync::Arc;

/// Which tasks of a listener [`Backend::tasks`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Due and waiting (`inbox/`), ascending sequence.
    Inbox,
    /// Waiting for their due time (`delayed/`), in due order.
    Delayed,
    /// Failed for good (`error/`), ascending sequence.
    Failed,
}

/// The stored failure of a task in [`TaskState::Failed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskError {
    /// Why it failed (for a corrupt file: why it could not be read).
    pub reason: String,
    /// The exception or error class, if one was recorded.
    pub class: Option<String>,
    /// When it failed (ISO 8601 text as stored), if recorded.
    pub at: Option<String>,
}

/// One task as [`Backend::tasks`] lists it (read without claiming it).
#[derive(Clone, Debug)]
pub struct TaskEntry {
    /// Its sequence in the listener.
    pub sequence: u64,
    /// The dispatch id, if stored.
    pub id: Option<String>,
    /// Unsuccessful runs so far; for a failed task, the runs recorded with its error
    /// (including the one that failed).
    pub attempts: u64,
    /// Due time (ms since the epoch), for delayed tasks.
    pub due_ms: Option<u64>,
    /// The stored failure, for failed tasks.
    pub error: Option<TaskError>,
    /// The task document; `None` for a failed file stored as corrupt.
    pub doc: Option<TaskDoc>,
    /// Where it lives: a file path, or `hurah.tasks/<listener id>/<seq>` on PostgreSQL.
    pub location: PathBuf,
}

/// A queue backend: where a root's listeners and tasks live. Object safe; adapters hold a
/// `Box<dyn Backend>` from [`open`]. Methods take `&self` and are safe to call from several
/// threads: a database backend uses short-lived connections of its own for them, so they may
/// be called from inside a running handler.
pub trait Backend: Send + Sync + Debug {
    /// `"files"` or `"postgresql"`.
    fn kind(&self) -> &'static str;

    /// The root for messages: the directory, or the URL with its password redacted.
    fn describe(&self) -> String;

    /// Dispatches `payload` (JSON text) to every listener of `event_type`, its ancestors and
    /// the root. See [`Dispatcher::dispatch_with`] for the guarantees.
    fn dispatch(
        &self,
        event_type: &EventType,
        payload: &str,
        options: DispatchOptions,
    ) -> Result<Receipt>;

    /// Removes the delayed copies of dispatch `id` that have not come due yet.
    fn cancel(&self, id: &str) -> Result<Cancelled>;

    /// Registers handler `name` on `event_type` (idempotent) and opens its queue.
    fn open_listener(
        &self,
        event_type: &EventType,
        name: &HandlerName,
    ) -> Result<Box<dyn ListenerQueue>>;

    /// An empty long-running worker for listeners of this backend.
    fn worker<'h>(&self) -> Box<dyn WorkerLoop<'h> + 'h>;

    /// Every registered listener, by event type then handler name.
    fn listeners(&self) -> Result<Vec<(EventType, HandlerName)>>;

    /// The listeners a dispatch of `event_type` would reach now: its own level, each ancestor
    /// and the root (order unspecified). The default filters [`Backend::listeners`].
    fn listeners_for(&self, event_type: &EventType) -> Result<Vec<(EventType, HandlerName)>> {
        let levels: Vec<&[String]> = event_type.delivery_levels().collect();
        Ok(self
            .listeners()?
            .into_iter()
            .filter(|(t, _)| levels.contains(&t.segments()))
            .collect())
    }

    /// The tasks of a listener in `state`. Unreadable inbox/delayed files are skipped; failed
    /// files stored as corrupt are listed with `doc: None`.
    fn tasks(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        state: TaskState,
    ) -> Result<Vec<TaskEntry>>;

    /// Moves failed task `sequence` (or, with `None`, every failed task of the listener) back
    /// to the inbox for another run, attempts reset. `done` counts the tasks moved, also when
    /// an error stops the call half-way. [`Error::NotFound`] if `sequence` has no failed task.
    /// With `None`, tasks stored as corrupt are skipped (they cannot run as they are).
    fn retry_failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequence: Option<u64>,
        done: &mut u64,
    ) -> Result<()>;

    /// Deletes failed task `sequence` (or every failed task of the listener). `done` and
    /// errors as [`Backend::retry_failed`].
    fn delete_failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequence: Option<u64>,
        done: &mut u64,
    ) -> Result<()>;
}

/// One listener's queue, as a handler uses it.
pub trait ListenerQueue: Send + Debug {
    /// The listener's event type.
    fn event_type(&self) -> &EventType;

    /// The handler name.
    fn name(&self) -> &HandlerName;

    /// Processes everything due once, in order, then returns (the original `handle()`): due
    /// delayed tasks first (in due order), then the inbox ascending.
    fn handle_once(&mut self, handler: &mut dyn Handler) -> Result<RunStats>;

    /// The concrete queue, for the backend's own [`WorkerLoop::add`].
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// A long-running worker serving one or more listeners of one backend in one thread: it runs
/// what is due, then sleeps until tasks arrive (inotify or LISTEN/NOTIFY), the next delayed
/// task comes due, or the safety rescan.
pub trait WorkerLoop<'h> {
    /// Adds a listener's queue (from [`Backend::open_listener`] of the same backend) and the
    /// handler that runs its tasks. [`Error::InvalidOption`] for a queue of another backend.
    fn add(&mut self, queue: Box<dyn ListenerQueue>, handler: Box<dyn Handler + 'h>) -> Result<()>;

    /// A handle that stops the worker from another thread or a signal forwarder
    /// ([`crate::install_signal_handlers`]).
    fn stop_handle(&self) -> StopHandle;

    /// The shared verbosity (a [`crate::Level`] as u8), adjustable while running.
    fn verbosity(&self) -> Arc<AtomicU8>;

    /// Replaces the probe `memory_limit` is checked against (default: resident set size).
    fn set_memory_probe(&mut self, probe: Box<dyn FnMut() -> u64 + 'h>);

    /// Runs until a limit, a stop request or (with `stop_when_empty`) an empty queue. Nothing
    /// stays claimed when it returns.
    fn run(&mut self, options: &WorkerOptions) -> Result<RunStats>;
}

/// True if `root` names a PostgreSQL database (`postgresql://` or `postgres://`) rather than
/// a directory.
pub fn is_database_url(root: &str) -> bool {
    crate::pg::is_dsn(root)
}

/// The backend a root names: a `postgresql://`/`postgres://` URL opens [`crate::pg::PgBackend`]
/// (connecting, creating or upgrading the schema if needed; `fsync` does not apply: the server's
/// `synchronous_commit` does); anything else is a directory for [`FileBackend`] (created if
/// missing; must be writable).
pub fn open(root: &str, fsync: FsyncPolicy) -> Result<Box<dyn Backend>> {
    if is_database_url(root) {
        return Ok(Box::new(crate::pg::PgBackend::open(root)?));
    }
    if root.is_empty() {
        return Err(Error::InvalidOption {
            name: "root".into(),
            reason: "must not be empty".into(),
        });
    }
    Ok(Box::new(FileBackend::open(root, fsync)?))
}

/// The file backend: a directory tree, one directory per task state (DESIGN.md §2).
#[derive(Clone, Debug)]
pub struct FileBackend {
    dispatcher: Dispatcher,
}

impl FileBackend {
    /// The backend on directory `root`, created if missing. Fails if it cannot be created or
    /// is not writable.
    pub fn open(root: impl AsRef<Path>, fsync: FsyncPolicy) -> Result<FileBackend> {
        Ok(FileBackend {
            dispatcher: Dispatcher::new(root.as_ref(), fsync)?,
        })
    }

    /// The root's layout.
    pub fn layout(&self) -> &Layout {
        self.dispatcher.layout()
    }

    /// The fsync policy.
    pub fn fsync(&self) -> FsyncPolicy {
        self.dispatcher.fsync()
    }

    fn listener(&self, event_type: &EventType, name: &HandlerName) -> Listener {
        self.layout().listener(event_type, name)
    }

    /// The failed files of a listener, narrowed to `sequence`; NotFound if it has none.
    fn failed_files(&self, l: &Listener, sequence: Option<u64>) -> Result<Vec<PathBuf>> {
        let mut files = failed::entries(l)?;
        if let Some(seq) = sequence {
            files.retain(|(s, _)| *s == seq);
            if files.is_empty() {
                return Err(Error::NotFound {
                    what: format!(
                        "failed task {seq} in {}",
                        l.state_dir(State::Error).display()
                    ),
                });
            }
        }
        Ok(files.into_iter().map(|(_, p)| p).collect())
    }
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
        self.dispatcher.dispatch_with(event_type, payload, options)
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
            .dispatcher
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
                let dir = l.state_dir(State::Inbox);
                let mut seqs: Vec<u64> = match std::fs::read_dir(&dir) {
                    Ok(list) => list
                        .flatten()
                        .filter_map(|e| e.file_name().to_str().and_then(parse_task_file_name))
                        .collect(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(Error::io("read directory", &dir, e)),
                };
                seqs.sort_unstable();
                for seq in seqs {
                    let path = l.inbox_file(seq);
                    let Ok(bytes) = std::fs::read(&path) else {
                        continue;
                    };
                    let Ok(doc) = TaskDoc::parse(&bytes, &path) else {
                        continue;
                    };
                    out.push(entry(seq, doc, None, path));
                }
            }
            TaskState::Delayed => {
                for e in delayed::entries(&l)? {
                    let Some(doc) = e.load() else { continue };
                    out.push(entry(e.seq, doc, Some(e.due_ms), e.path.clone()));
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
                        location: path,
                    });
                }
            }
        }
        Ok(out)
    }

    fn retry_failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequence: Option<u64>,
        done: &mut u64,
    ) -> Result<()> {
        let l = self.listener(event_type, name);
        for path in self.failed_files(&l, sequence)? {
            match failed::retry(&l, &path, self.fsync()) {
                Ok(_) => *done += 1,
                Err(Error::NotFound { .. }) => {}
                Err(Error::CorruptTask { .. }) if sequence.is_none() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn delete_failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequence: Option<u64>,
        done: &mut u64,
    ) -> Result<()> {
        let l = self.listener(event_type, name);
        for path in self.failed_files(&l, sequence)? {
            match failed::delete(&l, &path) {
                Ok(()) => *done += 1,
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.fsync().sync_dir(&l.state_dir(State::Error))
    }
}

fn entry(seq: u64, doc: TaskDoc, due_ms: Option<u64>, location: PathBuf) -> TaskEntry {
    TaskEntry {
        sequence: seq,
        id: doc.id().map(str::to_string),
        attempts: doc.attempts(),
        due_ms,
        error: None,
        doc: Some(doc),
        location,
    }
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

/// Error for a queue handed to a worker of another backend.
pub(crate) fn foreign_queue(worker: &str) -> Error {
    Error::InvalidOption {
        name: "handler".into(),
        reason: format!(
            "this listener's root is not on the {worker} backend: handlers on a directory and \
             on PostgreSQL cannot share one worker"
        ),
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
