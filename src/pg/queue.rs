//! One listener's queue on PostgreSQL, seen by a worker: claim in batches with
//! `FOR UPDATE SKIP LOCKED`, settle outcomes exactly like the file backend's `Queue::settle`,
//! and return the claims of dead workers (their advisory lock is free).

mod inspect;
mod plan;
mod recover;

use super::{connect, db, migrate, LOCK_CLASS};
use crate::clock;
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::handler_name::HandlerName;
use crate::outcome::Outcome;
use crate::task::{Task, TaskDoc};
pub use inspect::PgStatusRow;
use plan::{plan, Plan};
use postgres::Client;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// What became of a settled task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// SUCCESS: kept in state `archive`.
    Archived,
    /// SUCCESS with the archive off: the row was deleted.
    Deleted,
    /// In state `error`, the reason stored in `error`.
    Failed,
    /// Back in the inbox, due at once.
    Requeued,
    /// Back in the inbox, due at this time (ms since the epoch).
    Delayed(u64),
    /// The row was no longer this worker's claim (its connection was lost and another worker
    /// recovered the task, which will run again): nothing changed.
    Lost,
}

/// A worker's handle on one listener's queue: its own connection, holding the worker's
/// advisory lock for as long as it is open.
pub struct Queue {
    dsn: String,
    client: Client,
    listener_id: i64,
    event_type: EventType,
    name: HandlerName,
    worker_key: i32,
    keep_archive: bool,
    /// The session's `synchronous_commit` is off (set on the server, database or role).
    async_commit: bool,
    /// Prepared statements of the hot path, per connection (planned once, not per call).
    stmts: std::collections::HashMap<&'static str, postgres::Statement>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("listener_id", &self.listener_id)
            .field("event_type", &self.event_type)
            .field("name", &self.name)
            .field("worker_key", &self.worker_key)
            .finish()
    }
}

/// Claims up to `$3` due rows of listener `$1` for worker `$2`, skipping sequences `$4`. The
/// update joins the locked rows back by `ctid` (a TID scan), never by `(listener, seq)`: a
/// plan cached on a never-analyzed table could otherwise read every row of the listener for
/// each claimed one (seen on a fresh schema until autovacuum's first ANALYZE).
const CLAIM_SQL: &str = "\
WITH c AS (
    SELECT ctid, seq, due FROM hurah.tasks
     WHERE listener_id = $1 AND state = 'inbox' AND due <= statement_timestamp()
       AND NOT (seq = ANY ($4::int8[]))
     ORDER BY due, seq LIMIT $3 FOR UPDATE SKIP LOCKED)
UPDATE hurah.tasks t
   SET state = 'claimed', claimed_by = $2, updated_at = clock_timestamp(), started = false
  FROM c
 WHERE t.ctid = c.ctid
RETURNING t.seq, t.id, t.event, t.payload::text, t.attempts, t.retry_count,
          (extract(epoch FROM t.delivery) * 1000)::int8,
          CASE WHEN t.delayed THEN (extract(epoch FROM t.due) * 1000)::int8 END,
          (extract(epoch FROM t.due) * 1000000)::int8";

/// Settles one claimed row and marks the next one of the batch as started, in one statement.
const SETTLE_SQL: &str = "\
WITH s AS (
    UPDATE hurah.tasks
       SET state = $4, attempts = $5, retry_count = $6, error = $7::text::jsonb,
           due = CASE WHEN $8::int8 IS NULL THEN due ELSE to_timestamp($8::int8 / 1000.0) END,
           delayed = ($8::int8 IS NOT NULL), claimed_by = NULL, started = false,
           updated_at = clock_timestamp()
     WHERE listener_id = $1 AND seq = $2 AND state = 'claimed' AND claimed_by = $3
    RETURNING 1),
n AS (
    UPDATE hurah.tasks SET started = true
     WHERE listener_id = $1 AND seq = $9 AND state = 'claimed' AND claimed_by = $3
    RETURNING 1)
SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM n)";

const DELETE_SQL: &str = "\
WITH s AS (
    DELETE FROM hurah.tasks
     WHERE listener_id = $1 AND seq = $2 AND state = 'claimed' AND claimed_by = $3
    RETURNING 1),
n AS (
    UPDATE hurah.tasks SET started = true
     WHERE listener_id = $1 AND seq = $4 AND state = 'claimed' AND claimed_by = $3
    RETURNING 1)
SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM n)";

const MARK_SQL: &str = "UPDATE hurah.tasks SET started = (seq = $2) \
     WHERE listener_id = $1 AND seq IN ($2, $3) AND state = 'claimed' AND claimed_by = $4";

