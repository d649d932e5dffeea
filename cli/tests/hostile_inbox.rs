//! Entries that are not regular files in a listener's directories: symbolic links (pointing
//! outside the root, at a secret), directories, FIFOs. The worker never follows a link nor
//! reads through one, never blocks on a FIFO, never fails at start-up on a directory; it moves
//! the entry itself (rename, which does not follow links) into `error/` as
//! `<seq>.<kind>.rejected` next to a regular `error/<seq>.json` stating the reason, and serves
//! the other tasks. Listings (`failed`, `status`, delayed, inbox) never read through them.

use hurah::backend::{self, TaskState};
use hurah::*;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

const SECRET: &str = "TOP-SECRET-3f9c1";
const BIN: &str = env!("CARGO_BIN_EXE_hurah");

fn ty(s: &str) -> EventType {
    EventType::parse(s).unwrap()
}

struct Q {
    _d: tempfile::TempDir,
    root: PathBuf,
    secret: PathBuf,
    l: Listener,
}

/// A root with listener a/h and tasks 1..=3 dispatched, and a secret file outside the root
/// (valid task JSON, so that reading it through a link would "work").
fn setup() -> Q {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let secret = d.path().join("secret.json");
    fs::write(
        &secret,
        format!(r#"{{"payload":"{SECRET}","sequence":7,"count":7,"delivery":"x"}}"#),
    )
    .unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let l = Layout::new(&root).listener(&ty("a"), &HandlerName::new("h").unwrap());
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    for i in 1..=3 {
        disp.dispatch(&ty("a"), &i.to_string()).unwrap();
    }
    Q {
        _d: d,
        root,
        secret,
        l,
    }
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
        0,
        "mkfifo {p:?}"
    );
}

/// Runs `f` in a thread; fails the test if it has not returned after a generous bound
/// (a FIFO read blocks forever).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} hung"))
}

fn handle(l: &Listener) -> Result<(RunStats, Vec<u64>)> {
    let l = l.clone();
    within("handle_once", move || {
        let mut q = Queue::open(l, FsyncPolicy::Never)?;
        let mut ran = Vec::new();
        let s = handle_once(&mut q, &mut |t: &Task| {
            ran.push(t.payload().as_u64().unwrap_or(0));
            Outcome::Success
        })?;
        Ok((s, ran))
    })
}

/// Every regular file under `dir` (not following links), with its content.
fn regular_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(es) = fs::read_dir(dir) else {
        return out;
    };
    for e in es.flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(regular_files(&e.path()));
        } else if t.is_file() {
            out.push((e.path(), fs::read(e.path()).unwrap()));
        }
    }
    out
}

fn assert_secret_not_copied(q: &Q) {
    for (p, b) in regular_files(&q.root) {
        assert!(
            !String::from_utf8_lossy(&b).contains(SECRET),
            "the secret was copied into {p:?}"
        );
    }
    assert!(fs::read_to_string(&q.secret).unwrap().contains(SECRET));
}

/// The reason file `error/<seq>.json` and the rejected entry, checked; returns the reason.
fn assert_rejected(l: &Listener, seq: u64, kind: &str, what: &str) -> String {
    let moved = l
        .state_dir(State::Error)
        .join(format!("{seq}.{kind}.rejected"));
    let meta = fs::symlink_metadata(&moved)
        .unwrap_or_else(|e| panic!("{moved:?}: {e}; error/ has {:?}", list(l, State::Error)));
    match kind {
        "symlink" => assert!(meta.file_type().is_symlink()),
        "directory" => assert!(meta.is_dir()),
        "fifo" => {
            use std::os::unix::fs::FileTypeExt;
            assert!(meta.file_type().is_fifo())
        }
        _ => unreachable!(),
    }
    let reason_file = l.state_dir(State::Error).join(format!("{seq}.json"));
    assert!(fs::symlink_metadata(&reason_file).unwrap().is_file());
    let f = failed::FailedTask::load(l, &reason_file).unwrap();
    let reason = f.reason();
    assert!(reason.contains(what), "{reason}");
    assert!(
        reason.contains(&format!("{seq}.{kind}.rejected")),
        "{reason}"
    );
    assert_eq!(f.class(), Some("NotRegularFile"));
    assert!(f.is_corrupt(), "a rejected entry cannot be retried");
    reason
}

