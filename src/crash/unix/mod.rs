//! The fatal-signal handler (Linux). Everything reachable from [`on_signal`] is
//! async-signal-safe: no allocation, no locks, no stdio — only reads of data prepared at
//! init, `open`/`read`/`write`/`close`/`rename`/`unlink`, `clock_gettime`, `getpid`,
//! `sigaction`/`pthread_sigmask`/`raise`, and the unwinder (see below).
//!
//! Prepared at init (ordinary context, allocation allowed):
//! - [`Prepared`]: the paths of the decision file, the client id file and the record
//!   file prefix (absolute, NUL-terminated), the expected client id, the record's fixed
//!   lines (app, version, client id);
//! - the module list. With glibc ≥ 2.35 it is the loader's own: `_dl_find_object`
//!   (resolved with `dlsym` once, so an older glibc still loads us) is documented
//!   async-signal-safe and lock-free and exists for exactly this use (unwinders in signal
//!   handlers). It gives the link map of the module holding a pc — base name, load bias —
//!   and the module's ELF headers in memory, whose `PT_NOTE` gives the GNU build id. It is
//!   always current: a library `dlopen`ed after init is found like any other, and nothing
//!   has to be refreshed. Without `_dl_find_object`, [`Modules`] is a snapshot from
//!   `dl_iterate_phdr` (`PT_LOAD` ranges sorted for binary search, bias, base name, build
//!   id), rebuilt off the signal path at each init whose `dl_iterate_phdr` adds/subs
//!   counters changed; a frame in a library loaded after the last init then reads `?`.
//!   The main program, which the loader names "", is named from `AT_EXECFN`.
//! - the unwinder is warmed up (libgcc's `_Unwind_Backtrace` does its one-time
//!   initialisation on the first call, which must not happen in the handler). On glibc
//!   ≥ 2.35 with libgcc ≥ 12 it finds unwind tables through `_dl_find_object` without
//!   locks; older combinations take the loader's lock through `dl_iterate_phdr`, the
//!   residual risk every in-process unwinder carries (a crash inside the loader itself).
//! - an alternate signal stack for the thread calling init, if it has none.

//!
//! Where things are: `handler` (what runs in the signal handler: every call in it is on
//! the async-signal-safe list), `record` (formatting and writing the record, called from
//! the handler), `modules` (naming the module of each frame: `_dl_find_object` or the
//! snapshot), `unwind` (libgcc's unwinder). This file installs and removes the handlers.

use std::ffi::{c_int, c_void, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering::SeqCst};
use std::sync::Mutex;

use super::{Config, RECORD_PREFIX};
use handler::{handler_address, PREPARED, PREVIOUS, RUNNING};
use modules::{refresh_modules, remember_main_name, resolve_dl_find_object, DL_FIND_OBJECT};
use unwind::warm_up_unwinder;

mod handler;
mod modules;
mod record;
mod unwind;

/// The signals handled, in this order everywhere.
const SIGNALS: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];
const SIGNAL_NAMES: [&[u8]; 5] = [b"SIGSEGV", b"SIGBUS", b"SIGILL", b"SIGFPE", b"SIGABRT"];
/// A record file's path (the config directory's path must be shorter by 100 bytes).
const PATH_BYTES: usize = 1100;
const ALT_STACK_SIZE: usize = 64 * 1024;
/// Data the handler reads, built at init and never changed while published.
struct Prepared {
    consent_path: CString,
    cid_path: CString,
    client_id: Vec<u8>,
    /// `<dir>/openvino_telemetry_crash.`
    record_prefix: Vec<u8>,
    /// `app …\nversion …\ncid …\n`
    fixed_lines: Vec<u8>,
    debug: bool,
    token: u32,
}
struct State {
    installs: usize,
    /// Per signal: our handler is in the chain (installed by us and not known replaced).
    ours: [bool; 5],
}

static STATE: Mutex<State> = Mutex::new(State {
    installs: 0,
    ours: [false; 5],
});

pub struct Installed;

