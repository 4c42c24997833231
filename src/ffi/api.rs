//! The exported functions of the C API v1. Each body is inside `ffi_guard!`.

use std::ffi::c_char;
use std::sync::Mutex;
use std::time::Duration;

use super::ov_telemetry_consent_e::*;
use super::ov_telemetry_status_e::{self, *};
use super::{
    arg_path, arg_ref, arg_str, fail, ffi_guard, last_error_ptr, ov_telemetry_consent_e,
    ov_telemetry_options_t, ov_telemetry_t, status_of, take_box,
};
use crate::consent::{self, Consent};
use crate::error::Error;
use crate::telemetry::{Options, Telemetry};
use crate::transport::Endpoint;

/// The largest queue capacity accepted by ov_telemetry_options_set_queue_capacity().
pub const OV_TELEMETRY_MAX_QUEUE_CAPACITY: u32 = 1_000_000;

fn with_options(
    opts: *mut ov_telemetry_options_t,
    change: impl FnOnce(&mut Options) -> Result<(), Error>,
) -> ov_telemetry_status_e {
    let result = arg_ref(opts, "opts").and_then(|o| {
        let mut options = o.inner.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut options)
    });
    status_of(result)
}

fn write_out<T>(out: *mut *mut T, value: Box<T>) {
    // SAFETY: `out` was checked non-NULL by the caller and points to writable storage.
    unsafe { *out = Box::into_raw(value) };
}

/// Creates an options object with the defaults (no app, GA4 endpoint, OpenVINO api
/// secret, no dialog, CI not special, `$HOME/intel`, queue of 1000).
/// Caller owns the result; free it with ov_telemetry_options_free(). `*out` is written
/// only on success. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_create(
    out: *mut *mut ov_telemetry_options_t,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        if out.is_null() {
            return fail(Error::InvalidArgument("out is NULL".into()));
        }
        let options = ov_telemetry_options_t {
            inner: Mutex::new(Options::new("", "", "")),
        };
        write_out(out, Box::new(options));
        OV_TELEMETRY_STATUS_OK
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        with_options(opts, |o| {
            let name = arg_str(name, "name")?;
            let version = arg_str(version, "version")?;
            if name.trim().is_empty() {
                return Err(Error::InvalidArgument("name is empty".into()));
            }
            o.app_name = name.to_string();
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        with_options(opts, |o| {
            let tid = arg_str(tid, "tid")?;
            if tid.trim().is_empty() {
                return Err(Error::InvalidArgument("tid is empty".into()));
            }
            o.measurement_id = tid.to_string();
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        with_options(opts, |o| {
            let secret = arg_str(secret, "secret")?;
            if secret.trim().is_empty() {
                return Err(Error::InvalidArgument("secret is empty".into()));
            }
            o.api_secret = secret.to_string();
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        with_options(opts, |o| {
            o.consent_dialog = enabled;
            Ok(())
        })
    })
}

/// Disable telemetry when a CI service is detected (default false). Never blocks.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_disable_in_ci(
    opts: *mut ov_telemetry_options_t,
    enabled: bool,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        with_options(opts, |o| {
            o.disable_in_ci = enabled;
            Ok(())
        })
    })
}

/// Sets the collect URL without its query (`https://…`; `http://` only for loopback
/// hosts). The environment variable OPENVINO_TELEMETRY_ENDPOINT wins over this. The
/// string is copied and checked now. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_set_endpoint(
    opts: *mut ov_telemetry_options_t,
    url: *const c_char,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        with_options(opts, |o| {
            o.crash_reports = enabled;
            Ok(())
        })
    })
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
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        match arg_str(type_name, "type_name") {
            Ok(name) => {
                crate::crash::set_exception(name);
                OV_TELEMETRY_STATUS_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Frees an options object. NULL is a no-op. Never blocks. Infallible.
#[no_mangle]
pub extern "C" fn ov_telemetry_options_free(opts: *mut ov_telemetry_options_t) {
    ffi_guard!((), {
        drop(take_box(opts));
    })
}

fn init_from(options: &Options, out: *mut *mut ov_telemetry_t) -> ov_telemetry_status_e {
    if out.is_null() {
        return fail(Error::InvalidArgument("out is NULL".into()));
    }
    match Telemetry::init(options) {
        Ok(telemetry) => {
            let enabled = telemetry.is_enabled();
            if !enabled {
                // The one place DISABLED explains itself: why consent is missing.
                super::set_last_error(format!("telemetry is disabled: {}", telemetry.reason()));
            }
            write_out(out, Box::new(ov_telemetry_t { inner: telemetry }));
            if enabled {
                OV_TELEMETRY_STATUS_OK
            } else {
                OV_TELEMETRY_STATUS_DISABLED
            }
        }
        Err(e) => fail(e),
    }
}

/// Decides consent and starts the background sender. Returns OK (enabled) or DISABLED (no
/// consent; why is in ov_telemetry_last_error()) and in both cases a valid handle in
/// `*out`; any other status leaves `*out` untouched. The options may be freed afterwards.
/// Caller owns the result; free it with ov_telemetry_free().
/// May block: reads and writes a few small files (typically well under a millisecond);
/// with the consent dialog on and no decision stored it waits for the user's answer (up to
/// 50 s). Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_init(
    opts: *const ov_telemetry_options_t,
    out: *mut *mut ov_telemetry_t,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        let options = match arg_ref(opts, "opts") {
            Ok(o) => o.inner.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            Err(e) => return fail(e),
        };
        init_from(&options, out)
    })
}

