//! The reliability torture suite's tests of the `hurah` binary's shell runner (the rest of the
//! suite, which needs no binary, is the core's tests/torture.rs; `scripts/torture.sh` runs both):
//! a command killed by a signal or exiting fails its task and the worker serves the next, and
//! task content never reaches a shell.

use hurah::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hurah");

fn listener(root: &Path, ty: &str, name: &str) -> Listener {
    Layout::new(root).listener(
        &EventType::parse(ty).unwrap(),
        &HandlerName::new(name).unwrap(),
    )
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|e| e.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn key_of(p: &Path) -> String {
    let doc = TaskDoc::parse(&fs::read(p).unwrap(), p).unwrap();
    doc.payload()["k"].as_str().unwrap_or("").to_string()
}

fn keys_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = files(dir).iter().map(|p| key_of(p)).collect();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// 3. Faults.

#[test]
fn shell_handler_that_segfaults_or_exits_fails_its_task_and_the_worker_serves_the_next() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let r = root.to_str().unwrap();
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for k in ["segv", "exit", "ok"] {
        disp.dispatch(&ty, &format!("{{\"k\":\"{k}\"}}")).unwrap();
    }
    let script = "k=$(cat); case \"$k\" in *segv*) kill -SEGV $$;; *exit*) exit 42;; esac; exit 0";
    let out = Command::new(BIN)
        .args(["work", r, "a", "h", "--once", "--exec", script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(keys_in(&l.state_dir(State::Archive)), ["ok"]);
    let reason = |seq: u64| {
        let p = l.state_dir(State::Error).join(format!("{seq}.json"));
        let doc = TaskDoc::parse(&fs::read(&p).unwrap(), &p).unwrap();
        doc.error().unwrap()["reason"].as_str().unwrap().to_string()
    };
    assert!(reason(1).contains("signal 11"), "{}", reason(1));
    assert!(reason(1).contains("SIGSEGV"), "{}", reason(1));
    assert!(reason(2).contains("status 42"), "{}", reason(2));
}

// ---------------------------------------------------------------------------------------------
// 5. Security.

#[test]
fn task_content_is_never_executed_by_the_core_or_the_shell_runner() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let marker = d.path().join("pwned");
    let m = marker.to_str().unwrap();
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for evil in [
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("; touch {m}"),
        format!("' ; touch {m}; '"),
        format!("\" && touch {m} && \""),
        format!("\n touch {m}"),
    ] {
        disp.dispatch(&ty, &serde_json::json!({ "k": evil }).to_string())
            .unwrap();
    }
    // A legacy-style file whose "event" tries to steer paths.
    fs::write(
        l.inbox_file(100),
        format!("{{\"payload\":{{\"k\":\"$(touch {m})\"}},\"event\":\"../../../tmp\",\"sequence\":100}}"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "work",
            root.to_str().unwrap(),
            "a",
            "h",
            "--once",
            "--exec",
            "cat >/dev/null",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(files(&l.state_dir(State::Archive)).len(), 7);
    assert!(!marker.exists(), "task content was executed");
    assert_eq!(files(d.path()), [root], "nothing created outside the root");
}
