//! Dispatch: deliver one event to every listener at its level, its ancestors and the root.

use crate::clock;
use crate::durability::{rename_noreplace, unique_tmp_name, write_exclusive, FsyncPolicy, Renamed};
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::layout::{Layout, Listener};
use crate::task::NewTask;
use crate::tracking::TrackingLock;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

type CacheMap = HashMap<PathBuf, ((i64, i64), Vec<Listener>)>;

/// Process-wide cache of listener directories per level, keyed by the level directory.
static LISTENER_CACHE: OnceLock<Mutex<CacheMap>> = OnceLock::new();

/// A listing is cached only if the directory last changed at least this long before it was
/// taken (file time stamps are coarse: a change in the same tick would not move the mtime).
const CACHE_SETTLE_NS: i128 = 100_000_000;

/// When a dispatched task becomes due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchOptions {
    /// Not before this time (ms since the epoch). `None` or a time in the past: due at once.
    pub not_before_ms: Option<u64>,
}

/// Where one dispatch went.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The dispatch id stored in every copy (`"id"`).
    pub id: String,
    /// One entry per listener reached.
    pub deliveries: Vec<Delivery>,
}

/// One listener's copy of a dispatched task.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The listener.
    pub listener: Listener,
    /// Its sequence in that listener.
    pub sequence: u64,
    /// The published file (`inbox/<seq>.json` or `delayed/<due>-<seq>.json`).
    pub path: PathBuf,
}

/// Writes tasks into listeners' queues. Cheap to create; safe to use from many processes at once.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// use hurah::{Dispatcher, EventType, FsyncPolicy};
/// let d = Dispatcher::new(dir.path(), FsyncPolicy::Never).unwrap();
/// let r = d.dispatch(&EventType::parse("product/created").unwrap(), r#"{"product_id":1}"#).unwrap();
/// assert!(r.deliveries.is_empty()); // nobody listens yet
/// ```
#[derive(Clone, Debug)]
pub struct Dispatcher {
    layout: Layout,
    fsync: FsyncPolicy,
    /// Set when the root is a `postgresql://` / `postgres://` URL (PostgreSQL backend).
    pg: Option<crate::pg::PgDispatcher>,
}

impl Dispatcher {
    /// A dispatcher on `root`, creating it if missing. Fails if the root cannot be created or is
    /// not writable.
    ///
    /// A root that is a `postgresql://` or `postgres://` URL selects the PostgreSQL backend
    /// ([`crate::pg`]): it connects (creating or upgrading the schema if needed) and
    /// [`Dispatcher::dispatch_with`] inserts the tasks there; `fsync` does not apply (the
    /// server's `synchronous_commit` does). Connection problems are [`Error::Database`], a
    /// malformed URL [`Error::InvalidOption`].
    pub fn new(root: impl Into<PathBuf>, fsync: FsyncPolicy) -> Result<Self> {
        let root = root.into();
        if let Some(dsn) = root.to_str().filter(|s| crate::pg::is_dsn(s)) {
            let pg = crate::pg::PgDispatcher::new(dsn)?;
            return Ok(Dispatcher {
                layout: Layout::new(root),
                fsync,
                pg: Some(pg),
            });
        }
        let layout = Layout::new(root);
        layout.ensure_root()?;
        check_writable(layout.root())?;
        Ok(Dispatcher {
            layout,
            fsync,
            pg: None,
        })
    }

    /// The PostgreSQL dispatcher, when the root is a database URL.
    pub fn pg(&self) -> Option<&crate::pg::PgDispatcher> {
        self.pg.as_ref()
    }

    /// The layout of the root.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The fsync policy.
    pub fn fsync(&self) -> FsyncPolicy {
        self.fsync
    }

    /// The listeners a dispatch of `event_type` reaches: its own level, each ancestor, the root.
    ///
    /// Each level's directory listing is cached per process and revalidated with one `stat`:
    /// adding or removing a listener directory changes the level directory's mtime. A listing
    /// is only trusted when it was taken well after that mtime, so a change within the file
    /// system's timestamp granularity is never missed.
    pub fn listeners_for(&self, event_type: &EventType) -> Result<Vec<Listener>> {
        let mut out = Vec::new();
        for level in event_type.delivery_levels() {
            out.extend(self.listeners_at_cached(level)?);
        }
        Ok(out)
    }

