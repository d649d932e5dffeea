//! hurah reliability torture campaigns (issue 7): kill -9 and contention.
//!
//! ```text
//! cargo run --release --example torture -- kill [--kills N] [--dispatchers D] [--workers W]
//!                                               [--dir DIR] [--seed S] [--max-gap-ms MS]
//! cargo run --release --example torture -- contention [--tasks N] [--workers W]
//!                                               [--dispatchers D] [--dir DIR] [--fsync always|never]
//! ```
//!
//! Each campaign prints `key value` lines, then `verdict PASS` or `verdict FAIL`; the exit status
//! is 1 when an invariant is broken. `scripts/torture.sh` runs them and writes RELIABILITY.md.
//!
//! The child processes (dispatchers, workers) are this same binary re-executed with
//! `HURAH_TORTURE_CHILD` set. `tests/torture.rs` compiles this file as a module (`#[path]`) for
//! the short versions in the default test run, so the campaigns and their checker are one piece
//! of code.
//!
//! Kill campaign invariants (the README's guarantees):
//! * every copy of every completed dispatch ends in `archive/` or `error/`, exactly once (lost 0);
//! * a dispatch killed half-way leaves 0..=n whole copies, never a torn file;
//! * no file in inbox/archive/error/claimed/delayed fails to parse, no `CorruptTask` in `error/`;
//! * a task runs again only after a retry outcome, or after the process that ran it was killed
//!   (the `K <pid>` line of the kill sits between the two runs in the shared log): at-least-once
//!   exactly where the README allows it.

#![allow(dead_code)]

use hurah::*;
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the child role.
pub const CHILD_ENV: &str = "HURAH_TORTURE_CHILD";
const ROOT_ENV: &str = "HURAH_TORTURE_ROOT";
const DIR_ENV: &str = "HURAH_TORTURE_DIR";
const PREFIX_ENV: &str = "HURAH_TORTURE_PREFIX";
const SEED_ENV: &str = "HURAH_TORTURE_SEED";
const N_ENV: &str = "HURAH_TORTURE_N";
const SLEEP_ENV: &str = "HURAH_TORTURE_SLEEP_US";
const PAUSE_ENV: &str = "HURAH_TORTURE_PAUSE_US";

/// Retries a kill-campaign handler allows (so 4 runs at most).
pub const MAX_ATTEMPTS: u64 = 3;

// ---------------------------------------------------------------------------------------------
// Small tools: a PRNG (no dependency), an O_APPEND line log, child spawning.

/// splitmix64: deterministic, good enough to pick victims and delays.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// A log file shared by several processes: O_APPEND and one write(2) per line, so lines never
/// interleave and the file order is the order of the writes.
pub struct Log(File);

