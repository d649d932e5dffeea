//! `Hurah\Event\Task`: the return codes of `handleTask()`.

use ext_php_rs::prelude::*;

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
}
