//! PostgreSQL backend benchmark: dispatch/s (single and batched), end-to-end tasks/s with 1, 2
//! and 4 worker threads (each worker has its own connections, as a process would), claim
//! latency and wake latency (dispatch → handler on an idle worker), with synchronous_commit
//! on and off. Prints figures; asserts nothing.
//!
//! ```text
//! cargo run --release -p hurah --example pg_bench -- [--dsn URL] [--tasks N]
//! ```
//! The DSN (default `$HURAH_TEST_PG` or `postgresql://postgres@127.0.0.1:5432/postgres`) must
//! allow `CREATE DATABASE`: the benchmark works in its own database and drops it.

use hurah::pg::{self, PgDispatcher, Queue as PgQueue, Worker as PgWorker};
use hurah::{EventType, HandlerName, Level, Outcome, Task, WorkerOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Noop;
impl hurah::Handler for Noop {
    fn handle_task(&mut self, _: &Task) -> Outcome {
        Outcome::Success
    }
    fn log(&mut self, _: Level, _: &str) {}
}

fn with_db(dsn: &str, db: &str) -> String {
    let (base, query) = match dsn.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (dsn, String::new()),
    };
    let s = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[s..].find('/') {
        Some(i) => &base[..s + i],
        None => base,
    };
    format!("{prefix}/{db}{query}")
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut admin = std::env::var("HURAH_TEST_PG")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".into());
    let mut n: usize = 20_000;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dsn" => admin = args.next().expect("--dsn URL"),
            "--tasks" => n = args.next().and_then(|v| v.parse().ok()).expect("--tasks N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let name = format!("hurah_bench_{}", std::process::id());
    let mut a = pg::connect(&admin).expect("connect");
    a.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let dsn = with_db(&admin, &name);
    let et = EventType::parse("bench").unwrap();
    println!("hurah PostgreSQL backend benchmark: {n} tasks per run, 1 listener, no-op handler, archive kept");
    for sync in ["on", "off"] {
        a.batch_execute(&format!(
            "ALTER DATABASE {name} SET synchronous_commit = {sync}"
        ))
        .unwrap();
        println!("\nsynchronous_commit = {sync}");
        let d = PgDispatcher::new(&dsn).unwrap();
        let q = PgQueue::open(&dsn, &et, &HandlerName::new("w0").unwrap()).unwrap();
        // Dispatch, one transaction each.
        let single = n.min(5_000);
        let t = Instant::now();
        for i in 0..single {
            d.dispatch(&et, &format!("{{\"i\":{i}}}")).unwrap();
        }
        let el = t.elapsed();
        println!(
            "  dispatch, one commit each     {:>9.0} /s  ({single} in {el:.2?})",
            single as f64 / el.as_secs_f64()
        );
        // Batched: 100 per transaction.
        let events: Vec<(EventType, String)> = (0..n)
            .map(|i| (et.clone(), format!("{{\"i\":{i}}}")))
            .collect();
        let t = Instant::now();
        for c in events.chunks(100) {
            d.dispatch_many(c).unwrap();
        }
        let el = t.elapsed();
        println!(
            "  dispatch, 100 per commit      {:>9.0} /s  ({n} in {el:.2?})",
            n as f64 / el.as_secs_f64()
        );
        // Drain what is there (single + batched) with one worker to start clean.
        let mut w = PgWorker::new();
        w.add(q, Box::new(Noop));
        let s = w
            .run(&WorkerOptions {
                stop_when_empty: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(s.handled as usize, single + n);
        drop(w);
        for group in [false, true] {
            for workers in [1usize, 2, 4] {
                for c in events.chunks(100) {
                    d.dispatch_many(c).unwrap();
                }
                let t = Instant::now();
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        let dsn = dsn.clone();
                        let et = et.clone();
                        std::thread::spawn(move || {
                            let q =
                                PgQueue::open(&dsn, &et, &HandlerName::new("w0").unwrap()).unwrap();
                            let mut w = PgWorker::new();
                            w.set_group_commit(group);
                            w.add(q, Box::new(Noop));
                            w.run(&WorkerOptions {
                                stop_when_empty: true,
                                ..Default::default()
                            })
                            .unwrap()
                            .handled
                        })
                    })
                    .collect();
                let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
                let el = t.elapsed();
                assert_eq!(total as usize, n);
                println!(
                    "  end-to-end, {workers} worker(s), batch 32, {} {:>7.0} tasks/s  ({n} in {el:.2?})",
                    if group { "group commit " } else { "per-task commit" },
                    n as f64 / el.as_secs_f64()
                );
            }
        }
        // True end-to-end: the workers already watch (LISTEN) while one producer dispatches
        // batches of 100; timed from the first dispatch to the last task handled.
        for workers in [1usize, 2] {
            let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let (ready_tx, ready_rx) = std::sync::mpsc::channel();
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let dsn = dsn.clone();
                    let et = et.clone();
                    let done = Arc::clone(&done);
                    let ready_tx = ready_tx.clone();
                    std::thread::spawn(move || {
                        let q = PgQueue::open(&dsn, &et, &HandlerName::new("w0").unwrap()).unwrap();
                        let mut w = PgWorker::new();
                        w.set_group_commit(true);
                        w.add(
                            q,
                            Box::new(move |_: &Task| {
                                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                Outcome::Success
                            }),
                        );
                        ready_tx.send(w.stop_handle()).unwrap();
                        w.run(&WorkerOptions::default()).unwrap().handled
                    })
                })
                .collect();
            let stops: Vec<_> = (0..workers).map(|_| ready_rx.recv().unwrap()).collect();
            std::thread::sleep(Duration::from_millis(300)); // every worker asleep on LISTEN
            let t = Instant::now();
            for c in events.chunks(100) {
                d.dispatch_many(c).unwrap();
            }
            let produced = t.elapsed();
            while done.load(std::sync::atomic::Ordering::SeqCst) < n as u64 {
                std::thread::sleep(Duration::from_micros(200));
            }
            let el = t.elapsed();
            for s in &stops {
                s.stop();
            }
            let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(total as usize, n);
            println!(
                "  live end-to-end, {workers} watching worker(s), group commit, producer 100 per commit {:>7.0} tasks/s  ({n} in {el:.2?}; producer alone {:.0}/s)",
                n as f64 / el.as_secs_f64(),
                n as f64 / produced.as_secs_f64()
            );
        }
        // Claim latency: one claim statement of 1 and of 32 rows.
        for c in events.chunks(100).take(20) {
            d.dispatch_many(c).unwrap();
        }
        let mut q = PgQueue::open(&dsn, &et, &HandlerName::new("w0").unwrap()).unwrap();
        for k in [1usize, 32] {
            let mut lat = Vec::new();
            for _ in 0..50 {
                let t = Instant::now();
                let b = q.claim(k, &[]).unwrap();
                lat.push(t.elapsed());
                for (i, task) in b.iter().enumerate() {
                    q.settle(
                        task,
                        &Outcome::Success,
                        0,
                        None,
                        b.get(i + 1).map(|t| t.sequence()),
                    )
                    .unwrap();
                }
            }
            println!(
                "  claim latency, batch {k:>2}      p50 {:?}  p99 {:?}",
                pct(&mut lat, 0.5),
                pct(&mut lat, 0.99)
            );
        }
        let mut w = PgWorker::new();
        w.add(q, Box::new(Noop));
        w.run(&WorkerOptions {
            stop_when_empty: true,
            ..Default::default()
        })
        .unwrap();
        drop(w);
        // Wake latency: idle worker, one dispatch at a time.
        let seen: Arc<Mutex<Option<Instant>>> = Arc::default();
        let s2 = Arc::clone(&seen);
        let (tx, rx) = std::sync::mpsc::channel();
        let dsn2 = dsn.clone();
        let et2 = et.clone();
        let worker = std::thread::spawn(move || {
            let q = PgQueue::open(&dsn2, &et2, &HandlerName::new("w0").unwrap()).unwrap();
            let mut w = PgWorker::new();
            w.add(
                q,
                Box::new(move |_: &Task| {
                    *s2.lock().unwrap() = Some(Instant::now());
                    Outcome::Success
                }),
            );
            tx.send(w.stop_handle()).unwrap();
            w.run(&WorkerOptions {
                rescan_interval: Duration::from_secs(3600),
                ..Default::default()
            })
            .unwrap()
        });
        let stop = rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let mut lat = Vec::new();
        for i in 0..200 {
            *seen.lock().unwrap() = None;
            let t = Instant::now();
            d.dispatch(&et, &i.to_string()).unwrap();
            loop {
                if let Some(at) = *seen.lock().unwrap() {
                    lat.push(at - t);
                    break;
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        stop.stop();
        worker.join().unwrap();
        println!(
            "  wake latency (dispatch→handler) p50 {:?}  p99 {:?}",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        );
        // Fresh tasks table for the next setting.
        pg::connect(&dsn)
            .unwrap()
            .batch_execute("TRUNCATE hurah.tasks")
            .unwrap();
    }
    drop(a);
    let mut a = pg::connect(&admin).unwrap();
    a.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
}