impl Log {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Log {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        Log(f)
    }
    /// Appends one line with a single write(2).
    pub fn line(&self, text: &str) {
        let mut buf = String::with_capacity(text.len() + 1);
        buf.push_str(text);
        buf.push('\n');
        let n = (&self.0)
            .write(buf.as_bytes())
            .unwrap_or_else(|e| panic!("append to log: {e}"));
        assert_eq!(n, buf.len(), "short write to the log");
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set")))
}

/// Makes `base` (a command that re-executes this program in child mode) into a child of `role`,
/// dying with the controller (PR_SET_PDEATHSIG), stdout discarded, stderr appended to `err`.
fn child_command(mut cmd: Command, role: &str, dir: &Path, err: &Path) -> Command {
    let errf = OpenOptions::new()
        .create(true)
        .append(true)
        .open(err)
        .expect("open children's stderr log");
    cmd.env(CHILD_ENV, role)
        .env(DIR_ENV, dir)
        .env(ROOT_ENV, dir.join("q"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(errf);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd
}

/// The child entry point: runs the role named by `HURAH_TORTURE_CHILD` and exits the process.
/// Returns without doing anything when the variable is not set.
pub fn child_main_if_requested() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let code = match role.as_str() {
        "kill-dispatcher" => kill_dispatcher_main(),
        "kill-worker" => kill_worker_main(),
        "contention-dispatcher" => contention_dispatcher_main(),
        "contention-worker" => contention_worker_main(),
        other => {
            eprintln!("torture: unknown child role {other:?}");
            2
        }
    };
    std::process::exit(code);
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map(|e| e.count()).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Kill -9 campaign.

/// The listeners of the kill campaign, as (event type, handler name). A dispatch of
/// `order/created` reaches all four (its level, `order` and the root); `order/paid` reaches
/// `order:audit` and the root listener.
pub const KILL_LISTENERS: [(&str, &str); 4] = [
    ("order", "audit"),
    ("order/created", "mailer"),
    ("order/created", "stock"),
    ("", "log"),
];

fn kill_listeners(root: &Path) -> Vec<Listener> {
    KILL_LISTENERS
        .iter()
        .map(|(t, n)| {
            Layout::new(root).listener(&EventType::parse(t).unwrap(), &HandlerName::new(n).unwrap())
        })
        .collect()
}

/// Indices (into [`KILL_LISTENERS`]) a dispatch of `ty` reaches.
fn reached(ty: &str) -> &'static [usize] {
    match ty {
        "order/created" => &[0, 1, 2, 3],
        "order/paid" => &[0, 3],
        _ => &[],
    }
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// What the campaign handler does with a task, decided by its key (so the checker knows):
/// 5% FAILURE, 5% RETRY once, 5% RETRY forever (ends in error/ "retry limit"), 5% RETRY once
/// with a 20 ms delay (through delayed/), the rest SUCCESS.
pub fn planned_outcome(key: &str, attempt: u64) -> Outcome {
    match fnv(key) % 20 {
        0 => Outcome::failure("torture: planned failure"),
        1 if attempt == 1 => Outcome::Retry { delay: None },
        2 => Outcome::Retry { delay: None },
        3 if attempt == 1 => Outcome::Retry {
            delay: Some(Duration::from_millis(20)),
        },
        _ => Outcome::Success,
    }
}

fn letter(o: &Outcome) -> char {
    match o {
        Outcome::Success => 'S',
        Outcome::Failure { .. } => 'F',
        Outcome::Retry { .. } => 'R',
        Outcome::Invalid { .. } => 'I',
        Outcome::Release { .. } => 'L',
    }
}

/// The campaign handler: logs `S <listener> <key> <attempt> <pid>` before its body and
/// `E <listener> <key> <attempt> <pid> <outcome>` after it.
struct LoggingHandler {
    idx: usize,
    log: std::rc::Rc<Log>,
    sleep_us: u64,
    rng: Rng,
    pid: u32,
}

impl Handler for LoggingHandler {
    fn handle_task(&mut self, t: &Task) -> Outcome {
        let key = t.payload()["k"].as_str().unwrap_or("?").to_string();
        let a = t.attempt();
        self.log
            .line(&format!("S {} {key} {a} {}", self.idx, self.pid));
        if self.sleep_us > 0 {
            std::thread::sleep(Duration::from_micros(self.rng.below(self.sleep_us)));
        }
        let out = planned_outcome(&key, a);
        self.log.line(&format!(
            "E {} {key} {a} {} {}",
            self.idx,
            self.pid,
            letter(&out)
        ));
        out
    }
    fn max_attempts(&mut self) -> u64 {
        MAX_ATTEMPTS
    }
    fn log(&mut self, _: Level, _: &str) {}
}

fn kill_worker(
    root: &Path,
    log: std::rc::Rc<Log>,
    sleep_us: u64,
    seed: u64,
) -> Result<Worker<'static>> {
    let pid = std::process::id();
    let mut w = Worker::new();
    for (idx, l) in kill_listeners(root).into_iter().enumerate() {
        w.add(
            Queue::open(l, FsyncPolicy::Never)?,
            Box::new(LoggingHandler {
                idx,
                log: log.clone(),
                sleep_us,
                rng: Rng::new(seed ^ idx as u64),
                pid,
            }),
        );
    }
    Ok(w)
}

fn kill_worker_main() -> i32 {
    let dir = env_path(DIR_ENV);
    let root = env_path(ROOT_ENV);
    let log = std::rc::Rc::new(Log::open(&dir.join("runs.log")));
    let seed = env_u64(SEED_ENV, 1) ^ std::process::id() as u64;
    let opts = WorkerOptions {
        rescan_interval: Duration::from_millis(100),
        ..Default::default()
    };
    let res = kill_worker(&root, log, env_u64(SLEEP_ENV, 0), seed).and_then(|mut w| w.run(&opts));
    match res {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("torture worker {}: {e}", std::process::id());
            1
        }
    }
}

fn kill_dispatcher_main() -> i32 {
    let dir = env_path(DIR_ENV);
    let root = env_path(ROOT_ENV);
    let prefix = std::env::var(PREFIX_ENV).unwrap_or_else(|_| "x".into());
    let pause = env_u64(PAUSE_ENV, 1000);
    let mut rng = Rng::new(env_u64(SEED_ENV, 1) ^ fnv(&prefix));
    let log = Log::open(&dir.join("dispatch.log"));
    let pid = std::process::id();
    let d = match Dispatcher::new(&root, FsyncPolicy::Never) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("torture dispatcher {pid}: {e}");
            return 1;
        }
    };
    let types = [
        EventType::parse("order/created").unwrap(),
        EventType::parse("order/paid").unwrap(),
    ];
    for i in 0u64.. {
        let ty = &types[rng.below(2) as usize];
        let key = format!("{prefix}.{i}");
        log.line(&format!("I {key} {ty} {pid}"));
        match d.dispatch(
            ty,
            &format!(
                "{{\"k\":\"{key}\",\"pad\":\"{}\"}}",
                "x".repeat(rng.below(200) as usize)
            ),
        ) {
            Ok(r) => log.line(&format!("D {key} {} {pid}", r.deliveries.len())),
            Err(e) => {
                eprintln!("torture dispatcher {pid}: dispatch {key}: {e}");
                return 1;
            }
        }
        if pause > 0 {
            std::thread::sleep(Duration::from_micros(rng.below(pause)));
        }
    }
    0
}

