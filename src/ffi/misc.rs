//! The functions of no object: status descriptions, the last error, the crash record's
//! exception name.

use std::ffi::c_char;

use super::args::arg_str;
use super::ffi_panic_boundary;
use super::last_error::last_error_ptr;
use super::status::{ov_telemetry_status_e, status_of, status_text};

/// A static English description of any status value (unknown values included).
/// Never NULL; the caller must not free it. Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_status_message(status: i32) -> *const c_char {
    ffi_panic_boundary!({ status_text(status).as_ptr() })
}

/// Details of this thread's last failure (which argument, which file, which errno); ""
/// if none. Valid until the next failing call on the same thread; the caller must not
/// free it. Never NULL. Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_last_error() -> *const c_char {
    ffi_panic_boundary!({ last_error_ptr() })
}

/// Notes the type name of an exception that is about to terminate the process, for the
/// crash record written next (the C++ wrapper's terminate handler calls it; see
/// ov::telemetry::install_terminate_handler). Only printable ASCII of the first 127 bytes
/// is kept; NULL or invalid UTF-8 is INVALID_ARGUMENT. Never blocks: no allocation and no
/// lock once the library is initialised. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_crash_set_exception(
    type_name: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        status_of(arg_str(type_name, "type_name").map(crate::crash::set_exception))
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::ptr;

    use super::*;
    use crate::ffi::handle::ov_telemetry_send_event;
    use crate::ffi::status::ov_telemetry_status_e::*;
    use crate::ffi::tests::last_error;
    use crate::ffi::version::ov_telemetry_version;

    #[test]
    fn status_messages_are_static_and_never_null() {
        for status in [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 12345, i32::MIN, i32::MAX] {
            let text = ov_telemetry_status_message(status);
            assert!(!text.is_null());
            // SAFETY: never NULL, NUL-terminated.
            let text = unsafe { CStr::from_ptr(text) }.to_str().unwrap();
            assert!(!text.is_empty());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(ov_telemetry_status_message(12345)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown status");
        // SAFETY: as above.
        let version = unsafe { CStr::from_ptr(ov_telemetry_version()) };
        assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }

    /// A host's thread-local destructor may call the C API while the thread exits, after the
    /// library's own thread-local (the last error) is gone. Every call must still work; a
    /// panic there would reach the panic guard and abort the host.
    #[test]
    fn the_api_works_from_a_thread_exit_destructor() {
        use std::sync::mpsc;

        struct CallsOnExit(mpsc::Sender<(ov_telemetry_status_e, bool)>);
        impl Drop for CallsOnExit {
            fn drop(&mut self) {
                // A failing call writes the last error; reading it must not panic either.
                let status = ov_telemetry_send_event(
                    ptr::null_mut(),
                    c"c".as_ptr(),
                    c"a".as_ptr(),
                    c"".as_ptr(),
                    1,
                );
                let text = ov_telemetry_last_error();
                let _ = self.0.send((status, !text.is_null()));
            }
        }
        thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<CallsOnExit>> = const { std::cell::RefCell::new(None) };
        }
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Registered first, so destroyed last (destructors run in reverse order):
            // the library's last error is already gone when this one runs.
            ON_EXIT.with(|slot| *slot.borrow_mut() = Some(CallsOnExit(tx)));
            let status = ov_telemetry_send_event(
                ptr::null_mut(),
                c"c".as_ptr(),
                c"a".as_ptr(),
                c"".as_ptr(),
                1,
            );
            assert_eq!(status, OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
            assert!(!last_error().is_empty());
        })
        .join()
        .expect("the thread exits normally");
        let (status, text) = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the destructor ran");
        assert_eq!(status, OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
        assert!(text);
    }
}
