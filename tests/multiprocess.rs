//! Several worker processes on one listener: every task runs exactly once; a worker killed with
//! SIGKILL mid-task has its claim recovered by another worker. The test binary re-executes
//! itself as the worker process (env HURAH_TEST_CHILD), so no other binary is needed.

use hurah::*;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn listener(root: &Path) -> Listener {
    Layout::new(root).listener(
        &EventType::parse("job").unwrap(),
        &HandlerName::new("w").unwrap(),
    )
}

/// Child mode: run a worker until the queue is empty, appending "<seq> <attempt>\n" per run to
/// the log file (O_APPEND: lines from several processes never interleave).
fn child_main() {
    let root = PathBuf::from(std::env::var("HURAH_TEST_ROOT").unwrap());
    let log = PathBuf::from(std::env::var("HURAH_TEST_LOG").unwrap());
    let sleep_on: Option<u64> = std::env::var("HURAH_TEST_SLEEP_ON")
        .ok()
        .and_then(|v| v.parse().ok());
    let max: u64 = std::env::var("HURAH_TEST_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let q = Queue::open(listener(&root), FsyncPolicy::Never).unwrap();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    struct H<'a> {
        f: &'a mut fs::File,
        sleep_on: Option<u64>,
        max: u64,
    }
    impl Handler for H<'_> {
        fn handle_task(&mut self, t: &Task) -> Outcome {
            // One write(2) per line, so lines of concurrent processes never interleave.
            let line = format!("{} {}\n", t.sequence(), t.attempt());
            self.f.write_all(line.as_bytes()).unwrap();
            if Some(t.sequence()) == self.sleep_on {
                std::thread::sleep(Duration::from_secs(60));
            }
            Outcome::Success
        }
        fn max_attempts(&mut self) -> u64 {
            self.max
        }
        fn log(&mut self, _: Level, _: &str) {}
    }
    let mut w = Worker::new();
    w.add(
        q,
        Box::new(H {
            f: &mut f,
            sleep_on,
            max,
        }),
    );
    let opts = WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    };
    w.run(&opts).unwrap();
}

#[test]
fn child_worker_entry_point() {
    if std::env::var("HURAH_TEST_CHILD").is_ok() {
        child_main();
    }
}

fn spawn_worker(root: &Path, log: &Path, extra: &[(&str, String)]) -> Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "child_worker_entry_point",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("HURAH_TEST_CHILD", "1")
    .env("HURAH_TEST_ROOT", root)
    .env("HURAH_TEST_LOG", log)
    .stdout(std::process::Stdio::null());
    for (k, v) in extra {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

fn runs(log: &Path) -> Vec<(u64, u64)> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut it = l.split(' ').map(|x| x.parse::<u64>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect()
}

#[test]
fn four_worker_processes_run_twenty_thousand_tasks_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    Queue::open(listener(&root), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("job").unwrap();
    const N: u64 = 20_000;
    // Dispatch while the workers already run, so claims race with arrivals.
    for i in 0..2_000 {
        disp.dispatch(&ty, &i.to_string()).unwrap();
    }
    let log = d.path().join("runs.log");
    let workers: Vec<Child> = (0..4).map(|_| spawn_worker(&root, &log, &[])).collect();
    for i in 2_000..N {
        disp.dispatch(&ty, &i.to_string()).unwrap();
    }
    for mut w in workers {
        assert!(w.wait().unwrap().success());
    }
    // Workers stop when they see an empty queue; one more pass picks up any straggler.
    let mut last = spawn_worker(&root, &log, &[]);
    assert!(last.wait().unwrap().success());
    let mut seqs: Vec<u64> = runs(&log).into_iter().map(|(s, _)| s).collect();
    seqs.sort_unstable();
    let dups = seqs.windows(2).filter(|w| w[0] == w[1]).count();
    seqs.dedup();
    assert_eq!(dups, 0, "duplicate runs");
    assert_eq!(seqs.len() as u64, N, "lost tasks");
    let l = listener(&root);
    assert_eq!(
        fs::read_dir(l.state_dir(State::Archive)).unwrap().count() as u64,
        N
    );
    assert_eq!(
        fs::read_dir(l.state_dir(State::Claimed)).unwrap().count(),
        0
    );
}

#[test]
fn killed_worker_task_is_recovered_with_one_more_attempt() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let l = listener(&root);
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let disp = Dispatcher::new(&root, FsyncPolicy::Never).unwrap();
    let ty = EventType::parse("job").unwrap();
    disp.dispatch(&ty, "1").unwrap();
    disp.dispatch(&ty, "2").unwrap();
    let log = d.path().join("runs.log");
    let mut victim = spawn_worker(&root, &log, &[("HURAH_TEST_SLEEP_ON", "1".into())]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !runs(&log).contains(&(1, 1)) {
        assert!(Instant::now() < deadline, "worker never started task 1");
        std::thread::sleep(Duration::from_millis(10));
    }
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    // Task 1 sits in the dead worker's claim directory.
    let claimed: Vec<_> = fs::read_dir(l.state_dir(State::Claimed))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(claimed.len(), 1);
    let mut rescuer = spawn_worker(&root, &log, &[("HURAH_TEST_MAX", "3".into())]);
    assert!(rescuer.wait().unwrap().success());
    let r = runs(&log);
    assert!(r.contains(&(1, 2)), "task 1 ran again as attempt 2: {r:?}");
    assert_eq!(
        r.iter().filter(|(s, _)| *s == 2).count(),
        1,
        "task 2 ran once: {r:?}"
    );
    assert!(l.state_dir(State::Archive).join("1.json").exists());
    assert_eq!(
        fs::read_dir(l.state_dir(State::Claimed)).unwrap().count(),
        0
    );
}

#[test]
fn burst_with_lost_wakeups_is_caught_by_rescans() {
    // The seam for an inotify queue overflow: no file events at all (NullWake), only Rescan
    // messages, as notify sends on IN_Q_OVERFLOW. Nothing may be lost.
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("q");
    let q = Queue::open(listener(&root), FsyncPolicy::Never).unwrap();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c2 = std::sync::Arc::clone(&count);
    let mut w = Worker::new();
    w.add(
        q,
        Box::new(move |_: &Task| {
            c2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Outcome::Success
        }),
    );
    let stop = w.stop_handle();
    const N: u64 = 100_000;
    let r2 = root.clone();
    let c3 = std::sync::Arc::clone(&count);
    let producer = std::thread::spawn(move || {
        let disp = Dispatcher::new(&r2, FsyncPolicy::Never).unwrap();
        let ty = EventType::parse("job").unwrap();
        for i in 0..N {
            disp.dispatch(&ty, "0").unwrap();
            if i % 10_000 == 0 {
                stop.notify(Notice::Rescan); // "overflow"
            }
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while c3.load(std::sync::atomic::Ordering::Relaxed) < N && Instant::now() < deadline {
            stop.notify(Notice::Rescan);
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.stop();
    });
    let opts = WorkerOptions {
        rescan_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    w.run_with(&opts, &mut NullWake).unwrap();
    producer.join().unwrap();
    assert_eq!(count.load(std::sync::atomic::Ordering::Relaxed), N);
}
