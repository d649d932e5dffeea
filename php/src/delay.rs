//! Time arguments: `delay:` (seconds or `DateInterval`), `at:` (`DateTimeInterface`), the slot
//! behind `Task::retryAfter()` and the `retryBackoff()` array.

use crate::convert::{call_method, catch, type_name};
use crate::exceptions::invalid_argument;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::types::{ZendCallable, ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::ClassEntry;
use std::cell::Cell;
use std::time::Duration;

/// Longest delay accepted (100 years): keeps due times far inside u64 milliseconds.
const MAX_SECS: f64 = 100.0 * 365.25 * 86_400.0;

/// A float as PHP prints it in messages (`NAN`, `INF`, `-INF`, `1.5`).
pub fn php_float(f: f64) -> String {
    if f.is_nan() {
        "NAN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "INF" } else { "-INF" }.into()
    } else {
        format!("{f}")
    }
}

fn class(name: &str) -> Option<&'static ClassEntry> {
    ClassEntry::try_find(name)
}

fn is_instance<'a>(v: &'a Zval, class_name: &str) -> Option<&'a ZendObject> {
    let o = v.object()?;
    let ce = class(class_name)?;
    o.instance_of(ce).then_some(o)
}

/// The instant a `DateTimeInterface` names, in µs since the epoch (`format('U.u')`).
fn epoch_us(dt: &ZendObject, what: &str) -> Result<i128, String> {
    let fmt = "U.u";
    let r = dt.try_call_method("format", vec![&fmt]);
    if let Some(c) = catch() {
        return Err(format!("{what}: format() threw {}: {}", c.class, c.message));
    }
    let s = r
        .ok()
        .and_then(|z| z.string())
        .ok_or_else(|| format!("{what}: format('U.u') failed"))?;
    let (secs, frac) = s.split_once('.').unwrap_or((s.as_str(), "0"));
    let secs: i128 = secs
        .parse()
        .map_err(|_| format!("{what}: unreadable time {s:?}"))?;
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let us: i128 = frac
        .parse()
        .map_err(|_| format!("{what}: unreadable time {s:?}"))?;
    // `U` is the floor of the time and `u` the positive fraction, also before 1970.
    Ok(secs * 1_000_000 + us)
}

/// The length of a `DateInterval` (`ivz`) from now (calendar-aware: `P1M` from today). A negative
/// interval (`invert`) is refused.
fn interval(ivz: &Zval, what: &str) -> Result<Duration, String> {
    let now = ZendCallable::try_from_name("date_create_immutable")
        .and_then(|f| f.try_call(vec![]))
        .map_err(|e| format!("{what}: cannot read the clock: {e}"))?;
    let now_obj = now
        .object()
        .ok_or_else(|| format!("{what}: cannot read the clock"))?;
    let due = now_obj.try_call_method("add", vec![ivz]);
    if let Some(c) = catch() {
        return Err(format!(
            "{what}: DateTimeImmutable::add() threw {}: {}",
            c.class, c.message
        ));
    }
    let due = due.map_err(|e| format!("{what}: {e}"))?;
    let due_obj = due
        .object()
        .ok_or_else(|| format!("{what}: DateTimeImmutable::add() failed"))?;
    let us = epoch_us(due_obj, what)? - epoch_us(now_obj, what)?;
    if us < 0 {
        return Err(format!(
            "{what} must not be negative, a DateInterval of {:.3} seconds given",
            us as f64 / 1e6
        ));
    }
    if us as f64 / 1e6 > MAX_SECS {
        return Err(format!(
            "{what} must be at most 100 years, a DateInterval of {:.0} seconds given",
            us as f64 / 1e6
        ));
    }
    Ok(Duration::from_micros(us as u64))
}

/// A delay: a finite, non-negative number of seconds (int or float) or a `DateInterval`.
/// Anything else is an InvalidArgumentException naming the value.
pub fn delay_of(v: &Zval, what: &str) -> PhpResult<Duration> {
    delay_secs(v, what).map_err(invalid_argument)
}

