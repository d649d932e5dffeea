//! One behaviour suite, two backends: the same scenarios (fan-out to level, ancestors and root;
//! ascending order; outcomes and stored reasons; max attempts; delays; recovery of a dead
//! worker) run against the file backend and against PostgreSQL through a small test-local
//! trait.

mod pg_support;

use hurah::pg::{pg_handle_once, PgDispatcher, PgQueue};
use hurah::*;
use serde_json::Value;
use std::time::Duration;

trait Backend {
    /// Registers handler `name` on `event_type`; returns a listener handle.
    fn listener(&mut self, event_type: &str, name: &str) -> usize;
    fn dispatch(&mut self, event_type: &str, payload: &str, delay: Option<Duration>);
    /// `handle_once` on one listener.
    fn run(&mut self, l: usize, h: &mut dyn Handler) -> RunStats;
    /// `(seq, error object)` of the listener's failed tasks, by sequence.
    fn failed(&mut self, l: usize) -> Vec<(u64, Value)>;
    /// A second worker claims the listener's next task and dies while running it.
    fn die_while_running(&mut self, l: usize);
}

struct FileBackend {
    dir: tempfile::TempDir,
    queues: Vec<Queue>,
}

impl FileBackend {
    fn new() -> Self {
        FileBackend {
            dir: tempfile::tempdir().unwrap(),
            queues: Vec::new(),
        }
    }
}

impl Backend for FileBackend {
    fn listener(&mut self, event_type: &str, name: &str) -> usize {
        let l = Layout::new(self.dir.path()).listener(
            &EventType::parse(event_type).unwrap(),
            &HandlerName::new(name).unwrap(),
        );
        self.queues
            .push(Queue::open(l, FsyncPolicy::Never).unwrap());
        self.queues.len() - 1
    }
    fn dispatch(&mut self, event_type: &str, payload: &str, delay: Option<Duration>) {
        let d = Dispatcher::new(self.dir.path(), FsyncPolicy::Never).unwrap();
        let opts = DispatchOptions {
            not_before_ms: delay.map(|d| clock::now_ms() + d.as_millis() as u64),
        };
        d.dispatch_with(&EventType::parse(event_type).unwrap(), payload, opts)
            .unwrap();
    }
    fn run(&mut self, l: usize, h: &mut dyn Handler) -> RunStats {
        handle_once(&mut self.queues[l], h).unwrap()
    }
    fn failed(&mut self, l: usize) -> Vec<(u64, Value)> {
        let listener = self.queues[l].listener().clone();
        failed::entries(&listener)
            .unwrap()
            .into_iter()
            .map(|(seq, path)| {
                let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
                (seq, doc["error"].clone())
            })
            .collect()
    }
    fn die_while_running(&mut self, l: usize) {
        let mut other = Queue::open(self.queues[l].listener().clone(), FsyncPolicy::Never).unwrap();
        let seq = other.due().unwrap()[0];
        assert!(other.claim(seq).unwrap().is_some());
        // Dropping the queue closes its claim directory's lock: the twin of a process dying
        // with the task file in claimed/<worker>/.
        std::mem::forget(other.listener().clone());
        drop(other);
    }
}

struct PgBackend {
    db: pg_support::TestDb,
    queues: Vec<PgQueue>,
}

impl PgBackend {
    fn new() -> Self {
        PgBackend {
            db: pg_support::TestDb::new(),
            queues: Vec::new(),
        }
    }
}

