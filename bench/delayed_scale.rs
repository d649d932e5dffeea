//! Scale of delayed tasks (issue 6): dispatch N delayed tasks to one listener and report the
//! dispatch cost per 10% slice (it must stay flat), then start a worker and report the time from
//! start to the first due task's handler entry, and the worker's RSS.
//!
//! Usage: delayed_scale <dir> [n]   (default n = 1,000,000; fsync never)

use hurah::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).expect("usage: delayed_scale <dir> [n]"));
    let n: u64 = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let _ = std::fs::remove_dir_all(&dir);
    let ty = EventType::parse("job").unwrap();
    let l = Layout::new(&dir).listener(&ty, &HandlerName::new("w").unwrap());
    Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
    let d = Dispatcher::new(&dir, FsyncPolicy::Never).unwrap();
    let far = clock::now_ms() + 3_600_000;
    let slice = (n / 10).max(1);
    let mut t = Instant::now();
    for i in 0..n {
        // Spread over an hour from now + 1 h: none is due during the run.
        d.dispatch_with(
            &ty,
            "0",
            DispatchOptions {
                not_before_ms: Some(far + i % 3_600_000),
            },
        )
        .unwrap();
        if (i + 1) % slice == 0 {
            println!(
                "dispatch_us_slice_{} {:.2}",
                (i + 1) / slice,
                t.elapsed().as_secs_f64() * 1e6 / slice as f64
            );
            t = Instant::now();
        }
    }
    // One task due now: the first thing a starting worker must run.
    let due_now = clock::now_ms();
    d.dispatch_with(
        &ty,
        "1",
        DispatchOptions {
            not_before_ms: Some(due_now + 1),
        },
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let rss_before = resident_memory();
    let started = Instant::now();
    let first = std::rc::Rc::new(std::cell::Cell::new(None));
    let f2 = first.clone();
    let mut w = Worker::new();
    w.add(
        Queue::open(l, FsyncPolicy::Never).unwrap(),
        Box::new(move |_: &Task| {
            f2.set(Some(started.elapsed()));
            Outcome::Success
        }),
    );
    let opts = WorkerOptions {
        max_jobs: Some(1),
        ..Default::default()
    };
    w.run_with(&opts, &mut NullWake).unwrap();
    println!("delayed_tasks {n}");
    println!(
        "startup_to_first_due_ms {:.1}",
        first.get().unwrap().as_secs_f64() * 1e3
    );
    println!("rss_before_mb {:.1}", rss_before as f64 / 1e6);
    println!("rss_worker_mb {:.1}", resident_memory() as f64 / 1e6);
    let _ = std::fs::remove_dir_all(&dir);
}
