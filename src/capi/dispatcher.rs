//! `hurah_dispatcher`: writes tasks into the queues of every listener of an event type, on
//! whichever backend its root names (the core's [`Backend`] seam: a directory or a
//! `postgresql://` URL).

use super::options::{hurah_options, opts_or_default};
use super::status::{boundary, guard, hurah_error, hurah_status, Failure};
use super::strings::{c_path, c_utf8, put_out, to_c_string};
use crate::backend::Backend;
use crate::{clock, DispatchOptions, EventType};
use std::ffi::{c_char, CString};

/// A dispatcher on one queue root (a directory or a PostgreSQL URL). Create with
/// `hurah_dispatcher_new()`, free with `hurah_dispatcher_free()`.
///
/// Thread-safe: one dispatcher may be used by any number of threads at once, and any number of
/// processes may dispatch into the same root at once (sequences are allocated under `flock`,
/// or in the database).
pub struct hurah_dispatcher {
    inner: Box<dyn Backend>,
}

/// Creates a dispatcher on the queue root `root`: a directory (created with its parents if
/// missing; it must then be a writable directory), or a `postgresql://` / `postgres://` URL
/// (it connects, creating or upgrading the schema `hurah` if needed). `opts` may be NULL
/// (defaults); only its fsync setting is read (it does not apply to a URL: the server's
/// `synchronous_commit` does).
///
/// On success `*out` receives the dispatcher (owned by the caller: `hurah_dispatcher_free()`).
/// On failure `*out` is set to NULL and, if `err` is not NULL, `*err` receives an error the
/// caller frees with `hurah_error_free()` (an error already in `*err` is freed and replaced).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (root or out is NULL); `HURAH_INVALID_ARGUMENT`
/// (root is empty, or a malformed URL); `HURAH_PERMISSION_DENIED`, `HURAH_READ_ONLY`,
/// `HURAH_NO_SPACE` or `HURAH_IO` (the root cannot be created or written, e.g. a path under a
/// regular file); `HURAH_DATABASE` (for a URL: the database cannot be reached or refuses the
/// connection, the message naming `host:port/db`); `HURAH_PANIC`.
///
/// # Safety
/// `root` is NULL or a NUL-terminated string; `opts` is NULL or a live options object; `out`
/// is NULL or valid for a write; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_dispatcher_new(
    root: *const c_char,
    opts: *const hurah_options,
    out: *mut *mut hurah_dispatcher,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        if out.is_null() {
            return Err(Failure::null("out"));
        }
        // SAFETY: out is valid for a write (checked non-NULL above).
        unsafe { *out = std::ptr::null_mut() };
        // SAFETY: forwarded contract.
        let root = unsafe { c_path(root, "root") }?;
        // SAFETY: forwarded contract.
        let opts = unsafe { opts_or_default(opts) };
        let inner = super::open_backend(&root, opts.fsync)?;
        let d = Box::into_raw(Box::new(hurah_dispatcher { inner }));
        // SAFETY: as above.
        unsafe { *out = d };
        Ok(())
    })
}

/// Frees a dispatcher. NULL is accepted and ignored. No call on it may be running.
///
/// # Safety
/// `d` is NULL or a dispatcher from `hurah_dispatcher_new()` not freed yet.
#[no_mangle]
pub unsafe extern "C" fn hurah_dispatcher_free(d: *mut hurah_dispatcher) {
    guard((), || {
        if !d.is_null() {
            // SAFETY: ownership comes back from the caller.
            drop(unsafe { Box::from_raw(d) });
        }
    })
}

