//! Worker behaviour of the core: order, outcomes, retries, claims, recovery, the watch loop.

use hurah::*;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn open(root: &Path, ty: &str, name: &str) -> Queue {
    let l = Layout::new(root).listener(
        &EventType::parse(ty).unwrap(),
        &HandlerName::new(name).unwrap(),
    );
    Queue::open(l, FsyncPolicy::Never).unwrap()
}

fn dispatch(root: &Path, ty: &str, payload: &str) {
    Dispatcher::new(root, FsyncPolicy::Never)
        .unwrap()
        .dispatch(&EventType::parse(ty).unwrap(), payload)
        .unwrap();
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|e| {
            e.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
}

struct Scripted {
    max: u64,
    outcomes: Vec<Outcome>,
    runs: Vec<u64>,
}

impl Handler for Scripted {
    fn handle_task(&mut self, task: &Task) -> Outcome {
        self.runs.push(task.sequence());
        if self.outcomes.is_empty() {
            Outcome::Success
        } else {
            self.outcomes.remove(0)
        }
    }
    fn max_attempts(&mut self) -> u64 {
        self.max
    }
    fn log(&mut self, _: Level, _: &str) {}
}

fn scripted(max: u64, outcomes: Vec<Outcome>) -> Scripted {
    Scripted {
        max,
        outcomes,
        runs: Vec::new(),
    }
}

#[test]
fn handle_once_runs_due_tasks_in_ascending_sequence_order() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    for i in 0..12 {
        dispatch(d.path(), "a", &i.to_string());
    }
    let mut h = scripted(0, vec![]);
    let s = handle_once(&mut q, &mut h).unwrap();
    assert_eq!(h.runs, (1..=12).collect::<Vec<u64>>());
    assert_eq!(s.succeeded, 12);
    assert_eq!(files(&q.listener().state_dir(State::Archive)).len(), 12);
    assert!(files(&q.listener().state_dir(State::Inbox)).is_empty());
    assert!(
        files(&q.listener().state_dir(State::Claimed)).is_empty(),
        "claim dir released"
    );
}

#[test]
fn failure_and_invalid_go_to_error_with_reason_and_class() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    dispatch(d.path(), "a", "2");
    dispatch(d.path(), "a", "3");
    let mut h = scripted(
        0,
        vec![
            Outcome::Failure {
                reason: "boom".into(),
                class: Some("RuntimeException".into()),
            },
            Outcome::from_code(3),
            Outcome::from_code(42),
        ],
    );
    handle_once(&mut q, &mut h).unwrap();
    let err = q.listener().state_dir(State::Error);
    assert_eq!(files(&err), ["1.json", "2.json", "3.json"]);
    let e1 = read_json(&err.join("1.json"));
    assert_eq!(e1["error"]["reason"], "boom");
    assert_eq!(e1["error"]["class"], "RuntimeException");
    assert_eq!(e1["error"]["attempts"], 1);
    assert_eq!(e1["payload"], 1);
    assert_eq!(
        read_json(&err.join("2.json"))["error"]["reason"],
        "Task was invalid"
    );
    assert!(read_json(&err.join("3.json"))["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("unknown status 42"));
}

#[test]
fn retry_with_max_attempts_m_runs_m_plus_one_times() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    let mut h = scripted(2, vec![Outcome::from_code(2); 10]);
    let mut runs = 0;
    for _ in 0..10 {
        let s = handle_once(&mut q, &mut h).unwrap();
        runs += s.handled;
    }
    assert_eq!(runs, 3);
    let e = read_json(&q.listener().state_dir(State::Error).join("1.json"));
    assert_eq!(e["retry_count"], 3);
    assert_eq!(e["error"]["reason"], "Hit retry limit which is set to: 2.");
}

#[test]
fn retry_with_default_max_attempts_behaves_like_invalid_with_retry_count_1() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    let mut h = scripted(0, vec![Outcome::from_code(2)]);
    handle_once(&mut q, &mut h).unwrap();
    let e = read_json(&q.listener().state_dir(State::Error).join("1.json"));
    assert_eq!(e["retry_count"], 1);
}

#[test]
fn retried_task_waits_for_the_next_run_and_keeps_its_number() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    let mut h = scripted(5, vec![Outcome::from_code(2)]);
    let s = handle_once(&mut q, &mut h).unwrap();
    assert_eq!((s.handled, s.retried), (1, 1));
    assert_eq!(q.due().unwrap(), vec![1]);
    let t = read_json(&q.listener().inbox_file(1));
    assert_eq!(t["retry_count"], 1);
    assert_eq!(t["attempts"], 1);
    handle_once(&mut q, &mut h).unwrap();
    assert_eq!(files(&q.listener().state_dir(State::Archive)), ["1.json"]);
}