/// Parameters of a kill campaign.
#[derive(Clone, Debug)]
pub struct KillConfig {
    /// Work directory (the queue root is `<dir>/q`; logs live next to it).
    pub dir: PathBuf,
    /// Dispatcher processes running at any time.
    pub dispatchers: usize,
    /// Worker processes running at any time (each serves all four listeners).
    pub workers: usize,
    /// SIGKILLs to deliver.
    pub kills: usize,
    /// Pause before each kill: uniform in 0..=this many ms.
    pub max_gap_ms: u64,
    /// Handler body: sleeps uniform 0..this many µs (widens the mid-handler window).
    pub handler_sleep_us: u64,
    /// Dispatchers pause uniform 0..this many µs between dispatches.
    pub dispatch_pause_us: u64,
    /// PRNG seed (printed, so a failing run can be replayed).
    pub seed: u64,
}

/// What a kill campaign found. `ok()` says whether every invariant held.
#[derive(Clone, Debug, Default)]
pub struct KillReport {
    /// SIGKILLs delivered to dispatchers / workers during the campaign.
    pub kills_dispatcher: u64,
    /// SIGKILLs delivered to workers.
    pub kills_worker: u64,
    /// Children that exited on their own (crash, error): must be 0.
    pub unexpected_exits: u64,
    /// First lines of their stderr, for the report.
    pub unexpected_messages: Vec<String>,
    /// Dispatch calls that returned (each promised n copies).
    pub dispatched: u64,
    /// Dispatch calls whose process was killed before they returned.
    pub dispatch_killed: u64,
    /// Of those: no copy published / some but not all / all.
    pub killed_unpublished: u64,
    /// Killed dispatches with some but not all copies published.
    pub killed_partial: u64,
    /// Killed dispatches with every copy published.
    pub killed_complete: u64,
    /// Task copies found in archive/ or error/.
    pub copies: u64,
    /// Copies in archive/.
    pub archived: u64,
    /// Copies in error/ by handler FAILURE.
    pub error_failure: u64,
    /// Copies in error/ after the retry limit.
    pub error_retry_limit: u64,
    /// Copies in error/ because workers kept dying on them (attempts used up).
    pub error_worker_died: u64,
    /// Copies the handler completed at least once.
    pub handled: u64,
    /// Handler runs started / completed.
    pub runs_started: u64,
    /// Handler runs that logged their end.
    pub runs_completed: u64,
    /// RETRY outcomes.
    pub retries: u64,
    /// Runs repeated because the worker was killed (explained duplicates).
    pub duplicates: u64,
    /// Of those, the kill hit inside the handler body (start without end).
    pub duplicates_mid_handler: u64,
    /// Of those, the kill hit after the body, before the outcome was settled.
    pub duplicates_after_handler: u64,
    /// Repeated runs no kill explains: must be 0.
    pub unexplained: u64,
    /// Copies of completed dispatches found nowhere: must be 0.
    pub lost: u64,
    /// Files that do not parse, or CorruptTask entries in error/: must be 0.
    pub torn: u64,
    /// The same copy in two files: must be 0.
    pub duplicate_files: u64,
    /// Copies still in inbox/, delayed/ or claimed/ after the drain: must be 0.
    pub stuck: u64,
    /// Terminal state that contradicts the runs (e.g. archived without a SUCCESS run): must be 0.
    pub inconsistent: u64,
    /// Files whose key no dispatcher logged: must be 0.
    pub unknown: u64,
    /// Leftover files in tmp/ (allowed: staged by killed processes; swept after 10 minutes).
    pub tmp_leftovers: u64,
    /// Seconds of the kill phase and of the drain.
    pub kill_secs: f64,
    /// Seconds the final drain took.
    pub drain_secs: f64,
    /// Up to 10 examples of each violation.
    pub problems: Vec<String>,
}

impl KillReport {
    /// True when every invariant held.
    pub fn ok(&self) -> bool {
        self.unexpected_exits == 0
            && self.unexplained == 0
            && self.lost == 0
            && self.torn == 0
            && self.duplicate_files == 0
            && self.stuck == 0
            && self.inconsistent == 0
            && self.unknown == 0
    }

