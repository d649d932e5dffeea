//! `Hurah\Event\Dispatcher`: writes one task per listener of an event type.
// Parameter names are PHP's (camelCase, as in hurah/events), for named arguments.
#![allow(non_snake_case)]

use crate::context::payload_of;
use crate::convert::{each_option, stringish, type_name};
use crate::event_type::EventType;
use crate::exceptions::{from_core, invalid_argument};
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendHashTable, Zval};

/// `Hurah\Event\Dispatcher`.
#[php_class]
#[php(name = "Hurah\\Event\\Dispatcher")]
pub struct Dispatcher {
    /// The backend the root names (a directory or a `postgresql://` URL).
    inner: Box<dyn hurah::backend::Backend>,
    fsync: hurah::FsyncPolicy,
}

#[php_impl]
impl Dispatcher {
    /// `new Dispatcher('/var/events', ['fsync' => 'never'])`. The root is created if missing.
    /// `fsync` defaults to `$HURAH_FSYNC`, else `always`. A `postgresql://` URL as the root
    /// connects to that database (fsync does not apply there).
    pub fn __construct(eventRoot: &Zval, options: Option<&ZendHashTable>) -> PhpResult<Self> {
        let root = stringish(eventRoot, "event root")?;
        if root.is_empty() {
            return Err(invalid_argument("event root must not be empty"));
        }
        let mut fsync = None;
        each_option(options, "Dispatcher", |k, v| match k {
            "fsync" => {
                let s = v.str().ok_or_else(|| {
                    invalid_argument(format!(
                        "option fsync must be 'always' or 'never', {} given",
                        type_name(v)
                    ))
                })?;
                fsync = Some(hurah::FsyncPolicy::parse(s).map_err(from_core)?);
                Ok(true)
            }
            _ => Ok(false),
        })?;
        let fsync = match fsync {
            Some(f) => f,
            None => hurah::FsyncPolicy::from_env().map_err(from_core)?,
        };
        let inner = hurah::backend::open(&root, fsync).map_err(from_core)?;
        Ok(Dispatcher { inner, fsync })
    }

    /// Delivers `$data` to every listener of `$eventType`, its ancestors and the root. `$data`
    /// may be a `ContextInterface` (its `getPayload()` is sent), an array, a scalar, null, a
    /// `JsonSerializable` or a plain object. Returns the dispatch id (stored in every copy as
    /// `"id"`, see `ContextInterface::getId()`). Nothing is written if validation fails.
    ///
    /// Delayed dispatch (named arguments): `delay: 1.5` (seconds, int or float) or
    /// `delay: new DateInterval('PT5S')`, or `at: $dateTime` (a `DateTimeInterface`). The copies
    /// wait in `delayed/` and are not handled before that time; a time in the past (or a zero
    /// delay) is due at once. A negative, NAN or INF delay is an InvalidArgumentException.
    pub fn dispatch(
        &self,
        eventType: &Zval,
        data: Option<&Zval>,
        delay: Option<&Zval>,
        at: Option<&Zval>,
    ) -> PhpResult<String> {
        let event_type = EventType::from_arg(eventType, "event type")?;
        let not_before_ms = crate::delay::not_before_ms(delay, at)?;
        let payload = payload_of(data)?;
        let receipt = self
            .inner
            .dispatch(
                &event_type,
                &payload,
                hurah::DispatchOptions { not_before_ms },
            )
            .map_err(from_core)?;
        Ok(receipt.id)
    }

    /// Cancels the delayed copies of dispatch `$id` (the string `dispatch()` returned) in every
    /// listener under the root, before they come due. Returns how many copies were removed;
    /// copies already moved to the inbox (due, running or done) are not cancelled.
    pub fn cancel(&self, id: String) -> PhpResult<i64> {
        if id.is_empty() {
            return Err(invalid_argument("dispatch id must not be empty"));
        }
        let c = self.inner.cancel(&id).map_err(from_core)?;
        Ok(c.cancelled as i64)
    }

    /// The fsync policy in use (`always` or `never`).
    pub fn get_fsync(&self) -> &'static str {
        self.fsync.as_str()
    }
}