pub fn install(config: &Config) -> io::Result<Installed> {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        resolve_dl_find_object();
        remember_main_name();
        warm_up_unwinder();
    });
    if DL_FIND_OBJECT.load(SeqCst) == 0 {
        // No loader lookup in the handler: it uses a snapshot of the modules instead.
        refresh_modules();
    }
    if state.installs == 0 {
        publish(&PREPARED, Box::new(prepare(config)?));
        ensure_alt_stack();
        for (i, &sig) in SIGNALS.iter().enumerate() {
            if state.ours[i] {
                continue; // still in the chain below a handler installed after ours
            }
            // SAFETY: sigaction is plain data; zeroed is a valid value to fill in.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = handler_address();
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: the mask is valid memory; PREVIOUS[i] is written while no handler of
            // ours is installed for this signal (ours[i] is false), under STATE.
            unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                let previous = (*PREVIOUS.0.get())[i].as_mut_ptr();
                if libc::sigaction(sig, &action, previous) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            state.ours[i] = true;
        }
    } else {
        ensure_alt_stack();
    }
    state.installs += 1;
    Ok(Installed)
}

pub fn uninstall(_: Installed) {
    let mut state = STATE.lock().unwrap_or_else(|e| e.into_inner());
    state.installs = state.installs.saturating_sub(1);
    if state.installs > 0 {
        return;
    }
    for (i, &sig) in SIGNALS.iter().enumerate() {
        if !state.ours[i] {
            continue;
        }
        // SAFETY: querying and setting dispositions with valid pointers.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, ptr::null(), &mut current) == 0
                && current.sa_sigaction == handler_address()
            {
                libc::sigaction(sig, (*PREVIOUS.0.get())[i].as_ptr(), ptr::null_mut());
                state.ours[i] = false;
            }
            // else: someone installed a handler after ours and may chain to it; ours
            // stays callable (it then records nothing and hands on).
        }
    }
    retire(PREPARED.swap(ptr::null_mut(), SeqCst));
}

fn prepare(config: &Config) -> io::Result<Prepared> {
    let dir = std::path::absolute(&config.dir)?;
    let cstring = |p: std::path::PathBuf| {
        CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::other("NUL in a path"))
    };
    let mut record_prefix = dir.as_os_str().as_bytes().to_vec();
    record_prefix.push(b'/');
    record_prefix.extend_from_slice(RECORD_PREFIX.as_bytes());
    if record_prefix.len() > PATH_BYTES - 100 {
        return Err(io::Error::other("the config directory path is too long"));
    }
    Ok(Prepared {
        consent_path: cstring(dir.join(crate::consent::CONSENT_FILE))?,
        cid_path: cstring(dir.join(crate::identity::CLIENT_ID_FILE))?,
        client_id: config.client_id.as_bytes().to_vec(),
        record_prefix,
        fixed_lines: super::fixed_lines(config),
        debug: config.debug,
        token: crate::files::random_u32(),
    })
}

/// Publishes `value` in `slot`, freeing what was there if no handler can be reading it.
fn publish<T>(slot: &AtomicPtr<T>, value: Box<T>) {
    retire(slot.swap(Box::into_raw(value), SeqCst));
}

fn retire<T>(old: *mut T) {
    // A handler increments RUNNING before it loads a pointer: if none runs now, none can
    // see `old` any more. Otherwise `old` is leaked (a crash is in progress anyway).
    if !old.is_null() && RUNNING.load(SeqCst) == 0 {
        // SAFETY: `old` came from Box::into_raw and is no longer reachable.
        drop(unsafe { Box::from_raw(old) });
    }
}

// ---- the alternate signal stack ----

fn ensure_alt_stack() {
    // SAFETY: querying and setting this thread's alternate stack with valid pointers; the
    // mapping is never unmapped (a thread may still run on it).
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut current) != 0
            || current.ss_flags & libc::SS_DISABLE == 0
        {
            return; // the thread has one (the host's, or ours from an earlier init)
        }
        let page = 4096usize.max(libc::sysconf(libc::_SC_PAGESIZE) as usize);
        let size = ALT_STACK_SIZE.max(libc::SIGSTKSZ);
        let base = libc::mmap(
            ptr::null_mut(),
            size + page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return;
        }
        // A guard page below the stack: overflowing it faults instead of writing over
        // whatever is mapped there.
        libc::mprotect(base, page, libc::PROT_NONE);
        let stack = libc::stack_t {
            ss_sp: (base as usize + page) as *mut c_void,
            ss_flags: 0,
            ss_size: size,
        };
        if libc::sigaltstack(&stack, ptr::null_mut()) != 0 {
            libc::munmap(base, size + page);
        }
    }
}
