//! JSON nesting as deep as PHP's `json_encode` writes by default (512 levels), for every reader
//! of payloads and task files: dispatch's validation, the task file reader (either backend),
//! the PHP extension and the CLI.
//!
//! serde_json stops at 128 levels of nesting (its recursion limit). Here the depth is counted
//! first, by a linear scan that never recurses, and only text within the limit is parsed, with
//! serde_json's own limit lifted: so the limit is ours, and its error names the depth.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

/// Deepest payload nesting accepted (arrays/objects), PHP's `json_encode` default depth. A
/// task file nests its payload one level deeper: [`MAX_TASK_DEPTH`].
pub const MAX_PAYLOAD_DEPTH: usize = 512;

/// Deepest nesting of a task file: the payload's limit plus the task object around it.
pub const MAX_TASK_DEPTH: usize = MAX_PAYLOAD_DEPTH + 1;

/// Why a text was not read.
#[derive(Debug)]
pub enum ParseError {
    /// Nested deeper than allowed (nothing was parsed).
    TooDeep {
        /// The text's nesting depth.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// Not valid JSON (serde_json's message).
    Json(serde_json::Error),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::TooDeep { depth, max } => write!(
                f,
                "nested {depth} arrays/objects deep; at most {max} are accepted"
            ),
            ParseError::Json(e) => write!(f, "not valid JSON: {e}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// The deepest nesting of `[`/`{` in `text`, outside strings. Never recurses. For text that
/// is not JSON the number means little (the parser then reports the syntax error).
pub fn depth(text: &[u8]) -> usize {
    let (mut cur, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                cur += 1;
                max = max.max(cur);
            }
            b']' | b'}' => cur = cur.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn check(text: &[u8], max: usize) -> Result<(), ParseError> {
    let depth = depth(text);
    if depth > max {
        return Err(ParseError::TooDeep { depth, max });
    }
    Ok(())
}

/// `text` as a [`Value`], if nested at most `max` deep.
pub fn from_slice(text: &[u8], max: usize) -> Result<Value, ParseError> {
    check(text, max)?;
    let mut de = serde_json::Deserializer::from_slice(text);
    // Bounded by the check above: 513 levels take about 256 KiB of stack (optimized build),
    // which a main thread (8 MiB) or a spawned Rust thread (2 MiB) has.
    de.disable_recursion_limit();
    let v = Value::deserialize(&mut de).map_err(ParseError::Json)?;
    de.end().map_err(ParseError::Json)?;
    Ok(v)
}

/// `text` as a [`Value`], if nested at most `max` deep.
pub fn from_str(text: &str, max: usize) -> Result<Value, ParseError> {
    from_slice(text.as_bytes(), max)
}

/// `text` checked as JSON and borrowed as a [`RawValue`], if nested at most `max` deep.
pub fn raw_from_str(text: &str, max: usize) -> Result<&RawValue, ParseError> {
    check(text.as_bytes(), max)?;
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let v = <&RawValue>::deserialize(&mut de).map_err(ParseError::Json)?;
    de.end().map_err(ParseError::Json)?;
    Ok(v)
}

/// True when serde_json reads `text` into a `Value` exactly when it reads it as a `RawValue`:
/// no backslash (a `\\u` escape with a lone surrogate fails only the former), no number with
/// an exponent or 300 digits in a row (one out of the f64 range fails only the former), and at
/// most [`MAX_PAYLOAD_DEPTH`] `[`/`{` (neither the recursion limit nor the depth check can
/// apply). Strings are skipped (they hold no backslash, so a quote always ends them).
pub(crate) fn plain_json(text: &str) -> bool {
    let mut in_string = false;
    let mut openers = 0;
    let mut digits = 0;
    for &b in text.as_bytes() {
        if in_string {
            match b {
                b'"' => in_string = false,
                b'\\' => return false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'\\' => return false,
            b'[' | b'{' => {
                openers += 1;
                if openers > MAX_PAYLOAD_DEPTH {
                    return false;
                }
            }
            b'e' | b'E' if digits > 0 => return false,
            _ => {}
        }
        if b.is_ascii_digit() {
            digits += 1;
            if digits >= 300 {
                return false;
            }
        } else {
            digits = 0;
        }
    }
    true
}

/// Checks that `payload` is JSON text the worker can read back, as dispatch does on every
/// backend: the syntax, numbers in range (1e400 is refused: the reader would fail on it) and
/// at most [`MAX_PAYLOAD_DEPTH`] levels of nesting (the error names the depth). Returns it as a
/// [`RawValue`] (its text kept as given).
pub(crate) fn validate_payload(payload: &str) -> crate::error::Result<&RawValue> {
    // Parse as the worker will (TaskDoc::parse, into a serde_json Value): a RawValue only
    // checks the syntax, so a number out of range (1e400) would be accepted and the task
    // unreadable. A payload without escapes, exponents, very long numbers or deep nesting
    // cannot tell the two apart, so for it the RawValue parse alone decides; anything else
    // (and any error, so that its message is the Value parser's) takes the Value parse.
    let invalid = |e: ParseError| crate::error::Error::InvalidPayload {
        reason: e.to_string(),
    };
    if plain_json(payload) {
        if let Ok(raw) = serde_json::from_str::<&RawValue>(payload) {
            return Ok(raw);
        }
    }
    from_str(payload, MAX_PAYLOAD_DEPTH).map_err(invalid)?;
    raw_from_str(payload, MAX_PAYLOAD_DEPTH).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(n: usize) -> String {
        format!("{}1{}", "[".repeat(n), "]".repeat(n))
    }

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(depth(b"1"), 0);
        assert_eq!(depth(b"[]"), 1);
        assert_eq!(depth(br#"{"a":[1,{"b":[]}],"c":{}}"#), 4);
        assert_eq!(depth(br#"["[[[[", "\"[[", {"k\\":"{{"}]"#), 2);
        assert_eq!(depth(nested(600).as_bytes()), 600);
    }

    #[test]
    fn reads_php_depth_and_names_the_depth_beyond() {
        let v = from_str(&nested(MAX_PAYLOAD_DEPTH), MAX_PAYLOAD_DEPTH).unwrap();
        assert!(v.is_array());
        // The task object around it.
        let doc = format!("{{\"payload\":{}}}", nested(MAX_PAYLOAD_DEPTH));
        from_str(&doc, MAX_TASK_DEPTH).unwrap();
        raw_from_str(&nested(MAX_PAYLOAD_DEPTH), MAX_PAYLOAD_DEPTH).unwrap();
        match from_str(&nested(MAX_PAYLOAD_DEPTH + 1), MAX_PAYLOAD_DEPTH) {
            Err(
                e @ ParseError::TooDeep {
                    depth: 513,
                    max: 512,
                },
            ) => {
                let m = e.to_string();
                assert!(m.contains("513") && m.contains("512"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            from_str("[1,", MAX_PAYLOAD_DEPTH),
            Err(ParseError::Json(_))
        ));
        assert!(matches!(
            from_str("[1] x", MAX_PAYLOAD_DEPTH),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn deep_values_read_on_a_small_thread() {
        // 513 levels fit the default stack of a spawned Rust thread (2 MiB), even unoptimized
        // (optimized they need about 256 KiB).
        let t = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let doc = format!("{{\"payload\":{}}}", nested(MAX_PAYLOAD_DEPTH));
                let v = from_str(&doc, MAX_TASK_DEPTH).unwrap();
                serde_json::to_string(&v).unwrap().len()
            })
            .unwrap();
        assert!(t.join().unwrap() > 1024);
    }
}