    fn listeners_at_cached(&self, level: &[String]) -> Result<Vec<Listener>> {
        let dir = self.layout.level_dir(level);
        let mtime = match fs::metadata(&dir) {
            Ok(m) => (m.mtime(), m.mtime_nsec()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("stat", &dir, e)),
        };
        let cache = LISTENER_CACHE.get_or_init(Default::default);
        if let Some((m, listeners)) = cache.lock().ok().and_then(|c| c.get(&dir).cloned()) {
            if m == mtime {
                return Ok(listeners);
            }
        }
        let listeners = self.layout.listeners_at(level)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let changed_ns = mtime.0 as i128 * 1_000_000_000 + mtime.1 as i128;
        if now.as_nanos() as i128 - changed_ns > CACHE_SETTLE_NS {
            if let Ok(mut c) = cache.lock() {
                if c.len() > 4096 {
                    c.clear();
                }
                c.insert(dir, (mtime, listeners.clone()));
            }
        }
        Ok(listeners)
    }

    /// Dispatches `payload` (JSON text) now. See [`Dispatcher::dispatch_with`].
    pub fn dispatch(&self, event_type: &EventType, payload: &str) -> Result<Receipt> {
        self.dispatch_with(event_type, payload, DispatchOptions::default())
    }

    /// Dispatches `payload` (JSON text) to every listener of `event_type`.
    ///
    /// All copies are staged in each listener's `tmp/` first (sequences allocated under the
    /// listeners' `tracking.json` locks, taken in path order); if staging any copy fails
    /// (ENOSPC, read-only, ...) nothing is published. Then each copy is renamed into `inbox/` (or
    /// `delayed/`), never replacing an existing file, and with fsync policy `always` the files
    /// and directories are synced before this returns.
    pub fn dispatch_with(
        &self,
        event_type: &EventType,
        payload: &str,
        options: DispatchOptions,
    ) -> Result<Receipt> {
        // Parse as the worker will (TaskDoc::parse): a RawValue only checks the syntax, so a
        // number out of range (1e400) would be accepted and the task unreadable.
        let invalid = |e: serde_json::Error| Error::InvalidPayload {
            reason: format!("not valid JSON: {e}"),
        };
        let value: serde_json::Value = serde_json::from_str(payload).map_err(invalid)?;
        // The task file nests the payload one level deeper, and the reader allows 127 levels.
        let openers = payload.bytes().filter(|b| *b == b'[' || *b == b'{').count();
        if openers > MAX_PAYLOAD_DEPTH && depth(&value) > MAX_PAYLOAD_DEPTH {
            return Err(Error::InvalidPayload {
                reason: format!(
                    "nested deeper than {MAX_PAYLOAD_DEPTH} arrays/objects (the task file could not be read back)"
                ),
            });
        }
        if let Some(pg) = &self.pg {
            return pg
                .dispatch_with(event_type, payload, options)
                .map(|r| pg_receipt(&self.layout, r));
        }
        let payload: &RawValue = serde_json::from_str(payload).map_err(invalid)?;
        let id = crate::id::new_task_id();
        let mut listeners = self.listeners_for(event_type)?;
        if listeners.is_empty() {
            return Ok(Receipt {
                id,
                deliveries: Vec::new(),
            });
        }
        listeners.sort_by(|a, b| a.dir().cmp(b.dir()));
        let now = clock::now_ms();
        let delivery = clock::iso8601(now);
        let not_before = options.not_before_ms.filter(|&t| t > now);

        let mut locks = Vec::with_capacity(listeners.len());
        for l in &listeners {
            locks.push(TrackingLock::acquire(l)?);
        }
        let mut staged: Vec<(PathBuf, u64)> = Vec::with_capacity(listeners.len());
        let stage = |l: &Listener, seq: u64| -> Result<PathBuf> {
            let content = NewTask {
                payload,
                sequence: seq,
                delivery: &delivery,
                event: event_type,
                id: &id,
                not_before,
            }
            .to_json();
            let tmp = l.tmp_dir().join(unique_tmp_name("d"));
            match write_exclusive(&tmp, content.as_bytes(), self.fsync) {
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    // A listener made by hand or by the original library: no tmp/ yet.
                    l.ensure()?;
                    write_exclusive(&tmp, content.as_bytes(), self.fsync)?;
                }
                other => other?,
            }
            Ok(tmp)
        };
        for (l, lock) in listeners.iter().zip(locks.iter_mut()) {
            let seq = lock.next();
            match stage(l, seq) {
                Ok(tmp) => staged.push((tmp, seq)),
                Err(e) => {
                    for (tmp, _) in &staged {
                        let _ = std::fs::remove_file(tmp);
                    }
                    return Err(e);
                }
            }
        }

