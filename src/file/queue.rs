//! One listener's queue seen by a worker: claim by rename, settle outcomes, recover the claims
//! of dead workers. See docs/ARCHITECTURE.md, "The on-disk protocol" (claims, outcomes, recovery).

use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::file::durability::{
    make_dir, read_regular, rename_noreplace, rename_replace, unique_tmp_name, write_exclusive,
    FsyncPolicy, Read, Renamed,
};
use crate::file::layout::{
    describe_file_type, file_type_word, parse_delayed_file_name, parse_task_file_name, Listener,
    State,
};
use crate::file::tracking::{flock, TrackingLock};
use crate::outcome::Outcome;
use crate::task::{keys, Task, TaskDoc};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod recover;

/// Age after which a file left in `tmp/` is certainly abandoned (staging takes milliseconds).
pub const TMP_STALE_AFTER: Duration = Duration::from_secs(600);

/// A worker's own `claimed/<worker-id>/` directory, locked with `flock` for the worker's life.
/// The kernel drops the lock when the process dies, which is how others know it is dead.
#[derive(Debug)]
struct ClaimDir {
    dir: PathBuf,
    _lock: File,
}

impl Drop for ClaimDir {
    fn drop(&mut self) {
        // Still holding the lock: remove the directory if nothing is left in it.
        let _ = fs::remove_dir(&self.dir);
    }
}

/// What became of a settled task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Moved to `archive/` (this path).
    Archived(PathBuf),
    /// Moved to `error/` (this path), the reason stored inside.
    Failed(PathBuf),
    /// Back in `inbox/` (this path) for another run.
    Requeued(PathBuf),
    /// In `delayed/` (this path) until the due time (ms since the epoch).
    Delayed(PathBuf, u64),
}

/// A claimed inbox entry: a parsed task, or a file that could not be read as one.
#[derive(Debug)]
pub enum Claim {
    /// A task ready to run.
    Task(Task),
    /// A task file that cannot be parsed or read.
    Corrupt {
        /// Its sequence (from the file name).
        seq: u64,
        /// Where it is now (in this worker's claim directory).
        path: PathBuf,
        /// Why it cannot be used.
        error: Error,
    },
}

/// A worker's handle on one listener's queue.
#[derive(Debug)]
pub struct Queue {
    listener: Listener,
    fsync: FsyncPolicy,
    worker_id: String,
    claim: Option<ClaimDir>,
}

/// The sequences in a listener's `inbox/`, ascending (a missing directory is empty). Files
/// whose name is not exactly `<digits>.json` are ignored. Reads names only.
pub(crate) fn inbox_sequences(listener: &Listener) -> Result<Vec<u64>> {
    let dir = listener.state_dir(State::Inbox);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", &dir, e)),
    };
    let mut seqs: Vec<u64> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(parse_task_file_name))
        .collect();
    seqs.sort_unstable();
    Ok(seqs)
}

impl Queue {
    /// Opens the queue, creating the listener's directories if needed (this registers it).
    pub fn open(listener: Listener, fsync: FsyncPolicy) -> Result<Self> {
        if listener.dir().to_str().is_some_and(crate::url::is_dsn) {
            // Never create a directory tree named after a database URL.
            return Err(Error::InvalidOption {
                name: "root".into(),
                reason: "a postgresql:// root needs the PostgreSQL backend (open it with \
                         hurah::backend::open); this queue only runs on a directory"
                    .into(),
            });
        }
        listener.ensure()?;
        Ok(Queue {
            listener,
            fsync,
            worker_id: crate::id::new_worker_id(),
            claim: None,
        })
    }

    /// The listener.
    pub fn listener(&self) -> &Listener {
        &self.listener
    }

    /// This worker's id (the name of its `claimed/` directory).
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The sequences in `inbox/`, ascending. Files whose name is not exactly `<digits>.json`
    /// are ignored.
    pub fn due(&self) -> Result<Vec<u64>> {
        inbox_sequences(&self.listener)
    }

