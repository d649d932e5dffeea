//! `Hurah\Event\ContextInterface`, `AbstractContext`, `Context` and `Json`: the data a handler
//! receives. `Context` is a PHP subclass of `AbstractContext` sharing its Rust storage (it is
//! registered with `ClassBuilder` once `AbstractContext` exists, see [`register_context`]).

use crate::convert::{call_method, rethrow_pending, stringish};
use crate::event_type::EventType;
use crate::exceptions::{encoding, from_core, Kind};
use crate::json;
use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::{PhpException, PhpResult};
use ext_php_rs::flags::ClassFlags;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendClassObject, ZendObject, Zval};
use ext_php_rs::zend::ClassEntry;
use serde_json::Value;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// `Hurah\Event\ContextInterface` (reference §1), without the constructor (PHP interfaces
/// built by the extension cannot declare one).
#[php_interface]
#[php(name = "Hurah\\Event\\ContextInterface")]
pub trait ContextInterface {
    /// The dispatched data.
    fn get_payload(&self) -> Zval;
    /// The task as JSON.
    fn to_json(&self) -> Json;
    /// The per-listener sequence number.
    fn get_sequence(&self) -> i64;
    /// Sets the sequence number.
    fn set_sequence(&mut self, sequence: i64);
    /// Sets the count.
    fn set_count(&mut self, count: i64);
    /// Sets the delivery time.
    fn set_delivery(&mut self, delivery: String);
}

/// `Hurah\Event\Json`: a stringable JSON text (`(string)$ctx->toJson()`).
#[php_class]
#[php(name = "Hurah\\Event\\Json")]
pub struct Json {
    text: String,
}

#[php_impl]
impl Json {
    /// Wraps JSON text (validated).
    pub fn __construct(json: String) -> PhpResult<Self> {
        hurah::json::from_str(&json, hurah::json::MAX_TASK_DEPTH)
            .map_err(|e| Kind::InvalidArgument.exception(e.to_string()))?;
        Ok(Json { text: json })
    }

    /// The JSON text.
    pub fn __to_string(&self) -> String {
        self.text.clone()
    }

    /// The JSON text.
    pub fn get_value(&self) -> String {
        self.text.clone()
    }

    /// The decoded value (objects as associative arrays).
    pub fn to_array(&self) -> PhpResult<Zval> {
        let v: Value = hurah::json::from_str(&self.text, hurah::json::MAX_TASK_DEPTH)
            .map_err(|e| Kind::InvalidArgument.exception(e.to_string()))?;
        json::to_zval(&v).map_err(|e| PhpException::from_message(e.to_string()))
    }
}

impl Json {
    /// From text we produced ourselves.
    pub fn from_text(text: String) -> Self {
        Json { text }
    }
}

/// The Rust side of every context object (`AbstractContext`, `Context` and PHP subclasses).
/// No `#[derive(Default)]`: with it ext-php-rs builds PHP subclasses' objects with the parent's
/// class entry.
#[php_class]
#[php(name = "Hurah\\Event\\AbstractContext")]
#[php(flags = ClassFlags::Abstract)]
#[php(implements(PhpInterfaceContextInterface))]
pub struct AbstractContext {
    /// The payload given to the constructor (undelivered contexts).
    payload: Option<Zval>,
    /// The task file (contexts built by the worker or `fromPath`).
    doc: Option<hurah::TaskDoc>,
    sequence: Option<i64>,
    count: Option<i64>,
    delivery: Option<String>,
    attempt: i64,
    event_type: Option<String>,
    id: Option<String>,
}

impl AbstractContext {
    fn empty() -> Self {
        AbstractContext {
            payload: None,
            doc: None,
            sequence: None,
            count: None,
            delivery: None,
            attempt: 1,
            event_type: None,
            id: None,
        }
    }

    /// A delivered context from a task the worker claimed.
    pub fn from_task(task: &hurah::Task) -> Self {
        AbstractContext {
            payload: None,
            doc: Some(task.doc().clone()),
            sequence: Some(task.sequence() as i64),
            count: Some(task.count() as i64),
            delivery: Some(task.delivery().to_string()),
            attempt: task.attempt() as i64,
            event_type: Some(task.event_type()),
            id: Some(task.id()),
        }
    }

