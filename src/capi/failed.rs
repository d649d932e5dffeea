//! Failed tasks (`error/`) of a handler's listener: count, list, read the reason, retry, delete.
//!
//! The core has no API for these yet, so they are built here from the crate's own atomic steps:
//! a retry rewrites the task (error and attempt counts removed) into `tmp/`, publishes it into
//! `inbox/` with a rename that never replaces a file, then unlinks the `error/` file, all under
//! the listener's `tracking.json` lock so two concurrent retries cannot both publish it. A crash
//! between publish and unlink leaves the task in both places (run again: at-least-once, never
//! lost).

use super::handler::hurah_handler;
use super::status::{boundary, hurah_error, hurah_status, Failure};
use super::strings::{put_out, to_c_string};
use crate::durability::{rename_noreplace, unique_tmp_name, write_exclusive, Renamed};
use crate::error::{Error, IoContext};
use crate::layout::{parse_final_file_name, Listener, State};
use crate::task::{keys, TaskDoc};
use crate::tracking::TrackingLock;
use crate::{clock, FsyncPolicy};
use std::ffi::c_char;
use std::fs;
use std::path::PathBuf;

/// Pass as `sequence` to `hurah_handler_failed_retry()` / `hurah_handler_failed_delete()` to
/// act on every failed task of the listener (`UINT64_MAX`).
pub const HURAH_ALL_TASKS: u64 = 0xFFFF_FFFF_FFFF_FFFF;

/// `error/` files as `(seq, path)`, by sequence then name.
fn failed_files(l: &Listener) -> Result<Vec<(u64, PathBuf)>, Error> {
    let dir = l.state_dir(State::Error);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read directory", &dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.ctx("read directory", &dir)?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_final_file_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The files of `sequence` (or all); `HURAH_NOT_FOUND` when a given sequence has none.
fn select(l: &Listener, sequence: u64) -> Result<Vec<(u64, PathBuf)>, Failure> {
    let mut files = failed_files(l)?;
    if sequence != HURAH_ALL_TASKS {
        files.retain(|(s, _)| *s == sequence);
        if files.is_empty() {
            return Err(Error::NotFound {
                what: format!(
                    "failed task {sequence} in {}",
                    l.state_dir(State::Error).display()
                ),
            }
            .into());
        }
    }
    Ok(files)
}

fn is_wrapped_corrupt(doc: &TaskDoc) -> bool {
    let e = doc.error();
    e.and_then(|e| e.get("class")).and_then(|c| c.as_str()) == Some("CorruptTask")
}

/// Moves one `error/` file back to `inbox/` with a fresh attempt count. `Ok(false)`: the file
/// was gone already (retried or deleted by someone else).
fn retry_one(l: &Listener, fsync: FsyncPolicy, seq: u64, path: &PathBuf) -> Result<bool, Error> {
    let mut lock = TrackingLock::acquire(l)?;
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut doc = TaskDoc::parse(&bytes, path)?;
    if is_wrapped_corrupt(&doc) {
        return Err(Error::CorruptTask {
            path: path.clone(),
            reason: "the file was corrupt when it was queued; its original bytes are kept in \
                     it, but it cannot be retried"
                .into(),
        });
    }
    for k in [
        keys::ERROR,
        keys::ATTEMPTS,
        keys::RETRY_COUNT,
        keys::NOT_BEFORE,
    ] {
        doc.remove(k);
    }
    l.ensure()?;
    let mut seq = seq;
    loop {
        let tmp = l.tmp_dir().join(unique_tmp_name("f"));
        write_exclusive(&tmp, doc.to_json().as_bytes(), fsync)?;
        match rename_noreplace(&tmp, &l.inbox_file(seq)) {
            Ok(Renamed::Done) => break,
            Ok(Renamed::Exists) => {
                // The name is in use again: take a new sequence, never overwrite.
                let _ = fs::remove_file(&tmp);
                seq = lock.next();
                doc.set(keys::SEQUENCE, seq.into());
                doc.set(keys::COUNT, seq.into());
            }
            Ok(Renamed::SourceGone) => {
                return Err(Error::io(
                    "publish",
                    &tmp,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "staged file vanished"),
                ))
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        }
    }
    fsync.sync_dir(&l.state_dir(State::Inbox))?;
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("unlink", path, e)),
    }
    fsync.sync_dir(&l.state_dir(State::Error))?;
    lock.commit(&clock::iso8601(clock::now_ms()))?;
    Ok(true)
}

