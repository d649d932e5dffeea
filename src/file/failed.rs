//! Failed tasks: the files in a listener's `error/`, listed with their stored reason, moved back
//! to `inbox/` for another run, or deleted (PgQ's retry queue, Laravel's `queue:failed`). Used by
//! `hurah failed`; the C ABI and the PHP extension reuse it.
//!
//! A retry never loses or duplicates a task, even if the process dies half-way: the file is
//! first moved (one rename, so two concurrent retries cannot both get it) into a private staging
//! directory `tmp/retry-<id>/` on which the retrying process holds a `flock`, rewritten there
//! (atomically: tmp + rename), then renamed into `inbox/` without ever replacing a file there
//! (a taken name gets a fresh sequence from `tracking.json`). If the process dies meanwhile, the
//! kernel drops its lock and [`recover_interrupted`] (run by every [`retry`]) finishes the job.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! use hurah::*;
//! let l = Layout::new(dir.path()).listener(&EventType::parse("a").unwrap(),
//!                                          &HandlerName::new("h").unwrap());
//! let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
//! Dispatcher::new(dir.path(), FsyncPolicy::Never).unwrap()
//!     .dispatch(&EventType::parse("a").unwrap(), "1").unwrap();
//! handle_once(&mut q, &mut |_: &Task| Outcome::failure("boom")).unwrap();
//! let (seq, path) = failed::entries(&l).unwrap().remove(0);
//! assert_eq!(failed::FailedTask::load(&l, &path).unwrap().reason(), "boom");
//! let back = failed::retry(&l, &path, FsyncPolicy::Never).unwrap();
//! assert_eq!(back, l.inbox_file(seq));
//! ```

use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::file::durability::{
    make_dir, open_regular, read_regular, rename_noreplace, rename_replace, unique_tmp_name,
    write_exclusive, Entry, FsyncPolicy, Read, Renamed,
};
use crate::file::layout::{
    describe_file_type, parse_final_file_name, task_file_name, Listener, State,
};
use crate::file::tracking::{flock, TrackingLock};
use crate::task::{keys, TaskDoc};
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Prefix of the staging directories of retries in progress, in the listener's `tmp/`.
const STAGING_PREFIX: &str = "retry-";

/// Keys a corrupt file is wrapped in (see `TaskDoc::wrap_corrupt`).
/// (`TaskDoc::wrap_rejected` for entries that were not regular files: `rejected_entry`.)
const CORRUPT_KEYS: [&str; 3] = [
    "corrupt_content",
    "corrupt_content_hex",
    keys::REJECTED_ENTRY,
];

