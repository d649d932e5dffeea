//! The worker: `handle_once` (the original `handle()`: everything due, once, then return) and
//! [`Worker`], the long-running loop that sleeps on a wake source until tasks arrive.

use crate::clock;
use crate::error::Result;
use crate::file::layout::{parse_delayed_file_name, parse_task_file_name, State};
use crate::file::queue::{Claim, Queue, Settled};
use crate::file::watch::{NotifyWake, Wake, WakeSource, Waker};
use crate::handler::{Handler, Level};
use crate::outcome::Outcome;
use crate::run::{log, run_task, Ran, RunStats, WorkerOptions};
use crate::stop::{Notice, StopHandle};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Processes every task due in `queue` once, in ascending sequence order, then returns (the
/// original `AbstractHandler::handle()`). Tasks are claimed by rename, so concurrent callers on
/// the same listener never run a task twice; tasks left claimed by dead workers are recovered
/// first. A RETRY without backoff waits for the next call, as in the original.
pub fn handle_once(queue: &mut Queue, handler: &mut dyn Handler) -> Result<RunStats> {
    let verbosity = Level::from_env();
    let mut stats = RunStats::default();
    let max = handler.max_attempts();
    let rec = queue.recover_dead_workers(max)?;
    stats.recovered += rec.requeued as u64;
    stats.failed += rec.failed as u64;
    // Delayed tasks whose time has come run first, in due order, then the inbox by sequence.
    let now = clock::now_ms();
    let mut due = Vec::new();
    for (due_ms, seq) in queue.delayed()? {
        if due_ms > now {
            break;
        }
        if let Some(s) = queue.promote(due_ms, seq)? {
            due.push(s);
        }
    }
    let promoted: std::collections::HashSet<u64> = due.iter().copied().collect();
    due.extend(queue.due()?.into_iter().filter(|s| !promoted.contains(s)));
    if !due.is_empty() {
        log(
            handler,
            verbosity,
            Level::Info,
            &format!("Queue has {} items waiting for processing", due.len()),
        );
    }
    for seq in due {
        if handler.stop_requested() {
            break;
        }
        match queue.claim(seq) {
            Ok(Some(claim)) => match run_claim(queue, handler, claim, verbosity, None) {
                Ok((s, _)) => stats.add(s),
                Err(e) => {
                    // Unlock the claim directory so the task left in it is recovered.
                    queue.release();
                    return Err(e);
                }
            },
            Ok(None) => {}
            Err(e) => {
                queue.release();
                return Err(e);
            }
        }
    }
    queue.release();
    Ok(stats)
}

/// Runs one claimed entry and settles it. `hold_back`: in watch mode, a corrupt file modified
/// less than this long ago may still be being written by a legacy writer: it is put back.
fn run_claim(
    queue: &mut Queue,
    handler: &mut dyn Handler,
    claim: Claim,
    verbosity: Level,
    hold_back: Option<Duration>,
) -> Result<(RunStats, Option<Settled>)> {
    let mut stats = RunStats::default();
    let mut settled = None;
    match claim {
        Claim::Corrupt { seq, path, error } => {
            if let Some(grace) = hold_back {
                // Only a regular file can be being written; anything else is settled at once.
                let fresh = std::fs::symlink_metadata(&path)
                    .ok()
                    .filter(|m| m.file_type().is_file())
                    .ok_or_else(|| std::io::Error::other("not a regular file"))
                    .and_then(|m| m.modified())
                    .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() < grace)
                    .unwrap_or(false);
                if fresh && queue.unclaim(seq, &path)? {
                    return Ok((stats, None));
                }
            }
            log(
                handler,
                verbosity,
                Level::Warning,
                &format!("Event job {seq} could not be processed: {error}"),
            );
            queue.settle_corrupt(seq, &path, &error.to_string())?;
            stats.failed += 1;
        }
        Claim::Task(mut task) => {
            log(
                handler,
                verbosity,
                Level::Debug,
                &format!("Processing {}", task.path().display()),
            );
            // The start is recorded right before the handler is entered: a worker that dies
            // before this point spends no attempt of the task.
            crate::fault::point("worker-after-claim");
            queue.start(&mut task)?;
            crate::fault::point("worker-after-start");
            let seq = task.sequence();
            let Ran {
                outcome,
                max_attempts: max,
                backoff,
            } = run_task(handler, verbosity, &task, &mut stats);
            let result = queue.settle(task, &outcome, max, backoff)?;
            settled = Some(result.clone());
            match result {
                Settled::Archived(_) => stats.succeeded += 1,
                Settled::Failed(p) => {
                    if matches!(outcome, Outcome::Retry { .. }) {
                        log(
                            handler,
                            verbosity,
                            Level::Warning,
                            &format!(
                                "Task {seq} hit retry limit which is set to: {max}; moved to {}",
                                p.display()
                            ),
                        );
                    }
                    stats.failed += 1
                }
                Settled::Requeued(_) | Settled::Delayed(..) => stats.retried += 1,
            }
        }
    }
    Ok((stats, settled))
}

