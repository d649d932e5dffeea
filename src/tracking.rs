//! `tracking.json`, the per-listener sequence counter, read and written under an exclusive
//! `flock` so concurrent dispatchers in any number of processes never reuse a sequence.
//!
//! The file is rewritten in place (same inode, so the lock stays meaningful). If a crash leaves
//! it missing or unreadable, the sequence is recomputed from the highest task number present in
//! any state; and since no task file is ever replaced (a taken name is skipped), even a stale
//! counter cannot lose a task.

use crate::clock;
use crate::error::{IoContext, Result};
use crate::layout::{parse_delayed_file_name, parse_final_file_name, Listener, State};
use serde_json::Value;
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;

/// A locked `tracking.json`. The lock is released when this is dropped.
pub(crate) struct TrackingLock {
    file: File,
    path: PathBuf,
    sequence: u64,
    count: u64,
    first: String,
    dirty: bool,
    /// Length of the file as read (a shorter rewrite must truncate).
    len_read: u64,
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

impl TrackingLock {
    /// Opens (creating if needed) and locks the listener's `tracking.json`.
    pub(crate) fn acquire(listener: &Listener) -> Result<Self> {
        let path = listener.tracking_file();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
            .ctx("open", &path)?;
        flock(&file, libc::LOCK_EX).ctx("lock", &path)?;
        // Read with a plain buffer: read_to_string would add a statx and an lseek per call.
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 512];
        loop {
            match (&file).read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(crate::Error::io("read", &path, e)),
            }
        }
        let len_read = buf.len() as u64;
        let text = String::from_utf8_lossy(&buf);
        let parsed: Option<(u64, u64, String)> =
            serde_json::from_str::<Value>(&text).ok().and_then(|v| {
                Some((
                    v.get("sequence")?.as_u64()?,
                    v.get("count").and_then(Value::as_u64).unwrap_or(0),
                    v.get("first")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ))
            });
        let now = clock::iso8601(clock::now_ms());
        let lock = match parsed {
            Some((sequence, count, first)) => TrackingLock {
                file,
                path,
                sequence,
                count,
                first: if first.is_empty() { now } else { first },
                dirty: false,
                len_read,
            },
            None => {
                // Missing, empty or corrupt: recover from what is on disk.
                let highest = highest_sequence(listener)?;
                TrackingLock {
                    file,
                    path,
                    sequence: highest,
                    count: highest,
                    first: now,
                    dirty: true,
                    len_read,
                }
            }
        };
        Ok(lock)
    }

    /// Takes the next sequence number.
    pub(crate) fn next(&mut self) -> u64 {
        self.sequence += 1;
        self.count += 1;
        self.dirty = true;
        self.sequence
    }

    /// Writes the counter back (in place). `last` is the delivery time.
    pub(crate) fn commit(&mut self, last: &str) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let text = format!(
            "{{\"sequence\":{},\"count\":{},\"first\":\"{}\",\"last\":\"{}\"}}",
            self.sequence, self.count, self.first, last
        );
        self.file
            .write_all_at(text.as_bytes(), 0)
            .ctx("write", &self.path)?;
        if (text.len() as u64) < self.len_read {
            self.file
                .set_len(text.len() as u64)
                .ctx("truncate", &self.path)?;
        }
        self.len_read = text.len() as u64;
        self.dirty = false;
        Ok(())
    }
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
            scan(w.path(), parse_final_file_name)?;
        }
    }
    Ok(highest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, HandlerName, Layout};

    fn listener(root: &std::path::Path) -> Listener {
        let l = Layout::new(root).listener(
            &EventType::parse("a").unwrap(),
            &HandlerName::new("h").unwrap(),
        );
        l.ensure().unwrap();
        l
    }

    #[test]
    fn sequence_increments_and_first_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let l = listener(d.path());
        let mut t = TrackingLock::acquire(&l).unwrap();
        assert_eq!(t.next(), 1);
        t.commit("x").unwrap();
        drop(t);
        let first1: Value =
            serde_json::from_str(&fs::read_to_string(l.tracking_file()).unwrap()).unwrap();
        let mut t = TrackingLock::acquire(&l).unwrap();
        assert_eq!(t.next(), 2);
        t.commit("y").unwrap();
        drop(t);
        let v: Value =
            serde_json::from_str(&fs::read_to_string(l.tracking_file()).unwrap()).unwrap();
        assert_eq!(v["sequence"], 2);
        assert_eq!(v["count"], 2);
        assert_eq!(v["first"], first1["first"]);
        assert_eq!(v["last"], "y");
    }

    #[test]
    fn corrupt_tracking_is_recomputed_from_highest_task() {
        let d = tempfile::tempdir().unwrap();
        let l = listener(d.path());
        fs::write(l.state_dir(State::Archive).join("41.json"), "{}").unwrap();
        fs::write(l.state_dir(State::Inbox).join("12.json"), "{}").unwrap();
        fs::write(l.tracking_file(), "{\"sequ").unwrap();
        let mut t = TrackingLock::acquire(&l).unwrap();
        assert_eq!(t.next(), 42);
    }

    #[test]
    fn legacy_tracking_file_is_read() {
        let d = tempfile::tempdir().unwrap();
        let l = listener(d.path());
        fs::write(
            l.tracking_file(),
            r#"{"sequence":25,"count":25,"first":"2023-10-02T13:18:35+00:00","last":"2023-10-02T13:18:35+00:00"}"#,
        )
        .unwrap();
        let mut t = TrackingLock::acquire(&l).unwrap();
        assert_eq!(t.next(), 26);
        t.commit("z").unwrap();
        drop(t);
        let v: Value =
            serde_json::from_str(&fs::read_to_string(l.tracking_file()).unwrap()).unwrap();
        assert_eq!(v["first"], "2023-10-02T13:18:35+00:00");
    }
}
