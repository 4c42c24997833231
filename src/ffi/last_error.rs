//! The thread-local last error behind `ov_telemetry_last_error()`: a static text on hot
//! paths, an owned one otherwise.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

/// The last failure on this thread.
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
fn store(error: LastError) {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut slot) = e.try_borrow_mut() {
            *slot = error;
        }
    });
}

pub(super) fn set_last_error_static(text: &'static CStr) {
    store(LastError::Static(text));
}

pub(super) fn set_last_error(text: String) {
    store(LastError::Owned(
        CString::new(text.replace('\0', "\u{fffd}")).unwrap_or_default(),
    ));
}

/// This thread's last error; "" if none (or if the thread is exiting).
pub(super) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|e| match e.try_borrow().as_deref() {
            Ok(LastError::Static(text)) => text.as_ptr(),
            Ok(LastError::Owned(text)) => text.as_ptr(),
            Ok(LastError::None) | Err(_) => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}
