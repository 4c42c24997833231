//! `ov_telemetry_options_t`: created with the defaults, changed by the setters, read by
//! ov_telemetry_init(), freed.

use std::ffi::c_char;
use std::sync::Mutex;

use super::args::{arg_out, arg_path, arg_ref, arg_str, take_box, write_out};
use super::ffi_panic_boundary;
use super::status::{ov_telemetry_status_e, status_of};
use crate::error::Error;
use crate::telemetry::Options;
use crate::transport::Endpoint;

/// The largest queue capacity accepted by ov_telemetry_options_set_queue_capacity().
pub const OV_TELEMETRY_MAX_QUEUE_CAPACITY: u32 = 1_000_000;

/// Init options (opaque). Create with ov_telemetry_options_create(), free with
/// ov_telemetry_options_free().
pub struct ov_telemetry_options_t {
    inner: Mutex<Options>,
}

impl ov_telemetry_options_t {
    /// A copy of the options as they are now.
    pub(super) fn snapshot(&self) -> Options {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Options> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Applies `change` to the options behind `opts` (NULL is INVALID_ARGUMENT).
fn with_options(
    opts: *mut ov_telemetry_options_t,
    change: impl FnOnce(&mut Options) -> Result<(), Error>,
) -> ov_telemetry_status_e {
    status_of(arg_ref(opts, "opts").and_then(|o| change(&mut o.lock())))
}

/// Applies a change that cannot fail to the options behind `opts`.
fn set(
    opts: *mut ov_telemetry_options_t,
    change: impl FnOnce(&mut Options),
) -> ov_telemetry_status_e {
    with_options(opts, |o| {
        change(o);
        Ok(())
    })
}

/// A required text argument, copied: blank is INVALID_ARGUMENT naming it.
fn non_blank(text: &str, name: &str) -> Result<String, Error> {
    if text.trim().is_empty() {
        return Err(Error::InvalidArgument(format!("{name} is empty")));
    }
    Ok(text.to_string())
}

/// Creates an options object with the defaults (no app, GA4 endpoint, OpenVINO api
/// secret, no dialog, CI not special, `$HOME/intel`, queue of 1000).
/// Caller owns the result; free it with ov_telemetry_options_free(). `*out` is written
/// only on success. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_create(
    out: *mut *mut ov_telemetry_options_t,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        status_of(arg_out(out).map(|()| {
            let options = Mutex::new(Options::new("", "", ""));
            write_out(out, ov_telemetry_options_t { inner: options });
        }))
    })
}

/// Sets the application name and version reported with every event (both required,
/// UTF-8). The strings are copied. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_app(
    opts: *mut ov_telemetry_options_t,
    name: *const c_char,
    version: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        with_options(opts, |o| {
            let name = arg_str(name, "name")?;
            let version = arg_str(version, "version")?;
            o.app_name = non_blank(name, "name")?;
            o.app_version = version.to_string();
            Ok(())
        })
    })
}

/// Sets the GA4 measurement id (`G-…`, required). The string is copied. Never blocks.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_measurement_id(
    opts: *mut ov_telemetry_options_t,
    tid: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        with_options(opts, |o| {
            o.measurement_id = non_blank(arg_str(tid, "tid")?, "tid")?;
            Ok(())
        })
    })
}

/// Sets the GA4 api secret (default: OpenVINO's). The string is copied. Never blocks.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_api_secret(
    opts: *mut ov_telemetry_options_t,
    secret: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        with_options(opts, |o| {
            o.api_secret = non_blank(arg_str(secret, "secret")?, "secret")?;
            Ok(())
        })
    })
}

/// Command-line tools only: when no decision is stored, ask on the terminal at init
/// (default false). A library must leave this off. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_consent_dialog(
    opts: *mut ov_telemetry_options_t,
    enabled: bool,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({ set(opts, |o| o.consent_dialog = enabled) })
}

/// Disable telemetry when a CI service is detected (default false). Never blocks.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_disable_in_ci(
    opts: *mut ov_telemetry_options_t,
    enabled: bool,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({ set(opts, |o| o.disable_in_ci = enabled) })
}

