//! The long-running loop behind `AbstractHandler::watch()` and `Worker::run()`: one core worker
//! of the handlers' backend serving handler objects that `handler::open_for_run` opened. This
//! module knows no PHP class (handler.rs and worker.rs use it; it uses neither).

use crate::convert::{boolean, bytes, count, each_option, seconds};
use crate::exceptions::{from_core, hurah as hurah_exception};
use ext_php_rs::exception::PhpResult;
use ext_php_rs::types::{ZendHashTable, Zval};
use hurah::backend::{Backend, ListenerQueue};
use hurah::Level;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

unsafe extern "C" {
    // ZEND_API size_t zend_memory_usage(bool real_usage): memory_get_usage().
    fn zend_memory_usage(real_usage: bool) -> usize;
}

/// The options of `watch()` and `Worker::run()`, read before any handler is opened (a bad
/// option opens nothing).
pub(crate) fn options(options: Option<&ZendHashTable>) -> PhpResult<hurah::WorkerOptions> {
    let mut o = hurah::WorkerOptions::default();
    each_option(options, "worker", |k, v| {
        match k {
            "maxJobs" => o.max_jobs = Some(count(v, "maxJobs")?),
            "maxTime" => o.max_time = Some(seconds(v, "maxTime")?),
            "memoryLimit" => o.memory_limit = Some(bytes(v, "memoryLimit")?),
            "stopWhenEmpty" | "once" => o.stop_when_empty = boolean(v, k)?,
            "groupCommit" => o.group_commit = boolean(v, k)?,
            "sleep" => {
                let d = seconds(v, "sleep")?;
                if d.is_zero() {
                    return Err(crate::exceptions::invalid_argument("sleep must be > 0"));
                }
                o.rescan_interval = d;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(o)
}

/// The stats array `watch()` and `Worker::run()` return.
fn stats_array(stats: hurah::RunStats) -> PhpResult<Zval> {
    let mut ht = ZendHashTable::new();
    for (k, v) in [
        ("handled", stats.handled),
        ("succeeded", stats.succeeded),
        ("failed", stats.failed),
        ("retried", stats.retried),
        ("recovered", stats.recovered),
    ] {
        ht.insert(k, v as i64)
            .map_err(|e| hurah_exception(e.to_string()))?;
    }
    let mut z = Zval::new();
    z.set_hashtable(ht);
    Ok(z)
}

/// One listener of a run: its queue, opened for the run, and the core handler that serves it,
/// made once the worker's stop handle exists (the handler stops the worker after `exit()` or a
/// fatal error).
pub(crate) struct Listener {
    /// `type:name`, for the log lines.
    pub(crate) label: String,
    pub(crate) queue: Box<dyn ListenerQueue>,
    pub(crate) handler: Box<dyn FnOnce(hurah::StopHandle) -> Box<dyn hurah::Handler>>,
}

/// Where the run's own lines go: the first handler's logger ([`hurah::Handler::log`]), or
/// straight to stderr once no user code may run.
pub(crate) trait RunLog: hurah::Handler {
    /// Writes the line to stderr without calling PHP code.
    fn log_to_stderr(&self, level: Level, message: &str);
}

/// Handler objects opened for a run (by `handler::open_for_run`, which marks them as watched).
pub(crate) struct Opened {
    /// The backend they share.
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) listeners: Vec<Listener>,
    /// The run's own lines (the first handler's logger).
    pub(crate) log: Box<dyn RunLog>,
    /// Clears the handlers' watched marks; called once the worker is gone, on every path.
    pub(crate) release: Box<dyn FnOnce()>,
}

/// Runs the opened handlers in one core worker of their backend (inotify wake-ups on a
/// directory, LISTEN/NOTIFY on PostgreSQL): `AbstractHandler::watch()` and `Worker::run()`.
/// Handlers on different backends cannot share one worker (an InvalidArgumentException).
///
/// Logs (through `opened.log`, within the worker's verbosity) the start (listeners, pid,
/// backend), each signal taken and why it stopped. `what` names the caller in those lines
/// (`watch()`, `Worker::run()`).
pub(crate) fn run(opened: Opened, opts: &hurah::WorkerOptions, what: &str) -> PhpResult<Zval> {
    let Opened {
        backend,
        listeners,
        log,
        release,
    } = opened;
    let labels: Vec<String> = listeners.iter().map(|l| l.label.clone()).collect();
    let mut worker = backend.worker();
    let stop = worker.stop_handle();
    let mut added = Ok(());
    for l in listeners {
        if added.is_ok() {
            added = worker.add(l.queue, (l.handler)(stop.clone()));
        }
    }
    if let Err(e) = added {
        drop(worker);
        release();
        return Err(from_core(e));
    }
    // SAFETY: zend_memory_usage only reads the allocator's counters.
    worker.set_memory_probe(Box::new(|| unsafe { zend_memory_usage(false) } as u64));
    let verbosity = worker.verbosity();
    let mut logger = WorkerLog {
        log,
        verbosity: Arc::clone(&verbosity),
    };
    let guard = hurah::install_signal_handlers(&stop, Arc::clone(&verbosity));
    if let Err(e) = &guard {
        logger.log(Level::Warning, &format!("{what}: signals not handled: {e}"));
    }
    logger.log(
        Level::Info,
        &format!(
            "{what}: watching {} on {} (pid {}, {} backend)",
            labels.join(", "),
            backend.describe(),
            std::process::id(),
            backend.kind()
        ),
    );
    let started = std::time::Instant::now();
    let result = worker.run(opts);
    drop(guard);
    drop(worker);
    release();
    if let Ok(stats) = &result {
        let why = stop_reason(opts, stats, &stop, started);
        let line = format!(
            "{what}: stopped ({why}); handled {}, succeeded {}, failed {}, retried {}, recovered {}",
            stats.handled, stats.succeeded, stats.failed, stats.retried, stats.recovered
        );
        if crate::convert::aborting() {
            // No user code after exit() or a fatal error: straight to stderr.
            logger.log.log_to_stderr(Level::Info, &line);
        } else {
            logger.log(Level::Info, &line);
        }
    }
    drop(logger);
    crate::convert::rethrow_pending()?;
    stats_array(result.map_err(from_core)?)
}

/// Worker-level lines of `run()`, through the first handler's logger, within the verbosity.
struct WorkerLog {
    log: Box<dyn RunLog>,
    verbosity: Arc<AtomicU8>,
}

impl WorkerLog {
    fn log(&mut self, level: Level, message: &str) {
        let v = Level::from_u8(self.verbosity.load(Ordering::SeqCst));
        if level <= v {
            self.log.log(level, message);
        }
    }
}

/// Why `worker.run()` returned, in words.
fn stop_reason(
    opts: &hurah::WorkerOptions,
    stats: &hurah::RunStats,
    stop: &hurah::StopHandle,
    started: std::time::Instant,
) -> String {
    if let Some(sig) = stop.stopped_by_signal() {
        return format!("signal {}", hurah::signal_name(sig));
    }
    if crate::convert::aborting() {
        return "the handler called exit() or hit a fatal error".into();
    }
    if stop.is_stopped() {
        return "stop requested".into();
    }
    if let Some(m) = opts.max_jobs.filter(|&m| stats.handled >= m) {
        return format!("maxJobs {m} reached");
    }
    if let Some(t) = opts.max_time.filter(|&t| started.elapsed() >= t) {
        return format!("maxTime {}s reached", t.as_secs_f64());
    }
    if let Some(limit) = opts.memory_limit {
        // SAFETY: zend_memory_usage only reads the allocator's counters.
        let used = unsafe { zend_memory_usage(false) } as u64;
        if used > limit {
            return format!("memoryLimit {limit} bytes exceeded");
        }
    }
    if opts.stop_when_empty {
        return "queue empty, stopWhenEmpty".into();
    }
    "stopped".into()
}
