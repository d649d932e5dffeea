//! Reliability torture suite, short versions (issue 7). The long campaigns are
//! `cargo run --release --example torture` (bench/torture.rs, the same code) driven by
//! `scripts/torture.sh`, which writes RELIABILITY.md.
//!
//! * kill -9 of dispatchers and workers at random points: nothing lost, nothing torn, every
//!   duplicate run explained by a kill;
//! * contention: many workers and dispatchers on one listener: exactly once;
//! * faults: ENOSPC, read-only remount, deleted listener, corrupt tracking.json, truncated task
//!   files, a handler that exits the process or panics;
//! * security: no path leaves the root, no world-writable files, task content never executed.
//!
//! The tests that run the `hurah` binary's shell runner (a command killed by a signal, task
//! content never reaching a shell) are in the CLI crate: cli/tests/torture.rs.
//!
//! Child processes are this test binary re-executed (`torture_child_entry_point`). Tests that
//! mount a tmpfs need root; without it they print why and pass.

#[path = "../bench/torture.rs"]
mod campaign;
#[path = "../fuzz/props.rs"]
mod props;

use hurah::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Child mode: the campaigns' dispatchers and workers, and the fault tests' children.
#[test]
fn torture_child_entry_point() {
    campaign::child_main_if_requested();
    if let Ok(role) = std::env::var("HURAH_FAULT_CHILD") {
        std::process::exit(fault_child(&role));
    }
}

fn self_command() -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "torture_child_entry_point",
        "--nocapture",
        "--test-threads=1",
    ]);
    c
}

// ---------------------------------------------------------------------------------------------
// 1. Kill -9 campaign, 2. contention (short versions).

#[test]
fn kill_nine_campaign_loses_nothing_tears_nothing_and_every_duplicate_is_explained_by_a_kill() {
    let d = tempfile::tempdir().unwrap();
    let cfg = campaign::KillConfig {
        dir: d.path().to_path_buf(),
        dispatchers: 2,
        workers: 3,
        kills: 50,
        max_gap_ms: 60,
        handler_sleep_us: 1000,
        dispatch_pause_us: 5000,
        seed: clock::now_ms(),
    };
    let r = campaign::kill_campaign(&cfg, &self_command);
    let lines = r.lines().join("\n");
    eprintln!("seed {}\n{lines}", cfg.seed);
    assert!(r.ok(), "seed {}\n{lines}", cfg.seed);
    assert_eq!(r.kills_dispatcher + r.kills_worker, 50);
    assert!(r.dispatched > 100, "{lines}");
    assert!(r.retries > 0 && r.error_failure > 0, "{lines}");
}

#[test]
fn eight_workers_and_four_dispatchers_on_one_listener_run_every_task_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    let cfg = campaign::ContentionConfig {
        dir: d.path().to_path_buf(),
        workers: 8,
        dispatchers: 4,
        tasks: 6_000,
        fsync: FsyncPolicy::Never,
    };
    let r = campaign::contention_campaign(&cfg, &self_command);
    let lines = r.lines().join("\n");
    eprintln!("{lines}");
    assert!(r.ok(), "{lines}");
    assert_eq!(r.runs, 6_000);
}

// ---------------------------------------------------------------------------------------------
// Helpers for the fault tests.

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

