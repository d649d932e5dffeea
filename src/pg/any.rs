//! One entry point for adapters that take "a root" from their users: a directory (file
//! backend) or a `postgresql://` URL (PostgreSQL backend). `AnyQueue::open(root, type, name)`
//! registers the listener on whichever backend the root names; [`handle_once_any`] is the
//! original `handle()` on it.

use super::{pg_handle_once, PgQueue};
use crate::durability::FsyncPolicy;
use crate::error::Result;
use crate::event_type::EventType;
use crate::handler::Handler;
use crate::handler_name::HandlerName;
use crate::layout::Layout;
use crate::queue::Queue;
use crate::worker::{handle_once, RunStats};
use std::path::Path;

/// A listener's queue on the backend its root names.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per handler, never in bulk
pub enum AnyQueue {
    /// A directory root.
    Files(Queue),
    /// A `postgresql://` / `postgres://` root.
    Pg(PgQueue),
}

/// The DSN, if `root` is a PostgreSQL URL.
pub fn dsn_of(root: &Path) -> Option<&str> {
    root.to_str().filter(|s| super::is_dsn(s))
}

impl AnyQueue {
    /// Registers handler `name` on `event_type` under `root` (a directory, created if
    /// missing, or a PostgreSQL URL: schema created or upgraded if needed) and opens its queue.
    /// `fsync` applies to the file backend only.
    pub fn open(
        root: &Path,
        event_type: &EventType,
        name: &HandlerName,
        fsync: FsyncPolicy,
    ) -> Result<AnyQueue> {
        match dsn_of(root) {
            Some(dsn) => PgQueue::open(dsn, event_type, name).map(AnyQueue::Pg),
            None => {
                let layout = Layout::new(root);
                layout.ensure_root()?;
                Queue::open(layout.listener(event_type, name), fsync).map(AnyQueue::Files)
            }
        }
    }

    /// `listener_label`-style text: `<type>:<name>`.
    pub fn label(&self) -> String {
        let (t, n) = match self {
            AnyQueue::Files(q) => (q.listener().event_type(), q.listener().name()),
            AnyQueue::Pg(q) => (q.event_type(), q.name()),
        };
        format!("{t}:{n}")
    }
}

/// Processes everything due once, in order, then returns (the original `handle()`), on
/// either backend.
pub fn handle_once_any(queue: &mut AnyQueue, handler: &mut dyn Handler) -> Result<RunStats> {
    match queue {
        AnyQueue::Files(q) => handle_once(q, handler),
        AnyQueue::Pg(q) => pg_handle_once(q, handler),
    }
}