    /// `key value` lines.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![
            format!("kills {}", self.kills_dispatcher + self.kills_worker),
            format!("kills_dispatcher {}", self.kills_dispatcher),
            format!("kills_worker {}", self.kills_worker),
            format!("unexpected_exits {}", self.unexpected_exits),
            format!("dispatched {}", self.dispatched),
            format!("dispatch_killed {}", self.dispatch_killed),
            format!("dispatch_killed_unpublished {}", self.killed_unpublished),
            format!("dispatch_killed_partial {}", self.killed_partial),
            format!("dispatch_killed_complete {}", self.killed_complete),
            format!("copies {}", self.copies),
            format!("handled {}", self.handled),
            format!("runs_started {}", self.runs_started),
            format!("runs_completed {}", self.runs_completed),
            format!("retries {}", self.retries),
            format!("archived {}", self.archived),
            format!("error_failure {}", self.error_failure),
            format!("error_retry_limit {}", self.error_retry_limit),
            format!("error_worker_died {}", self.error_worker_died),
            format!("duplicates {}", self.duplicates),
            format!("duplicates_mid_handler {}", self.duplicates_mid_handler),
            format!("duplicates_after_handler {}", self.duplicates_after_handler),
            format!("duplicates_unexplained {}", self.unexplained),
            format!("lost {}", self.lost),
            format!("torn {}", self.torn),
            format!("duplicate_files {}", self.duplicate_files),
            format!("stuck {}", self.stuck),
            format!("inconsistent {}", self.inconsistent),
            format!("unknown {}", self.unknown),
            format!("tmp_leftovers {}", self.tmp_leftovers),
            format!("kill_phase_secs {:.1}", self.kill_secs),
            format!("drain_secs {:.1}", self.drain_secs),
        ];
        for p in &self.problems {
            v.push(format!("problem {p}"));
        }
        for m in &self.unexpected_messages {
            v.push(format!("child_stderr {m}"));
        }
        v
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < 30 {
            self.problems.push(p);
        }
    }
}

struct Slot {
    dispatcher: bool,
    child: Child,
    gen: u64,
}

/// Runs a kill campaign. `base` builds a command that re-executes this program in child mode
/// (the caller adds nothing else; the role and paths are set here).
pub fn kill_campaign(cfg: &KillConfig, base: &dyn Fn() -> Command) -> KillReport {
    let dir = &cfg.dir;
    let root = dir.join("q");
    fs::create_dir_all(&root).unwrap();
    for l in kill_listeners(&root) {
        Queue::open(l, FsyncPolicy::Never).unwrap();
    }
    let err_path = dir.join("children.err");
    let runs = Log::open(&dir.join("runs.log"));
    let mut rng = Rng::new(cfg.seed);
    let mut report = KillReport::default();
    let spawn = |dispatcher: bool, slot: usize, gen: u64| -> Child {
        let role = if dispatcher {
            "kill-dispatcher"
        } else {
            "kill-worker"
        };
        let mut c = child_command(base(), role, dir, &err_path);
        c.env(PREFIX_ENV, format!("d{slot}g{gen}"))
            .env(SEED_ENV, (cfg.seed ^ (slot as u64) << 32 ^ gen).to_string())
            .env(SLEEP_ENV, cfg.handler_sleep_us.to_string())
            .env(PAUSE_ENV, cfg.dispatch_pause_us.to_string());
        c.spawn().expect("spawn torture child")
    };
    let mut slots: Vec<Slot> = Vec::new();
    for i in 0..cfg.workers {
        slots.push(Slot {
            dispatcher: false,
            child: spawn(false, i, 0),
            gen: 0,
        });
    }
    for i in 0..cfg.dispatchers {
        slots.push(Slot {
            dispatcher: true,
            child: spawn(true, cfg.workers + i, 0),
            gen: 0,
        });
    }
    let started = Instant::now();
    let mut kills = 0;
    while kills < cfg.kills {
        std::thread::sleep(Duration::from_millis(rng.below(cfg.max_gap_ms + 1)));
        for (i, s) in slots.iter_mut().enumerate() {
            if let Ok(Some(status)) = s.child.try_wait() {
                report.unexpected_exits += 1;
                report.problem(format!(
                    "{} pid {} exited on its own: {status}",
                    if s.dispatcher { "dispatcher" } else { "worker" },
                    s.child.id()
                ));
                s.gen += 1;
                s.child = spawn(s.dispatcher, i, s.gen);
            }
        }
        let i = rng.below(slots.len() as u64) as usize;
        let s = &mut slots[i];
        let pid = s.child.id();
        let _ = s.child.kill();
        let status = s.child.wait().unwrap();
        if status.signal() != Some(libc::SIGKILL) {
            report.unexpected_exits += 1;
            report.problem(format!("pid {pid} had already exited: {status}"));
        }
        runs.line(&format!("K {pid}"));
        if s.dispatcher {
            report.kills_dispatcher += 1;
        } else {
            report.kills_worker += 1;
        }
        kills += 1;
        s.gen += 1;
        s.child = spawn(s.dispatcher, i, s.gen);
    }
    // Stop everyone the hard way too: the final state must survive that as well.
    for s in &mut slots {
        let pid = s.child.id();
        let _ = s.child.kill();
        let status = s.child.wait().unwrap();
        if status.signal() != Some(libc::SIGKILL) {
            report.unexpected_exits += 1;
            report.problem(format!("pid {pid} had already exited: {status}"));
        }
        runs.line(&format!("K {pid}"));
    }
    report.kill_secs = started.elapsed().as_secs_f64();
    let errs = fs::read_to_string(&err_path).unwrap_or_default();
    report.unexpected_messages = errs.lines().take(10).map(str::to_string).collect();

    // Drain with a final worker in this process (never killed).
    let drain_started = Instant::now();
    let log = std::rc::Rc::new(Log::open(&dir.join("runs.log")));
    let listeners = kill_listeners(&root);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut w = kill_worker(&root, log.clone(), 0, cfg.seed).expect("drain worker");
        let opts = WorkerOptions {
            stop_when_empty: true,
            rescan_interval: Duration::from_millis(50),
            ..Default::default()
        };
        if let Err(e) = w.run(&opts) {
            report.problem(format!("drain worker: {e}"));
            report.inconsistent += 1;
            break;
        }
        drop(w);
        let busy = listeners.iter().any(|l| {
            count_files(&l.state_dir(State::Inbox)) > 0
                || count_files(&l.state_dir(State::Delayed)) > 0
                || fs::read_dir(l.state_dir(State::Claimed))
                    .map(|e| e.flatten().any(|d| count_files(&d.path()) > 0))
                    .unwrap_or(false)
        });
        if !busy || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    report.drain_secs = drain_started.elapsed().as_secs_f64();
    check_kill_campaign(dir, &listeners, &mut report);
    report
}

