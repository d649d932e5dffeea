//! PHP values <-> JSON (`serde_json::Value`), with `json_encode`'s rules where they matter:
//! lists become arrays, other arrays objects; `JsonSerializable` is honoured; objects give their
//! public properties. Resources, closures, NaN/INF, invalid UTF-8 and recursion are rejected
//! (the caller turns that into `Hurah\Exception\EncodingException`) before anything is written.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, ZendObject, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals};
use serde_json::{Map, Number, Value};

/// Deepest nesting accepted (json_encode's default depth).
pub const MAX_DEPTH: usize = 512;

/// Why a value cannot be encoded.
#[derive(Debug)]
pub enum JsonError {
    /// Nested deeper than [`MAX_DEPTH`].
    Depth,
    /// An array or object that contains itself.
    Recursion,
    /// NAN or INF.
    NonFinite,
    /// A string that is not UTF-8.
    InvalidUtf8,
    /// A resource.
    Resource,
    /// A closure (class name given).
    Closure(String),
    /// Something else that has no JSON form.
    Unsupported(String),
    /// User code (jsonSerialize) threw: the exception is still pending.
    Thrown,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::Depth => write!(f, "maximum nesting depth of {MAX_DEPTH} exceeded"),
            JsonError::Recursion => write!(f, "recursion detected (a value contains itself)"),
            JsonError::NonFinite => write!(f, "NAN and INF cannot be encoded as JSON"),
            JsonError::InvalidUtf8 => write!(f, "malformed UTF-8 string"),
            JsonError::Resource => write!(f, "resources cannot be encoded as JSON"),
            JsonError::Closure(c) => write!(f, "{c} objects cannot be encoded as JSON"),
            JsonError::Unsupported(t) => write!(f, "type {t} cannot be encoded as JSON"),
            JsonError::Thrown => write!(f, "jsonSerialize() threw"),
        }
    }
}

/// Converts a PHP value to JSON.
pub fn to_json(zv: &Zval) -> Result<Value, JsonError> {
    let mut stack = Vec::new();
    conv(zv, 0, &mut stack)
}

/// Converts a PHP value to compact JSON text, as `json_encode($value)` writes it (hurah/events'
/// task files): `\/`, `\uXXXX`, and integral floats as integers (see [`to_json`]).
pub fn to_json_string(zv: &Zval) -> Result<String, JsonError> {
    to_json(zv).map(|v| hurah::php_json(&v))
}

fn key_string(k: &Zval) -> Result<String, JsonError> {
    if let Some(i) = k.long() {
        return Ok(i.to_string());
    }
    let bytes = k.zend_str().map(|s| s.as_bytes()).unwrap_or(&[]);
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|_| JsonError::InvalidUtf8)
}

/// Keys 0, 1, 2... in order (json_encode's test for a JSON array).
fn is_list(ht: &ZendHashTable) -> bool {
    let mut it = ht.iter();
    let mut n = 0i64;
    while let Some((k, _)) = it.next_zval() {
        if k.long() != Some(n) {
            return false;
        }
        n += 1;
    }
    true
}

fn ht_to_json(
    ht: &ZendHashTable,
    depth: usize,
    as_object: bool,
    stack: &mut Vec<usize>,
) -> Result<Value, JsonError> {
    let id = std::ptr::from_ref(ht) as usize;
    if stack.contains(&id) {
        return Err(JsonError::Recursion);
    }
    stack.push(id);
    let r = (|| {
        // ext-php-rs' own key iteration panics on non-UTF-8 string keys: use next_zval().
        if !as_object && is_list(ht) {
            let mut out = Vec::with_capacity(ht.len());
            let mut it = ht.iter();
            while let Some((_, v)) = it.next_zval() {
                out.push(conv(v, depth + 1, stack)?);
            }
            return Ok(Value::Array(out));
        }
        let mut m = Map::new();
        let mut it = ht.iter();
        while let Some((k, v)) = it.next_zval() {
            let key = key_string(&k)?;
            // Property tables: protected/private names are mangled "\0Class\0prop"; skip them
            // like json_encode does.
            if as_object && key.starts_with('\0') {
                continue;
            }
            let v = v.indirect().unwrap_or(v);
            if as_object && matches!(v.get_type(), DataType::Undef) {
                continue; // an uninitialized typed property
            }
            m.insert(key, conv(v, depth + 1, stack)?);
        }
        Ok(Value::Object(m))
    })();
    stack.pop();
    r
}

