//! Recovery of what dead processes left in a listener: the claims of dead workers (back to
//! `inbox/`, or to `error/` once they spent their attempts) and stale staging files in `tmp/`.
//! See docs/ARCHITECTURE.md, "The on-disk protocol" (recovery).

use super::{not_regular, open_dir_nofollow, Queue, TMP_STALE_AFTER};
use crate::backend::Recovery;
use crate::clock;
use crate::error::{Error, Result};
use crate::file::durability::{read_regular, Read};
use crate::file::layout::State;
use crate::file::tracking::flock;
use crate::task::{keys, TaskDoc};
use std::fs::{self, File};

impl Queue {
    /// Finds claim directories whose worker is dead (their `flock` can be taken) and puts their
    /// tasks back in `inbox/`. A task whose handler had been entered ([`Queue::start`]) comes
    /// back with one more attempt counted, or goes to `error/` ("worker died") once it exceeds
    /// `max_attempts`; one that never started comes back untouched. Entries that are not
    /// regular files are moved aside unread. Safe to run from any number of workers at once.
    pub fn recover_dead_workers(&mut self, max_attempts: u64) -> Result<Recovery> {
        self.sweep_tmp();
        let mut rec = Recovery::default();
        let claimed = self.listener.state_dir(State::Claimed);
        let entries = match fs::read_dir(&claimed) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(rec),
            Err(e) => return Err(Error::io("read directory", &claimed, e)),
        };
        for entry in entries.flatten() {
            // Our own directory is skipped only while we hold it: after an error released it
            // (e.g. ENOSPC while settling), its tasks are recovered like a dead worker's.
            if self.claim.is_some() && entry.file_name().to_str() == Some(self.worker_id.as_str()) {
                continue;
            }
            let dir = entry.path();
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let Ok(lock) = open_dir_nofollow(&dir) else {
                continue;
            };
            if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_err() {
                continue; // alive
            }
            let Ok(files) = fs::read_dir(&dir) else {
                continue;
            };
            for f in files.flatten() {
                let path = f.path();
                let Some((seq, started)) = f
                    .file_name()
                    .to_str()
                    .and_then(crate::file::layout::parse_claimed_file_name)
                else {
                    let _ = fs::remove_file(&path);
                    continue;
                };
                let bytes = match read_regular(&path)? {
                    Read::Bytes(b) => b,
                    Read::Gone => continue,
                    Read::NotRegular(t) => {
                        let why = not_regular(&path, t).to_string();
                        self.reject(seq, &path, t, &why)?;
                        rec.failed += 1;
                        continue;
                    }
                };
                match TaskDoc::parse(&bytes, &path) {
                    Err(e) => {
                        self.settle_corrupt(seq, &path, &e.to_string())?;
                        rec.failed += 1;
                    }
                    Ok(doc) if !started => {
                        // Claimed but its handler never entered: back as it was, no attempt
                        // spent.
                        self.publish_to_inbox(doc, &path, seq)?;
                        rec.requeued += 1;
                    }
                    Ok(mut doc) => {
                        let attempts = doc.attempts() + 1;
                        if attempts > max_attempts {
                            doc.set_error(
                                &format!(
                                    "worker died while running the task (attempt {attempts}, limit {})",
                                    max_attempts + 1
                                ),
                                Some("WorkerDied"),
                                clock::now_ms(),
                                attempts,
                            );
                            doc.set(keys::ATTEMPTS, attempts.into());
                            self.rewrite(&doc, &path)?;
                            self.move_final(&path, State::Error, seq)?;
                            rec.failed += 1;
                        } else {
                            doc.set(keys::ATTEMPTS, attempts.into());
                            self.rewrite(&doc, &path)?;
                            self.publish_to_inbox(doc, &path, seq)?;
                            rec.requeued += 1;
                        }
                    }
                }
            }
            let _ = fs::remove_dir(&dir);
        }
        Ok(rec)
    }

    /// Removes what crashed processes left in `tmp/`: staged files older than
    /// [`TMP_STALE_AFTER`] (a dispatch that died before its rename never returned success, so
    /// nothing is lost) and empty, unlocked claim staging directories. Other directories (e.g.
    /// a failed-task retry in progress) are left alone. Best effort: errors are ignored.
    fn sweep_tmp(&self) {
        let tmp = self.listener.tmp_dir();
        let Ok(entries) = fs::read_dir(&tmp) else {
            return;
        };
        let now = std::time::SystemTime::now();
        for e in entries.flatten() {
            let Ok(meta) = e.metadata() else { continue };
            let old = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age > TMP_STALE_AFTER);
            if !old {
                continue;
            }
            let name = e.file_name();
            let name = name.to_string_lossy();
            if meta.is_file() && name.ends_with(".tmp") {
                let _ = fs::remove_file(e.path());
            } else if meta.is_dir() && name.starts_with("claim-") {
                if let Ok(lock) = File::open(e.path()) {
                    if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_ok() {
                        let _ = fs::remove_dir(e.path());
                    }
                }
            }
        }
    }
}
