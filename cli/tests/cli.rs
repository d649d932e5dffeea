//! The `hurah` binary, run as a user would: dispatch, work (the shell runner), status, failed,
//! delayed, purge, signals, crash recovery, exit codes. The scenarios at the end are written
//! once and run on both backends (`file::NAME`, `postgres::NAME`: the shared fixture of
//! tests/support); the tests before them look at the file backend's directories.

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::TestRoot;

#[path = "../../tests/support/mod.rs"]
#[macro_use]
mod support;

const BIN: &str = env!("CARGO_BIN_EXE_hurah");

fn hurah(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HURAH_FSYNC", "never")
        .env_remove("HURAH_LOG_LEVEL")
        .output()
        .expect("run hurah")
}

fn ok(args: &[&str]) -> String {
    let out = hurah(args);
    assert!(
        out.status.success(),
        "hurah {args:?} failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).expect("JSON output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A queue root of the shared both-backends fixture, with the verbs the tests run on it. The
/// file-only tests use `Q::new()` (a directory); the scenarios in `both!` below run on both.
struct Q(TestRoot);

impl std::ops::Deref for Q {
    type Target = TestRoot;
    fn deref(&self) -> &TestRoot {
        &self.0
    }
}

impl Q {
    fn new() -> Q {
        Q::files()
    }

    fn files() -> Q {
        Q(TestRoot::files())
    }

    fn postgres() -> Q {
        Q(TestRoot::postgres())
    }

    /// The root directory (file backend).
    fn path(&self) -> PathBuf {
        assert!(!self.is_postgres(), "a directory root");
        PathBuf::from(self.root())
    }

    /// Registers listener `handler` on `event_type` (a worker with nothing to do).
    fn register(&self, event_type: &str, handler: &str) {
        ok(&[
            "work",
            self.root(),
            event_type,
            handler,
            "--exec",
            "true",
            "--once",
        ]);
    }

    /// [`Q::register`], returning the listener directory (file backend).
    fn listen(&self, event_type: &str, handler: &str) -> PathBuf {
        self.register(event_type, handler);
        self.listener(event_type, handler)
    }

    fn listener(&self, event_type: &str, handler: &str) -> PathBuf {
        self.listener_dir(&format!("{event_type}:{handler}"))
            .expect("a directory root")
    }

    fn dispatch(&self, event_type: &str, payload: &str) -> Value {
        json(&["dispatch", self.root(), event_type, payload, "--json"])
    }

    fn work_once(&self, exec: &str, extra: &[&str]) -> Output {
        let mut args = vec!["work", self.root(), "a", "h", "--exec", exec, "--once"];
        args.extend_from_slice(extra);
        hurah(&args)
    }

    fn spawn_worker(&self, exec: &str, extra: &[&str]) -> Child {
        Command::new(BIN)
            .args(["work", self.root(), "a", "h", "--exec", exec])
            .args(extra)
            .env("HURAH_FSYNC", "never")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hurah work")
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Task files under `claimed/` (all workers).
fn claimed(listener: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for w in fs::read_dir(listener.join("claimed"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for f in fs::read_dir(w.path()).into_iter().flatten().flatten() {
            out.push(f.path());
        }
    }
    out
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&fs::read(p).expect("read task file")).expect("task JSON")
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

fn status_row(q: &Q) -> Value {
    let v = json(&["status", q.root(), "--json"]);
    v.as_array().expect("array")[0].clone()
}

#[test]
fn version_and_help_on_every_verb() {
    assert!(ok(&["--version"]).contains(env!("CARGO_PKG_VERSION")));
    for verb in [
        vec!["work"],
        vec!["status"],
        vec!["failed"],
        vec!["failed", "list"],
        vec!["failed", "show"],
        vec!["failed", "retry"],
        vec!["failed", "delete"],
        vec!["dispatch"],
        vec!["delayed"],
        vec!["delayed", "list"],
        vec!["delayed", "cancel"],
        vec!["purge"],
    ] {
        let mut args = verb.clone();
        args.push("--help");
        let out = ok(&args);
        assert!(out.contains("Usage: hurah"), "{verb:?}: {out}");
    }
}

#[test]
fn dispatch_reads_payload_from_stdin() {
    let q = Q::new();
    let l = q.listen("a", "h");
    let mut child = Command::new(BIN)
        .args(["dispatch", q.root(), "a", "-"])
        .env("HURAH_FSYNC", "never")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"from":"stdin"}"#)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        read_json(&l.join("inbox/1.json"))["payload"]["from"],
        "stdin"
    );
}

#[test]
fn work_exit_0_archives_the_task() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    let out = q.work_once("exit 0", &[]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("handled 1, succeeded 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(files(&l.join("archive")), ["1.json"]);
    assert!(files(&l.join("inbox")).is_empty());
}

#[test]
fn work_passes_task_json_on_stdin_and_hurah_env() {
    let q = Q::new();
    let l = q.listen("a", "h");
    let r = q.dispatch("a/b", r#"{"k":"v"}"#);
    let out_file = q.path().join("seen.txt");
    let cmd = format!(
        "cat > {o}.json; env | grep ^HURAH_ | sort > {o}",
        o = out_file.display()
    );
    assert!(q.work_once(&cmd, &[]).status.success());
    let task: Value =
        serde_json::from_slice(&fs::read(format!("{}.json", out_file.display())).unwrap()).unwrap();
    assert_eq!(task["payload"]["k"], "v");
    let env = fs::read_to_string(&out_file).unwrap();
    for want in [
        format!("HURAH_TASK_ID={}", r["id"].as_str().unwrap()),
        "HURAH_SEQUENCE=1".into(),
        "HURAH_ATTEMPT=1".into(),
        "HURAH_EVENT_TYPE=a/b".into(),
        format!("HURAH_ROOT={}", q.root()),
        "HURAH_LISTENER=a:h".into(),
    ] {
        assert!(env.lines().any(|l| l == want), "{want} not in\n{env}");
    }
    assert!(env.contains("HURAH_TASK_FILE="), "{env}");
    assert_eq!(files(&l.join("archive")), ["1.json"]);
}

#[test]
fn work_exit_75_retries_until_max_attempts_then_errors() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    let out = q.work_once("exit 75", &["--max-attempts", "1"]);
    assert!(stderr(&out).contains("retried 1"), "{}", stderr(&out));
    let t = read_json(&l.join("inbox/1.json"));
    assert_eq!(t["retry_count"], 1);
    // The second run is past the limit (1 retry = 2 runs).
    let out = q.work_once("exit 75", &["--max-attempts", "1"]);
    assert!(stderr(&out).contains("failed 1"), "{}", stderr(&out));
    let t = read_json(&l.join("error/1.json"));
    assert_eq!(t["retry_count"], 2);
    assert!(t["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("retry limit"));
}

#[test]
fn work_exit_75_with_retry_delay_goes_to_delayed() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    q.work_once("exit 75", &["--max-attempts", "3", "--retry-delay", "1h"]);
    let d = files(&l.join("delayed"));
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].ends_with("-1.json"));
}

#[test]
fn work_exit_65_is_invalid_with_the_reason_stored() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    q.work_once("echo 'bad sku' >&2; exit 65", &[]);
    let t = read_json(&l.join("error/1.json"));
    let reason = t["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("65") && reason.contains("bad sku"),
        "{reason}"
    );
}

#[test]
fn work_other_exit_is_failure_naming_status_and_last_stderr_line() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    let out = q.work_once("echo first >&2; echo 'disk on fire' >&2; exit 3", &[]);
    assert!(out.status.success(), "the worker itself succeeded");
    assert!(
        stderr(&out).contains("disk on fire"),
        "stderr passes through"
    );
    let t = read_json(&l.join("error/1.json"));
    assert_eq!(
        t["error"]["reason"],
        "command exited with status 3: disk on fire"
    );
}

#[test]
fn work_command_killed_by_signal_is_failure() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    q.work_once("kill -9 $$", &[]);
    let t = read_json(&l.join("error/1.json"));
    let reason = t["error"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("signal 9") && reason.contains("SIGKILL"),
        "{reason}"
    );
}

