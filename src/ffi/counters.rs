//! `ov_telemetry_get_counters`: the sender's counters for C callers, in a struct that may
//! grow at its end (the caller says how many bytes it has room for).

use super::args::{arg_out, arg_ref};
use super::ffi_panic_boundary;
use super::handle::ov_telemetry_t;
use super::status::{ov_telemetry_status_e, status_of};
use crate::sender::Counters;

/// What a handle's sender has done so far. Every accepted event ends up exactly once in
/// `sent` or `failed`, or is still pending: `queued == sent + failed + pending`. Fields are
/// only ever appended; pass sizeof(ov_telemetry_counters_t) to ov_telemetry_get_counters().
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ov_telemetry_counters_t {
    /// Events accepted onto the queue.
    pub queued: u64,
    /// Events delivered (answered 2xx).
    pub sent: u64,
    /// Events refused because the queue was full.
    pub dropped: u64,
    /// Events that could not be delivered (rejected, retries exhausted, or left at the
    /// shutdown deadline).
    pub failed: u64,
    /// Requests that were tried again.
    pub retried: u64,
}

impl From<Counters> for ov_telemetry_counters_t {
    fn from(c: Counters) -> Self {
        ov_telemetry_counters_t {
            queued: c.queued,
            sent: c.sent,
            dropped: c.dropped,
            failed: c.failed,
            retried: c.retried,
        }
    }
}

/// Copies the handle's counters into `*out`: min(`out_size`, sizeof(ov_telemetry_counters_t)
/// of this library) bytes are written, the rest of a larger caller struct is left as it
/// was, so callers built with an older or newer header both work. Pass
/// sizeof(ov_telemetry_counters_t). All zero for a disabled handle (and in a forked
/// child); readable after ov_telemetry_shutdown() (the final counts). Returns OK, or
/// INVALID_ARGUMENT for a NULL handle or a NULL `out` (nothing written). Never blocks.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_get_counters(
    t: *const ov_telemetry_t,
    out: *mut ov_telemetry_counters_t,
    out_size: usize,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        let counters = arg_ref(t, "t").and_then(|t| {
            arg_out(out)?;
            Ok(ov_telemetry_counters_t::from(t.inner.counters()))
        });
        status_of(counters.map(|counters| copy_prefix(&counters, out, out_size)))
    })
}

/// Copies the first min(`out_size`, our size) bytes of `counters` to `out` (non-NULL).
fn copy_prefix(
    counters: &ov_telemetry_counters_t,
    out: *mut ov_telemetry_counters_t,
    out_size: usize,
) {
    let n = out_size.min(std::mem::size_of::<ov_telemetry_counters_t>());
    // SAFETY: `out` is non-NULL and the caller promises `out_size` writable bytes; at
    // most that many (and at most our struct's size) are copied, bytewise, so neither
    // the caller's alignment nor a shorter caller struct matters.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (counters as *const ov_telemetry_counters_t).cast::<u8>(),
            out.cast::<u8>(),
            n,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::handle::ov_telemetry_free;
    use crate::ffi::status::ov_telemetry_status_e::*;
    use crate::ffi::tests::{disabled_handle, forced_panic};

    /// Calls ov_telemetry_get_counters() on `t` with a struct whose fields are all `fill`,
    /// expecting OK; returns what it holds afterwards.
    fn counters_over(t: *const ov_telemetry_t, fill: u64) -> ov_telemetry_counters_t {
        let mut out = ov_telemetry_counters_t {
            queued: fill,
            sent: fill,
            dropped: fill,
            failed: fill,
            retried: fill,
        };
        assert_eq!(
            ov_telemetry_get_counters(t, &mut out, size_of_val(&out)),
            OV_TELEMETRY_STATUS_OK
        );
        out
    }

    #[test]
    fn a_panic_inside_becomes_internal_error_and_writes_nothing() {
        let t = disabled_handle();
        let mut out = ov_telemetry_counters_t {
            sent: 9,
            ..Default::default()
        };
        // The body of ov_telemetry_get_counters() with reading the counters panicking.
        let status: ov_telemetry_status_e = ffi_panic_boundary!({
            let counters: ov_telemetry_counters_t = forced_panic();
            copy_prefix(&counters, &mut out, size_of_val(&out));
            OV_TELEMETRY_STATUS_OK
        });
        assert_eq!(status, OV_TELEMETRY_STATUS_INTERNAL_ERROR);
        assert_eq!(out.sent, 9);
        assert_eq!(counters_over(t, 9), ov_telemetry_counters_t::default());
        ov_telemetry_free(t);
    }

    #[test]
    fn null_handle_or_out_is_invalid_and_writes_nothing() {
        let mut out = ov_telemetry_counters_t {
            queued: 7,
            ..Default::default()
        };
        assert_eq!(
            ov_telemetry_get_counters(ptr::null(), &mut out, size_of_val(&out)),
            OV_TELEMETRY_STATUS_INVALID_ARGUMENT
        );
        assert_eq!(out.queued, 7);
        let t = disabled_handle();
        assert_eq!(
            ov_telemetry_get_counters(t, ptr::null_mut(), 40),
            OV_TELEMETRY_STATUS_INVALID_ARGUMENT
        );
        ov_telemetry_free(t);
    }

    #[test]
    fn a_disabled_handle_has_all_zero_counters() {
        let t = disabled_handle();
        assert_eq!(counters_over(t, 5), ov_telemetry_counters_t::default());
        ov_telemetry_free(t);
    }

    #[test]
    fn a_short_or_long_out_size_writes_only_what_fits() {
        let t = disabled_handle();
        // An older caller's struct: two fields, then bytes that are not its own.
        let mut buf = [0xAAu8; 64];
        assert_eq!(
            ov_telemetry_get_counters(t, buf.as_mut_ptr().cast(), 16),
            OV_TELEMETRY_STATUS_OK
        );
        assert!(buf[..16].iter().all(|&b| b == 0));
        assert!(buf[16..].iter().all(|&b| b == 0xAA), "{buf:?}");
        // Zero bytes: nothing written, still OK.
        let mut buf = [0xAAu8; 64];
        assert_eq!(
            ov_telemetry_get_counters(t, buf.as_mut_ptr().cast(), 0),
            OV_TELEMETRY_STATUS_OK
        );
        assert!(buf.iter().all(|&b| b == 0xAA));
        // A newer caller's larger struct: only this library's 40 bytes are written.
        let mut buf = [0xAAu8; 64];
        assert_eq!(
            ov_telemetry_get_counters(t, buf.as_mut_ptr().cast(), buf.len()),
            OV_TELEMETRY_STATUS_OK
        );
        let own = std::mem::size_of::<ov_telemetry_counters_t>();
        assert_eq!(own, 40);
        assert!(buf[..own].iter().all(|&b| b == 0));
        assert!(buf[own..].iter().all(|&b| b == 0xAA));
        ov_telemetry_free(t);
    }
}