fn claimed_files(l: &Listener) -> Vec<PathBuf> {
    files(&l.state_dir(State::Claimed))
        .into_iter()
        .flat_map(|d| files(&d))
        .collect()
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

fn quiet<F: FnMut(&Task) -> Outcome>(f: F) -> impl Handler {
    struct Q<F>(F, u64);
    impl<F: FnMut(&Task) -> Outcome> Handler for Q<F> {
        fn handle_task(&mut self, t: &Task) -> Outcome {
            (self.0)(t)
        }
        fn max_attempts(&mut self) -> u64 {
            self.1
        }
        fn log(&mut self, _: Level, _: &str) {}
    }
    Q(f, 3)
}

/// A tmpfs mounted for one test, unmounted (lazily) on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` at `dir`, or says why it cannot.
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    /// Remounts with `mode`. The kernel refuses `ro` (EBUSY) while any file on the mount is
    /// open for writing, which another thread or a forked child can briefly cause: retry.
    fn remount(&self, mode: &str) {
        let mut last = String::new();
        for _ in 0..50 {
            let out = Command::new("mount")
                .args(["-o", &format!("remount,{mode}")])
                .arg(&self.0)
                .output()
                .unwrap();
            if out.status.success() {
                return;
            }
            last = String::from_utf8_lossy(&out.stderr).trim().to_string();
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("remount {mode} failed for 5 s: {last}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

macro_rules! tmpfs_or_skip {
    ($dir:expr, $size:expr) => {
        match Tmpfs::mount($dir, $size) {
            Ok(m) => m,
            Err(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
        }
    };
}

/// Fills the file system holding `dir` until ENOSPC; returns the filler's path.
fn fill_disk(dir: &Path) -> PathBuf {
    use std::io::Write;
    let p = dir.join("filler");
    let mut f = fs::File::create(&p).unwrap();
    let block = vec![b'f'; 4096];
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
    }
    p
}

fn assert_no_torn_files(l: &Listener) {
    for state in [State::Inbox, State::Archive, State::Error, State::Delayed] {
        for p in files(&l.state_dir(state)) {
            TaskDoc::parse(&fs::read(&p).unwrap(), &p).unwrap();
        }
    }
    for p in claimed_files(l) {
        TaskDoc::parse(&fs::read(&p).unwrap(), &p).unwrap();
    }
}

fn tmp_files(l: &Listener) -> usize {
    files(&l.tmp_dir()).iter().filter(|p| p.is_file()).count()
}

// ---------------------------------------------------------------------------------------------
// 3. Faults.

#[test]
fn dispatch_on_a_full_disk_fails_with_enospc_naming_the_path_and_leaves_no_partial_copy() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    let _mnt = tmpfs_or_skip!(&m, "256k");
    let root = m.join("q");
    let ls = [listener(&root, "a", "one"), listener(&root, "a", "two")];
    for l in &ls {
        Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    }
    let disp = Dispatcher::new(&root, FsyncPolicy::Always).unwrap();
    let ty = EventType::parse("a").unwrap();
    let mut ok = Vec::new();
    let err = loop {
        let key = format!("k{}", ok.len());
        let payload = format!("{{\"k\":\"{key}\",\"pad\":\"{}\"}}", "p".repeat(3000));
        match disp.dispatch(&ty, &payload) {
            Ok(r) => {
                assert_eq!(r.deliveries.len(), 2);
                ok.push(key);
            }
            Err(e) => break e,
        }
        assert!(ok.len() < 1000, "the 256k tmpfs never filled up");
    };
    let msg = err.to_string();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{msg}");
    assert!(
        msg.contains(root.to_str().unwrap()) && msg.contains("No space left"),
        "{msg}"
    );
    ok.sort();
    for l in &ls {
        // All or nothing per dispatch: both listeners hold exactly the accepted tasks.
        assert_eq!(
            keys_in(&l.state_dir(State::Inbox)),
            ok,
            "{}",
            l.dir().display()
        );
        assert_no_torn_files(l);
        assert_eq!(
            tmp_files(l),
            0,
            "staged copies of the failed dispatch removed"
        );
    }
    // The worker still serves: SUCCESS moves need no space.
    for l in &ls {
        let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
        let s = handle_once(&mut q, &mut quiet(|_: &Task| Outcome::Success)).unwrap();
        assert_eq!(s.succeeded as usize, ok.len());
        assert_eq!(keys_in(&l.state_dir(State::Archive)), ok);
    }
    // Space freed: dispatch works again.
    for l in &ls {
        for p in files(&l.state_dir(State::Archive)) {
            fs::remove_file(p).unwrap();
        }
    }
    assert_eq!(
        disp.dispatch(&ty, "{\"k\":\"after\"}")
            .unwrap()
            .deliveries
            .len(),
        2
    );
}

#[test]
fn outcome_moves_on_a_full_disk_fail_clearly_keep_the_task_and_the_same_worker_resumes() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    let _mnt = tmpfs_or_skip!(&m, "256k");
    let root = m.join("q");
    let l = listener(&root, "a", "h");
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for i in 0..6 {
        disp.dispatch(&ty, &format!("{{\"k\":\"k{i}\"}}")).unwrap();
    }
    let filler = fill_disk(&m);
    // k0 succeeds (a rename needs no space); k1 FAILS, which rewrites the file with the reason:
    // ENOSPC.
    let mut h = quiet(|t: &Task| {
        if t.payload()["k"] == "k1" {
            Outcome::failure("planned")
        } else {
            Outcome::Success
        }
    });
    let err = handle_once(&mut q, &mut h).unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{msg}");
    assert!(msg.contains(l.dir().to_str().unwrap()), "{msg}");
    assert_eq!(keys_in(&l.state_dir(State::Archive)), ["k0"]);
    // The task is intact where it was: claimed, nothing torn, nothing lost.
    let claimed = claimed_files(&l);
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(key_of(&claimed[0]), "k1");
    assert_no_torn_files(&l);
    // Space comes back: the same queue object serves again and recovers its own claim.
    fs::remove_file(filler).unwrap();
    let s = handle_once(&mut q, &mut h).unwrap();
    assert_eq!(s.recovered, 1, "{s:?}");
    let s2 = handle_once(&mut q, &mut h).unwrap();
    assert_eq!(s.handled + s2.handled, 5, "{s:?} {s2:?}");
    assert_eq!(
        keys_in(&l.state_dir(State::Archive)),
        ["k0", "k2", "k3", "k4", "k5"]
    );
    assert_eq!(keys_in(&l.state_dir(State::Error)), ["k1"]);
    assert!(claimed_files(&l).is_empty());
}

#[test]
fn root_remounted_read_only_mid_run_gives_erofs_and_a_restarted_worker_finishes_everything() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m");
    let mnt = tmpfs_or_skip!(&m, "64m");
    let root = m.join("q");
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    const N: usize = 300;
    for i in 0..N {
        disp.dispatch(&ty, &format!("{{\"k\":\"k{i}\"}}")).unwrap();
    }
    let runs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (r2, l2) = (runs.clone(), l.clone());
    let worker = std::thread::spawn(move || {
        let mut w = Worker::new();
        w.add(
            Queue::open(l2, FsyncPolicy::Never).unwrap(),
            Box::new(quiet(move |t: &Task| {
                r2.lock()
                    .unwrap()
                    .push(t.payload()["k"].as_str().unwrap().to_string());
                std::thread::sleep(Duration::from_millis(2));
                Outcome::Success
            })),
        );
        w.run(&WorkerOptions {
            stop_when_empty: true,
            ..Default::default()
        })
    });
    let t = Instant::now();
    while runs.lock().unwrap().len() < 30 {
        assert!(t.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(1));
    }
    mnt.remount("ro");
    let err = worker.join().unwrap().unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS), "{msg}");
    assert!(msg.contains(root.to_str().unwrap()), "{msg}");
    let derr = disp.dispatch(&ty, "{\"k\":\"ro\"}").unwrap_err();
    assert_eq!(derr.raw_os_error(), Some(libc::EROFS), "{derr}");
    assert!(derr.to_string().contains(root.to_str().unwrap()), "{derr}");
    mnt.remount("rw");
    // Restart: everything accepted ends in archive/, each task run once except at most the
    // one in flight at the remount (at-least-once).
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let r3 = runs.clone();
    handle_once(
        &mut q,
        &mut quiet(move |t: &Task| {
            r3.lock()
                .unwrap()
                .push(t.payload()["k"].as_str().unwrap().to_string());
            Outcome::Success
        }),
    )
    .unwrap();
    let archived = keys_in(&l.state_dir(State::Archive));
    assert_eq!(archived.len(), N);
    let mut all = runs.lock().unwrap().clone();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(all.len(), N);
    assert!(before - N <= 1, "{} duplicate runs", before - N);
    assert!(files(&l.state_dir(State::Inbox)).is_empty() && claimed_files(&l).is_empty());
}

