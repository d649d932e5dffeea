//! [`PgBackend`]: the PostgreSQL implementation of the core's [`Backend`] seam, so adapters
//! given a `postgresql://` root use the same calls as on a directory.

use super::admin::{self, PgSelection, PgTaskRow};
use super::{connect, migrate, redact, PgDispatcher, Queue, Worker};
use crate::backend::{
    foreign_queue, Backend, Cancelled, DispatchOptions, FailedAction, ListenerQueue,
    ListenerStatus, Pick, Purged, Receipt, RunStats, StopHandle, TaskEntry, TaskError, TaskState,
    WorkerLoop, WorkerOptions,
};
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::handler::Handler;
use crate::handler_name::HandlerName;
use crate::task::TaskDoc;
use postgres::Client;
use std::any::Any;
use std::path::Path;
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The PostgreSQL backend on one database URL. [`PgBackend::open`] connects at once (so a
/// refused connection or bad credentials fail there, with the schema created or upgraded) and
/// keeps that connection for the first use that needs one: the dispatch connection, a
/// listener's queue ([`Backend::open_listener`]: a handler holds one connection, not two) or
/// the connection for listing, retrying, deleting and cancelling. The others connect when first
/// needed and reconnect if lost; none is a running handler's queue connection, so these calls
/// work from inside a handler.
#[derive(Debug)]
pub struct PgBackend {
    dsn: String,
    /// The connection [`PgBackend::open`] made, until something takes it.
    spare: Mutex<Option<AdminConn>>,
    /// The dispatch connection (it validates payloads as the file backend does).
    dispatcher: Mutex<Option<PgDispatcher>>,
    admin: Mutex<Option<AdminConn>>,
}

struct AdminConn(Client);

impl std::fmt::Debug for AdminConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminConn")
    }
}

impl PgBackend {
    /// Connects to `dsn` (creating or upgrading the schema if needed).
    pub fn open(dsn: &str) -> Result<PgBackend> {
        let mut c = connect(dsn)?;
        migrate(&mut c)?;
        Ok(PgBackend {
            dsn: dsn.to_string(),
            spare: Mutex::new(Some(AdminConn(c))),
            dispatcher: Mutex::new(None),
            admin: Mutex::new(None),
        })
    }

    /// The connection `open` made if nobody took it yet (and it is still open), else a new
    /// one; either way with the schema up to date.
    fn connection(&self) -> Result<Client> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).take();
        match spare {
            Some(AdminConn(c)) if !c.is_closed() => Ok(c),
            _ => {
                let mut c = connect(&self.dsn)?;
                migrate(&mut c)?;
                Ok(c)
            }
        }
    }

    /// The URL as given.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// The PostgreSQL dispatcher (a handle sharing this backend's dispatch connection).
    pub fn pg(&self) -> Result<PgDispatcher> {
        let mut guard = self.dispatcher.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = guard.as_ref() {
            return Ok(d.clone());
        }
        let d = PgDispatcher::on(&self.dsn, self.connection()?);
        *guard = Some(d.clone());
        Ok(d)
    }

    /// Runs `f` on the admin connection, (re)connecting first if there is none or it dropped.
    fn admin<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut guard = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().map_or(true, |c| c.0.is_closed()) {
            *guard = Some(AdminConn(self.connection()?));
        }
        let c = &mut guard.as_mut().expect("connected above").0;
        let r = f(c);
        if r.is_err() && c.is_closed() {
            *guard = None;
        }
        r
    }

    /// Retry or delete (`op`) failed task `sequence` or all of the listener's; counts into
    /// `done`; NotFound when a given sequence had none.
    fn selection(event_type: &EventType, name: &HandlerName, seq: Option<u64>) -> PgSelection {
        PgSelection {
            listener: Some((event_type.to_string(), name.to_string())),
            seq,
            ..Default::default()
        }
    }

    /// The listener's tasks `sequences`.
    fn picked(event_type: &EventType, name: &HandlerName, sequences: &[u64]) -> PgSelection {
        PgSelection {
            seqs: Some(sequences.to_vec()),
            ..Self::selection(event_type, name, None)
        }
    }

    /// One `each` call per asked sequence (duplicates once): `Ok` if `done` has it, else
    /// [`Error::NotFound`].
    fn report(
        event_type: &EventType,
        name: &HandlerName,
        sequences: &[u64],
        done: &[u64],
        each: &mut dyn FnMut(u64, Result<()>) -> Result<()>,
    ) -> Result<()> {
        let done: std::collections::HashSet<u64> = done.iter().copied().collect();
        let mut seen = std::collections::HashSet::new();
        for &seq in sequences.iter().filter(|s| seen.insert(**s)) {
            each(
                seq,
                if done.contains(&seq) {
                    Ok(())
                } else {
                    Err(Self::not_found(event_type, name, seq))
                },
            )?;
        }
        Ok(())
    }

    fn not_found(event_type: &EventType, name: &HandlerName, seq: u64) -> Error {
        Error::NotFound {
            what: format!("failed task {seq} of {event_type}:{name}"),
        }
    }
}

