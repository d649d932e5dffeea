//! `Hurah\Exception\*`: one base class extending `\RuntimeException` and one subclass per kind of
//! error. They are ordinary PHP classes, so PHP code can `new`, catch and extend them.
//! `HurahException`, `IoException`, `EncodingException` and `CorruptTaskException` are registered
//! with `ClassBuilder` at module start-up. `InvalidArgumentException` and `NullPointerException`
//! are declared in PHP on first use (php/compat/Exception/InvalidArgument.php): with
//! hurah/data-types installed they are aliases of its final classes, which hurah/events threw,
//! so the original's catch blocks catch them. [`from_core`] is the one mapping from the core's
//! [`hurah::Error`] to a PHP exception.

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::ClassEntry;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

static HURAH: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static IO: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static ENCODING: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static CORRUPT_TASK: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());

/// The kinds of exception this extension throws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `Hurah\Exception\HurahException` (base class; used for state errors).
    Hurah,
    /// `Hurah\Exception\InvalidArgumentException`: bad event type, handler name, option.
    InvalidArgument,
    /// `Hurah\Exception\NullPointerException`: `pop()` of the root event type.
    NullPointer,
    /// `Hurah\Exception\IoException`: the file system said no.
    Io,
    /// `Hurah\Exception\EncodingException`: a payload that cannot be encoded as JSON.
    Encoding,
    /// `Hurah\Exception\CorruptTaskException`: a task file that cannot be read.
    CorruptTask,
}

fn load(p: &AtomicPtr<ClassEntry>) -> &'static ClassEntry {
    let ce = p.load(Ordering::Acquire);
    assert!(!ce.is_null(), "hurah exception classes are not registered");
    // SAFETY: set once in MINIT to a class entry the engine keeps for the process lifetime.
    unsafe { &*ce }
}

fn ce_hurah() -> &'static ClassEntry {
    load(&HURAH)
}

impl Kind {
    /// The class entry.
    pub fn ce(self) -> &'static ClassEntry {
        load(match self {
            Kind::Hurah => &HURAH,
            Kind::InvalidArgument => return lazy("Hurah\\Exception\\InvalidArgumentException"),
            Kind::NullPointer => return lazy("Hurah\\Exception\\NullPointerException"),
            Kind::Io => &IO,
            Kind::Encoding => &ENCODING,
            Kind::CorruptTask => &CORRUPT_TASK,
        })
    }

    /// A PHP exception of this kind.
    pub fn exception(self, message: impl Into<String>) -> PhpException {
        PhpException::new(message.into(), 0, self.ce())
    }
}

/// A class declared in PHP on first use (through the extension's autoloader); the base class
/// if that fails (it cannot, short of a broken build).
fn lazy(name: &str) -> &'static ClassEntry {
    ClassEntry::try_find(name).unwrap_or_else(ce_hurah)
}

/// `Hurah\Exception\NullPointerException` with `message`.
pub fn null_pointer(message: impl Into<String>) -> PhpException {
    Kind::NullPointer.exception(message)
}

/// `Hurah\Exception\InvalidArgumentException` with `message`.
pub fn invalid_argument(message: impl Into<String>) -> PhpException {
    Kind::InvalidArgument.exception(message)
}

/// `Hurah\Exception\EncodingException` with `message`.
pub fn encoding(message: impl Into<String>) -> PhpException {
    Kind::Encoding.exception(message)
}

/// `Hurah\Exception\HurahException` with `message`.
pub fn hurah(message: impl Into<String>) -> PhpException {
    Kind::Hurah.exception(message)
}

/// The one mapping from a core error to a PHP exception. The message is the core error's
/// `Display`, which names the value or path concerned.
pub fn from_core(e: hurah::Error) -> PhpException {
    use hurah::Error as E;
    let kind = match &e {
        E::InvalidEventType { .. } | E::InvalidHandlerName { .. } | E::InvalidOption { .. } => {
            Kind::InvalidArgument
        }
        E::InvalidPayload { .. } => Kind::Encoding,
        E::CorruptTask { .. } => Kind::CorruptTask,
        E::Io { .. } | E::Unsafe { .. } | E::NotFound { .. } => Kind::Io,
        E::Database { .. } => Kind::Io,
        // The core's error enum may grow; anything new is at least a HurahException.
        #[allow(unreachable_patterns)]
        _ => Kind::Hurah,
    };
    kind.exception(e.to_string())
}

unsafe extern "C" {
    // Exported by the php binary (PHPAPI).
    static spl_ce_RuntimeException: *mut ClassEntry;
}

fn runtime_exception_ce() -> &'static ClassEntry {
    // SAFETY: SPL is always compiled in and registered before extensions start.
    unsafe { &*spl_ce_RuntimeException }
}

/// Registers the exception classes. Called from MINIT (the module's startup function), which
/// runs before the `#[php_class]` classes are registered; these only depend on SPL.
pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new("Hurah\\Exception\\HurahException")
        .extends((runtime_exception_ce, "\\RuntimeException"))
        .registration(|ce, _| HURAH.store(ce, Ordering::Release))
        .register()?;
    let subclasses: [(&str, &'static AtomicPtr<ClassEntry>); 3] = [
        ("Hurah\\Exception\\IoException", &IO),
        ("Hurah\\Exception\\EncodingException", &ENCODING),
        ("Hurah\\Exception\\CorruptTaskException", &CORRUPT_TASK),
    ];
    for (name, slot) in subclasses {
        let b = ClassBuilder::new(name).extends((ce_hurah, "\\Hurah\\Exception\\HurahException"));
        let b = match name {
            "Hurah\\Exception\\IoException" => {
                b.registration(|ce, _| IO.store(ce, Ordering::Release))
            }
            "Hurah\\Exception\\EncodingException" => {
                b.registration(|ce, _| ENCODING.store(ce, Ordering::Release))
            }
            _ => b.registration(|ce, _| CORRUPT_TASK.store(ce, Ordering::Release)),
        };
        b.register()?;
        debug_assert!(!slot.load(Ordering::Acquire).is_null());
    }
    Ok(())
}
