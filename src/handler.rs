//! The seam every adapter implements: PHP handlers, C callbacks and the shell runner.

use crate::outcome::Outcome;
use crate::task::Task;
use std::time::Duration;

/// Log levels, most severe first (PSR-3 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Something failed.
    Error = 0,
    /// A task failed or something odd happened.
    Warning = 1,
    /// Normal operation worth a line.
    Info = 2,
    /// Per-task detail.
    Debug = 3,
}

impl Level {
    /// The PSR-3 method name (`error`, `warning`, `info`, `debug`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// From a number (clamped) or a name.
    pub fn parse(value: &str) -> Option<Level> {
        match value.trim().to_ascii_lowercase().as_str() {
            "error" | "0" => Some(Level::Error),
            "warning" | "warn" | "1" => Some(Level::Warning),
            "info" | "2" => Some(Level::Info),
            "debug" | "3" => Some(Level::Debug),
            _ => None,
        }
    }

    /// The level named by `HURAH_LOG_LEVEL` (`error`, `warning`, `info`, `debug` or 0–3), or
    /// `info` when unset or unreadable.
    pub fn from_env() -> Level {
        std::env::var("HURAH_LOG_LEVEL")
            .ok()
            .and_then(|v| Level::parse(&v))
            .unwrap_or(Level::Info)
    }

    /// From a number, clamped to the known range.
    pub fn from_u8(n: u8) -> Level {
        match n {
            0 => Level::Error,
            1 => Level::Warning,
            2 => Level::Info,
            _ => Level::Debug,
        }
    }
}

/// Runs tasks of one listener. Implemented by the PHP `AbstractHandler` bridge, the C callback
/// bridge, the shell runner, and any closure `FnMut(&Task) -> Outcome`.
pub trait Handler {
    /// Runs one task and says what became of it. Exceptions, non-zero exits and the like are
    /// reported as [`Outcome::Failure`] with a reason.
    fn handle_task(&mut self, task: &Task) -> Outcome;

    /// Retries allowed before a task goes to `error/` (M retries = M+1 runs). Default 0.
    fn max_attempts(&mut self) -> u64 {
        0
    }

    /// Delay before retry number `attempt` (1 for the first retry). `None`: straight back to
    /// `inbox/`, as the original did.
    fn retry_delay(&mut self, _attempt: u64) -> Option<Duration> {
        None
    }

    /// Asked after each task: `true` makes `handle_once` and the workers stop claiming (the
    /// task just run is settled first, nothing stays claimed). The PHP extension says so
    /// after a handler called `exit()` or hit a fatal error. Default `false`.
    fn stop_requested(&mut self) -> bool {
        false
    }

    /// Receives the worker's log lines about this handler's tasks (already filtered by the
    /// worker's verbosity). The default writes to stderr with a timestamp and the level.
    fn log(&mut self, level: Level, message: &str) {
        // One write(2) per line, so lines of workers sharing a stderr never interleave.
        let line = format!(
            "[{}] hurah.{}: {}\n",
            crate::clock::iso8601(crate::clock::now_ms()),
            level.as_str().to_uppercase(),
            message
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    }
}

impl<F: FnMut(&Task) -> Outcome> Handler for F {
    fn handle_task(&mut self, task: &Task) -> Outcome {
        self(task)
    }
}
