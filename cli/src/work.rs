//! `hurah work`: the shell runner. Runs `sh -c CMD` per task of one listener, with the task
//! JSON on stdin and `HURAH_*` variables in the environment; the exit status is the outcome.

use crate::cli::{self, CliError};
use clap::Args;
use hurah::backend::{Backend, TaskState};
use hurah::{
    install_signal_handlers, EventType, FsyncPolicy, Handler, HandlerName, Level, Outcome,
    RunStats, StopHandle, Task, WorkerOptions,
};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Exit status of CMD that means RETRY (sysexits EX_TEMPFAIL).
pub const EXIT_RETRY: i32 = 75;
/// Exit status of CMD that means INVALID (sysexits EX_DATAERR).
pub const EXIT_INVALID: i32 = 65;

#[derive(Args, Debug)]
#[command(
    after_help = "CMD runs as `sh -c CMD` once per task, in its own process group, with \
the task file's JSON on stdin and HURAH_TASK_ID, HURAH_SEQUENCE, HURAH_ATTEMPT (from 1), \
HURAH_EVENT_TYPE, HURAH_ROOT, HURAH_LISTENER (EVENT_TYPE:HANDLER) and HURAH_TASK_FILE set. Its \
stdout and stderr pass through. If the worker dies (even by SIGKILL), CMD's whole process group \
is killed with it.\n\nExit status: 0 = SUCCESS (archive/), 75 EX_TEMPFAIL = RETRY \
(bounded by --max-attempts, after --retry-delay), 65 EX_DATAERR = INVALID (error/), anything \
else, or death by a signal = FAILURE (error/, the reason names the status and the last line of \
stderr). 126 and 127 (the shell could not run CMD: not executable, not found) stop the worker \
with exit status 69 (EX_UNAVAILABLE): the task is put back in inbox/ untouched (no attempt \
spent) and the backlog stays there.\n\n--stop-when-empty and --once do not wait for retries \
in delayed/: the summary says how many wait there and when the next is due.\n\nSignals: \
SIGTERM/SIGINT finish the current task and exit 0; SIGHUP rescans; SIGUSR1/SIGUSR2 raise/lower \
verbosity."
)]
pub struct WorkArgs {
    /// Queue root directory, or a postgresql:// URL (PostgreSQL backend)
    root: PathBuf,
    /// Event type to listen to (it also receives every more specific type; "" for all)
    event_type: String,
    /// Handler name (the listener directory is <event_type>/<handler_name>_listener)
    handler_name: String,
    /// Shell command run for each task
    #[arg(long, value_name = "CMD")]
    exec: String,
    /// Retries allowed before a task goes to error/ (as maxAttempts(): N retries = N+1 runs)
    #[arg(long, default_value_t = 0, value_name = "N")]
    max_attempts: u64,
    /// Delay before a retried task runs again (30s, 5m, or seconds); default: at once
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    retry_delay: Option<Duration>,
    /// Exit after this many tasks
    #[arg(long, value_name = "N")]
    max_jobs: Option<u64>,
    /// Exit after this long (checked between tasks and while idle)
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    max_time: Option<Duration>,
    /// Exit when resident memory exceeds this (bytes, or 128M, 1G), checked between tasks
    #[arg(long, value_name = "SIZE", value_parser = cli::parse_size)]
    memory_limit: Option<u64>,
    /// Exit as soon as nothing is due (delayed tasks not yet due do not count)
    #[arg(long)]
    stop_when_empty: bool,
    /// Handle what is due once, then exit (the original handle())
    #[arg(long, conflicts_with_all = ["stop_when_empty", "max_time", "max_jobs", "memory_limit"])]
    once: bool,
    /// PostgreSQL: settle each claimed batch in one statement (about twice the throughput; if
    /// the worker dies mid-batch, the batch's finished tasks run again). Ignored on a directory
    #[arg(long)]
    group_commit: bool,
    /// Safety rescan (and dead-worker recovery) interval while idle
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "30s")]
    rescan_interval: Duration,
    /// always: fsync before each move returns; never: for tmpfs and throughput
    #[arg(long, value_name = "always|never", value_parser = parse_fsync)]
    fsync: Option<FsyncPolicy>,
    /// More log output (-v: debug)
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Less log output (-q: warnings only, -qq: errors only, no summary)
    #[arg(short, long, action = clap::ArgAction::Count)]
    quiet: u8,
}

