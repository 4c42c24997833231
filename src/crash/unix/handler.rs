//! The signal handler. Every call made from [`on_signal`] down — here, in `record`,
//! `modules` and `unwind` — is on the async-signal-safe list (POSIX `signal-safety(7)`:
//! `open`, `read`, `write`, `close`, `rename`, `unlink`, `clock_gettime`, `getpid`,
//! `sigaction`, `sigaltstack`, `sigpending`, `pthread_sigmask`, `raise`, `nanosleep`, the
//! `gettid` system call, `__errno_location`), or is a memory read of data prepared at init,
//! or is one of the two documented exceptions (`_dl_find_object`, libgcc's unwinder; see
//! the module docs); each call says which. No allocation, no lock, no stdio, no panic path.

use std::ffi::{c_int, c_void, CString};
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering::SeqCst};

use super::super::buf::{self, Buf};
use super::record::{format_record, write_record, RECORD_BYTES};
use super::{Prepared, PATH_BYTES, SIGNALS};

/// Stack the handler needs (its buffers, about 7 KiB, and libgcc's unwinder); on an
/// alternate stack with less room left it records nothing and only hands on, so it can
/// never overflow a small alternate stack the host set up.
const HANDLER_STACK: usize = 24 * 1024;
/// How long a second crashing thread waits for the first one's record (then hands on).
const WAIT_FOR_OTHER_MS: u32 = 2000;

/// The dispositions found at install, one per signal (written only under `STATE`, while
/// no handler of ours is installed for that signal).
pub(super) struct Previous(pub(super) std::cell::UnsafeCell<[MaybeUninit<libc::sigaction>; 5]>);
// SAFETY: written only under the STATE lock before our handler is installed for the
// signal; the handler only reads.
unsafe impl Sync for Previous {}

pub(super) static PREVIOUS: Previous = Previous(std::cell::UnsafeCell::new(
    [MaybeUninit::uninit(); SIGNALS.len()],
));
pub(super) static PREPARED: AtomicPtr<Prepared> = AtomicPtr::new(ptr::null_mut());
/// Handlers currently running (a published pointer is freed only when this is zero).
pub(super) static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Re-entry guard: the thread id of the handler recording a crash, 0 when none.
static BUSY: AtomicI32 = AtomicI32::new(0);
/// The stack pointer of the entry that holds BUSY.
static BUSY_SP: AtomicUsize = AtomicUsize::new(0);

/// The first line of a small file, trimmed of ASCII whitespace, into `out`; its length.
/// Async-signal-safe: `open`, `read`, `close`, then copies.
fn read_first_line(path: &CString, out: &mut [u8; 128]) -> Option<usize> {
    // SAFETY: plain system calls on a NUL-terminated path and our own buffer.
    unsafe {
        // open(2): async-signal-safe.
        let fd = libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        );
        if fd < 0 {
            return None;
        }
        // read(2), close(2): async-signal-safe.
        let n = libc::read(fd, out.as_mut_ptr() as *mut c_void, out.len());
        libc::close(fd);
        Some(buf::first_line_trimmed(out, usize::try_from(n).ok()?))
    }
}

