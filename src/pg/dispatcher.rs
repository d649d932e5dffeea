//! Dispatch on PostgreSQL: one call of `hurah.dispatch_at()` per event, so the fan-out (level,
//! ancestors, root), the per-listener sequences and the NOTIFYs live in one place that
//! applications can also call from their own transactions.

use super::{connect, db, migrate};
use crate::backend::{Cancelled, Delivery, DispatchOptions, ListenerId, Receipt};
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::handler_name::HandlerName;
use postgres::{Client, Statement};
use std::sync::{Arc, Mutex};

/// The dispatcher's connection and its prepared dispatch statement.
struct Conn {
    client: Client,
    dispatch: Option<Statement>,
}

impl Conn {
    /// After an error: is the connection gone (closed, or a FATAL such as "terminating
    /// connection due to administrator command" that closes it)? An SQL error on a live
    /// connection is not retried.
    fn lost(&mut self) -> bool {
        self.client.is_closed()
            || self
                .client
                .is_valid(std::time::Duration::from_secs(2))
                .is_err()
    }

    fn run<T>(&mut self, f: &mut impl FnMut(&mut Client, &Statement) -> Result<T>) -> Result<T> {
        let st = match &self.dispatch {
            Some(st) => st.clone(),
            None => {
                let st = self
                    .client
                    .prepare(DISPATCH_SQL)
                    .map_err(db("dispatch: prepare"))?;
                self.dispatch = Some(st.clone());
                st
            }
        };
        f(&mut self.client, &st)
    }
}

/// Writes tasks into `hurah.tasks`. Cloning shares the connection; calls are serialized on it.
/// A broken connection (server restarted) is reopened on the next call.
#[derive(Clone)]
pub struct PgDispatcher {
    dsn: String,
    client: Arc<Mutex<Conn>>,
}

impl std::fmt::Debug for PgDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgDispatcher")
            .field("dsn", &super::redact(&self.dsn))
            .finish()
    }
}

const DISPATCH_SQL: &str = "SELECT listener_id, event_type, handler_name, sequence, id \
     FROM hurah.dispatch_at($1, $2::text::json, \
          CASE WHEN $3::int8 IS NULL THEN NULL ELSE to_timestamp($3::int8 / 1000.0) END, $4)";

impl PgDispatcher {
    /// Connects to `dsn` and creates or upgrades the schema if needed.
    pub fn new(dsn: &str) -> Result<Self> {
        let mut client = connect(dsn)?;
        migrate(&mut client)?;
        Ok(Self::on(dsn, client))
    }

    /// A dispatcher on `client`, a connection to `dsn` whose schema is up to date.
    pub(crate) fn on(dsn: &str, client: Client) -> Self {
        PgDispatcher {
            dsn: dsn.to_string(),
            client: Arc::new(Mutex::new(Conn {
                client,
                dispatch: None,
            })),
        }
    }

    /// The DSN this dispatcher connects to.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// Runs `f` on the connection. When it fails because the connection was lost (server
    /// restarted, session terminated), `f` is run once more on a fresh connection. If the
    /// lost connection had committed before its reply was lost, the event is then delivered
    /// twice: dispatch is at-least-once across a connection loss, as claims are.
    fn with_client<T>(&self, mut f: impl FnMut(&mut Client, &Statement) -> Result<T>) -> Result<T> {
        let mut guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
        let conn = &mut *guard;
        if conn.client.is_closed() {
            *conn = Conn {
                client: connect(&self.dsn)?,
                dispatch: None,
            };
        }
        let first = conn.run(&mut f);
        match first {
            Err(Error::Database { .. }) if conn.lost() => {
                *conn = Conn {
                    client: connect(&self.dsn)?,
                    dispatch: None,
                };
                conn.run(&mut f)
            }
            other => other,
        }
    }

    /// Dispatches `payload` (JSON text) now.
    pub fn dispatch(&self, event_type: &EventType, payload: &str) -> Result<Receipt> {
        self.dispatch_with(event_type, payload, DispatchOptions::default())
    }

    /// Dispatches `payload` (JSON text) to every listener of `event_type` (its level, each
    /// ancestor, the root) in one transaction: all copies or none.
    pub fn dispatch_with(
        &self,
        event_type: &EventType,
        payload: &str,
        options: DispatchOptions,
    ) -> Result<Receipt> {
        crate::json::validate_payload(payload)?;
        let id = crate::id::new_task_id();
        let not_before = options.not_before_ms.map(|t| t as i64);
        let et = event_type.to_string();
        self.with_client(|c, st| {
            let rows = c
                .query(st, &[&et, &payload, &not_before, &id])
                .map_err(db("dispatch"))?;
            Ok(receipt(id.clone(), rows))
        })
    }

    /// Dispatches many events in one transaction (one commit, one round trip per event):
    /// the batched form for producers that emit in bulk. All or nothing.
    pub fn dispatch_many(&self, events: &[(EventType, String)]) -> Result<Vec<Receipt>> {
        self.dispatch_many_with(events, DispatchOptions::default())
    }

    /// [`PgDispatcher::dispatch_many`] with the same due time for every event. Every payload
    /// is validated before anything is sent.
    pub fn dispatch_many_with(
        &self,
        events: &[(EventType, String)],
        options: DispatchOptions,
    ) -> Result<Vec<Receipt>> {
        for (_, p) in events {
            crate::json::validate_payload(p)?;
        }
        let not_before = options.not_before_ms.map(|t| t as i64);
        self.with_client(|c, stmt| {
            let mut tx = c.transaction().map_err(db("dispatch"))?;
            let mut out = Vec::with_capacity(events.len());
            for (et, payload) in events {
                let id = crate::id::new_task_id();
                let rows = tx
                    .query(stmt, &[&et.to_string(), payload, &not_before, &id])
                    .map_err(db("dispatch"))?;
                out.push(receipt(id, rows));
            }
            tx.commit().map_err(db("dispatch: commit"))?;
            Ok(out)
        })
    }
}

/// Cancels the delayed copies of dispatch `id` (not yet due; delayed retries included) in every
/// listener of the database at `dsn`. Copies already due, running or done are left alone, as
/// the file backend leaves tasks already promoted to `inbox/`.
pub fn cancel_id(dsn: &str, id: &str) -> Result<Cancelled> {
    let mut c = connect(dsn)?;
    migrate(&mut c)?;
    let n = c
        .execute(
            "DELETE FROM hurah.tasks WHERE id = $1 AND state = 'inbox' AND delayed \
             AND due > clock_timestamp()",
            &[&id],
        )
        .map_err(db("cancel"))?;
    Ok(Cancelled {
        cancelled: n,
        too_late: 0,
    })
}

/// The receipt of one dispatch from the rows `hurah.dispatch()` returned (listener id, event
/// type, handler name, sequence): each delivery's location is `hurah.tasks/<listener id>/<seq>`
/// (as `Task::path()`).
fn receipt(id: String, rows: Vec<postgres::Row>) -> Receipt {
    Receipt {
        id,
        deliveries: rows
            .iter()
            .filter_map(|r| {
                let listener_id: i64 = r.get(0);
                let sequence = r.get::<_, i64>(3) as u64;
                Some(Delivery {
                    listener: ListenerId::new(
                        EventType::parse(r.get(1)).ok()?,
                        HandlerName::new(r.get(2)).ok()?,
                    ),
                    sequence,
                    location: format!("hurah.tasks/{listener_id}/{sequence}"),
                })
            })
            .collect(),
    }
}
