//! `ov_telemetry_t`: init (with options or the three required values), the sends, flush,
//! shutdown and free.

use std::ffi::c_char;
use std::time::Duration;

use super::args::{arg_out, arg_ref, arg_str, take_box, write_out};
use super::ffi_panic_boundary;
use super::last_error::set_last_error;
use super::options::ov_telemetry_options_t;
use super::status::{fail, ov_telemetry_status_e, status_of};
use crate::error::Error;
use crate::telemetry::{Options, Telemetry, Usable};

use ov_telemetry_status_e::*;

/// A telemetry handle (opaque). Create with ov_telemetry_init(), free with
/// ov_telemetry_free().
pub struct ov_telemetry_t {
    pub(super) inner: Telemetry,
}

/// Starts telemetry and hands the handle out through `out`: OK or DISABLED (with why as
/// the last error), else the failure with `*out` untouched.
fn init_from(options: &Options, out: *mut *mut ov_telemetry_t) -> ov_telemetry_status_e {
    let telemetry = match arg_out(out).and_then(|()| Telemetry::init(options)) {
        Ok(telemetry) => telemetry,
        Err(e) => return fail(e),
    };
    let enabled = telemetry.is_enabled();
    if !enabled {
        // The one place DISABLED explains itself: why consent is missing.
        set_last_error(Error::Disabled(telemetry.reason().to_string()).to_string());
    }
    write_out(out, ov_telemetry_t { inner: telemetry });
    if enabled {
        OV_TELEMETRY_STATUS_OK
    } else {
        OV_TELEMETRY_STATUS_DISABLED
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
    ffi_panic_boundary!({
        match arg_ref(opts, "opts") {
            Ok(opts) => init_from(&opts.snapshot(), out),
            Err(e) => fail(e),
        }
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
    ffi_panic_boundary!({
        let options = (|| {
            Ok(Options::new(
                arg_str(app, "app")?,
                arg_str(version, "version")?,
                arg_str(tid, "tid")?,
            ))
        })();
        match options {
            Ok(options) => init_from(&options, out),
            Err(e) => fail(e),
        }
    })
}

/// True when events are being sent: consent given, not shut down. NULL gives false.
/// Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_is_enabled(t: *const ov_telemetry_t) -> bool {
    ffi_panic_boundary!({ arg_ref(t, "t").is_ok_and(|t| t.inner.is_enabled()) })
}

/// Runs `call` on the handle behind `t` (NULL is INVALID_ARGUMENT).
fn with_handle(
    t: *const ov_telemetry_t,
    call: impl FnOnce(&Telemetry) -> Result<(), Error>,
) -> ov_telemetry_status_e {
    status_of(arg_ref(t, "t").and_then(|t| call(&t.inner)))
}

/// Runs `send` on a usable handle. Precedence: NULL handle → INVALID_ARGUMENT, shut down
/// → SHUT_DOWN, disabled → DISABLED — all before any string is read.
/// The handle's state is checked once, here ([`Usable`]).
fn send(
    t: *const ov_telemetry_t,
    send: impl FnOnce(&Usable) -> Result<(), Error>,
) -> ov_telemetry_status_e {
    let t = match arg_ref(t, "t") {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    match t.inner.usable() {
        Ok(usable) => status_of(send(&usable)),
        // The common answer without consent: no last error to record, nothing to map.
        Err(Error::Disabled(_)) => OV_TELEMETRY_STATUS_DISABLED,
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
    ffi_panic_boundary!({
        send(t, |t| {
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
    ffi_panic_boundary!({
        send(t, |t| {
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
    ffi_panic_boundary!({
        send(t, |t| {
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
    ffi_panic_boundary!({ send(t, |t| t.start_session(arg_str(category, "category")?)) })
}

/// Queues `session`/`end` for the current session. Never blocks. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_end_session(
    t: *mut ov_telemetry_t,
    category: *const c_char,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({ send(t, |t| t.end_session(arg_str(category, "category")?)) })
}

/// Waits until everything queued is delivered: returns as soon as it is (OK), or TIMEOUT
/// after `timeout_ms`. OK at once on a disabled handle; SHUT_DOWN after shutdown.
/// Blocks for at most `timeout_ms` (plus scheduling). Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_flush(
    t: *mut ov_telemetry_t,
    timeout_ms: u32,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({ with_handle(t, |t| t.flush(millis(timeout_ms))) })
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
    ffi_panic_boundary!({ with_handle(t, |t| t.shutdown(millis(timeout_ms))) })
}

fn millis(ms: u32) -> Duration {
    Duration::from_millis(ms.into())
}

/// Shuts the handle down with timeout 0 if needed (what is queued goes to the spool) and
/// frees it. NULL is a no-op. The handle must not be used by any thread afterwards.
/// Never blocks. Infallible.
#[no_mangle]
pub extern "C" fn ov_telemetry_free(t: *mut ov_telemetry_t) {
    ffi_panic_boundary!({
        if let Some(handle) = take_box(t) {
            let _ = handle.inner.shutdown(Duration::ZERO);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::options::ov_telemetry_options_set_app;
    use crate::ffi::tests::{bad, disabled_handle, forced_panic, last_error};

    #[test]
    fn disabled_handle_answers_disabled_before_reading_strings() {
        let t = disabled_handle();
        assert!(
            last_error().contains("no consent was given"),
            "{}",
            last_error()
        );
        assert!(!ov_telemetry_is_enabled(t));
        // Set a recognisable last error: DISABLED must leave it alone.
        ov_telemetry_options_set_app(ptr::null_mut(), ptr::null(), ptr::null());
        let before = last_error();
        assert_eq!(
            ov_telemetry_send_event(t, ptr::null(), bad(), ptr::null(), 1),
            OV_TELEMETRY_STATUS_DISABLED
        );
        assert_eq!(
            ov_telemetry_send_error(t, ptr::null(), ptr::null()),
            OV_TELEMETRY_STATUS_DISABLED
        );
        assert_eq!(
            ov_telemetry_send_stack_trace(t, bad(), bad()),
            OV_TELEMETRY_STATUS_DISABLED
        );
        assert_eq!(
            ov_telemetry_start_session(t, ptr::null()),
            OV_TELEMETRY_STATUS_DISABLED
        );
        assert_eq!(
            ov_telemetry_end_session(t, ptr::null()),
            OV_TELEMETRY_STATUS_DISABLED
        );
        assert_eq!(last_error(), before);
        assert_eq!(ov_telemetry_flush(t, 10), OV_TELEMETRY_STATUS_OK);
        assert_eq!(ov_telemetry_shutdown(t, 10), OV_TELEMETRY_STATUS_OK);
        // Shut down wins over disabled.
        assert_eq!(
            ov_telemetry_send_event(t, c"c".as_ptr(), c"a".as_ptr(), c"l".as_ptr(), 1),
            OV_TELEMETRY_STATUS_SHUT_DOWN
        );
        assert_eq!(
            ov_telemetry_start_session(t, ptr::null()),
            OV_TELEMETRY_STATUS_SHUT_DOWN
        );
        assert_eq!(ov_telemetry_flush(t, 10), OV_TELEMETRY_STATUS_SHUT_DOWN);
        assert!(last_error().contains("shut down"));
        assert_eq!(ov_telemetry_shutdown(t, 10), OV_TELEMETRY_STATUS_OK);
        ov_telemetry_free(t);
    }

    #[test]
    fn a_panic_inside_a_call_becomes_internal_error_and_the_handle_lives_on() {
        let t = disabled_handle();
        // The body of a call on the handle, panicking once the handle is checked.
        let status: ov_telemetry_status_e =
            ffi_panic_boundary!({ with_handle(t, |_| forced_panic()) });
        assert_eq!(status, OV_TELEMETRY_STATUS_INTERNAL_ERROR);
        assert!(last_error().contains("panic"), "{}", last_error());
        assert_eq!(
            ov_telemetry_send_event(t, c"c".as_ptr(), c"a".as_ptr(), c"l".as_ptr(), 1),
            OV_TELEMETRY_STATUS_DISABLED
        );
        ov_telemetry_free(t);
    }
}