pub fn parse_fsync(s: &str) -> Result<FsyncPolicy, String> {
    FsyncPolicy::parse(s).map_err(|e| e.to_string())
}

/// Exit status of `sh -c CMD` when CMD was found but could not be executed.
const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status of `sh -c CMD` when CMD was not found.
const EXIT_NOT_FOUND: i32 = 127;

/// A process outside the worker that kills the running command's process group if the worker
/// dies without saying goodbye (SIGKILL, OOM killer). The worker tells it the group of each
/// command it starts (`<pgid>\n`) and `0\n` when it ends; when its stdin reaches end-of-file
/// (every copy of the pipe's write end is closed: the worker is gone), it kills the last group
/// named, if any. It lives in a process group of its own, so a Ctrl-C meant for the worker
/// does not reach it.
struct Guard {
    child: Child,
    tell: Option<ChildStdin>,
}

const GUARD_SCRIPT: &str = "cur=0; while IFS= read -r pg; do cur=$pg; done; \
[ \"$cur\" = 0 ] || kill -s KILL -- \"-$cur\" 2>/dev/null; exit 0";

impl Guard {
    fn start() -> std::io::Result<Guard> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(GUARD_SCRIPT)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let tell = child.stdin.take();
        Ok(Guard { child, tell })
    }

    /// `pgid` is running (0: nothing is).
    fn watch(&mut self, pgid: u32) {
        if let Some(t) = self.tell.as_mut() {
            let _ = t.write_all(format!("{pgid}\n").as_bytes());
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Nothing is running; closing our end of the pipe lets it exit without killing.
        self.watch(0);
        drop(self.tell.take());
        let _ = self.child.wait();
    }
}

/// The shell runner: a [`Handler`] that runs a command per task.
pub struct ShellHandler {
    cmd: String,
    root: String,
    listener: String,
    max_attempts: u64,
    retry_delay: Option<Duration>,
    /// Lines above this level are dropped here (for `--once`; the long-running worker filters
    /// by its own, signal-adjustable verbosity, and this is Debug).
    level: Level,
    /// Kills the running command if the worker dies (started with the first command).
    guard: Option<Guard>,
    /// Set when CMD cannot run at all (126/127): every further task is released untouched.
    fatal: Arc<Mutex<Option<String>>>,
    /// Stops the long-running worker when CMD cannot run.
    stop: Option<StopHandle>,
}

impl ShellHandler {
    fn fatal(&self) -> Option<String> {
        self.fatal.lock().map(|f| f.clone()).unwrap_or(None)
    }

    /// CMD cannot run: remember why (every further task is released untouched), stop the
    /// worker, and put this task back.
    fn give_up(&mut self, reason: String) -> Outcome {
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert_with(|| reason.clone());
        }
        if let Some(s) = &self.stop {
            s.stop();
        }
        Outcome::Release { reason }
    }
}