#[test]
fn listener_deleted_under_a_running_worker_is_a_clear_error_or_ignored_and_nothing_is_lost() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    let runs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (r2, l2) = (runs.clone(), l.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut w = Worker::new();
        w.add(
            Queue::open(l2, FsyncPolicy::Never).unwrap(),
            Box::new(quiet(move |t: &Task| {
                r2.lock()
                    .unwrap()
                    .push(t.payload()["k"].as_str().unwrap().to_string());
                Outcome::Success
            })),
        );
        tx.send(w.stop_handle()).unwrap();
        w.run(&WorkerOptions {
            rescan_interval: Duration::from_millis(50),
            max_time: Some(Duration::from_secs(20)),
            ..Default::default()
        })
    });
    let stop = rx.recv().unwrap();
    let wait_runs = |n: usize| {
        let t = Instant::now();
        while runs.lock().unwrap().len() < n && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        runs.lock().unwrap().len()
    };
    for i in 0..5 {
        disp.dispatch(&ty, &format!("{{\"k\":\"a{i}\"}}")).unwrap();
    }
    assert_eq!(wait_runs(5), 5);
    fs::remove_dir_all(l.dir()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Deleting the listener unregisters it: dispatch delivers to nobody (no error, nothing
    // created under the old path).
    let r = disp.dispatch(&ty, "{\"k\":\"gone\"}").unwrap();
    assert!(r.deliveries.is_empty());
    assert!(!l.dir().exists());
    // Registered again; new tasks arrive.
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    for i in 0..5 {
        disp.dispatch(&ty, &format!("{{\"k\":\"b{i}\"}}")).unwrap();
    }
    let t = Instant::now();
    while runs.lock().unwrap().len() < 10
        && !worker.is_finished()
        && t.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let served = runs.lock().unwrap().len();
    stop.stop();
    let result = worker.join().unwrap();
    if served < 10 {
        // The worker did not carry on: it must have stopped with an error naming the listener.
        let e = result.expect_err("worker neither served the new tasks nor failed");
        assert!(e.to_string().contains(l.dir().to_str().unwrap()), "{e}");
        eprintln!("worker stopped with: {e}");
    } else {
        result.unwrap();
    }
    // A restarted worker serves whatever is left: nothing accepted after re-registration lost.
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let r3 = runs.clone();
    handle_once(
        &mut q,
        &mut quiet(move |t: &Task| {
            r3.lock()
                .unwrap()
                .push(t.payload()["k"].as_str().unwrap().to_string());
            Outcome::Success
        }),
    )
    .unwrap();
    let mut all = runs.lock().unwrap().clone();
    all.sort();
    assert_eq!(
        all,
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"]
    );
}

#[test]
fn corrupt_or_stale_tracking_json_never_reuses_a_taken_sequence() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root, "a", "h");
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    let mut n = 0;
    let mut dispatch = |k: usize| {
        for _ in 0..k {
            disp.dispatch(&ty, &format!("{{\"k\":\"k{n:02}\"}}"))
                .unwrap();
            n += 1;
        }
    };
    dispatch(4);
    handle_once(&mut q, &mut quiet(|_: &Task| Outcome::Success)).unwrap();
    dispatch(3);
    for garbage in [
        &b"{\"sequence\":"[..],
        b"",
        b"\x00\xff garbage",
        b"{\"sequence\":2,\"count\":2}",
        b"[]",
    ] {
        fs::write(l.tracking_file(), garbage).unwrap();
        dispatch(2);
    }
    let want: Vec<String> = (0..n).map(|i| format!("k{i:02}")).collect();
    let mut have = keys_in(&l.state_dir(State::Archive));
    have.extend(keys_in(&l.state_dir(State::Inbox)));
    have.sort();
    assert_eq!(have, want, "every dispatch kept, none overwritten");
    let mut seen = Vec::new();
    handle_once(
        &mut q,
        &mut quiet(|t: &Task| {
            seen.push(t.payload()["k"].as_str().unwrap().to_string());
            Outcome::Success
        }),
    )
    .unwrap();
    assert_eq!(seen.len(), n - 4);
    assert_eq!(keys_in(&l.state_dir(State::Archive)), want);
}

