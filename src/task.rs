//! Task files: `{"payload":…,"sequence":N,"count":N,"delivery":"<ISO>"}` as hurah/events wrote
//! them, plus optional keys the original reader ignores (`retry_count` is the original's own).

use crate::error::{Error, Result};
use crate::event_type::EventType;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// `value` as compact JSON text exactly as PHP's `json_encode($value)` (no flags, what
/// hurah/events wrote) prints it: `/` as `\/` and every non-ASCII character as `\uXXXX` (UTF-16,
/// lowercase hex); the other escapes are serde_json's, which are PHP's.
pub fn php_json(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value);
    out
}

fn write_map(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, k);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Object(m) => write_map(out, m),
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::String(s) => write_string(out, s),
        Value::Number(n) if n.is_f64() => write_float(out, n.as_f64().unwrap_or(0.0)),
        // null, booleans, integers: serde_json's text is PHP's.
        other => out.push_str(&other.to_string()),
    }
}

/// A float as PHP prints it with `serialize_precision = -1` (shortest round-trip digits):
/// fixed notation without a trailing `.0` for decimal exponents -4..=16 (`2`, `2.5`, `0.0001`),
/// else `1.0e+17`, `1.5e-7`.
fn write_float(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    let e = format!("{f:e}"); // shortest digits: "1.5e-7", "1e20"
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..17).contains(&exp) {
        out.push_str(&format!("{f}"));
        return;
    }
    out.push_str(mantissa);
    if !mantissa.contains('.') {
        out.push_str(".0");
    }
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&exp.unsigned_abs().to_string());
}

fn write_string(out: &mut String, s: &str) {
    use std::fmt::Write;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Keys of a task file.
pub mod keys {
    /// The dispatched data (original).
    pub const PAYLOAD: &str = "payload";
    /// Per-listener sequence number (original).
    pub const SEQUENCE: &str = "sequence";
    /// Per-listener delivery count (original; equals the sequence).
    pub const COUNT: &str = "count";
    /// Delivery time, ISO-8601 (original).
    pub const DELIVERY: &str = "delivery";
    /// Number of RETRY outcomes so far (original).
    pub const RETRY_COUNT: &str = "retry_count";
    /// The dispatched event type.
    pub const EVENT: &str = "event";
    /// Unique id of the dispatch (shared by the copies a dispatch delivers to several listeners).
    pub const ID: &str = "id";
    /// Runs that did not succeed so far: RETRY outcomes plus workers that died running it.
    pub const ATTEMPTS: &str = "attempts";
    /// Not to run before this time (ms since the epoch).
    pub const NOT_BEFORE: &str = "not_before";
    /// Why the task is in `error/`: `{"reason","class","at","attempts"}`.
    pub const ERROR: &str = "error";
    /// In the `error/` file of an entry that was not a regular file: where that entry is kept.
    pub const REJECTED_ENTRY: &str = "rejected_entry";
}

/// The parsed content of a task file. Unknown keys are kept, in order, when it is rewritten.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskDoc {
    map: Map<String, Value>,
}

/// The fields a new task file is made of.
#[derive(Clone, Debug)]
pub struct NewTask<'a> {
    /// Payload, already valid JSON.
    pub payload: &'a RawValue,
    /// Sequence (and count).
    pub sequence: u64,
    /// Delivery time text.
    pub delivery: &'a str,
    /// Event type dispatched.
    pub event: &'a EventType,
    /// Dispatch id.
    pub id: &'a str,
    /// Due time for delayed tasks.
    pub not_before: Option<u64>,
}

impl NewTask<'_> {
    /// The file content, keys in the original's order, compact, no trailing newline.
    #[cfg(test)]
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(self.payload.get().len() + 160);
        self.write_json(&mut s);
        s
    }

    /// Appends the file content (keys in the original's order, compact, no trailing newline) to
    /// `s` (the dispatcher reuses one buffer for all the copies).
    pub(crate) fn write_json(&self, s: &mut String) {
        s.reserve(self.payload.get().len() + 160);
        s.push_str("{\"payload\":");
        s.push_str(self.payload.get());
        s.push_str(",\"sequence\":");
        push_u64(s, self.sequence);
        s.push_str(",\"count\":");
        push_u64(s, self.sequence);
        s.push_str(",\"delivery\":\"");
        s.push_str(self.delivery);
        s.push_str("\",\"event\":");
        push_event_json(s, self.event);
        s.push_str(",\"id\":\"");
        s.push_str(self.id);
        s.push('"');
        if let Some(nb) = self.not_before {
            s.push_str(",\"not_before\":");
            push_u64(s, nb);
        }
        s.push('}');
    }
}

