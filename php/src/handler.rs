//! `Hurah\Event\HandlerInterface` and `Hurah\Event\AbstractHandler`: PHP subclasses implement
//! `handleTask()`; `handle()` runs the core's `handle_once` through [`Bridge`], the PHP
//! implementation of the core `Handler` trait.
// Parameter names are PHP's (camelCase, as in hurah/events), for named arguments.
#![allow(non_snake_case)]

use crate::context::AbstractContext;
use crate::convert::stringish;
use crate::convert::{
    aborting, bailed_out, call_method, catch, defer_exit, guarded, last_error_message, type_name,
};
use crate::event_type::EventType;
use crate::exceptions::{from_core, hurah as hurah_exception};
use crate::handler_name::HandlerName;
use crate::run::{Listener, Opened, RunLog};
use ext_php_rs::convert::FromZval;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::{ClassFlags, DataType};
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, ZendHashTable, ZendObject, Zval};
use hurah::{Level, Outcome};
use std::time::Duration;

/// `Hurah\Event\HandlerInterface`.
#[php_interface]
#[php(name = "Hurah\\Event\\HandlerInterface")]
pub trait HandlerInterface {
    /// Processes every due task once, then returns.
    fn handle(&mut self);
    /// The event type handled.
    fn get_type(&self) -> EventType;
}

/// The declared type of `handleTask()`'s parameter: `Hurah\Event\Context`, so subclasses may
/// declare `Context $c` (the original README) or the wider `ContextInterface $c` (the
/// original's signature). Never read: the abstract method has no body.
pub struct ContextParam;

impl<'a> FromZval<'a> for ContextParam {
    const TYPE: DataType = DataType::object("Hurah\\Event\\Context");
    fn from_zval(_: &'a Zval) -> Option<Self> {
        Some(ContextParam)
    }
}

/// `Hurah\Event\AbstractHandler`. Declares no properties, so subclasses may declare any.
#[php_class]
#[php(name = "Hurah\\Event\\AbstractHandler")]
#[php(flags = ClassFlags::Abstract)]
#[php(implements(PhpInterfaceHandlerInterface))]
pub struct AbstractHandler {
    pub(crate) name: hurah::HandlerName,
    pub(crate) event_type: hurah::EventType,
    /// The backend the event root names (a directory or a PostgreSQL URL).
    pub(crate) backend: std::sync::Arc<dyn hurah::backend::Backend>,
    /// `None` while `handle()` runs (re-entrant calls are refused).
    pub(crate) queue: Option<Box<dyn hurah::backend::ListenerQueue>>,
    /// Lines from `addFailureInfo()` for the task being handled.
    pub(crate) failure_info: Vec<String>,
    /// True while `watch()` or a `Worker` runs this handler.
    pub(crate) watching: bool,
}

#[php_impl]
impl AbstractHandler {
    /// Registers the listener `<root>/<type>/<name>_listener/` (creating the root if needed),
    /// or in the database when the root is a `postgresql://` URL.
    pub fn __construct(name: &Zval, eventType: &Zval, eventRoot: &Zval) -> PhpResult<Self> {
        let name = HandlerName::from_arg(name, "handler name")?;
        let event_type = EventType::from_arg(eventType, "event type")?;
        let root = stringish(eventRoot, "event root")?;
        if root.is_empty() {
            return Err(crate::exceptions::invalid_argument(
                "event root must not be empty",
            ));
        }
        crate::handler_name::require_existing_listener(&name, &event_type, &root)?;
        let fsync = hurah::FsyncPolicy::from_env().map_err(from_core)?;
        let backend: std::sync::Arc<dyn hurah::backend::Backend> =
            hurah::backend::open(&root, fsync)
                .map_err(from_core)?
                .into();
        let queue = backend
            .open_listener(&event_type, &name)
            .map_err(from_core)?;
        Ok(AbstractHandler {
            name,
            event_type: event_type.clone(),
            backend,
            queue: Some(queue),
            failure_info: Vec::new(),
            watching: false,
        })
    }

    /// Runs one task. Return `Task::SUCCESS`, `FAILURE`, `RETRY` or `INVALID`.
    #[php(abstract, vis = "protected")]
    pub fn handle_task(&self, context: ContextParam) -> i64 {
        let _ = context;
        unreachable!("abstract")
    }

