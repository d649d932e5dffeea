//! The C ABI of hurah (`libhurah.so` / `libhurah.a`, header `include/hurah.h`, generated from
//! these doc comments by cbindgen).
//!
//! Conventions, in the style of regex-capi and rustls-ffi:
//! - every symbol starts with `hurah_`/`HURAH_`; objects are opaque handles with `_new` and a
//!   NULL-safe `_free`;
//! - fallible functions return a [`hurah_status`](status::hurah_status) and fill an optional,
//!   caller-owned [`hurah_error`](status::hurah_error);
//! - every entry point runs inside one panic boundary (`status::boundary` for fallible calls,
//!   `status::guard` for accessors and `_free`): no panic ever crosses into C;
//! - this is the only module of the crate where raw pointers come from outside.
//!
//! Each function's `# Safety` section states what the C caller must guarantee; the rest
//! (NULL pointers, invalid UTF-8 or JSON, bad names, misuse after stop) is checked and reported
//! as a status.

// C names (`hurah_dispatcher`, ...) are the point of this module.
#![allow(non_camel_case_types)]

pub mod dispatcher;
pub mod failed;
pub mod handler;
pub mod options;
pub mod status;
pub mod task;

mod strings;

use crate::backend::{self, Backend};
use crate::file::FileBackend;
use crate::{FsyncPolicy, Result};
use std::ffi::c_char;
use std::path::Path;

/// The backend a root argument names ([`backend::open`]: a `postgresql://` URL or a
/// directory). A root that is not UTF-8 cannot be a URL, so it is a directory.
pub(crate) fn open_backend(root: &Path, fsync: FsyncPolicy) -> Result<Box<dyn Backend>> {
    match root.to_str() {
        Some(root) => backend::open(root, fsync),
        None => Ok(Box::new(FileBackend::open(root, fsync)?)),
    }
}

/// The library version (the crate version, e.g. `"0.1.0"`), NUL-terminated, static: do not
/// free. Thread-safe.
#[no_mangle]
pub extern "C" fn hurah_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