#[test]
fn work_once_handles_what_is_due_and_exits() {
    let q = Q::new();
    let l = q.listen("a", "h");
    for i in 0..3 {
        q.dispatch("a", &i.to_string());
    }
    ok(&["dispatch", q.root(), "a", "9", "--delay", "3600"]);
    let out = q.work_once("cat >/dev/null", &[]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("handled 3"), "{}", stderr(&out));
    assert_eq!(files(&l.join("archive")).len(), 3);
    assert_eq!(files(&l.join("delayed")).len(), 1);
}

#[test]
fn work_stop_when_empty_drains_and_exits() {
    let q = Q::new();
    let l = q.listen("a", "h");
    for i in 0..5 {
        q.dispatch("a", &i.to_string());
    }
    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--exec",
        "cat >/dev/null",
        "--stop-when-empty",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("handled 5, succeeded 5"),
        "{}",
        stderr(&out)
    );
    assert_eq!(files(&l.join("archive")).len(), 5);
    assert!(claimed(&l).is_empty());
}

#[test]
fn work_max_jobs_stops_after_n_tasks() {
    let q = Q::new();
    let l = q.listen("a", "h");
    for i in 0..4 {
        q.dispatch("a", &i.to_string());
    }
    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--exec",
        "true",
        "--max-jobs",
        "2",
    ]);
    assert!(out.status.success());
    assert_eq!(files(&l.join("archive")).len(), 2);
    assert_eq!(files(&l.join("inbox")).len(), 2);
}