/// Appends the decimal digits of `n` (what `{n}` would print, without the formatting machinery).
pub(crate) fn push_u64(s: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // The bytes are ASCII digits.
    s.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

/// Appends the event type as a JSON string, exactly as serde_json would write it. A validated
/// type only holds `[A-Za-z0-9_.-]` and `/`, none of which JSON escapes, so the text is copied;
/// anything else goes through serde_json.
fn push_event_json(s: &mut String, event: &EventType) {
    let plain = event.segments().iter().all(|seg| {
        seg.bytes()
            .all(|b| b >= 0x20 && b != b'"' && b != b'\\' && b < 0x7f)
    });
    if !plain {
        s.push_str(&Value::String(event.to_string()).to_string());
        return;
    }
    s.push('"');
    for (i, seg) in event.segments().iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(seg);
    }
    s.push('"');
}

impl TaskDoc {
    /// Parses a task file's bytes. It must be a JSON object with a `payload` key (missing keys
    /// made the original throw as well); `path` is only used in the error.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let corrupt = |reason: String| Error::CorruptTask {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.is_empty() {
            return Err(corrupt("file is empty".into()));
        }
        let value: Value =
            crate::json::from_slice(bytes, crate::json::MAX_TASK_DEPTH).map_err(|e| match e {
                crate::json::ParseError::Json(e) => corrupt(format!("not valid JSON ({e})")),
                deep => corrupt(deep.to_string()),
            })?;
        let Value::Object(map) = value else {
            return Err(corrupt("not a JSON object".into()));
        };
        if !map.contains_key(keys::PAYLOAD) {
            return Err(corrupt("no \"payload\" key".into()));
        }
        for k in [
            keys::SEQUENCE,
            keys::COUNT,
            keys::RETRY_COUNT,
            keys::ATTEMPTS,
        ] {
            if let Some(v) = map.get(k) {
                if !v.is_u64() {
                    return Err(corrupt(format!(
                        "\"{k}\" is not a non-negative integer: {v}"
                    )));
                }
            }
        }
        Ok(TaskDoc { map })
    }

    /// The payload.
    pub fn payload(&self) -> &Value {
        self.map.get(keys::PAYLOAD).unwrap_or(&Value::Null)
    }

    fn u64_key(&self, k: &str) -> Option<u64> {
        self.map.get(k).and_then(Value::as_u64)
    }

    fn str_key(&self, k: &str) -> Option<&str> {
        self.map.get(k).and_then(Value::as_str)
    }

    /// `sequence`, if present.
    pub fn sequence(&self) -> Option<u64> {
        self.u64_key(keys::SEQUENCE)
    }

    /// `count`, if present.
    pub fn count(&self) -> Option<u64> {
        self.u64_key(keys::COUNT)
    }

    /// `delivery`, if present.
    pub fn delivery(&self) -> Option<&str> {
        self.str_key(keys::DELIVERY)
    }

    /// `retry_count` (0 when absent).
    pub fn retry_count(&self) -> u64 {
        self.u64_key(keys::RETRY_COUNT).unwrap_or(0)
    }

    /// Unsuccessful runs so far: the higher of `attempts` (hurah) and `retry_count` (the only
    /// counter hurah/events updates), so M retries mean M + 1 runs whichever worker runs them
    /// when both serve one listener.
    pub fn attempts(&self) -> u64 {
        self.u64_key(keys::ATTEMPTS)
            .unwrap_or(0)
            .max(self.retry_count())
    }

    /// The dispatch id, if present (files from the original have none).
    pub fn id(&self) -> Option<&str> {
        self.str_key(keys::ID)
    }

    /// The dispatched event type, if recorded.
    pub fn event(&self) -> Option<&str> {
        self.str_key(keys::EVENT)
    }

    /// Due time in ms since the epoch, if delayed.
    pub fn not_before(&self) -> Option<u64> {
        self.u64_key(keys::NOT_BEFORE)
    }

    /// The stored error object, if any.
    pub fn error(&self) -> Option<&Value> {
        self.map.get(keys::ERROR)
    }

    /// Any key's value (including keys this crate does not know).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Sets a key (appended at the end if new, in place otherwise).
    pub fn set(&mut self, key: &str, value: Value) {
        self.map.insert(key.to_string(), value);
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        self.map.shift_remove(key);
    }

    /// Records one more unsuccessful run.
    pub fn add_attempt(&mut self) -> u64 {
        let n = self.attempts() + 1;
        self.set(keys::ATTEMPTS, n.into());
        n
    }

    /// Stores why the task failed for good: `{"reason","class","at","attempts"}`, where
    /// `attempts` is `runs`, the number of times the task ran (0 for a file that never could).
    pub fn set_error(&mut self, reason: &str, class: Option<&str>, at_ms: u64, runs: u64) {
        let mut e = Map::new();
        e.insert("reason".into(), reason.into());
        e.insert(
            "class".into(),
            class.map(Value::from).unwrap_or(Value::Null),
        );
        e.insert("at".into(), crate::clock::iso8601(at_ms).into());
        e.insert("attempts".into(), runs.into());
        self.set(keys::ERROR, Value::Object(e));
    }

    /// The whole document as compact JSON.
    /// Written as PHP's `json_encode()` does (see [`php_json`]), as hurah/events rewrote files.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(256);
        write_map(&mut out, &self.map);
        out
    }

    /// The document stored in `error/<seq>.json` for an entry that was not a regular file
    /// (symbolic link, directory, FIFO, ...): no payload, the reason, and under
    /// `"rejected_entry"` the name the entry itself was moved to in `error/`.
    pub fn wrap_rejected(seq: u64, reason: &str, moved_to: &str, at_ms: u64) -> Self {
        let mut map = Map::new();
        map.insert(keys::PAYLOAD.into(), Value::Null);
        map.insert(keys::SEQUENCE.into(), seq.into());
        map.insert(keys::COUNT.into(), seq.into());
        map.insert(keys::DELIVERY.into(), crate::clock::iso8601(at_ms).into());
        map.insert(keys::REJECTED_ENTRY.into(), moved_to.into());
        let mut doc = TaskDoc { map };
        doc.set_error(reason, Some("NotRegularFile"), at_ms, 0);
        doc
    }

    /// A document wrapping a corrupt file, so it can be stored in `error/` with its reason while
    /// keeping the original bytes (as text, or hex when not UTF-8).
    pub fn wrap_corrupt(bytes: &[u8], seq: u64, reason: &str, at_ms: u64) -> Self {
        let mut map = Map::new();
        map.insert(keys::PAYLOAD.into(), Value::Null);
        map.insert(keys::SEQUENCE.into(), seq.into());
        map.insert(keys::COUNT.into(), seq.into());
        map.insert(keys::DELIVERY.into(), crate::clock::iso8601(at_ms).into());
        match std::str::from_utf8(bytes) {
            Ok(s) => map.insert("corrupt_content".into(), s.into()),
            Err(_) => map.insert(
                "corrupt_content_hex".into(),
                bytes
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
                    .into(),
            ),
        };
        let mut doc = TaskDoc { map };
        doc.set_error(reason, Some("CorruptTask"), at_ms, 0);
        doc
    }
}