    /// A delivered context from a parsed task file (`seq`: from its name, if known).
    pub fn from_doc(doc: hurah::TaskDoc, seq: Option<u64>) -> Self {
        let sequence = doc.sequence().or(seq);
        AbstractContext {
            payload: None,
            sequence: sequence.map(|s| s as i64),
            count: doc.count().or(sequence).map(|s| s as i64),
            delivery: doc.delivery().map(str::to_string),
            attempt: doc.attempts() as i64 + 1,
            event_type: doc.event().map(str::to_string),
            id: doc
                .id()
                .map(str::to_string)
                .or(sequence.map(|s| s.to_string())),
            doc: Some(doc),
        }
    }

    /// The payload as JSON text, for dispatch.
    pub fn payload_json(&self) -> PhpResult<String> {
        if let Some(z) = &self.payload {
            return json::to_json_string(z).map_err(|e| json::encode_error(e, "the payload"));
        }
        Ok(self
            .doc
            .as_ref()
            .map(|d| d.payload().to_string())
            .unwrap_or_else(|| "null".into()))
    }

    /// A new `Hurah\Event\Context` object holding `state`.
    pub fn into_context_zval(self) -> PhpResult<Zval> {
        // SAFETY: the object is initialized right away, before anything can look at it.
        let mut obj = unsafe { ZendClassObject::<AbstractContext>::new_uninit(Some(context_ce())) };
        obj.initialize(self);
        obj.into_zval(false)
            .map_err(|e| PhpException::from_message(e.to_string()))
    }

    fn set_key(&mut self, key: &str, value: Value) {
        if let Some(d) = &mut self.doc {
            d.set(key, value);
        }
    }
}

#[php_impl]
impl AbstractContext {
    /// `new Context($data)`: any JSON-encodable value (checked when dispatched).
    pub fn __construct(data: &Zval) -> Self {
        let mut c = AbstractContext::empty();
        c.payload = Some(data.dereference().shallow_clone());
        c
    }

    /// Reads a task file (`inbox/7.json`, `error/3.json`...) into a `Hurah\Event\Context`.
    pub fn from_path(path: &Zval) -> PhpResult<Zval> {
        let p = std::path::PathBuf::from(stringish(path, "path")?);
        let bytes = std::fs::read(&p).map_err(|e| from_core(hurah::Error::io("read", &p, e)))?;
        let doc = hurah::TaskDoc::parse(&bytes, &p).map_err(from_core)?;
        AbstractContext::from_doc(doc, None).into_context_zval()
    }

    /// The dispatched data (objects decoded as associative arrays once delivered).
    pub fn get_payload(&self) -> PhpResult<Zval> {
        if let Some(z) = &self.payload {
            return Ok(z.shallow_clone());
        }
        match &self.doc {
            Some(d) => {
                json::to_zval(d.payload()).map_err(|e| PhpException::from_message(e.to_string()))
            }
            None => Ok(Zval::new()),
        }
    }

    /// The task as JSON: the task file's content once delivered; for a context that was never
    /// delivered, `{"payload":…}` plus whatever was set. Never throws for missing fields.
    pub fn to_json(&self) -> PhpResult<Json> {
        if let Some(d) = &self.doc {
            return Ok(Json::from_text(d.to_json()));
        }
        let payload = match &self.payload {
            Some(z) => json::to_json(z).map_err(|e| json::encode_error(e, "the payload"))?,
            None => Value::Null,
        };
        let mut m = serde_json::Map::new();
        m.insert("payload".into(), payload);
        if let Some(s) = self.sequence {
            m.insert("sequence".into(), s.into());
        }
        if let Some(c) = self.count {
            m.insert("count".into(), c.into());
        }
        if let Some(d) = &self.delivery {
            m.insert("delivery".into(), d.clone().into());
        }
        Ok(Json::from_text(Value::Object(m).to_string()))
    }

    /// The per-listener sequence number (0 before delivery).
    pub fn get_sequence(&self) -> i64 {
        self.sequence.unwrap_or(0)
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, sequence: i64) {
        self.sequence = Some(sequence);
        self.set_key("sequence", sequence.into());
    }