#[test]
fn sigterm_finishes_the_running_task_exits_0_and_leaves_nothing_claimed() {
    let q = Q::new();
    let l = q.listen("a", "h");
    let mut w = q.spawn_worker("sleep 0.4", &[]);
    q.dispatch("a", "1");
    wait_until("the task to be claimed", Duration::from_secs(10), || {
        !claimed(&l).is_empty()
    });
    signal(&w, libc::SIGTERM);
    let status = wait_exit(&mut w, Duration::from_secs(3)).expect("worker exits after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(claimed(&l).is_empty());
    assert!(files(&l.join("claimed")).is_empty(), "claim dir removed");
    assert_eq!(
        files(&l.join("archive")),
        ["1.json"],
        "current task finished"
    );
}

#[test]
fn failed_retry_and_delete_need_a_target_and_report_missing_ones() {
    let q = Q::new();
    q.listen("a", "h");
    let out = hurah(&["failed", "delete", q.root()]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("--all"), "{}", stderr(&out));
    // Not found has its own exit code (66, EX_NOINPUT): a task or a listener.
    let out = hurah(&["failed", "retry", q.root(), "--id", "42"]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    assert!(stderr(&out).contains("42"), "{}", stderr(&out));
    let out = hurah(&["failed", "delete", q.root(), "--id", "42"]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    let out = hurah(&["failed", "list", q.root(), "--listener", "nope:h"]);
    assert_eq!(out.status.code(), Some(66), "{}", stderr(&out));
    assert!(stderr(&out).contains("nope:h"), "{}", stderr(&out));
}

#[test]
fn help_documents_every_exit_code_of_an_error_kind() {
    let help = ok(&["--help"]);
    for code in ["64", "65", "66", "74", "76"] {
        assert!(help.contains(code), "exit code {code} in --help: {help}");
    }
    assert!(help.contains("database"), "{help}");
    assert!(help.contains("no such task"), "{help}");
}

#[test]
fn an_unreachable_database_exits_76_on_every_verb() {
    // Port 1 on the loopback refuses at once; no server is needed for this test.
    let url = "postgresql://postgres@127.0.0.1:1/hurah";
    for args in [
        vec!["dispatch", url, "a", "1"],
        vec!["status", url],
        vec!["failed", "list", url],
        vec!["delayed", "list", url],
        vec!["work", url, "a", "h", "--exec", "true", "--once"],
        vec!["migrate", url],
    ] {
        let out = hurah(&args);
        assert_eq!(out.status.code(), Some(76), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
    }
}

fn hurah_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn bad_input_exits_with_usage_or_data_error_naming_the_value() {
    let q = Q::new();
    let out = hurah(&["dispatch", q.root(), "product//created", "{}"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("product//created"),
        "{}",
        stderr(&out)
    );

    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "bad name",
        "--exec",
        "true",
        "--once",
    ]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("bad name"), "{}", stderr(&out));

    let out = hurah(&["dispatch", q.root(), "a", "{not json"]);
    assert_eq!(out.status.code(), Some(65));

    let out = hurah(&["dispatch", q.root(), "a", "1", "--delay", "5 weeks"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("5 weeks"), "{}", stderr(&out));

    let out = hurah(&["dispatch", q.root(), "a", "1", "--fsync", "sometimes"]);
    assert_eq!(out.status.code(), Some(64));

    let out = hurah(&["status", "/nonexistent/hurah-root"]);
    assert_eq!(out.status.code(), Some(74));

    let out = hurah(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn verbs_that_look_neither_create_a_missing_root_nor_accept_it() {
    let q = Q::new();
    for args in [
        vec!["status", q.root()],
        vec!["failed", "list", q.root()],
        vec!["delayed", "list", q.root()],
        vec!["purge", q.root(), "--archive", "--older-than", "1d"],
    ] {
        let out = hurah(&args);
        assert_eq!(out.status.code(), Some(74), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no such queue root"),
            "{}",
            stderr(&out)
        );
        assert!(!q.path().exists(), "{args:?} created the root");
    }
}

#[test]
fn work_max_time_returns_while_idle() {
    let q = Q::new();
    q.listen("a", "h");
    let t = Instant::now();
    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--exec",
        "true",
        "--max-time",
        "300ms",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn work_memory_limit_stops_between_tasks() {
    let q = Q::new();
    let l = q.listen("a", "h");
    for i in 0..3 {
        q.dispatch("a", &i.to_string());
    }
    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--exec",
        "true",
        "--memory-limit",
        "1K",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files(&l.join("archive")).len(),
        1,
        "stopped after the first task"
    );
    assert!(claimed(&l).is_empty());
}

// ---- Operations act on exactly what was named; clear messages --------------------------------

#[test]
fn dispatch_to_no_listener_names_the_type_as_written() {
    let q = Q::new();
    q.listen("a", "h");
    let out = hurah(&["dispatch", q.root(), "product/created", "{}"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(e.contains("\"product/created\""), "{e}");
    assert!(!e.contains("EventType") && !e.contains("segments"), "{e}");
}

#[test]
fn failed_retry_all_with_nothing_failed_is_success() {
    let q = Q::new();
    q.listen("a", "h");
    let out = hurah(&["failed", "retry", q.root(), "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("retried 0 task(s)"));
    let out = hurah(&["failed", "delete", q.root(), "--all", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A task named by --id that does not exist is still an error.
    let out = hurah(&["failed", "retry", q.root(), "--id", "7"]);
    assert_eq!(out.status.code(), Some(66), "no such task");
}

#[test]
fn status_and_delayed_json_name_ages_and_timestamps_apart() {
    let q = Q::new();
    q.listen("a", "h");
    q.dispatch("a", "1");
    let at = hurah_now_ms() + 3_600_000;
    ok(&["dispatch", q.root(), "a", "2", "--at", &at.to_string()]);
    let row = status_row(&q);
    assert!(row["oldest_due_age_ms"].as_u64().is_some(), "{row}");
    let list = json(&["delayed", "list", q.root(), "--json"]);
    let d = &list.as_array().unwrap()[0];
    assert_eq!(d["due_at_ms"], at, "{d}");
    assert!(d["due_at"].as_str().unwrap().starts_with("20"), "{d}");
}

#[test]
fn status_oldest_is_the_longest_waiting_task_after_a_retry() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    q.work_once("exit 1", &[]);
    q.dispatch("a", "2");
    // Task 2 has waited at least this long when task 1 comes back at the head of the inbox.
    std::thread::sleep(Duration::from_millis(1200));
    ok(&["failed", "retry", q.root(), "--id", "1"]);
    assert_eq!(files(&l.join("inbox")), ["1.json", "2.json"]);
    let row = status_row(&q);
    let age = row["oldest_due_age_ms"].as_u64().expect("an age");
    assert!(age >= 1200, "task 2 has waited 1.2 s, OLDEST says {age} ms");
}

#[test]
fn status_watch_into_a_pipe_writes_no_screen_codes() {
    let q = Q::new();
    q.listen("a", "h");
    let mut child = Command::new(BIN)
        .args(["status", q.root(), "--watch", "0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    use std::io::Read;
    // Two refreshes' worth.
    while got.windows(10).filter(|w| w == b"EVENT_TYPE").count() < 2 {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "status --watch ended");
        got.extend_from_slice(&buf[..n]);
    }
    signal(&child, libc::SIGTERM);
    child.wait().unwrap();
    assert!(!got.contains(&0x1b), "{}", String::from_utf8_lossy(&got));
}

// ---- The shell runner and its children --------------------------------------------------------

/// Alive and not a zombie (a reparented zombie may wait for a reaper that never comes).
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit_once(") ").map(|(_, r)| r.chars().next());
            !matches!(state, Some(Some('Z')) | Some(Some('X')))
        }
        Err(_) => false,
    }
}

#[test]
fn killing_the_worker_kills_its_command_and_the_command_children() {
    let q = Q::new();
    let l = q.listen("a", "h");
    let pids = q.scratch().join("pids");
    // The command's shell and a child of it in the background (not exec'd by the shell).
    let cmd = format!(
        "sleep 300 & echo $! > {p}.tmp; echo $$ >> {p}.tmp; mv {p}.tmp {p}; wait",
        p = pids.display()
    );
    let mut w = q.spawn_worker(&cmd, &[]);
    q.dispatch("a", "1");
    wait_until("the command to start", Duration::from_secs(20), || {
        pids.exists()
    });
    let started: Vec<i32> = fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(started.len(), 2);
    assert!(started.iter().all(|p| alive(*p)));
    signal(&w, libc::SIGKILL);
    w.wait().unwrap();
    wait_until(
        "the command and its child to die with the worker",
        Duration::from_secs(20),
        || started.iter().all(|p| !alive(*p)),
    );
    assert_eq!(claimed(&l).len(), 1, "the task waits for recovery");
}

#[test]
fn stop_when_empty_says_how_many_retries_wait_in_delayed_and_when() {
    let q = Q::new();
    let l = q.listen("a", "h");
    q.dispatch("a", "1");
    q.dispatch("a", "2");
    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--exec",
        "exit 75",
        "--max-attempts",
        "3",
        "--retry-delay",
        "1h",
        "--stop-when-empty",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files(&l.join("delayed")).len(), 2);
    let e = stderr(&out);
    assert!(
        e.contains("2 task(s) wait in delayed/") && e.contains("next due"),
        "{e}"
    );
}

#[test]
fn log_lines_of_several_workers_on_one_stderr_never_interleave() {
    let q = Q::new();
    let l = q.listen("a", "h");
    for i in 0..200 {
        ok(&[
            "dispatch",
            q.root(),
            "a",
            &i.to_string(),
            "--fsync",
            "never",
        ]);
    }
    // Four verbose workers share one stderr pipe; every line must be whole.
    let mut sh = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "for i in 1 2 3 4; do HURAH_FSYNC=never {BIN} work {root} a h --exec 'echo to-stderr >&2' \
             -v --stop-when-empty & done; wait",
            root = q.root()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    use std::io::Read;
    sh.stderr.take().unwrap().read_to_string(&mut text).unwrap();
    assert!(sh.wait().unwrap().success());
    assert_eq!(files(&l.join("archive")).len(), 200);
    let mut logged = 0;
    for line in text.lines() {
        let whole = line == "to-stderr"
            || (line.starts_with("[20") && line.contains("] hurah."))
            || line.starts_with("hurah work a:h: handled");
        assert!(whole, "a mangled line: {line:?}");
        logged += 1;
    }
    assert!(logged >= 400, "{text}");
}

// ---- On both backends: each scenario runs as file::NAME and postgres::NAME --------------------

fn dispatch_prints_id_and_deliveries_and_status_counts_them(q: &Q) {
    q.register("a", "h");
    q.register("", "all");
    let r = q.dispatch("a/b", r#"{"n":1}"#);
    assert_eq!(r["id"].as_str().unwrap().len(), 30);
    let mut listeners: Vec<&str> = r["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["listener"].as_str().unwrap())
        .collect();
    listeners.sort();
    assert_eq!(listeners, [":all", "a:h"]);
    for d in r["deliveries"].as_array().unwrap() {
        assert_eq!(d["sequence"], 1, "{d}");
    }
    q.dispatch("a", "2");
    ok(&["dispatch", q.root(), "a", "3", "--delay", "60"]);
    let plain = ok(&["dispatch", q.root(), "a"]);
    assert!(plain.lines().next().unwrap().len() == 30, "{plain}");

    let status = json(&["status", q.root(), "--json"]);
    let a = status
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["handler"] == "h")
        .unwrap();
    assert_eq!(a["event_type"], "a");
    assert_eq!(a["inbox"], 3);
    assert_eq!(a["delayed"], 1);
    assert_eq!(a["claimed"], 0);
    assert_eq!(a["error"], 0);
    assert!(a["oldest_due_ms"].as_u64().is_some());
    let table = ok(&["status", q.root()]);
    assert!(
        table.contains("(root)") && table.contains("INBOX"),
        "{table}"
    );
}

/// A worker killed with SIGKILL mid-task: its claim stays (the status says so) until the next
/// worker recovers it, and the killed run counts as an attempt.
fn kill_9_mid_task_is_recovered_by_the_next_worker(q: &Q) {
    q.register("a", "h");
    // Killed once the command runs: a kill between the claim and the handler's start spends
    // no attempt (a different case, killed_between_claim_and_handler_spends_no_attempt).
    let marks = tempfile::tempdir().unwrap();
    let started = marks.path().join("started");
    let mut w = q.spawn_worker(&format!("touch '{}'; sleep 5", started.display()), &[]);
    q.dispatch("a", r#"{"poison":false}"#);
    wait_until("the command to start", Duration::from_secs(10), || {
        started.exists()
    });
    assert_eq!(q.count("claimed"), 1);
    signal(&w, libc::SIGKILL);
    w.wait().unwrap();
    // (PostgreSQL notices the closed session asynchronously.)
    wait_until(
        "the dead worker to be seen",
        Duration::from_secs(10),
        || q.status("a:h").dead_workers == 1,
    );
    assert_eq!(
        q.count("claimed"),
        1,
        "the dead worker's claim is still there"
    );
    let out = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--max-attempts",
        "1",
        "--stop-when-empty",
        "--exec",
        "test \"$HURAH_ATTEMPT\" = 2",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("recovered 1") && e.contains("succeeded 1"),
        "the killed run is counted: {e}"
    );
    assert_eq!(q.count("claimed"), 0);
    assert_eq!(q.seqs("a:h", "archive"), [1]);
    if let Some(l) = q.listener_dir("a:h") {
        let t = read_json(&l.join("archive/1.json"));
        assert_eq!(t["attempts"], 1, "the killed run is counted: {t}");
    }
}

/// Promptly: an idle worker sleeps on inotify or LISTEN with a long safety-net timer, so a
/// bound of a few seconds (generous for a loaded machine) tells "woken by the signal" from
/// "noticed it at the next timer".
fn sigterm_on_an_idle_worker_exits_0_promptly(q: &Q) {
    q.register("a", "h");
    let mut w = q.spawn_worker("true", &[]);
    // Let it start and go idle (it handles one task to prove it is watching).
    q.dispatch("a", "1");
    wait_until("the task to be handled", Duration::from_secs(10), || {
        q.count("archive") > 0
    });
    let t = Instant::now();
    signal(&w, libc::SIGTERM);
    let status = wait_exit(&mut w, Duration::from_secs(5)).expect("exit within 5 s");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    use std::io::Read;
    w.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("stopped by signal"), "{err}");
    assert_eq!(q.count("claimed"), 0);
}

/// Kills the worker when dropped (a test that fails midway leaves no worker behind).
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Claims held by a live worker and by a dead one, next to due and delayed tasks: each
/// counted where it belongs, in `--json` and in the table.
fn status_reports_live_and_dead_worker_claims(q: &Q) {
    q.register("a", "h");
    for p in ["1", "2", "3"] {
        q.dispatch("a", p);
    }
    ok(&["dispatch", q.root(), "a", "4", "--delay", "1h"]);
    let live = Reap(q.spawn_worker("sleep 30", &["--max-jobs", "1"]));
    wait_until("the live worker's claim", Duration::from_secs(10), || {
        q.count("claimed") == 1
    });
    let row = status_row(q);
    assert_eq!(
        (row["claimed"].as_u64(), row["live_workers"].as_u64()),
        (Some(1), Some(1))
    );
    let mut dying = q.spawn_worker("sleep 30", &["--max-jobs", "1"]);
    wait_until("the second claim", Duration::from_secs(10), || {
        q.count("claimed") == 2
    });
    signal(&dying, libc::SIGKILL);
    dying.wait().unwrap();
    wait_until(
        "the dead worker to be seen",
        Duration::from_secs(10),
        || q.status("a:h").dead_workers == 1,
    );
    let row = status_row(q);
    assert_eq!(
        (
            &row["inbox"],
            &row["delayed"],
            &row["claimed"],
            &row["live_workers"],
            &row["dead_workers"]
        ),
        (&1.into(), &1.into(), &2.into(), &1.into(), &1.into()),
        "{row}"
    );
    let table = ok(&["status", q.root()]);
    assert!(
        table.contains("CLAIMED(live/dead)") && table.contains("2 (1/1)"),
        "{table}"
    );
    drop(live);
}

fn failed_list_show_retry_delete(q: &Q) {
    q.register("a", "h");
    let r1 = q.dispatch("a", "1");
    q.dispatch("a", "2");
    q.dispatch("a", "3");
    q.work_once("echo nope >&2; exit 1", &[]);
    assert_eq!(q.seqs("a:h", "error"), [1, 2, 3]);

    let list = json(&["failed", "list", q.root(), "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["listener"], "a:h");
    assert_eq!(list[0]["reason"], "command exited with status 1: nope");
    let table = ok(&["failed", "list", q.root(), "--listener", "a:h"]);
    assert_eq!(table.lines().count(), 4, "{table}");

    let shown = ok(&["failed", "show", q.root(), "--id", "2"]);
    assert!(shown.contains("\"reason\""), "{shown}");
    if !q.is_postgres() {
        assert!(shown.contains("2.json"), "{shown}");
    }

    // Retry by dispatch id.
    ok(&[
        "failed",
        "retry",
        q.root(),
        "--id",
        r1["id"].as_str().unwrap(),
    ]);
    // Back in the inbox without its error, its attempts reset (the file format drops the key).
    let t = q.task("a:h", "inbox", 1);
    assert!(t.get("error").is_none(), "{t}");
    assert_eq!(q.entries("a:h", "inbox")[0].attempts, 0, "{t}");
    if !q.is_postgres() {
        assert!(t.get("attempts").is_none(), "{t}");
    }
    assert_eq!(q.seqs("a:h", "error"), [2, 3]);

    // Delete by sequence, then retry the rest in bulk.
    ok(&["failed", "delete", q.root(), "--id", "2"]);
    assert_eq!(q.seqs("a:h", "error"), [3]);
    let out = ok(&["failed", "retry", q.root(), "--all"]);
    assert!(out.contains("retried 1 task(s)"), "{out}");
    assert_eq!(q.seqs("a:h", "inbox"), [1, 3]);
    assert!(q.seqs("a:h", "error").is_empty());
    // The retried tasks run again.
    q.work_once("true", &[]);
    assert_eq!(q.seqs("a:h", "archive"), [1, 3]);
}

fn failed_older_than_selects_by_age(q: &Q) {
    q.register("a", "h");
    q.dispatch("a", "1");
    q.work_once("exit 1", &[]);
    let out = hurah(&["failed", "delete", q.root(), "--all", "--older-than", "1h"]);
    // --all with nothing that old: nothing to do, done (0 deleted), not an error.
    assert_eq!(out.status.code(), Some(0), "nothing that old");
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted 0 task(s)"));
    assert_eq!(q.count("error"), 1);
    std::thread::sleep(Duration::from_millis(20));
    ok(&[
        "failed",
        "delete",
        q.root(),
        "--all",
        "--older-than",
        "10ms",
    ]);
    assert_eq!(q.count("error"), 0);
}

fn delayed_list_and_cancel_by_dispatch_id_or_sequence(q: &Q) {
    q.register("a", "h");
    let r = json(&["dispatch", q.root(), "a", "1", "--delay", "3600", "--json"]);
    let id = r["id"].as_str().unwrap();
    let at = hurah_now_ms() + 7_200_000;
    ok(&["dispatch", q.root(), "a", "2", "--at", &at.to_string()]);
    let list = json(&["delayed", "list", q.root(), "--json"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], id, "earliest first");
    assert_eq!(list[1]["due_ms"], at);

    ok(&["delayed", "cancel", q.root(), "--id", id]);
    assert_eq!(q.count("delayed"), 1);
    ok(&[
        "delayed",
        "cancel",
        q.root(),
        "--listener",
        "a:h",
        "--id",
        "2",
    ]);
    assert_eq!(q.count("delayed"), 0);
    let out = hurah(&["delayed", "cancel", q.root(), "--id", "2"]);
    assert_eq!(out.status.code(), Some(66), "already gone: no such task");
}

fn purge_deletes_archived_tasks_older_than_the_limit(q: &Q) {
    q.register("a", "h");
    q.dispatch("a", "1");
    q.dispatch("a", "2");
    q.work_once("true", &[]);
    assert_eq!(q.count("archive"), 2);
    let out = ok(&["purge", q.root(), "--archive", "--older-than", "1h"]);
    assert!(out.contains("purged 0"), "{out}");
    std::thread::sleep(Duration::from_millis(20));
    let out = ok(&[
        "purge",
        q.root(),
        "--archive",
        "--older-than",
        "10ms",
        "--dry-run",
    ]);
    assert!(out.contains("would purge 2"), "{out}");
    assert_eq!(q.count("archive"), 2);
    ok(&["purge", q.root(), "--archive", "--older-than", "10ms"]);
    assert_eq!(q.count("archive"), 0);
    let out = hurah(&["purge", q.root(), "--older-than", "1d"]);
    assert_eq!(out.status.code(), Some(64), "--archive is required");
}

/// Two listeners whose failed task 1 shares its sequence.
fn two_listeners_with_failed_1(q: &Q) {
    q.register("a", "h");
    q.register("b", "h");
    q.dispatch("a", "1");
    q.dispatch("b", "2");
    for t in ["a", "b"] {
        hurah(&["work", q.root(), t, "h", "--exec", "exit 1", "--once"]);
    }
    assert_eq!(q.seqs("a:h", "error"), [1]);
    assert_eq!(q.seqs("b:h", "error"), [1]);
}

fn a_sequence_shared_by_two_listeners_is_refused_without_listener(q: &Q) {
    two_listeners_with_failed_1(q);
    for verb in [
        vec!["failed", "delete"],
        vec!["failed", "retry"],
        vec!["failed", "show"],
        vec!["failed", "list"],
    ] {
        let mut args = verb.clone();
        args.extend_from_slice(&[q.root(), "--id", "1"]);
        let out = hurah(&args);
        assert_eq!(out.status.code(), Some(64), "{verb:?}: {}", stderr(&out));
        let e = stderr(&out);
        assert!(
            e.contains("a:h") && e.contains("b:h") && e.contains("--listener"),
            "{verb:?}: {e}"
        );
    }
    assert_eq!(q.seqs("a:h", "error"), [1], "nothing was deleted");
    assert_eq!(q.seqs("b:h", "error"), [1], "nothing was deleted");
    // Named exactly: only that listener's task.
    ok(&[
        "failed",
        "delete",
        q.root(),
        "--id",
        "1",
        "--listener",
        "b:h",
    ]);
    assert_eq!(q.seqs("a:h", "error"), [1]);
    assert!(q.seqs("b:h", "error").is_empty());
    // Now sequence 1 is failed in one listener only: unambiguous.
    ok(&["failed", "delete", q.root(), "--id", "1"]);
    assert!(q.seqs("a:h", "error").is_empty());
    // Nothing failed: --all has nothing to do, which is not an error.
    ok(&["failed", "delete", q.root(), "--all"]);
    let out = ok(&["failed", "retry", q.root(), "--all"]);
    assert!(out.contains("retried 0"), "{out}");
}

fn a_delayed_sequence_shared_by_two_listeners_is_refused_without_listener(q: &Q) {
    q.register("a", "h");
    q.register("b", "h");
    ok(&["dispatch", q.root(), "a", "1", "--delay", "1h"]);
    ok(&["dispatch", q.root(), "b", "2", "--delay", "1h"]);
    let out = hurah(&["delayed", "cancel", q.root(), "--id", "1"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("a:h") && stderr(&out).contains("b:h"));
    assert_eq!(q.seqs("a:h", "delayed").len(), 1);
    assert_eq!(q.seqs("b:h", "delayed").len(), 1);
    let out = hurah(&["delayed", "list", q.root(), "--id", "1"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    ok(&[
        "delayed",
        "cancel",
        q.root(),
        "--id",
        "1",
        "--listener",
        "a:h",
    ]);
    assert!(q.seqs("a:h", "delayed").is_empty());
    assert_eq!(q.seqs("b:h", "delayed").len(), 1);
}

/// `(sequence, attempts)` of the inbox of a:h.
fn inbox_attempts(q: &Q) -> Vec<(u64, u64)> {
    q.entries("a:h", "inbox")
        .iter()
        .map(|e| (e.sequence, e.attempts))
        .collect()
}

fn a_command_that_cannot_run_stops_the_worker_and_leaves_the_tasks_in_the_inbox(q: &Q) {
    q.register("a", "h");
    let not_exec = q.scratch().join("script.sh");
    fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
    for (exec, status) in [
        ("/nonexistent/hurah-handler --flag", 127),
        (not_exec.to_str().unwrap(), 126),
    ] {
        for i in 0..3 {
            q.dispatch("a", &i.to_string());
        }
        let before = inbox_attempts(q);
        assert_eq!(before.len(), 3);
        assert!(before.iter().all(|(_, n)| *n == 0), "{before:?}");
        for mode in [
            vec!["--stop-when-empty"],
            vec!["--stop-when-empty", "--group-commit"],
            vec!["--once"],
            // A long-running worker stops too (the bound only keeps a regression from hanging).
            vec!["--max-time", "60s"],
            vec![],
        ] {
            let mut args = vec!["work", q.root(), "a", "h", "--exec", exec];
            args.extend_from_slice(&mode);
            let mut child = Command::new(BIN)
                .args(&args)
                .env("HURAH_FSYNC", "never")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let st = wait_exit(&mut child, Duration::from_secs(30));
            if st.is_none() {
                let _ = child.kill();
            }
            let out = child.wait_with_output().unwrap();
            let e = stderr(&out);
            assert_eq!(out.status.code(), Some(69), "{exec} {mode:?}: {e}");
            assert!(
                e.contains(&format!("status {status}")) && e.contains(exec),
                "{mode:?}: {e}"
            );
            assert_eq!(inbox_attempts(q), before, "{mode:?}: no attempt spent: {e}");
            assert_eq!(q.count("error"), 0, "{mode:?}: {e}");
            assert_eq!(q.count("claimed"), 0, "{mode:?}");
            if let Some(l) = q.listener_dir("a:h") {
                for f in files(&l.join("inbox")) {
                    let t = read_json(&l.join("inbox").join(f));
                    assert!(
                        t.get("attempts").is_none()
                            && t.get("retry_count").unwrap_or(&0.into()) == 0,
                        "no attempt spent: {t}"
                    );
                }
            }
        }
        // Clear the backlog for the next command.
        ok(&[
            "work",
            q.root(),
            "a",
            "h",
            "--exec",
            "true",
            "--stop-when-empty",
        ]);
        assert!(q.seqs("a:h", "inbox").is_empty());
    }
}

fn nested(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

fn a_payload_nested_512_deep_is_dispatched_and_handled(q: &Q) {
    q.register("a", "h");
    let got = q.scratch().join("got.json");
    let p = nested(512);
    q.dispatch("a", &p);
    let out = q.work_once(&format!("cat > {}", got.display()), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(q.seqs("a:h", "archive"), [1], "{}", stderr(&out));
    assert_eq!(q.count("error"), 0, "{}", stderr(&out));
    let task = fs::read_to_string(&got).unwrap();
    assert!(
        task.contains(&p),
        "the command saw the payload as dispatched"
    );
    // The CLI reads it back too.
    q.dispatch("a", &p);
    q.work_once("exit 1", &[]);
    let shown = ok(&["failed", "show", q.root(), "--id", "2", "--json"]);
    assert!(shown.contains("\"task\""), "{shown}");
}

fn a_payload_nested_deeper_than_512_is_refused_naming_the_depth(q: &Q) {
    q.register("a", "h");
    for depth in [513, 600] {
        let out = hurah(&["dispatch", q.root(), "a", &nested(depth)]);
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains(&depth.to_string()) && e.contains("512"), "{e}");
        assert!(!e.contains("not valid JSON"), "{e}");
    }
    assert!(q.seqs("a:h", "inbox").is_empty());
}

/// The stored failure of a:h's failed task `seq`: (reason, runs recorded with it).
fn failure(q: &Q, seq: u64) -> (String, u64) {
    let e = q
        .entries("a:h", "error")
        .into_iter()
        .find(|e| e.sequence == seq)
        .expect("a failed task");
    (e.error.expect("its error").reason, e.attempts)
}

fn the_retry_limit_reason_keeps_what_the_last_attempt_said(q: &Q) {
    q.register("a", "h");
    q.dispatch("a", "1");
    for _ in 0..2 {
        q.work_once("echo smtp busy >&2; exit 75", &["--max-attempts", "1"]);
    }
    assert_eq!(q.seqs("a:h", "error"), [1]);
    assert_eq!(
        failure(q, 1),
        (
            "Hit retry limit which is set to: 1. Last attempt: command exited with status 75 \
             (EX_TEMPFAIL): smtp busy"
                .to_string(),
            2
        ),
        "two runs"
    );
    if let Some(l) = q.listener_dir("a:h") {
        let t = read_json(&l.join("error/1.json"));
        assert_eq!(t["error"]["attempts"], 2, "two runs: {t}");
        assert_eq!(
            (&t["attempts"], &t["retry_count"]),
            (&2.into(), &2.into()),
            "{t}"
        );
    }
    // Nothing on stderr: the status alone.
    q.dispatch("a", "2");
    q.work_once("exit 75", &[]);
    assert_eq!(
        failure(q, 2).0,
        "Hit retry limit which is set to: 0. Last attempt: command exited with status 75 \
         (EX_TEMPFAIL)"
    );
    // The same reason when the worker settles in batches (group commit).
    ok(&["failed", "delete", q.root(), "--all"]);
    q.dispatch("a", "3");
    for group_commit in [false, true] {
        let mut args = vec![
            "work",
            q.root(),
            "a",
            "h",
            "--exec",
            "echo smtp busy >&2; exit 75",
            "--stop-when-empty",
        ];
        if group_commit {
            args.push("--group-commit");
        }
        let out = hurah(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(
            failure(q, 3).0,
            "Hit retry limit which is set to: 0. Last attempt: command exited with status 75 \
             (EX_TEMPFAIL): smtp busy",
            "group commit: {group_commit}"
        );
        ok(&["failed", "retry", q.root(), "--all"]);
    }
}

fn work_runs_a_shell_command_per_task_retrying_within_a_group_commit(q: &Q) {
    let out = q.scratch().join("out");
    // Registers the listener, nothing due yet.
    let exec = format!(
        "cat >> {0}; echo >> {0}; test \"$(cat {0} | wc -l)\" != 2 || exit 75",
        out.display()
    );
    ok(&["work", q.root(), "a", "h", "--exec", &exec, "--once"]);
    for i in 1..=3 {
        ok(&["dispatch", q.root(), "a", &i.to_string()]);
    }
    let run = hurah(&[
        "work",
        q.root(),
        "a",
        "h",
        "--exec",
        &exec,
        "--stop-when-empty",
        "--group-commit",
        "--max-attempts",
        "1",
    ]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert!(err.contains("handled 4, succeeded 3"), "{err}");
    let lines = fs::read_to_string(&out).unwrap();
    // Task 2 exited 75 (RETRY) once and ran again right after.
    assert_eq!(
        lines
            .lines()
            .filter(|l| l.contains("\"payload\":2"))
            .count(),
        2,
        "{lines}"
    );
    assert_eq!(q.count("archive"), 3);
}

/// Opens listener `event_type`:h through the core's seam (as a worker in another process).
fn open_listener(q: &Q, event_type: &str) -> Box<dyn hurah::backend::ListenerQueue> {
    q.backend()
        .open_listener(
            &hurah::EventType::parse(event_type).unwrap(),
            &hurah::HandlerName::new("h").unwrap(),
        )
        .unwrap()
}

fn failed_delayed_and_purge_verbs(q: &Q) {
    let mut l = open_listener(q, "a");
    for p in ["1", "2", "3"] {
        ok(&["dispatch", q.root(), "a", p]);
    }
    let out = ok(&["dispatch", q.root(), "a", "4", "--delay", "1h"]);
    let delayed_id = out.lines().next().unwrap().to_string();
    let mut h = |t: &hurah::Task| {
        if t.payload() == 2 {
            hurah::Outcome::failure("two\tis bad")
        } else {
            hurah::Outcome::Success
        }
    };
    l.handle_once(&mut h).unwrap();
    // failed list / show
    let out = ok(&["failed", "list", q.root()]);
    assert!(
        out.contains("a:h\t2\t") && out.contains("two is bad"),
        "{out}"
    );
    let v = json(&["failed", "list", q.root(), "--json"]);
    assert_eq!(v[0]["reason"], "two\tis bad");
    assert_eq!(v[0]["attempts"], 1);
    let v = json(&["failed", "show", q.root(), "--id", "2", "--json"]);
    assert_eq!(v[0]["task"]["payload"], 2);
    assert_eq!(v[0]["task"]["error"]["reason"], "two\tis bad");
    assert_eq!(
        hurah(&["failed", "retry", q.root()]).status.code(),
        Some(64),
        "needs --id or --all"
    );
    assert_eq!(
        hurah(&["failed", "retry", q.root(), "--id", "9"])
            .status
            .code(),
        Some(66),
        "no such task"
    );
    let out = ok(&["failed", "retry", q.root(), "--id", "2"]);
    assert_eq!(out.trim(), "retried 1 task(s)");
    let mut seen = Vec::new();
    l.handle_once(&mut |t: &hurah::Task| {
        seen.push((t.payload().as_u64().unwrap(), t.attempt()));
        hurah::Outcome::failure("again")
    })
    .unwrap();
    assert_eq!(seen, [(2, 1)], "attempts reset");
    let out = ok(&["failed", "delete", q.root(), "--all", "--listener", "a:h"]);
    assert_eq!(out.trim(), "deleted 1 task(s)");
    // delayed list / cancel
    let v = json(&["delayed", "list", q.root(), "--json"]);
    assert_eq!(v[0]["id"], delayed_id.as_str());
    let out = ok(&["delayed", "cancel", q.root(), "--id", &delayed_id, "--json"]);
    assert_eq!(out.trim(), r#"{"cancelled":1,"too_late":0}"#);
    // Nothing left: --all has nothing to do, which is not an error.
    let out = ok(&["delayed", "cancel", q.root(), "--all"]);
    assert_eq!(out.trim(), "cancelled 0 task(s)", "nothing left");
    // purge
    let out = ok(&[
        "purge",
        q.root(),
        "--archive",
        "--older-than",
        "0s",
        "--dry-run",
    ]);
    assert_eq!(out.trim(), "would purge 2 archived task(s), kept 0");
    let out = ok(&["purge", q.root(), "--archive", "--older-than", "1h"]);
    assert_eq!(out.trim(), "purged 0 archived task(s), kept 2");
    let out = ok(&[
        "purge",
        q.root(),
        "--archive",
        "--older-than",
        "0s",
        "--json",
    ]);
    assert_eq!(out.trim(), r#"{"dry_run":false,"purged":2,"kept":0}"#);
}

fn failed_and_delayed_selections_by_listener_sequence_and_age(q: &Q) {
    let (mut a, mut b) = (open_listener(q, "a"), open_listener(q, "b"));
    for p in ["1", "2", "3"] {
        ok(&["dispatch", q.root(), "a", p]);
    }
    ok(&["dispatch", q.root(), "b", "9"]);
    let mut fail = |_: &hurah::Task| hurah::Outcome::failure("no");
    a.handle_once(&mut fail).unwrap();
    b.handle_once(&mut fail).unwrap();
    assert_eq!(q.count("error"), 4);
    let out = hurah(&["failed", "list", q.root(), "--listener", "nope:h"]);
    assert_eq!(
        out.status.code(),
        Some(66),
        "no such listener: {}",
        stderr(&out)
    );
    // Nothing that old: --all has nothing to do, which is not an error.
    let out = ok(&["failed", "delete", q.root(), "--all", "--older-than", "1h"]);
    assert_eq!(out.trim(), "deleted 0 task(s)", "nothing that old");
    let out = ok(&[
        "failed",
        "retry",
        q.root(),
        "--listener",
        "a:h",
        "--id",
        "2",
        "--json",
    ]);
    assert_eq!(out.trim(), r#"{"retried":1,"already_gone":0,"errors":0}"#);
    // Sequence 1 names a task in both listeners: refused without --listener.
    let out = hurah(&["failed", "delete", q.root(), "--id", "1"]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("a:h, b:h"), "{}", stderr(&out));
    for l in ["a:h", "b:h"] {
        let out = ok(&["failed", "delete", q.root(), "--id", "1", "--listener", l]);
        assert_eq!(out.trim(), "deleted 1 task(s)");
    }
    std::thread::sleep(Duration::from_millis(50));
    let out = ok(&[
        "failed",
        "delete",
        q.root(),
        "--all",
        "--older-than",
        "10ms",
    ]);
    assert_eq!(out.trim(), "deleted 1 task(s)", "a:h#3");
    let out = ok(&["failed", "list", q.root()]);
    assert_eq!(out.lines().count(), 1, "header only: {out}");
    assert_eq!(q.count("inbox"), 1, "a:h#2, retried");

    // Delayed: by sequence in one listener, then all.
    let later = json(&["dispatch", q.root(), "a", "5", "--delay", "2h", "--json"]);
    let seq = later["deliveries"][0]["sequence"].to_string();
    ok(&["dispatch", q.root(), "a", "6", "--delay", "1h"]);
    ok(&["dispatch", q.root(), "b", "7", "--delay", "1h"]);
    let v = json(&["delayed", "list", q.root(), "--json"]);
    let payload_order: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}#{}", d["listener"].as_str().unwrap(), d["sequence"]))
        .collect();
    assert_eq!(payload_order.len(), 3);
    assert_eq!(payload_order[2], format!("a:h#{seq}"), "latest due last");
    let out = ok(&[
        "delayed",
        "cancel",
        q.root(),
        "--listener",
        "a:h",
        "--id",
        &seq,
        "--json",
    ]);
    assert_eq!(out.trim(), r#"{"cancelled":1,"too_late":0}"#);
    let out = ok(&["delayed", "cancel", q.root(), "--all"]);
    assert_eq!(out.trim(), "cancelled 2 task(s)");
    let out = ok(&["delayed", "list", q.root()]);
    assert_eq!(out.lines().count(), 1, "header only: {out}");

    // Purge one listener.
    let mut done = |_: &hurah::Task| hurah::Outcome::Success;
    a.handle_once(&mut done).unwrap();
    let out = ok(&[
        "purge",
        q.root(),
        "--archive",
        "--older-than",
        "0s",
        "--listener",
        "b:h",
    ]);
    assert_eq!(out.trim(), "purged 0 archived task(s), kept 0");
    let out = ok(&["purge", q.root(), "--archive", "--older-than", "0s"]);
    assert_eq!(out.trim(), "purged 1 archived task(s), kept 0");
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime), counted from field 3 after the command name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn an_idle_worker_uses_almost_no_cpu(q: &Q) {
    let mut child = Command::new(BIN)
        .args(["work", q.root(), "a", "h", "--exec", "true", "-q"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(child.id()) - before;
    signal(&child, libc::SIGTERM);
    child.wait().unwrap();
    eprintln!("idle worker: {used} ticks of CPU in 3 s");
    assert!(used <= 3, "{used} clock ticks (1/100 s) in 3 s idle");
}

both!(
    Q:
    dispatch_prints_id_and_deliveries_and_status_counts_them,
    kill_9_mid_task_is_recovered_by_the_next_worker,
    sigterm_on_an_idle_worker_exits_0_promptly,
    status_reports_live_and_dead_worker_claims,
    failed_list_show_retry_delete,
    failed_older_than_selects_by_age,
    delayed_list_and_cancel_by_dispatch_id_or_sequence,
    purge_deletes_archived_tasks_older_than_the_limit,
    a_sequence_shared_by_two_listeners_is_refused_without_listener,
    a_delayed_sequence_shared_by_two_listeners_is_refused_without_listener,
    a_command_that_cannot_run_stops_the_worker_and_leaves_the_tasks_in_the_inbox,
    a_payload_nested_512_deep_is_dispatched_and_handled,
    a_payload_nested_deeper_than_512_is_refused_naming_the_depth,
    the_retry_limit_reason_keeps_what_the_last_attempt_said,
    work_runs_a_shell_command_per_task_retrying_within_a_group_commit,
    failed_delayed_and_purge_verbs,
    failed_and_delayed_selections_by_listener_sequence_and_age,
    an_idle_worker_uses_almost_no_cpu
);
