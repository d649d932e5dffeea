//! Event types: `/`-separated paths in the event tree (`product/created`).

use crate::error::{Error, Result};
use std::fmt;

/// Longest accepted segment, in bytes (a directory name must fit `NAME_MAX`).
pub const MAX_SEGMENT_LEN: usize = 200;

/// A validated, immutable event type such as `product/created`.
///
/// Each segment matches `[A-Za-z0-9_.-]+`, is not `.` or `..` and does not end in `_listener`
/// (which would turn it into a bogus listener directory). The empty string is the *root* type:
/// a handler registered on it receives every event; dispatching it reaches root listeners only.
/// A `0` segment is dropped (`a/0/b` is `a/b`), as hurah/events' path joining dropped it, so
/// both deliver to the same directories; empty segments are errors.
///
/// ```
/// use hurah::EventType;
/// let t = EventType::parse("product/created").unwrap();
/// assert_eq!(t.segments(), ["product", "created"]);
/// assert_eq!(t.to_string(), "product/created");
/// assert!(EventType::parse("product/../etc").is_err());
/// assert!(EventType::parse("product/").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EventType {
    segments: Vec<String>,
}

impl EventType {
    /// The root type (no segments).
    pub fn root() -> Self {
        EventType::default()
    }

    /// Parses `a/b/c`. The empty string is the root type; empty segments (`a//b`, `/a`, `a/`) are
    /// errors, never silently dropped; `0` segments are dropped (`a/0/b` is `a/b`), as in
    /// hurah/events.
    pub fn parse(value: &str) -> Result<Self> {
        if value.is_empty() {
            return Ok(Self::root());
        }
        Self::from_segments(value.split('/')).map_err(|e| match e {
            Error::InvalidEventType { reason, .. } => Error::InvalidEventType {
                value: value.to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Builds a type from separate segments (`["product", "created"]`), validating each.
    pub fn from_segments<I, S>(segments: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for s in segments {
            let s = s.as_ref();
            if s == "0" {
                // hurah/events built paths with empty() segments dropped, so `a/0/b` was
                // stored and delivered as `a/b`: the same here (see the type's docs).
                continue;
            }
            if let Err(reason) = check_segment(s) {
                let mut whole: Vec<&str> = out.iter().map(String::as_str).collect();
                whole.push(s);
                return Err(Error::InvalidEventType {
                    value: whole.join("/"),
                    reason: format!("segment {s:?} {reason}"),
                });
            }
            out.push(s.to_string());
        }
        Ok(EventType { segments: out })
    }

    /// The segments, most general first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// True for the root type.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The parent type (`product/created` → `product` → root), or `None` for the root.
    pub fn parent(&self) -> Option<EventType> {
        if self.is_root() {
            return None;
        }
        let mut segments = self.segments.clone();
        segments.pop();
        Some(EventType { segments })
    }

    /// The levels a dispatch of this type reaches, most specific first, ending with the root:
    /// `product/stored` → `[product, stored]`, `[product]`, `[]`. Each level appears once.
    pub fn delivery_levels(&self) -> impl Iterator<Item = &[String]> {
        (0..=self.segments.len())
            .rev()
            .map(move |n| &self.segments[..n])
    }
}

fn check_segment(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() {
        return Err("is empty (no leading, trailing or double '/')");
    }
    if s == "." || s == ".." {
        return Err("is a relative path component");
    }
    if s.len() > MAX_SEGMENT_LEN {
        return Err("is longer than 200 bytes");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    {
        return Err("may only contain A-Z a-z 0-9 _ . -");
    }
    if s.ends_with("_listener") {
        return Err("may not end in '_listener' (reserved for listener directories)");
    }
    Ok(())
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join("/"))
    }
}

impl std::str::FromStr for EventType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_segments() {
        let t = EventType::parse("product/stored").unwrap();
        assert_eq!(t.segments(), ["product", "stored"]);
        assert_eq!(t.to_string(), "product/stored");
    }

    #[test]
    fn empty_string_is_root() {
        assert!(EventType::parse("").unwrap().is_root());
    }

    #[test]
    fn rejects_traversal_empty_segments_and_reserved_names() {
        for bad in [
            "..",
            ".",
            "a/../b",
            "/a",
            "a/",
            "a//b",
            "a/b c",
            "a\0b",
            "a/x_listener",
            "a/é",
            "a\\b",
        ] {
            let err = EventType::parse(bad).unwrap_err();
            match err {
                Error::InvalidEventType { value, .. } => assert_eq!(value, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn zero_segments_are_dropped_as_the_original_did() {
        // hurah/events joined paths with empty() segments dropped: a/0/b lived in a/b/.
        let t = EventType::parse("a/0/b").unwrap();
        assert_eq!(t.segments(), ["a", "b"]);
        assert_eq!(t.to_string(), "a/b");
        assert_eq!(
            EventType::from_segments(["0", "x", "0"])
                .unwrap()
                .to_string(),
            "x"
        );
        assert!(EventType::parse("0").unwrap().is_root());
        assert_eq!(
            EventType::parse("a/00/b").unwrap().segments(),
            ["a", "00", "b"]
        );
        // Each level once: no duplicate delivery either.
        let levels: Vec<_> = t.delivery_levels().map(<[String]>::to_vec).collect();
        assert_eq!(levels.len(), 3);
    }

    #[test]
    fn delivery_levels_go_from_specific_to_root_once_each() {
        let t = EventType::parse("product/stored").unwrap();
        let levels: Vec<Vec<String>> = t.delivery_levels().map(|l| l.to_vec()).collect();
        assert_eq!(
            levels,
            vec![
                vec!["product".to_string(), "stored".to_string()],
                vec!["product".to_string()],
                vec![]
            ]
        );
        assert_eq!(EventType::root().delivery_levels().count(), 1);
    }

    #[test]
    fn parent_does_not_mutate() {
        let t = EventType::parse("a/b").unwrap();
        assert_eq!(t.parent().unwrap().to_string(), "a");
        assert_eq!(t.to_string(), "a/b");
        assert_eq!(EventType::root().parent(), None);
    }

    #[test]
    fn overlong_segment_is_rejected() {
        assert!(EventType::parse(&"a".repeat(201)).is_err());
        assert!(EventType::parse(&"a".repeat(200)).is_ok());
    }
}
