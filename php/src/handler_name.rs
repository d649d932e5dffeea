//! `Hurah\Event\Helper\HandlerName`: a validated handler name.
// Parameter names are PHP's (as in hurah/events), for named arguments.
#![allow(non_snake_case)]

use crate::convert::stringish;
use crate::exceptions::from_core;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;

/// `Hurah\Event\Helper\HandlerName`. The regex is anchored (the original's was not).
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
        hurah::HandlerName::new(&s).map_err(from_core)
    }
}

#[php_impl]
impl HandlerName {
    /// The rule every handler name must match.
    pub const EVENT_NAME_CONSTRAINT: &'static str = "/^[A-Za-z0-9][A-Za-z0-9_.-]*$/";

    /// Validates the name; throws `Hurah\Exception\InvalidArgumentException` naming it. The
    /// parameter is named `$sName`, as in the original (named arguments).
    pub fn __construct(sName: String) -> PhpResult<Self> {
        hurah::HandlerName::new(&sName)
            .map(|inner| HandlerName { inner })
            .map_err(from_core)
    }

    /// The name.
    pub fn __to_string(&self) -> String {
        self.inner.to_string()
    }
}
