//! # hurah — a crash-safe, file-based task queue
//!
//! The Rust core of hurah: the event-type tree, the on-disk queue (one directory per task
//! state, atomic renames, `flock`), dispatch, claims, outcomes, retries, delays and the worker
//! loop. The PHP extension (`php/`), the C ABI ([`capi`], feature `capi`) and the `hurah` CLI
//! are thin adapters over this crate: they open the root a user gives them with
//! [`backend::open`] and talk only to the [`backend::Backend`] trait, which the file backend
//! ([`file::FileBackend`], `src/file/`) and PostgreSQL (`pg::PgBackend`, `src/pg/`) implement.
//! The parts, the seam, the on-disk protocol and the schema: docs/ARCHITECTURE.md. This file
//! mostly re-exports: the file backend's types keep their short names (`hurah::Queue`, ...).
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
mod error;
mod event_type;
mod fault;
pub mod file;
mod handler;
mod handler_name;
mod id;
pub mod json;
pub mod open;
mod outcome;
#[cfg(feature = "pg")]
pub mod pg;
mod run;
mod signals;
mod stop;
mod task;
mod url;

#[cfg(feature = "capi")]
pub mod capi;

pub use backend::{
    Cancelled, Delivery, DispatchOptions, FsyncPolicy, ListenerId, Receipt, Recovery,
};
pub use backoff::Backoff;
pub use error::{Error, ErrorKind, Result};
pub use event_type::EventType;
pub use file::{delayed, failed};
pub use file::{
    delayed_file_name, handle_once, parse_claimed_file_name, parse_delayed_file_name,
    parse_final_file_name, parse_task_file_name, running_file_name, task_file_name, Claim,
    Dispatcher, InotifyWake, Layout, Listener, NotifyWake, NullWake, Queue, Settled, State, Wake,
    WakeSource, Waker, Worker, MAX_SEQUENCE,
};
pub use handler::{Handler, Level};
pub use handler_name::HandlerName;
pub use id::{new_task_id, new_worker_id};
pub use outcome::{code, Outcome};
pub use run::{resident_memory, RunStats, WorkerOptions};
pub use signals::{install_signal_handlers, signal_name, SignalGuard, HANDLED_SIGNALS};
pub use stop::{Notice, Notifier, StopHandle};
pub use task::{keys, php_json, Task, TaskDoc};

/// The crate version, as reported by `phpversion("hurah")`, `hurah --version` and `hurah_version()`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
