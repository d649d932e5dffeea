//! Workers on PostgreSQL: [`handle_once`] (the original `handle()`: everything due, once) and
//! [`Worker`], the long-running loop that sleeps on `LISTEN` until tasks arrive, with a
//! precise timer for the next delayed task and a slow safety poll.

use super::queue::{Queue, Settled};
use super::{connect, db};
use crate::clock;
use crate::error::{Error, Result};
use crate::handler::{Handler, Level};
use crate::outcome::Outcome;
use crate::run::{log, run_task, Ran, RunStats, WorkerOptions};
use crate::stop::StopHandle;
use crate::task::Task;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Default claim batch size.
pub const DEFAULT_BATCH: usize = 32;

/// Longest uninterrupted wait, so a stop request is seen within this time while idle.
const STOP_CHECK: Duration = Duration::from_millis(250);

/// Runs one claimed batch in order; settles each task as it finishes (marking the next one
/// started in the same statement). The first is marked started right before its handler
/// (one unflushed round trip per batch), not by the claim: a worker that dies between the
/// claim and the handler spends no attempt. Returns early, releasing the unstarted rest,
/// when `stop` says so between tasks.
fn run_batch(
    queue: &mut Queue,
    handler: &mut dyn Handler,
    batch: Vec<Task>,
    verbosity: Level,
    retried: &mut Vec<i64>,
    stop: &mut dyn FnMut(&RunStats) -> bool,
    stats: &mut RunStats,
) -> Result<()> {
    let n = batch.len();
    for (i, task) in batch.iter().enumerate() {
        if i == 0 {
            crate::fault::point("worker-after-claim");
            queue.mark_started(None, task.sequence())?;
            crate::fault::point("worker-after-start");
        }
        let seq = task.sequence();
        let Ran {
            outcome,
            max_attempts: max,
            backoff,
        } = run_task(handler, verbosity, task, stats);
        let stopping = stop(stats) || handler.stop_requested();
        let next = if stopping {
            None
        } else {
            batch.get(i + 1).map(|t| t.sequence())
        };
        let settled = queue.settle(task, &outcome, max, backoff, next)?;
        count(
            handler, verbosity, seq, &outcome, max, settled, retried, stats,
        );
        if stopping && i + 1 < n {
            queue.release_unstarted()?;
            break;
        }
    }
    Ok(())
}

