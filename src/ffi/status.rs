//! `ov_telemetry_status_e`: the result of every fallible call, how an [`Error`] maps to it
//! (the one place), and the static description of any value.

use std::ffi::CStr;

use super::last_error::{set_last_error, set_last_error_static};
use crate::error::{self, Error};

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

/// The static description of a status value, known or not.
pub(super) fn status_text(status: i32) -> &'static CStr {
    match status {
        0 => c"ok",
        1 => c"telemetry is disabled (no consent); nothing is sent",
        2 => error::QUEUE_FULL_TEXT,
        3 => error::TIMEOUT_TEXT,
        -1 => error::INVALID_ARGUMENT_TEXT,
        -2 => error::SHUT_DOWN_TEXT,
        -3 => c"a file could not be read or written",
        -4 => error::INTERNAL_TEXT,
        _ => c"unknown status",
    }
}

fn status_for(error: &Error) -> ov_telemetry_status_e {
    match error {
        Error::Disabled(_) => OV_TELEMETRY_STATUS_DISABLED,
        Error::QueueFull => OV_TELEMETRY_STATUS_QUEUE_FULL,
        Error::Timeout => OV_TELEMETRY_STATUS_TIMEOUT,
        Error::InvalidArgument(_) => OV_TELEMETRY_STATUS_INVALID_ARGUMENT,
        Error::ShutDown => OV_TELEMETRY_STATUS_SHUT_DOWN,
        Error::Io { .. } => OV_TELEMETRY_STATUS_IO_ERROR,
        Error::Internal(_) => OV_TELEMETRY_STATUS_INTERNAL_ERROR,
    }
}

/// Maps an error to its status, recording the detail as this thread's last error
/// (except for `Disabled`, which is not a failure).
pub(super) fn fail(error: Error) -> ov_telemetry_status_e {
    let status = status_for(&error);
    match (&error, error.fixed_text()) {
        (Error::Disabled(_), _) => {}
        (_, Some(text)) => set_last_error_static(text),
        (_, None) => set_last_error(error.to_string()),
    }
    status
}

pub(super) fn status_of(result: crate::Result<()>) -> ov_telemetry_status_e {
    match result {
        Ok(()) => OV_TELEMETRY_STATUS_OK,
        Err(e) => fail(e),
    }
}
