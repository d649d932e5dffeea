//! `hurah_task`: what a task callback sees, and what it can say back besides its return code.

use super::status::{guard, hurah_status, hurah_status::*};
use super::strings::{c_utf8, put_out, to_c_string};
use crate::{Outcome, Task};
use std::cell::{Cell, OnceCell, RefCell};
use std::ffi::{c_char, c_int, CString};
use std::time::Duration;

/// Callback return code: the task is done; it goes to `archive/`.
pub const HURAH_SUCCESS: c_int = 0;
/// Callback return code: the task failed; it goes to `error/` with the reason set by
/// `hurah_task_set_reason()` (default "Task failed").
pub const HURAH_FAILURE: c_int = 1;
/// Callback return code: try again later: back to `inbox/` (or `delayed/` after the retry
/// delay), or to `error/` once the handler's max attempts are used up, with the reason "Hit
/// retry limit which is set to: M." followed by " Last attempt: <reason>" when the last run set
/// one with `hurah_task_set_reason()`.
pub const HURAH_RETRY: c_int = 2;
/// Callback return code: the task can never succeed; it goes to `error/` with the reason set
/// by `hurah_task_set_reason()` (default "Task was invalid").
pub const HURAH_INVALID: c_int = 3;

/// One task, as passed to a `hurah_task_callback`. Borrowed: the pointer and every string
/// obtained from it are valid only until the callback returns, and only on the thread running
/// the callback. Copy what you need to keep.
pub struct hurah_task {
    task: *const Task,
    payload: OnceCell<CString>,
    id: OnceCell<CString>,
    event_type: OnceCell<CString>,
    delivery: OnceCell<CString>,
    reason: RefCell<Option<String>>,
    retry_delay: Cell<Option<Duration>>,
}

impl hurah_task {
    pub(crate) fn new(task: &Task) -> Self {
        hurah_task {
            task,
            payload: OnceCell::new(),
            id: OnceCell::new(),
            event_type: OnceCell::new(),
            delivery: OnceCell::new(),
            reason: RefCell::new(None),
            retry_delay: Cell::new(None),
        }
    }

    fn task(&self) -> &Task {
        // SAFETY: a hurah_task only exists while the Task it points to is borrowed by the
        // callback bridge (see handler.rs), so the pointer is live.
        unsafe { &*self.task }
    }

    /// The outcome of a callback that returned `code` after using this task's setters (a
    /// RETRY's reason goes with the task: kept if the retry hits the limit).
    pub(crate) fn outcome(&self, code: c_int) -> Outcome {
        let reason = self.reason.borrow_mut().take();
        match code {
            HURAH_SUCCESS => Outcome::Success,
            HURAH_RETRY => {
                if let Some(r) = reason {
                    self.task().say_why(r);
                }
                Outcome::Retry {
                    delay: self.retry_delay.get(),
                }
            }
            HURAH_FAILURE => match reason {
                Some(r) => Outcome::failure(r),
                None => Outcome::from_code(i64::from(code)),
            },
            HURAH_INVALID => match reason {
                Some(reason) => Outcome::Invalid { reason },
                None => Outcome::from_code(i64::from(code)),
            },
            other => match (Outcome::from_code(i64::from(other)), reason) {
                (
                    Outcome::Failure {
                        reason: unknown, ..
                    },
                    Some(r),
                ) => Outcome::failure(format!("{r} ({unknown})")),
                (o, _) => o,
            },
        }
    }
}

/// Borrowed task pointer, or None.
unsafe fn task_ref<'a>(task: *const hurah_task) -> Option<&'a hurah_task> {
    // SAFETY: the caller passes NULL or the live task of the running callback.
    unsafe { task.as_ref() }
}

/// The payload as JSON text (compact, keys in their dispatched order), NUL-terminated; `*len`
/// (if `len` is not NULL) receives its length in bytes without the NUL. NULL if `task` is
/// NULL. Borrowed: valid until the callback returns.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_payload(
    task: *const hurah_task,
    len: *mut usize,
) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: forwarded contract.
        let Some(t) = (unsafe { task_ref(task) }) else {
            // SAFETY: len is NULL or writable.
            unsafe { put_out(len, 0) };
            return std::ptr::null();
        };
        let s = t.payload.get_or_init(|| {
            to_c_string(serde_json::to_string(t.task().payload()).unwrap_or_else(|_| "null".into()))
        });
        // SAFETY: len is NULL or writable.
        unsafe { put_out(len, s.as_bytes().len()) };
        s.as_ptr()
    })
}

