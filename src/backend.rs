//! The backend seam: one trait, [`Backend`], that every adapter (PHP, C, CLI) talks to, and
//! the types both implementations share. It names neither backend: the file backend (the
//! `file` module, a directory: the embedded default) and the PostgreSQL backend (the `pg`
//! module, a `postgresql://` URL: several machines sharing one queue) implement it, and
//! [`open`](crate::open::open) picks one from the root the user gave (docs/ARCHITECTURE.md).
//!
//! An adapter never branches on the kind of root: it dispatches ([`Backend::dispatch`]),
//! registers listeners ([`Backend::open_listener`] → a [`ListenerQueue`] whose
//! [`ListenerQueue::handle_once`] is the original `handle()`), runs long-lived workers
//! ([`Backend::worker`] → a [`WorkerLoop`]), cancels delayed tasks and inspects, retries and
//! deletes failed ones, all with the same semantics on both backends
//! (`tests/backend_behaviour.rs` runs one suite against both).
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use hurah::backend::{self, FailedAction, Pick, TaskState};
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
//! b.failed(&ty, &name, Pick::All, FailedAction::Retry, &mut |_, r| r.map(|()| n += 1))
//!     .unwrap();
//! assert_eq!(n, 1);
//! ```

use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::handler::Handler;
use crate::handler_name::HandlerName;
use crate::task::TaskDoc;
use std::any::Any;
use std::fmt::Debug;
use std::sync::atomic::AtomicU8;
use std::sync::Arc;
use std::time::Duration;

/// When task data is forced to stable storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FsyncPolicy {
    /// `fdatasync` every task file and `fsync` its directory before a call returns (default).
    #[default]
    Always,
    /// Leave it to the kernel: for tmpfs, tests and throughput. Files are still never torn.
    Never,
}

impl FsyncPolicy {
    /// Parses `always` or `never`.
    pub fn parse(value: &str) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "always" => Ok(FsyncPolicy::Always),
            "never" => Ok(FsyncPolicy::Never),
            _ => Err(Error::InvalidOption {
                name: "fsync".into(),
                reason: format!("{value:?} is not one of: always, never"),
            }),
        }
    }

    /// The policy named by `HURAH_FSYNC`, or the default when unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var("HURAH_FSYNC") {
            Ok(v) if !v.is_empty() => Self::parse(&v).map_err(|_| Error::InvalidOption {
                name: "HURAH_FSYNC".into(),
                reason: format!("{v:?} is not one of: always, never"),
            }),
            _ => Ok(FsyncPolicy::default()),
        }
    }

    /// The name of the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            FsyncPolicy::Always => "always",
            FsyncPolicy::Never => "never",
        }
    }
}

/// What a cancel of a dispatch id did ([`Backend::cancel`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cancelled {
    /// Delayed copies removed.
    pub cancelled: u64,
    /// Copies that matched but left `delayed/` before they could be removed.
    pub too_late: u64,
}

/// When a dispatched task becomes due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchOptions {
    /// Not before this time (ms since the epoch). `None` or a time in the past: due at once.
    pub not_before_ms: Option<u64>,
}

/// Where one dispatch went.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The dispatch id stored in every copy (`"id"`).
    pub id: String,
    /// One entry per listener reached.
    pub deliveries: Vec<Delivery>,
}

/// One listener's copy of a dispatched task.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The listener.
    pub listener: ListenerId,
    /// Its sequence in that listener.
    pub sequence: u64,
    /// Where the copy is: the published file (`inbox/<seq>.json` or
    /// `delayed/<due>-<seq>.json`), or `hurah.tasks/<listener id>/<seq>` on PostgreSQL.
    pub location: String,
}

/// A listener, as both backends name it: an event type and a handler name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenerId {
    /// The event type it listens on (the root: no segments).
    pub event_type: EventType,
    /// The handler's name.
    pub name: HandlerName,
}

impl ListenerId {
    /// The listener `name` on `event_type`.
    pub fn new(event_type: EventType, name: HandlerName) -> ListenerId {
        ListenerId { event_type, name }
    }

    /// The event type it listens on.
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    /// The handler's name.
    pub fn name(&self) -> &HandlerName {
        &self.name
    }
}