/// [`delay_of`] with the message as the error.
pub fn delay_secs(v: &Zval, what: &str) -> Result<Duration, String> {
    let v = v.dereference();
    let secs = if let Some(i) = v.long() {
        i as f64
    } else if let Some(f) = v.double() {
        f
    } else if is_instance(v, "DateInterval").is_some() {
        return interval(v, what);
    } else {
        return Err(format!(
            "{what} must be a number of seconds (int|float) or a DateInterval, {} given",
            type_name(v)
        ));
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "{what} must be a finite, non-negative number of seconds, {} given",
            php_float(secs)
        ));
    }
    if secs > MAX_SECS {
        return Err(format!(
            "{what} must be at most 100 years, {} seconds given",
            php_float(secs)
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// An `at:` argument: a `DateTimeInterface`, as ms since the epoch (rounded up, so a task never
/// runs before it; times before 1970 are 0, i.e. due at once).
pub fn at_ms(v: &Zval) -> PhpResult<u64> {
    at_time(v).map_err(invalid_argument)
}

fn at_time(v: &Zval) -> Result<u64, String> {
    let v = v.dereference();
    let Some(dt) = is_instance(v, "DateTimeInterface") else {
        return Err(format!(
            "at must be a DateTimeInterface, {} given",
            type_name(v)
        ));
    };
    let us = epoch_us(dt, "at")?;
    if us <= 0 {
        return Ok(0);
    }
    Ok(u64::try_from((us + 999) / 1000).unwrap_or(u64::MAX))
}

/// The due time (ms since the epoch) for `delay:` / `at:` dispatch arguments; `None`: at once.
pub fn not_before_ms(delay: Option<&Zval>, at: Option<&Zval>) -> PhpResult<Option<u64>> {
    fn given(z: Option<&Zval>) -> Option<&Zval> {
        z.filter(|z| !z.dereference().is_null())
    }
    match (given(delay), given(at)) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(invalid_argument(
            "give either delay or at, not both".to_string(),
        )),
        (Some(d), None) => {
            let d = delay_of(d, "delay")?;
            if d.is_zero() {
                return Ok(None);
            }
            // Now plus the delay, rounded up to whole ms: never due before the delay has passed
            // (`now_ms()` rounds down, which could make the task due up to 1 ms early).
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros();
            let due = (now_us + d.as_micros()).div_ceil(1000);
            Ok(Some(u64::try_from(due).unwrap_or(u64::MAX)))
        }
        (None, Some(a)) => {
            let due = at_ms(a)?;
            Ok((due > hurah::clock::now_ms()).then_some(due))
        }
    }
}

thread_local! {
    /// The delay asked for by `Task::retryAfter()` during the current `handleTask()` call.
    static RETRY_AFTER: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Records the delay `Task::retryAfter()` asked for.
pub fn set_retry_after(d: Duration) {
    RETRY_AFTER.with(|c| c.set(Some(d)));
}

/// Takes (and clears) the recorded `Task::retryAfter()` delay.
pub fn take_retry_after() -> Option<Duration> {
    RETRY_AFTER.with(Cell::take)
}

/// A `retryBackoff()` array (`delay`, `multiplier`, `max`, `jitter`; seconds or DateInterval
/// for the times) as a core [`hurah::Backoff`]. An empty array is no backoff. Errors are
/// messages for the log.
pub fn backoff_of(ht: &ZendHashTable) -> Result<Option<hurah::Backoff>, String> {
    if ht.is_empty() {
        return Ok(None);
    }
    let mut delay = Duration::from_secs(1);
    let mut multiplier = 1.0;
    let mut max = None;
    let mut jitter = 0.0;
    let number = |v: &Zval, k: &str| -> Result<f64, String> {
        v.long()
            .map(|i| i as f64)
            .or_else(|| v.double())
            .ok_or_else(|| {
                format!(
                    "retryBackoff() {k} must be a number, {} given",
                    type_name(v)
                )
            })
    };
    let mut it = ht.iter();
    while let Some((k, v)) = it.next_zval() {
        let v = v.dereference();
        let key = match k.long() {
            Some(i) => i.to_string(),
            None => String::from_utf8_lossy(k.zend_str().map(|s| s.as_bytes()).unwrap_or(&[]))
                .into_owned(),
        };
        match key.as_str() {
            "delay" => delay = delay_secs(v, "retryBackoff() delay")?,
            "max" => {
                if !v.is_null() {
                    max = Some(delay_secs(v, "retryBackoff() max")?);
                }
            }
            "multiplier" => multiplier = number(v, &key)?,
            "jitter" => jitter = number(v, &key)?,
            _ => {
                return Err(format!(
                    "unknown retryBackoff() key {key:?} (expected delay, multiplier, max, jitter)"
                ))
            }
        }
    }
    hurah::Backoff::new(delay, multiplier, max, jitter)
        .map(Some)
        .map_err(|e| format!("retryBackoff(): {e}"))
}

/// Calls `$handler->retryBackoff()` if it exists. `Ok(None)`: no such method, `null` or `[]`.
pub fn handler_backoff(obj: &ZendObject) -> Result<Option<hurah::Backoff>, String> {
    let r = call_method(obj, "retryBackoff", vec![]);
    if let Some(c) = catch() {
        return Err(format!("retryBackoff() threw {}: {}", c.class, c.message));
    }
    let z = match r {
        Ok(Some(z)) => z,
        Ok(None) => return Ok(None),
        Err(_) => return Err("retryBackoff() could not be called".into()),
    };
    if z.is_null() {
        return Ok(None);
    }
    let Some(ht) = z.array() else {
        return Err(format!(
            "retryBackoff() must return an array, {} returned",
            type_name(&z)
        ));
    };
    let b = backoff_of(ht);
    let _ = catch(); // a DateInterval's methods cannot throw, but never leave anything pending
    b
}