/// The wall clock in microseconds since 1970. This copy stays apart from the library's
/// `SystemTime`-based ones on purpose: `clock_gettime` is async-signal-safe, and std does
/// not promise that `SystemTime::now` is.
fn now_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime (async-signal-safe) writes the valid `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// The disposition that was there before ours. A memory read.
fn previous(index: usize) -> libc::sigaction {
    // SAFETY: PREVIOUS[index] was written before our handler for it was installed.
    unsafe { (*PREVIOUS.0.get())[index].assume_init() }
}

/// A memory read of the siginfo.
fn is_kernel_fault(info: *const libc::siginfo_t) -> bool {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    !info.is_null() && unsafe { (*info).si_code } > 0
}

pub(super) fn handler_address() -> usize {
    on_signal as *const () as usize
}

/// The handler: records the crash (when this thread may, and consent still holds), then
/// hands the signal on as if we were not there.
extern "C" fn on_signal(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    let Some(index) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    // The interrupted code's errno survives us (a previous handler may let it go on).
    // SAFETY: __errno_location (async-signal-safe) is this thread's errno, always valid.
    let saved_errno = unsafe { *libc::__errno_location() };
    let prev = previous(index);
    let ignored = prev.sa_sigaction == libc::SIG_IGN;
    // A signal sent to a process that ignores it is not a crash (abort() kills anyway).
    let dies = !(ignored && !is_kernel_fault(info) && sig != libc::SIGABRT);
    let owner = dies && take_recording();
    let mut path = [0u8; PATH_BYTES];
    let path_len = if owner && enough_stack() {
        record_crash(index, uctx, &mut path)
    } else {
        0
    };
    let returned = hand_on(sig, &prev, info, uctx);
    if returned && path_len > 0 && sig != libc::SIGABRT && goes_on(sig) {
        // The previous handler dealt with it (a runtime that uses faults on purpose) and
        // the process goes on: not a crash after all.
        // SAFETY: unlink (async-signal-safe) of the NUL-terminated path we wrote.
        unsafe { libc::unlink(path.as_ptr() as *const libc::c_char) };
    }
    if owner {
        BUSY.store(0, SeqCst); // an atomic store
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

/// Re-entry guard: true when this entry is the one to record. A fault while this thread
/// records a crash goes straight to the hand-on. A crash on another thread at the same
/// moment waits (bounded) for the first record to be complete, records nothing itself, and
/// hands on. Async-signal-safe: the `gettid` system call, atomics, `nanosleep`.
fn take_recording() -> bool {
    // SAFETY: gettid is a plain system call (async-signal-safe).
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let here = 0u8;
    let sp = &here as *const u8 as usize;
    let owner = match BUSY.compare_exchange(0, tid, SeqCst, SeqCst) {
        Ok(_) => true,
        // This thread is in our handler already: a nested entry runs deeper on the same
        // stack. One at the same depth or above means the earlier entry never returned (a
        // previous handler jumped out with siglongjmp): take over.
        Err(other) if other == tid => sp.saturating_add(256) >= BUSY_SP.load(SeqCst),
        Err(_) => {
            wait_for_other();
            false
        }
    };
    if owner {
        BUSY_SP.store(sp, SeqCst);
    }
    owner
}

/// Writes the record when consent still holds (or to stderr in debug mode); the length of
/// its path in `path`, 0 when nothing was written. Async-signal-safe: see `record`.
fn record_crash(index: usize, uctx: *mut c_void, path: &mut [u8; PATH_BYTES]) -> usize {
    RUNNING.fetch_add(1, SeqCst);
    let mut written = 0;
    // SAFETY: see retire(): while RUNNING > 0 a published pointer is not freed.
    if let Some(p) = unsafe { PREPARED.load(SeqCst).as_ref() } {
        if p.debug || consent_still_given(p) {
            let now = now_micros();
            let mut buf = Buf::<RECORD_BYTES>::new();
            format_record(&mut buf, p, index, uctx, now);
            written = write_record(p, &buf, path, now);
        }
    }
    RUNNING.fetch_sub(1, SeqCst);
    written
}

/// Consent is still given and the client id is still the handle's. Async-signal-safe:
/// two small reads (see [`read_first_line`]).
fn consent_still_given(p: &Prepared) -> bool {
    buf::consent_still_given(read_first_line, &p.consent_path, &p.cid_path, &p.client_id)
}

/// Whether the stack we run on has HANDLER_STACK bytes left. Async-signal-safe.
fn enough_stack() -> bool {
    let here = 0u8;
    let sp = &here as *const u8 as usize;
    // SAFETY: querying this thread's alternate stack into valid memory.
    unsafe {
        let mut ss: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut ss) != 0 || ss.ss_flags & libc::SS_ONSTACK == 0 {
            return true; // on the thread's own stack: the fault was not its overflow
        }
        let low = ss.ss_sp as usize;
        sp > low && sp - low >= HANDLER_STACK
    }
}

/// Sleeps until no other thread records a crash, at most WAIT_FOR_OTHER_MS.
/// Async-signal-safe (nanosleep).
fn wait_for_other() {
    let step = libc::timespec {
        tv_sec: 0,
        tv_nsec: 1_000_000,
    };
    for _ in 0..WAIT_FOR_OTHER_MS {
        if BUSY.load(SeqCst) == 0 {
            return;
        }
        // SAFETY: nanosleep with a valid timespec.
        unsafe { libc::nanosleep(&step, ptr::null_mut()) };
    }
}

/// After a previous handler returned: the process goes on (our handler is still in place
/// and the signal is not pending again). A handler that restored the default action and
/// returned, or re-raised the signal, lets the crash proceed. Async-signal-safe.
fn goes_on(sig: c_int) -> bool {
    // SAFETY: querying the disposition and the pending set into valid memory.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigaction(sig, ptr::null(), &mut current) == 0
            && current.sa_sigaction == handler_address()
            && libc::sigpending(&mut pending) == 0
            && libc::sigismember(&pending, sig) == 0
    }
}

/// Hands the signal on as if we were not there. Returns true when a previous handler ran
/// and returned (the process goes on). Async-signal-safe.
fn hand_on(
    sig: c_int,
    prev: &libc::sigaction,
    info: *mut libc::siginfo_t,
    uctx: *mut c_void,
) -> bool {
    let handler = prev.sa_sigaction;
    // SAFETY: sigaction/pthread_sigmask/raise with valid arguments; calling the previous
    // handler with the arguments the kernel gave us, as the kernel would have.
    unsafe {
        if handler == libc::SIG_IGN && !is_kernel_fault(info) {
            // A sent signal the process ignored: ignored, as before, and ours stays.
            return true;
        }
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // Give the signal back its old disposition. A fault re-executes the faulting
            // instruction on return and the kernel delivers it again, with its original
            // siginfo (so a core dump is the same); a sent signal is sent again (it stays
            // pending until we return). An ignored fault is forced by the kernel.
            libc::sigaction(sig, prev, ptr::null_mut());
            if handler == libc::SIG_DFL && !is_kernel_fault(info) {
                libc::raise(sig);
            }
            return false;
        }
        if prev.sa_flags & libc::SA_RESETHAND != 0 {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, ptr::null_mut());
        }
        // Run it with the mask it asked for.
        let mut mask = prev.sa_mask;
        if prev.sa_flags & libc::SA_NODEFER == 0 {
            libc::sigaddset(&mut mask, sig);
        }
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &mask, &mut old);
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
                std::mem::transmute(handler);
            f(sig, info, uctx);
        } else {
            let f: extern "C" fn(c_int) = std::mem::transmute(handler);
            f(sig);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, ptr::null_mut());
        true
    }
}