/// What one dead-worker recovery pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Tasks put back in the inbox.
    pub requeued: usize,
    /// Tasks failed for good because they used up their attempts.
    pub failed: usize,
}

pub use crate::open::{is_database_url, open, open_existing};
pub use crate::run::{RunStats, WorkerOptions};
pub use crate::stop::StopHandle;

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
    /// Where it lives: a file path, or `<event type>:<handler>#<seq>` on PostgreSQL.
    pub location: String,
    /// When it entered its current state (ms since the epoch): the file's ctime, or the row's
    /// `updated_at`. What `--older-than` selections compare.
    pub changed_ms: u64,
}

/// Which failed tasks of a listener [`Backend::failed`] acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick<'a> {
    /// Every failed task of the listener.
    All,
    /// These sequences (typically picked from [`Backend::tasks`]); duplicates count once.
    Sequences(&'a [u64]),
}

/// What [`Backend::failed`] does with the failed tasks it picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedAction {
    /// Back to the inbox for another run, attempts reset.
    Retry,
    /// Deleted for good.
    Delete,
}

/// One listener's counts, as [`Backend::status`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerStatus {
    /// The listener's event type.
    pub event_type: EventType,
    /// The handler name.
    pub name: HandlerName,
    /// Due and waiting to be claimed.
    pub inbox: u64,
    /// Waiting for their due time.
    pub delayed: u64,
    /// Claimed by workers (running, or held by a dead worker until the next recovery).
    pub claimed: u64,
    /// Workers holding claims that are alive.
    pub live_workers: u64,
    /// Workers holding claims that are dead (their tasks go back to the inbox at the next
    /// recovery of any worker).
    pub dead_workers: u64,
    /// Failed for good.
    pub error: u64,
    /// Succeeded (archive kept).
    pub archive: u64,
    /// How long the longest-waiting due task of the inbox has been due (an age in ms), if any.
    pub oldest_due_ms: Option<u64>,
}

/// What [`Backend::purge_archive`] did (or, dry, would do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    /// Archived tasks old enough: deleted (or counted, dry).
    pub purged: u64,
    /// Archived tasks younger than the limit, kept.
    pub kept: u64,
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

    /// Dispatches several events (each to its own listeners, as [`Backend::dispatch`]) with
    /// the same due time; returns one receipt per event, in order. Every payload is validated
    /// before anything is written. On PostgreSQL the batch is one transaction: all or nothing.
    /// On a directory each event is published in turn, all or nothing per event: an I/O error
    /// (disk full, ...) stops the batch with the events before it dispatched.
    fn dispatch_many(
        &self,
        events: &[(EventType, String)],
        options: DispatchOptions,
    ) -> Result<Vec<Receipt>>;

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

    /// Retries (back to the inbox, attempts reset) or deletes the listener's failed tasks
    /// `pick`: the one failed-task operation every adapter uses (`hurah failed`, the C ABI,
    /// PHP). `each` gets every task's outcome: `Ok` once per task moved or deleted,
    /// [`Error::NotFound`] for a picked sequence with no failed task (any more), or why that
    /// task could not be acted on (e.g. [`Error::CorruptTask`]: a task stored as corrupt cannot
    /// be retried as it is). `each` returns an error to stop the call there (that error is
    /// returned); `Ok` goes on with the next task. One pass: one directory listing, or one
    /// statement. With [`Pick::All`], a task that vanished meanwhile (another process acted on
    /// it) is not reported.
    fn failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        pick: Pick<'_>,
        action: FailedAction,
        each: &mut dyn FnMut(u64, Result<()>) -> Result<()>,
    ) -> Result<()>;

    /// Cancels the listener's delayed tasks `sequences` before they come due, as
    /// [`Backend::cancel`] does for a dispatch id. A sequence with no delayed task any more
    /// (it came due and runs, or was cancelled by someone else) counts as `too_late`.
    fn cancel_delayed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequences: &[u64],
    ) -> Result<Cancelled>;

    /// Counts of every registered listener, by event type then handler name.
    fn status(&self) -> Result<Vec<ListenerStatus>>;

    /// Deletes the listener's archived (successful) tasks that were archived longer than
    /// `older_than` ago; with `dry_run`, only counts them.
    fn purge_archive(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        older_than: Duration,
        dry_run: bool,
    ) -> Result<Purged>;
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
