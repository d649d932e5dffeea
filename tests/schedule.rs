//! Delays, due order and retry backoff on a controllable clock (`clock::advance_thread_clock`):
//! hours pass in microseconds, and nothing depends on the machine's speed.

use hurah::*;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn queue(root: &Path) -> Queue {
    let l = Layout::new(root).listener(
        &EventType::parse("a").unwrap(),
        &HandlerName::new("h").unwrap(),
    );
    Queue::open(l, FsyncPolicy::Never).unwrap()
}

fn dispatch_at(root: &Path, payload: &str, due_ms: u64) {
    Dispatcher::new(root, FsyncPolicy::Never)
        .unwrap()
        .dispatch_with(
            &EventType::parse("a").unwrap(),
            payload,
            DispatchOptions {
                not_before_ms: Some(due_ms),
            },
        )
        .unwrap();
}

fn recorder() -> (Arc<Mutex<Vec<String>>>, impl FnMut(&Task) -> Outcome) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = Arc::clone(&seen);
    (seen, move |t: &Task| {
        s2.lock()
            .unwrap()
            .push(t.payload().as_str().unwrap_or("?").to_string());
        Outcome::Success
    })
}

#[test]
fn delayed_task_waits_for_its_due_time_then_runs_once() {
    let d = tempfile::tempdir().unwrap();
    let mut q = queue(d.path());
    dispatch_at(d.path(), "\"later\"", clock::now_ms() + 3_600_000);
    let (seen, mut h) = recorder();
    handle_once(&mut q, &mut h).unwrap();
    assert!(seen.lock().unwrap().is_empty(), "not before its time");
    clock::advance_thread_clock(HOUR - Duration::from_secs(1));
    handle_once(&mut q, &mut h).unwrap();
    assert!(
        seen.lock().unwrap().is_empty(),
        "one second early is still early"
    );
    clock::advance_thread_clock(Duration::from_secs(1));
    handle_once(&mut q, &mut h).unwrap();
    handle_once(&mut q, &mut h).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["later"]);
}

#[test]
fn watching_worker_runs_tasks_that_came_due_in_due_order() {
    let d = tempfile::tempdir().unwrap();
    let q = queue(d.path());
    let now = clock::now_ms();
    dispatch_at(d.path(), "\"third\"", now + 3 * 3_600_000);
    dispatch_at(d.path(), "\"first\"", now + 3_600_000);
    dispatch_at(d.path(), "\"not yet\"", now + 10 * 3_600_000);
    dispatch_at(d.path(), "\"second\"", now + 2 * 3_600_000);
    clock::advance_thread_clock(4 * HOUR);
    let (seen, h) = recorder();
    let mut w = Worker::new();
    w.add(q, Box::new(h));
    let opts = WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    };
    w.run_with(&opts, &mut NullWake).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["first", "second", "third"]);
}

struct Flaky {
    backoff: Backoff,
    runs: Arc<Mutex<Vec<u64>>>,
}

impl Handler for Flaky {
    fn handle_task(&mut self, t: &Task) -> Outcome {
        self.runs.lock().unwrap().push(t.attempt());
        Outcome::Retry { delay: None }
    }
    fn max_attempts(&mut self) -> u64 {
        3
    }
    fn retry_delay(&mut self, attempt: u64) -> Option<Duration> {
        Some(self.backoff.delay_for(attempt))
    }
    fn log(&mut self, _: Level, _: &str) {}
}

#[test]
fn retry_backoff_grows_until_max_attempts_then_error() {
    let d = tempfile::tempdir().unwrap();
    let mut q = queue(d.path());
    Dispatcher::new(d.path(), FsyncPolicy::Never)
        .unwrap()
        .dispatch(&EventType::parse("a").unwrap(), "1")
        .unwrap();
    let runs = Arc::new(Mutex::new(Vec::new()));
    let mut h = Flaky {
        backoff: Backoff::new(
            Duration::from_secs(60),
            2.0,
            Some(Duration::from_secs(150)),
            0.0,
        )
        .unwrap(),
        runs: Arc::clone(&runs),
    };
    // Run 1 now; then the retries wait 60 s, 120 s and 150 s (capped). Each due time is the
    // delay after the run that scheduled it: between the clock before and after that
    // handle_once() call (+1 ms: rounded up to whole ms from a µs clock). Real time keeps
    // running under the advanced thread clock, so the bounds, not exact waits, are checked.
    let run = |q: &mut Queue, h: &mut Flaky| {
        let before = clock::now_ms();
        handle_once(q, h).unwrap();
        (before, clock::now_ms())
    };
    let mut window = run(&mut q, &mut h);
    for expect in [60_000u64, 120_000, 150_000] {
        let (due, _) = q.delayed().unwrap()[0];
        assert!(
            due >= window.0 + expect && due <= window.1 + expect + 1,
            "due {due} not {expect} ms after the run in {window:?}"
        );
        // 20 ms early: not run (a margin for a loaded machine between the two clock reads).
        clock::advance_thread_clock(Duration::from_millis(due - clock::now_ms() - 20));
        handle_once(&mut q, &mut h).unwrap();
        assert_eq!(q.delayed().unwrap().len(), 1, "not due early");
        clock::advance_thread_clock(Duration::from_millis(due.saturating_sub(clock::now_ms())));
        window = run(&mut q, &mut h);
    }
    assert_eq!(*runs.lock().unwrap(), [1, 2, 3, 4]);
    assert!(q.delayed().unwrap().is_empty());
    let err = q.listener().state_dir(State::Error).join("1.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(err).unwrap()).unwrap();
    assert_eq!(
        doc["error"]["reason"],
        "Hit retry limit which is set to: 3."
    );
    assert_eq!(doc["error"]["attempts"], 4);
    assert_eq!(doc["retry_count"], 4);
}
