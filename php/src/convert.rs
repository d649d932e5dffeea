//! Small conversions shared by the classes: `string|Stringable` arguments, option arrays, PHP
//! exceptions raised by user code we call.

use crate::exceptions::invalid_argument;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::exception::{PhpException, PhpResult};
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::{ce, ExecutorGlobals};

/// A PHP throwable caught after calling into PHP code.
pub struct Caught {
    /// Its class name.
    pub class: String,
    /// Its message.
    pub message: String,
    /// The object itself (to re-throw).
    pub object: ZBox<ZendObject>,
}

/// Takes (and clears) the pending PHP exception, if any.
pub fn catch() -> Option<Caught> {
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
        object,
    })
}

/// Propagates a pending PHP exception (thrown by user code we called) to our caller as is.
pub fn rethrow_pending() -> PhpResult<()> {
    ExecutorGlobals::throw_if_exception()
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
            rethrow_pending()?;
            Err(PhpException::from_message(format!("calling {name}(): {e}")))
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
            rethrow_pending()?;
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