unsafe fn handler_ref<'a>(h: *const hurah_handler) -> Result<&'a hurah_handler, Failure> {
    // SAFETY: h is NULL or live, per the caller's contract.
    unsafe { h.as_ref() }.ok_or_else(|| Failure::null("handler"))
}

/// The number of failed tasks (files in `error/`) of the handler's listener, into `*count`.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h or count is NULL); `HURAH_IO` and the other
/// file-system statuses; `HURAH_PANIC`. Errors go to `*err` as in `hurah_handler_new()`.
/// Thread-safe; may be called while the handler runs, and from its callback.
///
/// # Safety
/// `h` is NULL or a live handler; `count` is NULL or writable; `err` is NULL or points to NULL
/// or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_failed_count(
    h: *const hurah_handler,
    count: *mut u64,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: forwarded contract.
        let h = unsafe { handler_ref(h) }?;
        if count.is_null() {
            return Err(Failure::null("count"));
        }
        let n = failed_files(&h.listener)?.len() as u64;
        // SAFETY: count is writable.
        unsafe { *count = n };
        Ok(())
    })
}

/// Lists the sequence numbers of the failed tasks, ascending, into `sequences[0..capacity)`
/// (`sequences` may be NULL when `capacity` is 0); `*total` receives how many there are, which
/// may exceed `capacity` (call again with a larger array). A sequence can appear twice if two
/// failed files share it (`5.json` and `5.1.json`).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h or total is NULL, or sequences is NULL with a
/// non-zero capacity); the file-system statuses; `HURAH_PANIC`. Thread-safe.
///
/// # Safety
/// `h` is NULL or a live handler; `sequences` is NULL or writable for `capacity` values;
/// `total` is NULL or writable; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_failed_list(
    h: *const hurah_handler,
    sequences: *mut u64,
    capacity: usize,
    total: *mut usize,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: forwarded contract.
        let h = unsafe { handler_ref(h) }?;
        if total.is_null() {
            return Err(Failure::null("total"));
        }
        if sequences.is_null() && capacity > 0 {
            return Err(Failure::null("sequences"));
        }
        let files = failed_files(&h.listener)?;
        for (i, (seq, _)) in files.iter().take(capacity).enumerate() {
            // SAFETY: i < capacity and sequences is writable for capacity values.
            unsafe { sequences.add(i).write(*seq) };
        }
        // SAFETY: total is writable.
        unsafe { *total = files.len() };
        Ok(())
    })
}

/// The stored failure reason of failed task `sequence` (the first file if several share it):
/// `*reason` receives a NUL-terminated string the caller frees with `hurah_string_free()`
/// ("" if the file records none, e.g. written by hurah/events); NULL on failure.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h or reason is NULL); `HURAH_NOT_FOUND`;
/// `HURAH_CORRUPT_TASK` (the file cannot be parsed); the file-system statuses; `HURAH_PANIC`.
/// Thread-safe.
///
/// # Safety
/// `h` is NULL or a live handler; `reason` is NULL or writable; `err` is NULL or points to NULL
/// or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_failed_reason(
    h: *const hurah_handler,
    sequence: u64,
    reason: *mut *mut c_char,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        if reason.is_null() {
            return Err(Failure::null("reason"));
        }
        // SAFETY: reason is writable.
        unsafe { *reason = std::ptr::null_mut() };
        // SAFETY: forwarded contract.
        let h = unsafe { handler_ref(h) }?;
        if sequence == HURAH_ALL_TASKS {
            return Err(Failure::new(
                hurah_status::HURAH_INVALID_ARGUMENT,
                "HURAH_ALL_TASKS is not a sequence number",
            ));
        }
        let (_, path) = select(&h.listener, sequence)?.remove(0);
        let bytes = fs::read(&path).ctx("read", &path)?;
        let doc = TaskDoc::parse(&bytes, &path)?;
        let text = doc
            .error()
            .and_then(|e| e.get("reason"))
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string();
        // SAFETY: reason is writable.
        unsafe { *reason = to_c_string(text).into_raw() };
        Ok(())
    })
}

