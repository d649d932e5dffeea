//! hurah PHP extension: the hurah/events API (`Hurah\Event\*`) on the Rust core.
//!
//! One file per PHP concept: [`dispatcher`], [`handler`] (AbstractHandler, HandlerInterface),
//! [`context`] (building `Hurah\Event\Context` objects), [`event_type`], [`task`],
//! [`handler_name`], [`worker`], [`exceptions`]; [`run`] is the worker loop behind `watch()` and
//! `Worker::run()`; [`json`] and [`convert`] hold the value conversions. [`compat`] declares the
//! classes written in PHP (php/compat/Event/: ContextInterface, AbstractContext, Context with
//! hurah/events' exact signatures) on first use.
#![cfg_attr(windows, feature(abi_vectorcall))]

pub mod compat;
pub mod context;
pub mod convert;
pub mod delay;
pub mod dispatcher;
pub mod event_type;
pub mod exceptions;
pub mod handler;
pub mod handler_name;
pub mod json;
pub mod run;
pub mod task;
pub mod worker;

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::prelude::*;
use ext_php_rs::zend::{ClassEntry, ModuleEntry};
use ext_php_rs::{info_table_end, info_table_row, info_table_start};
use std::ffi::c_char;

unsafe extern "C" {
    // ZEND_API zend_result zend_register_class_alias_ex(const char*, size_t, zend_class_entry*, bool)
    fn zend_register_class_alias_ex(
        name: *const c_char,
        name_len: usize,
        ce: *mut ClassEntry,
        persistent: bool,
    ) -> i32;
}

fn register_alias(alias: &str, ce: &'static ClassEntry) {
    // SAFETY: name/len describe a valid byte string; ce is a registered class entry.
    let r = unsafe {
        zend_register_class_alias_ex(
            alias.as_ptr().cast(),
            alias.len(),
            std::ptr::from_ref(ce).cast_mut(),
            true,
        )
    };
    if r != 0 {
        eprintln!("hurah: could not register class alias {alias}");
    }
}

/// Removes the declared return type of the internal method `method` (lower case) of `ce`, so
/// subclasses may override it without one, as the original's untyped method allowed.
/// ext-php-rs always declares one (`void` for a Rust `()`). MINIT only.
fn drop_return_type(ce: &'static ClassEntry, method: &str) {
    use ext_php_rs::ffi::{zend_function, zend_type, ZEND_ACC_HAS_RETURN_TYPE};
    let Some(zv) = ce.function_table.get(method) else {
        eprintln!("hurah: no method {method} to adjust");
        return;
    };
    // SAFETY: function table entries of a class hold `zend_function*`; during MINIT nothing
    // else reads them. For internal functions `arg_info[-1]` is the return type slot.
    unsafe {
        let f = zv.value.ptr.cast::<zend_function>();
        let common = &mut (*f).common;
        if common.fn_flags & ZEND_ACC_HAS_RETURN_TYPE == 0 {
            return;
        }
        common.fn_flags &= !ZEND_ACC_HAS_RETURN_TYPE;
        if !common.arg_info.is_null() {
            (*common.arg_info.offset(-1)).type_ = zend_type {
                ptr: std::ptr::null_mut(),
                type_mask: 0,
            };
        }
    }
}

/// Runs during MINIT while the `Worker` class (registered last) is being built, so every
/// class it refers to exists: registers the short aliases (`Hurah\Context` is declared with
/// `Hurah\Event\Context`, by [`compat`]).
pub(crate) fn late_registration(b: ClassBuilder) -> ClassBuilder {
    // hurah/events declared addFailureInfo() without a return type: a subclass overriding it
    // that way must load here too.
    drop_return_type(
        handler::AbstractHandler::get_metadata().ce(),
        "addfailureinfo",
    );
    register_alias(
        "Hurah\\Dispatcher",
        dispatcher::Dispatcher::get_metadata().ce(),
    );
    register_alias(
        "Hurah\\AbstractHandler",
        handler::AbstractHandler::get_metadata().ce(),
    );
    register_alias("Hurah\\Task", task::Task::get_metadata().ce());
    b
}

extern "C" fn startup(_ty: i32, _module_number: i32) -> i32 {
    match exceptions::register() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("hurah: startup failed: {e}");
            1
        }
    }
}

extern "C" fn module_info(_module: *mut ModuleEntry) {
    info_table_start!();
    info_table_row!("hurah support", "enabled");
    info_table_row!("version", hurah::VERSION);
    info_table_end!();
}

#[php_module]
#[php(startup = startup)]
pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .name("hurah")
        .version(hurah::VERSION)
        .interface::<handler::PhpInterfaceHandlerInterface>()
        .class::<event_type::EventType>()
        .class::<handler_name::HandlerName>()
        .class::<task::Task>()
        .class::<dispatcher::Dispatcher>()
        .class::<handler::AbstractHandler>()
        .class::<worker::Worker>() // its modifier runs late_registration: keep it last
        .function(compat::autoload_function())
        .function(context::task_file_function())
        .request_startup_function(compat::request_startup)
        .info_function(module_info)
}
