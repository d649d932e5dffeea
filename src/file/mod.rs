//! The file backend (docs/ARCHITECTURE.md, "The on-disk protocol"): a directory tree, one
//! directory per task state, atomic renames and `flock`. It implements the seam
//! ([`crate::backend`]) and knows nothing of the other backend.

mod backend;
pub mod delayed;
mod dispatcher;
pub(crate) mod durability;
pub mod failed;
mod inotify_wake;
pub(crate) mod layout;
pub(crate) mod queue;
mod tracking;
mod watch;
mod worker;

pub use backend::{FileBackend, FileListenerQueue};
pub use dispatcher::Dispatcher;
pub use inotify_wake::InotifyWake;
pub use layout::{
    delayed_file_name, parse_claimed_file_name, parse_delayed_file_name, parse_final_file_name,
    parse_task_file_name, running_file_name, task_file_name, Layout, Listener, State,
};
pub use queue::{Claim, Queue, Settled};
pub use tracking::MAX_SEQUENCE;
pub use watch::{NotifyWake, NullWake, Wake, WakeSource, Waker};
pub use worker::{handle_once, Worker};
