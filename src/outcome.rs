//! What a handler says about a task, and where the task goes because of it.

use std::time::Duration;

/// Return codes shared by PHP (`Task::SUCCESS` ...), C (`HURAH_SUCCESS` ...) and the shell runner.
pub mod code {
    /// Done: the task goes to `archive/`.
    pub const SUCCESS: i64 = 0;
    /// Failed: the task goes to `error/` with the reason.
    pub const FAILURE: i64 = 1;
    /// Try again later (bounded by the handler's max attempts).
    pub const RETRY: i64 = 2;
    /// The task can never succeed: `error/`.
    pub const INVALID: i64 = 3;
}

/// The result of running a handler on one task.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Handled: to `archive/`.
    Success,
    /// The handler failed or threw: to `error/` with the reason (and exception class, if any).
    Failure {
        /// Human-readable reason, stored in the task file.
        reason: String,
        /// The exception class, when the failure was an exception.
        class: Option<String>,
    },
    /// Not now: back to `inbox/` (or `delayed/` after `delay`), or to `error/` once the handler's
    /// max attempts are used up.
    Retry {
        /// Wait at least this long before the next run (`None`: the handler's backoff, if any).
        delay: Option<Duration>,
    },
    /// The task is invalid: to `error/`.
    Invalid {
        /// Reason stored in the task file.
        reason: String,
    },
    /// The handler could not run the task at all (its program is missing or not executable,
    /// say): back to `inbox/` as it was, without spending an attempt. Every task would fare
    /// the same, so a handler that says this also stops its worker (the shell runner does).
    Release {
        /// Why, for the log (not stored: the task is untouched).
        reason: String,
    },
}

impl Outcome {
    /// Maps a return code. An unknown code is a [`Outcome::Failure`] naming it, so a task is
    /// never left in the inbox forever (the original's behaviour).
    pub fn from_code(code: i64) -> Outcome {
        match code {
            code::SUCCESS => Outcome::Success,
            code::FAILURE => Outcome::failure("Task failed"),
            code::RETRY => Outcome::Retry { delay: None },
            code::INVALID => Outcome::Invalid {
                reason: "Task was invalid".into(),
            },
            other => Outcome::failure(format!(
                "handler returned unknown status {other} (expected 0 SUCCESS, 1 FAILURE, 2 RETRY or 3 INVALID)"
            )),
        }
    }

    /// The reason stored when a task uses up its retries: the original's text, then what the
    /// last attempt said, if it said anything ("Hit retry limit which is set to: 3. Last
    /// attempt: smtp busy").
    pub fn retry_limit_reason(max_attempts: u64, last: Option<&str>) -> String {
        match last.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => {
                format!("Hit retry limit which is set to: {max_attempts}. Last attempt: {r}")
            }
            None => format!("Hit retry limit which is set to: {max_attempts}."),
        }
    }

    /// A failure with a reason and no exception class.
    pub fn failure(reason: impl Into<String>) -> Outcome {
        Outcome::Failure {
            reason: reason.into(),
            class: None,
        }
    }

    /// The code of this outcome.
    pub fn code(&self) -> i64 {
        match self {
            Outcome::Success => code::SUCCESS,
            Outcome::Failure { .. } => code::FAILURE,
            Outcome::Retry { .. } | Outcome::Release { .. } => code::RETRY,
            Outcome::Invalid { .. } => code::INVALID,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_limit_reason_adds_what_the_last_attempt_said() {
        assert_eq!(
            Outcome::retry_limit_reason(3, None),
            "Hit retry limit which is set to: 3."
        );
        assert_eq!(
            Outcome::retry_limit_reason(3, Some(" busy\n")),
            "Hit retry limit which is set to: 3. Last attempt: busy"
        );
    }

    #[test]
    fn codes_round_trip_and_unknown_is_failure() {
        for c in 0..4 {
            assert_eq!(Outcome::from_code(c).code(), c);
        }
        match Outcome::from_code(42) {
            Outcome::Failure { reason, .. } => assert!(reason.contains("42")),
            o => panic!("{o:?}"),
        }
    }
}
