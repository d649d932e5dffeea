//! The C ABI with a PostgreSQL URL as the root: hurah_dispatcher_new, hurah_handler_new,
//! hurah_handler_handle and hurah_handler_watch, hurah_dispatcher_cancel/listener_count and
//! the failed-task functions (called from Rust, as C would).

mod pg_support;

use hurah::capi::dispatcher::*;
use hurah::capi::failed::*;
use hurah::capi::handler::*;
use hurah::capi::options::*;
use hurah::capi::status::hurah_status;
use hurah::capi::task::{
    hurah_task, hurah_task_payload, hurah_task_sequence, hurah_task_set_reason,
};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::{null, null_mut};

unsafe extern "C" fn collect(task: *const hurah_task, user_data: *mut c_void) -> c_int {
    let mut len = 0usize;
    let p = unsafe { hurah_task_payload(task, &mut len) };
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    let seen = unsafe { &mut *(user_data as *mut Vec<String>) };
    seen.push(String::from_utf8(bytes.to_vec()).unwrap());
    0
}

#[test]
fn c_abi_dispatches_and_handles_on_postgres() {
    let db = pg_support::TestDb::new();
    let root = CString::new(db.dsn.clone()).unwrap();
    let et = CString::new("a").unwrap();
    let name = CString::new("c_consumer").unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut h = null_mut();
    let mut err = null_mut();
    unsafe {
        assert_eq!(
            hurah_handler_new(
                root.as_ptr(),
                et.as_ptr(),
                name.as_ptr(),
                Some(collect),
                &mut seen as *mut Vec<String> as *mut c_void,
                null(),
                &mut h,
                &mut err,
            ),
            hurah_status::HURAH_OK
        );
        let mut d = null_mut();
        assert_eq!(
            hurah_dispatcher_new(root.as_ptr(), null(), &mut d, &mut err),
            hurah_status::HURAH_OK
        );
        let sub = CString::new("a/b").unwrap();
        for p in ["{\"n\":1}", "{\"n\":2}"] {
            assert_eq!(
                hurah_dispatcher_dispatch(
                    d,
                    sub.as_ptr(),
                    p.as_ptr().cast(),
                    p.len(),
                    0,
                    null_mut(),
                    &mut err
                ),
                hurah_status::HURAH_OK
            );
        }
        let mut stats = hurah_stats::default();
        assert_eq!(
            hurah_handler_handle(h, &mut stats, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(stats.succeeded, 2);
        let p = "{\"n\":3}";
        hurah_dispatcher_dispatch(
            d,
            sub.as_ptr(),
            p.as_ptr().cast(),
            p.len(),
            0,
            null_mut(),
            &mut err,
        );
        let opts = hurah_options_new();
        hurah_options_set_stop_when_empty(opts, true);
        assert_eq!(
            hurah_handler_watch(h, opts, &mut stats, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(stats.succeeded, 1);
        hurah_options_free(opts);
        hurah_dispatcher_free(d);
        hurah_handler_free(h);
    }
    assert_eq!(seen, ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
    // Refused connection: HURAH_DATABASE with the host in the message.
    let bad = CString::new("postgresql://postgres@127.0.0.1:1/x").unwrap();
    let mut d = null_mut();
    let mut err = null_mut();
    unsafe {
        assert_eq!(
            hurah_dispatcher_new(bad.as_ptr(), null(), &mut d, &mut err),
            hurah_status::HURAH_DATABASE
        );
        let msg = std::ffi::CStr::from_ptr(hurah::capi::status::hurah_error_message(err));
        assert!(msg.to_string_lossy().contains("127.0.0.1:1"), "{msg:?}");
        hurah::capi::status::hurah_error_free(err);
    }
}

/// What the failing callback sees and does.
struct Failer {
    h: *mut hurah_handler,
    fail: bool,
    ran: Vec<u64>,
    /// `hurah_handler_failed_count()` called from inside the callback (status, count).
    counts: Vec<(hurah_status, u64)>,
}

unsafe extern "C" fn fail_or_succeed(task: *const hurah_task, user_data: *mut c_void) -> c_int {
    let f = unsafe { &mut *(user_data as *mut Failer) };
    let seq = unsafe { hurah_task_sequence(task) };
    f.ran.push(seq);
    let mut n = 0u64;
    let st = unsafe { hurah_handler_failed_count(f.h, &mut n, null_mut()) };
    f.counts.push((st, n));
    if f.fail {
        let reason = CString::new(format!("boom {seq}")).unwrap();
        assert_eq!(
            unsafe { hurah_task_set_reason(task, reason.as_ptr()) },
            hurah_status::HURAH_OK
        );
        1 // HURAH_FAILURE
    } else {
        0
    }
}

unsafe fn failed_seqs(h: *mut hurah_handler) -> Vec<u64> {
    let mut total = 0usize;
    let st = unsafe { hurah_handler_failed_list(h, null_mut(), 0, &mut total, null_mut()) };
    assert_eq!(st, hurah_status::HURAH_OK);
    let mut seqs = vec![0u64; total];
    let mut again = 0usize;
    let st =
        unsafe { hurah_handler_failed_list(h, seqs.as_mut_ptr(), total, &mut again, null_mut()) };
    assert_eq!(st, hurah_status::HURAH_OK);
    assert_eq!(again, total);
    seqs
}

unsafe fn reason_of(h: *mut hurah_handler, seq: u64) -> Result<String, hurah_status> {
    let mut r: *mut c_char = null_mut();
    let st = unsafe { hurah_handler_failed_reason(h, seq, &mut r, null_mut()) };
    if st != hurah_status::HURAH_OK {
        assert!(r.is_null());
        return Err(st);
    }
    let text = unsafe { CStr::from_ptr(r) }.to_string_lossy().into_owned();
    unsafe { hurah_string_free(r) };
    Ok(text)
}

unsafe fn count(h: *mut hurah_handler) -> u64 {
    let mut n = 99u64;
    let st = unsafe { hurah_handler_failed_count(h, &mut n, null_mut()) };
    assert_eq!(st, hurah_status::HURAH_OK);
    n
}

#[test]
fn c_abi_failed_tasks_on_postgres() {
    let db = pg_support::TestDb::new();
    let root = CString::new(db.dsn.clone()).unwrap();
    let et = CString::new("order").unwrap();
    let name = CString::new("c_failer").unwrap();
    let mut f = Box::new(Failer {
        h: null_mut(),
        fail: true,
        ran: Vec::new(),
        counts: Vec::new(),
    });
    let mut h = null_mut();
    let mut err = null_mut();
    unsafe {
        assert_eq!(
            hurah_handler_new(
                root.as_ptr(),
                et.as_ptr(),
                name.as_ptr(),
                Some(fail_or_succeed),
                &mut *f as *mut Failer as *mut c_void,
                null(),
                &mut h,
                &mut err,
            ),
            hurah_status::HURAH_OK
        );
        f.h = h;
        let mut d = null_mut();
        assert_eq!(
            hurah_dispatcher_new(root.as_ptr(), null(), &mut d, &mut err),
            hurah_status::HURAH_OK
        );
        let mut listeners = 0usize;
        let sub = CString::new("order/placed").unwrap();
        assert_eq!(
            hurah_dispatcher_listener_count(d, sub.as_ptr(), &mut listeners, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(listeners, 1);
        let other = CString::new("invoice").unwrap();
        assert_eq!(
            hurah_dispatcher_listener_count(d, other.as_ptr(), &mut listeners, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(listeners, 0);

        // Empty: count 0, list empty, unknown sequences NOT_FOUND.
        assert_eq!(count(h), 0);
        assert!(failed_seqs(h).is_empty());
        assert_eq!(reason_of(h, 1), Err(hurah_status::HURAH_NOT_FOUND));

        for p in ["1", "2", "3"] {
            assert_eq!(
                hurah_dispatcher_dispatch(
                    d,
                    sub.as_ptr(),
                    p.as_ptr().cast(),
                    p.len(),
                    0,
                    null_mut(),
                    &mut err
                ),
                hurah_status::HURAH_OK
            );
        }
        // A delayed dispatch, cancelled by id before it is due.
        let mut id: *mut c_char = null_mut();
        let p = "4";
        assert_eq!(
            hurah_dispatcher_dispatch(
                d,
                sub.as_ptr(),
                p.as_ptr().cast(),
                p.len(),
                60_000,
                &mut id,
                &mut err
            ),
            hurah_status::HURAH_OK
        );
        let mut cancelled = 99u64;
        assert_eq!(
            hurah_dispatcher_cancel(d, id, &mut cancelled, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(cancelled, 1);
        assert_eq!(
            hurah_dispatcher_cancel(d, id, &mut cancelled, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(cancelled, 0);
        hurah_string_free(id);

        let mut stats = hurah_stats::default();
        assert_eq!(
            hurah_handler_handle(h, &mut stats, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!((stats.handled, stats.failed), (3, 3));
        // Called from inside the callback (while the handler holds its queue): it answered.
        assert_eq!(
            f.counts,
            [
                (hurah_status::HURAH_OK, 0),
                (hurah_status::HURAH_OK, 1),
                (hurah_status::HURAH_OK, 2)
            ]
        );

        assert_eq!(count(h), 3);
        assert_eq!(failed_seqs(h), [1, 2, 3]);
        // A list shorter than the total: the first ones, and the total.
        let mut two = [0u64; 2];
        let mut total = 0usize;
        assert_eq!(
            hurah_handler_failed_list(h, two.as_mut_ptr(), 2, &mut total, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!((two, total), ([1, 2], 3));
        assert_eq!(
            hurah_handler_failed_list(h, null_mut(), 1, &mut total, &mut err),
            hurah_status::HURAH_NULL_POINTER
        );
        assert_eq!(reason_of(h, 2).as_deref(), Ok("boom 2"));
        assert_eq!(reason_of(h, 99), Err(hurah_status::HURAH_NOT_FOUND));
        assert_eq!(
            reason_of(h, HURAH_ALL_TASKS),
            Err(hurah_status::HURAH_INVALID_ARGUMENT)
        );

        // Retry one: back in the inbox, runs again (and succeeds).
        let mut n = 99u64;
        assert_eq!(
            hurah_handler_failed_retry(h, 99, &mut n, &mut err),
            hurah_status::HURAH_NOT_FOUND
        );
        assert_eq!(n, 0);
        assert_eq!(
            hurah_handler_failed_retry(h, 1, &mut n, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(n, 1);
        assert_eq!(failed_seqs(h), [2, 3]);
        assert_eq!(reason_of(h, 1), Err(hurah_status::HURAH_NOT_FOUND));

        // Delete one.
        assert_eq!(
            hurah_handler_failed_delete(h, 99, &mut n, &mut err),
            hurah_status::HURAH_NOT_FOUND
        );
        assert_eq!(n, 0);
        assert_eq!(
            hurah_handler_failed_delete(h, 2, &mut n, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(n, 1);
        assert_eq!(failed_seqs(h), [3]);

        // The retried task runs again under its own sequence; the callback's count (from inside
        // a watch this time) sees the one still failed.
        f.fail = false;
        f.ran.clear();
        f.counts.clear();
        let opts = hurah_options_new();
        hurah_options_set_stop_when_empty(opts, true);
        assert_eq!(
            hurah_handler_watch(h, opts, &mut stats, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!((stats.handled, stats.succeeded), (1, 1));
        assert_eq!(f.ran, [1]);
        assert_eq!(f.counts, [(hurah_status::HURAH_OK, 1)]);

        // Retry all, then delete all (nothing left: 0, not an error).
        assert_eq!(
            hurah_handler_failed_retry(h, HURAH_ALL_TASKS, &mut n, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(n, 1);
        assert_eq!(count(h), 0);
        assert_eq!(
            hurah_handler_failed_delete(h, HURAH_ALL_TASKS, &mut n, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(n, 0);
        assert_eq!(
            hurah_handler_handle(h, &mut stats, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(stats.succeeded, 1);
        assert_eq!(f.ran, [1, 3]);

        // Fail two again and delete them all at once.
        f.fail = true;
        for p in ["5", "6"] {
            hurah_dispatcher_dispatch(
                d,
                sub.as_ptr(),
                p.as_ptr().cast(),
                p.len(),
                0,
                null_mut(),
                &mut err,
            );
        }
        assert_eq!(
            hurah_handler_handle(h, &mut stats, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(stats.failed, 2);
        // (Sequence 4 went to the cancelled delayed copy.)
        assert_eq!(failed_seqs(h), [5, 6]);
        assert_eq!(
            hurah_handler_failed_delete(h, HURAH_ALL_TASKS, &mut n, &mut err),
            hurah_status::HURAH_OK
        );
        assert_eq!(n, 2);
        assert_eq!(count(h), 0);

        hurah_options_free(opts);
        hurah::capi::status::hurah_error_free(err);
        hurah_dispatcher_free(d);
        hurah_handler_free(h);
    }
}

#[test]
fn c_abi_watch_on_postgres_stops_from_another_thread() {
    let db = pg_support::TestDb::new();
    let root = CString::new(db.dsn.clone()).unwrap();
    let et = CString::new("a").unwrap();
    let name = CString::new("c_stopper").unwrap();
    let mut seen: Vec<String> = Vec::new();
    let mut h = null_mut();
    unsafe {
        assert_eq!(
            hurah_handler_new(
                root.as_ptr(),
                et.as_ptr(),
                name.as_ptr(),
                Some(collect),
                &mut seen as *mut Vec<String> as *mut c_void,
                null(),
                &mut h,
                null_mut(),
            ),
            hurah_status::HURAH_OK
        );
    }
    // The handler pointer crosses to the stopping thread as an address (as C would pass it).
    let addr = h as usize;
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        unsafe { hurah_handler_stop(addr as *const hurah_handler) }
    });
    let started = std::time::Instant::now();
    let mut stats = hurah_stats::default();
    unsafe {
        // No limits: only the stop ends it.
        assert_eq!(
            hurah_handler_watch(h, null(), &mut stats, null_mut()),
            hurah_status::HURAH_OK
        );
    }
    assert_eq!(stopper.join().unwrap(), hurah_status::HURAH_OK);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(stats.handled, 0);
    unsafe {
        // Sticky.
        assert_eq!(
            hurah_handler_handle(h, null_mut(), null_mut()),
            hurah_status::HURAH_STOPPED
        );
        hurah_handler_free(h);
    }
}

#[test]
fn c_abi_dispatch_many_on_postgres_is_one_transaction() {
    let db = pg_support::TestDb::new();
    let root = CString::new(db.dsn.clone()).unwrap();
    let et = CString::new("a").unwrap();
    let sub = CString::new("a/b").unwrap();
    let name = CString::new("c_consumer").unwrap();
    let mut seen: Vec<String> = Vec::new();
    let (mut h, mut d) = (null_mut(), null_mut());
    unsafe {
        assert_eq!(
            hurah_handler_new(
                root.as_ptr(),
                et.as_ptr(),
                name.as_ptr(),
                Some(collect),
                &mut seen as *mut Vec<String> as *mut c_void,
                null(),
                &mut h,
                null_mut(),
            ),
            hurah_status::HURAH_OK
        );
        assert_eq!(
            hurah_dispatcher_new(root.as_ptr(), null(), &mut d, null_mut()),
            hurah_status::HURAH_OK
        );
        let ev = |t: &CString, json: &'static str| hurah_event {
            event_type: t.as_ptr(),
            json: json.as_ptr().cast(),
            json_len: json.len(),
        };
        // One bad payload: nothing of the batch is written.
        let bad = [ev(&et, "1"), ev(&sub, "1e400")];
        let mut ids = [null_mut::<c_char>(); 2];
        assert_eq!(
            hurah_dispatcher_dispatch_many(d, bad.as_ptr(), 2, 0, ids.as_mut_ptr(), null_mut()),
            hurah_status::HURAH_INVALID_JSON
        );
        assert!(ids.iter().all(|p| p.is_null()));
        let good = [ev(&et, "1"), ev(&sub, "2"), ev(&et, "3")];
        let mut ids = [null_mut::<c_char>(); 3];
        assert_eq!(
            hurah_dispatcher_dispatch_many(d, good.as_ptr(), 3, 0, ids.as_mut_ptr(), null_mut()),
            hurah_status::HURAH_OK
        );
        let ids: Vec<String> = ids
            .iter()
            .map(|p| {
                let s = CStr::from_ptr(*p).to_string_lossy().into_owned();
                hurah_string_free(*p);
                s
            })
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|i| i.len() == 30));
        let mut stats = hurah_stats::default();
        assert_eq!(
            hurah_handler_handle(h, &mut stats, null_mut()),
            hurah_status::HURAH_OK
        );
        assert_eq!(stats.succeeded, 3);
        hurah_dispatcher_free(d);
        hurah_handler_free(h);
    }
    assert_eq!(seen, ["1", "2", "3"]);
}