const SETTLE_MANY_SQL: &str = "WITH v AS (
   SELECT * FROM unnest($3::int8[], $4::text[], $5::int4[], $6::int4[],
                        $7::text[], $8::int8[])
       AS v(seq, state, attempts, retry_count, error, due)),
 u AS (
   UPDATE hurah.tasks t
      SET state = v.state, attempts = v.attempts, retry_count = v.retry_count,
          error = v.error::jsonb,
          due = CASE WHEN v.due IS NULL THEN t.due
                     ELSE to_timestamp(v.due / 1000.0) END,
          delayed = (v.due IS NOT NULL), claimed_by = NULL, started = false,
          updated_at = clock_timestamp()
     FROM v
    WHERE t.listener_id = $1 AND t.seq = v.seq AND t.state = 'claimed'
      AND t.claimed_by = $2
   RETURNING t.seq),
 d AS (
   DELETE FROM hurah.tasks
    WHERE listener_id = $1 AND seq = ANY ($9::int8[]) AND state = 'claimed'
      AND claimed_by = $2
   RETURNING seq)
 SELECT seq FROM u UNION ALL SELECT seq FROM d";

impl Queue {
    /// Connects, creates or upgrades the schema if needed, registers the listener of handler
    /// `name` on `event_type` (so dispatches reach it from now on) and takes this worker's
    /// advisory lock.
    pub fn open(dsn: &str, event_type: &EventType, name: &HandlerName) -> Result<Self> {
        let mut client = connect(dsn)?;
        migrate(&mut client)?;
        Self::open_on(dsn, client, event_type, name)
    }

    /// [`Queue::open`] on `client`, a fresh connection to `dsn` whose schema is up to date.
    pub(crate) fn open_on(
        dsn: &str,
        mut client: Client,
        event_type: &EventType,
        name: &HandlerName,
    ) -> Result<Self> {
        let listener_id: i64 = client
            .query_one(
                "SELECT hurah.register($1, $2)",
                &[&event_type.to_string(), &name.as_str()],
            )
            .map_err(db("register listener"))?
            .get(0);
        let worker_key = take_worker_lock(&mut client)?;
        let async_commit = async_commit(&mut client)?;
        Ok(Queue {
            dsn: dsn.to_string(),
            client,
            listener_id,
            event_type: event_type.clone(),
            name: name.clone(),
            worker_key,
            keep_archive: true,
            async_commit,
            stmts: Default::default(),
        })
    }