/// Dispatches one event: a copy of the task goes to every listener of `event_type`, of each of
/// its ancestors (`product` for `product/created`) and of the root. A listener exists once a
/// handler for it was created (`hurah_handler_new()`), in any process or language: dispatching
/// before that reaches nobody, which is not an error (`hurah_dispatcher_listener_count()` tells).
///
/// - `event_type`: NUL-terminated UTF-8, e.g. `"product/created"`; `""` is the root type.
/// - `json`, `json_len`: the payload, JSON text of exactly `json_len` bytes (no NUL needed).
///   `json` NULL means the JSON `null` payload (`json_len` is then ignored).
/// - `delay_ms`: 0 for due now; otherwise the task waits in `delayed/` until then.
/// - `id_out`: NULL, or receives the dispatch id (30 hex digits, shared by all copies), a
///   NUL-terminated string the caller frees with `hurah_string_free()`. Set to NULL on failure.
///
/// Durable on return with fsync policy always (on a PostgreSQL root: committed when it
/// returns). Either every copy is published or, if staging any copy fails, none is (disk full,
/// read-only, ...; on PostgreSQL all copies are inserted in one transaction).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (d or event_type is NULL); `HURAH_INVALID_UTF8`
/// (event_type or json is not UTF-8); `HURAH_INVALID_EVENT_TYPE`; `HURAH_INVALID_JSON`;
/// `HURAH_NO_SPACE`, `HURAH_READ_ONLY`, `HURAH_PERMISSION_DENIED`, `HURAH_IO`;
/// `HURAH_DATABASE`; `HURAH_PANIC`. Nothing is written when validation fails. Errors go to `*err` as in
/// `hurah_dispatcher_new()`.
///
/// Thread-safe.
///
/// # Safety
/// `d` is NULL or a live dispatcher; `event_type` is NULL or NUL-terminated; `json` is NULL or
/// valid for `json_len` bytes of reads; `id_out` is NULL or valid for a write; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_dispatcher_dispatch(
    d: *const hurah_dispatcher,
    event_type: *const c_char,
    json: *const c_char,
    json_len: usize,
    delay_ms: u64,
    id_out: *mut *mut c_char,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: id_out is NULL or valid for a write.
        unsafe { put_out(id_out, std::ptr::null_mut()) };
        // SAFETY: d is NULL or live.
        let d = unsafe { d.as_ref() }.ok_or_else(|| Failure::null("dispatcher"))?;
        // SAFETY: forwarded contract.
        let event_type = unsafe { c_utf8(event_type, "event_type") }?;
        // SAFETY: json is NULL or valid for json_len bytes.
        let payload = unsafe { payload_text(json, json_len, "payload") }?;
        let event_type = EventType::parse(event_type)?;
        let not_before_ms = (delay_ms > 0).then(|| clock::now_ms().saturating_add(delay_ms));
        let receipt = d
            .inner
            .dispatch(&event_type, payload, DispatchOptions { not_before_ms })?;
        if !id_out.is_null() {
            let id = to_c_string(receipt.id);
            // SAFETY: id_out is valid for a write.
            unsafe { *id_out = id.into_raw() };
        }
        Ok(())
    })
}

/// One event of a batch for `hurah_dispatcher_dispatch_many()`: the same three arguments as
/// `hurah_dispatcher_dispatch()` takes (`json` NULL means the JSON `null` payload).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct hurah_event {
    /// NUL-terminated UTF-8 event type, e.g. `"product/created"`; `""` is the root type.
    pub event_type: *const c_char,
    /// The payload: JSON text of exactly `json_len` bytes, or NULL for `null`.
    pub json: *const c_char,
    /// Length of `json` in bytes.
    pub json_len: usize,
}

/// Dispatches `count` events in one call, each as `hurah_dispatcher_dispatch()` would, all with
/// the same `delay_ms`. Every event type and payload is checked before anything is written
/// (a bad one fails the call naming it as `event #i`, nothing written). On a PostgreSQL root
/// the batch is one transaction (one commit: all events or none, the fast way to enqueue in
/// bulk); on a directory each event is published in turn, each all or nothing, and an I/O
/// error (disk full, ...) stops the batch with the events before it dispatched.
///
/// - `events`: an array of `count` events (may be NULL when `count` is 0).
/// - `ids_out`: NULL, or an array of `count` pointers that receives the dispatch ids in order,
///   each a NUL-terminated string the caller frees with `hurah_string_free()`. On failure
///   every entry is set to NULL (nothing to free).
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (d is NULL, events is NULL with a non-zero count,
/// or an event's event_type is NULL); `HURAH_INVALID_UTF8`; `HURAH_INVALID_EVENT_TYPE`;
/// `HURAH_INVALID_JSON`; `HURAH_NO_SPACE`, `HURAH_READ_ONLY`, `HURAH_PERMISSION_DENIED`,
/// `HURAH_IO`; `HURAH_DATABASE`; `HURAH_PANIC`. Errors go to `*err` as in
/// `hurah_dispatcher_new()`.
///
/// Thread-safe.
///
/// # Safety
/// `d` is NULL or a live dispatcher; `events` is NULL or valid for `count` reads, each event's
/// strings as in `hurah_dispatcher_dispatch()`; `ids_out` is NULL or valid for `count` writes;
/// `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_dispatcher_dispatch_many(
    d: *const hurah_dispatcher,
    events: *const hurah_event,
    count: usize,
    delay_ms: u64,
    ids_out: *mut *mut c_char,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        if !ids_out.is_null() {
            for i in 0..count {
                // SAFETY: ids_out is valid for count writes.
                unsafe { ids_out.add(i).write(std::ptr::null_mut()) };
            }
        }
        // SAFETY: d is NULL or live.
        let d = unsafe { d.as_ref() }.ok_or_else(|| Failure::null("dispatcher"))?;
        if events.is_null() && count > 0 {
            return Err(Failure::null("events"));
        }
        let mut batch = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: events is valid for count reads.
            let e = unsafe { events.add(i).read() };
            // SAFETY: forwarded contract.
            let event_type = unsafe { c_utf8(e.event_type, &format!("event #{i}: event_type")) }?;
            // SAFETY: the event's json is NULL or valid for json_len bytes.
            let payload =
                unsafe { payload_text(e.json, e.json_len, &format!("event #{i}: payload")) }?;
            let event_type = EventType::parse(event_type).map_err(|x| in_event(i, x))?;
            crate::json::validate_payload(payload).map_err(|x| in_event(i, x))?;
            batch.push((event_type, payload.to_string()));
        }
        let not_before_ms = (delay_ms > 0).then(|| clock::now_ms().saturating_add(delay_ms));
        let receipts = d
            .inner
            .dispatch_many(&batch, DispatchOptions { not_before_ms })?;
        if !ids_out.is_null() {
            for (i, r) in receipts.into_iter().enumerate() {
                // SAFETY: ids_out is valid for count writes; i < count.
                unsafe { ids_out.add(i).write(to_c_string(r.id).into_raw()) };
            }
        }
        Ok(())
    })
}