/// ov_telemetry_init() with default options: app name and version, measurement id.
/// Caller owns the result; free it with ov_telemetry_free(). May block briefly (file
/// reads and writes). Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_init_simple(
    app: *const c_char,
    version: *const c_char,
    tid: *const c_char,
    out: *mut *mut ov_telemetry_t,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        let args = (|| {
            Ok((
                arg_str(app, "app")?,
                arg_str(version, "version")?,
                arg_str(tid, "tid")?,
            ))
        })();
        match args {
            Ok((app, version, tid)) => init_from(&Options::new(app, version, tid), out),
            Err(e) => fail(e),
        }
    })
}

/// True when events are being sent: consent given, not shut down. NULL gives false.
/// Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_is_enabled(t: *const ov_telemetry_t) -> bool {
    ffi_guard!(false, {
        arg_ref(t, "t").is_ok_and(|t| t.inner.is_enabled())
    })
}

/// Runs `send` on a usable handle. Precedence: NULL handle → INVALID_ARGUMENT, shut down
/// → SHUT_DOWN, disabled → DISABLED — all before any string is read.
fn send(
    t: *const ov_telemetry_t,
    send: impl FnOnce(&Telemetry) -> Result<(), Error>,
) -> ov_telemetry_status_e {
    match arg_ref(t, "t") {
        Ok(t) => status_of(send(&t.inner)),
        Err(e) => fail(e),
    }
}

/// Queues an event (GA4 event `action` with `event_category`, `event_label`,
/// `event_count` = value). Names and values are normalised to GA4's limits. Returns OK,
/// DISABLED, QUEUE_FULL (dropped and counted), SHUT_DOWN or INVALID_ARGUMENT.
/// Never blocks: no I/O on the calling thread. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_send_event(
    t: *mut ov_telemetry_t,
    category: *const c_char,
    action: *const c_char,
    label: *const c_char,
    value: i64,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| {
            t.usable()?;
            t.send_event(
                arg_str(category, "category")?,
                arg_str(action, "action")?,
                arg_str(label, "label")?,
                value,
            )
        })
    })
}

/// Queues an error report (`error_` event); the user's home directory and name are
/// removed from `message` first. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_send_error(
    t: *mut ov_telemetry_t,
    category: *const c_char,
    message: *const c_char,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| {
            t.usable()?;
            t.send_error(arg_str(category, "category")?, arg_str(message, "message")?)
        })
    })
}

/// Queues a failure report (`stack_trace` event); the user's home directory and name are
/// removed from `trace` first. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_send_stack_trace(
    t: *mut ov_telemetry_t,
    category: *const c_char,
    trace: *const c_char,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| {
            t.usable()?;
            t.send_stack_trace(arg_str(category, "category")?, arg_str(trace, "trace")?)
        })
    })
}

/// Starts a new session (new session id) and queues `session`/`start`. Never blocks.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_start_session(
    t: *mut ov_telemetry_t,
    category: *const c_char,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| {
            t.usable()?;
            t.start_session(arg_str(category, "category")?)
        })
    })
}

/// Queues `session`/`end` for the current session. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_end_session(
    t: *mut ov_telemetry_t,
    category: *const c_char,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| {
            t.usable()?;
            t.end_session(arg_str(category, "category")?)
        })
    })
}

