//! Arguments from C: pointers turned into references (NULL is `InvalidArgument` naming the
//! parameter), C strings into `&str` or paths, boxes handed out and taken back.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use crate::error::Error;

fn null(name: &str) -> Error {
    Error::InvalidArgument(format!("{name} is NULL"))
}

/// A C string argument as `&str`: NULL or invalid UTF-8 is `InvalidArgument` naming it.
pub(super) fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller passes a NUL-terminated string that outlives this call.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        Error::InvalidArgument(format!(
            "{name} is not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A C string argument naming a path (any bytes on Unix; UTF-8 elsewhere).
pub(super) fn arg_path(ptr: *const c_char, name: &str) -> Result<PathBuf, Error> {
    let path = path_of(ptr, name)?;
    if path.as_os_str().is_empty() {
        return Err(Error::InvalidArgument(format!("{name} is empty")));
    }
    Ok(path)
}

#[cfg(unix)]
fn path_of(ptr: *const c_char, name: &str) -> Result<PathBuf, Error> {
    use std::os::unix::ffi::OsStrExt;
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller passes a NUL-terminated string that outlives this call.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    Ok(std::ffi::OsStr::from_bytes(bytes).into())
}

#[cfg(not(unix))]
fn path_of(ptr: *const c_char, name: &str) -> Result<PathBuf, Error> {
    arg_str(ptr, name).map(PathBuf::from)
}

/// A handle or options argument as a reference; NULL is `InvalidArgument` naming it.
pub(super) fn arg_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: a non-NULL pointer must come from this library's create/init functions and
    // not have been freed; that is the documented contract of every function.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// Checks an output parameter before any work is done; it is written only on success.
pub(super) fn arg_out<T>(out: *mut T) -> Result<(), Error> {
    if out.is_null() {
        return Err(null("out"));
    }
    Ok(())
}

/// Hands a new object to the caller through a checked output parameter.
pub(super) fn write_out<T>(out: *mut *mut T, value: T) {
    // SAFETY: `out` was checked non-NULL by `arg_out` and points to writable storage.
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Takes back ownership of a pointer made by `write_out`; NULL is None.
pub(super) fn take_box<T>(ptr: *mut T) -> Option<Box<T>> {
    // SAFETY: a non-NULL pointer came from this library's create/init function and is
    // freed once: the documented contract of the free functions.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
}
