//! `tracking.json`, the per-listener sequence counter, read and written under an exclusive
//! `flock` so concurrent dispatchers in any number of processes never reuse a sequence.
//!
//! The file is rewritten in place (same inode, so the lock stays meaningful). If a crash leaves
//! it missing or unreadable, the sequence is recomputed from the highest task number present in
//! any state; and since no task file is ever replaced (a taken name is skipped), even a stale
//! counter cannot lose a task.

use crate::clock;
use crate::error::{Error, Result};
use crate::file::durability::{
    make_dir, unique_tmp_name, with_cpath, write_exclusive, FsyncPolicy,
};
use crate::file::layout::{
    parse_claimed_file_name, parse_delayed_file_name, parse_final_file_name, Listener, State,
};
use serde_json::Value;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::path::PathBuf;

/// The largest sequence a task may get: `i64::MAX`, the largest integer PHP (a task's
/// `getSequence()`) and PostgreSQL (`int8`) can hold. A counter there refuses to go on
/// ([`crate::Error::SequenceExhausted`]) rather than wrap to 0 and reuse numbers.
///
/// cbindgen:ignore
pub const MAX_SEQUENCE: u64 = i64::MAX as u64;

/// A locked `tracking.json`. The lock is released when this is dropped.
pub(crate) struct TrackingLock<'a> {
    listener: &'a Listener,
    file: File,
    sequence: u64,
    count: u64,
    first: Text,
    dirty: bool,
    /// Length of the file as read (a shorter rewrite must truncate).
    len_read: u64,
}

/// A short string kept inline (`first` is an ISO-8601 time: 25 bytes), or on the heap.
enum Text {
    Inline { buf: [u8; 48], len: u8 },
    Heap(String),
}

impl Text {
    fn new(s: &str) -> Self {
        if s.len() <= 48 {
            let mut buf = [0u8; 48];
            buf[..s.len()].copy_from_slice(s.as_bytes());
            Text::Inline {
                buf,
                len: s.len() as u8,
            }
        } else {
            Text::Heap(s.to_string())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline { buf, len } => &buf[..*len as usize],
            Text::Heap(s) => s.as_bytes(),
        }
    }
}

pub(crate) fn flock(file: &File, op: libc::c_int) -> std::io::Result<()> {
    loop {
        // SAFETY: the fd is owned by `file` and open for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Opens `<dir>/tracking.json` read-write, close-on-exec, never following a symbolic link and
/// never blocking on a FIFO; anything but a regular file is refused ([`Error::Unsafe`]).
/// When it does not exist it is created complete, in one step (written in `tmp/`, then
/// linked into place), so nobody ever sees an empty or half-written counter.
fn open_tracking(listener: &Listener) -> Result<File> {
    let path = || listener.tracking_file();
    for _ in 0..100 {
        match open_existing(listener) {
            Ok(file) => {
                let meta = file.metadata().map_err(|e| Error::io("stat", path(), e))?;
                if !meta.file_type().is_file() {
                    return Err(Error::Unsafe {
                        path: path(),
                        reason: format!(
                            "it is {}, not a regular file; not opened",
                            crate::file::layout::describe_file_type(meta.file_type())
                        ),
                    });
                }
                return Ok(file);
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::Unsafe {
                    path: path(),
                    reason: "it is a symbolic link; not followed".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_complete(listener)?,
            Err(e) => return Err(Error::io("open", path(), e)),
        }
    }
    Err(Error::io(
        "open",
        path(),
        std::io::Error::other("created but gone again 100 times"),
    ))
}

fn open_existing(listener: &Listener) -> std::io::Result<File> {
    with_cpath(
        &[listener.dir().as_os_str().as_bytes(), b"/tracking.json"],
        |path| loop {
            // SAFETY: path is a valid NUL-terminated string; the fd returned is owned below.
            let fd = unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_RDWR | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
                )
            };
            if fd >= 0 {
                // SAFETY: fd is a freshly opened descriptor nobody else owns.
                return Ok(unsafe { File::from_raw_fd(fd) });
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        },
    )
}

/// Creates a missing `tracking.json` holding the highest sequence on disk (0 for a new
/// listener, as the original's `0,0,now,now`): written in `tmp/`, then hard-linked into place,
/// which fails harmlessly if another process created it first.
fn create_complete(listener: &Listener) -> Result<()> {
    let highest = highest_sequence(listener)?;
    let now = clock::iso8601(clock::now_ms());
    let mut text = Bytes::new();
    put_counter(&mut text, highest, highest, now.as_bytes(), now.as_bytes());
    let tmp_dir = listener.tmp_dir();
    let tmp = tmp_dir.join(unique_tmp_name("t"));
    match write_exclusive(&tmp, text.as_slice(), FsyncPolicy::Never) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            // A listener made by hand or by the original library: no tmp/ yet.
            make_dir(&tmp_dir)?;
            write_exclusive(&tmp, text.as_slice(), FsyncPolicy::Never)?;
        }
        other => other?,
    }
    let linked = fs::hard_link(&tmp, listener.tracking_file());
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("create", listener.tracking_file(), e)),
    }
}