        let mut deliveries = Vec::with_capacity(listeners.len());
        let mut first_error = None;
        for ((l, lock), (mut tmp, mut seq)) in listeners.iter().zip(locks.iter_mut()).zip(staged) {
            if first_error.is_some() {
                let _ = std::fs::remove_file(&tmp);
                continue;
            }
            loop {
                let dest = match not_before {
                    Some(due) => l.delayed_file(due, seq),
                    None => l.inbox_file(seq),
                };
                match rename_noreplace(&tmp, &dest) {
                    Ok(Renamed::Done) => {
                        deliveries.push(Delivery {
                            listener: l.clone(),
                            sequence: seq,
                            path: dest,
                        });
                        break;
                    }
                    Ok(Renamed::Exists) => {
                        // A legacy writer used this number without updating tracking.json:
                        // skip it, never overwrite.
                        let _ = std::fs::remove_file(&tmp);
                        seq = lock.next();
                        match stage(l, seq) {
                            Ok(t) => tmp = t,
                            Err(e) => {
                                first_error = Some(e);
                                break;
                            }
                        }
                    }
                    Ok(Renamed::SourceGone) => {
                        first_error = Some(Error::io(
                            "publish",
                            &tmp,
                            std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                "staged task file vanished",
                            ),
                        ));
                        break;
                    }
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        first_error = Some(e);
                        break;
                    }
                }
            }
        }
        for d in &deliveries {
            if let Some(parent) = d.path.parent() {
                self.fsync.sync_dir(parent)?;
            }
        }
        for lock in &mut locks {
            lock.commit(&delivery)?;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(Receipt { id, deliveries }),
        }
    }
}

/// Deepest payload nesting accepted: serde_json reads 127 levels, the task object is one.
const MAX_PAYLOAD_DEPTH: usize = 126;

fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A PostgreSQL receipt in the file backend's shape: the listener as `layout` would name it
/// (under the URL), the path `hurah.tasks/<listener id>/<seq>` (the row, as `Task::path()`).
fn pg_receipt(layout: &Layout, r: crate::pg::PgReceipt) -> Receipt {
    Receipt {
        id: r.id,
        deliveries: r
            .deliveries
            .into_iter()
            .filter_map(|d| {
                let et = EventType::parse(&d.event_type).ok()?;
                let name = crate::handler_name::HandlerName::new(&d.handler_name).ok()?;
                Some(Delivery {
                    listener: layout.listener(&et, &name),
                    sequence: d.sequence,
                    path: PathBuf::from(format!("hurah.tasks/{}/{}", d.listener_id, d.sequence)),
                })
            })
            .collect(),
    }
}

/// Fails with EACCES/EROFS naming the root when it is not writable (checked once, up front).
pub(crate) fn check_writable(root: &std::path::Path) -> Result<()> {
    let c = CString::new(root.as_os_str().as_bytes()).map_err(|_| Error::InvalidOption {
        name: "root".into(),
        reason: format!("{:?} contains a NUL byte", root),
    })?;
    // SAFETY: c is a valid NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0 {
        return Err(Error::io(
            "open for writing",
            root,
            std::io::Error::last_os_error(),
        ));
    }
    if !root.is_dir() {
        return Err(Error::io(
            "open",
            root,
            std::io::Error::other("not a directory"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HandlerName, TaskDoc};

    #[test]
    fn payload_the_worker_could_not_read_is_rejected_at_dispatch() {
        // Regression (found by fuzzing): a RawValue accepts 1e400, but the worker's parser
        // rejects it, so the task ended in error/ as corrupt instead of the dispatch failing.
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path()).listener(
            &EventType::parse("a").unwrap(),
            &HandlerName::new("h").unwrap(),
        );
        l.ensure().unwrap();
        let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
        let ty = EventType::parse("a").unwrap();
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for bad in [
            "1e400".to_string(),
            "[-1e999]".into(),
            "{\"a\":\"\\ud800\"}".into(),
            nested(127),
        ] {
            let bad = bad.as_str();
            match disp.dispatch(&ty, bad) {
                Err(Error::InvalidPayload { reason }) => {
                    assert!(
                        reason.contains("JSON") || reason.contains("nested"),
                        "{reason}"
                    )
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            fs::read_dir(l.state_dir(crate::State::Inbox))
                .unwrap()
                .count(),
            0
        );
        for good in [
            "1e300".to_string(),
            "123456789012345678901234567890".into(),
            "\"\\ud83d\\ude00\"".into(),
            nested(126),
            format!("[{}]", "{}".repeat(200).replace("}{", "},{")),
        ] {
            let good = good.as_str();
            let r = disp.dispatch(&ty, good).unwrap();
            let p = &r.deliveries[0].path;
            TaskDoc::parse(&fs::read(p).unwrap(), p).unwrap();
        }
    }
}