#[test]
fn truncated_task_files_go_to_error_with_path_and_reason_and_the_rest_are_served() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root, "a", "h");
    let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for i in 0..6 {
        disp.dispatch(&ty, &format!("{{\"k\":\"k{i}\"}}")).unwrap();
    }
    let f3 = l.inbox_file(3);
    let len = fs::metadata(&f3).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&f3)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    fs::write(l.inbox_file(5), "").unwrap();
    let s = handle_once(&mut q, &mut quiet(|_: &Task| Outcome::Success)).unwrap();
    assert_eq!((s.succeeded, s.failed), (4, 2), "{s:?}");
    assert_eq!(
        keys_in(&l.state_dir(State::Archive)),
        ["k0", "k1", "k3", "k5"]
    );
    for (seq, needle) in [(3, "not valid JSON"), (5, "empty")] {
        let p = l.state_dir(State::Error).join(format!("{seq}.json"));
        let doc = TaskDoc::parse(&fs::read(&p).unwrap(), &p).unwrap();
        let e = doc.error().unwrap();
        assert_eq!(e["class"], "CorruptTask");
        let reason = e["reason"].as_str().unwrap();
        assert!(
            reason.contains(&format!("{seq}.json")) && reason.contains(needle),
            "{reason}"
        );
        assert!(doc.get("corrupt_content").is_some(), "original bytes kept");
    }
    // In watch mode a fresh corrupt file is held back (a legacy writer may still be writing),
    // then judged.
    disp.dispatch(&ty, "{\"k\":\"k6\"}").unwrap();
    fs::write(l.inbox_file(100), "{\"payload\":").unwrap();
    let mut w = Worker::new();
    w.add(q, Box::new(quiet(|_: &Task| Outcome::Success)));
    let st = w
        .run(&WorkerOptions {
            hold_back: Duration::from_millis(100),
            max_time: Some(Duration::from_secs(3)),
            rescan_interval: Duration::from_millis(50),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((st.succeeded, st.failed), (1, 1), "{st:?}");
    assert!(l.state_dir(State::Error).join("100.json").exists());
    assert_eq!(keys_in(&l.state_dir(State::Archive)).len(), 5);
}

/// Child roles of the fault tests.
fn fault_child(role: &str) -> i32 {
    let root = PathBuf::from(std::env::var("HURAH_FAULT_ROOT").unwrap());
    if role == "umask0" {
        umask_zero_child(&root);
        return 0;
    }
    let log = campaign::Log::open(Path::new(&std::env::var("HURAH_FAULT_LOG").unwrap()));
    let l = listener(&root, "a", "h");
    let max: u64 = std::env::var("HURAH_FAULT_MAX").unwrap().parse().unwrap();
    let mut w = Worker::new();
    let mode = role.to_string();
    w.add(
        Queue::open(l, FsyncPolicy::Never).unwrap(),
        Box::new(FaultHandler { log, mode, max }),
    );
    match w.run(&WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    }) {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("fault child: {e}");
            1
        }
    }
}

