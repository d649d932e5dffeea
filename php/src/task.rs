//! `Hurah\Event\Task`: the return codes of `handleTask()`, and `Task::retryAfter()`.

use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;

/// `Hurah\Event\Task`: `SUCCESS`, `FAILURE`, `RETRY`, `INVALID` (0..3, as the original).
#[php_class]
#[php(name = "Hurah\\Event\\Task")]
pub struct Task;

#[php_impl]
impl Task {
    /// Done: the task goes to `archive/`.
    pub const SUCCESS: i64 = hurah::code::SUCCESS;
    /// Failed: the task goes to `error/` with the reason.
    pub const FAILURE: i64 = hurah::code::FAILURE;
    /// Try again on a later run (at most `maxAttempts()` times), then `error/`.
    pub const RETRY: i64 = hurah::code::RETRY;
    /// The task can never succeed: `error/`.
    pub const INVALID: i64 = hurah::code::INVALID;

    /// `return Task::retryAfter(30);` from `handleTask()`: a RETRY that runs again after `$delay`
    /// (seconds, int or float, or a `DateInterval`) instead of the handler's `retryDelay()` /
    /// `retryBackoff()`. Returns `Task::RETRY`, so it fits an `: int` handleTask(); the delay is
    /// remembered for the task being handled (a per-process slot, cleared before every
    /// handleTask() call) and only applies if handleTask() returns that RETRY. `maxAttempts()`
    /// still bounds the retries. A negative, NAN or INF delay is an InvalidArgumentException.
    pub fn retry_after(delay: &Zval) -> PhpResult<i64> {
        let d = crate::delay::delay_of(delay, "retryAfter() delay")?;
        crate::delay::set_retry_after(d);
        Ok(hurah::code::RETRY)
    }
}