    /// Retries allowed before a task goes to `error/` (M retries = M+1 runs). Default 0.
    #[php(vis = "protected")]
    pub fn max_attempts(&self) -> i64 {
        0
    }

    /// Adds lines to the failure reason stored with the current task if it fails. Cleared
    /// after each task.
    #[php(vis = "protected")]
    pub fn add_failure_info(&mut self, lines: &[String]) {
        self.failure_info.extend(lines.iter().cloned());
    }

    /// Processes every task due in this listener's inbox once, in ascending sequence order,
    /// then returns. Tasks are claimed by rename: concurrent `handle()` calls in several
    /// processes never run a task twice.
    pub fn handle(self_: &mut ZendClassObject<AbstractHandler>) -> PhpResult<()> {
        let obj: *mut ZendObject = self_.get_mut_zend_obj();
        let mut queue = self_
            .queue
            .take()
            .ok_or_else(|| hurah_exception("handle() is already running for this handler"))?;
        let mut bridge = Bridge::new(obj);
        let result = queue.handle_once(&mut bridge);
        drop(bridge);
        // SAFETY: `obj` is `$this`, alive for the whole call; no other Rust reference to it
        // is used from here on.
        if let Some(h) = ZendClassObject::<AbstractHandler>::from_zend_obj_mut(unsafe { &mut *obj })
        {
            h.queue = Some(queue);
        }
        crate::convert::rethrow_pending()?;
        result.map(|_| ()).map_err(from_core)
    }

    /// Runs this handler as a long-running worker (inotify wake-ups; SIGTERM/SIGINT stop after
    /// the current task). Options: `maxJobs`, `maxTime` (s), `memoryLimit` (bytes or '128M'),
    /// `stopWhenEmpty`, `once` (same), `sleep` (safety rescan interval, s). Returns the stats.
    pub fn watch(
        self_: &mut ZendClassObject<AbstractHandler>,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<Zval> {
        let obj: *mut ZendObject = self_.get_mut_zend_obj();
        let opts = crate::run::options(options)?;
        crate::run::run(open_for_run(&[obj])?, &opts, "watch()")
    }

    /// The event type handled.
    pub fn get_type(&self) -> EventType {
        EventType::new(self.event_type.clone())
    }

    /// The tasks waiting in the inbox, in ascending sequence order, as contexts (read without
    /// claiming them; the original returned a `TaskCollection`). Unreadable files are skipped.
    pub fn get_queue(&self) -> PhpResult<Vec<Zval>> {
        let tasks = self
            .backend
            .tasks(
                &self.event_type,
                &self.name,
                hurah::backend::TaskState::Inbox,
            )
            .map_err(from_core)?;
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            let Some(doc) = t.doc else { continue };
            out.push(AbstractContext::from_doc(doc, Some(t.sequence)).into_context_zval()?);
        }
        Ok(out)
    }

    /// The tasks waiting in `delayed/` for their due time, earliest first, as arrays
    /// `['sequence' => int, 'id' => ?string, 'due' => float (Unix time, ms precision),
    /// 'context' => Context]` (read without claiming them). Cancel one with
    /// `Dispatcher::cancel($id)`. Unreadable files are skipped.
    pub fn get_delayed(&self) -> PhpResult<Vec<Zval>> {
        let tasks = self
            .backend
            .tasks(
                &self.event_type,
                &self.name,
                hurah::backend::TaskState::Delayed,
            )
            .map_err(from_core)?;
        let mut out = Vec::with_capacity(tasks.len());
        for t in tasks {
            let Some(doc) = t.doc else { continue };
            let ctx = AbstractContext::from_doc(doc, Some(t.sequence)).into_context_zval()?;
            let mut ht = ZendHashTable::new();
            let err = |e: ext_php_rs::error::Error| hurah_exception(e.to_string());
            ht.insert("sequence", t.sequence as i64).map_err(err)?;
            ht.insert("id", t.id).map_err(err)?;
            ht.insert("due", t.due_ms.unwrap_or(0) as f64 / 1000.0)
                .map_err(err)?;
            ht.insert("context", ctx).map_err(err)?;
            let mut z = Zval::new();
            z.set_hashtable(ht);
            out.push(z);
        }
        Ok(out)
    }
}