/// The payload text of a `json`/`json_len` argument pair: NULL is the JSON `null`; otherwise
/// the bytes must be UTF-8 (`HURAH_INVALID_UTF8` naming `what`).
///
/// # Safety
/// `json` is NULL or valid for `json_len` bytes of reads, for `'a`.
unsafe fn payload_text<'a>(
    json: *const c_char,
    json_len: usize,
    what: &str,
) -> Result<&'a str, Failure> {
    if json.is_null() {
        return Ok("null");
    }
    // SAFETY: forwarded contract.
    let bytes = unsafe { std::slice::from_raw_parts(json.cast::<u8>(), json_len) };
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            hurah_status::HURAH_INVALID_UTF8,
            format!("{what} is not valid UTF-8: {e}"),
        )
    })
}

/// `e` with "event #i: " in front of its message, same status.
fn in_event(i: usize, e: crate::Error) -> Failure {
    let f = Failure::from(e);
    Failure::new(f.status, format!("event #{i}: {}", f.message))
}

/// Cancels dispatch `id` (as returned by `hurah_dispatcher_dispatch()`): removes every copy of
/// it still waiting in a `delayed/` directory under the dispatcher's root (on a PostgreSQL
/// root: every delayed copy not due yet). Copies already due (moved to `inbox/`), running or
/// done are left alone. `*cancelled` (if not NULL) receives how many copies were removed; 0 is
/// not an error (unknown id, or every copy already due). On a directory it reads the id of
/// every delayed task under the root, so it costs one small read per delayed task; on
/// PostgreSQL it is one `DELETE`.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (d or id is NULL); `HURAH_INVALID_UTF8`; the
/// file-system statuses; `HURAH_DATABASE`; `HURAH_PANIC`. Thread-safe;
/// safe while workers run.
///
/// # Safety
/// `d` is NULL or a live dispatcher; `id` is NULL or NUL-terminated; `cancelled` is NULL or
/// writable; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_dispatcher_cancel(
    d: *const hurah_dispatcher,
    id: *const c_char,
    cancelled: *mut u64,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: cancelled is NULL or writable.
        unsafe { put_out(cancelled, 0) };
        // SAFETY: d is NULL or live.
        let d = unsafe { d.as_ref() }.ok_or_else(|| Failure::null("dispatcher"))?;
        // SAFETY: forwarded contract.
        let id = unsafe { c_utf8(id, "id") }?;
        let c = d.inner.cancel(id)?;
        // SAFETY: as above.
        unsafe { put_out(cancelled, c.cancelled) };
        Ok(())
    })
}

/// How many listeners a dispatch of `event_type` would reach now (its own level, each
/// ancestor, the root), into `*count`. Useful to warn when nobody listens yet.
///
/// Returns `HURAH_OK`; `HURAH_NULL_POINTER` (d, event_type or count is NULL);
/// `HURAH_INVALID_UTF8`; `HURAH_INVALID_EVENT_TYPE`; the file-system statuses;
/// `HURAH_DATABASE`; `HURAH_PANIC`. Thread-safe.
///
/// # Safety
/// `d` is NULL or a live dispatcher; `event_type` is NULL or NUL-terminated; `count` is NULL
/// or writable; `err` is NULL or points to NULL or a live error.
#[no_mangle]
pub unsafe extern "C" fn hurah_dispatcher_listener_count(
    d: *const hurah_dispatcher,
    event_type: *const c_char,
    count: *mut usize,
    err: *mut *mut hurah_error,
) -> hurah_status {
    boundary(err, || {
        // SAFETY: d is NULL or live.
        let d = unsafe { d.as_ref() }.ok_or_else(|| Failure::null("dispatcher"))?;
        // SAFETY: forwarded contract.
        let event_type = EventType::parse(unsafe { c_utf8(event_type, "event_type") }?)?;
        if count.is_null() {
            return Err(Failure::null("count"));
        }
        let n = d.inner.listeners_for(&event_type)?.len();
        // SAFETY: count is writable.
        unsafe { *count = n };
        Ok(())
    })
}

/// Frees a string returned by this library through a `char **` out-argument (dispatch ids,
/// failure reasons). NULL is accepted and ignored.
///
/// # Safety
/// `s` is NULL or a string from this library not freed yet.
#[no_mangle]
pub unsafe extern "C" fn hurah_string_free(s: *mut c_char) {
    guard((), || {
        if !s.is_null() {
            // SAFETY: s came from CString::into_raw in this library.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
