//! The both-backends fixture shared by the test suites (core, C ABI, CLI): a queue root that is
//! either a fresh directory or a fresh PostgreSQL database, and `both!`, which runs each named
//! scenario once on each (`file::NAME` and `postgres::NAME`). A scenario is written once
//! against the root string and the backend-neutral observers below; the few observations
//! that differ by backend (what is in the archive, the stored task of a finished run) are
//! answered here, each from its backend's own store.
//!
//! Include it with `#[macro_use] mod support;` (from `cli/tests`, with
//! `#[path = "../../tests/support/mod.rs"]`).
#![allow(dead_code)]

#[path = "../pg_support/mod.rs"]
pub mod pg_support;

use hurah::backend::{self, Backend, ListenerStatus, TaskState};
use hurah::{EventType, FsyncPolicy, HandlerName};
use std::path::{Path, PathBuf};

/// Runs each scenario `fn NAME(&FIXTURE)` (or `&mut FIXTURE`) on both backends: as the tests
/// `file::NAME` and `postgres::NAME`. `FIXTURE` is a type with `files()` and `postgres()`
/// constructors, named as the including file sees it.
#[macro_export]
macro_rules! both {
    ($fixture:ident: $($name:ident),* $(,)?) => {
        mod file {
            $( #[test] fn $name() { super::$name(&mut super::$fixture::files()); } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&mut super::$fixture::postgres()); } )*
        }
    };
}

enum Store {
    Files,
    Postgres(pg_support::TestDb),
}

/// A queue root under test and what keeps it alive: a temporary directory (the root is
/// `<dir>/q`, not created yet, as a user's first run would find it) or a throw-away
/// PostgreSQL database (dropped with the fixture). Either way `scratch()` is a private
/// directory for the scenario's own files.
pub struct TestRoot {
    root: String,
    scratch: tempfile::TempDir,
    store: Store,
}

impl TestRoot {
    /// A root directory that does not exist yet.
    pub fn files() -> Self {
        let scratch = tempfile::tempdir().expect("tempdir");
        let root = scratch
            .path()
            .join("q")
            .to_str()
            .expect("utf-8 temp path")
            .to_string();
        TestRoot {
            root,
            scratch,
            store: Store::Files,
        }
    }

    /// A fresh database on the test server (`HURAH_TEST_PG`).
    pub fn postgres() -> Self {
        let db = pg_support::TestDb::new();
        TestRoot {
            root: db.dsn.clone(),
            scratch: tempfile::tempdir().expect("tempdir"),
            store: Store::Postgres(db),
        }
    }

    /// The root as every adapter takes it: a path or a `postgresql://` URL.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.store, Store::Postgres(_))
    }

    /// The database, on PostgreSQL.
    pub fn db(&self) -> Option<&pg_support::TestDb> {
        match &self.store {
            Store::Postgres(db) => Some(db),
            Store::Files => None,
        }
    }

    /// A directory for the scenario's own files (never the queue).
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// The root opened through the core's one seam, as the adapters open it.
    pub fn backend(&self) -> Box<dyn Backend> {
        backend::open(&self.root, FsyncPolicy::Never).expect("open the root")
    }

    /// The listener directory `<root>/<event type>/<handler>_listener`, on the file backend.
    pub fn listener_dir(&self, listener: &str) -> Option<PathBuf> {
        match self.store {
            Store::Files => {
                let (t, n) = split(listener);
                let mut dir = PathBuf::from(&self.root);
                if !t.is_empty() {
                    dir.push(t);
                }
                Some(dir.join(format!("{n}_listener")))
            }
            Store::Postgres(_) => None,
        }
    }

    /// The status row of `listener` (`EVENT_TYPE:HANDLER`).
    pub fn status(&self, listener: &str) -> ListenerStatus {
        let (t, n) = names(listener);
        self.backend()
            .status()
            .expect("status")
            .into_iter()
            .find(|s| s.event_type == t && s.name == n)
            .unwrap_or_else(|| panic!("no listener {listener}"))
    }

    /// Tasks in `state` (`inbox`, `delayed`, `claimed`, `error`, `archive`) over all listeners.
    pub fn count(&self, state: &str) -> u64 {
        self.backend()
            .status()
            .expect("status")
            .iter()
            .map(|s| state_count(s, state))
            .sum()
    }

    /// The sequences of `listener`'s tasks in `state`, ascending (delayed: in due order).
    pub fn seqs(&self, listener: &str, state: &str) -> Vec<u64> {
        match state {
            "archive" => self.archived(listener),
            _ => self
                .entries(listener, state)
                .into_iter()
                .map(|e| e.sequence)
                .collect(),
        }
    }

    /// `listener`'s task `seq` in `state` (inbox, delayed, error) as its stored JSON.
    pub fn task(&self, listener: &str, state: &str, seq: u64) -> serde_json::Value {
        let e = self
            .entries(listener, state)
            .into_iter()
            .find(|e| e.sequence == seq)
            .unwrap_or_else(|| panic!("no task {listener}#{seq} in {state}"));
        let doc = e.doc.expect("a readable task");
        serde_json::from_str(&doc.to_json()).expect("task JSON")
    }

    /// `listener`'s tasks in `state` (inbox, delayed, error) as the backend lists them.
    pub fn entries(&self, listener: &str, state: &str) -> Vec<backend::TaskEntry> {
        let st = match state {
            "inbox" => TaskState::Inbox,
            "delayed" => TaskState::Delayed,
            "error" => TaskState::Failed,
            other => panic!("no listing of state {other}"),
        };
        let (t, n) = names(listener);
        self.backend().tasks(&t, &n, st).expect("tasks")
    }

    /// Archived sequences: below the seam (the backend does not list them).
    fn archived(&self, listener: &str) -> Vec<u64> {
        match &self.store {
            Store::Files => {
                let dir = self.listener_dir(listener).unwrap().join("archive");
                let mut v: Vec<u64> = std::fs::read_dir(&dir)
                    .map(|rd| {
                        rd.filter_map(|e| {
                            let name = e.ok()?.file_name().into_string().ok()?;
                            name.strip_suffix(".json")?.parse().ok()
                        })
                        .collect()
                    })
                    .unwrap_or_default();
                v.sort_unstable();
                v
            }
            Store::Postgres(db) => {
                let (t, n) = split(listener);
                db.client()
                    .query(
                        "SELECT t.seq FROM hurah.tasks t JOIN hurah.listeners l \
                         ON l.id = t.listener_id \
                         WHERE t.state = 'archive' AND l.event_type = $1 AND l.handler_name = $2 \
                         ORDER BY t.seq",
                        &[&t, &n],
                    )
                    .expect("archived rows")
                    .iter()
                    .map(|r| r.get::<_, i64>(0) as u64)
                    .collect()
            }
        }
    }
}

fn state_count(s: &ListenerStatus, state: &str) -> u64 {
    match state {
        "inbox" => s.inbox,
        "delayed" => s.delayed,
        "claimed" => s.claimed,
        "error" => s.error,
        "archive" => s.archive,
        other => panic!("no state {other}"),
    }
}

fn split(listener: &str) -> (&str, &str) {
    listener
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{listener} is not EVENT_TYPE:HANDLER"))
}

fn names(listener: &str) -> (EventType, HandlerName) {
    let (t, n) = split(listener);
    (
        EventType::parse(t).expect("event type"),
        HandlerName::new(n).expect("handler name"),
    )
}
