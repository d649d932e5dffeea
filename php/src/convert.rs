//! Small conversions shared by the classes: `string|Stringable` arguments, option arrays, PHP
//! exceptions raised by user code we call.

use crate::exceptions::invalid_argument;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::{ce, ExecutorGlobals};

/// A PHP throwable caught after calling into PHP code.
pub struct Caught {
    /// Its class name.
    pub class: String,
    /// Its message.
    pub message: String,
    /// `Some(status)` when this was no throwable but PHP's `exit()` unwinding (or a fiber's
    /// graceful exit): it is left pending, untouched, so the script still ends; a caller that
    /// must run more PHP code first takes it with [`defer_exit`].
    pub exit: Option<i32>,
}

unsafe extern "C" {
    // ZEND_API bool zend_is_unwind_exit(const zend_object *ex): exit() unwinding.
    fn zend_is_unwind_exit(ex: *const ZendObject) -> bool;
    // ZEND_API bool zend_is_graceful_exit(const zend_object *ex): a fiber being destroyed.
    fn zend_is_graceful_exit(ex: *const ZendObject) -> bool;
    // ZEND_API ZEND_COLD void zend_throw_unwind_exit(void)
    fn zend_throw_unwind_exit();
    // ZEND_API ZEND_COLD void zend_throw_graceful_exit(void)
    fn zend_throw_graceful_exit();
}

/// What [`defer_exit`] took off the engine.
const EXIT_NONE: u8 = 0;
const EXIT_UNWIND: u8 = 1;
const EXIT_GRACEFUL: u8 = 2;

thread_local! {
    /// An `exit()` taken off the engine by [`defer_exit`], to raise again once we are done.
    static PENDING_EXIT: std::cell::Cell<u8> = const { std::cell::Cell::new(EXIT_NONE) };
    /// A fatal error (bailout) caught by [`guarded`], to raise again once we are done.
    static PENDING_BAILOUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True when `obj` is one of the engine's internal unwinding objects (`exit()`, fiber
/// destruction): not a `Throwable`, no method may be called on it.
fn is_unwinding(obj: &ZendObject) -> bool {
    // SAFETY: obj is a live object; both functions only compare its class entry.
    unsafe { zend_is_unwind_exit(obj) || zend_is_graceful_exit(obj) }
}

/// True when the engine is unwinding for `exit()` (or a fiber's graceful exit).
pub fn exit_unwinding() -> bool {
    ExecutorGlobals::get().exception().is_some_and(is_unwinding)
}

/// Takes a pending `exit()` off the engine, so PHP code can still be called (to settle a task),
/// and remembers it: [`rethrow_pending`] raises it again. Nothing if no exit is pending.
pub fn defer_exit() {
    if !exit_unwinding() {
        return;
    }
    if let Some(obj) = ExecutorGlobals::take_exception() {
        // SAFETY: obj is live; only its class entry is compared.
        let kind = if unsafe { zend_is_graceful_exit(&*obj) } {
            EXIT_GRACEFUL
        } else {
            EXIT_UNWIND
        };
        PENDING_EXIT.with(|p| p.set(kind));
    }
}

/// True when an `exit()` or a fatal error is waiting to be raised again by [`rethrow_pending`]
/// (no more user code should run for this call).
pub fn aborting() -> bool {
    PENDING_EXIT.with(|p| p.get()) != EXIT_NONE || PENDING_BAILOUT.with(|p| p.get())
}

/// True when a fatal error is waiting to be raised again: no PHP code may run until then.
pub fn bailed_out() -> bool {
    PENDING_BAILOUT.with(|p| p.get())
}

/// The executor globals, read without ext-php-rs' lock: after a fatal error a guard taken by
/// the interrupted code may never have been released.
fn eg() -> *mut ext_php_rs::ffi::zend_executor_globals {
    // SAFETY: returns the address of the engine's static executor globals.
    unsafe { ext_php_rs::ffi::ext_php_rs_executor_globals() }
}

/// The exit status PHP will exit with (`EG(exit_status)`).
pub fn exit_status() -> i32 {
    // SAFETY: the engine's executor globals, valid for the process; a plain int read.
    unsafe { (*eg()).exit_status }
}

/// PHP's last error type (`error_get_last()['type']`, 0 when none).
pub fn last_error_type() -> i32 {
    // SAFETY: the engine's process globals, valid for the process lifetime.
    unsafe { (*ext_php_rs::ffi::ext_php_rs_process_globals()).last_error_type }
}

/// PHP's last error message (`error_get_last()['message']`, read without calling PHP).
pub fn last_error_message() -> Option<String> {
    // SAFETY: the engine's process globals, valid for the process lifetime.
    let msg = unsafe { (*ext_php_rs::ffi::ext_php_rs_process_globals()).last_error_message };
    if msg.is_null() {
        return None;
    }
    // SAFETY: a live zend_string owned by the engine until the next error.
    let s: &ext_php_rs::types::ZendStr = unsafe { &*msg.cast() };
    Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
}

/// Runs `f`, which calls into PHP code, under a `zend_try`: a fatal error (E_ERROR, memory
/// exhausted...) lands here instead of unwinding through our frames. Returns `None` after a
/// fatal error, which is then remembered and raised again by [`rethrow_pending`] once the
/// caller has settled its work (PHP's normal shutdown follows). The executor's current frame
/// is put back, so the caller may still settle and return.
pub fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    // SAFETY: the engine's executor globals; plain pointer reads and writes on this thread.
    let frame = unsafe { (*eg()).current_execute_data };
    match ext_php_rs::zend::try_catch(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(ext_php_rs::zend::CatchError::Panic(m)) => std::panic::panic_any(m),
        Err(_) => {
            // SAFETY: as above; `frame` is our caller's frame, still live.
            unsafe { (*eg()).current_execute_data = frame };
            PENDING_BAILOUT.with(|p| p.set(true));
            None
        }
    }
}

