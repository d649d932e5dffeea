//! Dispatch: deliver one event to every listener at its level, its ancestors and the root.

use crate::backend::{Delivery, DispatchOptions, Receipt};
use crate::clock;
use crate::error::{Error, Result};
use crate::event_type::EventType;
use crate::file::durability::{
    rename_noreplace, unique_tmp_path, write_exclusive, FsyncPolicy, Renamed,
};
use crate::file::layout::{Layout, Listener};
use crate::file::tracking::TrackingLock;
use crate::task::NewTask;
use serde_json::value::RawValue;
use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The listener listings of every level an event type reaches, as last seen.
#[derive(Debug)]
struct Levels {
    root: PathBuf,
    event_type: EventType,
    /// Most specific level first, the root last (as [`EventType::delivery_levels`]).
    levels: Vec<Level>,
}

/// One level directory's listing and the mtime it was taken under.
#[derive(Debug)]
struct Level {
    dir: PathBuf,
    /// `(mtime, mtime_nsec)` of the directory when listed; `None` when it did not exist.
    mtime: Option<(i64, i64)>,
    /// The listing may be reused while the mtime is unchanged (see [`CACHE_SETTLE_NS`]).
    settled: bool,
    listeners: Arc<[Listener]>,
}

/// Process-wide cache of listener listings, per (root, event type): one lookup per dispatch,
/// then one `stat` per level. Keyed by a hash of both; entries with that hash are compared.
type CacheMap = HashMap<u64, Vec<Arc<Levels>>, BuildHasherDefault<KeyHasher>>;
static LISTENER_CACHE: OnceLock<Mutex<CacheMap>> = OnceLock::new();

/// The keys are already hashes.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// FNV-1a of the root and the event type's segments.
fn cache_key(root: &Path, event_type: &EventType) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        h = (h ^ 0xff).wrapping_mul(0x100_0000_01b3);
    };
    eat(root.as_os_str().as_bytes());
    for s in event_type.segments() {
        eat(s.as_bytes());
    }
    h
}

/// Most (root, event type) pairs cached before the cache is emptied.
const CACHE_MAX_ENTRIES: usize = 4096;

/// A listing is cached only if the directory last changed at least this long before it was
/// taken (file time stamps are coarse: a change in the same tick would not move the mtime).
const CACHE_SETTLE_NS: i128 = 100_000_000;

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
}

/// One listener's part of a dispatch: its lock, then its staged copy.
struct Slot<'a> {
    listener: &'a Listener,
    lock: TrackingLock<'a>,
    tmp: PathBuf,
    seq: u64,
}

impl Dispatcher {
    /// The file backend's dispatcher on directory `root`, creating it if missing. Fails if the
    /// root cannot be created or is not writable. A `postgresql://` URL is refused
    /// ([`Error::InvalidOption`], nothing created): open it with [`crate::backend::open`],
    /// which serves both kinds of root.
    pub fn new(root: impl Into<PathBuf>, fsync: FsyncPolicy) -> Result<Self> {
        let root = root.into();
        if root.to_str().is_some_and(crate::url::is_dsn) {
            return Err(Error::InvalidOption {
                name: "root".into(),
                reason: format!(
                    "{} is a PostgreSQL URL: open it with hurah::backend::open (Dispatcher \
                     writes to a directory)",
                    crate::url::redact(&root.to_string_lossy())
                ),
            });
        }
        let layout = Layout::new(root);
        layout.ensure_root()?;
        check_writable(layout.root())?;
        Ok(Dispatcher { layout, fsync })
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
        let levels = self.listeners_at_cached(event_type)?;
        Ok(levels
            .levels
            .iter()
            .flat_map(|l| l.listeners.iter().cloned())
            .collect())
    }