/// The files in `error/` as `(seq, path)`, by sequence then name. Names that are not
/// `<seq>.json` or `<seq>.<n>.json` are ignored. Reads names only, so it is cheap for big
/// directories; load each with [`FailedTask::load`].
pub fn entries(listener: &Listener) -> Result<Vec<(u64, PathBuf)>> {
    let dir = listener.state_dir(State::Error);
    let list = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", &dir, e)),
    };
    let mut out = Vec::new();
    for entry in list {
        let entry = entry.ctx("read directory", &dir)?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_final_file_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// One file of `error/`, read.
#[derive(Clone, Debug)]
pub struct FailedTask {
    path: PathBuf,
    seq: u64,
    doc: std::result::Result<TaskDoc, String>,
    changed_ms: u64,
}

impl FailedTask {
    /// Reads `path`, a file of `listener`'s `error/`. [`Error::NotFound`] if it is gone. An
    /// entry that is not a regular file (a symbolic link, a FIFO, ...) is not read: it loads
    /// as unreadable, its reason saying what it is.
    pub fn load(listener: &Listener, path: &Path) -> Result<FailedTask> {
        use std::io::Read as _;
        let seq = check_error_path(listener, path)?;
        let gone = || Error::NotFound {
            what: path.display().to_string(),
        };
        let (doc, meta) = match open_regular(path)? {
            Entry::File(mut f, meta) => {
                let mut bytes = Vec::with_capacity(meta.len() as usize);
                f.read_to_end(&mut bytes).ctx("read", path)?;
                (
                    TaskDoc::parse(&bytes, path).map_err(|e| e.to_string()),
                    meta,
                )
            }
            Entry::NotRegular(t) => {
                let meta =
                    fs::symlink_metadata(path).map_err(|e| not_found_or_io(e, "stat", path))?;
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                let why = format!(
                    "error entry {name} is {}, not a regular file; not read",
                    describe_file_type(t)
                );
                (Err(why), meta)
            }
            Entry::Gone => return Err(gone()),
        };
        let changed_ms = (meta.ctime().max(0) as u64) * 1000 + meta.ctime_nsec() as u64 / 1_000_000;
        Ok(FailedTask {
            path: path.to_path_buf(),
            seq,
            doc,
            changed_ms,
        })
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its sequence (from the file name).
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The parsed file, or `None` if it does not parse.
    pub fn doc(&self) -> Option<&TaskDoc> {
        self.doc.as_ref().ok()
    }

    /// The stored reason; for files without one (written by the original library) a note
    /// saying so; for unreadable files, why.
    pub fn reason(&self) -> String {
        match &self.doc {
            Err(e) => e.clone(),
            Ok(doc) => doc
                .error()
                .and_then(|e| e.get("reason"))
                .and_then(|r| r.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| "(no reason stored)".to_string()),
        }
    }

    /// The stored error class (`WorkerDied`, `CorruptTask`, an exception class), if any.
    pub fn class(&self) -> Option<&str> {
        self.doc()?.error()?.get("class")?.as_str()
    }

    /// When it failed, as stored (`"at"`), if any.
    pub fn failed_at(&self) -> Option<&str> {
        self.doc()?.error()?.get("at")?.as_str()
    }

    /// Runs recorded in the file: the stored error's `attempts` (runs including the one that
    /// failed), else the unsuccessful runs counted before it (files without a stored error).
    pub fn attempts(&self) -> u64 {
        let Some(doc) = self.doc() else { return 0 };
        doc.error()
            .and_then(|e| e.get("attempts"))
            .and_then(|a| a.as_u64())
            .unwrap_or_else(|| doc.attempts())
    }

    /// The dispatch id, if recorded.
    pub fn id(&self) -> Option<&str> {
        self.doc()?.id()
    }

    /// When the file last changed state (its ctime, ms since the epoch): the moment it was
    /// moved into `error/`. Used for `--older-than`.
    pub fn changed_ms(&self) -> u64 {
        self.changed_ms
    }

    /// True if the file is a corrupt task wrapped with its reason (cannot be retried as is).
    pub fn is_corrupt(&self) -> bool {
        match &self.doc {
            Err(_) => true,
            Ok(doc) => CORRUPT_KEYS.iter().any(|k| doc.get(k).is_some()),
        }
    }
}

/// The bytes of a queue entry (e.g. a file of `error/` that does not parse, to show it as it
/// is), or `None` if it is gone or is not a regular file: a symbolic link is never followed,
/// a FIFO never blocks.
pub fn read_raw(path: &Path) -> Option<Vec<u8>> {
    match read_regular(path).ok()? {
        Read::Bytes(b) => Some(b),
        Read::NotRegular(_) | Read::Gone => None,
    }
}

/// Moves a file of `error/` back to `inbox/` for another run, with `retry_count`, `attempts`,
/// `not_before` and `error` removed. Returns the new inbox path (`inbox/<seq>.json`, or a fresh
/// sequence if that name is taken). [`Error::NotFound`] if the file is gone (retried or deleted
/// by someone else); [`Error::CorruptTask`] for a file stored as corrupt.
pub fn retry(listener: &Listener, path: &Path, fsync: FsyncPolicy) -> Result<PathBuf> {
    recover_interrupted(listener, fsync)?;
    let failed = FailedTask::load(listener, path)?;
    if failed.is_corrupt() {
        return Err(Error::CorruptTask {
            path: path.to_path_buf(),
            reason: "stored as corrupt, so it cannot be retried as is (fix it, or delete it)"
                .into(),
        });
    }
    let staging = Staging::create(listener)?;
    let held = staging.dir.join(task_file_name(failed.seq));
    match rename_noreplace(path, &held)? {
        Renamed::Done => {}
        Renamed::SourceGone => {
            return Err(Error::NotFound {
                what: path.display().to_string(),
            })
        }
        Renamed::Exists => unreachable!("a fresh staging directory is empty"),
    }
    publish(listener, &held, failed.seq, fsync)
}

/// Deletes a file of `error/`. [`Error::NotFound`] if it is already gone.
pub fn delete(listener: &Listener, path: &Path) -> Result<()> {
    check_error_path(listener, path)?;
    fs::remove_file(path).map_err(|e| not_found_or_io(e, "remove", path))
}

/// Finishes retries whose process died half-way (their staging directory's lock is free):
/// their tasks go to `inbox/`. Returns how many. Safe to run from many processes at once.
pub fn recover_interrupted(listener: &Listener, fsync: FsyncPolicy) -> Result<usize> {
    let tmp = listener.tmp_dir();
    let list = match fs::read_dir(&tmp) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io("read directory", &tmp, e)),
    };
    let mut done = 0;
    for entry in list.flatten() {
        let is_staging = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX));
        if !is_staging || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = crate::file::queue::open_dir_nofollow(&dir) else {
            continue;
        };
        if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            continue; // a retry in progress
        }
        let Ok(files) = fs::read_dir(&dir) else {
            continue;
        };
        for f in files.flatten() {
            let path = f.path();
            let Some(seq) = f.file_name().to_str().and_then(parse_final_file_name) else {
                continue; // a rewrite's tmp file: the held file is still intact
            };
            match publish(listener, &path, seq, fsync) {
                Ok(_) => done += 1,
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        // Leftover rewrite tmp files of the dead process, then the directory itself.
        if let Ok(rest) = fs::read_dir(&dir) {
            for f in rest.flatten() {
                let _ = fs::remove_file(f.path());
            }
        }
        let _ = fs::remove_dir(&dir);
    }
    Ok(done)
}