/// With umask 0: registers listeners, dispatches (now, delayed), handles with every outcome.
fn umask_zero_child(root: &Path) {
    // SAFETY: umask(2) cannot fail.
    unsafe { libc::umask(0) };
    let ls = [listener(root, "a/b", "h"), listener(root, "", "all")];
    let disp = Dispatcher::new(root, FsyncPolicy::Always).unwrap();
    let ty = EventType::parse("a/b").unwrap();
    let mut qs: Vec<Queue> = ls
        .iter()
        .map(|l| Queue::open(l.clone(), FsyncPolicy::Always).unwrap())
        .collect();
    for i in 0..8 {
        disp.dispatch(&ty, &format!("{{\"i\":{i}}}")).unwrap();
    }
    disp.dispatch_with(
        &ty,
        "{}",
        DispatchOptions {
            not_before_ms: Some(clock::now_ms() + 60_000),
        },
    )
    .unwrap();
    for q in &mut qs {
        handle_once(
            q,
            &mut quiet(
                |t: &Task| match t.payload()["i"].as_u64().unwrap_or(0) % 4 {
                    0 => Outcome::Success,
                    1 => Outcome::failure("x"),
                    2 => Outcome::Retry {
                        delay: Some(Duration::from_secs(60)),
                    },
                    _ => Outcome::Retry { delay: None },
                },
            ),
        )
        .unwrap();
    }
}

struct FaultHandler {
    log: campaign::Log,
    mode: String,
    max: u64,
}

impl Handler for FaultHandler {
    fn handle_task(&mut self, t: &Task) -> Outcome {
        let k = t.payload()["k"].as_str().unwrap_or("").to_string();
        self.log.line(&format!("{k} {}", t.attempt()));
        if k == "boom" && (self.mode == "exit-always" || t.attempt() == 1) {
            std::process::exit(7);
        }
        Outcome::Success
    }
    fn max_attempts(&mut self) -> u64 {
        self.max
    }
    fn log(&mut self, _: Level, _: &str) {}
}