fn put_counter(text: &mut Bytes, sequence: u64, count: u64, first: &[u8], last: &[u8]) {
    text.put(b"{\"sequence\":");
    text.put_u64(sequence);
    text.put(b",\"count\":");
    text.put_u64(count);
    text.put(b",\"first\":\"");
    text.put(first);
    text.put(b"\",\"last\":\"");
    text.put(last);
    text.put(b"\"}");
}

/// The counter of a `tracking.json` in exactly the form [`TrackingLock::commit`] (and the
/// original library) writes it: `{"sequence":N,"count":N,"first":"…","last":"…"}`. `None` for
/// anything else (other key order, spaces, escapes, …), which then goes through serde_json: this
/// is only a shortcut, it accepts nothing the general path would read differently.
fn parse_own_format(b: &[u8]) -> Option<(u64, u64, &str)> {
    fn lit<'a>(b: &'a [u8], l: &[u8]) -> Option<&'a [u8]> {
        b.strip_prefix(l)
    }
    fn num(b: &[u8]) -> Option<(u64, &[u8])> {
        let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
        // JSON forbids leading zeros; more than 20 digits cannot be a u64.
        if n == 0 || n > 20 || (n > 1 && b[0] == b'0') {
            return None;
        }
        let mut v: u64 = 0;
        for &c in &b[..n] {
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        }
        Some((v, &b[n..]))
    }
    fn text(b: &[u8]) -> Option<(&[u8], &[u8])> {
        // Up to the closing quote; no escapes and no control characters (invalid in JSON).
        let n = b
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        (b[n] == b'"').then(|| (&b[..n], &b[n..]))
    }
    let b = lit(b, b"{\"sequence\":")?;
    let (sequence, b) = num(b)?;
    let b = lit(b, b",\"count\":")?;
    let (count, b) = num(b)?;
    let b = lit(b, b",\"first\":\"")?;
    let (first, b) = text(b)?;
    let b = lit(b, b"\",\"last\":\"")?;
    let (last, b) = text(b)?;
    if lit(b, b"\"}")? != b"" {
        return None;
    }
    // serde_json would read the text lossily (see acquire): only valid UTF-8 is taken as is.
    std::str::from_utf8(last).ok()?;
    Some((sequence, count, std::str::from_utf8(first).ok()?))
}

impl<'a> TrackingLock<'a> {
    /// Opens (creating if needed) and locks the listener's `tracking.json`.
    pub(crate) fn acquire(listener: &'a Listener) -> Result<Self> {
        let path = || listener.tracking_file();
        let file = open_tracking(listener)?;
        flock(&file, libc::LOCK_EX).map_err(|e| crate::Error::io("lock", path(), e))?;
        // One read into a stack buffer: a regular file that returns less than asked for is at
        // its end (the file is ours while locked), so no second read to see EOF. Bigger files
        // (not written by us) are read to the end.
        let mut small = [0u8; 512];
        let mut big = Vec::new();
        let mut n = loop {
            match (&file).read(&mut small) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(crate::Error::io("read", path(), e)),
            }
        };
        if n == small.len() {
            big.extend_from_slice(&small);
            let mut chunk = [0u8; 512];
            loop {
                match (&file).read(&mut chunk) {
                    Ok(0) => break,
                    Ok(k) => big.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(crate::Error::io("read", path(), e)),
                }
            }
            n = big.len();
        }
        let buf = if big.is_empty() {
            &small[..n]
        } else {
            &big[..]
        };
        let len_read = n as u64;
        let parsed: Option<(u64, u64, Text)> = match parse_own_format(buf) {
            Some((sequence, count, first)) => Some((sequence, count, Text::new(first))),
            None => {
                let text = String::from_utf8_lossy(buf);
                serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                    Some((
                        v.get("sequence")?.as_u64()?,
                        v.get("count").and_then(Value::as_u64).unwrap_or(0),
                        Text::new(v.get("first").and_then(Value::as_str).unwrap_or("")),
                    ))
                })
            }
        };
        let now = || Text::new(&clock::iso8601(clock::now_ms()));
        let lock = match parsed {
            Some((sequence, count, first)) => TrackingLock {
                listener,
                file,
                sequence,
                count,
                first: if first.as_bytes().is_empty() {
                    now()
                } else {
                    first
                },
                dirty: false,
                len_read,
            },
            None => {
                // Missing, empty or corrupt: recover from what is on disk.
                let highest = highest_sequence(listener)?;
                TrackingLock {
                    listener,
                    file,
                    sequence: highest,
                    count: highest,
                    first: now(),
                    dirty: true,
                    len_read,
                }
            }
        };
        Ok(lock)
    }

    /// Takes the next sequence number; [`Error::SequenceExhausted`] past [`MAX_SEQUENCE`].
    pub(crate) fn next(&mut self) -> Result<u64> {
        if self.sequence >= MAX_SEQUENCE {
            return Err(Error::SequenceExhausted {
                listener: self.listener.dir().to_path_buf(),
                sequence: self.sequence,
            });
        }
        self.sequence += 1;
        self.count = self.count.saturating_add(1);
        self.dirty = true;
        Ok(self.sequence)
    }

    /// Takes the next sequence number that no task file on disk has. A counter behind the
    /// files (a `tracking.json` restored from an older backup, or not written back before a
    /// power loss) is noticed cheaply: the number is checked against `archive/` and `error/`
    /// (where finished tasks stay) and, for a task published to `delayed/`, `inbox/` (a task
    /// published to `inbox/` finds its name taken by the no-replace rename). When it is
    /// taken, the counter moves past the highest number in any state ([`Self::catch_up`]:
    /// a directory scan, on this rare path only).
    pub(crate) fn allocate(&mut self, delayed: bool) -> Result<u64> {
        let seq = self.next()?;
        if !number_taken(self.listener, seq, delayed) {
            return Ok(seq);
        }
        self.catch_up()?;
        self.next()
    }

    /// Moves the counter past the highest sequence found in any state of the listener.
    pub(crate) fn catch_up(&mut self) -> Result<()> {
        let highest = highest_sequence(self.listener)?;
        if highest > self.sequence {
            self.count = self.count.saturating_add(highest - self.sequence);
            self.sequence = highest;
            self.dirty = true;
        }
        Ok(())
    }

    /// Writes the counter back (in place). `last` is the delivery time.
    pub(crate) fn commit(&mut self, last: &str) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut text = Bytes::new();
        put_counter(
            &mut text,
            self.sequence,
            self.count,
            self.first.as_bytes(),
            last.as_bytes(),
        );
        let bytes = text.as_slice();
        let path = || self.listener.tracking_file();
        self.file
            .write_all_at(bytes, 0)
            .map_err(|e| crate::Error::io("write", path(), e))?;
        if (bytes.len() as u64) < self.len_read {
            self.file
                .set_len(bytes.len() as u64)
                .map_err(|e| crate::Error::io("truncate", path(), e))?;
        }
        self.len_read = bytes.len() as u64;
        self.dirty = false;
        Ok(())
    }
}