/// The task's sequence number in its listener (the `<seq>` of `<seq>.json`); 0 if `task` is
/// NULL.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_sequence(task: *const hurah_task) -> u64 {
    // SAFETY: forwarded contract.
    guard(0, || {
        unsafe { task_ref(task) }.map_or(0, |t| t.task().sequence())
    })
}

/// Which run of this task this is, from 1 (2 on the first retry, ...); 0 if `task` is NULL.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_attempt(task: *const hurah_task) -> u64 {
    // SAFETY: forwarded contract.
    guard(0, || {
        unsafe { task_ref(task) }.map_or(0, |t| t.task().attempt())
    })
}

fn cached(cell: &OnceCell<CString>, make: impl FnOnce() -> String) -> *const c_char {
    cell.get_or_init(|| to_c_string(make())).as_ptr()
}

/// The dispatch id (30 hex digits, the same in every listener's copy; the sequence number as
/// text for tasks written by hurah/events), NUL-terminated. NULL if `task` is NULL. Borrowed:
/// valid until the callback returns.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_id(task: *const hurah_task) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: forwarded contract.
        unsafe { task_ref(task) }.map_or(std::ptr::null(), |t| cached(&t.id, || t.task().id()))
    })
}

/// The dispatched event type (e.g. `"product/created"`, possibly more specific than the
/// handler's own), NUL-terminated. NULL if `task` is NULL. Borrowed: valid until the callback
/// returns.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_event_type(task: *const hurah_task) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: forwarded contract.
        unsafe { task_ref(task) }.map_or(std::ptr::null(), |t| {
            cached(&t.event_type, || t.task().event_type())
        })
    })
}

/// The delivery time, ISO-8601 (`"2026-11-25T12:00:00+00:00"`; `""` if the file has none),
/// NUL-terminated. NULL if `task` is NULL. Borrowed: valid until the callback returns.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_delivery(task: *const hurah_task) -> *const c_char {
    guard(std::ptr::null(), || {
        // SAFETY: forwarded contract.
        unsafe { task_ref(task) }.map_or(std::ptr::null(), |t| {
            cached(&t.delivery, || t.task().delivery().to_string())
        })
    })
}

/// Sets the reason stored in the task file when the callback returns `HURAH_FAILURE` or
/// `HURAH_INVALID`, or `HURAH_RETRY` on its last allowed attempt (after the retry-limit text)
/// (the string is copied; a later call replaces it). Call it from the callback
/// only. Returns `HURAH_OK`, `HURAH_NULL_POINTER` (task or reason is NULL) or
/// `HURAH_INVALID_UTF8`.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback; `reason` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_set_reason(
    task: *const hurah_task,
    reason: *const c_char,
) -> hurah_status {
    guard(HURAH_PANIC, || {
        // SAFETY: forwarded contract.
        let Some(t) = (unsafe { task_ref(task) }) else {
            return HURAH_NULL_POINTER;
        };
        // SAFETY: forwarded contract.
        match unsafe { c_utf8(reason, "reason") } {
            Ok(r) => {
                *t.reason.borrow_mut() = Some(r.to_string());
                HURAH_OK
            }
            Err(f) => f.status,
        }
    })
}

/// Sets how long to wait before the next run when the callback returns `HURAH_RETRY`
/// (overrides the handler's retry delay; 0 means straight back to `inbox/`). Call it from the
/// callback only. Returns `HURAH_OK` or `HURAH_NULL_POINTER`.
///
/// # Safety
/// `task` is NULL or the task passed to the running callback.
#[no_mangle]
pub unsafe extern "C" fn hurah_task_set_retry_delay(
    task: *const hurah_task,
    delay_ms: u64,
) -> hurah_status {
    guard(HURAH_PANIC, || {
        // SAFETY: forwarded contract.
        let Some(t) = (unsafe { task_ref(task) }) else {
            return HURAH_NULL_POINTER;
        };
        t.retry_delay.set(Some(Duration::from_millis(delay_ms)));
        HURAH_OK
    })
}