fn run_fault_child(root: &Path, log: &Path, role: &str, max: u64) -> std::process::ExitStatus {
    self_command()
        .env("HURAH_FAULT_CHILD", role)
        .env("HURAH_FAULT_ROOT", root)
        .env("HURAH_FAULT_LOG", log)
        .env("HURAH_FAULT_MAX", max.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap()
}

#[test]
fn handler_that_exits_the_process_mid_task_is_rerun_by_the_next_worker_with_attempt_two() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for k in ["k1", "k2", "boom", "k4"] {
        disp.dispatch(&ty, &format!("{{\"k\":\"{k}\"}}")).unwrap();
    }
    let log = d.path().join("runs.log");
    let st = run_fault_child(&root, &log, "exit-once", 3);
    assert_eq!(st.code(), Some(7), "the handler's exit(7) ended the worker");
    assert_eq!(
        claimed_files(&l).len(),
        1,
        "boom left claimed by the dead worker"
    );
    let st = run_fault_child(&root, &log, "exit-once", 3);
    assert!(st.success());
    let runs = fs::read_to_string(&log).unwrap();
    assert_eq!(runs, "k1 1\nk2 1\nboom 1\nboom 2\nk4 1\n");
    assert_eq!(
        keys_in(&l.state_dir(State::Archive)),
        ["boom", "k1", "k2", "k4"]
    );
}

#[test]
fn handler_that_always_kills_its_worker_ends_in_error_as_worker_died_after_max_attempts() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for k in ["boom", "k2"] {
        disp.dispatch(&ty, &format!("{{\"k\":\"{k}\"}}")).unwrap();
    }
    let log = d.path().join("runs.log");
    // max_attempts 1: two deaths, then the third worker gives up on it.
    for _ in 0..2 {
        assert_eq!(
            run_fault_child(&root, &log, "exit-always", 1).code(),
            Some(7)
        );
    }
    assert!(run_fault_child(&root, &log, "exit-always", 1).success());
    assert_eq!(fs::read_to_string(&log).unwrap(), "boom 1\nboom 2\nk2 1\n");
    let p = l.state_dir(State::Error).join("1.json");
    let doc = TaskDoc::parse(&fs::read(&p).unwrap(), &p).unwrap();
    assert_eq!(doc.error().unwrap()["class"], "WorkerDied");
    assert!(doc.error().unwrap()["reason"]
        .as_str()
        .unwrap()
        .contains("worker died"));
    assert_eq!(keys_in(&l.state_dir(State::Archive)), ["k2"]);
}

#[test]
fn handler_that_panics_unwinds_out_of_the_worker_and_a_restarted_worker_reruns_the_task() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root, "a", "h");
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("a").unwrap();
    for k in ["k1", "boom", "k3"] {
        disp.dispatch(&ty, &format!("{{\"k\":\"{k}\"}}")).unwrap();
    }
    let runs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let make = |runs: std::sync::Arc<std::sync::Mutex<Vec<String>>>| {
        let mut w = Worker::new();
        w.add(
            Queue::open(l.clone(), FsyncPolicy::Never).unwrap(),
            Box::new(quiet(move |t: &Task| {
                let k = t.payload()["k"].as_str().unwrap().to_string();
                runs.lock().unwrap().push(format!("{k} {}", t.attempt()));
                if k == "boom" && t.attempt() == 1 {
                    panic!("handler bug on {k}");
                }
                Outcome::Success
            })),
        );
        w
    };
    let opts = WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    };
    let r = runs.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(r).run(&opts)));
    let msg = *panicked.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.contains("handler bug on boom"), "{msg}");
    assert_eq!(claimed_files(&l).len(), 1, "boom stays claimed, unlocked");
    // The restarted worker recovers the unlocked claim at start. Other tests in this binary
    // spawn processes: a child between fork and exec briefly shares every open file
    // description, the dead worker's released flock included, and a recovery pass in that
    // window rightly sees the directory as alive. Restarting again is what a supervisor does.
    for _ in 0..100 {
        make(runs.clone()).run(&opts).unwrap();
        if claimed_files(&l).is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(*runs.lock().unwrap(), ["k1 1", "boom 1", "boom 2", "k3 1"]);
    assert_eq!(keys_in(&l.state_dir(State::Archive)), ["boom", "k1", "k3"]);
}

// ---------------------------------------------------------------------------------------------
// 5. Security.