fn entry(r: PgTaskRow, state: TaskState) -> TaskEntry {
    let location = format!("{}:{}#{}", r.event_type, r.handler_name, r.sequence);
    let doc = TaskDoc::parse(r.task.to_string().as_bytes(), Path::new(&location)).ok();
    let error = r.error.as_ref().map(|e| TaskError {
        reason: e
            .get("reason")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string(),
        class: e.get("class").and_then(|v| v.as_str()).map(str::to_string),
        at: e.get("at").and_then(|v| v.as_str()).map(str::to_string),
    });
    TaskEntry {
        sequence: r.sequence,
        id: Some(r.id),
        // As the file backend: for a failed task, the runs recorded with its error.
        attempts: r
            .error
            .as_ref()
            .and_then(|e| e.get("attempts"))
            .and_then(|a| a.as_u64())
            .unwrap_or(r.attempts),
        due_ms: (state == TaskState::Delayed).then_some(r.due_ms),
        error: if state == TaskState::Failed {
            Some(error.unwrap_or(TaskError {
                reason: String::new(),
                class: None,
                at: None,
            }))
        } else {
            None
        },
        doc,
        location,
        changed_ms: r.changed_ms,
    }
}

impl Backend for PgBackend {
    fn kind(&self) -> &'static str {
        "postgresql"
    }

    fn describe(&self) -> String {
        redact(self.dsn())
    }

    fn dispatch(
        &self,
        event_type: &EventType,
        payload: &str,
        options: DispatchOptions,
    ) -> Result<Receipt> {
        self.pg()?.dispatch_with(event_type, payload, options)
    }

    fn dispatch_many(
        &self,
        events: &[(EventType, String)],
        options: DispatchOptions,
    ) -> Result<Vec<Receipt>> {
        self.pg()?.dispatch_many_with(events, options)
    }

    fn cancel(&self, id: &str) -> Result<Cancelled> {
        let n = self.admin(|c| {
            c.execute(
                "DELETE FROM hurah.tasks WHERE id = $1 AND state = 'inbox' AND delayed \
                 AND due > clock_timestamp()",
                &[&id],
            )
            .map_err(super::db("cancel"))
        })?;
        Ok(Cancelled {
            cancelled: n,
            too_late: 0,
        })
    }

    fn open_listener(
        &self,
        event_type: &EventType,
        name: &HandlerName,
    ) -> Result<Box<dyn ListenerQueue>> {
        Ok(Box::new(Queue::open_on(
            &self.dsn,
            self.connection()?,
            event_type,
            name,
        )?))
    }

    fn worker<'h>(&self) -> Box<dyn WorkerLoop<'h> + 'h> {
        Box::new(Worker::new())
    }

    fn listeners(&self) -> Result<Vec<(EventType, HandlerName)>> {
        let rows = self.admin(|c| {
            c.query(
                "SELECT event_type, handler_name FROM hurah.listeners \
                 ORDER BY event_type, handler_name",
                &[],
            )
            .map_err(super::db("list listeners"))
        })?;
        // Rows written by hand with names the core would refuse are skipped.
        Ok(rows
            .iter()
            .filter_map(|r| {
                let t = EventType::parse(r.get::<_, &str>(0)).ok()?;
                let n = HandlerName::new(r.get::<_, &str>(1)).ok()?;
                Some((t, n))
            })
            .collect())
    }

    fn tasks(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        state: TaskState,
    ) -> Result<Vec<TaskEntry>> {
        let sel = Self::selection(event_type, name, None);
        let rows = self.admin(|c| match state {
            TaskState::Inbox => admin::inbox(c, &sel),
            TaskState::Delayed => admin::delayed(c, &sel),
            TaskState::Failed => admin::failed(c, &sel),
        })?;
        Ok(rows.into_iter().map(|r| entry(r, state)).collect())
    }

    fn failed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        pick: Pick<'_>,
        action: FailedAction,
        each: &mut dyn FnMut(u64, Result<()>) -> Result<()>,
    ) -> Result<()> {
        let op = match action {
            FailedAction::Retry => admin::retry_failed_seqs,
            FailedAction::Delete => admin::delete_failed_seqs,
        };
        match pick {
            Pick::All => {
                let sel = Self::selection(event_type, name, None);
                let acted = self.admin(|c| op(c, &sel))?;
                acted.into_iter().try_for_each(|seq| each(seq, Ok(())))
            }
            Pick::Sequences(sequences) => {
                let sel = Self::picked(event_type, name, sequences);
                let acted = self.admin(|c| op(c, &sel))?;
                Self::report(event_type, name, sequences, &acted, each)
            }
        }
    }

    fn cancel_delayed(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        sequences: &[u64],
    ) -> Result<Cancelled> {
        let sel = Self::picked(event_type, name, sequences);
        let n = self.admin(|c| admin::cancel_delayed(c, &sel))?;
        let asked = sequences
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len() as u64;
        Ok(Cancelled {
            cancelled: n,
            too_late: asked.saturating_sub(n),
        })
    }

    fn status(&self) -> Result<Vec<ListenerStatus>> {
        let rows = self.admin(Queue::status)?;
        // Rows written by hand with names the core would refuse are skipped, as in listeners().
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(ListenerStatus {
                    event_type: EventType::parse(&r.event_type).ok()?,
                    name: HandlerName::new(&r.handler_name).ok()?,
                    inbox: r.inbox,
                    delayed: r.delayed,
                    claimed: r.claimed,
                    live_workers: r.live_workers,
                    dead_workers: r.dead_workers,
                    error: r.error,
                    archive: r.archive,
                    oldest_due_ms: r.oldest_due_ms,
                })
            })
            .collect())
    }

    fn purge_archive(
        &self,
        event_type: &EventType,
        name: &HandlerName,
        older_than: Duration,
        dry_run: bool,
    ) -> Result<Purged> {
        let sel = PgSelection {
            older_than: Some(older_than),
            ..Self::selection(event_type, name, None)
        };
        let (purged, kept) = self.admin(|c| admin::purge_archive(c, &sel, dry_run))?;
        Ok(Purged { purged, kept })
    }
}

impl ListenerQueue for Queue {
    fn event_type(&self) -> &EventType {
        Queue::event_type(self)
    }

    fn name(&self) -> &HandlerName {
        Queue::name(self)
    }

    fn handle_once(&mut self, handler: &mut dyn Handler) -> Result<RunStats> {
        super::handle_once(self, handler)
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl<'h> WorkerLoop<'h> for Worker<'h> {
    fn add(&mut self, queue: Box<dyn ListenerQueue>, handler: Box<dyn Handler + 'h>) -> Result<()> {
        let q = queue
            .into_any()
            .downcast::<Queue>()
            .map_err(|_| foreign_queue("PostgreSQL"))?;
        Worker::add(self, *q, handler);
        Ok(())
    }

    fn stop_handle(&self) -> StopHandle {
        Worker::stop_handle(self)
    }

    fn verbosity(&self) -> Arc<AtomicU8> {
        Worker::verbosity(self)
    }

    fn set_memory_probe(&mut self, probe: Box<dyn FnMut() -> u64 + 'h>) {
        Worker::set_memory_probe(self, probe);
    }

    fn run(&mut self, options: &WorkerOptions) -> Result<RunStats> {
        Worker::run(self, options)
    }
}
