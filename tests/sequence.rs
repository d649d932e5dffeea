//! Sequence numbers are never reused: a dispatcher killed between allocating a number and
//! publishing its file, a `tracking.json` restored from an older backup, a counter at its
//! largest value. And `tracking.json` itself is never seen empty, never followed as a link.
//!
//! Kill tests re-run this test binary as a child (`child_entry_point`) with the crash point
//! `HURAH_TEST_FAULT` armed: the child SIGKILLs itself at that point.

use hurah::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn ty(s: &str) -> EventType {
    EventType::parse(s).unwrap()
}

fn listener(root: &Path, name: &str) -> Listener {
    Layout::new(root).listener(&ty("a"), &HandlerName::new(name).unwrap())
}

/// Child mode: dispatches `HURAH_SEQ_CHILD_PAYLOAD` to `a` under `HURAH_SEQ_CHILD_ROOT`.
#[test]
fn child_entry_point() {
    if let Ok(root) = std::env::var("HURAH_SEQ_CHILD_ROOT") {
        let payload = std::env::var("HURAH_SEQ_CHILD_PAYLOAD").unwrap();
        let d = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
        d.dispatch(&ty("a"), &payload).unwrap();
        std::process::exit(0);
    }
}

/// Runs one dispatch in a child killed at `fault`; returns how the child ended. Its output is
/// captured (so that it does not mix with this test binary's own report).
fn dispatch_in_child_killed_at(
    root: &Path,
    payload: &str,
    fault: &str,
) -> std::process::ExitStatus {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HURAH_SEQ_CHILD_ROOT", root)
        .env("HURAH_SEQ_CHILD_PAYLOAD", payload)
        .env("HURAH_TEST_FAULT", fault)
        .output()
        .unwrap();
    if out.status.signal().is_none() {
        eprintln!("child: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status
}

/// Every task file of the listener, in any state: `(sequence in the file, payload)`, with the
/// path. Reads names and contents; the listener's own files are all regular.
fn all_tasks(l: &Listener) -> Vec<(u64, Value, PathBuf)> {
    let mut dirs = vec![
        l.state_dir(State::Inbox),
        l.state_dir(State::Archive),
        l.state_dir(State::Error),
        l.state_dir(State::Delayed),
    ];
    if let Ok(ws) = fs::read_dir(l.state_dir(State::Claimed)) {
        dirs.extend(ws.flatten().map(|w| w.path()));
    }
    let mut out = Vec::new();
    for d in dirs {
        let Ok(es) = fs::read_dir(&d) else { continue };
        for e in es.flatten() {
            let p = e.path();
            let doc = TaskDoc::parse(&fs::read(&p).unwrap(), &p).unwrap();
            out.push((doc.sequence().unwrap(), doc.payload().clone(), p));
        }
    }
    out.sort_by_key(|t| t.0);
    out
}

fn assert_sequences_distinct(l: &Listener) {
    let mut by_seq: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    for (seq, _, p) in all_tasks(l) {
        by_seq.entry(seq).or_default().push(p);
    }
    let shared: Vec<_> = by_seq.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(shared.is_empty(), "sequences used twice: {shared:?}");
}

fn drain(l: &Listener) -> RunStats {
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    handle_once(&mut q, &mut |_: &Task| Outcome::Success).unwrap()
}

fn tracking_sequence(l: &Listener) -> u64 {
    let v: Value = serde_json::from_slice(&fs::read(l.tracking_file()).unwrap()).unwrap();
    v["sequence"].as_u64().unwrap()
}

#[test]
fn dispatcher_killed_between_sequence_update_and_publish_never_makes_two_tasks_share_a_number() {
    let d = tempfile::tempdir().unwrap();
    let (l, m) = (listener(d.path(), "h"), listener(d.path(), "m"));
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    Queue::open(m.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    disp.dispatch(&ty("a"), "1").unwrap();
    for round in 0..3 {
        let st = dispatch_in_child_killed_at(
            d.path(),
            &format!("\"killed{round}\""),
            "dispatch-between-sequence-and-publish",
        );
        assert_eq!(
            st.signal(),
            Some(libc::SIGKILL),
            "the child reached the crash point"
        );
        // The worker finishes whatever is in the inbox, then the next dispatch comes.
        drain(&l);
        drain(&m);
        disp.dispatch(&ty("a"), &format!("\"after{round}\""))
            .unwrap();
        drain(&l);
        drain(&m);
    }
    for l in [&l, &m] {
        assert_sequences_distinct(l);
        let payloads: Vec<Value> = all_tasks(l).into_iter().map(|t| t.1).collect();
        for p in ["after0", "after1", "after2"] {
            assert!(
                payloads.contains(&Value::from(p)),
                "{p} missing: {payloads:?}"
            );
        }
        // Every archived file is under its own number.
        for (seq, _, p) in all_tasks(l) {
            assert_eq!(
                p.file_name().unwrap().to_str().unwrap(),
                format!("{seq}.json")
            );
        }
    }
}

#[test]
fn tracking_json_restored_from_an_older_backup_never_reuses_archived_or_failed_numbers() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path(), "h");
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    disp.dispatch(&ty("a"), "1").unwrap();
    let backup = fs::read(l.tracking_file()).unwrap();
    for i in 2..=6 {
        disp.dispatch(&ty("a"), &i.to_string()).unwrap();
    }
    // 1..=3 succeed (archive/), 4..=6 fail (error/).
    handle_once(&mut q, &mut |t: &Task| {
        if t.payload().as_u64().unwrap() <= 3 {
            Outcome::Success
        } else {
            Outcome::failure("no")
        }
    })
    .unwrap();
    fs::write(l.tracking_file(), &backup).unwrap();
    let r = disp.dispatch(&ty("a"), "7").unwrap();
    assert_eq!(
        r.deliveries[0].sequence, 7,
        "moved past the highest number on disk"
    );
    assert_eq!(tracking_sequence(&l), 7);
    // A backup whose next number is found in error/ only (archive/ purged) is caught too.
    handle_once(&mut q, &mut |_: &Task| Outcome::Success).unwrap();
    for e in fs::read_dir(l.state_dir(State::Archive)).unwrap() {
        fs::remove_file(e.unwrap().path()).unwrap();
    }
    fs::write(
        l.tracking_file(),
        r#"{"sequence":3,"count":3,"first":"2023-10-02T13:18:35+00:00","last":"x"}"#,
    )
    .unwrap();
    let r = disp.dispatch(&ty("a"), "8").unwrap();
    assert_eq!(r.deliveries[0].sequence, 7, "4..=6 are in error/");
    disp.dispatch(&ty("a"), "9").unwrap();
    drain(&l);
    assert_sequences_distinct(&l);
    let seqs: Vec<u64> = all_tasks(&l).into_iter().map(|t| t.0).collect();
    assert_eq!(seqs, [4, 5, 6, 7, 8]);
}

#[test]
fn delayed_dispatch_with_a_restored_counter_skips_numbers_in_the_inbox() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path(), "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let backup_before = {
        disp.dispatch(&ty("a"), "1").unwrap();
        fs::read(l.tracking_file()).unwrap()
    };
    disp.dispatch(&ty("a"), "2").unwrap();
    fs::write(l.tracking_file(), &backup_before).unwrap();
    let later = DispatchOptions {
        not_before_ms: Some(clock::now_ms() + 60_000),
    };
    let r = disp.dispatch_with(&ty("a"), "3", later).unwrap();
    assert_eq!(r.deliveries[0].sequence, 3);
    assert_sequences_distinct(&l);
}

