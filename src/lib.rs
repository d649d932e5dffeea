//! # hurah — a crash-safe, file-based task queue
//!
//! The Rust core of hurah: the event-type tree, the on-disk queue (one directory per task
//! state, atomic renames, `flock`), dispatch, claims, outcomes, retries, delays and the worker
//! loop. The PHP extension (`php/`), the C ABI ([`capi`], feature `capi`) and the `hurah` CLI
//! are thin adapters over this crate: they open the root a user gives them with
//! [`backend::open`] and talk only to the [`backend::Backend`] trait, which the file backend
//! ([`backend::FileBackend`]) and PostgreSQL ([`pg::PgBackend`]) implement.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use hurah::*;
//! let root = dir.path();
//! // A handler registers its listener by opening its queue.
//! let listener = Layout::new(root).listener(&EventType::parse("product").unwrap(),
//!                                           &HandlerName::new("mailer").unwrap());
//! let mut queue = Queue::open(listener, FsyncPolicy::Never).unwrap();
//! // Dispatching product/created reaches listeners of product/created, product and the root.
//! let d = Dispatcher::new(root, FsyncPolicy::Never).unwrap();
//! d.dispatch(&EventType::parse("product/created").unwrap(), r#"{"product_id":1}"#).unwrap();
//! let stats = handle_once(&mut queue, &mut |t: &Task| {
//!     assert_eq!(t.payload()["product_id"], 1);
//!     Outcome::Success
//! }).unwrap();
//! assert_eq!(stats.succeeded, 1);
//! ```
#![deny(missing_docs)]

pub mod backend;
mod backoff;
pub mod clock;
pub mod delayed;
mod dispatcher;
mod durability;
mod error;
mod event_type;
pub mod failed;
mod fault;
mod handler;
mod handler_name;
mod id;
mod inotify_wake;
pub mod json;
mod layout;
mod outcome;
#[cfg(feature = "pg")]
pub mod pg;
// Without the PostgreSQL backend the core still knows its URLs, to refuse them clearly.
#[cfg(not(feature = "pg"))]
#[path = "pg/url.rs"]
mod pg;
mod queue;
mod signals;
mod task;
mod tracking;
mod watch;
mod worker;

#[cfg(feature = "capi")]
pub mod capi;

pub use backoff::Backoff;
pub use dispatcher::{Delivery, DispatchOptions, Dispatcher, Receipt};
pub use durability::FsyncPolicy;
pub use error::{Error, ErrorKind, Result};
pub use event_type::EventType;
pub use handler::{Handler, Level};
pub use handler_name::HandlerName;
pub use id::{new_task_id, new_worker_id};
pub use inotify_wake::InotifyWake;
pub use layout::{
    delayed_file_name, parse_claimed_file_name, parse_delayed_file_name, parse_final_file_name,
    parse_task_file_name, running_file_name, task_file_name, Layout, Listener, State,
};
pub use outcome::{code, Outcome};
pub use queue::{Claim, Queue, Recovery, Settled};
pub use signals::{install_signal_handlers, signal_name, SignalGuard, HANDLED_SIGNALS};
pub use task::{keys, php_json, Task, TaskDoc};
pub use tracking::MAX_SEQUENCE;
pub use watch::{NotifyWake, NullWake, Wake, WakeSource, Waker};
pub use worker::{handle_once, resident_memory, RunStats, StopHandle, Worker, WorkerOptions};

/// The crate version, as reported by `phpversion("hurah")`, `hurah --version` and `hurah_version()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