struct Entry<'h> {
    queue: Queue,
    handler: Box<dyn Handler + 'h>,
    pending: BTreeSet<u64>,
    /// Delayed tasks just promoted to the inbox, in due order: they run before `pending`.
    promoted: VecDeque<u64>,
    delayed: BinaryHeap<Reverse<(u64, u64)>>,
    recheck: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Held-back files (maybe still being written in place) and their mtime when held.
    held: HashMap<u64, Option<SystemTime>>,
}

impl Entry<'_> {
    /// A retried task is due again at once (or at its backoff time): tracks it directly rather
    /// than wait for its inotify event, so `stop_when_empty` cannot return while it is due.
    fn track(&mut self, settled: Option<Settled>) {
        match settled {
            Some(Settled::Requeued(p)) => {
                if let Some(s) = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(parse_task_file_name)
                {
                    self.pending.insert(s);
                }
            }
            Some(Settled::Delayed(p, _)) => {
                if let Some(k) = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(parse_delayed_file_name)
                {
                    self.delayed.push(Reverse(k));
                }
            }
            _ => {}
        }
    }

    /// Holds task `seq` back (a file that may still be being written): looks again when the
    /// writer is done or the grace `hold_back` ends.
    fn hold(&mut self, seq: u64, hold_back: Duration) {
        self.recheck
            .push(Reverse((Instant::now() + hold_back, seq)));
        let inbox = self.queue.listener().inbox_file(seq);
        let mtime = std::fs::symlink_metadata(&inbox)
            .and_then(|m| m.modified())
            .ok();
        self.held.insert(seq, mtime);
    }
}

/// A long-running worker serving one or more listeners in one thread: it handles what is due,
/// then sleeps on its wake source (inotify by default) and on the next delayed due time.
pub struct Worker<'h> {
    entries: Vec<Entry<'h>>,
    rx: Receiver<Wake>,
    tx: mpsc::Sender<Wake>,
    stop: StopHandle,
    verbosity: Arc<AtomicU8>,
    memory_probe: Box<dyn FnMut() -> u64 + 'h>,
    next: usize,
}

/// The notifier a [`Worker`] installs in its [`StopHandle`]: notices become wake messages.
fn notifier(waker: Waker) -> crate::stop::Notifier {
    let waker = std::sync::Mutex::new(waker);
    Arc::new(move |n: Notice| {
        let wake = match n {
            Notice::Stop => Wake::Stop,
            Notice::Rescan => Wake::Rescan,
            Notice::Verbosity => Wake::Verbosity,
        };
        if let Ok(w) = waker.lock() {
            w.wake(wake);
        }
    })
}

