//! Reading C strings and writing out-arguments, with the status each misuse gets.

use super::status::{hurah_status, Failure};
use std::ffi::{c_char, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A NUL-terminated argument as bytes; NULL is `HURAH_NULL_POINTER`.
pub(crate) unsafe fn c_bytes<'a>(p: *const c_char, what: &str) -> Result<&'a [u8], Failure> {
    if p.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: the caller guarantees p is NUL-terminated and outlives 'a.
    Ok(unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// A NUL-terminated UTF-8 argument; NULL is `HURAH_NULL_POINTER`, bad UTF-8 is
/// `HURAH_INVALID_UTF8`.
pub(crate) unsafe fn c_utf8<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_bytes(p, what) }?;
    std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            hurah_status::HURAH_INVALID_UTF8,
            format!("{what} is not valid UTF-8: {e}"),
        )
    })
}

/// A path argument (any bytes but NUL; empty is `HURAH_INVALID_ARGUMENT`).
pub(crate) unsafe fn c_path(p: *const c_char, what: &str) -> Result<PathBuf, Failure> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_bytes(p, what) }?;
    if bytes.is_empty() {
        return Err(Failure::new(
            hurah_status::HURAH_INVALID_ARGUMENT,
            format!("{what} is empty"),
        ));
    }
    Ok(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// A C string of `s` (NUL bytes, which JSON text and our ids never contain, are escaped).
pub(crate) fn to_c_string(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| {
        let escaped = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\u0000");
        CString::new(escaped).expect("all NUL bytes were just escaped")
    })
}

/// Writes `value` to an optional out-argument.
pub(crate) unsafe fn put_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller guarantees out is NULL or valid for a write.
        unsafe { out.write(value) };
    }
}