/// Resets a held file and renames it into `inbox/`. A file that does not parse goes back to
/// `error/` unchanged.
fn publish(listener: &Listener, held: &Path, seq: u64, fsync: FsyncPolicy) -> Result<PathBuf> {
    let bytes = match read_regular(held)? {
        Read::Bytes(b) => b,
        // Not a regular file (swapped in after the check): back to error/ as it is, unread.
        Read::NotRegular(_) => return move_to_error(listener, held, seq, fsync),
        Read::Gone => {
            return Err(Error::NotFound {
                what: held.display().to_string(),
            })
        }
    };
    let mut doc = match TaskDoc::parse(&bytes, held) {
        Ok(d) if !CORRUPT_KEYS.iter().any(|k| d.get(k).is_some()) => d,
        _ => return move_to_error(listener, held, seq, fsync),
    };
    for k in [
        keys::RETRY_COUNT,
        keys::ATTEMPTS,
        keys::NOT_BEFORE,
        keys::ERROR,
    ] {
        doc.remove(k);
    }
    rewrite(&doc, held, fsync)?;
    make_dir(&listener.state_dir(State::Inbox))?;
    let mut seq = seq;
    loop {
        let dest = listener.inbox_file(seq);
        match rename_noreplace(held, &dest)? {
            Renamed::Done => {
                fsync.sync_dir(&listener.state_dir(State::Inbox))?;
                return Ok(dest);
            }
            Renamed::Exists => {
                let mut lock = TrackingLock::acquire(listener)?;
                lock.catch_up()?;
                seq = lock.allocate(false)?;
                lock.commit(&clock::iso8601(clock::now_ms()))?;
                doc.set(keys::SEQUENCE, seq.into());
                rewrite(&doc, held, fsync)?;
            }
            Renamed::SourceGone => {
                return Err(Error::NotFound {
                    what: held.display().to_string(),
                })
            }
        }
    }
}