impl Backend for PgBackend {
    fn listener(&mut self, event_type: &str, name: &str) -> usize {
        self.queues.push(
            PgQueue::open(
                &self.db.dsn,
                &EventType::parse(event_type).unwrap(),
                &HandlerName::new(name).unwrap(),
            )
            .unwrap(),
        );
        self.queues.len() - 1
    }
    fn dispatch(&mut self, event_type: &str, payload: &str, delay: Option<Duration>) {
        let d = PgDispatcher::new(&self.db.dsn).unwrap();
        let opts = DispatchOptions {
            not_before_ms: delay.map(|d| clock::now_ms() + d.as_millis() as u64),
        };
        d.dispatch_with(&EventType::parse(event_type).unwrap(), payload, opts)
            .unwrap();
    }
    fn run(&mut self, l: usize, h: &mut dyn Handler) -> RunStats {
        pg_handle_once(&mut self.queues[l], h).unwrap()
    }
    fn failed(&mut self, l: usize) -> Vec<(u64, Value)> {
        self.queues[l]
            .failed()
            .unwrap()
            .into_iter()
            .map(|(seq, e, _)| (seq, e))
            .collect()
    }
    fn die_while_running(&mut self, l: usize) {
        let q = &self.queues[l];
        let mut other = PgQueue::open(&self.db.dsn, q.event_type(), q.name()).unwrap();
        assert_eq!(other.claim(1, &[]).unwrap().len(), 1);
        // Dropping the queue closes its connection: PostgreSQL frees its advisory lock as it
        // would for a killed process.
        drop(other);
        // The server notices the closed socket asynchronously; wait until the lock is free.
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Rec<F: FnMut(&Task) -> Outcome> {
    seen: Vec<(Value, u64)>,
    f: F,
    max: u64,
}

impl<F: FnMut(&Task) -> Outcome> Handler for Rec<F> {
    fn handle_task(&mut self, t: &Task) -> Outcome {
        self.seen.push((t.payload().clone(), t.attempt()));
        (self.f)(t)
    }
    fn max_attempts(&mut self) -> u64 {
        self.max
    }
    fn log(&mut self, _: Level, _: &str) {}
}

fn rec<F: FnMut(&Task) -> Outcome>(max: u64, f: F) -> Rec<F> {
    Rec {
        seen: Vec::new(),
        f,
        max,
    }
}

fn ok(_: &Task) -> Outcome {
    Outcome::Success
}

fn fan_out(b: &mut dyn Backend) {
    let exact = b.listener("product/created", "exact");
    let parent = b.listener("product", "parent");
    let root = b.listener("", "root");
    let sibling = b.listener("product/deleted", "sibling");
    let other = b.listener("other", "other");
    b.dispatch("product/created", r#"{"b":1,"a":2}"#, None);
    for (l, n) in [(exact, 1), (parent, 1), (root, 1), (sibling, 0), (other, 0)] {
        let mut h = rec(0, ok);
        assert_eq!(b.run(l, &mut h).succeeded, n, "listener {l}");
        if n == 1 {
            // The payload text is kept as dispatched (key order too).
            assert_eq!(
                serde_json::to_string(&h.seen[0].0).unwrap(),
                r#"{"b":1,"a":2}"#
            );
        }
    }
    b.dispatch("product", "2", None);
    let mut h = rec(0, ok);
    assert_eq!(
        b.run(exact, &mut h).handled,
        0,
        "children do not get parent events"
    );
    assert_eq!(b.run(parent, &mut h).handled, 1);
}

fn ascending_order(b: &mut dyn Backend) {
    let l = b.listener("a", "h");
    for i in 1..=40 {
        b.dispatch("a", &i.to_string(), None);
    }
    let mut h = rec(0, ok);
    assert_eq!(b.run(l, &mut h).succeeded, 40);
    let got: Vec<u64> = h.seen.iter().map(|(v, _)| v.as_u64().unwrap()).collect();
    assert_eq!(got, (1..=40).collect::<Vec<_>>());
}

fn outcomes_and_reasons(b: &mut dyn Backend) {
    let l = b.listener("a", "h");
    for code in 0..5 {
        b.dispatch("a", &code.to_string(), None);
    }
    let mut h = rec(0, |t: &Task| {
        Outcome::from_code(t.payload().as_i64().unwrap())
    });
    let s = b.run(l, &mut h);
    assert_eq!((s.handled, s.succeeded, s.failed), (5, 1, 4), "{s:?}");
    let failed = b.failed(l);
    let reasons: Vec<(u64, String)> = failed
        .iter()
        .map(|(seq, e)| (*seq, e["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(reasons[0], (2, "Task failed".to_string()));
    assert_eq!(
        reasons[1],
        (3, "Hit retry limit which is set to: 0.".to_string())
    );
    assert_eq!(reasons[2], (4, "Task was invalid".to_string()));
    assert!(reasons[3].1.contains("unknown status 4"), "{reasons:?}");
    // error.attempts = runs so far, the same on both backends (the retry-limit entry too).
    for (_, e) in &failed {
        assert_eq!(e["attempts"], 1, "{e}");
        assert!(e["at"].as_str().unwrap().len() >= 20, "{e}");
    }
    // An exception-like failure keeps its class.
    b.dispatch("a", "9", None);
    let mut h = rec(0, |_: &Task| Outcome::Failure {
        reason: "boom".into(),
        class: Some("RuntimeException".into()),
    });
    b.run(l, &mut h);
    let last = b.failed(l).pop().unwrap().1;
    assert_eq!(
        (last["reason"].as_str(), last["class"].as_str()),
        (Some("boom"), Some("RuntimeException"))
    );
}

fn max_attempts(b: &mut dyn Backend) {
    let l = b.listener("a", "h");
    b.dispatch("a", "1", None);
    let mut h = rec(2, |_: &Task| Outcome::Retry { delay: None });
    let mut runs = 0;
    for _ in 0..5 {
        runs += b.run(l, &mut h).handled;
    }
    assert_eq!(runs, 3, "M retries = M+1 runs");
    let attempts: Vec<u64> = h.seen.iter().map(|s| s.1).collect();
    assert_eq!(attempts, [1, 2, 3]);
    let f = b.failed(l);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].1["reason"], "Hit retry limit which is set to: 2.");
    assert_eq!(f[0].1["attempts"], 3);
}

fn delays(b: &mut dyn Backend) {
    let l = b.listener("a", "h");
    b.dispatch("a", "1", Some(Duration::from_millis(400)));
    let mut h = rec(0, ok);
    assert_eq!(b.run(l, &mut h).handled, 0, "not due yet");
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(b.run(l, &mut h).succeeded, 1);
    // RETRY with a delay.
    b.dispatch("a", "2", None);
    let mut first = true;
    let mut h = rec(1, move |_: &Task| {
        if std::mem::take(&mut first) {
            Outcome::Retry {
                delay: Some(Duration::from_millis(300)),
            }
        } else {
            Outcome::Success
        }
    });
    assert_eq!(b.run(l, &mut h).retried, 1);
    assert_eq!(b.run(l, &mut h).handled, 0, "retry not due yet");
    std::thread::sleep(Duration::from_millis(350));
    let s = b.run(l, &mut h);
    assert_eq!(s.succeeded, 1);
    assert_eq!(h.seen.last().unwrap().1, 2, "second attempt");
}

fn dead_worker_recovery(b: &mut dyn Backend) {
    let l = b.listener("a", "h");
    b.dispatch("a", "1", None);
    b.dispatch("a", "2", None);
    b.die_while_running(l);
    let mut h = rec(1, ok);
    let s = b.run(l, &mut h);
    assert_eq!((s.recovered, s.succeeded), (1, 2), "{s:?}");
    assert_eq!(
        h.seen[0],
        (Value::from(1), 2),
        "the dead worker's run counts"
    );
    // With no retries allowed, the task goes to error with the reason.
    b.dispatch("a", "3", None);
    b.die_while_running(l);
    let mut h = rec(0, ok);
    let s = b.run(l, &mut h);
    assert_eq!((s.failed, s.handled), (1, 0), "{s:?}");
    let f = b.failed(l);
    assert!(
        f[0].1["reason"].as_str().unwrap().contains("worker died"),
        "{f:?}"
    );
    assert_eq!(f[0].1["class"], "WorkerDied");
}

macro_rules! both {
    ($($name:ident),*) => {
        mod file {
            $( #[test] fn $name() { super::$name(&mut super::FileBackend::new()); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&mut super::PgBackend::new()); } )*
        }
    };
}

both!(
    fan_out,
    ascending_order,
    outcomes_and_reasons,
    max_attempts,
    delays,
    dead_worker_recovery
);
