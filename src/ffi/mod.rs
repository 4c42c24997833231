//! The C ABI. `extern "C"` only: pointer and UTF-8 validation, the panic boundary, status
//! codes, the thread-local last error and the `dlopen` function table. No logic lives
//! here; everything is delegated to [`crate::telemetry`] and [`crate::consent`].
#![allow(non_camel_case_types)]

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

use crate::error::Error;

mod api;
mod counters;
mod table;
mod version;

pub use api::*;
pub use counters::*;
pub use table::*;
pub use version::*;

/// Result of every fallible call. Values are fixed forever; a newer library may return
/// values this header does not list, so a caller never switches on the value alone:
/// - below 0 is a failure (nothing was done; see ov_telemetry_last_error()),
/// - 0 and above is not fatal: the call did its job or, by design, part of it (DISABLED,
///   QUEUE_FULL, TIMEOUT, and any positive value added later); carry on,
/// - whenever the status is 0 or above, an output parameter (`*out`) holds a valid object
///   the caller owns and must free; below 0, `*out` is left untouched,
/// - ov_telemetry_status_message() describes any value, known or not.
///
/// In C the type is `int32_t` (C23 and C++: an enum with `int32_t` underneath), so an
/// unknown value is representable and safe to hold.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ov_telemetry_status_e {
    /// Success.
    OV_TELEMETRY_STATUS_OK = 0,
    /// Not an error: telemetry is off by design (no consent), nothing is sent.
    OV_TELEMETRY_STATUS_DISABLED = 1,
    /// The queue is full; the event was dropped and counted.
    OV_TELEMETRY_STATUS_QUEUE_FULL = 2,
    /// The deadline passed before everything queued was delivered.
    OV_TELEMETRY_STATUS_TIMEOUT = 3,
    /// A NULL pointer, invalid UTF-8 or an unusable value; see ov_telemetry_last_error().
    OV_TELEMETRY_STATUS_INVALID_ARGUMENT = -1,
    /// The handle was shut down.
    OV_TELEMETRY_STATUS_SHUT_DOWN = -2,
    /// A file could not be read or written; see ov_telemetry_last_error().
    OV_TELEMETRY_STATUS_IO_ERROR = -3,
    /// A bug inside the library (a caught panic); see ov_telemetry_last_error().
    OV_TELEMETRY_STATUS_INTERNAL_ERROR = -4,
}

use ov_telemetry_status_e::*;

/// The stored consent decision. A newer library may return a value this header does not
/// list: only OV_TELEMETRY_CONSENT_ACCEPTED means the user said yes; treat any other value
/// as no consent (and ask again only on OV_TELEMETRY_CONSENT_UNDECIDED).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ov_telemetry_consent_e {
    /// No decision is stored.
    OV_TELEMETRY_CONSENT_UNDECIDED = -1,
    /// The user declined (or the file is malformed).
    OV_TELEMETRY_CONSENT_DECLINED = 0,
    /// The user accepted.
    OV_TELEMETRY_CONSENT_ACCEPTED = 1,
}

/// A telemetry handle (opaque). Create with ov_telemetry_init(), free with
/// ov_telemetry_free().
pub struct ov_telemetry_t {
    inner: crate::telemetry::Telemetry,
}

/// Init options (opaque). Create with ov_telemetry_options_create(), free with
/// ov_telemetry_options_free().
pub struct ov_telemetry_options_t {
    inner: std::sync::Mutex<crate::telemetry::Options>,
}

/// The last failure on this thread: a static text on hot paths, an owned one otherwise.
enum LastError {
    None,
    Static(&'static CStr),
    Owned(CString),
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const { RefCell::new(LastError::None) };
}

// `try_with` throughout: during a thread's exit (a host's thread-local destructor calling
// the C API) the slot may already be gone, and `with` would panic there. The detail is then
// lost, never the call. `try_borrow_mut` likewise: nothing re-enters, but a panic must not.
fn set_last_error_static(text: &'static CStr) {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = LastError::Static(text);
        }
    });
}

fn set_last_error(text: String) {
    let text = CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = LastError::Owned(text);
        }
    });
}

fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|e| match e.try_borrow().as_deref() {
            Ok(LastError::Static(text)) => text.as_ptr(),
            Ok(LastError::Owned(text)) => text.as_ptr(),
            Ok(LastError::None) | Err(_) => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

/// Maps an error to its status, recording the detail as this thread's last error
/// (except for `Disabled`, which is not a failure).
fn fail(error: Error) -> ov_telemetry_status_e {
    match error {
        Error::Disabled(_) => OV_TELEMETRY_STATUS_DISABLED,
        Error::QueueFull => {
            set_last_error_static(c"the event queue is full; the event was dropped");
            OV_TELEMETRY_STATUS_QUEUE_FULL
        }
        Error::ShutDown => {
            set_last_error_static(c"the telemetry handle has been shut down");
            OV_TELEMETRY_STATUS_SHUT_DOWN
        }
        Error::Timeout => {
            set_last_error_static(c"the deadline passed before all events were delivered");
            OV_TELEMETRY_STATUS_TIMEOUT
        }
        other => {
            let status = match &other {
                Error::InvalidArgument(_) => OV_TELEMETRY_STATUS_INVALID_ARGUMENT,
                Error::Io { .. } => OV_TELEMETRY_STATUS_IO_ERROR,
                _ => OV_TELEMETRY_STATUS_INTERNAL_ERROR,
            };
            set_last_error(other.to_string());
            status
        }
    }
}

fn status_of(result: crate::Result<()>) -> ov_telemetry_status_e {
    match result {
        Ok(()) => OV_TELEMETRY_STATUS_OK,
        Err(e) => fail(e),
    }
}

/// Text of a caught panic's payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!("internal error (a panic was caught): {what}")
}

/// The panic boundary: runs the body, turns a panic into `$on_panic` and a last error.
macro_rules! ffi_guard {
    ($on_panic:expr, $body:block) => {{
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            #[cfg(test)]
            $crate::ffi::tests_support::maybe_panic();
            $body
        })) {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::set_last_error($crate::ffi::panic_text(&*payload));
                $on_panic
            }
        }
    }};
}
pub(crate) use ffi_guard;

/// A C string argument as `&str`: NULL or invalid UTF-8 is `InvalidArgument` naming it.
fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::InvalidArgument(format!("{name} is NULL")));
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
fn arg_path(ptr: *const c_char, name: &str) -> Result<std::path::PathBuf, Error> {
    if ptr.is_null() {
        return Err(Error::InvalidArgument(format!("{name} is NULL")));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: the caller passes a NUL-terminated string that outlives this call.
        let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
        if bytes.is_empty() {
            return Err(Error::InvalidArgument(format!("{name} is empty")));
        }
        Ok(std::ffi::OsStr::from_bytes(bytes).into())
    }
    #[cfg(not(unix))]
    {
        let path = arg_str(ptr, name)?;
        if path.is_empty() {
            return Err(Error::InvalidArgument(format!("{name} is empty")));
        }
        Ok(path.into())
    }
}

/// Takes back ownership of a pointer made by `Box::into_raw` in this library; NULL is None.
fn take_box<T>(ptr: *mut T) -> Option<Box<T>> {
    // SAFETY: a non-NULL pointer came from this library's create/init function and is
    // freed once: the documented contract of the free functions.
    (!ptr.is_null()).then(|| unsafe { Box::from_raw(ptr) })
}

fn arg_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: a non-NULL pointer must come from this library's create/init functions and
    // not have been freed; that is the documented contract of every function.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::InvalidArgument(format!("{name} is NULL")))
}

#[cfg(test)]
pub(crate) mod tests_support {
    use std::cell::Cell;

    thread_local! {
        pub static FORCE_PANIC: Cell<bool> = const { Cell::new(false) };
    }

    /// Test-only switch: the next guarded call on this thread panics inside the boundary.
    pub fn maybe_panic() {
        if FORCE_PANIC.with(|f| f.replace(false)) {
            panic!("forced by a test");
        }
    }
}

#[cfg(test)]
mod tests;