/// Takes (and clears) the pending PHP exception, if any. PHP's `exit()` (not a throwable) is
/// reported with `exit: Some(status)` and left pending (see [`defer_exit`]); no method is
/// ever called on it.
pub fn catch() -> Option<Caught> {
    if exit_unwinding() {
        let status = exit_status();
        return Some(Caught {
            class: "exit".into(),
            message: format!("called exit({status})"),
            exit: Some(status),
        });
    }
    let object = ExecutorGlobals::take_exception()?;
    let class = object
        .get_class_name()
        .unwrap_or_else(|_| "Throwable".into());
    let message = object
        .try_call_method("getMessage", vec![])
        .ok()
        .and_then(|z| z.string())
        .unwrap_or_default();
    // getMessage() cannot throw, but never leave anything pending.
    let _ = ExecutorGlobals::take_exception();
    Some(Caught {
        class,
        message,
        exit: None,
    })
}

/// Propagates a pending PHP exception (thrown by user code we called) to our caller as is; an
/// `exit()` unwinding is left to unwind.
pub fn propagate() -> PhpResult<()> {
    if exit_unwinding() {
        // No throwable: it cannot be thrown again, and needs not be.
        return Ok(());
    }
    ExecutorGlobals::throw_if_exception()
}

/// Propagates a pending PHP exception (thrown by user code we called) to our caller as is.
/// An `exit()` or a fatal error met in user code and deferred (see [`defer_exit`],
/// [`guarded`]) is raised again here: a fatal error does not return (PHP's shutdown follows);
/// after an exit the function returns `Ok` with the exit unwinding, so the script ends with the
/// handler's exit status. Call it last, when everything is settled and dropped.
pub fn rethrow_pending() -> PhpResult<()> {
    if PENDING_BAILOUT.with(|p| p.replace(false)) {
        PENDING_EXIT.with(|p| p.set(EXIT_NONE));
        // SAFETY: the caller has dropped what it holds; the engine's zend_try above us
        // (PHP's own, around the script) takes the bailout, as for any fatal error.
        unsafe { ext_php_rs::zend::bailout() }
    }
    let exit = PENDING_EXIT.with(|p| p.replace(EXIT_NONE));
    if exit != EXIT_NONE {
        // An exception thrown meanwhile is dropped: exit() wins, as in PHP.
        drop(ExecutorGlobals::take_exception());
        // SAFETY: plain engine calls; EG(exit_status) still holds the handler's status.
        unsafe {
            if exit == EXIT_GRACEFUL {
                zend_throw_graceful_exit();
            } else {
                zend_throw_unwind_exit();
            }
        }
        return Ok(());
    }
    propagate()
}

/// Calls `$obj->$name(...$args)`. `Ok(None)` when the method does not exist; a PHP exception
/// thrown by it is left pending (check with [`catch`] or [`rethrow_pending`]).
pub fn call_method(
    obj: &ZendObject,
    name: &str,
    args: Vec<&dyn ext_php_rs::convert::IntoZvalDyn>,
) -> PhpResult<Option<Zval>> {
    match obj.try_call_method(name, args) {
        Ok(z) => Ok(Some(z)),
        Err(ext_php_rs::error::Error::Callable) => Ok(None),
        Err(e) => {
            propagate()?;
            Err(crate::exceptions::hurah(format!("calling {name}(): {e}")))
        }
    }
}