#[test]
fn retry_with_delay_goes_to_delayed_with_not_before() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    let before = clock::now_ms();
    let mut h = scripted(
        3,
        vec![Outcome::Retry {
            delay: Some(Duration::from_secs(60)),
        }],
    );
    handle_once(&mut q, &mut h).unwrap();
    let delayed = q.delayed().unwrap();
    assert_eq!(delayed.len(), 1);
    assert!(delayed[0].0 >= before + 60_000);
    assert!(q.due().unwrap().is_empty());
}

#[test]
fn corrupt_task_goes_to_error_with_reason_and_the_rest_still_run() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    fs::write(q.listener().inbox_file(2), "{\"payload\":").unwrap();
    fs::write(q.listener().inbox_file(3), b"\xff\xfe").unwrap();
    dispatch(d.path(), "a", "4"); // gets 4: 2 and 3 are taken
    let mut h = scripted(0, vec![]);
    let s = handle_once(&mut q, &mut h).unwrap();
    assert_eq!(h.runs, [1, 4]);
    assert_eq!(s.failed, 2);
    let err = q.listener().state_dir(State::Error);
    let e2 = read_json(&err.join("2.json"));
    assert!(e2["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(e2["corrupt_content"], "{\"payload\":");
    assert_eq!(
        read_json(&err.join("3.json"))["corrupt_content_hex"],
        "fffe"
    );
}

#[test]
fn original_format_task_file_is_handled() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    fs::write(
        q.listener().inbox_file(7),
        r#"{"payload":{"a":1},"sequence":7,"count":7,"delivery":"2023-10-02T13:18:35+00:00"}"#,
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let mut h = move |t: &Task| {
        s2.lock().unwrap().push((
            t.payload().clone(),
            t.sequence(),
            t.id(),
            t.attempt(),
            t.event_type(),
        ));
        Outcome::Success
    };
    handle_once(&mut q, &mut h).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0["a"], 1);
    assert_eq!(seen[0].1, 7);
    assert_eq!(seen[0].2, "7");
    assert_eq!(seen[0].3, 1);
    assert_eq!(seen[0].4, "a");
}

#[test]
fn archive_name_collision_gets_next_free_name() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    // Taken after the dispatch (a dispatch would have skipped the number).
    fs::write(q.listener().state_dir(State::Archive).join("1.json"), "old").unwrap();
    handle_once(&mut q, &mut scripted(0, vec![])).unwrap();
    let arch = q.listener().state_dir(State::Archive);
    assert_eq!(files(&arch), ["1.1.json", "1.json"]);
    assert_eq!(fs::read_to_string(arch.join("1.json")).unwrap(), "old");
}

#[test]
fn concurrent_workers_run_each_task_exactly_once() {
    let d = tempfile::tempdir().unwrap();
    open(d.path(), "a", "h");
    for i in 0..2000 {
        dispatch(d.path(), "a", &i.to_string());
    }
    let runs = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let root = d.path().to_path_buf();
            let runs = Arc::clone(&runs);
            std::thread::spawn(move || {
                let mut q = open(&root, "a", "h");
                let mut h = |t: &Task| {
                    runs.lock().unwrap().push(t.sequence());
                    Outcome::Success
                };
                handle_once(&mut q, &mut h).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut runs = runs.lock().unwrap().clone();
    runs.sort_unstable();
    assert_eq!(runs, (1..=2000).collect::<Vec<u64>>());
}

/// A dead worker's claimed task whose handler had been entered (`<seq>.running.json`).
fn plant_dead_worker_claim(q: &Queue, seq: u64, attempts: u64) {
    plant_dead_worker_file(q, &running_file_name(seq), seq, attempts);
}

fn plant_dead_worker_file(q: &Queue, name: &str, seq: u64, attempts: u64) {
    let dir = q.listener().state_dir(State::Claimed).join("w1-dead");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(name),
        format!(r#"{{"payload":"p","sequence":{seq},"count":{seq},"delivery":"x","attempts":{attempts}}}"#),
    )
    .unwrap();
}

#[test]
fn dead_workers_claims_return_to_inbox_with_one_more_attempt() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    plant_dead_worker_claim(&q, 5, 0);
    let r = q.recover_dead_workers(3).unwrap();
    assert_eq!(
        r,
        Recovery {
            requeued: 1,
            failed: 0
        }
    );
    assert_eq!(read_json(&q.listener().inbox_file(5))["attempts"], 1);
    assert!(files(&q.listener().state_dir(State::Claimed)).is_empty());
}

#[test]
fn dead_workers_claims_that_never_started_return_to_inbox_untouched() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    plant_dead_worker_file(&q, "5.json", 5, 2);
    let r = q.recover_dead_workers(2).unwrap();
    assert_eq!(
        r,
        Recovery {
            requeued: 1,
            failed: 0
        }
    );
    assert_eq!(read_json(&q.listener().inbox_file(5))["attempts"], 2);
    assert!(files(&q.listener().state_dir(State::Claimed)).is_empty());
}

