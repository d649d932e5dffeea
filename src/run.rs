//! What both backends' workers share (docs/ARCHITECTURE.md, "The seam"): the counts of a run,
//! the worker options, logging through the handler, and the memory probe.

use crate::handler::{Handler, Level};
use crate::outcome::Outcome;
use crate::task::Task;
use std::time::Duration;

/// What a handler made of one task, ready to settle: its outcome, the handler's maximum
/// attempts, and for a RETRY without a delay of its own the handler's backoff.
pub(crate) struct Ran {
    pub(crate) outcome: Outcome,
    pub(crate) max_attempts: u64,
    pub(crate) backoff: Option<Duration>,
}

/// The run step both workers share, once the task is claimed and its start recorded: runs
/// the handler, counts the run, and logs a FAILURE or INVALID outcome. The caller settles it
/// (docs/ARCHITECTURE.md, "How a task flows").
pub(crate) fn run_task(
    handler: &mut dyn Handler,
    verbosity: Level,
    task: &Task,
    stats: &mut RunStats,
) -> Ran {
    let outcome = handler.handle_task(task);
    stats.handled += 1;
    let max_attempts = handler.max_attempts();
    let backoff = match &outcome {
        Outcome::Retry { delay: None } => handler.retry_delay(task.attempt()),
        _ => None,
    };
    log_outcome(handler, verbosity, task.sequence(), &outcome);
    Ran {
        outcome,
        max_attempts,
        backoff,
    }
}

/// Counts of what a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Tasks the handler ran.
    pub handled: u64,
    /// SUCCESS outcomes.
    pub succeeded: u64,
    /// Tasks sent to `error/` (FAILURE, INVALID, exceptions, retries exhausted, corrupt files).
    pub failed: u64,
    /// RETRY outcomes that went back to `inbox/` or `delayed/`.
    pub retried: u64,
    /// Tasks of dead workers put back in `inbox/`.
    pub recovered: u64,
}

impl RunStats {
    pub(crate) fn add(&mut self, o: RunStats) {
        self.handled += o.handled;
        self.succeeded += o.succeeded;
        self.failed += o.failed;
        self.retried += o.retried;
        self.recovered += o.recovered;
    }
}

/// Passes a line to the handler's logger if `level` is within `verbosity`.
pub(crate) fn log(handler: &mut dyn Handler, verbosity: Level, level: Level, msg: &str) {
    if level <= verbosity {
        handler.log(level, msg);
    }
}

/// Logs a FAILURE or INVALID outcome (shared by the file and PostgreSQL workers).
pub(crate) fn log_outcome(
    handler: &mut dyn Handler,
    verbosity: Level,
    seq: u64,
    outcome: &Outcome,
) {
    match outcome {
        Outcome::Failure { reason, class } => log(
            handler,
            verbosity,
            Level::Warning,
            &format!(
                "Task {seq} failed: {reason}{}",
                class
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        ),
        Outcome::Invalid { reason } => log(
            handler,
            verbosity,
            Level::Warning,
            &format!("Task {seq} invalid: {reason}"),
        ),
        _ => {}
    }
}

/// Limits and timers of a long-running worker (either backend's).
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Return after this many tasks.
    pub max_jobs: Option<u64>,
    /// Return after this long (checked between tasks and while idle).
    pub max_time: Option<Duration>,
    /// Return when the memory probe reports more than this many bytes (checked between tasks).
    pub memory_limit: Option<u64>,
    /// Return as soon as nothing is due (delayed tasks not yet due do not count).
    pub stop_when_empty: bool,
    /// Interval of the safety rescan (and dead-worker recovery) while idle.
    pub rescan_interval: Duration,
    /// A corrupt inbox file modified less than this long ago is held back (a legacy writer may
    /// still be writing it in place) before it is judged corrupt.
    pub hold_back: Duration,
    /// PostgreSQL backend: settle each claimed batch in one statement at its end instead of one
    /// per task (see `pg::Worker::set_group_commit`: about twice the throughput;
    /// if the worker dies mid-batch, the batch's finished tasks run again). Ignored on a
    /// directory, where each outcome is one rename anyway.
    pub group_commit: bool,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            max_jobs: None,
            max_time: None,
            memory_limit: None,
            stop_when_empty: false,
            rescan_interval: Duration::from_secs(30),
            hold_back: Duration::from_secs(2),
            group_commit: false,
        }
    }
}

/// Resident set size of this process in bytes (from /proc/self/statm), 0 if unknown.
pub fn resident_memory() -> u64 {
    let page = 4096u64;
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * page)
        .unwrap_or(0)
}