/// A PHP type name for messages (`int`, `array`, `Foo\Bar`...).
pub fn type_name(v: &Zval) -> String {
    if let Some(o) = v.object() {
        return o.get_class_name().unwrap_or_else(|_| "object".into());
    }
    match v.get_type() {
        DataType::Null | DataType::Undef => "null".into(),
        DataType::True | DataType::False | DataType::Bool => "bool".into(),
        DataType::Long => "int".into(),
        DataType::Double => "float".into(),
        DataType::String => "string".into(),
        DataType::Array => "array".into(),
        DataType::Resource => "resource".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// A `string` or `Stringable` argument as a Rust string. `what` names the argument in errors.
pub fn stringish(v: &Zval, what: &str) -> PhpResult<String> {
    let v = v.dereference();
    if let Some(s) = v.zend_str() {
        return std::str::from_utf8(s.as_bytes())
            .map(str::to_string)
            .map_err(|_| invalid_argument(format!("{what} is not valid UTF-8")));
    }
    if let Some(obj) = v.object() {
        if obj.instance_of(ce::stringable()) {
            let r = call_method(obj, "__toString", vec![])?;
            propagate()?;
            if let Some(s) = r.as_ref().and_then(|z| z.zend_str()) {
                return std::str::from_utf8(s.as_bytes())
                    .map(str::to_string)
                    .map_err(|_| invalid_argument(format!("{what} is not valid UTF-8")));
            }
        }
    }
    Err(invalid_argument(format!(
        "{what} must be a string or Stringable, {} given",
        type_name(v)
    )))
}

/// Reads an options array: calls `f(key, value)` for each entry; unknown keys are reported by
/// `f` returning `Ok(false)`, which becomes an InvalidArgumentException naming the key.
pub fn each_option(
    options: Option<&ZendHashTable>,
    what: &str,
    mut f: impl FnMut(&str, &Zval) -> PhpResult<bool>,
) -> PhpResult<()> {
    let Some(ht) = options else { return Ok(()) };
    let mut it = ht.iter();
    while let Some((k, v)) = it.next_zval() {
        let key = match k.long() {
            Some(i) => i.to_string(),
            None => String::from_utf8_lossy(k.zend_str().map(|s| s.as_bytes()).unwrap_or(&[]))
                .into_owned(),
        };
        if !f(&key, v.dereference())? {
            return Err(invalid_argument(format!("unknown {what} option {key:?}")));
        }
    }
    Ok(())
}

/// A non-negative number of seconds (int or float) as a Duration.
pub fn seconds(v: &Zval, what: &str) -> PhpResult<std::time::Duration> {
    let s = if let Some(i) = v.long() {
        i as f64
    } else if let Some(f) = v.double() {
        f
    } else {
        return Err(invalid_argument(format!(
            "{what} must be a number of seconds, {} given",
            type_name(v)
        )));
    };
    if !s.is_finite() || s < 0.0 {
        return Err(invalid_argument(format!(
            "{what} must be a finite, non-negative number of seconds, {s} given"
        )));
    }
    Ok(std::time::Duration::from_secs_f64(s))
}

/// A non-negative integer option.
pub fn count(v: &Zval, what: &str) -> PhpResult<u64> {
    match v.long() {
        Some(i) if i >= 0 => Ok(i as u64),
        _ => Err(invalid_argument(format!(
            "{what} must be a non-negative int, {} given",
            type_name(v)
        ))),
    }
}

/// A boolean option (bool, or 0/1).
pub fn boolean(v: &Zval, what: &str) -> PhpResult<bool> {
    if let Some(b) = v.bool() {
        return Ok(b);
    }
    match v.long() {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(invalid_argument(format!(
            "{what} must be a bool, {} given",
            type_name(v)
        ))),
    }
}

/// A byte size: an int, or a string like `128M`, `512K`, `1G` (PHP ini shorthand).
pub fn bytes(v: &Zval, what: &str) -> PhpResult<u64> {
    if let Some(i) = v.long() {
        if i >= 0 {
            return Ok(i as u64);
        }
    }
    if let Some(s) = v.str() {
        let s = s.trim();
        let (num, mult) = match s.chars().last().map(|c| c.to_ascii_uppercase()) {
            Some('K') => (&s[..s.len() - 1], 1u64 << 10),
            Some('M') => (&s[..s.len() - 1], 1 << 20),
            Some('G') => (&s[..s.len() - 1], 1 << 30),
            _ => (s, 1),
        };
        if let Ok(n) = num.trim().parse::<u64>() {
            if let Some(b) = n.checked_mul(mult) {
                return Ok(b);
            }
        }
    }
    Err(invalid_argument(format!(
        "{what} must be a byte count (int) or a size like '128M', {} given",
        type_name(v)
    )))
}
