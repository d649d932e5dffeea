//! PostgreSQL-only behaviour: migrations, the outbox (hurah.dispatch inside an application
//! transaction), NOTIFY wake-ups, delayed timers, concurrent workers, reconnects, connection
//! failures and malformed DSNs. Each test gets its own database on the test server.

mod pg_support;

use hurah::pg::{
    self, handle_once as pg_handle_once, PgDispatcher, Queue as PgQueue, Worker as PgWorker,
};
use hurah::*;
use pg_support::TestDb;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn et(s: &str) -> EventType {
    EventType::parse(s).unwrap()
}

fn connect_err(dsn: &str) -> Error {
    match pg::connect(dsn) {
        Ok(_) => panic!("{dsn} connected"),
        Err(e) => e,
    }
}

fn hn(s: &str) -> HandlerName {
    HandlerName::new(s).unwrap()
}

/// Runs a PgWorker with one queue in a thread (handlers are not Send, so it is built there).
fn spawn<F: FnMut(&Task) -> Outcome + Send + 'static>(
    q: PgQueue,
    f: F,
    batch: usize,
    opts: WorkerOptions,
) -> (hurah::StopHandle, std::thread::JoinHandle<Result<RunStats>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        let mut w = PgWorker::new();
        w.set_batch(batch);
        w.add(q, Box::new(Quiet(f)));
        tx.send(w.stop_handle()).unwrap();
        w.run(&opts)
    });
    (rx.recv().unwrap(), t)
}

struct Quiet<F: FnMut(&Task) -> Outcome>(F);
impl<F: FnMut(&Task) -> Outcome> Handler for Quiet<F> {
    fn handle_task(&mut self, t: &Task) -> Outcome {
        (self.0)(t)
    }
    fn log(&mut self, _: Level, _: &str) {}
}

#[test]
fn migrations_are_versioned_and_idempotent() {
    let db = TestDb::new();
    let mut c = db.client();
    assert_eq!(pg::schema_version(&mut c).unwrap(), 0);
    // An old schema (version 1) is upgraded by applying only what it lacks.
    assert_eq!(pg::migrate_to(&mut c, 1).unwrap(), vec![1]);
    assert_eq!(pg::schema_version(&mut c).unwrap(), 1);
    let newer: Vec<i32> = pg::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .filter(|v| *v > 1)
        .collect();
    assert_eq!(pg::migrate(&mut c).unwrap(), newer);
    let opts: Vec<String> = c
        .query_one(
            "SELECT reloptions FROM pg_class WHERE oid = 'hurah.tasks'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(opts.contains(&"fillfactor=80".to_string()), "{opts:?}");
    assert!(
        pg::migrate(&mut c).unwrap().is_empty(),
        "second run applies nothing"
    );
    assert_eq!(
        pg::schema_version(&mut c).unwrap(),
        pg::MIGRATIONS.last().unwrap().0
    );
    // Concurrent first runs are serialized by the advisory lock.
    let db2 = TestDb::new();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let dsn = db2.dsn.clone();
            std::thread::spawn(move || pg::migrate(&mut pg::connect(&dsn).unwrap()).unwrap())
        })
        .collect();
    let applied: usize = handles.into_iter().map(|h| h.join().unwrap().len()).sum();
    assert_eq!(applied, pg::MIGRATIONS.len(), "each version applied once");
}

#[test]
fn outbox_task_exists_iff_the_application_transaction_commits() {
    let db = TestDb::new();
    let mut q = PgQueue::open(&db.dsn, &et("order"), &hn("mailer")).unwrap();
    let mut app = db.client();
    // Rolled back: no task.
    let mut tx = app.transaction().unwrap();
    tx.execute("CREATE TABLE IF NOT EXISTS orders (id int)", &[])
        .unwrap();
    tx.query(
        "SELECT * FROM hurah.dispatch('order/placed', '{\"order\":1}')",
        &[],
    )
    .unwrap();
    tx.rollback().unwrap();
    let mut seen = Vec::new();
    let s = pg_handle_once(
        &mut q,
        &mut Quiet(|t: &Task| {
            seen.push(t.payload().clone());
            Outcome::Success
        }),
    )
    .unwrap();
    assert_eq!(s.handled, 0);
    // Committed: exactly one task, with the delay form too.
    let mut tx = app.transaction().unwrap();
    let rows = tx
        .query(
            "SELECT handler_name, sequence FROM hurah.dispatch('order/placed', '{\"order\":2}')",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, &str>(0), "mailer");
    tx.query(
        "SELECT * FROM hurah.dispatch('order/placed', '3', interval '1 hour')",
        &[],
    )
    .unwrap();
    tx.commit().unwrap();
    let mut seen = Vec::new();
    pg_handle_once(
        &mut q,
        &mut Quiet(|t: &Task| {
            seen.push((t.payload().clone(), t.event_type()));
            Outcome::Success
        }),
    )
    .unwrap();
    assert_eq!(
        seen,
        [(serde_json::json!({"order": 2}), "order/placed".to_string())]
    );
    assert_eq!(q.delayed().unwrap().len(), 1);
    // Invalid event types are refused by the SQL function too.
    let e = app
        .query("SELECT * FROM hurah.dispatch('a/../b', '1')", &[])
        .unwrap_err();
    let msg = e.as_db_error().unwrap().message().to_string();
    assert!(msg.contains("invalid event type"), "{msg}");
}