/// A byte string built on the stack while it fits (tracking.json is ~100 bytes).
struct Bytes {
    stack: [u8; 256],
    len: usize,
    heap: Vec<u8>,
}

impl Bytes {
    fn new() -> Self {
        Bytes {
            stack: [0; 256],
            len: 0,
            heap: Vec::new(),
        }
    }

    fn put(&mut self, b: &[u8]) {
        if self.heap.is_empty() && self.len + b.len() <= self.stack.len() {
            self.stack[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        } else {
            if self.heap.is_empty() {
                self.heap.extend_from_slice(&self.stack[..self.len]);
            }
            self.heap.extend_from_slice(b);
        }
    }

    fn put_u64(&mut self, n: u64) {
        let mut buf = [0u8; 20];
        self.put(decimal(n, &mut buf));
    }

    fn as_slice(&self) -> &[u8] {
        if self.heap.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.heap
        }
    }
}

/// `n` in decimal, written into the end of `buf` (20 bytes hold any u64) without allocating.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// True if `archive/<seq>.json` or `error/<seq>.json` (and, when `inbox` is set,
/// `inbox/<seq>.json`) exists in any form (looked up without following anything).
fn number_taken(listener: &Listener, seq: u64, inbox: bool) -> bool {
    let mut buf = [0u8; 20];
    let digits = decimal(seq, &mut buf);
    let dir = listener.dir().as_os_str().as_bytes();
    let states: &[&[u8]] = if inbox {
        &[b"/archive/", b"/error/", b"/inbox/"]
    } else {
        &[b"/archive/", b"/error/"]
    };
    states.iter().any(|state| {
        with_cpath(&[dir, state, digits, b".json"], |p| {
            // SAFETY: p is a valid NUL-terminated path; st is written by the call.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            Ok(unsafe { libc::lstat(p.as_ptr(), &mut st) } == 0)
        })
        .unwrap_or(false)
    })
}

/// The highest task number found in any state of the listener (0 when empty).
pub(crate) fn highest_sequence(listener: &Listener) -> Result<u64> {
    let mut highest = 0;
    let mut scan = |dir: PathBuf, parse: fn(&str) -> Option<u64>| -> Result<()> {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(crate::Error::io("read directory", &dir, e)),
        };
        for entry in entries.flatten() {
            if let Some(seq) = entry.file_name().to_str().and_then(parse) {
                highest = highest.max(seq);
            }
        }
        Ok(())
    };
    scan(listener.state_dir(State::Inbox), parse_final_file_name)?;
    scan(listener.state_dir(State::Archive), parse_final_file_name)?;
    scan(listener.state_dir(State::Error), parse_final_file_name)?;
    scan(listener.state_dir(State::Delayed), |n| {
        parse_delayed_file_name(n).map(|(_, s)| s)
    })?;
    if let Ok(workers) = fs::read_dir(listener.state_dir(State::Claimed)) {
        for w in workers.flatten() {
            // Worker directories only: a link planted in claimed/ is not followed.
            if !w.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            scan(w.path(), |n| parse_claimed_file_name(n).map(|(s, _)| s))?;
        }
    }
    Ok(highest)
}

#[cfg(test)]
mod tests;
