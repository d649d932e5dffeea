//! Operations on many tasks at once, for tools (`hurah failed|delayed|purge` on a URL): failed
//! tasks listed with their stored reason, retried or deleted; delayed tasks listed or
//! cancelled; the archive purged. Each is one statement.

use super::db;
use crate::error::Result;
use postgres::types::ToSql;
use postgres::Client;
use serde_json::Value;
use std::time::Duration;

/// Which tasks an operation concerns. Empty: all of them.
#[derive(Clone, Debug, Default)]
pub struct PgSelection {
    /// Only this listener: `(event type, handler name)`.
    pub listener: Option<(String, String)>,
    /// Only the task with this sequence.
    pub seq: Option<u64>,
    /// Only the copies of this dispatch id.
    pub id: Option<String>,
    /// Only tasks that entered their state longer ago than this.
    pub older_than: Option<Duration>,
    /// Only the tasks with these sequences.
    pub seqs: Option<Vec<u64>>,
}

/// One task row, as tools show it.
#[derive(Clone, Debug)]
pub struct PgTaskRow {
    /// The listener's event type (`""` for the root).
    pub event_type: String,
    /// The listener's handler name.
    pub handler_name: String,
    /// The sequence in the listener.
    pub sequence: u64,
    /// The dispatch id.
    pub id: String,
    /// Unsuccessful runs so far.
    pub attempts: u64,
    /// The stored error object (`{"reason","class","at","attempts"}`), for failed tasks.
    pub error: Option<Value>,
    /// Due time (ms since the epoch).
    pub due_ms: u64,
    /// The task as the handler sees it: payload, sequence, event, id, attempts, error.
    pub task: Value,
    /// When it entered its state (`updated_at`, ms since the epoch).
    pub changed_ms: u64,
}

/// `WHERE` conditions on `t` (tasks) and `l` (listeners) for a selection; parameters $1–$6.
const FILTER: &str = "($1::text IS NULL OR (l.event_type = $1 AND l.handler_name = $2)) \
     AND ($3::int8 IS NULL OR t.seq = $3) AND ($4::text IS NULL OR t.id = $4) \
     AND ($5::float8 IS NULL OR t.updated_at < clock_timestamp() - make_interval(secs => $5)) \
     AND ($6::int8[] IS NULL OR t.seq = ANY($6))";

struct Params {
    et: Option<String>,
    name: Option<String>,
    seq: Option<i64>,
    id: Option<String>,
    older: Option<f64>,
    seqs: Option<Vec<i64>>,
}

impl Params {
    fn of(sel: &PgSelection) -> Params {
        Params {
            et: sel.listener.as_ref().map(|l| l.0.clone()),
            name: sel.listener.as_ref().map(|l| l.1.clone()),
            seq: sel.seq.map(|s| s as i64),
            id: sel.id.clone(),
            older: sel.older_than.map(|d| d.as_secs_f64()),
            seqs: sel
                .seqs
                .as_ref()
                .map(|v| v.iter().map(|s| *s as i64).collect()),
        }
    }
    fn refs(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.et,
            &self.name,
            &self.seq,
            &self.id,
            &self.older,
            &self.seqs,
        ]
    }
}

fn rows(client: &mut Client, state_cond: &str, sel: &PgSelection) -> Result<Vec<PgTaskRow>> {
    let p = Params::of(sel);
    let sql = format!(
        "SELECT l.event_type, l.handler_name, t.seq, t.id, t.attempts, t.error::text, \
           (extract(epoch FROM t.due) * 1000)::int8, \
           json_build_object('payload', t.payload, 'sequence', t.seq, 'count', t.seq, \
             'delivery', to_char(t.delivery AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"'), \
             'retry_count', t.retry_count, 'event', t.event, 'id', t.id, \
             'attempts', t.attempts, 'error', t.error, 'not_before', \
             CASE WHEN t.delayed THEN (extract(epoch FROM t.due) * 1000)::int8 END)::text, \
           (extract(epoch FROM t.updated_at) * 1000)::int8 \
         FROM hurah.tasks t JOIN hurah.listeners l ON l.id = t.listener_id \
         WHERE {state_cond} AND {FILTER} \
         ORDER BY l.event_type, l.handler_name, t.due, t.seq"
    );
    Ok(client
        .query(&sql, &p.refs())
        .map_err(db("list tasks"))?
        .iter()
        .map(|r| PgTaskRow {
            event_type: r.get(0),
            handler_name: r.get(1),
            sequence: r.get::<_, i64>(2) as u64,
            id: r.get(3),
            attempts: r.get::<_, i32>(4) as u64,
            error: r
                .get::<_, Option<String>>(5)
                .and_then(|e| serde_json::from_str(&e).ok()),
            due_ms: r.get::<_, i64>(6).max(0) as u64,
            task: {
                let mut task: Value =
                    serde_json::from_str(r.get::<_, &str>(7)).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut task {
                    m.retain(|k, v| !(v.is_null() && (k == "error" || k == "not_before")));
                }
                task
            },
            changed_ms: r.get::<_, i64>(8).max(0) as u64,
        })
        .collect())
}

