//! `Hurah\Exception\*`: one base class extending `\RuntimeException` and one subclass per kind of
//! error. They are ordinary PHP classes, so PHP code can `new`, catch and extend them.
//! `HurahException`, `IoException`, `EncodingException`, `CorruptTaskException`,
//! `DatabaseException` and `NotFoundException` are registered with `ClassBuilder` at module
//! start-up. `DatabaseException` and `NotFoundException` extend `IoException`: database and
//! not-found errors were `IoException`s before they had their own classes, and catch blocks
//! written then still catch them. `InvalidArgumentException` and `NullPointerException`
//! are declared in PHP on first use (php/compat/Exception/InvalidArgument.php): with
//! hurah/data-types installed they are aliases of its final classes, which hurah/events threw,
//! so the original's catch blocks catch them. [`from_core`] is the one mapping from the core's
//! [`hurah::Error`] to a PHP exception, by its [`hurah::ErrorKind`]; the extension's own errors
//! use the helpers below, so nothing it throws is a bare `\Exception`.

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::class::ClassEntryInfo;
use ext_php_rs::exception::PhpException;
use ext_php_rs::zend::ClassEntry;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

static HURAH: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static IO: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static ENCODING: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static CORRUPT_TASK: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static DATABASE: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());
static NOT_FOUND: AtomicPtr<ClassEntry> = AtomicPtr::new(ptr::null_mut());

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
    /// `Hurah\Exception\DatabaseException` (an `IoException`): the PostgreSQL backend's server
    /// cannot be reached, refused the connection, or a statement failed.
    Database,
    /// `Hurah\Exception\NotFoundException` (an `IoException`): the task named does not exist.
    NotFound,
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

fn ce_io() -> &'static ClassEntry {
    load(&IO)
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
            Kind::Database => &DATABASE,
            Kind::NotFound => &NOT_FOUND,
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

/// The one mapping from a core error to a PHP exception, by kind. The message is the core
/// error's `Display`, which names the value or path concerned.
pub fn from_core(e: hurah::Error) -> PhpException {
    use hurah::ErrorKind as K;
    let kind = match e.kind() {
        K::InvalidArgument => Kind::InvalidArgument,
        K::InvalidPayload => Kind::Encoding,
        K::Io | K::UnsafePath => Kind::Io,
        K::Corrupt => Kind::CorruptTask,
        K::NotFound => Kind::NotFound,
        K::Database => Kind::Database,
        // The core's kinds may grow; anything new is at least a HurahException.
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
    type Register = fn(&'static mut ClassEntry, ext_php_rs::args::ArgInfoTables);
    // (class, parent, where its class entry is kept). Database and not-found errors extend
    // IoException: what was an IoException stays one. Parents come before their subclasses.
    let subclasses: [(&str, ClassEntryInfo, Register); 5] = [
        (
            "Hurah\\Exception\\IoException",
            (ce_hurah, "\\Hurah\\Exception\\HurahException"),
            |ce, _| IO.store(ce, Ordering::Release),
        ),
        (
            "Hurah\\Exception\\EncodingException",
            (ce_hurah, "\\Hurah\\Exception\\HurahException"),
            |ce, _| ENCODING.store(ce, Ordering::Release),
        ),
        (
            "Hurah\\Exception\\CorruptTaskException",
            (ce_hurah, "\\Hurah\\Exception\\HurahException"),
            |ce, _| CORRUPT_TASK.store(ce, Ordering::Release),
        ),
        (
            "Hurah\\Exception\\DatabaseException",
            (ce_io, "\\Hurah\\Exception\\IoException"),
            |ce, _| DATABASE.store(ce, Ordering::Release),
        ),
        (
            "Hurah\\Exception\\NotFoundException",
            (ce_io, "\\Hurah\\Exception\\IoException"),
            |ce, _| NOT_FOUND.store(ce, Ordering::Release),
        ),
    ];
    for (name, parent, register) in subclasses {
        ClassBuilder::new(name)
            .extends(parent)
            .registration(register)
            .register()?;
    }
    Ok(())
}
