//! The C ABI on both backends (a directory root and a PostgreSQL URL, from the shared
//! fixture): hurah_dispatcher_new, hurah_handler_new, hurah_handler_handle and
//! hurah_handler_watch, hurah_dispatcher_cancel/listener_count/dispatch_many and the
//! failed-task functions, called from Rust as C would. Each scenario is written once and runs
//! as `file::NAME` and `postgres::NAME`.

#[macro_use]
mod support;

use hurah::capi::dispatcher::*;
use hurah::capi::failed::*;
use hurah::capi::handler::*;
use hurah::capi::options::*;
use hurah::capi::status::{hurah_error, hurah_error_free, hurah_error_message, hurah_status};
use hurah::capi::task::{
    hurah_task, hurah_task_payload, hurah_task_sequence, hurah_task_set_reason,
};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::{null, null_mut};
use support::TestRoot;

const OK: hurah_status = hurah_status::HURAH_OK;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Fails with the error's message when `status` is not `HURAH_OK`.
unsafe fn ok(status: hurah_status, err: *mut hurah_error) {
    if status != OK {
        let msg = unsafe { CStr::from_ptr(hurah_error_message(err)) };
        panic!("{status:?}: {msg:?}");
    }
}

/// `hurah_handler_new` on the fixture's root, with default options.
unsafe fn handler(
    r: &TestRoot,
    event_type: &str,
    name: &str,
    callback: hurah_task_callback,
    user_data: *mut c_void,
) -> *mut hurah_handler {
    let (root, et, name) = (c(r.root()), c(event_type), c(name));
    let (mut h, mut err) = (null_mut(), null_mut());
    let st = unsafe {
        hurah_handler_new(
            root.as_ptr(),
            et.as_ptr(),
            name.as_ptr(),
            callback,
            user_data,
            null(),
            &mut h,
            &mut err,
        )
    };
    unsafe { ok(st, err) };
    h
}

unsafe fn dispatcher(r: &TestRoot) -> *mut hurah_dispatcher {
    let root = c(r.root());
    let (mut d, mut err) = (null_mut(), null_mut());
    unsafe {
        ok(
            hurah_dispatcher_new(root.as_ptr(), null(), &mut d, &mut err),
            err,
        )
    };
    d
}

/// Dispatches `json` to `event_type` after `delay_ms`; returns the dispatch id.
unsafe fn dispatch(
    d: *mut hurah_dispatcher,
    event_type: &str,
    json: &str,
    delay_ms: u64,
) -> String {
    let et = c(event_type);
    let (mut id, mut err): (*mut c_char, _) = (null_mut(), null_mut());
    let st = unsafe {
        hurah_dispatcher_dispatch(
            d,
            et.as_ptr(),
            json.as_ptr().cast(),
            json.len(),
            delay_ms,
            &mut id,
            &mut err,
        )
    };
    unsafe { ok(st, err) };
    let s = unsafe { CStr::from_ptr(id) }.to_string_lossy().into_owned();
    unsafe { hurah_string_free(id) };
    s
}

unsafe fn handle(h: *mut hurah_handler) -> hurah_stats {
    let (mut stats, mut err) = (hurah_stats::default(), null_mut());
    unsafe { ok(hurah_handler_handle(h, &mut stats, &mut err), err) };
    stats
}

/// `hurah_handler_watch` until the queue is empty.
unsafe fn watch_until_empty(h: *mut hurah_handler) -> hurah_stats {
    let (mut stats, mut err) = (hurah_stats::default(), null_mut());
    unsafe {
        let opts = hurah_options_new();
        hurah_options_set_stop_when_empty(opts, true);
        ok(hurah_handler_watch(h, opts, &mut stats, &mut err), err);
        hurah_options_free(opts);
    }
    stats
}

unsafe extern "C" fn collect(task: *const hurah_task, user_data: *mut c_void) -> c_int {
    let mut len = 0usize;
    let p = unsafe { hurah_task_payload(task, &mut len) };
    let bytes = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) };
    let seen = unsafe { &mut *(user_data as *mut Vec<String>) };
    seen.push(String::from_utf8(bytes.to_vec()).unwrap());
    0
}

fn seen_ptr(seen: &mut Vec<String>) -> *mut c_void {
    seen as *mut Vec<String> as *mut c_void
}