impl Default for Worker<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'h> Worker<'h> {
    /// An empty worker.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        let verbosity = Level::from_env();
        Worker {
            entries: Vec::new(),
            rx,
            tx: tx.clone(),
            stop: StopHandle::with_notifier(notifier(Waker(tx))),
            verbosity: Arc::new(AtomicU8::new(verbosity as u8)),
            memory_probe: Box::new(crate::run::resident_memory),
            next: 0,
        }
    }

    /// Adds a listener's queue and the handler that runs its tasks.
    pub fn add(&mut self, queue: Queue, handler: Box<dyn Handler + 'h>) -> &mut Self {
        self.entries.push(Entry {
            queue,
            handler,
            pending: BTreeSet::new(),
            promoted: VecDeque::new(),
            delayed: BinaryHeap::new(),
            recheck: BinaryHeap::new(),
            held: HashMap::new(),
        });
        self
    }

    /// A waker on this worker's channel, for its wake sources.
    fn waker(&self) -> Waker {
        Waker(self.tx.clone())
    }

    /// A handle that stops this worker from another thread or a signal forwarder.
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// The shared verbosity (a [`Level`] as u8), adjustable while running.
    pub fn verbosity(&self) -> Arc<AtomicU8> {
        Arc::clone(&self.verbosity)
    }

    /// Replaces the memory probe used for `memory_limit` (default: resident set size). The PHP
    /// adapter uses `memory_get_usage()`.
    pub fn set_memory_probe(&mut self, probe: Box<dyn FnMut() -> u64 + 'h>) {
        self.memory_probe = probe;
    }

    /// Runs with inotify wake-ups until a limit, a stop request or (with `stop_when_empty`) an
    /// empty queue. Nothing stays claimed when it returns.
    ///
    /// The wake source is [`crate::InotifyWake`] (inotify with an exact event mask); set
    /// `HURAH_WAKE=notify` to use [`NotifyWake`] (the `notify` crate) instead.
    pub fn run(&mut self, options: &WorkerOptions) -> Result<RunStats> {
        if std::env::var("HURAH_WAKE").is_ok_and(|v| v == "notify") {
            let mut source = NotifyWake::new(self.waker())?;
            return self.run_with(options, &mut source);
        }
        let mut source = crate::InotifyWake::new(self.waker())?;
        self.run_with(options, &mut source)
    }

    fn level(&self) -> Level {
        Level::from_u8(self.verbosity.load(Ordering::Relaxed))
    }

    fn scan(&mut self, i: usize) -> Result<()> {
        let e = &mut self.entries[i];
        e.pending = e.queue.due()?.into_iter().collect();
        e.delayed = e.queue.delayed()?.into_iter().map(Reverse).collect();
        Ok(())
    }

    fn rescan_all(&mut self, stats: &mut RunStats) -> Result<()> {
        for i in 0..self.entries.len() {
            let e = &mut self.entries[i];
            let max = e.handler.max_attempts();
            let rec = e.queue.recover_dead_workers(max)?;
            stats.recovered += rec.requeued as u64;
            stats.failed += rec.failed as u64;
            self.scan(i)?;
        }
        Ok(())
    }

    fn note_paths(&mut self, paths: Vec<std::path::PathBuf>) {
        for p in paths {
            let (Some(dir), Some(name)) = (p.parent(), p.file_name().and_then(|n| n.to_str()))
            else {
                continue;
            };
            for e in &mut self.entries {
                let l = e.queue.listener();
                if dir == l.state_dir(State::Inbox) {
                    if let Some(seq) = parse_task_file_name(name) {
                        e.pending.insert(seq);
                    }
                } else if dir == l.state_dir(State::Delayed) {
                    if let Some(k) = parse_delayed_file_name(name) {
                        e.delayed.push(Reverse(k));
                    }
                }
            }
        }
    }

    /// Promotes due delayed tasks and re-queues held-back files whose grace ended. Returns the
    /// earliest future instant something becomes due.
    fn promote_due(&mut self) -> Result<Option<Instant>> {
        // µs, not ms: with a ms clock (rounded down) the sleep until a due time overshot by up
        // to 1 ms (0.5 ms on average).
        let now_us = clock::now_us();
        let now = Instant::now();
        let mut next: Option<Instant> = None;
        for e in &mut self.entries {
            while let Some(&Reverse((due, seq))) = e.delayed.peek() {
                let due_us = due.saturating_mul(1000);
                if due_us > now_us {
                    let at = now + Duration::from_micros(due_us - now_us);
                    next = Some(next.map_or(at, |n| n.min(at)));
                    break;
                }
                e.delayed.pop();
                if let Some(s) = e.queue.promote(due, seq)? {
                    e.promoted.push_back(s);
                }
            }
            while let Some(&Reverse((at, seq))) = e.recheck.peek() {
                if at > now {
                    next = Some(next.map_or(at, |n| n.min(at)));
                    break;
                }
                e.recheck.pop();
                e.held.remove(&seq);
                e.pending.insert(seq);
            }
        }
        Ok(next)
    }

    /// Like [`Worker::run`] with a given wake source ([`crate::NullWake`] in tests).
    pub fn run_with(
        &mut self,
        options: &WorkerOptions,
        source: &mut dyn WakeSource,
    ) -> Result<RunStats> {
        let result = self.run_inner(options, source);
        for e in &mut self.entries {
            e.queue.release();
        }
        result
    }

    fn run_inner(
        &mut self,
        options: &WorkerOptions,
        source: &mut dyn WakeSource,
    ) -> Result<RunStats> {
        let started = Instant::now();
        let deadline = options.max_time.map(|t| started + t);
        let mut stats = RunStats::default();
        for e in &self.entries {
            let l = e.queue.listener();
            source.watch(&l.state_dir(State::Inbox))?;
            source.watch(&l.state_dir(State::Delayed))?;
        }
        self.rescan_all(&mut stats)?;
        let mut last_rescan = Instant::now();
        loop {
            self.log_signal_notes();
            if self.entries.iter_mut().any(|e| e.handler.stop_requested()) {
                self.stop.stop();
            }
            if self.stop.is_stopped() {
                break;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
            let next_due = self.promote_due()?;
            let handled_before = stats.handled;
            let ran = self.run_next(options, &mut stats)?;
            if ran {
                if stats.handled == handled_before {
                    continue;
                }
                if options.max_jobs.is_some_and(|m| stats.handled >= m) {
                    break;
                }
                if let Some(limit) = options.memory_limit {
                    if (self.memory_probe)() > limit {
                        break;
                    }
                }
                // Take in what arrived meanwhile without blocking.
                while let Ok(w) = self.rx.try_recv() {
                    self.on_wake(w, &mut stats)?;
                }
                continue;
            }
            if options.stop_when_empty {
                break;
            }
            let woken = self.idle(options, next_due, deadline, &mut last_rescan, &mut stats)?;
            if !woken {
                break;
            }
        }
        self.log_signal_notes();
        Ok(stats)
    }

    /// Round-robin: runs one task from the next listener that has one. True if it ran one, or
    /// looked at one that another worker had taken already (look again at once).
    fn run_next(&mut self, options: &WorkerOptions, stats: &mut RunStats) -> Result<bool> {
        let n = self.entries.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let e = &mut self.entries[i];
            let next = match e.promoted.pop_front() {
                Some(s) => {
                    e.pending.remove(&s);
                    Some(s)
                }
                None => e.pending.pop_first(),
            };
            let Some(seq) = next else {
                continue;
            };
            let level = self.level();
            let e = &mut self.entries[i];
            if let Some(held_mtime) = e.held.get(&seq) {
                // Held back: only look again once the writer touched it (or the grace ends).
                let inbox = e.queue.listener().inbox_file(seq);
                let now_mtime = std::fs::symlink_metadata(&inbox)
                    .and_then(|m| m.modified())
                    .ok();
                if now_mtime.is_some() && now_mtime == *held_mtime {
                    continue;
                }
                e.held.remove(&seq);
            }
            let Some(claim) = e.queue.claim(seq)? else {
                // Another worker won it, or it is already done (a late event): look again.
                return Ok(true);
            };
            let (s, settled) = run_claim(
                &mut e.queue,
                e.handler.as_mut(),
                claim,
                level,
                Some(options.hold_back),
            )?;
            e.track(settled);
            if s == RunStats::default() {
                e.hold(seq, options.hold_back);
            }
            stats.add(s);
            if e.handler.stop_requested() {
                self.stop.stop();
            }
            self.next = (i + 1) % n;
            return Ok(true);
        }
        Ok(false)
    }

    /// Sleeps until an event, the next due time, the rescan or the deadline, and takes in what
    /// woke it. False when the wake channel is gone.
    fn idle(
        &mut self,
        options: &WorkerOptions,
        next_due: Option<Instant>,
        deadline: Option<Instant>,
        last_rescan: &mut Instant,
        stats: &mut RunStats,
    ) -> Result<bool> {
        let now = Instant::now();
        let mut wake_at = *last_rescan + options.rescan_interval;
        if let Some(d) = next_due {
            wake_at = wake_at.min(d);
        }
        if let Some(d) = deadline {
            wake_at = wake_at.min(d);
        }
        let timeout = wake_at.saturating_duration_since(now);
        match self.rx.recv_timeout(timeout) {
            Ok(w) => {
                self.on_wake(w, stats)?;
                while let Ok(w) = self.rx.try_recv() {
                    self.on_wake(w, stats)?;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if Instant::now() >= *last_rescan + options.rescan_interval {
                    self.rescan_all(stats)?;
                    *last_rescan = Instant::now();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(false),
        }
        Ok(true)
    }

    /// Logs the signals taken since the last call (through the first handler, whatever the
    /// verbosity: they are the operator's own requests).
    fn log_signal_notes(&mut self) {
        let notes = self.stop.take_signal_notes();
        if let Some(e) = self.entries.first_mut() {
            for line in notes {
                e.handler.log(Level::Info, &line);
            }
        }
    }

    fn on_wake(&mut self, w: Wake, stats: &mut RunStats) -> Result<()> {
        match w {
            Wake::Paths(p) => self.note_paths(p),
            Wake::Rescan => self.rescan_all(stats)?,
            Wake::Stop | Wake::Verbosity => {}
        }
        Ok(())
    }

    /// Logs through the first handler (worker-level messages).
    pub fn log(&mut self, level: Level, msg: &str) {
        let v = self.level();
        if let Some(e) = self.entries.first_mut() {
            log(e.handler.as_mut(), v, level, msg);
        }
    }

    /// The queues served (for status messages).
    pub fn listener_dirs(&self) -> Vec<&Path> {
        self.entries
            .iter()
            .map(|e| e.queue.listener().dir())
            .collect()
    }
}

#[cfg(test)]
mod tests;