impl Handler for ShellHandler {
    fn handle_task(&mut self, task: &Task) -> Outcome {
        if let Some(reason) = self.fatal() {
            return Outcome::Release { reason };
        }
        if self.guard.is_none() {
            match Guard::start() {
                Ok(g) => self.guard = Some(g),
                Err(e) => {
                    // No shell to start: CMD could not run either. Stop, as for 126/127.
                    return self.give_up(format!(
                        "cannot start sh (for the process that kills sh -c {:?} if this worker \
                         dies): {e}; the task was put back in inbox/ without spending an attempt",
                        self.cmd
                    ));
                }
            }
        }
        let parent = std::process::id() as libc::pid_t;
        let mut command = Command::new("sh");
        // SAFETY: the closure runs in the child between fork and exec and only makes
        // async-signal-safe calls (prctl, getppid).
        unsafe {
            command.pre_exec(move || {
                // Die with the worker (a second line of defence behind the guard, which
                // also reaches CMD's children).
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            })
        };
        let mut child = match command
            .arg("-c")
            .arg(&self.cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .env("HURAH_TASK_ID", task.id())
            .env("HURAH_SEQUENCE", task.sequence().to_string())
            .env("HURAH_ATTEMPT", task.attempt().to_string())
            .env("HURAH_EVENT_TYPE", task.event_type())
            .env("HURAH_ROOT", &self.root)
            .env("HURAH_LISTENER", &self.listener)
            .env("HURAH_TASK_FILE", task.path())
            // Own process group: a Ctrl-C meant for the worker lets the task finish.
            .process_group(0)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return Outcome::failure(format!("cannot run sh -c {:?}: {e}", self.cmd)),
        };
        // The child leads its own group (process_group(0)): its pid is the group id.
        if let Some(g) = self.guard.as_mut() {
            g.watch(child.id());
        }
        // Feed stdin from a thread, so a command that writes much to stderr before reading
        // cannot deadlock us. A command that ignores stdin makes this fail with EPIPE: fine.
        let json = task.to_json();
        let stdin = child.stdin.take();
        let feeder = std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                let _ = s.write_all(json.as_bytes());
            }
        });
        let mut last_line = String::new();
        if let Some(err) = child.stderr.take() {
            let mut out = std::io::stderr();
            for mut line in BufReader::new(err).split(b'\n').map_while(Result::ok) {
                // One write(2) per line: no mid-line interleaving with other workers.
                line.push(b'\n');
                let _ = out.write_all(&line);
                line.pop();
                let text = String::from_utf8_lossy(&line).trim().to_string();
                if !text.is_empty() {
                    last_line = text;
                }
            }
        }
        let _ = feeder.join();
        let waited = child.wait();
        if let Some(g) = self.guard.as_mut() {
            g.watch(0);
        }
        let status = match waited {
            Ok(s) => s,
            Err(e) => return Outcome::failure(format!("waiting for sh -c {:?}: {e}", self.cmd)),
        };
        let tail = if last_line.is_empty() {
            String::new()
        } else {
            format!(": {last_line}")
        };
        match (status.code(), status.signal()) {
            (Some(0), _) => Outcome::Success,
            (Some(EXIT_RETRY), _) => {
                // Stored if this retry uses up the attempts.
                task.say_why(format!("command exited with status 75 (EX_TEMPFAIL){tail}"));
                Outcome::Retry { delay: None }
            }
            (Some(code @ (EXIT_CANNOT_EXECUTE | EXIT_NOT_FOUND)), _) => {
                // The shell could not run CMD: every task would end the same way. Put this
                // one back untouched and stop, rather than send the backlog to error/.
                let reason = format!(
                    "cannot run the command {:?}: sh exited with status {code} ({}){tail}; \
                     the task was put back in inbox/ without spending an attempt",
                    self.cmd,
                    if code == EXIT_NOT_FOUND {
                        "command not found"
                    } else {
                        "found but not executable"
                    }
                );
                self.give_up(reason)
            }
            (Some(EXIT_INVALID), _) => Outcome::Invalid {
                reason: format!("command exited with status 65 (EX_DATAERR){tail}"),
            },
            (Some(code), _) => Outcome::failure(format!("command exited with status {code}{tail}")),
            (None, Some(sig)) => Outcome::failure(format!(
                "command killed by signal {sig} ({}){tail}",
                signal_name(sig)
            )),
            (None, None) => Outcome::failure(format!("command ended abnormally{tail}")),
        }
    }

    fn max_attempts(&mut self) -> u64 {
        self.max_attempts
    }

    fn retry_delay(&mut self, _attempt: u64) -> Option<Duration> {
        self.retry_delay
    }

    fn log(&mut self, level: Level, message: &str) {
        if level <= self.level {
            cli::say(&format!(
                "[{}] hurah.{}: {}",
                hurah::clock::iso8601(hurah::clock::now_ms()),
                level.as_str().to_uppercase(),
                message
            ));
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
    }
}