fn move_to_error(
    listener: &Listener,
    from: &Path,
    seq: u64,
    fsync: FsyncPolicy,
) -> Result<PathBuf> {
    let dir = listener.state_dir(State::Error);
    make_dir(&dir)?;
    for n in 0..10_000u32 {
        let dest = dir.join(if n == 0 {
            task_file_name(seq)
        } else {
            format!("{seq}.{n}.json")
        });
        match rename_noreplace(from, &dest)? {
            Renamed::Done => {
                fsync.sync_dir(&dir)?;
                return Ok(dest);
            }
            Renamed::Exists => continue,
            Renamed::SourceGone => {
                return Err(Error::NotFound {
                    what: from.display().to_string(),
                })
            }
        }
    }
    Err(Error::io(
        "move",
        from,
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "no free name in error/ in 10000 tries",
        ),
    ))
}

/// Replaces a held file's content atomically (tmp + rename over our own file).
fn rewrite(doc: &TaskDoc, path: &Path, fsync: FsyncPolicy) -> Result<()> {
    let tmp = path.with_file_name(unique_tmp_name("r"));
    write_exclusive(&tmp, doc.to_json().as_bytes(), fsync)?;
    if let Err(e) = rename_replace(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// A retry's private `tmp/retry-<id>/` directory, locked for the life of the retry.
struct Staging {
    dir: PathBuf,
    _lock: File,
}

impl Staging {
    /// Made under another name and locked before it gets its `retry-` name, so
    /// [`recover_interrupted`] never sees it unlocked.
    fn create(listener: &Listener) -> Result<Staging> {
        let tmp = listener.tmp_dir();
        make_dir(&tmp)?;
        let id = crate::id::new_worker_id();
        let making = tmp.join(format!("making-{STAGING_PREFIX}{id}"));
        fs::create_dir(&making).ctx("create directory", &making)?;
        let lock = File::open(&making).ctx("open", &making)?;
        flock(&lock, libc::LOCK_EX | libc::LOCK_NB).ctx("lock", &making)?;
        let dir = tmp.join(format!("{STAGING_PREFIX}{id}"));
        if let Err(e) = rename_replace(&making, &dir) {
            let _ = fs::remove_dir(&making);
            return Err(e);
        }
        Ok(Staging { dir, _lock: lock })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Only succeeds when empty: a file still held here is finished by recover_interrupted.
        let _ = fs::remove_dir(&self.dir);
    }
}

/// The sequence of `path` if it is a task file directly in `listener`'s `error/`.
fn check_error_path(listener: &Listener, path: &Path) -> Result<u64> {
    let in_error = path.parent() == Some(listener.state_dir(State::Error).as_path());
    let seq = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_final_file_name);
    match seq {
        Some(seq) if in_error => Ok(seq),
        _ => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: format!(
                "not a task file of {}",
                listener.state_dir(State::Error).display()
            ),
        }),
    }
}

