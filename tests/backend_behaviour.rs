//! One behaviour suite, two backends: the same scenarios (fan-out to level, ancestors and root;
//! ascending order; outcomes and stored reasons; max attempts; delays; recovery of a dead
//! worker; failed-task listing, retry and delete; cancel; the long-running worker) run against
//! the file backend and against PostgreSQL through the core's one seam,
//! `hurah::backend::Backend`, opened from a root exactly as the adapters open it.

#[macro_use]
mod support;

use hurah::backend::{self, Backend, FailedAction, ListenerQueue, Pick, TaskState};
use hurah::pg::Queue as PgQueue;
use hurah::*;
use serde_json::Value;
use std::time::Duration;
use support::{pg_support, TestRoot};

/// A backend under test: the trait object the adapters use, on a root of the shared
/// both-backends fixture (which keeps it alive).
struct Fixture {
    root: String,
    backend: Box<dyn Backend>,
    queues: Vec<Box<dyn ListenerQueue>>,
    _keep: TestRoot,
}

impl Fixture {
    fn files() -> Self {
        Self::on(TestRoot::files())
    }

    fn postgres() -> Self {
        Self::on(TestRoot::postgres())
    }

    fn on(root: TestRoot) -> Self {
        Fixture {
            backend: root.backend(),
            root: root.root().to_string(),
            queues: Vec::new(),
            _keep: root,
        }
    }

    /// Registers handler `name` on `event_type`; returns a listener handle.
    fn listener(&mut self, event_type: &str, name: &str) -> usize {
        let q = self
            .backend
            .open_listener(&ty(event_type), &HandlerName::new(name).unwrap())
            .unwrap();
        self.queues.push(q);
        self.queues.len() - 1
    }

    fn dispatch(&mut self, event_type: &str, payload: &str, delay: Option<Duration>) -> String {
        let opts = DispatchOptions {
            not_before_ms: delay.map(|d| clock::now_ms() + d.as_millis() as u64),
        };
        self.backend
            .dispatch(&ty(event_type), payload, opts)
            .unwrap()
            .id
    }

    /// `handle_once` on one listener.
    fn run(&mut self, l: usize, h: &mut dyn Handler) -> RunStats {
        self.queues[l].handle_once(h).unwrap()
    }

    fn names(&self, l: usize) -> (EventType, HandlerName) {
        (
            self.queues[l].event_type().clone(),
            self.queues[l].name().clone(),
        )
    }

    fn tasks(&self, l: usize, state: TaskState) -> Vec<backend::TaskEntry> {
        let (t, n) = self.names(l);
        self.backend.tasks(&t, &n, state).unwrap()
    }

    /// `(seq, error object)` of the listener's failed tasks, by sequence.
    fn failed(&mut self, l: usize) -> Vec<(u64, Value)> {
        self.tasks(l, TaskState::Failed)
            .into_iter()
            .map(|e| (e.sequence, e.doc.unwrap().error().unwrap().clone()))
            .collect()
    }

    /// A second worker claims the listener's next task, records its start as a worker does
    /// right before the handler, and dies while running it. The one backend-specific step:
    /// claiming without running is below the seam.
    fn die_while_running(&mut self, l: usize) {
        let (t, n) = self.names(l);
        if backend::is_database_url(&self.root) {
            let mut other = PgQueue::open(&self.root, &t, &n).unwrap();
            let claimed = other.claim(1, &[]).unwrap();
            assert_eq!(claimed.len(), 1);
            other.mark_started(None, claimed[0].sequence()).unwrap();
            // Dropping the queue closes its connection: PostgreSQL frees its advisory lock as
            // it would for a killed process.
            drop(other);
            // The server notices the closed socket asynchronously; wait until the lock is free.
            std::thread::sleep(Duration::from_millis(200));
        } else {
            let listener = Layout::new(&self.root).listener(&t, &n);
            let mut other = Queue::open(listener, FsyncPolicy::Never).unwrap();
            let seq = other.due().unwrap()[0];
            let Some(Claim::Task(mut task)) = other.claim(seq).unwrap() else {
                panic!("task {seq} not claimed");
            };
            other.start(&mut task).unwrap();
            // Dropping the queue closes its claim directory's lock: the twin of a process
            // dying with the task file in claimed/<worker>/.
            drop(other);
        }
    }
}

