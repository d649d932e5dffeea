//! `Hurah\Event\Dispatcher`: writes one task per listener of an event type.
// Parameter names are PHP's (camelCase, as in hurah/events), for named arguments.
#![allow(non_snake_case)]

use crate::context::{payload_named, payload_of};
use crate::convert::{each_option, stringish, type_name};
use crate::event_type::EventType;
use crate::exceptions::{from_core, hurah as hurah_exception, invalid_argument};
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendHashTable, Zval};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `Hurah\Event\Dispatcher`.
#[php_class]
#[php(name = "Hurah\\Event\\Dispatcher")]
pub struct Dispatcher {
    /// The backend the root names (a directory or a `postgresql://` URL).
    inner: Box<dyn hurah::backend::Backend>,
    fsync: hurah::FsyncPolicy,
    /// Listeners reached by the last `dispatch()`/`dispatchMany()`.
    last_count: AtomicUsize,
}

/// The event type as the caller wrote it (a string as given, an object as its string form).
fn as_written(arg: &Zval, parsed: &hurah::EventType) -> String {
    match arg.dereference().str() {
        Some(s) => s.to_string(),
        None => parsed.to_string(),
    }
}

/// `E_USER_NOTICE` "hurah: no listener for event type '...': nothing delivered", raised with
/// `trigger_error()` so error handlers and `error_reporting` apply as to any notice. An
/// exception an error handler throws for it propagates to the caller.
fn notice_no_listener(written: &str) -> PhpResult<()> {
    const E_USER_NOTICE: i64 = 1024;
    let msg = format!("hurah: no listener for event type '{written}': nothing delivered");
    let f = ZendCallable::try_from_name("trigger_error")
        .map_err(|e| hurah_exception(format!("trigger_error(): {e}")))?;
    let r = f.try_call(vec![&msg, &E_USER_NOTICE]);
    crate::convert::propagate()?;
    r.map(|_| ())
        .map_err(|e| hurah_exception(format!("trigger_error(): {e}")))
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
        Ok(Dispatcher {
            inner,
            fsync,
            last_count: AtomicUsize::new(0),
        })
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
        crate::compat::sync_time_zone();
        let receipt = self
            .inner
            .dispatch(
                &event_type,
                &payload,
                hurah::DispatchOptions { not_before_ms },
            )
            .map_err(from_core)?;
        let reached = receipt.deliveries.len();
        self.last_count.store(reached, Ordering::Relaxed);
        if reached == 0 {
            notice_no_listener(&as_written(eventType, &event_type))?;
        }
        Ok(receipt.id)
    }

    /// How many listeners the last `dispatch()` or `dispatchMany()` of this dispatcher reached
    /// (for `dispatchMany()`, the sum over its events); 0 before any. A dispatch that reaches
    /// none also raises an `E_USER_NOTICE`: register handlers before dispatching.
    pub fn last_listener_count(&self) -> i64 {
        self.last_count.load(Ordering::Relaxed) as i64
    }

    /// Dispatches several events in one call: `$events` is a list of `[$eventType, $data]`
    /// pairs (each as `dispatch()` takes them). Returns the dispatch ids, in order. Every pair is
    /// checked and encoded before anything is written. On a PostgreSQL root the whole batch is
    /// one transaction (all or nothing, one commit: the fast way to enqueue in bulk); on a
    /// directory each event is published in turn, each all or nothing. `delay:`/`at:` as in
    /// `dispatch()`, for every event of the batch.
    pub fn dispatch_many(
        &self,
        events: &ZendHashTable,
        delay: Option<&Zval>,
        at: Option<&Zval>,
    ) -> PhpResult<Vec<String>> {
        let not_before_ms = crate::delay::not_before_ms(delay, at)?;
        crate::compat::sync_time_zone();
        let mut batch = Vec::with_capacity(events.len());
        let mut written = Vec::with_capacity(events.len());
        for (i, pair) in events.values().enumerate() {
            let pair = pair.dereference();
            let items = pair
                .array()
                .filter(|a| a.len() == 2)
                .and_then(|a| Some((a.get_index(0)?, a.get_index(1)?)));
            let Some((event_type, data)) = items else {
                return Err(invalid_argument(format!(
                    "dispatchMany(): event #{i} must be an [eventType, data] pair, {} given",
                    type_name(pair)
                )));
            };
            let parsed = EventType::from_arg(event_type, &format!("event type of event #{i}"))?;
            let payload = payload_named(Some(data), &format!("the payload of event #{i}"))?;
            written.push(as_written(event_type, &parsed));
            batch.push((parsed, payload));
        }
        let receipts = self
            .inner
            .dispatch_many(&batch, hurah::DispatchOptions { not_before_ms })
            .map_err(from_core)?;
        let reached = receipts.iter().map(|r| r.deliveries.len()).sum();
        self.last_count.store(reached, Ordering::Relaxed);
        for (r, w) in receipts.iter().zip(&written) {
            if r.deliveries.is_empty() {
                notice_no_listener(w)?;
            }
        }
        Ok(receipts.into_iter().map(|r| r.id).collect())
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
