//! Handler names: the `<name>` of a `<name>_listener` directory.

use crate::error::{Error, Result};
use std::fmt;

/// Longest accepted handler name, in bytes.
pub const MAX_HANDLER_NAME_LEN: usize = 200;

/// Suffix that marks a listener directory (`<name>_listener`, as hurah/events named them): a
/// name plus this suffix must fit in one file name (255 bytes).
pub const LISTENER_SUFFIX: &str = "_listener";

/// A validated handler name: `^[A-Za-z0-9][A-Za-z0-9_.-]*$`, at most 200 bytes.
///
/// The original library's regex was unanchored and let `../evil` through; this one is anchored.
///
/// ```
/// use hurah::HandlerName;
/// assert!(HandlerName::new("image_scaler").is_ok());
/// assert!(HandlerName::new("../evil").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerName(String);

impl HandlerName {
    /// Validates and wraps a name.
    pub fn new(value: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidHandlerName {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let first = value.bytes().next().ok_or_else(|| bad("is empty"))?;
        if !first.is_ascii_alphanumeric() {
            return Err(bad("must start with A-Z, a-z or 0-9"));
        }
        if value.len() > MAX_HANDLER_NAME_LEN {
            return Err(bad("is longer than 200 bytes"));
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        {
            return Err(bad("must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$"));
        }
        Ok(HandlerName(value.to_string()))
    }

    /// The name of a listener directory that already exists (`<name>_listener`), by the rules of
    /// hurah/events, which delivered to every directory ending in `_listener`: any name that is
    /// one path component (no `/`, no NUL, at most 255 bytes with the suffix). Stricter rules
    /// ([`HandlerName::new`]) apply to listener directories hurah creates; see
    /// [`HandlerName::is_strict`].
    pub fn existing(value: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidHandlerName {
            value: value.to_string(),
            reason: reason.to_string(),
        };
        if value.contains('/') || value.contains('\0') {
            return Err(bad("must not contain / or NUL"));
        }
        if value.len() + LISTENER_SUFFIX.len() > 255 {
            return Err(bad("is too long for a directory name"));
        }
        Ok(HandlerName(value.to_string()))
    }

    /// True if the name passes [`HandlerName::new`], the rule for directories hurah creates.
    pub fn is_strict(&self) -> bool {
        HandlerName::new(&self.0).is_ok()
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HandlerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in ["a", "image_scaler", "ok-name", "v1.2", "9lives"] {
            assert_eq!(HandlerName::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn existing_accepts_what_the_original_delivered_to() {
        for ok in ["_x", "a b", "Ünï", "", "..", "-x"] {
            let n = HandlerName::existing(ok).unwrap();
            assert_eq!(n.as_str(), ok);
            assert!(!n.is_strict());
        }
        assert!(HandlerName::existing("ok").unwrap().is_strict());
        for bad in ["a/b", "a\0"] {
            assert!(HandlerName::existing(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_what_the_original_let_through() {
        for bad in [
            "", "___", "../evil", "a b", "_x", "-x", ".x", "a/b", "a\0", "ä",
        ] {
            match HandlerName::new(bad) {
                Err(Error::InvalidHandlerName { value, .. }) => assert_eq!(value, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
