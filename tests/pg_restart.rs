//! PostgreSQL restarted mid-run: a private server (initdb in a temporary directory, its own
//! port, run as the `postgres` user) is restarted under a running worker and dispatcher;
//! nothing is lost, the worker reconnects with backoff and runs what was dispatched after the
//! restart. Needs root and Debian's PostgreSQL binaries; prints SKIPPED otherwise.

use hurah::pg::{PgDispatcher, Queue as PgQueue, Worker as PgWorker};
use hurah::{EventType, HandlerName, Level, Outcome, Task, WorkerOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join(tool))
        .args(args)
        .output()
        .unwrap()
}

struct Server {
    bin: PathBuf,
    data: String,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Option<Server> {
        if unsafe { libc::geteuid() } != 0 {
            return None;
        }
        let bin = pg_bin()?;
        let dir = tempfile::Builder::new()
            .prefix("hurah-pg-restart")
            .tempdir()
            .ok()?;
        let data = dir.path().join("data");
        let chown = Command::new("chown")
            .args(["postgres:", dir.path().to_str()?])
            .status()
            .ok()?;
        if !chown.success() {
            return None;
        }
        let data = data.to_str()?.to_string();
        let out = as_postgres(
            &bin,
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        if !out.status.success() {
            eprintln!("initdb: {}", String::from_utf8_lossy(&out.stderr));
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let s = Server {
            bin,
            data,
            port,
            _dir: dir,
        };
        s.ctl("start").then_some(s)
    }

    fn ctl(&self, verb: &str) -> bool {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' -c fsync=off",
            self.port, self.data
        );
        let out = as_postgres(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.data,
                "-o",
                &opts,
                "-w",
                "-m",
                "fast",
                "-l",
                &format!("{}/log", self.data),
                verb,
            ],
        );
        if !out.status.success() {
            eprintln!("pg_ctl {verb}: {}", String::from_utf8_lossy(&out.stderr));
        }
        out.status.success()
    }

    fn dsn(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.ctl("stop");
    }
}

struct Collect(Arc<Mutex<Vec<u64>>>);
impl hurah::Handler for Collect {
    fn handle_task(&mut self, t: &Task) -> Outcome {
        self.0.lock().unwrap().push(t.payload().as_u64().unwrap());
        Outcome::Success
    }
    fn log(&mut self, _: Level, _: &str) {}
}

fn wait_for(seen: &Arc<Mutex<Vec<u64>>>, n: usize, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while seen.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {:?} after {secs} s",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn worker_and_dispatcher_survive_a_server_restart() {
    let Some(server) = Server::start() else {
        eprintln!("SKIPPED: needs root and PostgreSQL binaries to run a private server");
        return;
    };
    let dsn = server.dsn();
    let et = EventType::parse("a").unwrap();
    let q = PgQueue::open(&dsn, &et, &HandlerName::new("h").unwrap()).unwrap();
    let seen: Arc<Mutex<Vec<u64>>> = Arc::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = Arc::clone(&seen);
    let worker = std::thread::spawn(move || {
        let mut w = PgWorker::new();
        w.add(q, Box::new(Collect(s2)));
        tx.send(w.stop_handle()).unwrap();
        w.run(&WorkerOptions {
            rescan_interval: Duration::from_secs(1),
            ..Default::default()
        })
    });
    let stop = rx.recv().unwrap();
    let d = PgDispatcher::new(&dsn).unwrap();
    for i in 1..=5 {
        d.dispatch(&et, &i.to_string()).unwrap();
    }
    wait_for(&seen, 5, 10);
    assert!(server.ctl("restart"), "restart");
    // The dispatcher's connection died with the server: its next dispatch reconnects.
    for i in 6..=10 {
        d.dispatch(&et, &i.to_string()).unwrap();
    }
    wait_for(&seen, 10, 20);
    // Evidence that the worker reconnected: its queue and LISTEN sessions are new ones.
    let mut c = hurah::pg::connect(&dsn).unwrap();
    let sessions: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hurah' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        sessions >= 3,
        "worker queue + listen + dispatcher: {sessions}"
    );
    stop.stop();
    worker.join().unwrap().unwrap();
    let mut v = seen.lock().unwrap().clone();
    v.sort();
    v.dedup();
    assert_eq!(v, (1..=10).collect::<Vec<u64>>());
    let left: i64 = c
        .query_one(
            "SELECT count(*) FROM hurah.tasks WHERE state <> 'archive'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