    /// Sets the count.
    pub fn set_count(&mut self, count: i64) {
        self.count = Some(count);
        self.set_key("count", count.into());
    }

    /// Sets the delivery time (ISO-8601).
    pub fn set_delivery(&mut self, delivery: String) {
        self.set_key("delivery", delivery.clone().into());
        self.delivery = Some(delivery);
    }

    /// The per-listener count (equals the sequence; 0 before delivery).
    pub fn get_count(&self) -> i64 {
        self.count.unwrap_or(0)
    }

    /// The delivery time (ISO-8601), or null before delivery.
    pub fn get_delivery(&self) -> Option<String> {
        self.delivery.clone()
    }

    /// The dispatch id shared by every listener's copy (the sequence for files written by the
    /// original library), or null before delivery.
    pub fn get_id(&self) -> Option<String> {
        self.id.clone()
    }

    /// Which run of this task this is, from 1.
    pub fn get_attempt(&self) -> i64 {
        self.attempt
    }

    /// The dispatched event type (the listener's own type for files written by the original
    /// library), or null before delivery.
    pub fn get_event_type(&self) -> PhpResult<Option<EventType>> {
        match &self.event_type {
            None => Ok(None),
            Some(s) => hurah::EventType::parse(s)
                .map(|t| Some(EventType::new(t)))
                .map_err(from_core),
        }
    }
}

static CONTEXT: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());

/// The class entry of `Hurah\Event\Context`.
pub fn context_ce() -> &'static ClassEntry {
    let ce = CONTEXT.load(Ordering::Acquire);
    assert!(!ce.is_null(), "Hurah\\Event\\Context is not registered");
    // SAFETY: set once in MINIT to a class entry the engine keeps for the process lifetime.
    unsafe { &*ce }
}

fn abstract_context_ce() -> &'static ClassEntry {
    AbstractContext::get_metadata().ce()
}

/// Registers `Hurah\Event\Context extends Hurah\Event\AbstractContext`. It adds nothing: the
/// engine gives it the parent's object constructor (`create_object`), so its objects carry the
/// same Rust storage and every `AbstractContext` method works on them. Must run after
/// `AbstractContext` is registered.
pub fn register_context() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new("Hurah\\Event\\Context")
        .extends((abstract_context_ce, "\\Hurah\\Event\\AbstractContext"))
        .registration(|ce, _| CONTEXT.store(ce, Ordering::Release))
        .register()
}

/// The JSON text of whatever `dispatch()` was given as data: a context (its `getPayload()`),
/// or any JSON-encodable value.
pub fn payload_of(data: Option<&Zval>) -> PhpResult<String> {
    payload_named(data, "the payload")
}

/// [`payload_of`], naming the value `what` in error messages (e.g. "the payload of event #3").
pub fn payload_named(data: Option<&Zval>, what: &str) -> PhpResult<String> {
    let Some(data) = data.map(Zval::dereference) else {
        return Ok("null".into());
    };
    if let Some(obj) = data.object() {
        if let Some(s) = context_payload(obj, what)? {
            return Ok(s);
        }
    }
    json::to_json_string(data).map_err(|e| json::encode_error(e, what))
}

fn context_payload(obj: &ZendObject, what: &str) -> PhpResult<Option<String>> {
    if !obj.instance_of(PhpInterfaceContextInterface::get_metadata().ce()) {
        return Ok(None);
    }
    // Our own Context: read the storage directly. Anything else (user subclasses that may
    // override getPayload(), user implementations of the interface): ask PHP.
    if ptr::eq(obj.ce, context_ce()) {
        if let Some(c) = ZendClassObject::<AbstractContext>::from_zend_obj(obj) {
            return c.payload_json().map(Some);
        }
    }
    let payload = call_method(obj, "getPayload", vec![])?;
    rethrow_pending()?;
    let payload = payload.unwrap_or_default();
    json::to_json_string(&payload)
        .map(Some)
        .map_err(|e| match e {
            json::JsonError::Thrown => json::encode_error(e, what),
            e => encoding(format!("{what} cannot be encoded as JSON: {e}")),
        })
}
