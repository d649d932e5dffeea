//! `Hurah\Event\Worker`: several handlers served by one worker in one process (the loop is
//! [`crate::run`]).

use crate::exceptions::hurah as hurah_exception;
use crate::handler::{open_for_run, AbstractHandler};
use crate::late_registration;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, ZendHashTable, ZendObject, Zval};

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
        let opts = crate::run::options(options)?;
        crate::run::run(open_for_run(&objs)?, &opts, "Worker::run()")
    }
}