pub fn run(a: WorkArgs) -> Result<(), CliError> {
    let event_type = EventType::parse(&a.event_type)?;
    let name = HandlerName::new(&a.handler_name)?;
    let fsync = match a.fsync {
        Some(f) => f,
        None => FsyncPolicy::from_env()?,
    };
    if a.rescan_interval.is_zero() {
        return Err(cli::usage("--rescan-interval", "must be more than 0"));
    }
    let level = match (a.verbose, a.quiet) {
        (v, _) if v > 0 => Level::Debug,
        (_, 0) => Level::from_env(),
        (_, 1) => Level::Warning,
        _ => Level::Error,
    };
    let b = cli::open(&a.root, fsync)?;
    let label = cli::label(&event_type, &name);
    let queue = b.open_listener(&event_type, &name)?;
    let mut handler = ShellHandler {
        cmd: a.exec.clone(),
        root: b.describe(),
        listener: label.clone(),
        max_attempts: a.max_attempts,
        retry_delay: a.retry_delay,
        level,
        guard: None,
        fatal: Arc::new(Mutex::new(None)),
        stop: None,
    };
    let fatal = handler.fatal.clone();
    let (stats, stopped) = if a.once {
        drop(b);
        let mut queue = queue;
        (queue.handle_once(&mut handler)?, false)
    } else {
        let options = WorkerOptions {
            max_jobs: a.max_jobs,
            max_time: a.max_time,
            memory_limit: a.memory_limit,
            stop_when_empty: a.stop_when_empty,
            rescan_interval: a.rescan_interval,
            group_commit: a.group_commit,
            ..WorkerOptions::default()
        };
        let mut worker = b.worker();
        // The worker needs nothing else from the backend (on PostgreSQL: one connection less).
        let root = b.describe();
        drop(b);
        worker.verbosity().store(level as u8, Ordering::SeqCst);
        let stop = worker.stop_handle();
        handler.stop = Some(stop.clone());
        let _signals = install_signal_handlers(&stop, worker.verbosity())?;
        handler.log(
            Level::Info,
            &format!(
                "hurah work: watching {label} on {root} (pid {})",
                std::process::id()
            ),
        );
        // From here the worker filters by its own verbosity, which signals adjust.
        handler.level = Level::Debug;
        worker.add(queue, Box::new(handler))?;
        let stats = worker.run(&options)?;
        // Dropping the worker drops the handler, and with it the guard process.
        drop(worker);
        (stats, stop.is_stopped())
    };
    let fatal = fatal.lock().map(|f| f.clone()).unwrap_or(None);
    if let Some(reason) = fatal {
        cli::say(&format!("hurah work {label}: stopped: {reason}"));
        return Err(CliError::Exit(cli::EX_UNAVAILABLE));
    }
    if a.quiet < 2 {
        cli::say(&summary(&label, &stats, stopped));
        if a.once || a.stop_when_empty {
            // Retries waiting in delayed/ are not "due": say so, rather than look finished.
            if let Some(w) = waiting(&a.root, fsync, &event_type, &name) {
                cli::say(&format!("hurah work {label}: {w}"));
            }
        }
    }
    Ok(())
}

/// `N task(s) wait in delayed/, next due at T (in D)`, or None if none wait (or the backend
/// cannot be asked).
fn waiting(
    root: &std::path::Path,
    fsync: FsyncPolicy,
    event_type: &EventType,
    name: &HandlerName,
) -> Option<String> {
    let b: Box<dyn Backend> = cli::open_existing(root, fsync).ok()?;
    let delayed = b.tasks(event_type, name, TaskState::Delayed).ok()?;
    let next = delayed.iter().filter_map(|t| t.due_ms).min()?;
    let now = hurah::clock::now_ms();
    Some(format!(
        "{} task(s) wait in delayed/, next due at {} ({}); this run did not wait for them",
        delayed.len(),
        cli::iso_ms(next),
        if next > now {
            format!("in {}", cli::human_age(next - now))
        } else {
            "due now".to_string()
        }
    ))
}

fn summary(label: &str, s: &RunStats, stopped: bool) -> String {
    format!(
        "hurah work {label}: handled {}, succeeded {}, failed {}, retried {}, recovered {}{}",
        s.handled,
        s.succeeded,
        s.failed,
        s.retried,
        s.recovered,
        if stopped { " (stopped by signal)" } else { "" }
    )
}