/// Failed tasks (state `error`) matching `sel`, by listener then sequence.
pub fn failed(client: &mut Client, sel: &PgSelection) -> Result<Vec<PgTaskRow>> {
    rows(client, "t.state = 'error'", sel)
}

/// Moves the failed tasks matching `sel` back to the inbox (attempts and retry_count reset,
/// error cleared, due at once under their own sequence) and wakes their workers. Returns how
/// many.
pub fn retry_failed(client: &mut Client, sel: &PgSelection) -> Result<u64> {
    Ok(retry_failed_seqs(client, sel)?.len() as u64)
}

/// [`retry_failed`], returning the sequences moved.
pub fn retry_failed_seqs(client: &mut Client, sel: &PgSelection) -> Result<Vec<u64>> {
    let p = Params::of(sel);
    let sql = format!(
        "WITH u AS (
           UPDATE hurah.tasks t SET state = 'inbox', error = NULL, attempts = 0, retry_count = 0,
                  due = least(t.due, clock_timestamp()), delayed = false,
                  updated_at = clock_timestamp()
             FROM hurah.listeners l
            WHERE l.id = t.listener_id AND t.state = 'error' AND {FILTER}
           RETURNING t.listener_id, t.seq),
         n AS (SELECT pg_notify('hurah_' || listener_id, '') FROM (SELECT DISTINCT listener_id FROM u) x)
         SELECT (SELECT coalesce(array_agg(seq), '{{}}') FROM u), (SELECT count(*) FROM n)"
    );
    let row = client
        .query_one(&sql, &p.refs())
        .map_err(db("retry failed tasks"))?;
    Ok(seqs(row.get(0)))
}

/// Deletes the failed tasks matching `sel`. Returns how many.
pub fn delete_failed(client: &mut Client, sel: &PgSelection) -> Result<u64> {
    delete_where(client, "t.state = 'error'", sel, "delete failed tasks")
}

/// [`delete_failed`], returning the sequences deleted.
pub fn delete_failed_seqs(client: &mut Client, sel: &PgSelection) -> Result<Vec<u64>> {
    let p = Params::of(sel);
    let rows = client
        .query(
            &format!(
                "DELETE FROM hurah.tasks t USING hurah.listeners l \
                 WHERE l.id = t.listener_id AND t.state = 'error' AND {FILTER} RETURNING t.seq"
            ),
            &p.refs(),
        )
        .map_err(db("delete failed tasks"))?;
    Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
}

fn seqs(v: Vec<i64>) -> Vec<u64> {
    v.into_iter().map(|s| s as u64).collect()
}

/// Due, unclaimed tasks matching `sel`, in run order per listener (read without claiming).
pub fn inbox(client: &mut Client, sel: &PgSelection) -> Result<Vec<PgTaskRow>> {
    rows(
        client,
        "t.state = 'inbox' AND t.due <= clock_timestamp()",
        sel,
    )
}

/// Delayed tasks (in the inbox, not due yet) matching `sel`, earliest first per listener.
pub fn delayed(client: &mut Client, sel: &PgSelection) -> Result<Vec<PgTaskRow>> {
    rows(
        client,
        "t.state = 'inbox' AND t.due > clock_timestamp()",
        sel,
    )
}

/// Cancels (deletes) the delayed tasks matching `sel` before they come due. Returns how many.
pub fn cancel_delayed(client: &mut Client, sel: &PgSelection) -> Result<u64> {
    delete_where(
        client,
        "t.state = 'inbox' AND t.delayed AND t.due > clock_timestamp()",
        sel,
        "cancel delayed tasks",
    )
}

/// Deletes archived tasks matching `sel` (use `older_than`); `dry_run` only counts. Returns
/// `(matched, kept)`: kept = archived tasks of the selected listeners not matched.
pub fn purge_archive(client: &mut Client, sel: &PgSelection, dry_run: bool) -> Result<(u64, u64)> {
    let p = Params::of(sel);
    let all = PgSelection {
        listener: sel.listener.clone(),
        ..Default::default()
    };
    let pa = Params::of(&all);
    let total: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM hurah.tasks t JOIN hurah.listeners l ON l.id = t.listener_id \
                 WHERE t.state = 'archive' AND {FILTER}"
            ),
            &pa.refs(),
        )
        .map_err(db("purge"))?
        .get(0);
    let matched = if dry_run {
        client
            .query_one(
                &format!(
                    "SELECT count(*) FROM hurah.tasks t \
                     JOIN hurah.listeners l ON l.id = t.listener_id \
                     WHERE t.state = 'archive' AND {FILTER}"
                ),
                &p.refs(),
            )
            .map_err(db("purge"))?
            .get::<_, i64>(0) as u64
    } else {
        delete_where(client, "t.state = 'archive'", sel, "purge")?
    };
    Ok((matched, (total as u64).saturating_sub(matched)))
}

fn delete_where(
    client: &mut Client,
    state_cond: &str,
    sel: &PgSelection,
    what: &'static str,
) -> Result<u64> {
    let p = Params::of(sel);
    client
        .execute(
            &format!(
                "DELETE FROM hurah.tasks t USING hurah.listeners l \
                 WHERE l.id = t.listener_id AND {state_cond} AND {FILTER}"
            ),
            &p.refs(),
        )
        .map_err(db(what))
}