#[test]
fn worker_wakes_on_notify_and_on_delayed_due_time_without_polling() {
    let db = TestDb::new();
    let q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let got: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let g = Arc::clone(&got);
    let opts = WorkerOptions {
        rescan_interval: Duration::from_secs(3600), // no safety poll during the test
        ..Default::default()
    };
    let (stop, t) = spawn(
        q,
        move |t: &Task| {
            g.lock()
                .unwrap()
                .push((t.payload().as_u64().unwrap(), Instant::now()));
            Outcome::Success
        },
        32,
        opts,
    );
    std::thread::sleep(Duration::from_millis(300));
    let d = PgDispatcher::new(&db.dsn).unwrap();
    let mut wake = Vec::new();
    for i in 0..20u64 {
        let sent = Instant::now();
        d.dispatch(&et("a"), &i.to_string()).unwrap();
        let deadline = sent + Duration::from_secs(5);
        loop {
            if let Some(&(_, at)) = got.lock().unwrap().iter().find(|(p, _)| *p == i) {
                wake.push(at - sent);
                break;
            }
            assert!(Instant::now() < deadline, "task {i} not handled within 5 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    wake.sort();
    eprintln!("wake latency p50 {:?} max {:?}", wake[10], wake[19]);
    assert!(wake[10] < Duration::from_millis(250), "{wake:?}");
    // A delayed task runs at its due time (timer), not at the next poll.
    let sent = Instant::now();
    d.dispatch_with(
        &et("a"),
        "100",
        DispatchOptions {
            not_before_ms: Some(clock::now_ms() + 600),
        },
    )
    .unwrap();
    let deadline = sent + Duration::from_secs(5);
    let late = loop {
        if let Some(&(_, at)) = got.lock().unwrap().iter().find(|(p, _)| *p == 100) {
            break at - sent;
        }
        assert!(Instant::now() < deadline, "delayed task not handled");
        std::thread::sleep(Duration::from_millis(2));
    };
    eprintln!("delayed 600 ms ran after {late:?}");
    assert!(
        late >= Duration::from_millis(595) && late < Duration::from_millis(1200),
        "{late:?}"
    );
    stop.stop();
    let stats = t.join().unwrap().unwrap();
    assert_eq!(stats.succeeded, 21);
}

#[test]
fn concurrent_workers_never_run_a_task_twice_and_keep_order_per_worker() {
    let db = TestDb::new();
    let n = 600u64;
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let mut threads = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..4 {
        let q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
        let s = Arc::clone(&seen);
        let (stop, t) = spawn(
            q,
            move |t: &Task| {
                s.lock().unwrap().push(t.payload().as_u64().unwrap());
                Outcome::Success
            },
            8,
            WorkerOptions::default(),
        );
        stops.push(stop);
        threads.push(t);
    }
    let d = PgDispatcher::new(&db.dsn).unwrap();
    let batch: Vec<(EventType, String)> = (0..n).map(|i| (et("a"), i.to_string())).collect();
    for chunk in batch.chunks(100) {
        d.dispatch_many(chunk).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (seen.lock().unwrap().len() as u64) < n {
        assert!(
            Instant::now() < deadline,
            "only {} handled",
            seen.lock().unwrap().len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    for s in &stops {
        s.stop();
    }
    let handled: u64 = threads
        .into_iter()
        .map(|t| t.join().unwrap().unwrap().handled)
        .sum();
    let v = seen.lock().unwrap();
    assert_eq!(v.len() as u64, n, "no duplicates");
    assert_eq!(handled, n);
    assert_eq!(v.iter().collect::<HashSet<_>>().len() as u64, n);
}

#[test]
fn worker_survives_its_connections_being_killed() {
    let db = TestDb::new();
    let q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let s = Arc::clone(&seen);
    let (stop, t) = spawn(
        q,
        move |t: &Task| {
            s.lock().unwrap().push(t.payload().as_u64().unwrap());
            Outcome::Success
        },
        32,
        WorkerOptions {
            rescan_interval: Duration::from_secs(1),
            ..Default::default()
        },
    );
    let d = PgDispatcher::new(&db.dsn).unwrap();
    d.dispatch(&et("a"), "1").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // What a server restart looks like from the worker: every other session is terminated.
    let mut admin = db.client();
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .len();
    assert!(killed >= 2, "worker queue + listen connections");
    for i in 2..=5 {
        d.dispatch(&et("a"), &i.to_string()).unwrap(); // the dispatcher reconnects too
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.lock().unwrap().len() < 5 {
        assert!(Instant::now() < deadline, "{:?}", seen.lock().unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.stop();
    t.join().unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), [1, 2, 3, 4, 5]);
}

#[test]
fn stop_when_empty_and_max_jobs() {
    let db = TestDb::new();
    let q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let d = PgDispatcher::new(&db.dsn).unwrap();
    for i in 0..10 {
        d.dispatch(&et("a"), &i.to_string()).unwrap();
    }
    let mut w = PgWorker::new();
    w.add(q, Box::new(Quiet(|_: &Task| Outcome::Success)));
    let s = w
        .run(&WorkerOptions {
            max_jobs: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(s.handled, 3);
    let s = w
        .run(&WorkerOptions {
            stop_when_empty: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        s.handled, 7,
        "unstarted claims of the max_jobs run went back"
    );
}

#[test]
fn connection_failures_are_clear_and_do_not_hang() {
    let started = Instant::now();
    let e = connect_err("postgresql://postgres@127.0.0.1:1/postgres");
    let msg = e.to_string();
    assert!(matches!(e, Error::Database { .. }), "{e:?}");
    assert!(
        msg.contains("127.0.0.1:1") && msg.to_lowercase().contains("refused"),
        "{msg}"
    );
    // Unroutable address: the connect timeout applies.
    let e = connect_err("postgresql://postgres@10.255.255.1:5432/postgres?connect_timeout=1");
    assert!(e.to_string().contains("10.255.255.1:5432"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // Bad credentials / unknown role: the server's reason.
    let dsn = pg_support::with_db(&pg_support::admin_dsn(), "postgres")
        .replacen("postgres@", "no_such_role_hurah@", 1)
        .replacen("root@", "no_such_role_hurah@", 1);
    let e = connect_err(&dsn);
    assert!(e.to_string().contains("no_such_role_hurah"), "{e}");
    // Unknown database.
    let e = connect_err(&pg_support::with_db(
        &pg_support::admin_dsn(),
        "no_such_db_hurah",
    ));
    assert!(e.to_string().contains("no_such_db_hurah"), "{e}");
}

#[test]
fn malformed_dsn_is_invalid_option_and_password_is_redacted() {
    for bad in [
        "postgresql://u:secret@host:notaport/db",
        "postgresql://u@host/db?sslmode=sometimes",
        "postgresql://u@host/db?connect_timeout=x",
    ] {
        let e = connect_err(bad);
        assert!(
            matches!(e, Error::InvalidOption { ref name, .. } if name == "dsn"),
            "{bad}: {e:?}"
        );
        assert!(!e.to_string().contains("secret"), "{e}");
    }
    assert!(pg::is_dsn("postgresql://x") && pg::is_dsn("postgres://x"));
    assert!(!pg::is_dsn("/var/queue"));
}

#[test]
fn tls_follows_sslmode() {
    let db = TestDb::new();
    let mut c = pg::connect(&format!("{}?sslmode=require", db.dsn)).unwrap();
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    let server_ssl: String = c.query_one("SHOW ssl", &[]).unwrap().get(0);
    assert_eq!(
        ssl,
        server_ssl == "on",
        "sslmode=require encrypts when the server offers TLS"
    );
    let mut c = pg::connect(&format!("{}?sslmode=disable", db.dsn)).unwrap();
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!ssl);
}

#[test]
fn status_failed_retry_and_purge() {
    let db = TestDb::new();
    let mut q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    q.set_keep_archive(true);
    let d = PgDispatcher::new(&db.dsn).unwrap();
    for i in 0..3 {
        d.dispatch(&et("a"), &i.to_string()).unwrap();
    }
    pg_handle_once(
        &mut q,
        &mut Quiet(|t: &Task| {
            if t.payload() == 1 {
                Outcome::failure("nope")
            } else {
                Outcome::Success
            }
        }),
    )
    .unwrap();
    let mut c = db.client();
    let st = PgQueue::status(&mut c).unwrap();
    assert_eq!((st[0].archive, st[0].error, st[0].inbox), (2, 1, 0));
    let f = q.failed().unwrap();
    assert_eq!(f[0].1["reason"], "nope");
    q.retry_failed(f[0].0).unwrap();
    assert!(q.retry_failed(f[0].0).is_err(), "no longer failed");
    let s = pg_handle_once(&mut q, &mut Quiet(|_: &Task| Outcome::Success)).unwrap();
    assert_eq!(s.succeeded, 1);
    assert_eq!(PgQueue::purge_archive(&mut c, Duration::ZERO).unwrap(), 3);
    // Archive off: rows are deleted on SUCCESS.
    q.set_keep_archive(false);
    d.dispatch(&et("a"), "9").unwrap();
    pg_handle_once(&mut q, &mut Quiet(|_: &Task| Outcome::Success)).unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM hurah.tasks", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

#[test]
fn group_commit_settles_like_per_task_settles() {
    let db = TestDb::new();
    let q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let d = PgDispatcher::new(&db.dsn).unwrap();
    for code in 0..5 {
        d.dispatch(&et("a"), &code.to_string()).unwrap();
    }
    for i in 10..50 {
        d.dispatch(&et("a"), &i.to_string()).unwrap();
    }
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let s2 = Arc::clone(&seen);
    let mut w = PgWorker::new();
    w.set_batch(7).set_group_commit(true);
    w.add(
        q,
        Box::new(Quiet(move |t: &Task| {
            let v = t.payload().as_u64().unwrap();
            s2.lock().unwrap().push(v);
            if v < 5 {
                Outcome::from_code(v as i64)
            } else {
                Outcome::Success
            }
        })),
    );
    let s = w
        .run(&WorkerOptions {
            stop_when_empty: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((s.handled, s.succeeded, s.failed), (45, 41, 4), "{s:?}");
    let v = seen.lock().unwrap().clone();
    let mut sorted = v.clone();
    sorted.sort();
    assert_eq!(v, sorted, "ascending order across batches");
    let mut q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let reasons: Vec<String> = q
        .failed()
        .unwrap()
        .into_iter()
        .map(|(_, e, _)| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons[0], "Task failed");
    assert_eq!(reasons[1], "Hit retry limit which is set to: 0.");
    assert_eq!(reasons[2], "Task was invalid");
}

#[test]
fn worker_dying_mid_batch_charges_only_the_running_task() {
    dying_mid_batch(false);
}

#[test]
fn worker_dying_mid_batch_charges_only_the_running_task_with_async_commit() {
    // With synchronous_commit = off the start marks take the prepared-statement path.
    dying_mid_batch(true);
}

fn dying_mid_batch(async_commit: bool) {
    let db = TestDb::new();
    if async_commit {
        db.client()
            .batch_execute(&format!(
                "ALTER DATABASE {} SET synchronous_commit = off",
                db.name
            ))
            .unwrap();
    }
    let mut dying = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let d = PgDispatcher::new(&db.dsn).unwrap();
    for i in 1..=3 {
        d.dispatch(&et("a"), &i.to_string()).unwrap();
    }
    let batch = dying.claim(3, &[]).unwrap();
    assert_eq!(batch.len(), 3);
    // Task 1 finished (not settled yet, group commit), task 2 is running, task 3 waits.
    dying
        .mark_started(Some(batch[0].sequence()), batch[1].sequence())
        .unwrap();
    drop(dying);
    std::thread::sleep(Duration::from_millis(200));
    let mut q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let mut runs = Vec::new();
    let s = pg_handle_once(
        &mut q,
        &mut Quiet(|t: &Task| {
            runs.push((t.payload().as_u64().unwrap(), t.attempt()));
            Outcome::Success
        }),
    )
    .unwrap();
    // maxAttempts 0: the running task used its only run; the others run as if new.
    assert_eq!((s.recovered, s.failed), (2, 1), "{s:?}");
    assert_eq!(runs, [(1, 1), (3, 1)]);
    let f = q.failed().unwrap();
    assert_eq!(f[0].0, 2);
    assert_eq!(f[0].1["class"], "WorkerDied");
}

#[test]
fn backend_dispatch_on_a_dsn_validates_like_files_and_batches_in_one_transaction() {
    let db = TestDb::new();
    let mut q = PgQueue::open(&db.dsn, &et("product"), &hn("h")).unwrap();
    // The file backend's Dispatcher refuses a URL (it would create a directory named after it).
    assert!(matches!(
        Dispatcher::new(&db.dsn, FsyncPolicy::Always),
        Err(Error::InvalidOption { ref name, .. }) if name == "root"
    ));
    let d = hurah::backend::open(&db.dsn, FsyncPolicy::Always).unwrap();
    let r = d
        .dispatch(
            &et("product/created"),
            r#"{"product_id":1}"#,
            DispatchOptions::default(),
        )
        .unwrap();
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.deliveries[0].sequence, 1);
    assert_eq!(r.deliveries[0].listener.name().as_str(), "h");
    // The same validation as the file backend: nothing is written for a bad payload, and a
    // batch with one bad payload writes nothing at all.
    for bad in ["{", "1e400"] {
        assert!(matches!(
            d.dispatch(&et("product"), bad, DispatchOptions::default()),
            Err(Error::InvalidPayload { .. })
        ));
        let batch = [
            (et("product"), "2".to_string()),
            (et("product"), bad.to_string()),
        ];
        assert!(matches!(
            d.dispatch_many(&batch, DispatchOptions::default()),
            Err(Error::InvalidPayload { .. })
        ));
    }
    let batch: Vec<(EventType, String)> =
        (2..=4).map(|i| (et("product/x"), i.to_string())).collect();
    let rs = d.dispatch_many(&batch, DispatchOptions::default()).unwrap();
    assert_eq!(
        rs.iter()
            .map(|r| r.deliveries[0].sequence)
            .collect::<Vec<_>>(),
        [2, 3, 4]
    );
    let mut ids = Vec::new();
    pg_handle_once(
        &mut q,
        &mut Quiet(|t: &Task| {
            ids.push(t.id().to_string());
            Outcome::Success
        }),
    )
    .unwrap();
    let mut want = vec![r.id];
    want.extend(rs.into_iter().map(|r| r.id));
    assert_eq!(ids, want);
    // Connection problems surface from backend::open.
    assert!(matches!(
        hurah::backend::open("postgresql://postgres@127.0.0.1:1/x", FsyncPolicy::Never),
        Err(Error::Database { .. })
    ));
}

#[test]
fn a_payload_the_task_reader_refuses_goes_to_error_and_the_rest_runs() {
    let db = TestDb::new();
    let mut q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let mut app = db.client();
    app.batch_execute(
        "SELECT * FROM hurah.dispatch('a', '1'); \
         SELECT * FROM hurah.dispatch('a', '1e400'); \
         SELECT * FROM hurah.dispatch('a', '3');",
    )
    .unwrap();
    let mut seen = Vec::new();
    let s = pg_handle_once(
        &mut q,
        &mut Quiet(|t: &Task| {
            seen.push(t.payload().as_u64().unwrap());
            Outcome::Success
        }),
    )
    .unwrap();
    assert_eq!(seen, [1, 3]);
    assert_eq!(s.succeeded, 2);
    let f = q.failed().unwrap();
    assert_eq!(f[0].0, 2);
    assert_eq!(f[0].1["class"], "CorruptTask");
}

#[test]
fn backend_open_serves_either_root_and_file_queue_refuses_a_dsn() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    for root in [db.dsn.as_str(), dir.path().to_str().unwrap()] {
        let b = hurah::backend::open(root, FsyncPolicy::Never).unwrap();
        let mut q = b.open_listener(&et("a"), &hn("h")).unwrap();
        assert_eq!(
            (q.event_type().to_string(), q.name().to_string()),
            ("a".into(), "h".into())
        );
        b.dispatch(&et("a/b"), "7", DispatchOptions::default())
            .unwrap();
        let s = q
            .handle_once(&mut Quiet(|_: &Task| Outcome::Success))
            .unwrap();
        assert_eq!(s.succeeded, 1, "{root}");
    }
    // A file-backend queue on a URL would create a directory tree named after it: refused.
    let cwd_before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let l = Layout::new(&db.dsn).listener(&et("a"), &hn("h"));
    assert!(matches!(
        Queue::open(l, FsyncPolicy::Never),
        Err(Error::InvalidOption { ref name, .. }) if name == "root"
    ));
    let cwd_after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(cwd_before.len(), cwd_after.len());
}

#[test]
fn delayed_copies_are_cancelled_by_dispatch_id() {
    let db = TestDb::new();
    let mut q1 = PgQueue::open(&db.dsn, &et("a"), &hn("h1")).unwrap();
    let mut q2 = PgQueue::open(&db.dsn, &et(""), &hn("h2")).unwrap();
    // The path the PHP Dispatcher::cancel() and hurah_dispatcher_cancel() take.
    let d = hurah::backend::open(&db.dsn, FsyncPolicy::Never).unwrap();
    let later = DispatchOptions {
        not_before_ms: Some(clock::now_ms() + 60_000),
    };
    let r = d.dispatch(&et("a"), "1", later).unwrap();
    let keep = d.dispatch(&et("a"), "2", later).unwrap();
    let now = d
        .dispatch(&et("a"), "3", DispatchOptions::default())
        .unwrap();
    let c = d.cancel(&r.id).unwrap();
    assert_eq!((c.cancelled, c.too_late), (2, 0), "both listeners' copies");
    assert_eq!(
        d.cancel(&now.id).unwrap().cancelled,
        0,
        "due: not cancelled"
    );
    assert_eq!(q1.delayed().unwrap().len(), 1);
    assert_eq!(q2.delayed().unwrap().len(), 1);
    assert_eq!(d.cancel(&keep.id).unwrap().cancelled, 2);
    let s = pg_handle_once(&mut q1, &mut Quiet(|_: &Task| Outcome::Success)).unwrap();
    assert_eq!(s.succeeded, 1);
}

#[test]
fn worker_reconnects_when_only_its_listen_session_dies() {
    let db = TestDb::new();
    let q = PgQueue::open(&db.dsn, &et("a"), &hn("h")).unwrap();
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let s = Arc::clone(&seen);
    let (stop, t) = spawn(
        q,
        move |t: &Task| {
            s.lock().unwrap().push(t.payload().as_u64().unwrap());
            Outcome::Success
        },
        32,
        WorkerOptions {
            rescan_interval: Duration::from_secs(3600),
            ..Default::default()
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut admin = db.client();
    // Terminate only the session that LISTENs.
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .unwrap()
        .len();
    assert_eq!(killed, 1);
    std::thread::sleep(Duration::from_millis(500));
    // No busy loop meanwhile, and a NOTIFY still wakes it (new LISTEN session).
    let d = PgDispatcher::new(&db.dsn).unwrap();
    let sent = Instant::now();
    d.dispatch(&et("a"), "1").unwrap();
    while seen.lock().unwrap().is_empty() {
        assert!(sent.elapsed() < Duration::from_secs(5), "not woken");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "{:?}",
        sent.elapsed()
    );
    let listening: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(listening, 1);
    stop.stop();
    t.join().unwrap().unwrap();
}

#[test]
fn a_handler_on_a_url_holds_one_connection_and_so_does_a_dispatcher() {
    let db = TestDb::new();
    let mut admin = db.client();
    let mut others = |want: i64| {
        // Connections of other sessions to this database (closing ones may linger a moment).
        let mut n = -1;
        for _ in 0..50 {
            n = admin
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .unwrap()
                .get::<_, i64>(0);
            if n == want {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        n
    };
    let handler_side = hurah::backend::open(&db.dsn, FsyncPolicy::Never).unwrap();
    assert_eq!(others(1), 1, "open connects once");
    let mut q = handler_side.open_listener(&et("a"), &hn("h")).unwrap();
    assert_eq!(others(1), 1, "the listener's queue took that connection");
    let producer = hurah::backend::open(&db.dsn, FsyncPolicy::Never).unwrap();
    producer
        .dispatch(&et("a"), "1", DispatchOptions::default())
        .unwrap();
    assert_eq!(
        others(2),
        2,
        "the dispatch used the producer's one connection"
    );
    let s = q
        .handle_once(&mut Quiet(|_: &Task| Outcome::Success))
        .unwrap();
    assert_eq!(s.succeeded, 1);
    // Listing from the handler side connects again (the queue's connection is the handler's).
    assert!(handler_side
        .tasks(&et("a"), &hn("h"), hurah::backend::TaskState::Inbox)
        .unwrap()
        .is_empty());
    assert_eq!(others(3), 3);
}