#[test]
fn task_that_keeps_killing_workers_ends_in_error_worker_died() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    plant_dead_worker_claim(&q, 5, 2);
    let r = q.recover_dead_workers(2).unwrap();
    assert_eq!(
        r,
        Recovery {
            requeued: 0,
            failed: 1
        }
    );
    let e = read_json(&q.listener().state_dir(State::Error).join("5.json"));
    assert!(e["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("worker died"));
    assert_eq!(e["error"]["class"], "WorkerDied");
}

#[test]
fn live_workers_claims_are_left_alone() {
    let d = tempfile::tempdir().unwrap();
    let mut a = open(d.path(), "a", "h");
    let mut b = open(d.path(), "a", "h");
    dispatch(d.path(), "a", "1");
    let claim = a.claim(1).unwrap().unwrap();
    assert_eq!(b.recover_dead_workers(0).unwrap(), Recovery::default());
    let Claim::Task(t) = claim else {
        panic!("corrupt")
    };
    a.settle(t, &Outcome::Success, 0, None).unwrap();
    assert!(b.claim(1).unwrap().is_none(), "already taken");
}

#[test]
fn worker_with_null_wake_stops_when_empty() {
    let d = tempfile::tempdir().unwrap();
    let q = open(d.path(), "a", "h");
    for i in 0..5 {
        dispatch(d.path(), "a", &i.to_string());
    }
    let mut w = Worker::new();
    w.add(q, Box::new(scripted(0, vec![])));
    let opts = WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    };
    let s = w.run_with(&opts, &mut NullWake).unwrap();
    assert_eq!(s.succeeded, 5);
}

#[test]
fn worker_max_jobs_returns_after_that_many_tasks() {
    let d = tempfile::tempdir().unwrap();
    let q = open(d.path(), "a", "h");
    for i in 0..5 {
        dispatch(d.path(), "a", &i.to_string());
    }
    let mut w = Worker::new();
    w.add(q, Box::new(scripted(0, vec![])));
    let opts = WorkerOptions {
        max_jobs: Some(2),
        ..Default::default()
    };
    let s = w.run_with(&opts, &mut NullWake).unwrap();
    assert_eq!(s.handled, 2);
}

#[test]
fn worker_serves_several_listeners_round_robin() {
    let d = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut w = Worker::new();
    for name in ["x", "y"] {
        let seen = Arc::clone(&seen);
        w.add(
            open(d.path(), "a", name),
            Box::new(move |t: &Task| {
                seen.lock().unwrap().push(format!("{name}{}", t.sequence()));
                Outcome::Success
            }),
        );
    }
    dispatch(d.path(), "a", "1");
    dispatch(d.path(), "a", "2");
    let opts = WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    };
    w.run_with(&opts, &mut NullWake).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["x1", "y1", "x2", "y2"]);
}

#[test]
fn watching_worker_wakes_on_dispatch_and_stops_on_request() {
    let d = tempfile::tempdir().unwrap();
    let q = open(d.path(), "a", "h");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    let mut w = Worker::new();
    w.add(
        q,
        Box::new(move |t: &Task| {
            s2.lock().unwrap().push(t.payload().clone());
            Outcome::Success
        }),
    );
    let stop = w.stop_handle();
    let root = d.path().to_path_buf();
    let seen3 = Arc::clone(&seen);
    let producer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        for i in 0..50 {
            dispatch(&root, "a", &i.to_string());
        }
        // A legacy writer writing in place, in two steps.
        let inbox = root.join("a/h_listener/inbox/1000.json");
        fs::write(&inbox, r#"{"payload":"leg"#).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        fs::write(
            &inbox,
            r#"{"payload":"legacy","sequence":1000,"count":1000,"delivery":"x"}"#,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen3.lock().unwrap().len() < 51 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.stop();
    });
    let opts = WorkerOptions {
        rescan_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let started = Instant::now();
    let s = w.run(&opts).unwrap();
    producer.join().unwrap();
    assert_eq!(s.succeeded, 51, "{s:?}");
    assert!(seen.lock().unwrap().contains(&serde_json::json!("legacy")));
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(files(&d.path().join("a/h_listener/claimed")).is_empty());
}

