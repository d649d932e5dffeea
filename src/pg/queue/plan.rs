//! Where an outcome sends a claimed task on PostgreSQL: the same rules as the file backend's
//! `Queue::settle` (docs/ARCHITECTURE.md, "The on-disk protocol", rule 3).

use super::Settled;
use crate::clock;
use crate::outcome::Outcome;
use crate::task::Task;
use serde_json::json;
use std::time::Duration;

/// Where an outcome sends a task: the same rules as the file backend's `Queue::settle`.
pub(super) struct Plan {
    pub(super) state: &'static str,
    pub(super) attempts: u64,
    pub(super) retry_count: u64,
    pub(super) error: Option<String>,
    pub(super) due: Option<u64>,
    pub(super) settled: Settled,
}

pub(super) fn plan(
    task: &Task,
    outcome: &Outcome,
    max_attempts: u64,
    backoff: Option<Duration>,
    now: u64,
) -> Plan {
    let doc = &task.doc;
    let attempts = doc.attempts();
    let retry_count = doc.retry_count();
    let error = |reason: &str, class: Option<&str>, n: u64| {
        Some(
            json!({"reason": reason, "class": class, "at": clock::iso8601(now), "attempts": n})
                .to_string(),
        )
    };
    let failed = |error| Plan {
        state: "error",
        attempts,
        retry_count,
        error,
        due: None,
        settled: Settled::Failed,
    };
    match outcome {
        Outcome::Success => Plan {
            state: "archive",
            attempts,
            retry_count,
            error: None,
            due: None,
            settled: Settled::Archived,
        },
        Outcome::Failure { reason, class } => failed(error(reason, class.as_deref(), attempts + 1)),
        Outcome::Invalid { reason } => failed(error(reason, None, attempts + 1)),
        // Not run at all: back as it was, no attempt spent.
        Outcome::Release { .. } => Plan {
            state: "inbox",
            attempts,
            retry_count,
            error: None,
            due: None,
            settled: Settled::Requeued,
        },
        Outcome::Retry { delay } => {
            let attempts = attempts + 1;
            let retry_count = retry_count + 1;
            if attempts > max_attempts {
                return Plan {
                    state: "error",
                    attempts,
                    retry_count,
                    error: error(
                        &Outcome::retry_limit_reason(max_attempts, task.said_why().as_deref()),
                        None,
                        attempts,
                    ),
                    due: None,
                    settled: Settled::Failed,
                };
            }
            let due = delay
                .or(backoff)
                .filter(|d| !d.is_zero())
                .map(|d| now + d.as_millis() as u64);
            Plan {
                state: "inbox",
                attempts,
                retry_count,
                error: None,
                due,
                settled: match due {
                    Some(d) => Settled::Delayed(d),
                    None => Settled::Requeued,
                },
            }
        }
    }
}
