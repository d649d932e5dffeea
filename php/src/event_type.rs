//! `Hurah\Event\EventType`: an immutable, validated event type (`product/stored`).
// Parameter names are PHP's (camelCase, as in hurah/events), for named arguments.
#![allow(non_snake_case)]

use crate::convert::stringish;
use crate::exceptions::{from_core, null_pointer};
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;

/// `Hurah\Event\EventType`. Unlike the original, `pop()` does not change the object.
#[php_class]
#[php(name = "Hurah\\Event\\EventType")]
#[derive(Clone)]
pub struct EventType {
    pub(crate) inner: hurah::EventType,
}

impl EventType {
    /// Wraps a core event type.
    pub fn new(inner: hurah::EventType) -> Self {
        EventType { inner }
    }

    /// An `EventType|string|Stringable` argument as a core event type.
    pub fn from_arg(v: &Zval, what: &str) -> PhpResult<hurah::EventType> {
        if let Some(obj) = v.dereference().object() {
            if let Some(et) = ext_php_rs::types::ZendClassObject::<EventType>::from_zend_obj(obj) {
                return Ok(et.inner.clone());
            }
        }
        let s = stringish(v, what)?;
        hurah::EventType::parse(&s).map_err(from_core)
    }
}

#[php_impl]
impl EventType {
    /// `new EventType('product', 'stored')`; no parts is the root type (`isVoid()`).
    pub fn __construct(eventTypeComponents: &[String]) -> PhpResult<Self> {
        hurah::EventType::from_segments(eventTypeComponents)
            .map(EventType::new)
            .map_err(from_core)
    }

    /// `EventType::fromString('product/stored')`.
    pub fn from_string(eventType: String) -> PhpResult<Self> {
        hurah::EventType::parse(&eventType)
            .map(EventType::new)
            .map_err(from_core)
    }

    /// The segments, most general first.
    pub fn as_array(&self) -> Vec<String> {
        self.inner.segments().to_vec()
    }

    /// True for the root type (no segments).
    pub fn is_void(&self) -> bool {
        self.inner.is_root()
    }

    /// The parent type; `$this` is not changed. Throws `NullPointerException` (as the original)
    /// on the root type.
    pub fn pop(&self) -> PhpResult<Self> {
        self.inner
            .parent()
            .map(EventType::new)
            .ok_or_else(|| null_pointer("cannot pop() the root event type: it has no parent"))
    }

    /// `product/stored`.
    pub fn __to_string(&self) -> String {
        self.inner.to_string()
    }
}