fn list(l: &Listener, s: State) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(l.state_dir(s))
        .map(|es| {
            es.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn symlink_in_the_inbox_is_never_followed_and_the_other_tasks_are_served() {
    let q = setup();
    symlink(&q.secret, q.l.inbox_file(2).with_file_name("100.json")).unwrap();
    let (s, ran) = handle(&q.l).unwrap();
    assert_eq!(ran, [1, 2, 3]);
    assert_eq!((s.succeeded, s.failed), (3, 1), "{s:?}");
    let reason = assert_rejected(&q.l, 100, "symlink", "symbolic link");
    assert!(reason.contains("100.json"), "{reason}");
    assert_secret_not_copied(&q);
    // The link itself is kept as it was, for inspection.
    let moved = q.l.state_dir(State::Error).join("100.symlink.rejected");
    assert_eq!(fs::read_link(&moved).unwrap(), q.secret);
    // Nothing left claimed or in the inbox; a second run has nothing to do.
    assert!(list(&q.l, State::Inbox).is_empty());
    let (s, _) = handle(&q.l).unwrap();
    assert_eq!(s, RunStats::default());
}

#[test]
fn directory_named_like_a_task_does_not_stop_any_worker_from_starting() {
    let q = setup();
    let dir = q.l.state_dir(State::Inbox).join("2.json");
    // Take number 2 before dispatch would: move the real task 2 away first.
    fs::rename(&dir, q.l.state_dir(State::Inbox).join("4.json")).unwrap();
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("inside.txt"), "x").unwrap();
    let (s, ran) = handle(&q.l).unwrap();
    assert_eq!(ran, [1, 3, 2], "task 2 is now 4.json: {s:?}");
    assert_rejected(&q.l, 2, "directory", "directory");
    assert!(q
        .l
        .state_dir(State::Error)
        .join("2.directory.rejected/inside.txt")
        .exists());
    // Later workers start and serve new tasks, also the long-running one.
    Dispatcher::new(&q.root, FsyncPolicy::Never)
        .unwrap()
        .dispatch(&ty("a"), "5")
        .unwrap();
    let l = q.l.clone();
    let stats = within("Worker::run", move || {
        let mut w = Worker::new();
        w.add(
            Queue::open(l, FsyncPolicy::Never).unwrap(),
            Box::new(|_: &Task| Outcome::Success),
        );
        w.run_with(
            &WorkerOptions {
                stop_when_empty: true,
                ..Default::default()
            },
            &mut NullWake,
        )
    })
    .unwrap();
    assert_eq!(stats.succeeded, 1);
}

#[test]
fn fifo_in_the_inbox_does_not_hang_the_worker_even_after_a_restart() {
    let q = setup();
    mkfifo(&q.l.state_dir(State::Inbox).join("100.json"));
    // The listings do not block on it either.
    let b = backend::open(q.root.to_str().unwrap(), FsyncPolicy::Never).unwrap();
    let inbox = within("inbox listing", {
        let root = q.root.clone();
        move || {
            let b = backend::open(root.to_str().unwrap(), FsyncPolicy::Never).unwrap();
            b.tasks(&ty("a"), &HandlerName::new("h").unwrap(), TaskState::Inbox)
                .unwrap()
                .len()
        }
    });
    assert_eq!(inbox, 3, "the FIFO is not listed as a task");
    let status = within("status", {
        let root = q.root.clone();
        move || {
            let b = backend::open(root.to_str().unwrap(), FsyncPolicy::Never).unwrap();
            b.status().unwrap()
        }
    });
    assert_eq!(status[0].inbox, 3);
    let (s, ran) = handle(&q.l).unwrap();
    assert_eq!(ran, [1, 2, 3]);
    assert_eq!(s.failed, 1);
    assert_rejected(&q.l, 100, "fifo", "FIFO");
    drop(b);
}

#[test]
fn hostile_entries_left_in_a_dead_workers_claim_directory_are_rejected_without_reading() {
    let q = setup();
    // A dead worker's claim directory (nobody holds its lock) with a task and three
    // hostile entries.
    let dead = q.l.claim_dir("dead-worker");
    fs::create_dir_all(&dead).unwrap();
    fs::rename(q.l.inbox_file(1), dead.join("1.json")).unwrap();
    symlink(&q.secret, dead.join("10.json")).unwrap();
    mkfifo(&dead.join("11.json"));
    fs::create_dir(dead.join("12.json")).unwrap();
    symlink(&q.secret, dead.join("13.running.json")).unwrap();
    let (s, ran) = handle(&q.l).unwrap();
    let mut ran = ran;
    ran.sort();
    assert_eq!(ran, [1, 2, 3]);
    assert_eq!((s.recovered, s.failed), (1, 4), "{s:?}");
    assert_rejected(&q.l, 10, "symlink", "symbolic link");
    assert_rejected(&q.l, 11, "fifo", "FIFO");
    assert_rejected(&q.l, 12, "directory", "directory");
    assert_rejected(&q.l, 13, "symlink", "symbolic link");
    assert_secret_not_copied(&q);
    assert!(!dead.exists());
}

#[test]
fn hostile_delayed_entries_are_not_read_by_listings_or_promotion() {
    let q = setup();
    let delayed = q.l.state_dir(State::Delayed);
    symlink(&q.secret, delayed.join(delayed_file_name(1, 20))).unwrap();
    mkfifo(&delayed.join(delayed_file_name(2, 21)));
    let (listed, ids) = within("delayed listing", {
        let l = q.l.clone();
        move || {
            let e = delayed::entries(&l).unwrap();
            let ids: Vec<Option<String>> = e.iter().map(|e| e.id()).collect();
            (e.len(), ids)
        }
    });
    assert_eq!(listed, 2, "names are listed");
    assert_eq!(ids, [None, None], "but not read");
    let tasks = within("delayed tasks", {
        let root = q.root.clone();
        move || {
            let b = backend::open(root.to_str().unwrap(), FsyncPolicy::Never).unwrap();
            b.tasks(
                &ty("a"),
                &HandlerName::new("h").unwrap(),
                TaskState::Delayed,
            )
            .unwrap()
            .len()
        }
    });
    assert_eq!(tasks, 0);
    // Cancelling by id reads ids: it must not block or read through either.
    within("cancel", {
        let root = q.root.clone();
        move || delayed::cancel_id(&Layout::new(root), "nope").unwrap()
    });
    let (s, ran) = handle(&q.l).unwrap();
    assert_eq!(ran, [1, 2, 3]);
    assert_eq!(s.failed, 2, "{s:?}");
    assert_rejected(&q.l, 20, "symlink", "symbolic link");
    assert_rejected(&q.l, 21, "fifo", "FIFO");
    assert_secret_not_copied(&q);
}

#[test]
fn failed_listing_retry_and_delete_never_read_through_a_link_in_error() {
    let q = setup();
    let link = q.l.state_dir(State::Error).join("50.json");
    symlink(&q.secret, &link).unwrap();
    mkfifo(&q.l.state_dir(State::Error).join("51.json"));
    let listed = within("failed listing", {
        let root = q.root.clone();
        move || {
            let b = backend::open(root.to_str().unwrap(), FsyncPolicy::Never).unwrap();
            b.tasks(&ty("a"), &HandlerName::new("h").unwrap(), TaskState::Failed)
                .unwrap()
        }
    });
    assert_eq!(listed.len(), 2);
    for t in &listed {
        let reason = &t.error.as_ref().unwrap().reason;
        assert!(!reason.contains(SECRET), "{reason}");
        assert!(reason.contains("not read"), "{reason}");
        assert!(t.doc.is_none());
    }
    assert!(matches!(
        failed::retry(&q.l, &link, FsyncPolicy::Never),
        Err(Error::CorruptTask { .. })
    ));
    assert!(fs::symlink_metadata(&link).is_ok(), "not moved");
    // The CLI listing neither blocks nor prints the secret.
    let out = within("hurah failed list", {
        let root = q.root.clone();
        move || {
            std::process::Command::new(BIN)
                .args(["failed", "list", root.to_str().unwrap(), "--json"])
                .output()
                .unwrap()
        }
    });
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("symbolic link"), "{text}");
    // Nor does showing the entry (its raw content is shown for unreadable files).
    let out = within("hurah failed show", {
        let root = q.root.clone();
        move || {
            std::process::Command::new(BIN)
                .args([
                    "failed",
                    "show",
                    root.to_str().unwrap(),
                    "--id",
                    "50",
                    "--json",
                ])
                .output()
                .unwrap()
        }
    });
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("50.json"), "{text}");
    // Deleting removes the link, never its target.
    failed::delete(&q.l, &link).unwrap();
    assert!(fs::symlink_metadata(&link).is_err());
    assert_secret_not_copied(&q);
}