/// Waits until everything queued is delivered: returns as soon as it is (OK), or TIMEOUT
/// after `timeout_ms`. OK at once on a disabled handle; SHUT_DOWN after shutdown.
/// Blocks for at most `timeout_ms` (plus scheduling). Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_flush(
    t: *mut ov_telemetry_t,
    timeout_ms: u32,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| t.flush(Duration::from_millis(timeout_ms.into())))
    })
}

/// Stops accepting events and delivers what is queued: returns as soon as that is done
/// (OK) or TIMEOUT after `timeout_ms`, keeping what is left in the on-disk spool for the
/// next run. Later sends return SHUT_DOWN; a second call returns OK at once.
/// Blocks for at most `timeout_ms` (plus scheduling); an idle handle returns in
/// microseconds. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_shutdown(
    t: *mut ov_telemetry_t,
    timeout_ms: u32,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        send(t, |t| t.shutdown(Duration::from_millis(timeout_ms.into())))
    })
}

/// Shuts the handle down with timeout 0 if needed (what is queued goes to the spool) and
/// frees it. NULL is a no-op. The handle must not be used by any thread afterwards.
/// Never blocks. Infallible.
#[no_mangle]
pub extern "C" fn ov_telemetry_free(t: *mut ov_telemetry_t) {
    ffi_guard!((), {
        if let Some(handle) = take_box(t) {
            let _ = handle.inner.shutdown(Duration::ZERO);
        }
    })
}

fn config_dir_arg(dir: *const c_char) -> Result<std::path::PathBuf, Error> {
    if dir.is_null() {
        consent::config_dir(None)
    } else {
        arg_path(dir, "config_dir")
    }
}

/// The stored decision in `config_dir` (NULL: the default directory). Environment
/// variables are not considered: this is what the file says. UNDECIDED when no home is
/// known. May block briefly (one small file read). Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_get_consent(config_dir: *const c_char) -> ov_telemetry_consent_e {
    ffi_guard!(OV_TELEMETRY_CONSENT_UNDECIDED, {
        match config_dir_arg(config_dir) {
            Ok(dir) => match consent::read(&dir).0 {
                Consent::Undecided => OV_TELEMETRY_CONSENT_UNDECIDED,
                Consent::Declined => OV_TELEMETRY_CONSENT_DECLINED,
                Consent::Accepted => OV_TELEMETRY_CONSENT_ACCEPTED,
            },
            Err(e) => {
                fail(e);
                OV_TELEMETRY_CONSENT_UNDECIDED
            }
        }
    })
}

/// Changes the decision exactly as `opt_in_out` does: accepting writes `1` and a new
/// client id; declining writes `0` and deletes the client id, usage statistics and spool.
/// Sends nothing. NULL `config_dir` is the default directory. May block briefly (small
/// file writes). Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_set_consent(
    config_dir: *const c_char,
    accepted: bool,
) -> ov_telemetry_status_e {
    ffi_guard!(OV_TELEMETRY_STATUS_INTERNAL_ERROR, {
        status_of(
            config_dir_arg(config_dir).and_then(|dir| consent::set(&dir, accepted).map(|_| ())),
        )
    })
}

/// A static English description of any status value (unknown values included).
/// Never NULL; the caller must not free it. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_status_message(status: i32) -> *const c_char {
    ffi_guard!(c"internal error".as_ptr(), {
        let text = match status {
            0 => c"ok",
            1 => c"telemetry is disabled (no consent); nothing is sent",
            2 => c"the event queue is full; the event was dropped",
            3 => c"the deadline passed before all events were delivered",
            -1 => c"invalid argument",
            -2 => c"the telemetry handle has been shut down",
            -3 => c"a file could not be read or written",
            -4 => c"internal error",
            _ => c"unknown status",
        };
        text.as_ptr()
    })
}

/// Details of this thread's last failure (which argument, which file, which errno); ""
/// if none. Valid until the next failing call on the same thread; the caller must not
/// free it. Never NULL. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_last_error() -> *const c_char {
    ffi_guard!(c"".as_ptr(), { last_error_ptr() })
}

/// The library's version, e.g. "1.0.0" (equal to OV_TELEMETRY_VERSION of the header it
/// was built with). Static; never NULL. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_version() -> *const c_char {
    ffi_guard!(c"".as_ptr(), {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}