#[test]
fn symlinked_listener_directory_pointing_outside_the_root_is_never_written() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let outside = d.path().join("outside");
    let real = listener(&outside, "a", "evil");
    real.ensure().unwrap();
    fs::create_dir_all(root.join("a")).unwrap();
    std::os::unix::fs::symlink(real.dir(), root.join("a/evil_listener")).unwrap();
    std::thread::sleep(Duration::from_millis(150)); // past the listing cache's settle time
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let r = disp
        .dispatch(&EventType::parse("a").unwrap(), "{}")
        .unwrap();
    assert!(r.deliveries.is_empty());
    assert!(files(&real.state_dir(State::Inbox)).is_empty());
    assert!(!real.tracking_file().exists());
    // A worker refuses to open it.
    let l = listener(&root, "a", "evil");
    let e = Queue::open(l, FsyncPolicy::Never).unwrap_err();
    assert!(matches!(e, Error::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("evil_listener"), "{e}");
}

#[test]
fn symlinked_state_directories_are_refused_and_nothing_is_written_outside_the_root() {
    for state in ["inbox", "tmp", "claimed", "archive", "error", "delayed"] {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("q");
        let outside = d.path().join("outside");
        fs::create_dir_all(&outside).unwrap();
        let l = listener(&root, "a", "h");
        l.ensure().unwrap();
        let sd = l.dir().join(state);
        fs::remove_dir(&sd).unwrap();
        std::os::unix::fs::symlink(&outside, &sd).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
        let e = disp
            .dispatch(&EventType::parse("a").unwrap(), "{}")
            .unwrap_err();
        assert!(matches!(e, Error::Unsafe { .. }), "{state}: {e}");
        assert!(e.to_string().contains(sd.to_str().unwrap()), "{state}: {e}");
        let e = Queue::open(l.clone(), FsyncPolicy::Never).unwrap_err();
        assert!(matches!(e, Error::Unsafe { .. }), "{state}: {e}");
        assert!(
            files(&outside).is_empty(),
            "{state}: written outside the root"
        );
    }
}

#[test]
fn task_files_and_directories_are_never_world_writable_even_with_umask_zero() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let log = d.path().join("log");
    let st = self_command()
        .env("HURAH_FAULT_CHILD", "umask0")
        .env("HURAH_FAULT_ROOT", &root)
        .env("HURAH_FAULT_LOG", &log)
        .env("HURAH_FAULT_MAX", "0")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    // The child (umask 0) registered, dispatched and handled; check every path it made.
    assert!(st.success());
    let mut stack = vec![root.clone()];
    let mut n = 0;
    while let Some(p) = stack.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let mode = m.permissions().mode() & 0o7777;
        assert_eq!(
            mode & 0o002,
            0,
            "{} is world-writable ({mode:o})",
            p.display()
        );
        if m.is_dir() {
            stack.extend(files(&p));
        } else {
            assert_eq!(mode & 0o111, 0, "{} is executable ({mode:o})", p.display());
        }
        n += 1;
    }
    assert!(n > 10);
}

// ---------------------------------------------------------------------------------------------
// 4. Fuzzing: the committed corpus (with the inputs that found bugs) and a bounded mutation run
// on stable. `HURAH_FUZZ_SECONDS=N` makes each run time-bounded instead (scripts/fuzz.sh uses
// it when cargo-fuzz cannot run).

fn fuzz(target: &str, iterations: u64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let (iterations, deadline) = match std::env::var("HURAH_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(s) => (u64::MAX, Some(Instant::now() + Duration::from_secs(s))),
        None => (iterations, None),
    };
    let seed = std::env::var("HURAH_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(clock::now_ms);
    let n = props::replay_and_mutate(&dir, target, iterations, deadline, seed);
    eprintln!("fuzz {target}: corpus + {n} mutations (seed {seed})");
}

#[test]
fn fuzz_task_file_parser_never_panics_and_accepted_files_round_trip() {
    fuzz("task_doc", 5_000);
}

#[test]
fn fuzz_event_types_and_handler_names_accept_only_safe_path_components() {
    fuzz("names", 20_000);
}

#[test]
fn fuzz_task_and_delayed_file_names_parse_back_what_the_library_writes() {
    fuzz("file_names", 20_000);
}

#[test]
fn fuzz_dispatch_accepts_exactly_the_json_the_worker_can_read() {
    fuzz("dispatch_payload", 1_500);
}