/// Puts failed task `sequence` (every file with that sequence), or every failed task with
/// `HURAH_ALL_TASKS`, back in `inbox/` with its attempt count reset and its error removed, so
/// it runs again with the full max attempts. It keeps its sequence number unless that name is
/// in use again (then it gets a new one). `*retried` (if not NULL) receives how many tasks were
/// put back. With `HURAH_ALL_TASKS`, tasks that were corrupt files when they failed are skipped
/// (they cannot run); files retried or deleted concurrently by someone else are not counted.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h is NULL); `HURAH_NOT_FOUND` (no failed task
/// `sequence`); `HURAH_CORRUPT_TASK` (that task's file cannot be parsed, or was a corrupt file
/// when it failed); the file-system statuses; `HURAH_PANIC`. Thread-safe; safe against other
/// processes retrying, handling or dispatching at the same time.
///
/// # Safety
/// `h` is NULL or a live handler; `retried` is NULL or writable; `err` is NULL or points to
/// NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_failed_retry(
    h: *const hurah_handler,
    sequence: u64,
    retried: *mut u64,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: retried is NULL or writable.
        unsafe { put_out(retried, 0) };
        // SAFETY: forwarded contract.
        let h = unsafe { handler_ref(h) }?;
        let mut n = 0u64;
        for (seq, path) in select(&h.listener, sequence)? {
            match retry_one(&h.listener, h.fsync, seq, &path) {
                Ok(true) => n += 1,
                Ok(false) => {}
                Err(Error::CorruptTask { .. }) if sequence == HURAH_ALL_TASKS => {}
                Err(e) => {
                    // SAFETY: as above.
                    unsafe { put_out(retried, n) };
                    return Err(e.into());
                }
            }
        }
        // SAFETY: as above.
        unsafe { put_out(retried, n) };
        Ok(())
    })
}

/// Deletes failed task `sequence` (every file with that sequence), or every failed task with
/// `HURAH_ALL_TASKS`, from `error/`. `*deleted` (if not NULL) receives how many files were
/// removed (files removed concurrently by someone else are not counted).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h is NULL); `HURAH_NOT_FOUND` (no failed task
/// `sequence`); the file-system statuses; `HURAH_PANIC`. Thread-safe.
///
/// # Safety
/// `h` is NULL or a live handler; `deleted` is NULL or writable; `err` is NULL or points to
/// NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_handler_failed_delete(
    h: *const hurah_handler,
    sequence: u64,
    deleted: *mut u64,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: deleted is NULL or writable.
        unsafe { put_out(deleted, 0) };
        // SAFETY: forwarded contract.
        let h = unsafe { handler_ref(h) }?;
        let mut n = 0u64;
        for (_, path) in select(&h.listener, sequence)? {
            match fs::remove_file(&path) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    // SAFETY: as above.
                    unsafe { put_out(deleted, n) };
                    return Err(Error::io("unlink", &path, e).into());
                }
            }
        }
        h.fsync.sync_dir(&h.listener.state_dir(State::Error))?;
        // SAFETY: as above.
        unsafe { put_out(deleted, n) };
        Ok(())
    })
}
