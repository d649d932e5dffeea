//! `Hurah\Event\Helper\HandlerName`: a validated handler name.
// Parameter names are PHP's (as in hurah/events), for named arguments.
#![allow(non_snake_case)]

use crate::convert::stringish;
use crate::exceptions::from_core;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;

/// `Hurah\Event\Helper\HandlerName`. Accepts what hurah/events accepted (a name containing a
/// letter or digit) as long as it is one path component; names outside
/// `STRICT_NAME_CONSTRAINT` can only serve a `<name>_listener` directory that already exists
/// (hurah never creates one, see `hurah::layout::Listener::ensure`).
#[php_class]
#[php(name = "Hurah\\Event\\Helper\\HandlerName")]
pub struct HandlerName {
    inner: hurah::HandlerName,
}

impl HandlerName {
    /// A `HandlerName|string|Stringable` argument as a core handler name.
    pub fn from_arg(v: &Zval, what: &str) -> PhpResult<hurah::HandlerName> {
        if let Some(obj) = v.dereference().object() {
            if let Some(n) = ext_php_rs::types::ZendClassObject::<HandlerName>::from_zend_obj(obj) {
                return Ok(n.inner.clone());
            }
        }
        let s = stringish(v, what)?;
        parse(&s)
    }
}

/// The strict rule, else the original's (`/[a-zA-Z0-9]+/`, unanchored) for a single path
/// component; the strict rule's error otherwise.
fn parse(s: &str) -> PhpResult<hurah::HandlerName> {
    match hurah::HandlerName::new(s) {
        Ok(n) => Ok(n),
        Err(strict) => {
            if s.bytes().any(|b| b.is_ascii_alphanumeric()) {
                if let Ok(n) = hurah::HandlerName::existing(s) {
                    return Ok(n);
                }
            }
            Err(from_core(strict))
        }
    }
}

#[php_impl]
impl HandlerName {
    /// hurah/events' rule (unanchored): what the constructor accepts, except names that are not
    /// one path component (`../x`, `a/b`).
    pub const EVENT_NAME_CONSTRAINT: &'static str = "/[a-zA-Z0-9]+/";
    /// The rule for listener directories hurah creates; other accepted names only serve an
    /// existing `<name>_listener` directory.
    pub const STRICT_NAME_CONSTRAINT: &'static str = "/^[A-Za-z0-9][A-Za-z0-9_.-]*$/";

    /// Validates the name; throws `Hurah\Exception\InvalidArgumentException` naming it. The
    /// parameter is named `$sName`, as in the original (named arguments).
    pub fn __construct(sName: String) -> PhpResult<Self> {
        parse(&sName).map(|inner| HandlerName { inner })
    }

    /// The name.
    pub fn __to_string(&self) -> String {
        self.inner.to_string()
    }
}

/// A name outside `STRICT_NAME_CONSTRAINT` may only serve a listener directory that already
/// exists: checked before the handler touches the event root, so a refused name creates
/// nothing (not even the root).
pub fn require_existing_listener(
    name: &hurah::HandlerName,
    event_type: &hurah::EventType,
    root: &str,
) -> PhpResult<()> {
    if name.is_strict() {
        return Ok(());
    }
    let listener = hurah::Layout::new(root).listener(event_type, name);
    if listener.dir().is_dir() {
        return Ok(());
    }
    // Not there: ensure() refuses (and creates nothing) with the error naming the rule.
    listener.ensure().map_err(from_core)
}