#[test]
fn a_counter_at_its_largest_value_is_refused_with_the_listener_and_value_named() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path(), "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    // u64::MAX wrapped to 0; i64::MAX is the largest number PHP and PostgreSQL can hold.
    for top in [u64::MAX, i64::MAX as u64] {
        let text = format!(
            r#"{{"sequence":{top},"count":{top},"first":"2023-10-02T13:18:35+00:00","last":"2023-10-02T13:18:35+00:00"}}"#
        );
        fs::write(l.tracking_file(), &text).unwrap();
        let e = disp.dispatch(&ty("a"), "1").unwrap_err();
        assert!(
            matches!(e, Error::SequenceExhausted { sequence, .. } if sequence == top),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains(&top.to_string()), "{msg}");
        assert!(msg.contains("h_listener"), "{msg}");
        assert!(all_tasks(&l).is_empty(), "nothing published");
        assert_eq!(
            fs::read_to_string(l.tracking_file()).unwrap(),
            text,
            "counter untouched"
        );
    }
    // One below the limit still works, and is the last number.
    let below = i64::MAX as u64 - 1;
    fs::write(
        l.tracking_file(),
        format!(r#"{{"sequence":{below},"count":1,"first":"x","last":"x"}}"#),
    )
    .unwrap();
    let r = disp.dispatch(&ty("a"), "1").unwrap();
    assert_eq!(r.deliveries[0].sequence, i64::MAX as u64);
    assert!(matches!(
        disp.dispatch(&ty("a"), "2"),
        Err(Error::SequenceExhausted { .. })
    ));
}

#[test]
fn tracking_json_is_never_seen_empty_while_it_is_created() {
    let d = tempfile::tempdir().unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    for i in 0..100 {
        let l =
            Layout::new(d.path()).listener(&ty(&format!("t{i}")), &HandlerName::new("h").unwrap());
        Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
        let path = l.tracking_file();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                if let Ok(b) = fs::read(&path) {
                    seen.push(b);
                }
            }
            if let Ok(b) = fs::read(&path) {
                seen.push(b);
            }
            seen
        });
        disp.dispatch(&ty(&format!("t{i}")), "1").unwrap();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for b in reader.join().unwrap() {
            let v: Value = serde_json::from_slice(&b)
                .unwrap_or_else(|e| panic!("{i}: read {:?}: {e}", String::from_utf8_lossy(&b)));
            assert!(v["sequence"].is_u64() && v["first"].is_string(), "{v}");
        }
        assert_eq!(tracking_sequence(&l), 1);
    }
}

#[test]
fn tracking_json_that_is_a_symlink_or_a_fifo_is_refused_and_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let l = listener(d.path(), "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let secret = d.path().join("secret");
    fs::write(
        &secret,
        r#"{"sequence":41,"count":41,"first":"s","last":"s"}"#,
    )
    .unwrap();
    std::os::unix::fs::symlink(&secret, l.tracking_file()).unwrap();
    let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
    let e = disp.dispatch(&ty("a"), "1").unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e:?}");
    assert!(e.to_string().contains("tracking.json"), "{e}");
    assert_eq!(
        fs::read_to_string(&secret).unwrap(),
        r#"{"sequence":41,"count":41,"first":"s","last":"s"}"#
    );
    assert!(all_tasks(&l).is_empty());
    fs::remove_file(l.tracking_file()).unwrap();
    let c = std::ffi::CString::new(l.tracking_file().to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // Does not hang on the FIFO.
    let e = disp.dispatch(&ty("a"), "1").unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e:?}");
    assert!(e.to_string().contains("FIFO"), "{e}");
}