    /// The listings of every level `event_type` reaches, each revalidated by one `stat` of its
    /// directory and listed again when it changed (or had not settled yet). (tests/c/
    /// valgrind.supp names this function: the cache it fills lives until exit by design.)
    /// Kept in one piece (~90 lines): the revalidation and the relisting share the per-level
    /// `stat` results and the cache lock.
    fn listeners_at_cached(&self, event_type: &EventType) -> Result<Arc<Levels>> {
        let root = self.layout.root();
        let key = cache_key(root, event_type);
        let cache = LISTENER_CACHE.get_or_init(Default::default);
        let cached = cache.lock().ok().and_then(|c| {
            c.get(&key)?
                .iter()
                .find(|e| e.root.as_os_str() == root.as_os_str() && e.event_type == *event_type)
                .cloned()
        });
        // Stat every level; reuse the cached entry when each one is settled and unchanged. The
        // first level that is not is listed again, with the levels after it.
        let mut stale: Option<(usize, Option<(i64, i64)>)> = None;
        if let Some(entry) = &cached {
            for (i, level) in entry.levels.iter().enumerate() {
                let m = stat_mtime(&level.dir)?;
                if !(level.settled && m == level.mtime) {
                    stale = Some((i, m));
                    break;
                }
            }
            if stale.is_none() {
                return Ok(entry.clone());
            }
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i128;
        let mut levels = Vec::with_capacity(event_type.segments().len() + 1);
        for (i, segments) in event_type.delivery_levels().enumerate() {
            let old = cached.as_ref().map(|e| &e.levels[i]);
            let (dir, mtime) = match (old, stale) {
                // Checked above: settled and unchanged.
                (Some(old), Some((s, _))) if i < s => {
                    levels.push(Level {
                        dir: old.dir.clone(),
                        mtime: old.mtime,
                        settled: true,
                        listeners: old.listeners.clone(),
                    });
                    continue;
                }
                (Some(old), Some((s, m))) if i == s => (old.dir.clone(), m),
                _ => {
                    let dir = self.layout.level_dir(segments);
                    let m = stat_mtime(&dir)?;
                    (dir, m)
                }
            };
            if let Some(old) = old.filter(|o| o.settled && o.mtime == mtime) {
                levels.push(Level {
                    dir,
                    mtime,
                    settled: true,
                    listeners: old.listeners.clone(),
                });
                continue;
            }
            let (listeners, settled) = match mtime {
                None => (Vec::new(), true),
                Some((s, ns)) => {
                    let listeners = self.layout.listeners_at(segments)?;
                    let changed_ns = s as i128 * 1_000_000_000 + ns as i128;
                    (listeners, now - changed_ns > CACHE_SETTLE_NS)
                }
            };
            levels.push(Level {
                dir,
                mtime,
                settled,
                listeners: listeners.into(),
            });
        }
        let entry = Arc::new(Levels {
            root: root.to_path_buf(),
            event_type: event_type.clone(),
            levels,
        });
        if let Ok(mut c) = cache.lock() {
            if c.len() > CACHE_MAX_ENTRIES {
                c.clear();
            }
            let same = c.entry(key).or_default();
            same.retain(|e| {
                !(e.root.as_os_str() == root.as_os_str() && e.event_type == *event_type)
            });
            same.push(entry.clone());
        }
        Ok(entry)
    }

    /// Dispatches `payload` (JSON text) now. See [`Dispatcher::dispatch_with`].
    pub fn dispatch(&self, event_type: &EventType, payload: &str) -> Result<Receipt> {
        self.dispatch_with(event_type, payload, DispatchOptions::default())
    }

    /// Dispatches `payload` (JSON text) to every listener of `event_type`.
    ///
    /// All copies are staged in each listener's `tmp/` first (sequences allocated under the
    /// listeners' `tracking.json` locks, taken in path order); if staging any copy fails
    /// (ENOSPC, read-only, ...) nothing is published. The counters are then written back, and
    /// only then is each copy renamed into `inbox/` (or `delayed/`), never replacing an
    /// existing file: a crash between the two steps skips numbers, it never reuses one. With
    /// fsync policy `always` the files and directories are synced before this returns.
    pub fn dispatch_with(
        &self,
        event_type: &EventType,
        payload: &str,
        options: DispatchOptions,
    ) -> Result<Receipt> {
        let payload = crate::json::validate_payload(payload)?;
        self.dispatch_valid(event_type, payload, options)
    }

    /// [`Dispatcher::dispatch_with`] for a payload already validated (by
    /// [`crate::json::validate_payload`]): a batch validates all its payloads once, first.
    ///
    /// Three phases, in their crash-safe order: stage every copy in `tmp/` with a freshly
    /// allocated number, write every counter back to tracking.json, then publish (a crash in
    /// between skips numbers, it never hands one out twice).
    pub(crate) fn dispatch_valid(
        &self,
        event_type: &EventType,
        payload: &RawValue,
        options: DispatchOptions,
    ) -> Result<Receipt> {
        let id = crate::id::new_task_id();
        let levels = self.listeners_at_cached(event_type)?;
        let mut listeners: Vec<&Listener> = levels
            .levels
            .iter()
            .flat_map(|l| l.listeners.iter())
            .collect();
        if listeners.is_empty() {
            return Ok(Receipt {
                id,
                deliveries: Vec::new(),
            });
        }
        if listeners.len() > 1 {
            listeners.sort_by(|a, b| a.dir().cmp(b.dir()));
        }
        let now = clock::now_ms();
        let delivery = delivery_time(now);
        let mut stager = Stager {
            content: String::new(),
            payload,
            delivery: delivery.as_str(),
            event_type,
            id: &id,
            not_before: options.not_before_ms.filter(|&t| t > now),
            now,
            fsync: self.fsync,
        };
        let mut slots: Vec<Slot<'_>> = Vec::with_capacity(listeners.len());
        for l in &listeners {
            slots.push(Slot {
                listener: l,
                lock: TrackingLock::acquire(l)?,
                tmp: PathBuf::new(),
                seq: 0,
            });
        }
        stage_all(&mut slots, &mut stager)?;
        crate::fault::point("dispatch-between-sequence-and-publish");

        let mut deliveries = Vec::with_capacity(slots.len());
        let mut published: Vec<PathBuf> = Vec::with_capacity(slots.len());
        let mut first_error = None;
        for slot in slots.iter_mut() {
            if first_error.is_some() {
                let _ = std::fs::remove_file(&slot.tmp);
                continue;
            }
            match publish(slot, &mut stager) {
                Ok((seq, dest)) => {
                    deliveries.push(Delivery {
                        listener: slot.listener.id(),
                        sequence: seq,
                        location: dest.to_string_lossy().into_owned(),
                    });
                    published.push(dest);
                }
                Err(e) => first_error = Some(e),
            }
        }
        for dest in &published {
            if let Some(parent) = dest.parent() {
                self.fsync.sync_dir(parent)?;
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(Receipt { id, deliveries }),
        }
    }
}

/// What every copy of one dispatch shares: it writes a listener's copy into its `tmp/`.
struct Stager<'a> {
    /// Reused for every copy (one allocation per dispatch).
    content: String,
    payload: &'a RawValue,
    delivery: &'a str,
    event_type: &'a EventType,
    id: &'a str,
    not_before: Option<u64>,
    now: u64,
    fsync: FsyncPolicy,
}

impl Stager<'_> {
    /// Writes the copy numbered `seq` for `l` into its `tmp/`; returns the staged file.
    fn stage(&mut self, l: &Listener, seq: u64) -> Result<PathBuf> {
        self.content.clear();
        NewTask {
            payload: self.payload,
            sequence: seq,
            delivery: self.delivery,
            event: self.event_type,
            id: self.id,
            not_before: self.not_before,
        }
        .write_json(&mut self.content);
        let tmp = unique_tmp_path(l.dir(), "d", self.now);
        match write_exclusive(&tmp, self.content.as_bytes(), self.fsync) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                // A listener made by hand or by the original library: no tmp/ yet.
                l.ensure()?;
                write_exclusive(&tmp, self.content.as_bytes(), self.fsync)?;
            }
            other => other?,
        }
        Ok(tmp)
    }

    /// Where the copy numbered `seq` of `l` is published.
    fn destination(&self, l: &Listener, seq: u64) -> PathBuf {
        match self.not_before {
            Some(due) => l.delayed_file(due, seq),
            None => l.inbox_file(seq),
        }
    }
}