/// Opens the handler objects `objs` (instances of `AbstractHandler` subclasses, kept alive by
/// the caller) for [`crate::run::run`]: each gets its own queue handle on its backend and is
/// marked as watched until the run releases it, and is served through a [`Bridge`]; the
/// run's own lines go to the first one's logger. On any error nothing stays marked.
pub(crate) fn open_for_run(objs: &[*mut ZendObject]) -> PhpResult<Opened> {
    let mut backend = None;
    let opened = mark_and_open(objs, |h| {
        backend.get_or_insert_with(|| std::sync::Arc::clone(&h.backend));
        let label = format!("{}:{}", h.event_type, h.name);
        let queue = h
            .backend
            .open_listener(&h.event_type, &h.name)
            .map_err(from_core)?;
        Ok((label, queue))
    })?;
    let Some(backend) = backend else {
        return Err(hurah_exception("no handler to run"));
    };
    let listeners = opened
        .into_iter()
        .map(|(o, (label, queue))| Listener {
            label,
            queue,
            handler: Box::new(move |stop| {
                Box::new(Bridge::new(o).stop_with(stop)) as Box<dyn hurah::Handler>
            }),
        })
        .collect();
    let objs = objs.to_vec();
    Ok(Opened {
        backend,
        listeners,
        log: Box::new(Bridge::new(objs[0])),
        release: Box::new(move || unmark(&objs)),
    })
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

/// The PHP side of a handler as a core [`hurah::Handler`]: calls the subclass' `handleTask()`,
/// `maxAttempts()`, `retryDelay()` and `getLogger()`.
pub(crate) struct Bridge {
    /// `$this` (the handler object). Only raw: PHP code we call may reach the same object.
    obj: *mut ZendObject,
    logger: Option<Option<Zval>>,
    log_context: (String, String),
    /// The running worker's stop handle (`watch()`, `Worker::run()`): stopped when the handler
    /// called `exit()` or hit a fatal error.
    stop: Option<hurah::StopHandle>,
    /// The last value `maxAttempts()` returned (used after a fatal error, when no user code
    /// may run any more).
    last_max: u64,
    /// A fatal error ended `handleTask()`: settle without calling PHP code again.
    fatal: bool,
}

impl Bridge {
    /// A bridge for the handler object `obj` (an `AbstractHandler` subclass instance).
    pub(crate) fn new(obj: *mut ZendObject) -> Self {
        // SAFETY: obj is a live handler object for the bridge's lifetime (held by the caller).
        let (name, event_type) =
            match ZendClassObject::<AbstractHandler>::from_zend_obj(unsafe { &*obj }) {
                Some(h) => (h.name.to_string(), h.event_type.to_string()),
                None => (String::new(), String::new()),
            };
        Bridge {
            obj,
            logger: None,
            log_context: (name, event_type),
            stop: None,
            last_max: 0,
            fatal: false,
        }
    }

    /// Stops `stop`'s worker after the task during which the handler called `exit()` or hit a
    /// fatal error.
    pub(crate) fn stop_with(mut self, stop: hurah::StopHandle) -> Self {
        self.stop = Some(stop);
        self
    }

    /// After `exit()` or a fatal error in `handleTask()`: no more tasks, the worker stops, and
    /// this attempt counts as failed with `reason`: retried (inbox, or delayed by
    /// `retryDelay()`) while `maxAttempts()` allows, else moved to `error/` with the reason.
    /// After a fatal error, `maxAttempts()` is not called again: its last value is used.
    fn abort(&mut self, task: &hurah::Task, reason: String, fatal: bool) -> Outcome {
        if let Some(s) = &self.stop {
            s.stop();
        }
        self.fatal = fatal;
        let max = if fatal {
            self.last_max
        } else {
            hurah::Handler::max_attempts(self)
        };
        if task.attempt() <= max {
            // The outcome carries no reason: say it here.
            hurah::Handler::log(
                self,
                Level::Warning,
                &format!(
                    "Task {} failed: {reason}; it will be retried",
                    task.sequence()
                ),
            );
            Outcome::Retry { delay: None }
        } else {
            Outcome::failure(reason)
        }
    }

    fn this(&self) -> &ZendObject {
        // SAFETY: see `new`.
        unsafe { &*self.obj }
    }

    fn take_failure_info(&mut self) -> Vec<String> {
        // SAFETY: see `new`; no other reference to the handler's Rust state is live now.
        match ZendClassObject::<AbstractHandler>::from_zend_obj_mut(unsafe { &mut *self.obj }) {
            Some(h) => std::mem::take(&mut h.failure_info),
            None => Vec::new(),
        }
    }

    /// Writes the line to stderr in one write (lines of concurrent workers never mix).
    pub(crate) fn default_log(&self, level: Level, message: &str) {
        use std::io::Write;
        let line = format!(
            "[{}] hurah.{}: {} ({} on {:?})\n",
            hurah::clock::iso8601(hurah::clock::now_ms()),
            level.as_str().to_uppercase(),
            message,
            self.log_context.0,
            self.log_context.1
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

impl RunLog for Bridge {
    fn log_to_stderr(&self, level: Level, message: &str) {
        self.default_log(level, message);
    }
}

/// PHP's message when `exit(status)` is in fact a fatal error PHP turned into an exit
/// (status 255 and a fatal last error: nothing survives a fatal error, so it is this one).
fn fatal_error_message(status: i32) -> Option<String> {
    if status != 255 {
        return None;
    }
    // E_ERROR | E_PARSE | E_CORE_ERROR | E_COMPILE_ERROR | E_USER_ERROR | E_RECOVERABLE_ERROR
    const FATAL: i32 = 1 | 4 | 16 | 64 | 256 | 4096;
    if crate::convert::last_error_type() & FATAL == 0 {
        return None;
    }
    last_error_message()
}

fn with_info(reason: String, info: &[String]) -> String {
    if info.is_empty() {
        return reason;
    }
    let mut r = reason;
    for (i, line) in info.iter().enumerate() {
        r.push_str(&format!("\n{}.) {line}", i + 1));
    }
    r
}

impl hurah::Handler for Bridge {
    fn handle_task(&mut self, task: &hurah::Task) -> Outcome {
        self.take_failure_info();
        crate::delay::take_retry_after();
        let ctx = match AbstractContext::from_task(task).into_context_zval() {
            Ok(c) => c,
            Err(e) => return Outcome::failure(format!("cannot build the context: {e:?}")),
        };
        let this = self.obj;
        // SAFETY: see `new`.
        let ret = guarded(|| unsafe { &*this }.try_call_method("handleTask", vec![&ctx]));
        let info = self.take_failure_info();
        let retry_after = crate::delay::take_retry_after();
        let Some(ret) = ret else {
            // A fatal error (E_ERROR, E_USER_ERROR...): PHP has already reported it and set the
            // exit status; settle the task, then `rethrow_pending()` lets PHP end.
            let reason = last_error_message().unwrap_or_else(|| "PHP fatal error".into());
            return self.abort(task, with_info(reason, &info), true);
        };
        if let Some(c) = catch() {
            if let Some(status) = c.exit {
                // exit() in the handler, or a fatal error PHP turned into an exit (memory
                // exhausted): this attempt failed; the exit goes on once the task is settled.
                defer_exit();
                if let Some(fatal) = fatal_error_message(status) {
                    return self.abort(task, with_info(fatal, &info), true);
                }
                let reason = format!("handler called exit({status})");
                return self.abort(task, with_info(reason, &info), false);
            }
            return Outcome::Failure {
                reason: with_info(c.message, &info),
                class: Some(c.class),
            };
        }
        let ret = match ret {
            Ok(r) => r,
            Err(e) => {
                return Outcome::failure(with_info(
                    format!("handleTask() could not be called: {e}"),
                    &info,
                ))
            }
        };
        match ret.long() {
            Some(code) => match Outcome::from_code(code) {
                Outcome::Failure { reason, class } => Outcome::Failure {
                    reason: with_info(reason, &info),
                    class,
                },
                Outcome::Invalid { reason } => Outcome::Invalid {
                    reason: with_info(reason, &info),
                },
                Outcome::Retry { delay: None } => {
                    // addFailureInfo() lines: kept if this retry hits the limit.
                    if !info.is_empty() {
                        task.say_why(with_info(String::new(), &info).trim_start());
                    }
                    Outcome::Retry { delay: retry_after }
                }
                o => o,
            },
            None => Outcome::failure(with_info(
                format!(
                    "handleTask() must return an int (Task::SUCCESS, FAILURE, RETRY or INVALID), {} returned",
                    type_name(&ret)
                ),
                &info,
            )),
        }
    }

    fn stop_requested(&mut self) -> bool {
        aborting() || crate::convert::exit_unwinding()
    }

    fn max_attempts(&mut self) -> u64 {
        if self.fatal {
            return self.last_max;
        }
        let this = self.obj;
        // SAFETY: see `new`. Guarded: it may run after a fatal error in handleTask().
        let r = guarded(|| call_method(unsafe { &*this }, "maxAttempts", vec![]));
        let Some(r) = r else {
            self.default_log(Level::Warning, "maxAttempts() failed fatally; using 0");
            return 0;
        };
        if let Some(c) = catch() {
            if c.exit.is_some() {
                defer_exit(); // settle first, exit after
            }
            self.log(
                Level::Warning,
                &format!("maxAttempts() threw {}: {}; using 0", c.class, c.message),
            );
            return 0;
        }
        let max = match r {
            Ok(Some(z)) => z.long().map(|n| n.max(0) as u64).unwrap_or(0),
            _ => 0,
        };
        self.last_max = max;
        max
    }

    /// `retryDelay($attempt)` if the subclass has it and it returns a number or DateInterval
    /// (0: straight back to the inbox); otherwise (no such method, or `null`) the
    /// `retryBackoff()` array, if any.
    fn retry_delay(&mut self, attempt: u64) -> Option<Duration> {
        if self.fatal {
            return None;
        }
        let n = attempt as i64;
        let this = self.obj;
        // SAFETY: see `new`. Guarded: it may run after a fatal error in handleTask().
        let r = guarded(|| call_method(unsafe { &*this }, "retryDelay", vec![&n]));
        let Some(r) = r else {
            self.default_log(
                Level::Warning,
                "retryDelay() failed fatally; retrying without delay",
            );
            return None;
        };
        if let Some(c) = catch() {
            if c.exit.is_some() {
                defer_exit(); // settle first, exit after
            }
            self.log(
                Level::Warning,
                &format!(
                    "retryDelay() threw {}: {}; retrying without delay",
                    c.class, c.message
                ),
            );
            return None;
        }
        if let Some(z) = r.ok().flatten().filter(|z| !z.is_null()) {
            return match crate::delay::delay_secs(&z, "retryDelay()") {
                Ok(d) => Some(d).filter(|d| !d.is_zero()),
                Err(e) => {
                    let _ = catch();
                    self.log(Level::Warning, &format!("{e}; retrying without delay"));
                    None
                }
            };
        }
        match crate::delay::handler_backoff(self.this()) {
            Ok(b) => b.map(|b| b.delay_for(attempt)),
            Err(e) => {
                self.log(Level::Warning, &format!("{e}; retrying without delay"));
                None
            }
        }
    }

    fn log(&mut self, level: Level, message: &str) {
        if self.fatal || bailed_out() {
            // After a fatal error no user code runs but what settling needs.
            self.default_log(level, message);
            return;
        }
        if self.logger.is_none() {
            let l = call_method(self.this(), "getLogger", vec![]);
            if let Some(c) = catch() {
                if c.exit.is_some() {
                    defer_exit(); // settle first, exit after
                }
                self.default_log(
                    Level::Warning,
                    &format!("getLogger() threw {}: {}", c.class, c.message),
                );
            }
            self.logger = Some(l.ok().flatten().filter(|z| z.is_object()));
        }
        let Some(Some(logger)) = &self.logger else {
            self.default_log(level, message);
            return;
        };
        let Some(obj) = logger.object() else { return };
        let mut ctx = ZendHashTable::new();
        let _ = ctx.insert("handler", self.log_context.0.as_str());
        let _ = ctx.insert("event_type", self.log_context.1.as_str());
        let mut ctx_zv = Zval::new();
        ctx_zv.set_hashtable(ctx);
        let message = message.to_string();
        let r = obj.try_call_method(level.as_str(), vec![&message, &ctx_zv]);
        if let Err(ext_php_rs::error::Error::Callable) = r {
            // A logger implemented with __call() (the method is not in its function table).
            let mut args = ZendHashTable::new();
            let _ = args.push(message.as_str());
            let _ = args.push(ctx_zv.shallow_clone());
            let mut args_zv = Zval::new();
            args_zv.set_hashtable(args);
            let name = level.as_str().to_string();
            let _ = obj.try_call_method("__call", vec![&name, &args_zv]);
        }
        if let Some(c) = catch() {
            if c.exit.is_some() {
                defer_exit(); // settle first, exit after
            }
            self.default_log(level, &message);
            self.default_log(
                Level::Warning,
                &format!("the logger threw {}: {}", c.class, c.message),
            );
        }
    }
}
