//! The C ABI with a PostgreSQL URL as the root: hurah_dispatcher_new, hurah_handler_new,
//! hurah_handler_handle and hurah_handler_watch (called from Rust, as C would).

mod pg_support;

use hurah::capi::dispatcher::*;
use hurah::capi::handler::*;
use hurah::capi::options::*;
use hurah::capi::status::hurah_status;
use hurah::capi::task::{hurah_task, hurah_task_payload};
use std::ffi::{c_int, c_void, CString};
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
    // Refused connection: HURAH_IO with the host in the message.
    let bad = CString::new("postgresql://postgres@127.0.0.1:1/x").unwrap();
    let mut d = null_mut();
    let mut err = null_mut();
    unsafe {
        assert_eq!(
            hurah_dispatcher_new(bad.as_ptr(), null(), &mut d, &mut err),
            hurah_status::HURAH_IO
        );
        let msg = std::ffi::CStr::from_ptr(hurah::capi::status::hurah_error_message(err));
        assert!(msg.to_string_lossy().contains("127.0.0.1:1"), "{msg:?}");
        hurah::capi::status::hurah_error_free(err);
    }
}
