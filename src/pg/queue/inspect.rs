//! A listener's queue on PostgreSQL as the admin calls see it: what is delayed, failed, due
//! next, the counts of every listener (`status`) and the archive purge.

use super::Queue;
use crate::error::{Error, Result};
use crate::pg::{db, LOCK_CLASS};
use postgres::Client;
use serde_json::Value;
use std::time::Duration;

/// One listener's counts, for `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgStatusRow {
    /// Event type (`""` for the root).
    pub event_type: String,
    /// Handler name.
    pub handler_name: String,
    /// Due and unclaimed.
    pub inbox: u64,
    /// Not yet due.
    pub delayed: u64,
    /// Being run.
    pub claimed: u64,
    /// Succeeded (archive kept).
    pub archive: u64,
    /// Failed for good.
    pub error: u64,
    /// Workers holding claims that are alive.
    pub live_workers: u64,
    /// Workers holding claims that are dead (recovered at the next recovery of any worker).
    pub dead_workers: u64,
    /// How long the next due task has been due (ms), if any.
    pub oldest_due_ms: Option<u64>,
}

impl Queue {
    /// The earliest future due time of this listener's inbox (ms since the epoch), if any.
    pub fn next_due(&mut self) -> Result<Option<u64>> {
        let row = self
            .client
            .query_one(
                "SELECT (extract(epoch FROM min(due)) * 1000)::int8 FROM hurah.tasks \
                 WHERE listener_id = $1 AND state = 'inbox' AND due > clock_timestamp()",
                &[&self.listener_id],
            )
            .map_err(db("next due"))?;
        Ok(row.get::<_, Option<i64>>(0).map(|v| v.max(0) as u64))
    }

    /// Delayed tasks as `(due_ms, seq)`, earliest first.
    pub fn delayed(&mut self) -> Result<Vec<(u64, u64)>> {
        Ok(self
            .client
            .query(
                "SELECT (extract(epoch FROM due) * 1000)::int8, seq FROM hurah.tasks \
                 WHERE listener_id = $1 AND state = 'inbox' AND due > clock_timestamp() \
                 ORDER BY due, seq",
                &[&self.listener_id],
            )
            .map_err(db("list delayed"))?
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
            .collect())
    }

    /// This listener's failed tasks as `(seq, error, payload text)`, by sequence.
    pub fn failed(&mut self) -> Result<Vec<(u64, Value, String)>> {
        Ok(self
            .client
            .query(
                "SELECT seq, coalesce(error, 'null'::jsonb)::text, payload::text \
                 FROM hurah.tasks WHERE listener_id = $1 AND state = 'error' ORDER BY seq",
                &[&self.listener_id],
            )
            .map_err(db("list failed"))?
            .iter()
            .map(|r| {
                let e: String = r.get(1);
                (
                    r.get::<_, i64>(0) as u64,
                    serde_json::from_str(&e).unwrap_or(Value::Null),
                    r.get::<_, String>(2),
                )
            })
            .collect())
    }

    /// Moves a failed task back to the inbox for another run under its own sequence (error
    /// cleared, attempts and retry_count reset, as `hurah failed retry`).
    pub fn retry_failed(&mut self, seq: u64) -> Result<()> {
        let n = self
            .client
            .execute(
                "UPDATE hurah.tasks SET state = 'inbox', error = NULL, attempts = 0, \
                 retry_count = 0, due = least(due, clock_timestamp()), delayed = false, \
                 updated_at = clock_timestamp() \
                 WHERE listener_id = $1 AND seq = $2 AND state = 'error'",
                &[&self.listener_id, &(seq as i64)],
            )
            .map_err(db("retry failed task"))?;
        if n == 0 {
            return Err(Error::NotFound {
                what: format!("failed task {seq}"),
            });
        }
        let _ = self
            .client
            .execute(&format!("NOTIFY {}", self.channel()), &[]);
        Ok(())
    }

    /// Counts per state for every listener of the database, with the workers holding claims
    /// (live, or dead: their advisory lock is free) and how long the next task has been due.
    pub fn status(client: &mut Client) -> Result<Vec<PgStatusRow>> {
        let rows = client
            .query(
                "SELECT l.event_type, l.handler_name, \
                   count(*) FILTER (WHERE t.state = 'inbox' AND t.due <= clock_timestamp()), \
                   count(*) FILTER (WHERE t.state = 'inbox' AND t.due > clock_timestamp()), \
                   count(*) FILTER (WHERE t.state = 'claimed'), \
                   count(*) FILTER (WHERE t.state = 'archive'), \
                   count(*) FILTER (WHERE t.state = 'error'), \
                   coalesce(array_agg(DISTINCT t.claimed_by) \
                            FILTER (WHERE t.state = 'claimed'), '{}'), \
                   (extract(epoch FROM clock_timestamp() - min(t.due) \
                      FILTER (WHERE t.state = 'inbox' AND t.due <= clock_timestamp())) \
                    * 1000)::int8 \
                 FROM hurah.listeners l LEFT JOIN hurah.tasks t ON t.listener_id = l.id \
                 GROUP BY l.id ORDER BY l.event_type, l.handler_name",
                &[],
            )
            .map_err(db("status"))?;
        let mut keys: Vec<i32> = rows.iter().flat_map(|r| r.get::<_, Vec<i32>>(7)).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut dead = std::collections::HashSet::new();
        for k in keys {
            let free: bool = client
                .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &k])
                .map_err(db("status"))?
                .get(0);
            if free {
                dead.insert(k);
                let _ = client.execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &k]);
            }
        }
        Ok(rows
            .iter()
            .map(|r| {
                let workers: Vec<i32> = r.get(7);
                let d = workers.iter().filter(|k| dead.contains(k)).count() as u64;
                PgStatusRow {
                    event_type: r.get(0),
                    handler_name: r.get(1),
                    inbox: r.get::<_, i64>(2) as u64,
                    delayed: r.get::<_, i64>(3) as u64,
                    claimed: r.get::<_, i64>(4) as u64,
                    archive: r.get::<_, i64>(5) as u64,
                    error: r.get::<_, i64>(6) as u64,
                    live_workers: workers.len() as u64 - d,
                    dead_workers: d,
                    oldest_due_ms: r.get::<_, Option<i64>>(8).map(|v| v.max(0) as u64),
                }
            })
            .collect())
    }

    /// Deletes archived tasks older than `older_than`; returns how many.
    pub fn purge_archive(client: &mut Client, older_than: Duration) -> Result<u64> {
        client
            .execute(
                "DELETE FROM hurah.tasks WHERE state = 'archive' \
                 AND updated_at < clock_timestamp() - make_interval(secs => $1)",
                &[&older_than.as_secs_f64()],
            )
            .map_err(db("purge"))
    }
}