    /// The tasks in `delayed/` as `(due_ms, seq)`, earliest first.
    pub fn delayed(&self) -> Result<Vec<(u64, u64)>> {
        let dir = self.listener.state_dir(State::Delayed);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("read directory", &dir, e)),
        };
        let mut out: Vec<(u64, u64)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(parse_delayed_file_name))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Moves a delayed task that is now due into `inbox/`. Returns its inbox sequence, or
    /// `None` if it is no longer there (promoted by another worker, or cancelled).
    pub fn promote(&mut self, due_ms: u64, seq: u64) -> Result<Option<u64>> {
        let from = self.listener.delayed_file(due_ms, seq);
        match rename_noreplace(&from, &self.listener.inbox_file(seq))? {
            Renamed::Done => Ok(Some(seq)),
            Renamed::SourceGone => Ok(None),
            Renamed::Exists => {
                // The inbox name is taken: claim it privately, renumber, then publish.
                let to = self
                    .claim_dir()?
                    .join(crate::file::layout::task_file_name(seq));
                if rename_noreplace(&from, &to)? != Renamed::Done {
                    return Ok(None);
                }
                let parsed = match read_regular(&to)? {
                    Read::Bytes(bytes) => TaskDoc::parse(&bytes, &to),
                    Read::NotRegular(t) => Err(not_regular(&from, t)),
                    Read::Gone => return Err(vanished(&to)),
                };
                match parsed {
                    Ok(doc) => {
                        let path = self.publish_to_inbox(doc, &to, seq)?;
                        Ok(path
                            .file_name()
                            .and_then(|n| n.to_str())
                            .and_then(parse_task_file_name))
                    }
                    Err(e) => {
                        self.settle_corrupt(seq, &to, &e.to_string())?;
                        Ok(None)
                    }
                }
            }
        }
    }

    fn claim_dir(&mut self) -> Result<&Path> {
        if self.claim.is_none() {
            // Made under tmp/ and locked before it is renamed into claimed/, so no other
            // worker can ever see it unlocked and mistake it for a dead worker's.
            let staging = self
                .listener
                .tmp_dir()
                .join(format!("claim-{}", self.worker_id));
            make_dir(&self.listener.tmp_dir())?;
            fs::create_dir(&staging).ctx("create directory", &staging)?;
            let lock = File::open(&staging).ctx("open", &staging)?;
            flock(&lock, libc::LOCK_EX | libc::LOCK_NB).ctx("lock", &staging)?;
            let dir = self.listener.claim_dir(&self.worker_id);
            make_dir(&self.listener.state_dir(State::Claimed))?;
            rename_replace(&staging, &dir)?;
            self.claim = Some(ClaimDir { dir, _lock: lock });
        }
        Ok(&self.claim.as_ref().expect("claim dir was just created").dir)
    }

    /// Claims `inbox/<seq>.json` by renaming it into this worker's claim directory. `None` when
    /// another worker got it first (exactly one rename succeeds).
    pub fn claim(&mut self, seq: u64) -> Result<Option<Claim>> {
        let from = self.listener.inbox_file(seq);
        let to = self
            .claim_dir()?
            .join(crate::file::layout::task_file_name(seq));
        match rename_noreplace(&from, &to)? {
            Renamed::Done => {}
            Renamed::SourceGone => return Ok(None),
            Renamed::Exists => {
                return Err(Error::io(
                    "claim",
                    &to,
                    std::io::Error::new(std::io::ErrorKind::AlreadyExists, "already claimed"),
                ))
            }
        }
        // Never read through a link, never block on a FIFO: an entry that is not a regular
        // file is handed back as corrupt, and settling it moves it aside unread.
        let parsed = match read_regular(&to)? {
            Read::Bytes(bytes) => TaskDoc::parse(&bytes, &to),
            Read::NotRegular(t) => Err(not_regular(&from, t)),
            Read::Gone => return Err(vanished(&to)),
        };
        Ok(Some(match parsed {
            Ok(doc) => Claim::Task(Task {
                doc,
                seq,
                path: to,
                event_type: self.listener.event_type().clone(),
                said: Default::default(),
            }),
            Err(error) => Claim::Corrupt {
                seq,
                path: to,
                error,
            },
        }))
    }

    /// Records that `task`'s handler is being entered: renames `claimed/<me>/<seq>.json` to
    /// `claimed/<me>/<seq>.running.json` (one rename in the worker's own directory). Call it
    /// right before the handler. If this worker dies, recovery counts an attempt only for a
    /// task whose start was recorded; one that never started goes back untouched.
    pub fn start(&mut self, task: &mut Task) -> Result<()> {
        let Some(dir) = task.path.parent() else {
            return Err(vanished(&task.path));
        };
        let running = dir.join(crate::file::layout::running_file_name(task.seq));
        rename_replace(&task.path, &running)?;
        task.path = running;
        Ok(())
    }

    /// Puts a claimed file back in `inbox/` untouched (e.g. a file a legacy writer may still be
    /// writing). Returns false if the name was taken meanwhile (the file then stays claimed).
    pub fn unclaim(&mut self, seq: u64, path: &Path) -> Result<bool> {
        Ok(rename_noreplace(path, &self.listener.inbox_file(seq))? == Renamed::Done)
    }

    /// Moves a claimed task to where its outcome sends it. `max_attempts` bounds retries
    /// (M retries = M+1 runs); `backoff` is the delay for a RETRY that names none.
    pub fn settle(
        &mut self,
        task: Task,
        outcome: &Outcome,
        max_attempts: u64,
        backoff: Option<Duration>,
    ) -> Result<Settled> {
        let said = task.said_why();
        let Task {
            mut doc, seq, path, ..
        } = task;
        let now = clock::now_ms();
        match outcome {
            Outcome::Success => self
                .move_final(&path, State::Archive, seq)
                .map(Settled::Archived),
            Outcome::Failure { reason, class } => {
                let runs = doc.attempts() + 1;
                doc.set_error(reason, class.as_deref(), now, runs);
                self.rewrite(&doc, &path)?;
                self.move_final(&path, State::Error, seq)
                    .map(Settled::Failed)
            }
            Outcome::Invalid { reason } => {
                let runs = doc.attempts() + 1;
                doc.set_error(reason, None, now, runs);
                self.rewrite(&doc, &path)?;
                self.move_final(&path, State::Error, seq)
                    .map(Settled::Failed)
            }
            // Not run at all: back as it was, no attempt spent.
            Outcome::Release { .. } => self
                .publish_to_inbox(doc, &path, seq)
                .map(Settled::Requeued),
            Outcome::Retry { delay } => {
                // Both counters get the same value: hurah/events, serving the same listener,
                // reads retry_count only, hurah the higher of the two.
                let attempts = doc.attempts() + 1;
                doc.set(keys::RETRY_COUNT, attempts.into());
                if attempts > max_attempts {
                    doc.set_error(
                        &Outcome::retry_limit_reason(max_attempts, said.as_deref()),
                        None,
                        now,
                        attempts,
                    );
                    doc.set(keys::ATTEMPTS, attempts.into());
                    self.rewrite(&doc, &path)?;
                    return self
                        .move_final(&path, State::Error, seq)
                        .map(Settled::Failed);
                }
                doc.set(keys::ATTEMPTS, attempts.into());
                self.requeue(doc, &path, seq, delay.or(backoff))
            }
        }
    }

    /// Sends a corrupt claimed file to `error/`, wrapped with its reason (original bytes kept).
    /// An entry that is not a regular file is not read: it is moved as it is to
    /// `error/<seq>.<kind>.rejected`, and `error/<seq>.json` states the reason.
    pub fn settle_corrupt(&mut self, seq: u64, path: &Path, reason: &str) -> Result<Settled> {
        let bytes = match read_regular(path)? {
            Read::Bytes(b) => b,
            Read::NotRegular(t) => return self.reject(seq, path, t, reason),
            Read::Gone => return Err(vanished(path)),
        };
        let doc = TaskDoc::wrap_corrupt(&bytes, seq, reason, clock::now_ms());
        self.rewrite(&doc, path)?;
        self.move_final(path, State::Error, seq)
            .map(Settled::Failed)
    }

    /// Moves an entry that is not a regular file (never followed, never read) to
    /// `error/<seq>.<kind>.rejected`, then writes `error/<seq>.json` with the reason.
    fn reject(&self, seq: u64, path: &Path, t: fs::FileType, reason: &str) -> Result<Settled> {
        let dir = self.listener.state_dir(State::Error);
        make_dir(&dir)?;
        let word = file_type_word(t);
        let mut kept = None;
        for n in 0..10_000u32 {
            let name = if n == 0 {
                format!("{seq}.{word}.rejected")
            } else {
                format!("{seq}.{word}.{n}.rejected")
            };
            match rename_noreplace(path, &dir.join(&name))? {
                Renamed::Done => {
                    kept = Some(name);
                    break;
                }
                Renamed::Exists => continue,
                Renamed::SourceGone => return Err(vanished(path)),
            }
        }
        let Some(name) = kept else {
            return Err(Error::io(
                "move",
                path,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "no free name in error/ in 10000 tries",
                ),
            ));
        };
        let reason = format!("{reason}; not followed, not read, kept as error/{name}");
        let doc = TaskDoc::wrap_rejected(seq, &reason, &name, clock::now_ms());
        let tmp = self.listener.tmp_dir().join(unique_tmp_name("q"));
        write_exclusive(&tmp, doc.to_json().as_bytes(), self.fsync)?;
        match self.move_final(&tmp, State::Error, seq) {
            Ok(p) => Ok(Settled::Failed(p)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    fn requeue(
        &mut self,
        mut doc: TaskDoc,
        path: &Path,
        seq: u64,
        delay: Option<Duration>,
    ) -> Result<Settled> {
        match delay.filter(|d| !d.is_zero()) {
            Some(d) => {
                // Rounded up from the µs clock: a retry never comes due before now + delay.
                let due = (crate::clock::now_us() + d.as_micros() as u64).div_ceil(1000);
                doc.set(keys::NOT_BEFORE, due.into());
                self.rewrite(&doc, path)?;
                let mut seq = seq;
                loop {
                    let dest = self.listener.delayed_file(due, seq);
                    match rename_noreplace(path, &dest)? {
                        Renamed::Done => {
                            self.fsync
                                .sync_dir(&self.listener.state_dir(State::Delayed))?;
                            return Ok(Settled::Delayed(dest, due));
                        }
                        Renamed::Exists => seq = self.fresh_sequence(&mut doc, path)?,
                        Renamed::SourceGone => return Err(vanished(path)),
                    }
                }
            }
            None => {
                doc.remove(keys::NOT_BEFORE);
                self.rewrite(&doc, path)?;
                self.publish_to_inbox(doc, path, seq).map(Settled::Requeued)
            }
        }
    }

    fn publish_to_inbox(&mut self, mut doc: TaskDoc, path: &Path, mut seq: u64) -> Result<PathBuf> {
        loop {
            let dest = self.listener.inbox_file(seq);
            match rename_noreplace(path, &dest)? {
                Renamed::Done => {
                    self.fsync
                        .sync_dir(&self.listener.state_dir(State::Inbox))?;
                    return Ok(dest);
                }
                Renamed::Exists => seq = self.fresh_sequence(&mut doc, path)?,
                Renamed::SourceGone => return Err(vanished(path)),
            }
        }
    }

    /// The name a task had is taken: give it a new sequence from tracking.json.
    fn fresh_sequence(&self, doc: &mut TaskDoc, path: &Path) -> Result<u64> {
        let mut lock = TrackingLock::acquire(&self.listener)?;
        lock.catch_up()?;
        let seq = lock.allocate(false)?;
        lock.commit(&clock::iso8601(clock::now_ms()))?;
        doc.set(keys::SEQUENCE, seq.into());
        self.rewrite(doc, path)?;
        Ok(seq)
    }

    /// Replaces a claimed file's content atomically (tmp + rename over our own file).
    fn rewrite(&self, doc: &TaskDoc, path: &Path) -> Result<()> {
        let tmp = self.listener.tmp_dir().join(unique_tmp_name("r"));
        write_exclusive(&tmp, doc.to_json().as_bytes(), self.fsync)?;
        if let Err(e) = rename_replace(&tmp, path) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(())
    }

    /// Moves into `archive/` or `error/` as `<seq>.json`, or `<seq>.<n>.json` if that is taken.
    fn move_final(&self, path: &Path, state: State, seq: u64) -> Result<PathBuf> {
        let dir = self.listener.state_dir(state);
        for n in 0..10_000u32 {
            let name = if n == 0 {
                format!("{seq}.json")
            } else {
                format!("{seq}.{n}.json")
            };
            let dest = dir.join(name);
            match rename_noreplace(path, &dest) {
                Ok(Renamed::Done) => {
                    self.fsync.sync_dir(&dir)?;
                    return Ok(dest);
                }
                Ok(Renamed::Exists) => continue,
                Ok(Renamed::SourceGone) => return Err(vanished(path)),
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && path.exists() =>
                {
                    make_dir(&dir)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::io(
            "move",
            path,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "no free name in 10000 tries",
            ),
        ))
    }

    /// Releases this worker's claim directory (it is also released on drop).
    pub fn release(&mut self) {
        self.claim = None;
    }
}

/// Opens a directory for `flock`, refusing a symbolic link swapped in after it was listed.
pub(crate) fn open_dir_nofollow(dir: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
}

/// The error a claimed entry that is not a regular file is handed back with.
fn not_regular(was: &Path, t: fs::FileType) -> Error {
    Error::Unsafe {
        path: was.to_path_buf(),
        reason: format!("it is {}, not a regular file", describe_file_type(t)),
    }
}

fn vanished(path: &Path) -> Error {
    Error::io(
        "move",
        path,
        std::io::Error::new(std::io::ErrorKind::NotFound, "claimed task file vanished"),
    )
}