#[derive(Debug)]
struct Run {
    pid: u32,
    attempt: u64,
    start: usize,
    end: Option<char>,
}

/// Accounts for every dispatched task (see the module docs for the invariants).
fn check_kill_campaign(dir: &Path, listeners: &[Listener], r: &mut KillReport) {
    // Dispatch log: intents and completions.
    let mut intents: BTreeMap<String, String> = BTreeMap::new();
    let mut done: HashMap<String, usize> = HashMap::new();
    for line in fs::read_to_string(dir.join("dispatch.log"))
        .unwrap_or_default()
        .lines()
    {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["I", key, ty, _] => {
                intents.insert(key.to_string(), ty.to_string());
            }
            ["D", key, n, _] => {
                done.insert(key.to_string(), n.parse().unwrap_or(usize::MAX));
            }
            _ => r.problem(format!("bad dispatch log line {line:?}")),
        }
    }
    // Runs log: handler starts/ends and kills, in write order.
    let mut runs: HashMap<(usize, String), Vec<Run>> = HashMap::new();
    let mut kills: HashMap<u32, Vec<usize>> = HashMap::new();
    for (pos, line) in fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .enumerate()
    {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["K", pid] => kills.entry(pid.parse().unwrap()).or_default().push(pos),
            ["S", idx, key, a, pid] => {
                r.runs_started += 1;
                runs.entry((idx.parse().unwrap(), key.to_string()))
                    .or_default()
                    .push(Run {
                        pid: pid.parse().unwrap(),
                        attempt: a.parse().unwrap(),
                        start: pos,
                        end: None,
                    })
            }
            ["E", idx, key, a, pid, o] => {
                r.runs_completed += 1;
                let (pid, a): (u32, u64) = (pid.parse().unwrap(), a.parse().unwrap());
                let c = o.chars().next().unwrap();
                if c == 'R' {
                    r.retries += 1;
                }
                let run = runs
                    .get_mut(&(idx.parse().unwrap(), key.to_string()))
                    .and_then(|v| {
                        v.iter_mut()
                            .rev()
                            .find(|x| x.pid == pid && x.attempt == a && x.end.is_none())
                    });
                match run {
                    Some(run) => run.end = Some(c),
                    None => {
                        r.inconsistent += 1;
                        r.problem(format!("end without start: {line:?}"));
                    }
                }
            }
            _ => r.problem(format!("bad runs log line {line:?}")),
        }
    }
    // The files: every state of every listener.
    #[derive(Debug)]
    struct Found {
        state: &'static str,
        path: PathBuf,
        class: Option<String>,
        reason: String,
    }
    let mut files: HashMap<(usize, String), Vec<Found>> = HashMap::new();
    for (idx, l) in listeners.iter().enumerate() {
        let mut dirs: Vec<(&'static str, PathBuf)> = vec![
            ("inbox", l.state_dir(State::Inbox)),
            ("delayed", l.state_dir(State::Delayed)),
            ("archive", l.state_dir(State::Archive)),
            ("error", l.state_dir(State::Error)),
        ];
        if let Ok(ws) = fs::read_dir(l.state_dir(State::Claimed)) {
            for w in ws.flatten() {
                dirs.push(("claimed", w.path()));
            }
        }
        r.tmp_leftovers += fs::read_dir(l.tmp_dir())
            .map(|e| e.flatten().filter(|e| e.path().is_file()).count())
            .unwrap_or(0) as u64;
        for (state, d) in dirs {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                let doc = fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| TaskDoc::parse(&b, &path).map_err(|e| e.to_string()));
                let doc = match doc {
                    Ok(d) => d,
                    Err(e) => {
                        r.torn += 1;
                        r.problem(format!("torn file: {e}"));
                        continue;
                    }
                };
                let class = doc
                    .error()
                    .and_then(|e| e["class"].as_str())
                    .map(str::to_string);
                let reason = doc
                    .error()
                    .and_then(|e| e["reason"].as_str())
                    .unwrap_or("")
                    .to_string();
                if class.as_deref() == Some("CorruptTask") {
                    r.torn += 1;
                    r.problem(format!(
                        "corrupt task in error/: {}: {reason}",
                        path.display()
                    ));
                    continue;
                }
                let Some(key) = doc.payload()["k"].as_str() else {
                    r.unknown += 1;
                    r.problem(format!("file without key: {}", path.display()));
                    continue;
                };
                files
                    .entry((idx, key.to_string()))
                    .or_default()
                    .push(Found {
                        state,
                        path,
                        class,
                        reason,
                    });
            }
        }
    }
    for ((idx, key), found) in &files {
        if !intents.contains_key(key) {
            r.unknown += 1;
            r.problem(format!("no dispatcher logged {key} (listener {idx})"));
        }
        let _ = found;
    }
    // Account for every dispatch, completed or killed.
    for (key, ty) in &intents {
        let want = reached(ty);
        let completed = done.get(key);
        if let Some(&n) = completed {
            r.dispatched += 1;
            if n != want.len() {
                r.inconsistent += 1;
                r.problem(format!(
                    "{key}: dispatch reported {n} copies, expected {}",
                    want.len()
                ));
            }
        } else {
            r.dispatch_killed += 1;
        }
        let mut present = 0;
        for &idx in want {
            let Some(found) = files.get(&(idx, key.clone())) else {
                if completed.is_some() {
                    r.lost += 1;
                    r.problem(format!("lost: {key} for listener {idx}"));
                }
                continue;
            };
            present += 1;
            if found.len() > 1 {
                r.duplicate_files += 1;
                r.problem(format!(
                    "{key} listener {idx} in {} files: {found:?}",
                    found.len()
                ));
            }
            let f = &found[0];
            match f.state {
                "archive" => r.archived += 1,
                "error" => match f.class.as_deref() {
                    Some("WorkerDied") => r.error_worker_died += 1,
                    _ if f.reason.starts_with("Hit retry limit") => r.error_retry_limit += 1,
                    _ if f.reason == "torture: planned failure" => r.error_failure += 1,
                    _ => {
                        r.inconsistent += 1;
                        r.problem(format!(
                            "unexpected error reason {:?} in {}",
                            f.reason,
                            f.path.display()
                        ));
                    }
                },
                _ => {
                    r.stuck += 1;
                    r.problem(format!("stuck after drain: {}", f.path.display()));
                }
            }
            r.copies += 1;
            // The runs of this copy.
            let empty = Vec::new();
            let rs = runs.get(&(idx, key.clone())).unwrap_or(&empty);
            if rs.iter().any(|x| x.end.is_some()) {
                r.handled += 1;
            }
            for w in rs.windows(2) {
                let (prev, next) = (&w[0], &w[1]);
                if next.attempt <= prev.attempt {
                    r.unexplained += 1;
                    r.problem(format!(
                        "{key}/{idx}: attempt {} ran after attempt {}",
                        next.attempt, prev.attempt
                    ));
                    continue;
                }
                if prev.end == Some('R') {
                    continue;
                }
                // The controller logs "K <pid>" after the victim is dead (kill, then wait), so
                // another worker may already have recovered the claim and logged its rerun: a
                // kill of the earlier run's process logged any time after that run started
                // explains the repeat (a killed process never runs anything again).
                let killed_between = kills
                    .get(&prev.pid)
                    .is_some_and(|ks| ks.iter().any(|&k| k > prev.start));
                if killed_between {
                    r.duplicates += 1;
                    if prev.end.is_none() {
                        r.duplicates_mid_handler += 1;
                    } else {
                        r.duplicates_after_handler += 1;
                    }
                } else {
                    r.unexplained += 1;
                    r.problem(format!(
                        "{key}/{idx}: ran again without a kill: {prev:?} then {next:?}"
                    ));
                }
            }
            let last_end = rs.last().and_then(|x| x.end);
            let consistent = match (f.state, f.class.as_deref()) {
                ("archive", _) => last_end == Some('S'),
                ("error", Some("WorkerDied")) => true,
                ("error", _) if f.reason.starts_with("Hit retry limit") => last_end == Some('R'),
                ("error", _) => last_end == Some('F'),
                _ => true,
            };
            if !consistent {
                r.inconsistent += 1;
                r.problem(format!(
                    "{key}/{idx}: {} but last run ended {last_end:?}: {rs:?}",
                    f.state
                ));
            }
        }
        if completed.is_none() {
            match present {
                0 => r.killed_unpublished += 1,
                n if n == want.len() => r.killed_complete += 1,
                _ => r.killed_partial += 1,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Contention: W workers and D dispatchers on one listener.

fn contention_listener(root: &Path) -> Listener {
    Layout::new(root).listener(
        &EventType::parse("bulk").unwrap(),
        &HandlerName::new("w").unwrap(),
    )
}

fn contention_worker_main() -> i32 {
    let dir = env_path(DIR_ENV);
    let root = env_path(ROOT_ENV);
    let pid = std::process::id();
    let q = match Queue::open(contention_listener(&root), FsyncPolicy::Never) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("contention worker {pid}: {e}");
            return 1;
        }
    };
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let s2 = seen.clone();
    let mut w = Worker::new();
    w.add(
        q,
        Box::new(move |t: &Task| {
            s2.borrow_mut()
                .push(t.payload()["k"].as_str().unwrap_or("?").to_string());
            Outcome::Success
        }),
    );
    let stop = w.stop_handle();
    let _guard = install_signal_handlers(&stop, w.verbosity()).expect("signal handlers");
    fs::write(dir.join(format!("ready-{pid}")), "").unwrap();
    let res = w.run(&WorkerOptions::default());
    drop(w);
    let mut out = seen.borrow().join("\n");
    out.push('\n');
    fs::write(dir.join(format!("keys-{pid}")), out).unwrap();
    match res {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("contention worker {pid}: {e}");
            1
        }
    }
}