#[test]
fn watching_worker_runs_delayed_task_after_its_due_time_not_before() {
    let d = tempfile::tempdir().unwrap();
    let q = open(d.path(), "a", "h");
    let due = clock::now_ms() + 300;
    Dispatcher::new(d.path(), FsyncPolicy::Never)
        .unwrap()
        .dispatch_with(
            &EventType::parse("a").unwrap(),
            "1",
            DispatchOptions {
                not_before_ms: Some(due),
            },
        )
        .unwrap();
    let ran_at = Arc::new(Mutex::new(None));
    let r2 = Arc::clone(&ran_at);
    let mut w = Worker::new();
    w.add(
        q,
        Box::new(move |_: &Task| {
            *r2.lock().unwrap() = Some(clock::now_ms());
            Outcome::Success
        }),
    );
    let opts = WorkerOptions {
        max_jobs: Some(1),
        max_time: Some(Duration::from_secs(10)),
        ..Default::default()
    };
    w.run(&opts).unwrap();
    let at = ran_at.lock().unwrap().expect("delayed task ran");
    assert!(at >= due, "ran {} ms early", due - at);
}

#[test]
fn stale_tmp_leftovers_are_swept_but_fresh_ones_and_other_dirs_kept() {
    let d = tempfile::tempdir().unwrap();
    let mut q = open(d.path(), "a", "h");
    let tmp = q.listener().tmp_dir();
    fs::write(tmp.join("old.tmp"), "x").unwrap();
    fs::write(tmp.join("new.tmp"), "x").unwrap();
    fs::create_dir(tmp.join("claim-wdead")).unwrap();
    fs::create_dir(tmp.join("retry-w1")).unwrap();
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    for name in ["old.tmp", "claim-wdead", "retry-w1"] {
        let f = fs::File::open(tmp.join(name)).unwrap();
        f.set_modified(past).unwrap();
    }
    q.recover_dead_workers(0).unwrap();
    assert_eq!(files(&tmp), ["new.tmp", "retry-w1"]);
}

fn dispatch_due(root: &Path, payload: &str, due: u64) {
    Dispatcher::new(root, FsyncPolicy::Never)
        .unwrap()
        .dispatch_with(
            &EventType::parse("a").unwrap(),
            payload,
            DispatchOptions {
                not_before_ms: Some(due),
            },
        )
        .unwrap();
}

#[test]
fn tasks_that_came_due_while_no_worker_ran_run_first_in_due_order() {
    for watch in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let mut q = open(d.path(), "a", "h");
        let t = clock::now_ms();
        dispatch(d.path(), "a", "\"plain\""); // seq 1, due now
        dispatch_due(d.path(), "\"late\"", t + 300); // seq 2
        dispatch_due(d.path(), "\"early\"", t + 100); // seq 3
        dispatch_due(d.path(), "\"future\"", t + 3_600_000); // seq 4, not due
        std::thread::sleep(Duration::from_millis(400));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = Arc::clone(&seen);
        let mut h = move |t: &Task| {
            s2.lock()
                .unwrap()
                .push(t.payload().as_str().unwrap().to_string());
            Outcome::Success
        };
        if watch {
            let mut w = Worker::new();
            w.add(q, Box::new(h));
            let opts = WorkerOptions {
                stop_when_empty: true,
                ..Default::default()
            };
            w.run_with(&opts, &mut NullWake).unwrap();
        } else {
            handle_once(&mut q, &mut h).unwrap();
            assert_eq!(
                q.delayed().unwrap().len(),
                1,
                "the future task stays delayed"
            );
        }
        assert_eq!(
            *seen.lock().unwrap(),
            ["early", "late", "plain"],
            "watch={watch}"
        );
    }
}

#[test]
fn stop_when_empty_does_not_return_while_a_retried_task_is_due() {
    // The retried task's inotify event may arrive after the loop looked for work; the loop
    // must track the requeued task itself. Repeat to catch the race.
    for _ in 0..30 {
        let d = tempfile::tempdir().unwrap();
        let q = open(d.path(), "a", "h");
        dispatch(d.path(), "a", "1");
        let mut w = Worker::new();
        w.add(q, Box::new(scripted(2, vec![Outcome::from_code(2)])));
        let opts = WorkerOptions {
            stop_when_empty: true,
            ..Default::default()
        };
        let s = w.run(&opts).unwrap();
        assert_eq!((s.handled, s.retried, s.succeeded), (2, 1, 1), "{s:?}");
    }
}