fn not_found_or_io(e: std::io::Error, op: &'static str, path: &Path) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::NotFound {
            what: path.display().to_string(),
        }
    } else {
        Error::io(op, path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{handle_once, Dispatcher, EventType, HandlerName, Layout, Outcome, Queue, Task};

    fn setup(n: usize, outcome: Outcome) -> (tempfile::TempDir, Listener) {
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path()).listener(
            &EventType::parse("a").unwrap(),
            &HandlerName::new("h").unwrap(),
        );
        let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
        let disp = Dispatcher::new(d.path(), FsyncPolicy::Never).unwrap();
        for i in 0..n {
            disp.dispatch(&EventType::parse("a").unwrap(), &format!("{{\"n\":{i}}}"))
                .unwrap();
        }
        handle_once(&mut q, &mut |_: &Task| outcome.clone()).unwrap();
        (d, l)
    }

    fn read(path: &Path) -> serde_json::Value {
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    #[test]
    fn entries_list_error_files_with_their_reason() {
        let (_d, l) = setup(2, Outcome::failure("boom"));
        fs::write(l.state_dir(State::Error).join("notes.txt"), "x").unwrap();
        let e = entries(&l).unwrap();
        assert_eq!(e.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2]);
        let t = FailedTask::load(&l, &e[0].1).unwrap();
        assert_eq!(t.reason(), "boom");
        assert_eq!(t.sequence(), 1);
        assert!(t.id().is_some());
        assert!(!t.is_corrupt());
        assert!(t.changed_ms() > 0);
    }

    #[test]
    fn retry_moves_to_inbox_and_resets_attempt_counters() {
        // A RETRY beyond max attempts: retry_count, attempts and error are set.
        let (_d, l) = setup(1, Outcome::Retry { delay: None });
        let (seq, path) = entries(&l).unwrap().remove(0);
        assert_eq!(read(&path)["retry_count"], 1);
        let back = retry(&l, &path, FsyncPolicy::Never).unwrap();
        assert_eq!(back, l.inbox_file(seq));
        assert!(!path.exists());
        let v = read(&back);
        for k in ["retry_count", "attempts", "error", "not_before"] {
            assert!(v.get(k).is_none(), "{k} still in {v}");
        }
        assert_eq!(v["payload"]["n"], 0);
        // Nothing left behind in tmp/.
        assert_eq!(fs::read_dir(l.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn retry_takes_a_fresh_sequence_when_the_inbox_name_is_taken() {
        let (_d, l) = setup(1, Outcome::failure("x"));
        let (seq, path) = entries(&l).unwrap().remove(0);
        fs::write(l.inbox_file(seq), "legacy").unwrap();
        let back = retry(&l, &path, FsyncPolicy::Never).unwrap();
        assert_ne!(back, l.inbox_file(seq));
        assert_eq!(fs::read_to_string(l.inbox_file(seq)).unwrap(), "legacy");
        let v = read(&back);
        assert_eq!(back, l.inbox_file(v["sequence"].as_u64().unwrap()));
    }

    #[test]
    fn retry_of_a_file_already_gone_is_not_found() {
        let (_d, l) = setup(1, Outcome::failure("x"));
        let (_, path) = entries(&l).unwrap().remove(0);
        retry(&l, &path, FsyncPolicy::Never).unwrap();
        assert!(matches!(
            retry(&l, &path, FsyncPolicy::Never),
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(delete(&l, &path), Err(Error::NotFound { .. })));
    }

    #[test]
    fn corrupt_task_is_not_retried() {
        let (_d, l) = setup(0, Outcome::Success);
        fs::write(l.inbox_file(1), "{not json").unwrap();
        let mut q = Queue::open(l.clone(), FsyncPolicy::Never).unwrap();
        handle_once(&mut q, &mut |_: &Task| Outcome::Success).unwrap();
        let (_, path) = entries(&l).unwrap().remove(0);
        assert!(FailedTask::load(&l, &path).unwrap().is_corrupt());
        assert!(matches!(
            retry(&l, &path, FsyncPolicy::Never),
            Err(Error::CorruptTask { .. })
        ));
        assert!(path.exists());
    }

    #[test]
    fn interrupted_retry_is_finished_by_the_next_one() {
        let (_d, l) = setup(1, Outcome::failure("x"));
        let (seq, path) = entries(&l).unwrap().remove(0);
        // A retry that died after taking the file: unlocked staging dir holding it.
        let dead = l.tmp_dir().join(format!("{STAGING_PREFIX}dead"));
        fs::create_dir(&dead).unwrap();
        fs::rename(&path, dead.join(task_file_name(seq))).unwrap();
        assert_eq!(recover_interrupted(&l, FsyncPolicy::Never).unwrap(), 1);
        assert!(!dead.exists());
        let v = read(&l.inbox_file(seq));
        assert!(v.get("error").is_none());
    }

    #[test]
    fn retry_in_progress_is_left_alone() {
        let (_d, l) = setup(1, Outcome::failure("x"));
        let (seq, path) = entries(&l).unwrap().remove(0);
        let live = Staging::create(&l).unwrap();
        fs::rename(&path, live.dir.join(task_file_name(seq))).unwrap();
        assert_eq!(recover_interrupted(&l, FsyncPolicy::Never).unwrap(), 0);
        assert!(live.dir.join(task_file_name(seq)).exists());
        assert!(!l.inbox_file(seq).exists());
    }

    #[test]
    fn delete_removes_only_error_files() {
        let (_d, l) = setup(1, Outcome::failure("x"));
        let (_, path) = entries(&l).unwrap().remove(0);
        assert!(matches!(
            delete(&l, &l.inbox_file(1)),
            Err(Error::Unsafe { .. })
        ));
        delete(&l, &path).unwrap();
        assert!(entries(&l).unwrap().is_empty());
    }
}
