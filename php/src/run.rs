//! `Hurah\Event\Worker` (several handlers in one process) and the long-running loop behind
//! `AbstractHandler::watch()`.

use crate::convert::{boolean, bytes, count, each_option, seconds};
use crate::exceptions::{from_core, hurah as hurah_exception};
use crate::handler::{AbstractHandler, Bridge};
use crate::late_registration;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, ZendHashTable, ZendObject, Zval};
use hurah::Level;

unsafe extern "C" {
    // ZEND_API size_t zend_memory_usage(bool real_usage): memory_get_usage().
    fn zend_memory_usage(real_usage: bool) -> usize;
}

/// `Hurah\Event\Worker`: `(new Worker())->add($h1)->add($h2)->run(['maxJobs' => 1000])`.
#[php_class]
#[php(name = "Hurah\\Event\\Worker")]
#[php(modifier = late_registration)]
pub struct Worker {
    handlers: Vec<Zval>,
}

#[php_impl]
impl Worker {
    /// An empty worker.
    pub fn __construct() -> Self {
        Worker {
            handlers: Vec::new(),
        }
    }

    /// Adds a handler (its listener is served by `run()`).
    pub fn add<'a>(
        self_: &'a mut ZendClassObject<Worker>,
        handler: &mut ZendClassObject<AbstractHandler>,
    ) -> &'a mut ZendClassObject<Worker> {
        let mut z = Zval::new();
        z.set_object(handler.get_mut_zend_obj());
        self_.handlers.push(z);
        self_
    }

    /// Runs every added handler until a limit, a stop signal or (with `stopWhenEmpty`) an
    /// empty queue. Options as `AbstractHandler::watch()`. Returns the stats.
    pub fn run(&mut self, options: Option<&ZendHashTable>) -> PhpResult<Zval> {
        let objs: Vec<*mut ZendObject> = self
            .handlers
            .iter_mut()
            .filter_map(|z| z.object_mut().map(|o| o as *mut ZendObject))
            .collect();
        if objs.is_empty() {
            return Err(hurah_exception("Worker::run(): no handler added"));
        }
        run(&objs, options, "Worker::run()")
    }
}

fn parse_options(options: Option<&ZendHashTable>) -> PhpResult<hurah::WorkerOptions> {
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

/// Clears the `watching` mark of handler objects (live, held by the caller).
fn unmark(objs: &[*mut ZendObject]) {
    for &o in objs {
        // SAFETY: live handler objects held by the caller.
        if let Some(h) = ZendClassObject::<AbstractHandler>::from_zend_obj_mut(unsafe { &mut *o }) {
            h.watching = false;
        }
    }
}

/// Checks each handler object (initialized, not already watched), opens its queue with `open`
/// and marks it as watching. On any error the handlers marked so far are unmarked, so a failed
/// call leaves every handler as it was.
fn mark_and_open<Q>(
    objs: &[*mut ZendObject],
    mut open: impl FnMut(&AbstractHandler) -> PhpResult<Q>,
) -> PhpResult<Vec<(*mut ZendObject, Q)>> {
    let mut opened = Vec::with_capacity(objs.len());
    for &o in objs {
        // SAFETY: live handler objects held by the caller; this borrow ends in this iteration.
        let checked =
            match ZendClassObject::<AbstractHandler>::from_zend_obj_mut(unsafe { &mut *o }) {
                None => Err(hurah_exception(
                    "not an initialized handler (did its constructor call parent::__construct()?)",
                )),
                Some(h) if h.watching => Err(hurah_exception(format!(
                    "handler {} is already being watched",
                    h.name
                ))),
                Some(h) => open(h).inspect(|_| h.watching = true),
            };
        match checked {
            Ok(q) => opened.push((o, q)),
            Err(e) => {
                let marked: Vec<*mut ZendObject> = opened.iter().map(|(o, _)| *o).collect();
                unmark(&marked);
                return Err(e);
            }
        }
    }
    Ok(opened)
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

/// Runs the handler objects `objs` (instances of `AbstractHandler` subclasses, kept alive by
/// the caller) in one core worker of their backend (inotify wake-ups on a directory,
/// LISTEN/NOTIFY on PostgreSQL). Each gets its own queue handle for the run. Handlers on
/// different backends cannot share one worker (an InvalidArgumentException).
///
/// Logs (to the first handler's `getLogger()`, else stderr, within the worker's verbosity) the
/// start (listeners, pid, backend), each signal taken and why it stopped. `what` names the
/// caller in those lines (`watch()`, `Worker::run()`).
pub(crate) fn run(
    objs: &[*mut ZendObject],
    options: Option<&ZendHashTable>,
    what: &str,
) -> PhpResult<Zval> {
    let opts = parse_options(options)?;
    let mut backend = None;
    let mut labels = Vec::new();
    let opened = mark_and_open(objs, |h| {
        backend.get_or_insert_with(|| std::sync::Arc::clone(&h.backend));
        labels.push(format!("{}:{}", h.event_type, h.name));
        h.backend
            .open_listener(&h.event_type, &h.name)
            .map_err(from_core)
    })?;
    let Some(backend) = backend else {
        return Err(hurah_exception("no handler to run"));
    };
    let mut worker = backend.worker();
    let stop = worker.stop_handle();
    let mut added = Ok(());
    for (o, queue) in opened {
        if added.is_ok() {
            added = worker.add(queue, Box::new(Bridge::new(o).stop_with(stop.clone())));
        }
    }
    if let Err(e) = added {
        drop(worker);
        unmark(objs);
        return Err(from_core(e));
    }
    // SAFETY: zend_memory_usage only reads the allocator's counters.
    worker.set_memory_probe(Box::new(|| unsafe { zend_memory_usage(false) } as u64));
    let verbosity = worker.verbosity();
    let mut logger = WorkerLog {
        bridge: Bridge::new(objs[0]),
        verbosity: std::sync::Arc::clone(&verbosity),
    };
    let guard = hurah::install_signal_handlers(&stop, std::sync::Arc::clone(&verbosity));
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
    let result = worker.run(&opts);
    drop(guard);
    drop(worker);
    unmark(objs);
    if let Ok(stats) = &result {
        let why = stop_reason(&opts, stats, &stop, started);
        let line = format!(
            "{what}: stopped ({why}); handled {}, succeeded {}, failed {}, retried {}, recovered {}",
            stats.handled, stats.succeeded, stats.failed, stats.retried, stats.recovered
        );
        if crate::convert::aborting() {
            // No user code after exit() or a fatal error: straight to stderr.
            logger.bridge.default_log(Level::Info, &line);
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
    bridge: Bridge,
    verbosity: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl WorkerLog {
    fn log(&mut self, level: Level, message: &str) {
        let v = Level::from_u8(self.verbosity.load(std::sync::atomic::Ordering::SeqCst));
        if level <= v {
            hurah::Handler::log(&mut self.bridge, level, message);
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
