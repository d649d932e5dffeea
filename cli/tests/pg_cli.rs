//! `hurah migrate <dsn>` against the test server.

#[path = "../../tests/pg_support/mod.rs"]
mod pg_support;

use std::process::Command;

fn hurah(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hurah"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn migrate_creates_then_reports_up_to_date() {
    let db = pg_support::TestDb::new();
    let (code, out, err) = hurah(&["migrate", &db.dsn]);
    assert_eq!(code, 0, "{err}");
    let latest = hurah::pg::MIGRATIONS.last().unwrap().0;
    assert!(
        out.contains(&format!("from version 0 to {latest}")),
        "{out}"
    );
    let (code, out, _) = hurah(&["migrate", &db.dsn, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["applied"], serde_json::json!([]));
    let mut c = db.client();
    let n: i64 = c
        .query_one("SELECT count(*) FROM hurah.migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, hurah::pg::MIGRATIONS.len() as i64);
}

#[test]
fn migrate_errors_name_the_problem() {
    let (code, _, err) = hurah(&["migrate", "postgresql://postgres@127.0.0.1:1/x"]);
    assert_eq!(code, 76, "database error: {err}");
    assert!(
        err.contains("127.0.0.1:1") && err.contains("refused"),
        "{err}"
    );
    let (code, _, err) = hurah(&["migrate", "/tmp/not-a-dsn"]);
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = hurah(&["migrate", "postgresql://u:pw@h:notaport/d"]);
    assert_eq!(code, 64, "{err}");
    assert!(!err.contains(":pw@"), "password redacted: {err}");
}

#[test]
fn dispatch_verb_accepts_a_dsn() {
    let db = pg_support::TestDb::new();
    hurah::pg::PgQueue::open(
        &db.dsn,
        &hurah::EventType::parse("a").unwrap(),
        &hurah::HandlerName::new("h").unwrap(),
    )
    .unwrap();
    let (code, out, err) = hurah(&["dispatch", &db.dsn, "a/b", "{\"x\":1}", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["deliveries"][0]["sequence"], 1, "{v}");
}

fn count(db: &pg_support::TestDb, state: &str) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM hurah.tasks WHERE state = $1",
            &[&state],
        )
        .unwrap()
        .get(0)
}

#[test]
fn work_verb_runs_a_shell_command_per_task_on_postgres() {
    let db = pg_support::TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // Registers the listener, nothing due yet.
    let exec = format!(
        "cat >> {0}; echo >> {0}; test \"$(cat {0} | wc -l)\" != 2 || exit 75",
        out.display()
    );
    let (code, _, err) = hurah(&["work", &db.dsn, "a", "h", "--exec", &exec, "--once"]);
    assert_eq!(code, 0, "{err}");
    for i in 1..=3 {
        let (code, _, err) = hurah(&["dispatch", &db.dsn, "a", &i.to_string()]);
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = hurah(&[
        "work",
        &db.dsn,
        "a",
        "h",
        "--exec",
        &exec,
        "--stop-when-empty",
        "--group-commit",
        "--max-attempts",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("handled 4, succeeded 3"), "{err}");
    let lines = std::fs::read_to_string(&out).unwrap();
    // Task 2 exited 75 (RETRY) once and ran again right after.
    assert_eq!(
        lines
            .lines()
            .filter(|l| l.contains("\"payload\":2"))
            .count(),
        2,
        "{lines}"
    );
    assert_eq!(count(&db, "archive"), 3);
}

#[test]
fn kill_9_of_a_worker_mid_task_is_recovered_with_the_attempt_counted() {
    let db = pg_support::TestDb::new();
    let (code, _, err) = hurah(&["work", &db.dsn, "a", "h", "--exec", "true", "--once"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = hurah(&["dispatch", &db.dsn, "a", "1"]);
    assert_eq!(code, 0);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hurah"))
        .args(["work", &db.dsn, "a", "h", "--exec", "sleep 5", "-q"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&db, "claimed") == 0 {
        assert!(std::time::Instant::now() < deadline, "never claimed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SIGKILL: no cleanup at all; PostgreSQL frees the worker's advisory lock with its session.
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, _, err) = hurah(&[
        "work",
        &db.dsn,
        "a",
        "h",
        "--exec",
        "test \"$HURAH_ATTEMPT\" = 2",
        "--once",
        "--max-attempts",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("succeeded 1") && err.contains("recovered 1"),
        "{err}"
    );
    assert_eq!(count(&db, "archive"), 1);
    assert_eq!(count(&db, "claimed"), 0);
}

#[test]
fn work_verb_stops_on_sigterm_when_idle() {
    let db = pg_support::TestDb::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hurah"))
        .args(["work", &db.dsn, "a", "h", "--exec", "true"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let t = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn status_verb_on_postgres_counts_states_and_workers() {
    let db = pg_support::TestDb::new();
    let et = hurah::EventType::parse("a").unwrap();
    let mut q =
        hurah::pg::PgQueue::open(&db.dsn, &et, &hurah::HandlerName::new("h").unwrap()).unwrap();
    for p in ["1", "2", "3"] {
        assert_eq!(hurah(&["dispatch", &db.dsn, "a", p]).0, 0);
    }
    assert_eq!(
        hurah(&["dispatch", &db.dsn, "a", "4", "--delay", "1h"]).0,
        0
    );
    assert_eq!(q.claim(1, &[]).unwrap().len(), 1, "a live worker holds one");
    let dying = {
        let mut other =
            hurah::pg::PgQueue::open(&db.dsn, &et, &hurah::HandlerName::new("h").unwrap()).unwrap();
        assert_eq!(other.claim(1, &[]).unwrap().len(), 1);
        other
    };
    drop(dying);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, out, err) = hurah(&["status", &db.dsn, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &v[0];
    assert_eq!(
        (
            &r["inbox"],
            &r["delayed"],
            &r["claimed"],
            &r["live_workers"],
            &r["dead_workers"]
        ),
        (&1.into(), &1.into(), &2.into(), &1.into(), &1.into()),
        "{r}"
    );
    let (code, out, _) = hurah(&["status", &db.dsn]);
    assert_eq!(code, 0);
    assert!(
        out.contains("CLAIMED(live/dead)") && out.contains("2 (1/1)"),
        "{out}"
    );
}

#[test]
fn failed_delayed_and_purge_verbs_on_postgres() {
    let db = pg_support::TestDb::new();
    let mut q = hurah::pg::PgQueue::open(
        &db.dsn,
        &hurah::EventType::parse("a").unwrap(),
        &hurah::HandlerName::new("h").unwrap(),
    )
    .unwrap();
    for p in ["1", "2", "3"] {
        assert_eq!(hurah(&["dispatch", &db.dsn, "a", p]).0, 0);
    }
    let (_, out, _) = hurah(&["dispatch", &db.dsn, "a", "4", "--delay", "1h"]);
    let delayed_id = out.lines().next().unwrap().to_string();
    let mut h = |t: &hurah::Task| {
        if t.payload() == 2 {
            hurah::Outcome::failure("two\tis bad")
        } else {
            hurah::Outcome::Success
        }
    };
    hurah::pg::pg_handle_once(&mut q, &mut h).unwrap();
    // failed list / show
    let (code, out, err) = hurah(&["failed", "list", &db.dsn]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("a:h\t2\t") && out.contains("two is bad"),
        "{out}"
    );
    let (code, out, _) = hurah(&["failed", "list", &db.dsn, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["reason"], "two\tis bad");
    assert_eq!(v[0]["attempts"], 1);
    let (code, out, _) = hurah(&["failed", "show", &db.dsn, "--id", "2", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["task"]["payload"], 2);
    assert_eq!(v[0]["task"]["error"]["reason"], "two\tis bad");
    assert_eq!(
        hurah(&["failed", "retry", &db.dsn]).0,
        64,
        "needs --id or --all"
    );
    assert_eq!(
        hurah(&["failed", "retry", &db.dsn, "--id", "9"]).0,
        66,
        "no such task"
    );
    let (code, out, _) = hurah(&["failed", "retry", &db.dsn, "--id", "2"]);
    assert_eq!((code, out.trim()), (0, "retried 1 task(s)"));
    let mut seen = Vec::new();
    hurah::pg::pg_handle_once(&mut q, &mut |t: &hurah::Task| {
        seen.push((t.payload().as_u64().unwrap(), t.attempt()));
        hurah::Outcome::failure("again")
    })
    .unwrap();
    assert_eq!(seen, [(2, 1)], "attempts reset");
    let (code, out, _) = hurah(&["failed", "delete", &db.dsn, "--all", "--listener", "a:h"]);
    assert_eq!((code, out.trim()), (0, "deleted 1 task(s)"));
    // delayed list / cancel
    let (code, out, _) = hurah(&["delayed", "list", &db.dsn, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["id"], delayed_id.as_str());
    let (code, out, _) = hurah(&["delayed", "cancel", &db.dsn, "--id", &delayed_id, "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"{"cancelled":1,"too_late":0}"#);
    let (code, out, _) = hurah(&["delayed", "cancel", &db.dsn, "--all"]);
    // Nothing left: --all has nothing to do, which is not an error.
    assert_eq!(
        (code, out.trim()),
        (0, "cancelled 0 task(s)"),
        "nothing left"
    );
    // purge
    let (code, out, _) = hurah(&[
        "purge",
        &db.dsn,
        "--archive",
        "--older-than",
        "0s",
        "--dry-run",
    ]);
    assert_eq!(
        (code, out.trim()),
        (0, "would purge 2 archived task(s), kept 0")
    );
    let (code, out, _) = hurah(&["purge", &db.dsn, "--archive", "--older-than", "1h"]);
    assert_eq!((code, out.trim()), (0, "purged 0 archived task(s), kept 2"));
    let (code, out, _) = hurah(&[
        "purge",
        &db.dsn,
        "--archive",
        "--older-than",
        "0s",
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"{"dry_run":false,"purged":2,"kept":0}"#);
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime), counted from field 3 after the command name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_worker_on_postgres_uses_almost_no_cpu() {
    let db = pg_support::TestDb::new();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hurah"))
        .args(["work", &db.dsn, "a", "h", "--exec", "true", "-q"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let before = cpu_ticks(child.id());
    std::thread::sleep(std::time::Duration::from_secs(3));
    let used = cpu_ticks(child.id()) - before;
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    eprintln!("idle worker: {used} ticks of CPU in 3 s");
    assert!(used <= 3, "{used} clock ticks (1/100 s) in 3 s idle");
}

#[test]
fn failed_and_delayed_selections_by_listener_sequence_and_age_on_postgres() {
    let db = pg_support::TestDb::new();
    let open = |t: &str| {
        hurah::pg::PgQueue::open(
            &db.dsn,
            &hurah::EventType::parse(t).unwrap(),
            &hurah::HandlerName::new("h").unwrap(),
        )
        .unwrap()
    };
    let (mut a, mut b) = (open("a"), open("b"));
    for p in ["1", "2", "3"] {
        assert_eq!(hurah(&["dispatch", &db.dsn, "a", p]).0, 0);
    }
    assert_eq!(hurah(&["dispatch", &db.dsn, "b", "9"]).0, 0);
    let mut fail = |_: &hurah::Task| hurah::Outcome::failure("no");
    hurah::pg::pg_handle_once(&mut a, &mut fail).unwrap();
    hurah::pg::pg_handle_once(&mut b, &mut fail).unwrap();
    assert_eq!(count(&db, "error"), 4);
    let (code, _, err) = hurah(&["failed", "list", &db.dsn, "--listener", "nope:h"]);
    assert_eq!(code, 66, "no such listener: {err}");
    let (code, out, _) = hurah(&["failed", "delete", &db.dsn, "--all", "--older-than", "1h"]);
    // Nothing that old: --all has nothing to do, which is not an error.
    assert_eq!(
        (code, out.trim()),
        (0, "deleted 0 task(s)"),
        "nothing that old"
    );
    let (code, out, err) = hurah(&[
        "failed",
        "retry",
        &db.dsn,
        "--listener",
        "a:h",
        "--id",
        "2",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"{"retried":1,"already_gone":0,"errors":0}"#);
    // Sequence 1 names a task in both listeners: refused without --listener.
    let (code, _, err) = hurah(&["failed", "delete", &db.dsn, "--id", "1"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("a:h, b:h"), "{err}");
    for l in ["a:h", "b:h"] {
        let (code, out, _) = hurah(&["failed", "delete", &db.dsn, "--id", "1", "--listener", l]);
        assert_eq!((code, out.trim()), (0, "deleted 1 task(s)"));
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    let (code, out, _) = hurah(&["failed", "delete", &db.dsn, "--all", "--older-than", "10ms"]);
    assert_eq!((code, out.trim()), (0, "deleted 1 task(s)"), "a:h#3");
    let (code, out, _) = hurah(&["failed", "list", &db.dsn]);
    assert_eq!((code, out.lines().count()), (0, 1), "header only: {out}");
    assert_eq!(count(&db, "inbox"), 1, "a:h#2, retried");

    // Delayed: by sequence in one listener, then all.
    let (_, out, _) = hurah(&["dispatch", &db.dsn, "a", "5", "--delay", "2h", "--json"]);
    let later: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let seq = later["deliveries"][0]["sequence"].to_string();
    assert_eq!(
        hurah(&["dispatch", &db.dsn, "a", "6", "--delay", "1h"]).0,
        0
    );
    assert_eq!(
        hurah(&["dispatch", &db.dsn, "b", "7", "--delay", "1h"]).0,
        0
    );
    let (code, out, _) = hurah(&["delayed", "list", &db.dsn, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let payload_order: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}#{}", d["listener"].as_str().unwrap(), d["sequence"]))
        .collect();
    assert_eq!(payload_order.len(), 3);
    assert_eq!(payload_order[2], format!("a:h#{seq}"), "latest due last");
    let (code, out, _) = hurah(&[
        "delayed",
        "cancel",
        &db.dsn,
        "--listener",
        "a:h",
        "--id",
        &seq,
        "--json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"{"cancelled":1,"too_late":0}"#);
    let (code, out, _) = hurah(&["delayed", "cancel", &db.dsn, "--all"]);
    assert_eq!((code, out.trim()), (0, "cancelled 2 task(s)"));
    let (code, out, _) = hurah(&["delayed", "list", &db.dsn]);
    assert_eq!((code, out.lines().count()), (0, 1), "header only: {out}");

    // Purge one listener.
    let mut ok = |_: &hurah::Task| hurah::Outcome::Success;
    hurah::pg::pg_handle_once(&mut a, &mut ok).unwrap();
    let (code, out, _) = hurah(&[
        "purge",
        &db.dsn,
        "--archive",
        "--older-than",
        "0s",
        "--listener",
        "b:h",
    ]);
    assert_eq!((code, out.trim()), (0, "purged 0 archived task(s), kept 0"));
    let (code, out, _) = hurah(&["purge", &db.dsn, "--archive", "--older-than", "0s"]);
    assert_eq!((code, out.trim()), (0, "purged 1 archived task(s), kept 0"));
}

fn attempts_of(db: &pg_support::TestDb) -> Vec<(String, i32)> {
    db.client()
        .query("SELECT state, attempts FROM hurah.tasks ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn a_command_that_cannot_run_stops_the_worker_on_postgres_leaving_the_backlog() {
    let db = pg_support::TestDb::new();
    let (code, _, err) = hurah(&["work", &db.dsn, "a", "h", "--exec", "true", "--once"]);
    assert_eq!(code, 0, "{err}");
    for i in 1..=3 {
        let (code, _, err) = hurah(&["dispatch", &db.dsn, "a", &i.to_string()]);
        assert_eq!(code, 0, "{err}");
    }
    for mode in [
        vec!["--stop-when-empty"],
        vec!["--stop-when-empty", "--group-commit"],
        vec!["--once"],
        // A long-running worker stops too (the bound only keeps a regression from hanging).
        vec!["--max-time", "60s"],
    ] {
        let mut args = vec!["work", &db.dsn, "a", "h", "--exec", "/nonexistent/handler"];
        args.extend_from_slice(&mode);
        let (code, _, err) = hurah(&args);
        assert_eq!(code, 69, "{mode:?}: {err}");
        assert!(err.contains("status 127"), "{err}");
        assert_eq!(
            attempts_of(&db),
            vec![("inbox".to_string(), 0); 3],
            "{mode:?}: no attempt spent, nothing in error"
        );
    }
}

#[test]
fn a_sequence_shared_by_two_listeners_is_refused_without_listener_on_postgres() {
    let db = pg_support::TestDb::new();
    for t in ["a", "b"] {
        let (code, _, err) = hurah(&["work", &db.dsn, t, "h", "--exec", "true", "--once"]);
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = hurah(&["dispatch", &db.dsn, t, "1"]);
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = hurah(&["work", &db.dsn, t, "h", "--exec", "exit 1", "--once"]);
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(count(&db, "error"), 2);
    let (code, _, err) = hurah(&["failed", "delete", &db.dsn, "--id", "1"]);
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("a:h") && err.contains("b:h"), "{err}");
    assert_eq!(count(&db, "error"), 2, "nothing deleted");
    let (code, _, err) = hurah(&[
        "failed",
        "delete",
        &db.dsn,
        "--id",
        "1",
        "--listener",
        "a:h",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(count(&db, "error"), 1);
    let (code, _, err) = hurah(&["failed", "delete", &db.dsn, "--all"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = hurah(&["failed", "retry", &db.dsn, "--all"]);
    assert_eq!(code, 0, "nothing failed is not an error: {err}");
    assert!(out.contains("retried 0"), "{out}");
}

#[test]
fn a_payload_nested_512_deep_is_dispatched_and_handled_on_postgres() {
    let db = pg_support::TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got.json");
    let (code, _, err) = hurah(&["work", &db.dsn, "a", "h", "--exec", "true", "--once"]);
    assert_eq!(code, 0, "{err}");
    let p = format!("{}1{}", "[".repeat(512), "]".repeat(512));
    let (code, _, err) = hurah(&["dispatch", &db.dsn, "a", &p]);
    assert_eq!(code, 0, "{err}");
    let exec = format!("cat > {}", got.display());
    let (code, _, err) = hurah(&["work", &db.dsn, "a", "h", "--exec", &exec, "--once"]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::read_to_string(&got).unwrap().contains(&p), "{err}");
    assert_eq!(count(&db, "error"), 0, "{err}");
    let deeper = format!("{}1{}", "[".repeat(513), "]".repeat(513));
    let (code, _, err) = hurah(&["dispatch", &db.dsn, "a", &deeper]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("513") && err.contains("512"), "{err}");
}

#[test]
fn the_retry_limit_reason_keeps_what_the_last_attempt_said_on_postgres() {
    let db = pg_support::TestDb::new();
    let (code, _, err) = hurah(&["work", &db.dsn, "a", "h", "--exec", "true", "--once"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = hurah(&["dispatch", &db.dsn, "a", "1"]);
    assert_eq!(code, 0, "{err}");
    for group_commit in [false, true] {
        let mut args = vec![
            "work",
            &db.dsn,
            "a",
            "h",
            "--exec",
            "echo smtp busy >&2; exit 75",
            "--stop-when-empty",
        ];
        if group_commit {
            args.push("--group-commit");
        }
        let (code, _, err) = hurah(&args);
        assert_eq!(code, 0, "{err}");
        let reason: String = db
            .client()
            .query_one("SELECT error->>'reason' FROM hurah.tasks", &[])
            .unwrap()
            .get(0);
        assert_eq!(
            reason,
            "Hit retry limit which is set to: 0. Last attempt: command exited with status 75 \
             (EX_TEMPFAIL): smtp busy"
        );
        let (code, _, err) = hurah(&["failed", "retry", &db.dsn, "--all"]);
        assert_eq!(code, 0, "{err}");
    }
}