/// Child mode for the kill tests: `handle_once` on listener `a`/`h` of the root in
/// `HURAH_SUITE_CHILD_ROOT`, with the crash point `HURAH_TEST_FAULT` armed by the parent.
#[test]
fn child_entry_point() {
    if let Ok(root) = std::env::var("HURAH_SUITE_CHILD_ROOT") {
        let b = backend::open(&root, FsyncPolicy::Never).unwrap();
        let mut q = b
            .open_listener(&ty("a"), &HandlerName::new("h").unwrap())
            .unwrap();
        let mut h = |_: &Task| Outcome::Success;
        q.handle_once(&mut h).unwrap();
        std::process::exit(0);
    }
}

impl Fixture {
    /// A worker process runs the listener `a`/`h` and is killed (SIGKILL) at crash point
    /// `fault`.
    fn worker_killed_at(&self, fault: &str) {
        use std::os::unix::process::ExitStatusExt;
        let st = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_entry_point",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("HURAH_SUITE_CHILD_ROOT", &self.root)
            .env("HURAH_TEST_FAULT", fault)
            .output()
            .unwrap();
        assert_eq!(
            st.status.signal(),
            Some(libc::SIGKILL),
            "the worker reached {fault}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    }

    /// Runs `handle_once` until something was recovered or handled: PostgreSQL frees a killed
    /// worker's lock when it notices the closed connection, which takes a moment.
    fn run_until_recovered(&mut self, l: usize, h: &mut dyn Handler) -> RunStats {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.run(l, h);
            if s != RunStats::default() {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the killed worker's claim was never recovered"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The failed-task calls this suite was written against, as thin forms of the one operation
/// [`Backend::failed`]: `sequence` or all (`None`; tasks stored as corrupt skipped by a retry),
/// counting in `done`; or each of `sequences`, every outcome to `each`.
trait FailedOps {
    fn retry_failed(
        &self,
        t: &EventType,
        n: &HandlerName,
        seq: Option<u64>,
        done: &mut u64,
    ) -> Result<()>;
    fn delete_failed(
        &self,
        t: &EventType,
        n: &HandlerName,
        seq: Option<u64>,
        done: &mut u64,
    ) -> Result<()>;
    fn retry_failed_each(
        &self,
        t: &EventType,
        n: &HandlerName,
        seqs: &[u64],
        each: &mut dyn FnMut(u64, Result<()>),
    ) -> Result<()>;
    fn delete_failed_each(
        &self,
        t: &EventType,
        n: &HandlerName,
        seqs: &[u64],
        each: &mut dyn FnMut(u64, Result<()>),
    ) -> Result<()>;
}

fn counted(
    b: &dyn Backend,
    t: &EventType,
    n: &HandlerName,
    seq: Option<u64>,
    action: FailedAction,
    done: &mut u64,
) -> Result<()> {
    let one: Vec<u64> = seq.into_iter().collect();
    let pick = if seq.is_some() {
        Pick::Sequences(&one)
    } else {
        Pick::All
    };
    b.failed(t, n, pick, action, &mut |_, r| match r {
        Ok(()) => {
            *done += 1;
            Ok(())
        }
        Err(Error::CorruptTask { .. }) if seq.is_none() && action == FailedAction::Retry => Ok(()),
        Err(e) => Err(e),
    })
}

impl FailedOps for Box<dyn Backend> {
    fn retry_failed(
        &self,
        t: &EventType,
        n: &HandlerName,
        seq: Option<u64>,
        done: &mut u64,
    ) -> Result<()> {
        counted(self.as_ref(), t, n, seq, FailedAction::Retry, done)
    }
    fn delete_failed(
        &self,
        t: &EventType,
        n: &HandlerName,
        seq: Option<u64>,
        done: &mut u64,
    ) -> Result<()> {
        counted(self.as_ref(), t, n, seq, FailedAction::Delete, done)
    }
    fn retry_failed_each(
        &self,
        t: &EventType,
        n: &HandlerName,
        seqs: &[u64],
        each: &mut dyn FnMut(u64, Result<()>),
    ) -> Result<()> {
        self.failed(
            t,
            n,
            Pick::Sequences(seqs),
            FailedAction::Retry,
            &mut |s, r| {
                each(s, r);
                Ok(())
            },
        )
    }
    fn delete_failed_each(
        &self,
        t: &EventType,
        n: &HandlerName,
        seqs: &[u64],
        each: &mut dyn FnMut(u64, Result<()>),
    ) -> Result<()> {
        self.failed(
            t,
            n,
            Pick::Sequences(seqs),
            FailedAction::Delete,
            &mut |s, r| {
                each(s, r);
                Ok(())
            },
        )
    }
}

fn ty(s: &str) -> EventType {
    EventType::parse(s).unwrap()
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

fn fan_out(b: &mut Fixture) {
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

fn ascending_order(b: &mut Fixture) {
    let l = b.listener("a", "h");
    for i in 1..=40 {
        b.dispatch("a", &i.to_string(), None);
    }
    let mut h = rec(0, ok);
    assert_eq!(b.run(l, &mut h).succeeded, 40);
    let got: Vec<u64> = h.seen.iter().map(|(v, _)| v.as_u64().unwrap()).collect();
    assert_eq!(got, (1..=40).collect::<Vec<_>>());
}

fn outcomes_and_reasons(b: &mut Fixture) {
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

fn max_attempts(b: &mut Fixture) {
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

fn delays(b: &mut Fixture) {
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

fn dead_worker_recovery(b: &mut Fixture) {
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

/// At-least-once with the default `maxAttempts()` of 0: a worker killed after claiming a task
/// but before entering its handler spends none of the task's attempts; one killed after the
/// start was recorded spends one.
fn killed_between_claim_and_handler_spends_no_attempt(b: &mut Fixture) {
    let l = b.listener("a", "h");
    b.dispatch("a", "1", None);
    b.worker_killed_at("worker-after-claim");
    assert!(b.tasks(l, TaskState::Inbox).is_empty(), "task 1 is claimed");
    let mut h = rec(0, ok);
    let s = b.run_until_recovered(l, &mut h);
    assert_eq!((s.recovered, s.succeeded, s.failed), (1, 1, 0), "{s:?}");
    assert_eq!(h.seen, [(Value::from(1), 1)], "first attempt, not spent");
    assert!(b.failed(l).is_empty());
    // Killed once the start was recorded: that run counts (to error/ with no retries left).
    b.dispatch("a", "2", None);
    b.worker_killed_at("worker-after-start");
    let mut h = rec(0, ok);
    let s = b.run_until_recovered(l, &mut h);
    assert_eq!((s.failed, s.handled), (1, 0), "{s:?}");
    let f = b.failed(l);
    assert_eq!(f[0].1["class"], "WorkerDied", "{f:?}");
}

fn failed_tasks_listed_retried_and_deleted(b: &mut Fixture) {
    let l = b.listener("a", "h");
    for i in 1..=3 {
        b.dispatch("a", &i.to_string(), None);
    }
    let mut h = rec(0, |_: &Task| Outcome::Failure {
        reason: "boom".into(),
        class: Some("E".into()),
    });
    assert_eq!(b.run(l, &mut h).failed, 3);
    let f = b.tasks(l, TaskState::Failed);
    assert_eq!(f.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2, 3]);
    let e = f[0].error.as_ref().unwrap();
    assert_eq!((e.reason.as_str(), e.class.as_deref()), ("boom", Some("E")));
    assert!(e.at.as_ref().unwrap().len() >= 20, "{e:?}");
    assert_eq!(f[0].attempts, 1);
    assert!(f[0].id.is_some());
    let (t, n) = b.names(l);
    // One by sequence; an unknown sequence is NotFound and changes nothing.
    let mut done = 0;
    b.backend.retry_failed(&t, &n, Some(2), &mut done).unwrap();
    assert_eq!(done, 1);
    let mut done = 0;
    let err = b
        .backend
        .retry_failed(&t, &n, Some(99), &mut done)
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(done, 0);
    let inbox = b.tasks(l, TaskState::Inbox);
    assert_eq!(inbox.iter().map(|e| e.sequence).collect::<Vec<_>>(), [2]);
    assert_eq!(inbox[0].attempts, 0, "attempts reset");
    let mut h = rec(0, ok);
    assert_eq!(b.run(l, &mut h).succeeded, 1);
    assert_eq!(h.seen[0], (Value::from(2), 1));
    // Delete one, then all.
    let mut done = 0;
    b.backend.delete_failed(&t, &n, Some(1), &mut done).unwrap();
    assert_eq!(done, 1);
    let mut done = 0;
    b.backend.delete_failed(&t, &n, None, &mut done).unwrap();
    assert_eq!(done, 1);
    assert!(b.tasks(l, TaskState::Failed).is_empty());
    let mut done = 0;
    b.backend.retry_failed(&t, &n, None, &mut done).unwrap();
    assert_eq!(done, 0, "nothing left: not an error with None");
    assert_eq!(b.backend.listeners().unwrap(), [(t, n)]);
}

fn delayed_listed_and_cancelled(b: &mut Fixture) {
    let l = b.listener("a", "h");
    let keep = b.dispatch("a", "1", Some(Duration::from_secs(60)));
    let gone = b.dispatch("a", "2", Some(Duration::from_secs(30)));
    let d = b.tasks(l, TaskState::Delayed);
    // Earliest due first.
    assert_eq!(
        d.iter().map(|e| e.id.clone().unwrap()).collect::<Vec<_>>(),
        [gone.clone(), keep.clone()]
    );
    assert!(d[0].due_ms.unwrap() > clock::now_ms() + 20_000);
    assert_eq!(d[0].doc.as_ref().unwrap().payload(), &Value::from(2));
    assert!(b.tasks(l, TaskState::Inbox).is_empty());
    assert_eq!(b.backend.cancel(&gone).unwrap().cancelled, 1);
    assert_eq!(b.backend.cancel(&gone).unwrap().cancelled, 0);
    let d = b.tasks(l, TaskState::Delayed);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].id.as_deref(), Some(keep.as_str()));
}

fn worker_loop_runs_until_empty_and_stops_on_request(b: &mut Fixture) {
    let a = b.listener("a", "one");
    let c = b.listener("c", "two");
    for i in 0..5 {
        b.dispatch("a", &i.to_string(), None);
        b.dispatch("c", &i.to_string(), None);
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut w = b.backend.worker();
    for (l, tag) in [(a, "a"), (c, "c")] {
        let (t, n) = b.names(l);
        let q = b.backend.open_listener(&t, &n).unwrap();
        let seen = seen.clone();
        w.add(
            q,
            Box::new(rec(0, move |t: &Task| {
                seen.lock().unwrap().push(format!("{tag}{}", t.payload()));
                Outcome::Success
            })),
        )
        .unwrap();
    }
    let opts = WorkerOptions {
        stop_when_empty: true,
        ..Default::default()
    };
    let s = w.run(&opts).unwrap();
    assert_eq!((s.handled, s.succeeded), (10, 10), "{s:?}");
    let seen = seen.lock().unwrap().clone();
    for tag in ["a", "c"] {
        let mine: Vec<&String> = seen.iter().filter(|s| s.starts_with(tag)).collect();
        assert_eq!(mine.len(), 5, "{seen:?}");
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "ascending: {seen:?}");
    }
    // A stop request from another thread ends an idle run.
    let stop = w.stop_handle();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        stop.stop();
    });
    let started = std::time::Instant::now();
    let s = w
        .run(&WorkerOptions {
            max_time: Some(Duration::from_secs(30)),
            ..Default::default()
        })
        .unwrap();
    t.join().unwrap();
    assert_eq!(s.handled, 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped by the handle"
    );
}

fn worker_refuses_a_listener_of_the_other_backend(b: &mut Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let files = backend::open(dir.path().to_str().unwrap(), FsyncPolicy::Never).unwrap();
    let mut db = None;
    let other: Box<dyn Backend> = if backend::is_database_url(&b.root) {
        files
    } else {
        // Any PostgreSQL backend will do: the file worker refuses its queue before using it.
        let dsn = db.insert(pg_support::TestDb::new()).dsn.clone();
        backend::open(&dsn, FsyncPolicy::Never).unwrap()
    };
    let q = other
        .open_listener(&ty("a"), &HandlerName::new("h").unwrap())
        .unwrap();
    let mut w = b.backend.worker();
    let err = w.add(q, Box::new(rec(0, ok))).unwrap_err();
    assert!(err.to_string().contains("cannot share one worker"), "{err}");
    drop(w);
    drop(other);
    drop(db);
}

fn failed_tasks_retried_and_deleted_by_sequence(b: &mut Fixture) {
    let l = b.listener("a", "h");
    let started = clock::now_ms();
    for i in 1..=4 {
        b.dispatch("a", &i.to_string(), None);
    }
    let mut h = rec(0, |_: &Task| Outcome::failure("boom"));
    assert_eq!(b.run(l, &mut h).failed, 4);
    // When each entered error/: what `--older-than` selections compare.
    for e in b.tasks(l, TaskState::Failed) {
        assert!(
            e.changed_ms + 1_000 >= started && e.changed_ms <= clock::now_ms() + 1_000,
            "{e:?}"
        );
    }
    let (t, n) = b.names(l);
    // One pass for several: every sequence answered once (a repeated one too), unknown ones
    // NotFound, the others still done.
    let mut got = Vec::new();
    b.backend
        .retry_failed_each(&t, &n, &[1, 3, 99, 3], &mut |seq, r| {
            got.push((seq, r.map_err(|e| matches!(e, Error::NotFound { .. }))))
        })
        .unwrap();
    assert_eq!(got, [(1, Ok(())), (3, Ok(())), (99, Err(true))]);
    let inbox = b.tasks(l, TaskState::Inbox);
    assert_eq!(inbox.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 3]);
    assert!(inbox.iter().all(|e| e.attempts == 0), "attempts reset");
    let mut got = Vec::new();
    b.backend
        .delete_failed_each(&t, &n, &[2, 1], &mut |seq, r| {
            got.push((seq, r.map_err(|e| matches!(e, Error::NotFound { .. }))))
        })
        .unwrap();
    assert_eq!(got, [(2, Ok(())), (1, Err(true))], "1 is in the inbox now");
    let left: Vec<u64> = b
        .tasks(l, TaskState::Failed)
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(left, [4]);
    let mut called = false;
    b.backend
        .retry_failed_each(&t, &n, &[], &mut |_, _| called = true)
        .unwrap();
    assert!(!called, "nothing asked, nothing done");
}

fn delayed_cancelled_by_sequence(b: &mut Fixture) {
    let l = b.listener("a", "h");
    for i in 1..=3 {
        b.dispatch("a", &i.to_string(), Some(Duration::from_secs(60 * i)));
    }
    let seqs: Vec<u64> = b
        .tasks(l, TaskState::Delayed)
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    let (t, n) = b.names(l);
    let c = b.backend.cancel_delayed(&t, &n, &[1, 3, 99]).unwrap();
    assert_eq!(
        (c.cancelled, c.too_late),
        (2, 1),
        "99: no delayed task (any more)"
    );
    let left: Vec<u64> = b
        .tasks(l, TaskState::Delayed)
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(left, [2]);
    // Sequence 1 of another listener is not touched (a:h has none any more).
    let other = b.listener("b", "h");
    b.dispatch("b", "5", Some(Duration::from_secs(60)));
    let c = b.backend.cancel_delayed(&t, &n, &[1]).unwrap();
    assert_eq!((c.cancelled, c.too_late), (0, 1));
    assert_eq!(b.tasks(other, TaskState::Delayed).len(), 1);
}

fn status_counts_every_state(b: &mut Fixture) {
    let l = b.listener("a", "h");
    b.listener("", "all");
    b.dispatch("a", "1", None);
    b.dispatch("a", "2", None);
    let mut h = rec(0, |t: &Task| {
        if t.payload() == 2 {
            Outcome::failure("two")
        } else {
            Outcome::Success
        }
    });
    assert_eq!(b.run(l, &mut h).handled, 2);
    b.dispatch("a", "3", None);
    b.dispatch("a", "4", Some(Duration::from_secs(3600)));
    let row = |b: &Fixture, name: &str| {
        let all = b.backend.status().unwrap();
        all.into_iter().find(|r| r.name.as_str() == name).unwrap()
    };
    let s = b.backend.status().unwrap();
    let names: Vec<String> = s
        .iter()
        .map(|r| format!("{}:{}", r.event_type, r.name))
        .collect();
    assert_eq!(names, [":all", "a:h"], "by event type, then name");
    let a = row(b, "h");
    assert_eq!(
        (a.inbox, a.delayed, a.claimed, a.error, a.archive),
        (1, 1, 0, 1, 1),
        "{a:?}"
    );
    assert!(a.oldest_due_ms.is_some(), "{a:?}");
    let root = row(b, "all");
    assert_eq!(
        (root.inbox, root.delayed, root.error, root.archive),
        (3, 1, 0, 0),
        "{root:?}"
    );
    // A worker dies holding task 3: claimed, by a dead worker.
    b.die_while_running(l);
    let a = row(b, "h");
    assert_eq!(
        (a.inbox, a.claimed, a.live_workers, a.dead_workers),
        (0, 1, 0, 1),
        "{a:?}"
    );
    assert_eq!(a.oldest_due_ms, None, "nothing due waits");
}

fn purge_archive_by_age(b: &mut Fixture) {
    let l = b.listener("a", "h");
    b.dispatch("a", "1", None);
    b.dispatch("a", "2", None);
    let mut h = rec(0, ok);
    assert_eq!(b.run(l, &mut h).succeeded, 2);
    let (t, n) = b.names(l);
    let hour = Duration::from_secs(3600);
    let p = b.backend.purge_archive(&t, &n, hour, false).unwrap();
    assert_eq!((p.purged, p.kept), (0, 2));
    std::thread::sleep(Duration::from_millis(60));
    let young = Duration::from_millis(20);
    let p = b.backend.purge_archive(&t, &n, young, true).unwrap();
    assert_eq!((p.purged, p.kept), (2, 0), "dry run counts");
    let archived = |b: &Fixture| {
        let s = b.backend.status().unwrap();
        s[0].archive
    };
    assert_eq!(archived(b), 2, "dry run deletes nothing");
    let p = b.backend.purge_archive(&t, &n, young, false).unwrap();
    assert_eq!((p.purged, p.kept), (2, 0));
    assert_eq!(archived(b), 0);
}

fn dispatch_many_keeps_order_and_validates_every_payload_first(b: &mut Fixture) {
    let l = b.listener("a", "h");
    let batch = |items: &[(&str, &str)]| -> Vec<(EventType, String)> {
        items.iter().map(|(t, p)| (ty(t), p.to_string())).collect()
    };
    let bad = batch(&[("a", "1"), ("a/b", "{")]);
    assert!(matches!(
        b.backend.dispatch_many(&bad, DispatchOptions::default()),
        Err(Error::InvalidPayload { .. })
    ));
    assert!(b.tasks(l, TaskState::Inbox).is_empty(), "nothing written");
    let ok_batch = batch(&[("a", "1"), ("a/b", "2"), ("other", "0"), ("a", "3")]);
    let rs = b
        .backend
        .dispatch_many(&ok_batch, DispatchOptions::default())
        .unwrap();
    assert_eq!(rs.len(), 4);
    assert_eq!(
        rs.iter().map(|r| r.deliveries.len()).collect::<Vec<_>>(),
        [1, 1, 0, 1]
    );
    let mut h = rec(0, ok);
    assert_eq!(b.run(l, &mut h).succeeded, 3);
    let got: Vec<u64> = h.seen.iter().map(|(v, _)| v.as_u64().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
    // A due time applies to the whole batch.
    let later = DispatchOptions {
        not_before_ms: Some(clock::now_ms() + 60_000),
    };
    b.backend
        .dispatch_many(&batch(&[("a", "4"), ("a", "5")]), later)
        .unwrap();
    assert_eq!(b.tasks(l, TaskState::Delayed).len(), 2);
}

both!(
    Fixture:
    fan_out,
    ascending_order,
    outcomes_and_reasons,
    max_attempts,
    delays,
    dead_worker_recovery,
    killed_between_claim_and_handler_spends_no_attempt,
    failed_tasks_listed_retried_and_deleted,
    delayed_listed_and_cancelled,
    worker_loop_runs_until_empty_and_stops_on_request,
    dispatch_many_keeps_order_and_validates_every_payload_first,
    worker_refuses_a_listener_of_the_other_backend,
    failed_tasks_retried_and_deleted_by_sequence,
    delayed_cancelled_by_sequence,
    status_counts_every_state,
    purge_archive_by_age
);