fn obj_to_json(obj: &ZendObject, depth: usize, stack: &mut Vec<usize>) -> Result<Value, JsonError> {
    let id = std::ptr::from_ref(obj) as usize;
    if stack.contains(&id) {
        return Err(JsonError::Recursion);
    }
    let cname = obj.get_class_name().unwrap_or_default();
    if let Some(closure) = ClassEntry::try_find("Closure") {
        if obj.instance_of(closure) {
            return Err(JsonError::Closure(cname));
        }
    }
    stack.push(id);
    let r = (|| {
        if ClassEntry::try_find("JsonSerializable").is_some_and(|c| obj.instance_of(c)) {
            let r = obj
                .try_call_method("jsonSerialize", vec![])
                .map_err(|e| JsonError::Unsupported(format!("{cname} ({e})")))?;
            if ExecutorGlobals::has_exception() {
                return Err(JsonError::Thrown);
            }
            return conv(&r, depth + 1, stack);
        }
        if ClassEntry::try_find("BackedEnum").is_some_and(|c| obj.instance_of(c)) {
            let props = obj
                .get_properties()
                .map_err(|e| JsonError::Unsupported(format!("{cname} ({e})")))?;
            if let Some(v) = props.get("value") {
                return conv(v, depth + 1, stack);
            }
        }
        if let Some(unit) = ClassEntry::try_find("UnitEnum") {
            if obj.instance_of(unit) {
                return Err(JsonError::Unsupported(format!("non-backed enum {cname}")));
            }
        }
        let props = obj
            .get_properties()
            .map_err(|e| JsonError::Unsupported(format!("{cname} ({e})")))?;
        ht_to_json(props, depth, true, stack)
    })();
    stack.pop();
    r
}

fn conv(zv: &Zval, depth: usize, stack: &mut Vec<usize>) -> Result<Value, JsonError> {
    if depth > MAX_DEPTH {
        return Err(JsonError::Depth);
    }
    let zv = zv.dereference();
    let zv = zv.indirect().unwrap_or(zv);
    Ok(match zv.get_type() {
        DataType::Null | DataType::Undef => Value::Null,
        DataType::True => Value::Bool(true),
        DataType::False => Value::Bool(false),
        DataType::Bool => Value::Bool(zv.bool().unwrap_or(false)),
        DataType::Long => Value::from(zv.long().unwrap_or(0)),
        DataType::Double => {
            let f = zv.double().unwrap_or(0.0);
            // json_encode() writes 2.0 as 2 (below 1e17, where it switches to 1.0e+17), so
            // readers of hurah/events' files decode an int: write what it wrote.
            if f.fract() == 0.0 && f.abs() < 1e17 {
                Value::from(f as i64)
            } else {
                Value::Number(Number::from_f64(f).ok_or(JsonError::NonFinite)?)
            }
        }
        DataType::String => {
            let bytes = zv.zend_str().map(|s| s.as_bytes()).unwrap_or(&[]);
            Value::String(
                std::str::from_utf8(bytes)
                    .map_err(|_| JsonError::InvalidUtf8)?
                    .to_string(),
            )
        }
        DataType::Array => ht_to_json(zv.array().expect("array"), depth, false, stack)?,
        DataType::Object(_) => obj_to_json(zv.object().expect("object"), depth, stack)?,
        DataType::Resource => return Err(JsonError::Resource),
        other => return Err(JsonError::Unsupported(format!("{other:?}"))),
    })
}

/// Converts JSON to a PHP value (objects become associative arrays, as
/// `json_decode($s, true)`).
pub fn to_zval(v: &Value) -> ext_php_rs::error::Result<Zval> {
    let mut zv = Zval::new();
    match v {
        Value::Null => zv.set_null(),
        Value::Bool(b) => zv.set_bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                zv.set_long(i)
            } else {
                zv.set_double(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => zv.set_string(s, false)?,
        Value::Array(a) => {
            let mut ht: ZBox<ZendHashTable> = ZendHashTable::with_capacity(a.len() as u32);
            for item in a {
                ht.push(to_zval(item)?)?;
            }
            zv.set_hashtable(ht);
        }
        Value::Object(m) => {
            let mut ht = ZendHashTable::with_capacity(m.len() as u32);
            for (k, item) in m {
                // Numeric-string keys become int keys, like PHP.
                ht.insert(k.as_str(), to_zval(item)?)?;
            }
            zv.set_hashtable(ht);
        }
    }
    Ok(zv)
}

/// Converts an encoding failure into the PHP exception to throw: the pending exception thrown
/// by user code (jsonSerialize), or `Hurah\Exception\EncodingException`.
pub fn encode_error(e: JsonError, what: &str) -> ext_php_rs::exception::PhpException {
    if let JsonError::Thrown = e {
        if let Err(pending) = crate::convert::propagate() {
            return pending;
        }
    }
    crate::exceptions::encoding(format!("{what} cannot be encoded as JSON: {e}"))
}
