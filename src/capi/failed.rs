//! Failed tasks (`error/`, or state `error` on PostgreSQL) of a handler's listener: count,
//! list, read the reason, retry, delete.
//!
//! Thin wrappers over the core's backend seam ([`crate::backend::Backend`]: `tasks` with
//! [`TaskState::Failed`], `retry_failed`, `delete_failed`), so they work on either kind of
//! root. On a directory (the core's `crate::failed`, shared with the CLI) a
//! retry moves the file into a locked staging directory, rewrites it there and publishes it
//! into `inbox/` with a rename that never replaces a file, so a crash at any point leaves the
//! task in exactly one place (an interrupted retry is finished by the next one); on PostgreSQL
//! it is one `UPDATE`. The backend's methods take `&self` (PostgreSQL uses a connection of its
//! own), so these calls never wait for a running `handle`/`watch`.

use super::handler::hurah_handler;
use super::status::{boundary, hurah_error, hurah_status, Failure};
use super::strings::{put_out, to_c_string};
use crate::backend::{FailedAction, Pick, TaskEntry, TaskState};
use crate::error::{Error, Result};
use std::ffi::c_char;

/// Pass as `sequence` to `hurah_handler_failed_retry()` / `hurah_handler_failed_delete()` to
/// act on every failed task of the listener (`UINT64_MAX`).
pub const HURAH_ALL_TASKS: u64 = 0xFFFF_FFFF_FFFF_FFFF;

/// The failed tasks of the handler's listener, ascending by sequence (the sort is stable and
/// a no-op on a directory; PostgreSQL lists them by due time).
fn failed_tasks(h: &hurah_handler) -> Result<Vec<TaskEntry>, Failure> {
    let mut tasks = h.backend.tasks(&h.event_type, &h.name, TaskState::Failed)?;
    tasks.sort_by_key(|t| t.sequence);
    Ok(tasks)
}

/// `sequence` as the backend takes it: `None` for `HURAH_ALL_TASKS`.
/// Retries or deletes failed task `sequence` (every failed task with `HURAH_ALL_TASKS`),
/// counting the tasks acted on in `n`, also when an error stops the call half-way. For one task
/// its error is the call's; for all, tasks stored as corrupt are skipped by a retry (they
/// cannot run as they are) and any other error stops the call.
fn act(h: &hurah_handler, sequence: u64, action: FailedAction, n: &mut u64) -> Result<()> {
    let one = [sequence];
    let all = sequence == HURAH_ALL_TASKS;
    let pick = if all {
        Pick::All
    } else {
        Pick::Sequences(&one)
    };
    h.backend
        .failed(&h.event_type, &h.name, pick, action, &mut |_, r| match r {
            Ok(()) => {
                *n += 1;
                Ok(())
            }
            Err(Error::CorruptTask { .. }) if all && action == FailedAction::Retry => Ok(()),
            Err(e) => Err(e),
        })
}

unsafe fn handler_ref<'a>(h: *const hurah_handler) -> Result<&'a hurah_handler, Failure> {
    // SAFETY: h is NULL or live, per the caller's contract.
    unsafe { h.as_ref() }.ok_or_else(|| Failure::null("handler"))
}

/// The number of failed tasks (files in `error/`; on a PostgreSQL root, tasks in state
/// `error`) of the handler's listener, into `*count`.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h or count is NULL); the file-system
/// statuses; `HURAH_DATABASE`; `HURAH_PANIC`. Errors go to `*err` as in
/// `hurah_handler_new()`. Thread-safe; may be called while the handler runs, and from its
/// callback (this holds for every failed-task function, on either kind of root).
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
        let n = failed_tasks(h)?.len() as u64;
        // SAFETY: count is writable.
        unsafe { *count = n };
        Ok(())
    })
}

/// Lists the sequence numbers of the failed tasks, ascending, into `sequences[0..capacity)`
/// (`sequences` may be NULL when `capacity` is 0); `*total` receives how many there are, which
/// may exceed `capacity` (call again with a larger array). On a directory a sequence can
/// appear twice if two failed files share it (`5.json` and `5.1.json`).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h or total is NULL, or sequences is NULL with a
/// non-zero capacity); the file-system statuses; `HURAH_DATABASE`;
/// `HURAH_PANIC`. Thread-safe.
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
        let tasks = failed_tasks(h)?;
        for (i, t) in tasks.iter().take(capacity).enumerate() {
            // SAFETY: i < capacity and sequences is writable for capacity values.
            unsafe { sequences.add(i).write(t.sequence) };
        }
        // SAFETY: total is writable.
        unsafe { *total = tasks.len() };
        Ok(())
    })
}

/// The stored failure reason of failed task `sequence` (the first file if several share it):
/// `*reason` receives a NUL-terminated string the caller frees with `hurah_string_free()`
/// ("" if the file records none, e.g. written by hurah/events); NULL on failure.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h or reason is NULL); `HURAH_INVALID_ARGUMENT`
/// (sequence is `HURAH_ALL_TASKS`); `HURAH_NOT_FOUND`; `HURAH_CORRUPT_TASK` (the file cannot
/// be parsed); the file-system statuses; `HURAH_DATABASE`; `HURAH_PANIC`.
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
        let task = failed_tasks(h)?
            .into_iter()
            .find(|t| t.sequence == sequence)
            .ok_or_else(|| Error::NotFound {
                what: format!("failed task {sequence} of {}", h.label),
            })?;
        let Some(doc) = &task.doc else {
            // Stored as corrupt: the entry's error says why it cannot be read.
            return Err(Error::CorruptTask {
                path: task.location.into(),
                reason: task.error.map(|e| e.reason).unwrap_or_default(),
            }
            .into());
        };
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
/// it runs again with the full max attempts (on PostgreSQL: back to state `inbox`, due at once;
/// waiting workers are woken). It keeps its sequence number unless that name is in use again
/// (then it gets a new one). `*retried` (if not NULL) receives how many tasks were put back,
/// also when an error stops the call half-way. With `HURAH_ALL_TASKS`, tasks that were corrupt
/// files when they failed are skipped (they cannot run); tasks retried or deleted concurrently
/// by someone else are not counted.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h is NULL); `HURAH_NOT_FOUND` (no failed task
/// `sequence`); `HURAH_CORRUPT_TASK` (that task's file cannot be parsed, or was a corrupt file
/// when it failed); the file-system statuses; `HURAH_DATABASE`; `HURAH_PANIC`. Thread-safe; safe against other processes retrying, handling or dispatching
/// at the same time.
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
        let r = act(h, sequence, FailedAction::Retry, &mut n);
        // SAFETY: as above.
        unsafe { put_out(retried, n) };
        Ok(r?)
    })
}

/// Deletes failed task `sequence` (every file with that sequence), or every failed task with
/// `HURAH_ALL_TASKS`, from `error/` (on PostgreSQL: the rows). `*deleted` (if not NULL)
/// receives how many tasks were removed, also when an error stops the call half-way (tasks
/// removed concurrently by someone else are not counted).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (h is NULL); `HURAH_NOT_FOUND` (no failed task
/// `sequence`); the file-system statuses; `HURAH_DATABASE`; `HURAH_PANIC`.
/// Thread-safe.
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
        let r = act(h, sequence, FailedAction::Delete, &mut n);
        // SAFETY: as above.
        unsafe { put_out(deleted, n) };
        Ok(r?)
    })
}
