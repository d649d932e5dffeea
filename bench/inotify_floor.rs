//! The inotify floor for the wake-latency benchmark: how long after `rename()` returns in one
//! thread another thread learns about it, with nothing else in between. Two paths:
//!
//! - `raw`: a thread blocked in `read()` on an inotify fd (IN_MOVED_TO), the least possible;
//! - `notify`: the `notify` crate's watcher thread forwarding to an mpsc channel and a consumer
//!   thread in `recv()`, which is the path the hurah worker uses (NotifyWake → Waker channel).
//!
//! Each event is timed from right after `rename()` returns to right after the waiting thread
//! wakes (CLOCK_MONOTONIC), one event at a time with a gap so the waiter is asleep each time —
//! the same shape as bench/php_wake.php.
//!
//! Usage: inotify_floor <dir> [n] [gap_us]
//! Prints `key value` lines (µs): floor_raw_p50/p99/max, floor_notify_p50/p99/max.
//!
//! `inotify_floor timer [n] [gap_us]` measures the timer floor for the delayed-task lateness
//! benchmark instead: a thread sleeping in `mpsc::Receiver::recv_timeout()` until a deadline
//! (as the worker waits for the next due time), `n` times `gap` apart; prints how late it
//! wakes (floor_timer_p50/p99/max, µs).

use notify::{RecursiveMode, Watcher};
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn percentiles(name: &str, mut v: Vec<f64>) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    println!("{name}_p50 {:.1}", p(0.5));
    println!("{name}_p99 {:.1}", p(0.99));
    println!("{name}_max {:.1}", v[v.len() - 1]);
}

/// Renames `n` files into `watched`, one every `gap`; `wait` blocks until the waiter saw event
/// `i` and returns the instant it woke.
fn run(
    tmp: &Path,
    watched: &Path,
    n: usize,
    gap: Duration,
    mut wait: impl FnMut() -> Instant,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let from = tmp.join(format!("{i}.tmp"));
        fs::write(&from, b"{}").unwrap();
        std::thread::sleep(gap);
        let to = watched.join(format!("{i}.json"));
        fs::rename(&from, &to).unwrap();
        let sent = Instant::now();
        let woke = wait();
        // Signed: the waiter may wake before rename() has returned to the renaming thread.
        let us = if woke >= sent {
            (woke - sent).as_secs_f64() * 1e6
        } else {
            -((sent - woke).as_secs_f64() * 1e6)
        };
        out.push(us);
        fs::remove_file(&to).unwrap();
    }
    out
}

fn raw(tmp: &Path, watched: &Path, n: usize, gap: Duration) -> Vec<f64> {
    // SAFETY: plain syscalls on an fd this function owns.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    assert!(fd >= 0, "inotify_init1");
    let c = CString::new(watched.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid path.
    let wd = unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_MOVED_TO) };
    assert!(wd >= 0, "inotify_add_watch");
    let (tx, rx) = mpsc::channel::<Instant>();
    // Reads exactly the n events (a thread blocked in read() is not woken by close()).
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        for _ in 0..n {
            // SAFETY: buf is valid for its length.
            let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            let now = Instant::now();
            if r <= 0 || tx.send(now).is_err() {
                break;
            }
        }
    });
    let v = run(tmp, watched, n, gap, || rx.recv().unwrap());
    let _ = reader.join();
    // SAFETY: fd is ours and no longer read.
    unsafe {
        libc::inotify_rm_watch(fd, wd);
        libc::close(fd);
    }
    v
}

fn via_notify(tmp: &Path, watched: &Path, n: usize, gap: Duration) -> Vec<f64> {
    let (tx, rx) = mpsc::channel::<()>();
    let mut w = notify::recommended_watcher(move |r: notify::Result<notify::Event>| {
        if let Ok(ev) = r {
            if matches!(
                ev.kind,
                notify::EventKind::Modify(notify::event::ModifyKind::Name(
                    notify::event::RenameMode::To
                ))
            ) {
                let _ = tx.send(());
            }
        }
    })
    .unwrap();
    w.watch(watched, RecursiveMode::NonRecursive).unwrap();
    // The consumer is a separate thread, as the worker's loop is for the watcher's thread.
    let (ttx, trx) = mpsc::channel::<Instant>();
    let consumer = std::thread::spawn(move || {
        while rx.recv().is_ok() {
            if ttx.send(Instant::now()).is_err() {
                break;
            }
        }
    });
    let v = run(tmp, watched, n, gap, || trx.recv().unwrap());
    drop(w);
    let _ = consumer.join();
    v
}

fn timer(n: usize, gap: Duration) -> Vec<f64> {
    let (_tx, rx) = mpsc::channel::<()>();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let deadline = Instant::now() + gap;
        let _ = rx.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        out.push(
            Instant::now()
                .saturating_duration_since(deadline)
                .as_secs_f64()
                * 1e6,
        );
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("timer") {
        let n: usize = args.get(2).map_or(5000, |s| s.parse().unwrap());
        let gap = Duration::from_micros(args.get(3).map_or(1000, |s| s.parse().unwrap()));
        percentiles("floor_timer", timer(n, gap));
        return;
    }
    let dir = PathBuf::from(
        args.get(1)
            .expect("usage: inotify_floor <dir> [n] [gap_us]"),
    );
    let n: usize = args.get(2).map_or(5000, |s| s.parse().unwrap());
    let gap = Duration::from_micros(args.get(3).map_or(1000, |s| s.parse().unwrap()));
    let _ = fs::remove_dir_all(&dir);
    let tmp = dir.join("tmp");
    let watched = dir.join("inbox");
    fs::create_dir_all(&tmp).unwrap();
    fs::create_dir_all(&watched).unwrap();
    percentiles("floor_raw", raw(&tmp, &watched, n, gap));
    percentiles("floor_notify", via_notify(&tmp, &watched, n, gap));
    let _ = fs::remove_dir_all(&dir);
}