/// Group-commit form of [`run_batch`]: each task is marked started (one cheap, unflushed
/// round trip) before it runs, and the whole batch is settled in one statement at the end.
/// If the worker dies mid-batch, the tasks that had finished but were not settled yet run
/// again (at-least-once), without an attempt counted; the running one counts its attempt.
fn run_batch_grouped(
    queue: &mut Queue,
    handler: &mut dyn Handler,
    batch: Vec<Task>,
    verbosity: Level,
    stop: &mut dyn FnMut(&RunStats) -> bool,
    stats: &mut RunStats,
) -> Result<()> {
    let n = batch.len();
    let mut done: Vec<(usize, Outcome, u64, Option<Duration>)> = Vec::with_capacity(n);
    let mut stopped = false;
    for (i, task) in batch.iter().enumerate() {
        if i == 0 {
            crate::fault::point("worker-after-claim");
        }
        let prev = i.checked_sub(1).map(|p| batch[p].sequence());
        queue.mark_started(prev, task.sequence())?;
        if i == 0 {
            crate::fault::point("worker-after-start");
        }
        let ran = run_task(handler, verbosity, task, stats);
        done.push((i, ran.outcome, ran.max_attempts, ran.backoff));
        if (stop(stats) || handler.stop_requested()) && i + 1 < n {
            stopped = true;
            break;
        }
    }
    let items: Vec<(&Task, &Outcome, u64, Option<Duration>)> = done
        .iter()
        .map(|(i, o, m, b)| (&batch[*i], o, *m, *b))
        .collect();
    let settled = queue.settle_many(&items)?;
    for ((i, outcome, max, _), s) in done.iter().zip(settled) {
        count(
            handler,
            verbosity,
            batch[*i].sequence(),
            outcome,
            *max,
            s,
            &mut Vec::new(),
            stats,
        );
    }
    if stopped {
        queue.release_unstarted()?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn count(
    handler: &mut dyn Handler,
    verbosity: Level,
    seq: u64,
    outcome: &Outcome,
    max: u64,
    settled: Settled,
    retried: &mut Vec<i64>,
    stats: &mut RunStats,
) {
    match settled {
        Settled::Archived | Settled::Deleted => stats.succeeded += 1,
        Settled::Failed => {
            if matches!(outcome, Outcome::Retry { .. }) {
                log(
                    handler,
                    verbosity,
                    Level::Warning,
                    &format!("Task {seq} hit retry limit which is set to: {max}"),
                );
            }
            stats.failed += 1
        }
        Settled::Requeued => {
            retried.push(seq as i64);
            stats.retried += 1
        }
        Settled::Delayed(_) => stats.retried += 1,
        Settled::Lost => log(
            handler,
            verbosity,
            Level::Warning,
            &format!("Task {seq}: claim lost (connection dropped); it will run again"),
        ),
    }
}

/// Processes every task due in `queue` once, in order, then returns (the original
/// `AbstractHandler::handle()`), claiming in batches of `DEFAULT_BATCH`. Dead workers' claims
/// are recovered first. A RETRY without backoff waits for the next call, as in the file
/// backend.
pub fn handle_once(queue: &mut Queue, handler: &mut dyn Handler) -> Result<RunStats> {
    let verbosity = Level::from_env();
    let mut stats = RunStats::default();
    let rec = queue.recover_dead_workers(handler.max_attempts())?;
    stats.recovered += rec.requeued as u64;
    stats.failed += rec.failed as u64;
    let mut retried = Vec::new();
    loop {
        if handler.stop_requested() {
            break;
        }
        let batch = queue.claim(DEFAULT_BATCH, &retried)?;
        if batch.is_empty() {
            break;
        }
        let r = run_batch(
            queue,
            handler,
            batch,
            verbosity,
            &mut retried,
            &mut |_| false,
            &mut stats,
        );
        if let Err(e) = r {
            let _ = queue.release_unstarted();
            return Err(e);
        }
        if handler.stop_requested() {
            break;
        }
    }
    Ok(stats)
}

/// A long-running worker serving one or more listeners on PostgreSQL in one thread. Each
/// queue has its own connection (holding its worker lock); one more connection `LISTEN`s.
pub struct Worker<'h> {
    entries: Vec<(Queue, Box<dyn Handler + 'h>)>,
    /// Driven by [`Worker::stop_handle`]'s holders and signal forwarding; polled (at least
    /// every 250 ms while idle), so it needs no notifier.
    stop: StopHandle,
    batch: usize,
    group_commit: bool,
    listen: Option<Client>,
    /// A [`Level`] as u8, read at every round: SIGUSR1/SIGUSR2 change it while running.
    verbosity: Arc<AtomicU8>,
    memory_probe: Box<dyn FnMut() -> u64 + 'h>,
}

impl Default for Worker<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'h> Worker<'h> {
    /// An empty worker.
    pub fn new() -> Self {
        Worker {
            entries: Vec::new(),
            stop: StopHandle::new(),
            batch: DEFAULT_BATCH,
            group_commit: false,
            listen: None,
            verbosity: Arc::new(AtomicU8::new(Level::from_env() as u8)),
            memory_probe: Box::new(crate::run::resident_memory),
        }
    }

    /// Adds a listener's queue and the handler that runs its tasks.
    pub fn add(&mut self, queue: Queue, handler: Box<dyn Handler + 'h>) -> &mut Self {
        self.entries.push((queue, handler));
        self
    }

    /// Claim batch size (default 32; 1 claims one task at a time).
    pub fn set_batch(&mut self, batch: usize) -> &mut Self {
        self.batch = batch.max(1);
        self
    }

    /// Group commit (default off): settle each claimed batch in one statement at its end
    /// instead of one statement per task. Much higher throughput; the price: if the worker
    /// dies mid-batch, the tasks of the batch that had already finished run again (no attempt
    /// counted for them). Attempt counting for the task that was running stays exact.
    pub fn set_group_commit(&mut self, on: bool) -> &mut Self {
        self.group_commit = on;
        self
    }

    /// Replaces the memory probe used for `memory_limit` (default: resident set size). The PHP
    /// adapter uses `memory_get_usage()`.
    pub fn set_memory_probe(&mut self, probe: Box<dyn FnMut() -> u64 + 'h>) -> &mut Self {
        self.memory_probe = probe;
        self
    }

    /// Log verbosity (default: `HURAH_LOG_LEVEL`, else info).
    pub fn set_verbosity(&mut self, level: Level) -> &mut Self {
        self.verbosity.store(level as u8, Ordering::SeqCst);
        self
    }

    /// The shared verbosity (a [`Level`] as u8), adjustable while running (signals).
    pub fn verbosity(&self) -> Arc<AtomicU8> {
        Arc::clone(&self.verbosity)
    }

    /// A handle that stops this worker from another thread or a signal forwarder
    /// ([`crate::install_signal_handlers`]).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    fn listen(&mut self) -> Result<()> {
        let Some((q, _)) = self.entries.first() else {
            return Ok(());
        };
        let mut c = connect(q.dsn())?;
        let sql: String = self
            .entries
            .iter()
            .map(|(q, _)| format!("LISTEN {};", q.channel()))
            .collect();
        c.batch_execute(&sql).map_err(db("listen"))?;
        self.listen = Some(c);
        Ok(())
    }

    fn broken(&self) -> bool {
        self.listen.as_ref().map_or(true, |c| c.is_closed())
            || self.entries.iter().any(|(q, _)| q.is_broken())
    }

    /// After a database error: is any connection gone? Probes the queues' connections (a
    /// FATAL error arrives before the connection is marked closed).
    fn lost(&mut self) -> bool {
        let mut lost = self.listen.as_ref().map_or(true, |c| c.is_closed());
        for (q, _) in &mut self.entries {
            lost |= q.is_lost();
        }
        lost
    }

    /// Reconnects everything that is broken, with backoff, until it works or `give_up` says so.
    fn reconnect(&mut self, log_to: Level, give_up: &dyn Fn() -> bool) -> Result<()> {
        let mut wait = Duration::from_millis(100);
        loop {
            let mut result = Ok(());
            for (q, _) in &mut self.entries {
                if result.is_ok() && q.is_lost() {
                    result = q.reconnect();
                }
            }
            if result.is_ok() && self.listen.as_ref().map_or(true, |c| c.is_closed()) {
                result = self.listen();
            }
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if give_up() {
                        return Err(e);
                    }
                    if let Some((_, h)) = self.entries.first_mut() {
                        log(
                            h.as_mut(),
                            log_to,
                            Level::Warning,
                            &format!("{e}; reconnecting in {wait:?}"),
                        );
                    }
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// Runs until a limit, a stop request or (with `stop_when_empty`) an empty queue. Uses
    /// `max_jobs`, `max_time`, `memory_limit`, `stop_when_empty` and `rescan_interval` (the
    /// safety poll and dead-worker recovery period) of `options`. A lost connection (server
    /// restarted) is reopened with backoff; nothing is lost, tasks that were running when it
    /// dropped run again (at-least-once).
    pub fn run(&mut self, options: &WorkerOptions) -> Result<RunStats> {
        let probe = std::mem::replace(&mut self.memory_probe, Box::new(|| 0));
        let probe = std::cell::RefCell::new(probe);
        let result = self.run_inner(options, &|| (probe.borrow_mut())());
        self.memory_probe = probe.into_inner();
        result
    }

    /// The loop of [`Worker::run`]. Kept in one piece (~110 lines): the limits, the wait for
    /// a lost server to come back and the `LISTEN` wait share the same stop and deadline
    /// closures.
    fn run_inner(&mut self, options: &WorkerOptions, probe: &dyn Fn() -> u64) -> Result<RunStats> {
        let shared = Arc::clone(&self.verbosity);
        let level = || Level::from_u8(shared.load(Ordering::SeqCst));
        let start = Instant::now();
        let deadline = options.max_time.map(|t| start + t);
        let mut stats = RunStats::default();
        if self.entries.is_empty() {
            return Ok(stats);
        }
        self.listen()?;
        let mut last_poll = Instant::now() - options.rescan_interval;
        let stop = self.stop.clone();
        let stopped = || stop.is_stopped();
        let limit_hit = |s: &RunStats| {
            stopped()
                || options.max_jobs.is_some_and(|m| s.handled >= m)
                || deadline.is_some_and(|d| Instant::now() >= d)
                || options.memory_limit.is_some_and(|m| probe() > m)
        };
        loop {
            self.log_signal_notes();
            if self.entries.iter_mut().any(|(_, h)| h.stop_requested()) {
                stop.stop();
            }
            if limit_hit(&stats) {
                break;
            }
            let round = self.round(options, &mut stats, &mut last_poll, level(), &limit_hit);
            let worked = match round {
                Ok(w) => w,
                Err(Error::Database { .. }) if self.lost() => {
                    let give_up = || stopped() || deadline.is_some_and(|d| Instant::now() >= d);
                    self.reconnect(level(), &give_up)?;
                    last_poll = Instant::now() - options.rescan_interval;
                    continue;
                }
                Err(e) => {
                    for (q, _) in &mut self.entries {
                        let _ = q.release_unstarted();
                    }
                    return Err(e);
                }
            };
            if worked {
                continue;
            }
            if options.stop_when_empty {
                break;
            }
            if self.broken() {
                // E.g. only the LISTEN session was terminated: waiting on it would return at
                // once, forever. Reconnect (with backoff) before sleeping.
                let give_up = || stopped() || deadline.is_some_and(|d| Instant::now() >= d);
                self.reconnect(level(), &give_up)?;
                last_poll = Instant::now() - options.rescan_interval;
                continue;
            }
            // Idle: sleep until a NOTIFY, the next due time, the safety poll or the deadline.
            let mut next_due: Option<u64> = None;
            let mut failed = None;
            for (q, _) in &mut self.entries {
                match q.next_due() {
                    Ok(Some(d)) => next_due = Some(next_due.map_or(d, |n: u64| n.min(d))),
                    Ok(None) => {}
                    Err(e) => failed = Some(e),
                }
            }
            if failed.is_some() && self.broken() {
                continue; // the next round reconnects
            }
            let now = Instant::now();
            let mut wake_at = last_poll + options.rescan_interval;
            if let Some(d) = next_due {
                let in_ms = d.saturating_sub(clock::now_ms());
                wake_at = wake_at.min(now + Duration::from_millis(in_ms));
            }
            if let Some(d) = deadline {
                wake_at = wake_at.min(d);
            }
            loop {
                let left = wake_at.saturating_duration_since(Instant::now());
                if left.is_zero() || stopped() || stop.has_signal_notes() {
                    break;
                }
                let Some(listen) = self.listen.as_mut() else {
                    break;
                };
                let got = {
                    let mut n = listen.notifications();
                    let first = n.timeout_iter(left.min(STOP_CHECK)).next();
                    match first {
                        Ok(Some(_)) => {
                            // Coalesce: drain whatever else already arrived.
                            while let Ok(Some(_)) = n.iter().next() {}
                            Some(true)
                        }
                        Err(_) => Some(false), // connection lost: the next round reconnects
                        Ok(None) => None,
                    }
                };
                if got.is_some() || listen.is_closed() {
                    break;
                }
            }
        }
        for (q, _) in &mut self.entries {
            let _ = q.release_unstarted();
        }
        self.log_signal_notes();
        Ok(stats)
    }

    /// Logs the signals taken since the last call (through the first handler, whatever the
    /// verbosity: they are the operator's own requests).
    fn log_signal_notes(&mut self) {
        let notes = self.stop.take_signal_notes();
        if let Some((_, h)) = self.entries.first_mut() {
            for line in notes {
                h.log(Level::Info, &line);
            }
        }
    }

    /// One pass over every listener: recovery when the safety poll is due, then one batch each.
    /// Returns whether any task was claimed.
    fn round(
        &mut self,
        options: &WorkerOptions,
        stats: &mut RunStats,
        last_poll: &mut Instant,
        verbosity: Level,
        limit_hit: &dyn Fn(&RunStats) -> bool,
    ) -> Result<bool> {
        if last_poll.elapsed() >= options.rescan_interval {
            for (q, h) in &mut self.entries {
                let rec = q.recover_dead_workers(h.max_attempts())?;
                stats.recovered += rec.requeued as u64;
                stats.failed += rec.failed as u64;
            }
            *last_poll = Instant::now();
        }
        let mut worked = false;
        for (q, h) in &mut self.entries {
            if limit_hit(stats) || h.stop_requested() {
                break;
            }
            let want = match options.max_jobs {
                Some(m) => (m.saturating_sub(stats.handled) as usize).clamp(1, self.batch),
                None => self.batch,
            };
            let batch = q.claim(want, &[])?;
            if batch.is_empty() {
                continue;
            }
            worked = true;
            let mut retried = Vec::new();
            let r = if self.group_commit || options.group_commit {
                run_batch_grouped(
                    q,
                    h.as_mut(),
                    batch,
                    verbosity,
                    &mut |s| limit_hit(s),
                    stats,
                )
            } else {
                run_batch(
                    q,
                    h.as_mut(),
                    batch,
                    verbosity,
                    &mut retried,
                    &mut |s| limit_hit(s),
                    stats,
                )
            };
            if let Err(e) = r {
                let _ = q.release_unstarted();
                return Err(e);
            }
        }
        Ok(worked)
    }
}
