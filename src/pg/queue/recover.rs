//! The claims of dead workers on PostgreSQL (their session advisory lock is free): back to the
//! inbox, or to `error` once they spent their attempts; and this worker's own claims that never
//! started. The twin of the file backend's `queue/recover.rs` (docs/ARCHITECTURE.md, recovery).

use super::Queue;
use crate::backend::Recovery;
use crate::clock;
use crate::error::Result;
use crate::pg::{db, LOCK_CLASS};

impl Queue {
    /// Puts this worker's claimed tasks that have not started back in the inbox untouched
    /// (a stop or an error in the middle of a batch).
    pub fn release_unstarted(&mut self) -> Result<u64> {
        self.client
            .execute(
                "UPDATE hurah.tasks SET state = 'inbox', claimed_by = NULL, \
                 updated_at = clock_timestamp() \
                 WHERE listener_id = $1 AND state = 'claimed' AND claimed_by = $2 AND NOT started",
                &[&self.listener_id, &self.worker_key],
            )
            .map_err(db("release claims"))
    }

    /// Returns the claims of dead workers (whose advisory lock can be taken) to the inbox: a
    /// task that had started counts one attempt and goes to `error` ("worker died ...") past
    /// `max_attempts`; one that had not started goes back untouched.
    pub fn recover_dead_workers(&mut self, max_attempts: u64) -> Result<Recovery> {
        let keys: Vec<i32> = self
            .client
            .query(
                "SELECT DISTINCT claimed_by FROM hurah.tasks \
                 WHERE listener_id = $1 AND state = 'claimed' AND claimed_by <> $2",
                &[&self.listener_id, &self.worker_key],
            )
            .map_err(db("recover"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut rec = Recovery::default();
        let at = clock::iso8601(clock::now_ms());
        let limit = max_attempts as i64;
        for key in keys {
            let free: bool = self
                .client
                .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &key])
                .map_err(db("recover"))?
                .get(0);
            if !free {
                continue; // alive
            }
            let result = (|| -> Result<()> {
                let mut tx = self.client.transaction().map_err(db("recover"))?;
                rec.requeued += tx
                    .execute(
                        "UPDATE hurah.tasks SET state = 'inbox', claimed_by = NULL, \
                         updated_at = clock_timestamp() \
                         WHERE listener_id = $1 AND state = 'claimed' AND claimed_by = $2 \
                         AND NOT started",
                        &[&self.listener_id, &key],
                    )
                    .map_err(db("recover"))? as usize;
                let rows = tx
                    .query(
                        "UPDATE hurah.tasks SET attempts = attempts + 1, claimed_by = NULL, \
                         started = false, updated_at = clock_timestamp(), \
                         state = CASE WHEN attempts + 1 > $3::int8 THEN 'error' ELSE 'inbox' END, \
                         error = CASE WHEN attempts + 1 > $3::int8 THEN jsonb_build_object( \
                           'reason', format('worker died while running the task (attempt %s, limit %s)', \
                                            attempts + 1, $3::int8 + 1), \
                           'class', 'WorkerDied', 'at', $4::text, 'attempts', attempts + 1) END \
                         WHERE listener_id = $1 AND state = 'claimed' AND claimed_by = $2 \
                         AND started RETURNING state",
                        &[&self.listener_id, &key, &limit, &at],
                    )
                    .map_err(db("recover"))?;
                for r in rows {
                    if r.get::<_, &str>(0) == "error" {
                        rec.failed += 1;
                    } else {
                        rec.requeued += 1;
                    }
                }
                tx.commit().map_err(db("recover: commit"))
            })();
            let _ = self
                .client
                .execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &key]);
            result?;
        }
        Ok(rec)
    }
}