fn dispatches_and_handles(r: &TestRoot) {
    let mut seen: Vec<String> = Vec::new();
    unsafe {
        let h = handler(r, "a", "c_consumer", Some(collect), seen_ptr(&mut seen));
        let d = dispatcher(r);
        for p in ["{\"n\":1}", "{\"n\":2}"] {
            dispatch(d, "a/b", p, 0);
        }
        assert_eq!(handle(h).succeeded, 2);
        dispatch(d, "a/b", "{\"n\":3}", 0);
        assert_eq!(watch_until_empty(h).succeeded, 1);
        hurah_dispatcher_free(d);
        hurah_handler_free(h);
    }
    assert_eq!(seen, ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"]);
}

/// Needs no server: port 1 on the loopback refuses at once.
#[test]
fn a_refused_connection_is_hurah_database_naming_the_host() {
    let bad = c("postgresql://postgres@127.0.0.1:1/x");
    let mut d = null_mut();
    let mut err = null_mut();
    unsafe {
        assert_eq!(
            hurah_dispatcher_new(bad.as_ptr(), null(), &mut d, &mut err),
            hurah_status::HURAH_DATABASE
        );
        let msg = CStr::from_ptr(hurah_error_message(err));
        assert!(msg.to_string_lossy().contains("127.0.0.1:1"), "{msg:?}");
        hurah_error_free(err);
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
        let reason = c(&format!("boom {seq}"));
        assert_eq!(unsafe { hurah_task_set_reason(task, reason.as_ptr()) }, OK);
        1 // HURAH_FAILURE
    } else {
        0
    }
}

unsafe fn failed_seqs(h: *mut hurah_handler) -> Vec<u64> {
    let mut total = 0usize;
    let st = unsafe { hurah_handler_failed_list(h, null_mut(), 0, &mut total, null_mut()) };
    assert_eq!(st, OK);
    let mut seqs = vec![0u64; total];
    let mut again = 0usize;
    let st =
        unsafe { hurah_handler_failed_list(h, seqs.as_mut_ptr(), total, &mut again, null_mut()) };
    assert_eq!(st, OK);
    assert_eq!(again, total);
    seqs
}

unsafe fn reason_of(h: *mut hurah_handler, seq: u64) -> Result<String, hurah_status> {
    let mut r: *mut c_char = null_mut();
    let st = unsafe { hurah_handler_failed_reason(h, seq, &mut r, null_mut()) };
    if st != OK {
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
    assert_eq!(st, OK);
    n
}

/// `hurah_handler_failed_retry` (`retry`) or `_delete`: (status, tasks acted on).
unsafe fn retry_or_delete(h: *mut hurah_handler, retry: bool, seq: u64) -> (hurah_status, u64) {
    let mut n = 99u64;
    let st = unsafe {
        if retry {
            hurah_handler_failed_retry(h, seq, &mut n, null_mut())
        } else {
            hurah_handler_failed_delete(h, seq, &mut n, null_mut())
        }
    };
    (st, n)
}

unsafe fn listener_count(d: *mut hurah_dispatcher, event_type: &str) -> usize {
    let et = c(event_type);
    let mut n = 99usize;
    let st = unsafe { hurah_dispatcher_listener_count(d, et.as_ptr(), &mut n, null_mut()) };
    assert_eq!(st, OK);
    n
}

fn failed_tasks(r: &TestRoot) {
    let not_found = hurah_status::HURAH_NOT_FOUND;
    let (retry, delete) = (true, false);
    let mut f = Box::new(Failer {
        h: null_mut(),
        fail: true,
        ran: Vec::new(),
        counts: Vec::new(),
    });
    unsafe {
        let h = handler(
            r,
            "order",
            "c_failer",
            Some(fail_or_succeed),
            &mut *f as *mut Failer as *mut c_void,
        );
        f.h = h;
        let d = dispatcher(r);
        assert_eq!(listener_count(d, "order/placed"), 1);
        assert_eq!(listener_count(d, "invoice"), 0);

        // Empty: count 0, list empty, unknown sequences NOT_FOUND.
        assert_eq!(count(h), 0);
        assert!(failed_seqs(h).is_empty());
        assert_eq!(reason_of(h, 1), Err(not_found));

        for p in ["1", "2", "3"] {
            dispatch(d, "order/placed", p, 0);
        }
        // A delayed dispatch, cancelled by id before it is due.
        let id = c(&dispatch(d, "order/placed", "4", 60_000));
        for want in [1, 0] {
            let mut cancelled = 99u64;
            let st = hurah_dispatcher_cancel(d, id.as_ptr(), &mut cancelled, null_mut());
            assert_eq!((st, cancelled), (OK, want));
        }

        let stats = handle(h);
        assert_eq!((stats.handled, stats.failed), (3, 3));
        // Called from inside the callback (while the handler holds its queue): it answered.
        assert_eq!(f.counts, [(OK, 0), (OK, 1), (OK, 2)]);

        assert_eq!(count(h), 3);
        assert_eq!(failed_seqs(h), [1, 2, 3]);
        // A list shorter than the total: the first ones, and the total.
        let mut two = [0u64; 2];
        let mut total = 0usize;
        let st = hurah_handler_failed_list(h, two.as_mut_ptr(), 2, &mut total, null_mut());
        assert_eq!((st, two, total), (OK, [1, 2], 3));
        assert_eq!(
            hurah_handler_failed_list(h, null_mut(), 1, &mut total, null_mut()),
            hurah_status::HURAH_NULL_POINTER
        );
        assert_eq!(reason_of(h, 2).as_deref(), Ok("boom 2"));
        assert_eq!(reason_of(h, 99), Err(not_found));
        assert_eq!(
            reason_of(h, HURAH_ALL_TASKS),
            Err(hurah_status::HURAH_INVALID_ARGUMENT)
        );

        // Retry one: back in the inbox, runs again (and succeeds).
        assert_eq!(retry_or_delete(h, retry, 99), (not_found, 0));
        assert_eq!(retry_or_delete(h, retry, 1), (OK, 1));
        assert_eq!(failed_seqs(h), [2, 3]);
        assert_eq!(reason_of(h, 1), Err(not_found));

        // Delete one.
        assert_eq!(retry_or_delete(h, delete, 99), (not_found, 0));
        assert_eq!(retry_or_delete(h, delete, 2), (OK, 1));
        assert_eq!(failed_seqs(h), [3]);

        // The retried task runs again under its own sequence; the callback's count (from inside
        // a watch this time) sees the one still failed.
        f.fail = false;
        f.ran.clear();
        f.counts.clear();
        let stats = watch_until_empty(h);
        assert_eq!((stats.handled, stats.succeeded), (1, 1));
        assert_eq!(f.ran, [1]);
        assert_eq!(f.counts, [(OK, 1)]);

        // Retry all, then delete all (nothing left: 0, not an error).
        assert_eq!(retry_or_delete(h, retry, HURAH_ALL_TASKS), (OK, 1));
        assert_eq!(count(h), 0);
        assert_eq!(retry_or_delete(h, delete, HURAH_ALL_TASKS), (OK, 0));
        assert_eq!(handle(h).succeeded, 1);
        assert_eq!(f.ran, [1, 3]);

        // Fail two again and delete them all at once.
        f.fail = true;
        for p in ["5", "6"] {
            dispatch(d, "order/placed", p, 0);
        }
        assert_eq!(handle(h).failed, 2);
        // (Sequence 4 went to the cancelled delayed copy.)
        assert_eq!(failed_seqs(h), [5, 6]);
        assert_eq!(retry_or_delete(h, delete, HURAH_ALL_TASKS), (OK, 2));
        assert_eq!(count(h), 0);

        hurah_dispatcher_free(d);
        hurah_handler_free(h);
    }
}

fn watch_stops_from_another_thread(r: &TestRoot) {
    let mut seen: Vec<String> = Vec::new();
    let h = unsafe { handler(r, "a", "c_stopper", Some(collect), seen_ptr(&mut seen)) };
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
        assert_eq!(hurah_handler_watch(h, null(), &mut stats, null_mut()), OK);
    }
    assert_eq!(stopper.join().unwrap(), OK);
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

fn dispatch_many_writes_all_or_nothing(r: &TestRoot) {
    let (et, sub) = (c("a"), c("a/b"));
    let mut seen: Vec<String> = Vec::new();
    unsafe {
        let h = handler(r, "a", "c_consumer", Some(collect), seen_ptr(&mut seen));
        let d = dispatcher(r);
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
            OK
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
        assert_eq!(handle(h).succeeded, 3);
        hurah_dispatcher_free(d);
        hurah_handler_free(h);
    }
    assert_eq!(seen, ["1", "2", "3"]);
}

both!(
    TestRoot:
    dispatches_and_handles,
    failed_tasks,
    watch_stops_from_another_thread,
    dispatch_many_writes_all_or_nothing
);