/// Phases 1 and 2: allocates a number and stages a copy for every listener, then writes every
/// counter back. On an error nothing is published and every staged file is removed.
fn stage_all(slots: &mut [Slot<'_>], stager: &mut Stager<'_>) -> Result<()> {
    let delayed = stager.not_before.is_some();
    for i in 0..slots.len() {
        let staged = slots[i]
            .lock
            .allocate(delayed)
            .and_then(|seq| Ok((seq, stager.stage(slots[i].listener, seq)?)));
        match staged {
            Ok((seq, tmp)) => {
                slots[i].tmp = tmp;
                slots[i].seq = seq;
            }
            Err(e) => {
                for s in &slots[..i] {
                    let _ = std::fs::remove_file(&s.tmp);
                }
                return Err(e);
            }
        }
    }
    for i in 0..slots.len() {
        if let Err(e) = slots[i].lock.commit(stager.delivery) {
            for s in slots.iter() {
                let _ = std::fs::remove_file(&s.tmp);
            }
            return Err(e);
        }
    }
    Ok(())
}

/// Phase 3 for one listener: renames its staged copy into `inbox/` (or `delayed/`) without
/// ever replacing a file; returns the number and path it was published under. A taken number
/// (a legacy writer used it, or the counter is behind the files) moves the counter past every
/// number on disk and publishes under a new one; a listener made by hand gets its directories.
fn publish(slot: &mut Slot<'_>, stager: &mut Stager<'_>) -> Result<(u64, PathBuf)> {
    let l = slot.listener;
    let mut tmp = std::mem::take(&mut slot.tmp);
    let mut seq = slot.seq;
    let mut ensured = false;
    loop {
        let dest = stager.destination(l, seq);
        match rename_noreplace(&tmp, &dest) {
            Ok(Renamed::Done) => return Ok((seq, dest)),
            Ok(Renamed::Exists) => {
                let _ = std::fs::remove_file(&tmp);
                slot.lock.catch_up()?;
                seq = slot.lock.allocate(stager.not_before.is_some())?;
                slot.lock.commit(stager.delivery)?;
                tmp = stager.stage(l, seq)?;
            }
            Ok(Renamed::SourceGone) => {
                return Err(Error::io(
                    "publish",
                    &tmp,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "staged task file vanished"),
                ));
            }
            Err(Error::Io { ref source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && !ensured =>
            {
                // tmp/ made by tracking.json's creation, no inbox/ or delayed/ yet: make the
                // listener's directories, then publish again.
                ensured = true;
                if let Err(e) = l.ensure() {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
}

/// The mtime of a level directory, `None` if it does not exist.
fn stat_mtime(dir: &Path) -> Result<Option<(i64, i64)>> {
    match fs::metadata(dir) {
        Ok(m) => Ok(Some((m.mtime(), m.mtime_nsec()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("stat", dir, e)),
    }
}

/// `clock::iso8601(ms)`, formatted once per second (and UTC offset) per thread.
fn delivery_time(ms: u64) -> TimeText {
    thread_local! {
        static LAST: Cell<(u64, i32, [u8; 40], u8)> = const { Cell::new((u64::MAX, 0, [0; 40], 0)) };
    }
    let secs = ms / 1000;
    let offset = clock::local_offset();
    LAST.with(|last| {
        let (s, o, buf, len) = last.get();
        if s == secs && o == offset && len > 0 {
            return TimeText::Inline(buf, len);
        }
        let text = clock::iso8601(ms);
        if text.len() > 40 {
            return TimeText::Heap(text);
        }
        let mut buf = [0u8; 40];
        buf[..text.len()].copy_from_slice(text.as_bytes());
        last.set((secs, offset, buf, text.len() as u8));
        TimeText::Inline(buf, text.len() as u8)
    })
}

enum TimeText {
    Inline([u8; 40], u8),
    Heap(String),
}

impl TimeText {
    fn as_str(&self) -> &str {
        match self {
            // Copied from a String.
            TimeText::Inline(buf, len) => std::str::from_utf8(&buf[..*len as usize]).unwrap_or(""),
            TimeText::Heap(s) => s,
        }
    }
}

#[cfg(test)]
fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
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
mod tests;
