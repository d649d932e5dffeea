//! The contexts handlers receive. `Hurah\Event\ContextInterface`, `AbstractContext` and `Context`
//! are PHP classes (php/compat/Event/), embedded in the extension and declared on first use by
//! [`crate::compat`]: only PHP source can declare hurah/events' exact signatures (untyped
//! returns, `Hurah\Types\Type\Path` parameters, protected `$data`), which subclasses written for
//! the original must match. This module builds those objects from tasks (through
//! `Hurah\Internal\ContextFactory::make`) and reads the payload of whatever `dispatch()` gets.

use crate::convert::{call_method, rethrow_pending, stringish};
use crate::exceptions::{encoding, from_core, hurah as hurah_exception};
use crate::json;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::{ZendCallable, ZendObject, ZendStr, Zval};
use ext_php_rs::zend::ClassEntry;

/// `Hurah\Event\ContextInterface`'s name.
pub const CONTEXT_INTERFACE: &str = "Hurah\\Event\\ContextInterface";

/// What the extension knows about a delivered task, turned into a `Hurah\Event\Context` by
/// [`AbstractContext::into_context_zval`].
pub struct AbstractContext {
    /// The task file's JSON text.
    json: String,
    sequence: Option<i64>,
    count: Option<i64>,
    delivery: Option<String>,
    attempt: i64,
    event_type: Option<String>,
    id: Option<String>,
}

impl AbstractContext {
    /// A delivered context from a task the worker claimed.
    pub fn from_task(task: &hurah::Task) -> Self {
        AbstractContext {
            json: task.doc().to_json(),
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
            json: doc.to_json(),
            sequence: sequence.map(|s| s as i64),
            count: doc.count().or(sequence).map(|s| s as i64),
            delivery: doc.delivery().map(str::to_string),
            attempt: doc.attempts() as i64 + 1,
            event_type: doc.event().map(str::to_string),
            id: doc
                .id()
                .map(str::to_string)
                .or(sequence.map(|s| s.to_string())),
        }
    }

    /// A new `Hurah\Event\Context` object holding this task.
    pub fn into_context_zval(self) -> PhpResult<Zval> {
        let make = ZendCallable::try_from_name("Hurah\\Internal\\ContextFactory::make")
            .map_err(|e| hurah_exception(format!("hurah: context factory: {e}")))?;
        let args = self.into_args();
        let r = make.try_call(
            args.iter()
                .map(|z| z as &dyn ext_php_rs::convert::IntoZvalDyn)
                .collect(),
        );
        rethrow_pending()?;
        r.map_err(|e| hurah_exception(format!("hurah: building a context: {e}")))
    }

    /// The values `Hurah\Internal\ContextFactory::make()` takes, in order.
    fn into_args(self) -> Vec<Zval> {
        let mut out = Vec::with_capacity(7);
        let mut push = |z: Result<Zval, _>| out.push(z.unwrap_or_default());
        use ext_php_rs::convert::IntoZval;
        push(self.json.into_zval(false));
        push(self.sequence.into_zval(false));
        push(self.count.into_zval(false));
        push(self.delivery.into_zval(false));
        push(self.attempt.into_zval(false));
        push(self.id.into_zval(false));
        push(self.event_type.into_zval(false));
        out
    }
}

/// `Hurah\Internal\task_file(string $path): array`: reads a task file for `Context::fromPath()`
/// and returns `ContextFactory::make()`'s arguments. Typed errors: `NotFoundException` (no such
/// file), `IoException` (cannot read), `CorruptTaskException` (not a task).
#[php_function]
#[php(name = "Hurah\\Internal\\task_file")]
pub fn task_file(path: &Zval) -> PhpResult<Vec<Zval>> {
    let p = std::path::PathBuf::from(stringish(path, "path")?);
    let bytes = std::fs::read(&p).map_err(|e| {
        from_core(if e.kind() == std::io::ErrorKind::NotFound {
            hurah::Error::NotFound {
                what: format!("task file {}", p.display()),
            }
        } else {
            hurah::Error::io("read", &p, e)
        })
    })?;
    let doc = hurah::TaskDoc::parse(&bytes, &p).map_err(from_core)?;
    Ok(AbstractContext::from_doc(doc, None).into_args())
}

/// The class entry of an already declared class or interface, without autoloading it.
pub fn declared(name: &str) -> Option<&'static ClassEntry> {
    let mut n = ZendStr::new(name, false);
    // ZEND_FETCH_CLASS_NO_AUTOLOAD
    const NO_AUTOLOAD: u32 = 0x80;
    // SAFETY: a valid zend_string; lookups without autoload run no PHP code.
    unsafe {
        ext_php_rs::ffi::zend_lookup_class_ex(&raw mut *n, std::ptr::null_mut(), NO_AUTOLOAD)
            .as_ref()
    }
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
    // An object cannot implement an interface that was never declared.
    let Some(iface) = declared(CONTEXT_INTERFACE) else {
        return Ok(None);
    };
    if !obj.instance_of(iface) {
        return Ok(None);
    }
    // Ask PHP: subclasses may override getPayload().
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

/// [`task_file`], for the module builder.
pub fn task_file_function() -> ext_php_rs::builders::FunctionBuilder<'static> {
    wrap_function!(task_file)
}
