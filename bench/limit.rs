//! The physical limit for the benchmarks: the bare syscalls a dispatch and a handle need, with
//! no queue logic, measured on the same file system in the same run. Also measures the core
//! (Rust) dispatch and handle for comparison.
//!
//! Usage: limit <dir> <n> <listeners> [always|never]
//! Prints `key value` lines (µs per event) for bench/run.sh to combine with the PHP figures.

use hurah::*;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

const PAYLOAD: &str = r#"{"payload":{"product_id":123,"name":"benchmark"},"sequence":1,"count":1,"delivery":"2026-01-01T00:00:00+00:00","event":"product/created","id":"0123456789abcdef0123456789abcd"}"#;

fn us_per(n: usize, t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

/// One task file the bare way: create in tmp/, write, (fdatasync), close, rename into inbox/,
/// (fsync inbox/).
fn publish(d: &Path, i: usize, sync: bool) {
    let tmp = d.join(format!("tmp/{i}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .unwrap();
    f.write_all(PAYLOAD.as_bytes()).unwrap();
    if sync {
        f.sync_data().unwrap();
    }
    drop(f);
    fs::rename(&tmp, d.join(format!("inbox/{i}.json"))).unwrap();
    if sync {
        File::open(d.join("inbox")).unwrap().sync_all().unwrap();
    }
}

/// create in tmp/, write, (fdatasync), close, rename into inbox/ — per listener.
fn bare_dispatch(dirs: &[PathBuf], n: usize, sync: bool) -> f64 {
    let t = Instant::now();
    for i in 0..n {
        for d in dirs {
            publish(d, i, sync);
        }
    }
    us_per(n, t)
}

/// bare_dispatch plus what the protocol needs besides: one stat per event-tree level (listener
/// discovery) and the sequence counter (open, flock, read, pwrite, close tracking.json).
fn protocol_dispatch(dirs: &[PathBuf], n: usize, sync: bool) -> f64 {
    let t = Instant::now();
    let levels: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| d.ancestors().skip(1).take(3).map(Path::to_path_buf))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for i in 0..n {
        for l in &levels {
            fs::metadata(l).unwrap();
        }
        for d in dirs {
            let tr = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(d.join("tracking.json"))
                .unwrap();
            unsafe { libc::flock(tr.as_raw_fd(), libc::LOCK_EX) };
            let mut s = [0u8; 512];
            let _ = (&tr).read(&mut s).unwrap();
            publish(d, i, sync);
            tr.write_all_at(br#"{"sequence":1,"count":1,"first":"2026-01-01T00:00:00+00:00","last":"2026-01-01T00:00:00+00:00"}"#, 0).unwrap();
        }
    }
    us_per(n, t)
}

/// list inbox once, then per task: rename into claimed/, read, rename into archive/.
fn bare_handle(d: &Path, n: usize, sync: bool) -> f64 {
    fs::create_dir_all(d.join("claimed/w")).unwrap();
    fs::create_dir_all(d.join("archive")).unwrap();
    let t = Instant::now();
    let mut names: Vec<u64> = fs::read_dir(d.join("inbox"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
        .collect();
    names.sort_unstable();
    assert_eq!(names.len(), n);
    for i in names {
        let c = d.join(format!("claimed/w/{i}.json"));
        fs::rename(d.join(format!("inbox/{i}.json")), &c).unwrap();
        let mut s = Vec::new();
        File::open(&c).unwrap().read_to_end(&mut s).unwrap();
        fs::rename(&c, d.join(format!("archive/{i}.json"))).unwrap();
        if sync {
            File::open(d.join("archive")).unwrap().sync_all().unwrap();
        }
    }
    us_per(n, t)
}

fn listeners(root: &Path, k: usize) -> Vec<Listener> {
    let names = ["image_scaler", "translation", "price_calculator"];
    let types = ["product/stored", "product/stored", "product"];
    (0..k)
        .map(|i| {
            let l = Layout::new(root).listener(
                &EventType::parse(types[i]).unwrap(),
                &HandlerName::new(names[i]).unwrap(),
            );
            l.ensure().unwrap();
            l
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: limit <dir> <n> <listeners> [always|never]");
        std::process::exit(64);
    }
    let base = PathBuf::from(&args[1]);
    let n: usize = args[2].parse().unwrap();
    let k: usize = args[3].parse().unwrap();
    let policy = FsyncPolicy::parse(args.get(4).map(String::as_str).unwrap_or("never")).unwrap();
    let sync = policy == FsyncPolicy::Always;
    let fresh = |name: &str| {
        let p = base.join(name);
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        p
    };

    let only_core = std::env::var("LIMIT_ONLY_CORE").is_ok();
    if !only_core {
        let root = fresh("bare");
        let dirs: Vec<PathBuf> = listeners(&root, k)
            .iter()
            .map(|l| l.dir().to_path_buf())
            .collect();
        println!("limit_dispatch_bare {:.3}", bare_dispatch(&dirs, n, sync));
        println!("limit_handle_bare {:.3}", bare_handle(&dirs[0], n, sync));
        let root = fresh("proto");
        let dirs: Vec<PathBuf> = listeners(&root, k)
            .iter()
            .map(|l| l.dir().to_path_buf())
            .collect();
        println!(
            "limit_dispatch_protocol {:.3}",
            protocol_dispatch(&dirs, n, sync)
        );
    }

    let root = fresh("core");
    let ls = listeners(&root, k);
    // Let the listener listings settle, as c_bench does: the dispatcher caches a level's listing
    // only once the level directory is 100 ms old (a fresh one is listed again on each dispatch).
    std::thread::sleep(std::time::Duration::from_millis(150));
    let d = Dispatcher::new(&root, policy).unwrap();
    let ty = EventType::parse("product/stored").unwrap();
    let t = Instant::now();
    for i in 0..n {
        d.dispatch(&ty, &format!(r#"{{"product_id":{i},"name":"benchmark"}}"#))
            .unwrap();
    }
    println!("rust_dispatch {:.3}", us_per(n, t));
    let mut q = Queue::open(ls[0].clone(), policy).unwrap();
    let t = Instant::now();
    let s = handle_once(&mut q, &mut |_: &Task| Outcome::Success).unwrap();
    assert_eq!(s.succeeded as usize, n);
    println!("rust_handle {:.3}", us_per(n, t));
    let _ = fs::remove_dir_all(&base);
}