/// Sets the collect URL without its query (`https://…`; `http://` only for loopback
/// hosts). The environment variable OPENVINO_TELEMETRY_ENDPOINT wins over this. The
/// string is copied and checked now. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_endpoint(
    opts: *mut ov_telemetry_options_t,
    url: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        with_options(opts, |o| {
            let url = arg_str(url, "url")?;
            Endpoint::parse(url)?;
            o.endpoint = Some(url.to_string());
            Ok(())
        })
    })
}

/// Sets the directory holding the shared files (default `$HOME/intel`). Any bytes are
/// accepted on Unix. The string is copied. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_config_dir(
    opts: *mut ov_telemetry_options_t,
    dir: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        with_options(opts, |o| {
            o.config_dir = Some(arg_path(dir, "dir")?);
            Ok(())
        })
    })
}

/// Sets how many events the queue holds (1 … OV_TELEMETRY_MAX_QUEUE_CAPACITY; default
/// 1000). Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_queue_capacity(
    opts: *mut ov_telemetry_options_t,
    capacity: u32,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        with_options(opts, |o| {
            if capacity == 0 || capacity > OV_TELEMETRY_MAX_QUEUE_CAPACITY {
                return Err(Error::InvalidArgument(format!(
                    "capacity {capacity} is outside 1..={OV_TELEMETRY_MAX_QUEUE_CAPACITY}"
                )));
            }
            o.queue_capacity = capacity as usize;
            Ok(())
        })
    })
}

/// Crash reports (default false). With consent given, ov_telemetry_init() installs
/// handlers for fatal signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT; on Windows the
/// unhandled-exception filter). On a crash they write one small record (signal, time, app
/// name and version, frames as module+0xoffset with build ids; no memory, registers,
/// arguments, environment or paths) to the config directory, then hand the signal on to
/// the previous handler or the default action, so the exit status and core dump are
/// unchanged. The next init with consent sends it once as a `crash` event.
/// ov_telemetry_shutdown() restores the handlers that are still the library's.
/// Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_crash_reports(
    opts: *mut ov_telemetry_options_t,
    enabled: bool,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({ set(opts, |o| o.crash_reports = enabled) })
}

/// Frees an options object. NULL is a no-op. Never blocks. Infallible.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_free(opts: *mut ov_telemetry_options_t) {
    ffi_panic_boundary!({
        drop(take_box(opts));
    })
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::handle::ov_telemetry_init;
    use crate::ffi::status::ov_telemetry_status_e::*;
    use crate::ffi::tests::{bad, last_error};

    #[test]
    fn each_failure_names_its_argument() {
        let mut opts = ptr::null_mut();
        ov_telemetry_options_create(&mut opts);
        ov_telemetry_options_set_app(opts, c"a".as_ptr(), ptr::null());
        assert_eq!(last_error(), "invalid argument: version is NULL");
        ov_telemetry_options_set_app(opts, bad(), c"1".as_ptr());
        assert_eq!(
            last_error(),
            "invalid argument: name is not valid UTF-8 (invalid byte at offset 0)"
        );
        ov_telemetry_options_set_endpoint(opts, c"http://example.com/x".as_ptr());
        assert!(
            last_error().contains("only for loopback"),
            "{}",
            last_error()
        );
        assert_eq!(
            ov_telemetry_options_set_queue_capacity(opts, 0),
            OV_TELEMETRY_STATUS_INVALID_ARGUMENT
        );
        assert!(last_error().contains("capacity 0"));
        assert_eq!(
            ov_telemetry_options_set_queue_capacity(opts, OV_TELEMETRY_MAX_QUEUE_CAPACITY + 1),
            OV_TELEMETRY_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(
            ov_telemetry_options_set_queue_capacity(opts, 7),
            OV_TELEMETRY_STATUS_OK
        );
        // Options without an app name cannot start.
        let mut t = ptr::null_mut();
        assert_eq!(
            ov_telemetry_init(opts, &mut t),
            OV_TELEMETRY_STATUS_INVALID_ARGUMENT
        );
        assert!(t.is_null(), "*out is untouched on failure");
        assert!(last_error().contains("app name is empty"));
        ov_telemetry_options_free(opts);
    }
}