    /// The prepared form of `sql` on this connection.
    fn stmt(&mut self, sql: &'static str) -> Result<postgres::Statement> {
        if let Some(st) = self.stmts.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql).map_err(db("prepare"))?;
        self.stmts.insert(sql, st.clone());
        Ok(st)
    }

    /// Keep succeeded tasks in state `archive` (default) or delete them at once.
    pub fn set_keep_archive(&mut self, keep: bool) -> &mut Self {
        self.keep_archive = keep;
        self
    }

    /// The listener's id in `hurah.listeners` (its NOTIFY channel is `hurah_<id>`).
    pub fn listener_id(&self) -> i64 {
        self.listener_id
    }

    /// The NOTIFY channel dispatches to this listener signal.
    pub fn channel(&self) -> String {
        format!("hurah_{}", self.listener_id)
    }

    /// The listener's event type.
    pub fn event_type(&self) -> &EventType {
        &self.event_type
    }

    /// The listener's handler name.
    pub fn name(&self) -> &HandlerName {
        &self.name
    }

    /// This worker's key: the advisory lock `(0x68757261, key)` it holds and the `claimed_by`
    /// of its claims.
    pub fn worker_key(&self) -> i32 {
        self.worker_key
    }

    /// The DSN.
    pub fn dsn(&self) -> &str {
        &self.dsn
    }

    /// The connection (for tests and tools).
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// True when the connection is known to be gone (server restarted, network cut).
    pub fn is_broken(&self) -> bool {
        self.client.is_closed()
    }

    /// After an error: true if the connection is gone, checking with a round trip when it
    /// is not known yet (a FATAL error arrives before the connection is marked closed).
    pub fn is_lost(&mut self) -> bool {
        self.client.is_closed() || self.client.is_valid(Duration::from_secs(2)).is_err()
    }

    /// Opens a new connection with a new worker key. Claims made under the old key are
    /// returned by recovery (ours included: the old lock died with the old connection).
    pub fn reconnect(&mut self) -> Result<()> {
        let mut client = connect(&self.dsn)?;
        self.worker_key = take_worker_lock(&mut client)?;
        self.async_commit = async_commit(&mut client)?;
        self.client = client;
        self.stmts.clear();
        Ok(())
    }

    /// Claims up to `max` due tasks, in run order (due time, then sequence), skipping rows
    /// other workers hold and the sequences in `skip`. None is marked started: the worker marks
    /// each right before its handler is entered ([`Queue::mark_started`], or the previous
    /// task's [`Queue::settle`]), so a worker that dies before that spends no attempt.
    pub fn claim(&mut self, max: usize, skip: &[i64]) -> Result<Vec<Task>> {
        let st = self.stmt(CLAIM_SQL)?;
        let rows = self
            .client
            .query(
                &st,
                &[&self.listener_id, &self.worker_key, &(max as i64), &skip],
            )
            .map_err(db("claim"))?;
        let mut out: Vec<(i64, i64, Task)> = Vec::with_capacity(rows.len());
        for r in rows {
            let seq: i64 = r.get(0);
            let id: String = r.get(1);
            let event: String = r.get(2);
            let payload: String = r.get(3);
            let attempts: i32 = r.get(4);
            let retry_count: i32 = r.get(5);
            let delivery: i64 = r.get(6);
            let not_before: Option<i64> = r.get(7);
            let due: i64 = r.get(8); // µs: the claim's own order
            let mut s = String::with_capacity(payload.len() + 200);
            s.push_str("{\"payload\":");
            s.push_str(&payload);
            s.push_str(&format!(
                ",\"sequence\":{seq},\"count\":{seq},\"delivery\":\"{}\"",
                clock::iso8601(delivery.max(0) as u64)
            ));
            if retry_count > 0 {
                s.push_str(&format!(",\"retry_count\":{retry_count}"));
            }
            s.push_str(&format!(
                ",\"event\":{},\"id\":{}",
                Value::String(event),
                Value::String(id)
            ));
            if attempts > 0 {
                s.push_str(&format!(",\"attempts\":{attempts}"));
            }
            if let Some(nb) = not_before {
                s.push_str(&format!(",\"not_before\":{nb}"));
            }
            s.push('}');
            let path = PathBuf::from(format!("hurah.tasks/{}/{seq}", self.listener_id));
            let doc = match TaskDoc::parse(s.as_bytes(), &path) {
                Ok(doc) => doc,
                Err(e) => {
                    // Valid for PostgreSQL's json type but not for the task reader (a number
                    // out of range, nesting too deep), e.g. from hurah.dispatch() in SQL:
                    // to error with the reason, as the file backend does with corrupt files.
                    self.fail_corrupt(seq, &e.to_string())?;
                    continue;
                }
            };
            out.push((
                due,
                seq,
                Task {
                    doc,
                    seq: seq as u64,
                    path,
                    event_type: self.event_type.clone(),
                    said: Default::default(),
                },
            ));
        }
        out.sort_by_key(|(due, seq, _)| (*due, *seq));
        Ok(out.into_iter().map(|(_, _, t)| t).collect())
    }

    fn fail_corrupt(&mut self, seq: i64, reason: &str) -> Result<()> {
        let err = json!({"reason": reason, "class": "CorruptTask",
                         "at": clock::iso8601(clock::now_ms()), "attempts": 1})
        .to_string();
        self.client
            .execute(
                "UPDATE hurah.tasks SET state = 'error', error = $4::text::jsonb, \
                 claimed_by = NULL, started = false, updated_at = clock_timestamp() \
                 WHERE listener_id = $1 AND seq = $2 AND claimed_by = $3 AND state = 'claimed'",
                &[&self.listener_id, &seq, &self.worker_key, &err],
            )
            .map_err(db("settle corrupt task"))?;
        Ok(())
    }

    /// Moves a claimed task to where its outcome sends it, like the file backend's
    /// `Queue::settle`; `next` (the following task of the batch) is marked started in the same
    /// statement.
    pub fn settle(
        &mut self,
        task: &Task,
        outcome: &Outcome,
        max_attempts: u64,
        backoff: Option<Duration>,
        next: Option<u64>,
    ) -> Result<Settled> {
        let seq = task.seq as i64;
        let next = next.map(|n| n as i64).unwrap_or(-1);
        if matches!(outcome, Outcome::Success) && !self.keep_archive {
            let st = self.stmt(DELETE_SQL)?;
            let row = self
                .client
                .query_one(&st, &[&self.listener_id, &seq, &self.worker_key, &next])
                .map_err(db("settle"))?;
            return Ok(if row.get::<_, i64>(0) == 1 {
                Settled::Deleted
            } else {
                Settled::Lost
            });
        }
        let Plan {
            state,
            attempts,
            retry_count,
            error: err,
            due,
            settled,
        } = plan(task, outcome, max_attempts, backoff, clock::now_ms());
        let due = due.map(|d| d as i64);
        let st = self.stmt(SETTLE_SQL)?;
        let row = self
            .client
            .query_one(
                &st,
                &[
                    &self.listener_id,
                    &seq,
                    &self.worker_key,
                    &state,
                    &(attempts as i32),
                    &(retry_count as i32),
                    &err,
                    &due,
                    &next,
                ],
            )
            .map_err(db("settle"))?;
        Ok(if row.get::<_, i64>(0) == 1 {
            settled
        } else {
            Settled::Lost
        })
    }

    /// Marks a claimed task as started before its handler runs, and `prev` (the task that
    /// just finished, not settled yet) as no longer running (group-commit mode, where settles
    /// do not carry the mark). One round trip; its commit does not wait for the WAL flush
    /// (`synchronous_commit = off` for this transaction only): the mark only has to outlive
    /// this worker, not the server.
    pub fn mark_started(&mut self, prev: Option<u64>, seq: u64) -> Result<()> {
        let prev = prev.map(|p| p as i64).unwrap_or(-1);
        if self.async_commit {
            // The session's commits do not wait for the flush anyway: one prepared statement.
            let st = self.stmt(MARK_SQL)?;
            self.client
                .execute(
                    &st,
                    &[&self.listener_id, &(seq as i64), &prev, &self.worker_key],
                )
                .map_err(db("mark started"))?;
            return Ok(());
        }
        self.client
            .batch_execute(&format!(
                "BEGIN; SET LOCAL synchronous_commit = off; \
                 UPDATE hurah.tasks SET started = (seq = {seq}) WHERE listener_id = {} \
                 AND seq IN ({prev}, {seq}) AND state = 'claimed' AND claimed_by = {}; COMMIT",
                self.listener_id, self.worker_key
            ))
            .map_err(db("mark started"))
    }

    /// Settles several claimed tasks in one statement (one commit): the group-commit form of
    /// [`Queue::settle`], same outcomes. `items` are `(task, outcome, max_attempts,
    /// backoff)`; the result is in the same order.
    pub fn settle_many(
        &mut self,
        items: &[(&Task, &Outcome, u64, Option<Duration>)],
    ) -> Result<Vec<Settled>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let now = clock::now_ms();
        let mut seqs = Vec::with_capacity(items.len());
        let mut states = Vec::with_capacity(items.len());
        let mut attempts_v = Vec::with_capacity(items.len());
        let mut retries_v = Vec::with_capacity(items.len());
        let mut errors = Vec::with_capacity(items.len());
        let mut dues = Vec::with_capacity(items.len());
        let mut deletes = Vec::new();
        let mut results = Vec::with_capacity(items.len());
        for (task, outcome, max, backoff) in items {
            let seq = task.seq as i64;
            if matches!(outcome, Outcome::Success) && !self.keep_archive {
                deletes.push(seq);
                results.push((seq, Settled::Deleted));
                continue;
            }
            let p = plan(task, outcome, *max, *backoff, now);
            seqs.push(seq);
            states.push(p.state);
            attempts_v.push(p.attempts as i32);
            retries_v.push(p.retry_count as i32);
            errors.push(p.error);
            dues.push(p.due.map(|d| d as i64));
            results.push((seq, p.settled));
        }
        let st = self.stmt(SETTLE_MANY_SQL)?;
        let rows = self
            .client
            .query(
                &st,
                &[
                    &self.listener_id,
                    &self.worker_key,
                    &seqs,
                    &states,
                    &attempts_v,
                    &retries_v,
                    &errors,
                    &dues,
                    &deletes,
                ],
            )
            .map_err(db("settle"))?;
        let done: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
        Ok(results
            .into_iter()
            .map(|(seq, s)| {
                if done.contains(&seq) {
                    s
                } else {
                    Settled::Lost
                }
            })
            .collect())
    }
}

