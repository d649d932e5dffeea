//! The PHP-source part of the extension: the classes whose hurah/events signatures only PHP
//! source can declare (php/compat/Event/, php/compat/Internal/), and stand-ins for the two
//! hurah/data-types classes those signatures name (php/compat/Types/). The sources are embedded
//! here and compiled on first use by an autoloader the extension registers at request start
//! (`Hurah\Internal\autoload`), so nothing needs Composer. Composer prepends its own
//! autoloader, and the stand-ins first ask every other autoloader, so an installed
//! hurah/data-types always wins.

use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendCallable;

/// The autoloader's name, as registered with `spl_autoload_register()`.
pub const AUTOLOADER: &str = "Hurah\\Internal\\autoload";

/// Class name (lower case, no leading `\`) → PHP source declaring it.
const SOURCES: &[(&str, &str)] = &[
    (
        "hurah\\event\\contextinterface",
        include_str!("../compat/Event/ContextInterface.php"),
    ),
    (
        "hurah\\event\\abstractcontext",
        include_str!("../compat/Event/AbstractContext.php"),
    ),
    (
        "hurah\\event\\context",
        include_str!("../compat/Event/Context.php"),
    ),
    (
        "hurah\\event\\json",
        "<?php class_alias(\\Hurah\\Types\\Type\\Json::class, 'Hurah\\Event\\Json');",
    ),
    (
        "hurah\\context",
        "<?php class_alias(\\Hurah\\Event\\Context::class, 'Hurah\\Context');",
    ),
    (
        "hurah\\internal\\contextfactory",
        include_str!("../compat/Internal/ContextFactory.php"),
    ),
    (
        "hurah\\internal\\standin",
        include_str!("../compat/Internal/StandIn.php"),
    ),
    (
        "hurah\\exception\\invalidargumentexception",
        include_str!("../compat/Exception/InvalidArgument.php"),
    ),
    (
        "hurah\\exception\\nullpointerexception",
        include_str!("../compat/Exception/InvalidArgument.php"),
    ),
    (
        "hurah\\types\\type\\json",
        include_str!("../compat/Types/Json.php"),
    ),
    (
        "hurah\\types\\type\\path",
        include_str!("../compat/Types/Path.php"),
    ),
];

/// The embedded source that declares `class`, if any.
pub fn source_of(class: &str) -> Option<&'static str> {
    let key = class.trim_start_matches('\\').to_ascii_lowercase();
    SOURCES
        .iter()
        .find(|(name, _)| *name == key)
        .map(|(_, src)| *src)
}

/// `Hurah\Internal\autoload(string $class)`: declares the embedded classes on first use.
#[php_function]
#[php(name = "Hurah\\Internal\\autoload")]
pub fn autoload(class: String) {
    let Some(src) = source_of(&class) else {
        return;
    };
    use ext_php_rs::php_eval::PhpEvalError;
    match ext_php_rs::php_eval::execute(src) {
        Ok(()) => {}
        // A pending exception (e.g. thrown by another autoloader the stand-ins asked) stays
        // pending for the caller.
        Err(PhpEvalError::ExecutionFailed) => {}
        // A fatal error (e.g. a class the user declared with the same name): let it end the
        // request as it would have.
        // SAFETY: we are inside a PHP function call, where a bailout is expected.
        Err(PhpEvalError::Bailout) => unsafe { ext_php_rs::zend::bailout() },
        Err(e) => eprintln!("hurah: could not declare {class}: {e}"),
    }
}

/// Request start: registers [`autoload`] (appended: Composer, registered later, prepends itself).
pub extern "C" fn request_startup(_ty: i32, _module_number: i32) -> i32 {
    let Ok(register) = ZendCallable::try_from_name("spl_autoload_register") else {
        eprintln!("hurah: spl_autoload_register() is missing");
        return 0;
    };
    let name = AUTOLOADER.to_string();
    if let Err(e) = register.try_call(vec![&name]) {
        eprintln!("hurah: could not register the {AUTOLOADER} autoloader: {e}");
    }
    0
}

/// [`autoload`], for the module builder.
pub fn autoload_function() -> ext_php_rs::builders::FunctionBuilder<'static> {
    wrap_function!(autoload)
}

/// Makes the core write this thread's timestamps (`delivery`, tracking.json's `last`) in PHP's
/// current time zone, as hurah/events did with `DateTime::format('c')`: reads `date('Z')` (the
/// UTC offset now, DST included). Left unchanged if PHP cannot tell.
pub fn sync_time_zone() {
    let Ok(date) = ZendCallable::try_from_name("date") else {
        return;
    };
    let z = "Z".to_string();
    let offset = date
        .try_call(vec![&z])
        .ok()
        .and_then(|v| v.string())
        .and_then(|s| s.parse::<i32>().ok());
    if let Some(o) = offset {
        hurah::clock::set_local_offset(o);
    }
}
