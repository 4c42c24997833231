//! libgcc's unwinder: the return addresses of the crashing thread, and the faulting pc.

use std::ffi::{c_int, c_void};
use std::ptr;

/// Frames collected by the unwinder (the record keeps those below the handler).
const MAX_FRAMES: usize = 48;
// ---- unwinding ----

/// cbindgen:ignore
type UnwindContext = c_void;
/// cbindgen:ignore
type TraceFn = extern "C" fn(*mut UnwindContext, *mut c_void) -> c_int;
const URC_NO_REASON: c_int = 0;
const URC_END_OF_STACK: c_int = 5;

// libgcc's unwinder (libgcc_s, which Rust's std links on this target).
extern "C" {
    /// cbindgen:ignore
    fn _Unwind_Backtrace(trace: TraceFn, arg: *mut c_void) -> c_int;
    /// cbindgen:ignore
    fn _Unwind_GetIPInfo(ctx: *mut UnwindContext, ip_before_insn: *mut c_int) -> usize;
}

/// Return addresses, innermost first; `exact` where the unwinder says the address is the
/// instruction itself (the signal frame), not a return address.
pub(super) struct Frames {
    pub(super) ips: [usize; MAX_FRAMES],
    pub(super) exact: [bool; MAX_FRAMES],
    pub(super) len: usize,
}

impl Frames {
    pub(super) fn new() -> Frames {
        Frames {
            ips: [0; MAX_FRAMES],
            exact: [false; MAX_FRAMES],
            len: 0,
        }
    }
}

extern "C" fn collect(ctx: *mut UnwindContext, arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Frames passed to _Unwind_Backtrace; ctx is the unwinder's.
    let frames = unsafe { &mut *(arg as *mut Frames) };
    if frames.len >= MAX_FRAMES {
        return URC_END_OF_STACK;
    }
    let mut before: c_int = 0;
    // SAFETY: ctx is valid during the callback.
    let ip = unsafe { _Unwind_GetIPInfo(ctx, &mut before) };
    if ip == 0 {
        return URC_END_OF_STACK;
    }
    frames.ips[frames.len] = ip;
    frames.exact[frames.len] = before != 0;
    frames.len += 1;
    URC_NO_REASON
}

pub(super) fn unwind(frames: &mut Frames) {
    // SAFETY: collect matches TraceFn and only writes `frames`.
    unsafe { _Unwind_Backtrace(collect, frames as *mut Frames as *mut c_void) };
}

pub(super) fn warm_up_unwinder() {
    // libgcc's one-time set-up happens on the first frame; one frame is enough.
    extern "C" fn first_only(ctx: *mut UnwindContext, _: *mut c_void) -> c_int {
        let mut before: c_int = 0;
        // SAFETY: ctx is valid during the callback.
        unsafe { _Unwind_GetIPInfo(ctx, &mut before) };
        URC_END_OF_STACK
    }
    // SAFETY: first_only matches TraceFn and touches nothing.
    unsafe { _Unwind_Backtrace(first_only, ptr::null_mut()) };
}

/// The faulting pc from the signal context, where we know where the platform keeps it.
pub(super) fn context_pc(uctx: *mut c_void) -> Option<usize> {
    if uctx.is_null() {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
        let uc = unsafe { &*(uctx as *const libc::ucontext_t) };
        Some(uc.uc_mcontext.gregs[libc::REG_RIP as usize] as usize)
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: as above.
        let uc = unsafe { &*(uctx as *const libc::ucontext_t) };
        Some(uc.uc_mcontext.pc as usize)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        None
    }
}