fn contention_dispatcher_main() -> i32 {
    let root = env_path(ROOT_ENV);
    let prefix = std::env::var(PREFIX_ENV).unwrap();
    let n = env_u64(N_ENV, 0);
    let fsync = FsyncPolicy::from_env().unwrap_or(FsyncPolicy::Never);
    let d = Dispatcher::new(&root, fsync).unwrap();
    let ty = EventType::parse("bulk").unwrap();
    for i in 0..n {
        if let Err(e) = d.dispatch(&ty, &format!("{{\"k\":\"{prefix}.{i}\"}}")) {
            eprintln!("contention dispatcher {prefix}: {e}");
            return 1;
        }
    }
    0
}

/// Parameters of a contention run.
#[derive(Clone, Debug)]
pub struct ContentionConfig {
    /// Work directory (queue root `<dir>/q`).
    pub dir: PathBuf,
    /// Worker processes.
    pub workers: usize,
    /// Dispatcher processes (each dispatches `tasks / dispatchers`).
    pub dispatchers: usize,
    /// Tasks in all.
    pub tasks: u64,
    /// Fsync policy of the dispatchers (workers use `never`).
    pub fsync: FsyncPolicy,
}

/// What a contention run measured.
#[derive(Clone, Debug, Default)]
pub struct ContentionReport {
    /// Tasks dispatched.
    pub dispatched: u64,
    /// Handler runs in all.
    pub runs: u64,
    /// Tasks run more than once: must be 0.
    pub duplicates: u64,
    /// Tasks never run: must be 0.
    pub lost: u64,
    /// Files left outside archive/: must be 0.
    pub leftover: u64,
    /// Children that failed: must be 0.
    pub failed_children: u64,
    /// Runs per worker (spread).
    pub per_worker: Vec<u64>,
    /// Wall time of the dispatch phase.
    pub dispatch_secs: f64,
    /// Wall time from the first dispatch to the last archived task.
    pub total_secs: f64,
}