/// Takes a session advisory lock on a fresh random worker key that no leftover claim uses
/// (claims of a dead worker with a recycled key are left for recovery).
fn take_worker_lock(client: &mut Client) -> Result<i32> {
    for _ in 0..64 {
        let key = random_key();
        let row = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2) AND NOT EXISTS ( \
                   SELECT 1 FROM hurah.tasks WHERE state = 'claimed' AND claimed_by = $2)",
                &[&LOCK_CLASS, &key],
            )
            .map_err(db("take worker lock"))?;
        if row.get::<_, bool>(0) {
            return Ok(key);
        }
        let _ = client.execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &key]);
    }
    Err(Error::Database {
        what: "take worker lock".into(),
        reason: "no free worker key after 64 tries".into(),
    })
}

/// True when this session's commits skip the WAL flush (`synchronous_commit = off`).
fn async_commit(client: &mut Client) -> Result<bool> {
    let v: String = client
        .query_one("SELECT current_setting('synchronous_commit')", &[])
        .map_err(db("read synchronous_commit"))?
        .get(0);
    Ok(v == "off")
}

fn random_key() -> i32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(clock::now_ms());
    h.write_u32(std::process::id());
    let k = (h.finish() & 0x7fff_ffff) as i32;
    k.max(1)
}