#[test]
fn status_does_not_read_through_a_link_at_the_head_of_the_inbox() {
    let q = setup();
    // A link at the lowest number, to a FIFO outside the root: reading it would block.
    let fifo = q.root.parent().unwrap().join("outside.fifo");
    mkfifo(&fifo);
    symlink(&fifo, q.l.inbox_file(0)).unwrap();
    let status = within("status", {
        let root = q.root.clone();
        move || {
            let b = backend::open(root.to_str().unwrap(), FsyncPolicy::Never).unwrap();
            b.status().unwrap()
        }
    });
    assert_eq!(status[0].inbox, 3);
    let out = within("hurah status", {
        let root = q.root.clone();
        move || {
            std::process::Command::new(BIN)
                .args(["status", root.to_str().unwrap(), "--json"])
                .output()
                .unwrap()
        }
    });
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn the_long_running_worker_rejects_links_and_fifos_without_holding_them_back() {
    let q = setup();
    symlink(&q.secret, q.l.state_dir(State::Inbox).join("100.json")).unwrap();
    mkfifo(&q.l.state_dir(State::Inbox).join("101.json"));
    let l = q.l.clone();
    let (stats, ran) = within("Worker::run", move || {
        let ran = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = ran.clone();
        let mut w = Worker::new();
        w.add(
            Queue::open(l, FsyncPolicy::Never).unwrap(),
            Box::new(move |t: &Task| {
                seen.lock().unwrap().push(t.payload().as_u64().unwrap_or(0));
                Outcome::Success
            }),
        );
        let s = w
            .run_with(
                &WorkerOptions {
                    stop_when_empty: true,
                    ..Default::default()
                },
                &mut NullWake,
            )
            .unwrap();
        let ran = ran.lock().unwrap().clone();
        (s, ran)
    });
    assert_eq!(ran, [1, 2, 3]);
    assert_eq!((stats.succeeded, stats.failed), (3, 2), "{stats:?}");
    assert_rejected(&q.l, 100, "symlink", "symbolic link");
    assert_rejected(&q.l, 101, "fifo", "FIFO");
    assert_secret_not_copied(&q);
}