/// A task a worker has claimed: its document plus where it lives.
#[derive(Clone, Debug)]
pub struct Task {
    pub(crate) doc: TaskDoc,
    pub(crate) seq: u64,
    pub(crate) path: PathBuf,
    pub(crate) event_type: EventType,
    pub(crate) said: Said,
}

/// What the handler said about a RETRY of this run ([`Task::say_why`]).
#[derive(Debug, Default)]
pub(crate) struct Said(std::sync::Mutex<Option<String>>);

impl Clone for Said {
    fn clone(&self) -> Self {
        Said(std::sync::Mutex::new(self.get()))
    }
}

impl Said {
    pub(crate) fn get(&self) -> Option<String> {
        self.0.lock().map(|s| s.clone()).unwrap_or(None)
    }
}

impl Task {
    /// Why this run asks to be retried (C: `hurah_task_set_reason`; the shell runner: its
    /// exit status and last stderr line). Kept only if the RETRY uses up the handler's
    /// attempts: the stored reason is then "Hit retry limit which is set to: M. Last attempt:
    /// <why>" instead of the first sentence alone. A later call replaces it.
    pub fn say_why(&self, why: impl Into<String>) {
        if let Ok(mut s) = self.said.0.lock() {
            *s = Some(why.into());
        }
    }

    /// What [`Task::say_why`] was given during this run, if anything.
    pub fn said_why(&self) -> Option<String> {
        self.said.get()
    }

    /// The parsed file.
    pub fn doc(&self) -> &TaskDoc {
        &self.doc
    }

    /// The payload.
    pub fn payload(&self) -> &Value {
        self.doc.payload()
    }

    /// The task's sequence in its listener (from the file name).
    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// `count` (the sequence when absent).
    pub fn count(&self) -> u64 {
        self.doc.count().unwrap_or(self.seq)
    }

    /// The dispatch id, or `<seq>` for files written by the original library.
    pub fn id(&self) -> String {
        self.doc
            .id()
            .map(str::to_string)
            .unwrap_or_else(|| self.seq.to_string())
    }

    /// Which run this is, from 1.
    pub fn attempt(&self) -> u64 {
        self.doc.attempts() + 1
    }

    /// The dispatched event type (the listener's own type for files from the original).
    pub fn event_type(&self) -> String {
        self.doc
            .event()
            .map(str::to_string)
            .unwrap_or_else(|| self.event_type.to_string())
    }

    /// Delivery time text.
    pub fn delivery(&self) -> &str {
        self.doc.delivery().unwrap_or("")
    }

    /// Where the file is now (`claimed/<worker>/<seq>.json`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The whole task file as JSON.
    pub fn to_json(&self) -> String {
        self.doc.to_json()
    }
}

#[cfg(test)]
mod tests;