impl ContentionReport {
    /// True when nothing was lost or run twice.
    pub fn ok(&self) -> bool {
        self.duplicates == 0 && self.lost == 0 && self.leftover == 0 && self.failed_children == 0
    }

    /// `key value` lines.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!("dispatched {}", self.dispatched),
            format!("runs {}", self.runs),
            format!("duplicates {}", self.duplicates),
            format!("lost {}", self.lost),
            format!("leftover {}", self.leftover),
            format!("failed_children {}", self.failed_children),
            format!("per_worker {:?}", self.per_worker),
            format!("dispatch_secs {:.2}", self.dispatch_secs),
            format!("total_secs {:.2}", self.total_secs),
            format!(
                "dispatch_per_sec {:.0}",
                self.dispatched as f64 / self.dispatch_secs.max(1e-9)
            ),
            format!(
                "handled_per_sec {:.0}",
                self.runs as f64 / self.total_secs.max(1e-9)
            ),
        ]
    }
}

/// Runs the contention campaign.
pub fn contention_campaign(cfg: &ContentionConfig, base: &dyn Fn() -> Command) -> ContentionReport {
    let dir = &cfg.dir;
    let root = dir.join("q");
    let l = contention_listener(&root);
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let err = dir.join("children.err");
    let mut report = ContentionReport::default();
    let mut workers: Vec<Child> = (0..cfg.workers)
        .map(|_| {
            child_command(base(), "contention-worker", dir, &err)
                .spawn()
                .unwrap()
        })
        .collect();
    let ready_by = Instant::now() + Duration::from_secs(60);
    while (0..cfg.workers).any(|i| !dir.join(format!("ready-{}", workers[i].id())).exists()) {
        assert!(Instant::now() < ready_by, "workers did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let per = cfg.tasks / cfg.dispatchers as u64;
    let started = Instant::now();
    let dispatchers: Vec<Child> = (0..cfg.dispatchers)
        .map(|i| {
            let mut c = child_command(base(), "contention-dispatcher", dir, &err);
            c.env(PREFIX_ENV, format!("d{i}"))
                .env(N_ENV, per.to_string())
                .env("HURAH_FSYNC", cfg.fsync.as_str());
            c.spawn().unwrap()
        })
        .collect();
    for mut d in dispatchers {
        if !d.wait().unwrap().success() {
            report.failed_children += 1;
        }
    }
    report.dispatch_secs = started.elapsed().as_secs_f64();
    report.dispatched = per * cfg.dispatchers as u64;
    let archive = l.state_dir(State::Archive);
    let deadline = Instant::now() + Duration::from_secs(1200);
    while (count_files(&archive) as u64) < report.dispatched && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    report.total_secs = started.elapsed().as_secs_f64();
    let pids: Vec<u32> = workers.iter().map(|w| w.id()).collect();
    for w in &workers {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe { libc::kill(w.id() as i32, libc::SIGTERM) };
    }
    for w in &mut workers {
        if !w.wait().unwrap().success() {
            report.failed_children += 1;
        }
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    for pid in pids {
        let text = fs::read_to_string(dir.join(format!("keys-{pid}"))).unwrap_or_default();
        let mut n = 0;
        for k in text.lines().filter(|k| !k.is_empty()) {
            *seen.entry(k.to_string()).or_default() += 1;
            n += 1;
        }
        report.per_worker.push(n);
    }
    report.runs = report.per_worker.iter().sum();
    report.duplicates = seen.values().filter(|&&c| c > 1).count() as u64;
    let mut lost = 0;
    for i in 0..cfg.dispatchers {
        for j in 0..per {
            if !seen.contains_key(&format!("d{i}.{j}")) {
                lost += 1;
            }
        }
    }
    report.lost = lost;
    report.leftover = (count_files(&l.state_dir(State::Inbox))
        + count_files(&l.state_dir(State::Delayed))
        + fs::read_dir(l.state_dir(State::Claimed))
            .map(|e| e.flatten().map(|d| count_files(&d.path())).sum())
            .unwrap_or(0)) as u64;
    report
}

// ---------------------------------------------------------------------------------------------
// The command.

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad value for {name}: {v}"))
        })
        .unwrap_or(default)
}

fn work_dir(args: &[String]) -> (PathBuf, Option<tempfile::TempDir>) {
    match args.iter().position(|a| a == "--dir") {
        Some(i) => {
            let d = PathBuf::from(&args[i + 1]);
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            (d, None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("hurah-torture-")
                .tempdir()
                .unwrap();
            (t.path().to_path_buf(), Some(t))
        }
    }
}

fn self_command() -> Command {
    Command::new(std::env::current_exe().unwrap())
}

fn main() {
    child_main_if_requested();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let machine_seed = hurah::clock::now_ms();
    match args.first().map(String::as_str) {
        Some("kill") => {
            let (dir, _keep) = work_dir(&args);
            let cfg = KillConfig {
                dir,
                dispatchers: arg(&args, "--dispatchers", 3),
                workers: arg(&args, "--workers", 4),
                kills: arg(&args, "--kills", 1000),
                max_gap_ms: arg(&args, "--max-gap-ms", 60),
                handler_sleep_us: arg(&args, "--handler-sleep-us", 2000),
                dispatch_pause_us: arg(&args, "--dispatch-pause-us", 4000),
                seed: arg(&args, "--seed", machine_seed),
            };
            println!("campaign kill");
            println!("seed {}", cfg.seed);
            println!("dispatchers {}", cfg.dispatchers);
            println!("workers {}", cfg.workers);
            println!("listeners {}", KILL_LISTENERS.len());
            let r = kill_campaign(&cfg, &self_command);
            for l in r.lines() {
                println!("{l}");
            }
            println!("verdict {}", if r.ok() { "PASS" } else { "FAIL" });
            if !r.ok() {
                std::process::exit(1);
            }
        }
        Some("contention") => {
            let (dir, _keep) = work_dir(&args);
            let fsync = FsyncPolicy::parse(&arg(&args, "--fsync", "never".to_string())).unwrap();
            let cfg = ContentionConfig {
                dir,
                workers: arg(&args, "--workers", 8),
                dispatchers: arg(&args, "--dispatchers", 4),
                tasks: arg(&args, "--tasks", 100_000),
                fsync,
            };
            println!("campaign contention");
            println!("workers {}", cfg.workers);
            println!("dispatchers_procs {}", cfg.dispatchers);
            println!("fsync {}", cfg.fsync.as_str());
            let r = contention_campaign(&cfg, &self_command);
            for l in r.lines() {
                println!("{l}");
            }
            println!("verdict {}", if r.ok() { "PASS" } else { "FAIL" });
            if !r.ok() {
                std::process::exit(1);
            }
        }
        _ => {
            eprintln!("usage: torture kill|contention [options] (see bench/torture.rs)");
            std::process::exit(2);
        }
    }
}
