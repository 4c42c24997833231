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

use std::ffi::{c_int, c_void, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use super::{Config, MAGIC, PARTIAL_SUFFIX, RECORD_PREFIX, RECORD_SUFFIX};

/// The signals handled, in this order everywhere.
const SIGNALS: [c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGABRT,
];
const SIGNAL_NAMES: [&[u8]; 5] = [b"SIGSEGV", b"SIGBUS", b"SIGILL", b"SIGFPE", b"SIGABRT"];
/// Frames collected by the unwinder (the record keeps those below the handler).
const MAX_FRAMES: usize = 48;
/// Frames written to the record (the event has room for 15).
const MAX_RECORD_FRAMES: usize = 20;
/// The record buffer: the fixed lines (≤ 3 × 110), the exception note (≤ 140) and
/// MAX_RECORD_FRAMES frames of at most 6 + 64 + 19 + 1 + 64 + 1 bytes.
const RECORD_BYTES: usize = 4096;
/// A record file's path (the config directory's path must be shorter by 100 bytes).
const PATH_BYTES: usize = 1100;
/// Stack the handler needs (its buffers, about 7 KiB, and libgcc's unwinder); on an
/// alternate stack with less room left it records nothing and only hands on, so it can
/// never overflow a small alternate stack the host set up.
const HANDLER_STACK: usize = 24 * 1024;
/// Size of the alternate signal stack given to the thread that calls init.
const ALT_STACK_SIZE: usize = 64 * 1024;
const MAX_NAME: usize = 64;
const MAX_BUILD_ID: usize = 32;

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

#[derive(Clone, Copy)]
struct Module {
    bias: usize,
    name: [u8; MAX_NAME],
    name_len: u8,
    build_id: [u8; MAX_BUILD_ID],
    build_id_len: u8,
}

#[derive(Clone, Copy)]
struct Range {
    start: usize,
    end: usize,
    module: usize,
}

struct Modules {
    modules: Vec<Module>,
    /// Sorted by `start`, not overlapping.
    ranges: Vec<Range>,
    adds: u64,
    subs: u64,
}

/// The dispositions found at install, one per signal (written only under `STATE`, while
/// no handler of ours is installed for that signal).
struct Previous(std::cell::UnsafeCell<[MaybeUninit<libc::sigaction>; 5]>);
// SAFETY: written only under the STATE lock before our handler is installed for the
// signal; the handler only reads.
unsafe impl Sync for Previous {}

static PREVIOUS: Previous = Previous(std::cell::UnsafeCell::new(
    [MaybeUninit::uninit(); SIGNALS.len()],
));
static PREPARED: AtomicPtr<Prepared> = AtomicPtr::new(ptr::null_mut());
static MODULES: AtomicPtr<Modules> = AtomicPtr::new(ptr::null_mut());
/// Handlers currently running (a published pointer is freed only when this is zero).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Re-entry guard: the thread id of the handler recording a crash, 0 when none.
static BUSY: AtomicI32 = AtomicI32::new(0);
/// The stack pointer of the entry that holds BUSY.
static BUSY_SP: AtomicUsize = AtomicUsize::new(0);
/// How long a second crashing thread waits for the first one's record (then hands on).
const WAIT_FOR_OTHER_MS: u32 = 2000;
/// `_dl_find_object`, when the C library has it.
static DL_FIND_OBJECT: AtomicUsize = AtomicUsize::new(0);
/// The main program's base name (the loader names it ""), set once, never freed.
static MAIN_NAME: AtomicPtr<Vec<u8>> = AtomicPtr::new(ptr::null_mut());

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

fn line_value(value: &str) -> Vec<u8> {
    // One line: control characters become spaces, 100 characters at most.
    crate::event::normalise_value(value).into_bytes()
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
    let mut fixed_lines = Vec::new();
    for (key, value) in [
        ("app", &config.app_name),
        ("version", &config.app_version),
        ("cid", &config.client_id),
    ] {
        fixed_lines.extend_from_slice(key.as_bytes());
        fixed_lines.push(b' ');
        fixed_lines.extend(line_value(value));
        fixed_lines.push(b'\n');
    }
    Ok(Prepared {
        consent_path: cstring(dir.join(crate::consent::CONSENT_FILE))?,
        cid_path: cstring(dir.join(crate::identity::CLIENT_ID_FILE))?,
        client_id: config.client_id.as_bytes().to_vec(),
        record_prefix,
        fixed_lines,
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

// ---- the module snapshot ----

fn refresh_modules() {
    let (adds, subs) = loader_counters();
    // SAFETY: only this function (under STATE) replaces MODULES; reading it here is safe.
    if let Some(current) = unsafe { MODULES.load(SeqCst).as_ref() } {
        if current.adds == adds && current.subs == subs {
            return;
        }
    }
    publish(&MODULES, Box::new(snapshot()));
}

fn loader_counters() -> (u64, u64) {
    extern "C" fn first(info: *mut libc::dl_phdr_info, size: usize, data: *mut c_void) -> c_int {
        // SAFETY: the loader passes a valid info of `size` bytes; data is our tuple.
        unsafe {
            if size >= std::mem::offset_of!(libc::dl_phdr_info, dlpi_subs) + 8 {
                *(data as *mut (u64, u64)) = ((*info).dlpi_adds, (*info).dlpi_subs);
            }
        }
        1
    }
    let mut counters = (0u64, 0u64);
    // SAFETY: the callback matches the expected signature and only writes `counters`.
    unsafe { libc::dl_iterate_phdr(Some(first), &mut counters as *mut _ as *mut c_void) };
    counters
}

fn snapshot() -> Modules {
    struct Acc {
        modules: Vec<Module>,
        ranges: Vec<Range>,
        adds: u64,
        subs: u64,
        main_name: Vec<u8>,
    }
    extern "C" fn each(info: *mut libc::dl_phdr_info, size: usize, data: *mut c_void) -> c_int {
        // SAFETY: the loader passes a valid info; data is our accumulator.
        let (info, acc) = unsafe { (&*info, &mut *(data as *mut Acc)) };
        if size >= std::mem::offset_of!(libc::dl_phdr_info, dlpi_subs) + 8 {
            acc.adds = info.dlpi_adds;
            acc.subs = info.dlpi_subs;
        }
        let path: &[u8] = if info.dlpi_name.is_null() {
            b""
        } else {
            // SAFETY: a non-NULL dlpi_name is a NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(info.dlpi_name) }.to_bytes()
        };
        let path = if path.is_empty() && acc.modules.is_empty() {
            acc.main_name.clone()
        } else {
            path.to_vec()
        };
        let bias = info.dlpi_addr as usize;
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers of a loaded module.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let index = acc.modules.len();
        let mut any = false;
        for ph in phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD) {
            let start = bias.wrapping_add(ph.p_vaddr as usize);
            acc.ranges.push(Range {
                start,
                end: start.wrapping_add(ph.p_memsz as usize),
                module: index,
            });
            any = true;
        }
        if any {
            // SAFETY: the headers are those of a loaded module, mapped at `bias`.
            let build_id = unsafe { build_id_of(bias, info.dlpi_phdr, info.dlpi_phnum as usize) };
            acc.modules.push(module(bias, base_name(&path), build_id));
        }
        0
    }
    let main_name = main_path();
    let mut acc = Acc {
        modules: Vec::new(),
        ranges: Vec::new(),
        adds: 0,
        subs: 0,
        main_name,
    };
    // SAFETY: the callback matches the expected signature and only touches `acc`.
    unsafe { libc::dl_iterate_phdr(Some(each), &mut acc as *mut Acc as *mut c_void) };
    acc.ranges.sort_by_key(|r| r.start);
    Modules {
        modules: acc.modules,
        ranges: acc.ranges,
        adds: acc.adds,
        subs: acc.subs,
    }
}

/// The part after the last `/`, without a ` (deleted)` suffix; `?` when empty.
/// Async-signal-safe.
fn base_name(path: &[u8]) -> &[u8] {
    let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
    let name = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    };
    if name.is_empty() {
        b"?"
    } else {
        name
    }
}

/// Async-signal-safe.
fn module(bias: usize, name: &[u8], build_id: &[u8]) -> Module {
    let mut m = Module {
        bias,
        name: [0; MAX_NAME],
        name_len: 0,
        build_id: [0; MAX_BUILD_ID],
        build_id_len: 0,
    };
    let mut n = 0;
    for &b in name.iter().take(MAX_NAME) {
        // A record is one line per frame, fields separated by spaces.
        m.name[n] = if (0x21..0x7f).contains(&b) { b } else { b'_' };
        n += 1;
    }
    m.name_len = n as u8;
    let k = build_id.len().min(MAX_BUILD_ID);
    m.build_id[..k].copy_from_slice(&build_id[..k]);
    m.build_id_len = k as u8;
    m
}

/// The GNU build id from the module's `PT_NOTE` segments (empty if none). Reads only the
/// module's mapped notes. Async-signal-safe.
///
/// # Safety
/// `phdr` must point at `phnum` program headers of a module loaded at `bias`.
unsafe fn build_id_of(bias: usize, phdr: *const libc::Elf64_Phdr, phnum: usize) -> &'static [u8] {
    const NT_GNU_BUILD_ID: u32 = 3;
    let phdrs = std::slice::from_raw_parts(phdr, phnum);
    // Checked arithmetic throughout: a panic here would abort the crashing host.
    let align4 = |n: usize| n.checked_add(3).map(|v| v & !3);
    for ph in phdrs.iter().filter(|p| p.p_type == libc::PT_NOTE) {
        let mut at = bias.wrapping_add(ph.p_vaddr as usize);
        let Some(end) = at.checked_add(ph.p_memsz as usize) else {
            continue;
        };
        while at.checked_add(12).is_some_and(|h| h <= end) {
            let word = |i: usize| ptr::read_unaligned((at + 4 * i) as *const u32) as usize;
            let (namesz, descsz, kind) = (word(0), word(1), word(2) as u32);
            let name_at = at + 12;
            let Some(desc_at) = align4(namesz).and_then(|n| name_at.checked_add(n)) else {
                break;
            };
            let Some(next) = align4(descsz).and_then(|n| desc_at.checked_add(n)) else {
                break;
            };
            if next > end {
                break;
            }
            let name = std::slice::from_raw_parts(name_at as *const u8, namesz);
            if kind == NT_GNU_BUILD_ID && name == b"GNU\0" {
                return std::slice::from_raw_parts(desc_at as *const u8, descsz);
            }
            at = next;
        }
    }
    &[]
}

// ---- dlopen after init: _dl_find_object ----

#[repr(C)]
struct DlFindObject {
    flags: u64,
    map_start: *mut c_void,
    map_end: *mut c_void,
    link_map: *mut LinkMap,
    eh_frame: *mut c_void,
    reserved: [u64; 32],
}

/// The public head of glibc's `struct link_map` (<link.h>).
#[repr(C)]
struct LinkMap {
    l_addr: usize,
    l_name: *const libc::c_char,
}

/// The path the program was started with (`AT_EXECFN`, a read of the auxiliary vector:
/// no system call), or `/proc/self/exe`'s target when the kernel gave none.
fn main_path() -> Vec<u8> {
    // SAFETY: getauxval has no preconditions; AT_EXECFN, when present, points at a
    // NUL-terminated string on the initial stack that lives as long as the process.
    let execfn = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const libc::c_char;
    if !execfn.is_null() {
        // SAFETY: see above.
        return unsafe { std::ffi::CStr::from_ptr(execfn) }
            .to_bytes()
            .to_vec();
    }
    std::env::current_exe()
        .ok()
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .unwrap_or_default()
}

fn remember_main_name() {
    let name = Box::new(base_name(&main_path()).to_vec());
    MAIN_NAME.store(Box::into_raw(name), SeqCst);
}

/// Async-signal-safe.
fn main_name() -> &'static [u8] {
    // SAFETY: set once before any handler is installed, never freed.
    unsafe { MAIN_NAME.load(SeqCst).as_ref() }.map_or(b"?", |v| v.as_slice())
}

fn resolve_dl_find_object() {
    // SAFETY: dlsym with a NUL-terminated name; the result is only stored.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_dl_find_object".as_ptr()) };
    DL_FIND_OBJECT.store(f as usize, SeqCst);
}

/// The module holding `pc`, found in the loader's own tables. Async-signal-safe.
fn find_late_module(pc: usize) -> Option<Module> {
    let f = DL_FIND_OBJECT.load(SeqCst);
    if f == 0 {
        return None;
    }
    // SAFETY: `f` is glibc's _dl_find_object(void *pc, struct dl_find_object *result);
    // `result` is larger than the C struct of any glibc so far.
    unsafe {
        let find: extern "C" fn(*mut c_void, *mut DlFindObject) -> c_int = std::mem::transmute(f);
        let mut out: DlFindObject = std::mem::zeroed();
        if find(pc as *mut c_void, &mut out) != 0 || out.link_map.is_null() {
            return None;
        }
        let lm = &*out.link_map;
        let path: &[u8] = if lm.l_name.is_null() {
            b""
        } else {
            std::ffi::CStr::from_ptr(lm.l_name).to_bytes()
        };
        // The loader names the main program "" (its link map comes first).
        let name = if path.is_empty() {
            main_name()
        } else {
            base_name(path)
        };
        // The ELF header is at the start of the lowest mapping (first PT_LOAD, offset 0).
        let ehdr = out.map_start as *const libc::Elf64_Ehdr;
        let mut build_id: &[u8] = &[];
        if let Some(eh) = ehdr.as_ref() {
            if eh.e_ident[..4] == *b"\x7fELF"
                && eh.e_phentsize as usize == std::mem::size_of::<libc::Elf64_Phdr>()
                && eh.e_phnum < 512
            {
                let phdr = (out.map_start as usize).wrapping_add(eh.e_phoff as usize)
                    as *const libc::Elf64_Phdr;
                build_id = build_id_of(lm.l_addr, phdr, eh.e_phnum as usize);
            }
        }
        Some(module(lm.l_addr, name, build_id))
    }
}

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

struct Frames {
    ips: [usize; MAX_FRAMES],
    exact: [bool; MAX_FRAMES],
    len: usize,
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

fn unwind(frames: &mut Frames) {
    // SAFETY: collect matches TraceFn and only writes `frames`.
    unsafe { _Unwind_Backtrace(collect, frames as *mut Frames as *mut c_void) };
}

fn warm_up_unwinder() {
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
fn context_pc(uctx: *mut c_void) -> Option<usize> {
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

// ---- the handler ----

use super::buf::Buf;

/// A small file read with open/read/close, trimmed of ASCII whitespace. Async-signal-safe.
fn read_small(path: &CString, out: &mut [u8; 128]) -> Option<usize> {
    // SAFETY: plain system calls on a NUL-terminated path and our own buffer.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        );
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, out.as_mut_ptr() as *mut c_void, out.len());
        libc::close(fd);
        if n < 0 {
            return None;
        }
        let text = &out[..n as usize];
        let line_end = text
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(text.len());
        let line = &text[..line_end];
        let start = line
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(line.len());
        let end = line
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |e| e + 1);
        out.copy_within(start..end, 0);
        Some(end - start)
    }
}

/// Consent is still given and the client id is still the handle's. Async-signal-safe.
fn consent_still_given(p: &Prepared) -> bool {
    let mut buf = [0u8; 128];
    if read_small(&p.consent_path, &mut buf) != Some(1) || buf[0] != b'1' {
        return false;
    }
    matches!(read_small(&p.cid_path, &mut buf), Some(n) if buf[..n] == p.client_id[..])
}

/// Formats the record. Async-signal-safe.
fn format_record(
    buf: &mut Buf<RECORD_BYTES>,
    p: &Prepared,
    index: usize,
    uctx: *mut c_void,
    now: u64,
) {
    buf.push(MAGIC.as_bytes());
    buf.push(b"\nsignal ");
    buf.push(SIGNAL_NAMES[index]);
    buf.push(b"\ntime ");
    buf.dec(now);
    buf.push(b"\n");
    buf.push(&p.fixed_lines);
    if let Some(note) = super::exception_note() {
        buf.push(b"exception ");
        buf.push(note);
        buf.push(b"\n");
    }
    let mut frames = Frames {
        ips: [0; MAX_FRAMES],
        exact: [false; MAX_FRAMES],
        len: 0,
    };
    unwind(&mut frames);
    // The frames of the handler itself end at the signal frame: the one whose pc is the
    // faulting pc (or, where the context is not read, the first the unwinder marks exact).
    let pc = context_pc(uctx);
    let first = (0..frames.len)
        .find(|&i| match pc {
            Some(pc) => frames.ips[i] == pc,
            None => frames.exact[i],
        })
        .or_else(|| (0..frames.len).find(|&i| frames.exact[i]))
        .unwrap_or(0);
    // SAFETY: MODULES is published and retired only as RUNNING allows (see retire).
    let modules = unsafe { MODULES.load(SeqCst).as_ref() };
    for i in (first..frames.len).take(MAX_RECORD_FRAMES) {
        // A return address points after the call: step back into it.
        let ip = if frames.exact[i] {
            frames.ips[i]
        } else {
            frames.ips[i].wrapping_sub(1)
        };
        buf.push(b"frame ");
        let found = find_late_module(ip).or_else(|| modules.and_then(|m| lookup(m, ip)));
        match found {
            Some(m) => {
                buf.push(&m.name[..m.name_len as usize]);
                buf.push(b"+0x");
                buf.hex(ip.wrapping_sub(m.bias) as u64);
                buf.push(b" ");
                if m.build_id_len == 0 {
                    buf.push(b"-");
                } else {
                    buf.hex_bytes(&m.build_id[..m.build_id_len as usize]);
                }
            }
            None => buf.push(b"? -"),
        }
        buf.push(b"\n");
    }
    buf.push(b"end\n");
}

/// Async-signal-safe (binary search over prepared data).
fn lookup(m: &Modules, ip: usize) -> Option<Module> {
    let i = m.ranges.partition_point(|r| r.start <= ip);
    let r = m.ranges.get(i.checked_sub(1)?)?;
    (ip < r.end).then(|| m.modules[r.module])
}

/// Writes the record; returns the length of its final path in `path` (0: nothing
/// written). Async-signal-safe.
fn write_record(
    p: &Prepared,
    buf: &Buf<RECORD_BYTES>,
    path: &mut [u8; PATH_BYTES],
    now: u64,
) -> usize {
    if p.debug {
        // SAFETY: write(2) to stderr from our buffer.
        unsafe { libc::write(2, buf.bytes.as_ptr() as *const c_void, buf.len) };
        return 0;
    }
    let mut name = Buf::<PATH_BYTES>::new();
    name.push(&p.record_prefix);
    // SAFETY: getpid has no preconditions.
    name.dec(unsafe { libc::getpid() } as u64);
    name.push(b".");
    name.dec(now / 1_000_000);
    name.push(b".");
    name.dec(now % 1_000_000);
    name.push(b".");
    name.hex(p.token as u64);
    let stem = name.len;
    for attempt in 0..8u64 {
        name.len = stem;
        if attempt > 0 {
            name.push(b"-");
            name.dec(attempt);
        }
        let base = name.len;
        name.push(PARTIAL_SUFFIX.as_bytes());
        name.push(b"\0");
        let tmp_len = name.len;
        let mut tmp = [0u8; PATH_BYTES];
        if tmp_len > tmp.len() {
            return 0;
        }
        tmp[..tmp_len].copy_from_slice(&name.bytes[..tmp_len]);
        // SAFETY: tmp is NUL-terminated; the flags create a new file or fail.
        let fd = unsafe {
            libc::open(
                tmp.as_ptr() as *const libc::c_char,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o600,
            )
        };
        if fd < 0 {
            // SAFETY: reading errno.
            if unsafe { *libc::__errno_location() } == libc::EEXIST {
                continue;
            }
            return 0;
        }
        let mut done = 0;
        while done < buf.len {
            // SAFETY: writing our buffer to our fd.
            let n = unsafe {
                libc::write(
                    fd,
                    buf.bytes[done..].as_ptr() as *const c_void,
                    buf.len - done,
                )
            };
            if n <= 0 {
                break;
            }
            done += n as usize;
        }
        // SAFETY: closing our fd.
        unsafe { libc::close(fd) };
        name.len = base;
        name.push(RECORD_SUFFIX.as_bytes());
        name.push(b"\0");
        if done < buf.len || name.len > path.len() {
            // SAFETY: unlinking the file we created.
            unsafe { libc::unlink(tmp.as_ptr() as *const libc::c_char) };
            return 0;
        }
        path[..name.len].copy_from_slice(&name.bytes[..name.len]);
        // SAFETY: both paths are NUL-terminated.
        if unsafe {
            libc::rename(
                tmp.as_ptr() as *const libc::c_char,
                path.as_ptr() as *const libc::c_char,
            )
        } != 0
        {
            unsafe { libc::unlink(tmp.as_ptr() as *const libc::c_char) };
            return 0;
        }
        return name.len;
    }
    0
}

fn now_micros() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime is async-signal-safe; ts is valid.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// The disposition that was there before ours.
fn previous(index: usize) -> libc::sigaction {
    // SAFETY: PREVIOUS[index] was written before our handler for it was installed.
    unsafe { (*PREVIOUS.0.get())[index].assume_init() }
}

fn is_kernel_fault(info: *const libc::siginfo_t) -> bool {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    !info.is_null() && unsafe { (*info).si_code } > 0
}

fn handler_address() -> usize {
    on_signal as *const () as usize
}

extern "C" fn on_signal(sig: c_int, info: *mut libc::siginfo_t, uctx: *mut c_void) {
    let Some(index) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    // The interrupted code's errno survives us (a previous handler may let it go on).
    // SAFETY: __errno_location is this thread's errno, always valid.
    let saved_errno = unsafe { *libc::__errno_location() };
    let prev = previous(index);
    let ignored = prev.sa_sigaction == libc::SIG_IGN;
    // A signal sent to a process that ignores it is not a crash (abort() kills anyway).
    let dies = !(ignored && !is_kernel_fault(info) && sig != libc::SIGABRT);
    let mut path = [0u8; PATH_BYTES];
    let mut path_len = 0;
    // Re-entry guard: a fault while this thread records a crash goes straight to the
    // hand-on. A crash on another thread at the same moment waits (bounded) for the
    // first record to be complete, records nothing itself, and hands on.
    // SAFETY: gettid is a plain system call.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
    let mut owner = false;
    let here = 0u8;
    let sp = &here as *const u8 as usize;
    if dies {
        match BUSY.compare_exchange(0, tid, SeqCst, SeqCst) {
            Ok(_) => owner = true,
            // This thread is in our handler already: a nested entry runs deeper on the
            // same stack. One at the same depth or above means the earlier entry never
            // returned (a previous handler jumped out with siglongjmp): take over.
            Err(other) if other == tid => owner = sp.saturating_add(256) >= BUSY_SP.load(SeqCst),
            Err(_) => wait_for_other(),
        }
    }
    if owner {
        BUSY_SP.store(sp, SeqCst);
    }
    if owner && enough_stack() {
        RUNNING.fetch_add(1, SeqCst);
        // SAFETY: see retire(): while RUNNING > 0 a published pointer is not freed.
        if let Some(p) = unsafe { PREPARED.load(SeqCst).as_ref() } {
            if p.debug || consent_still_given(p) {
                let now = now_micros();
                let mut buf = Buf::<RECORD_BYTES>::new();
                format_record(&mut buf, p, index, uctx, now);
                path_len = write_record(p, &buf, &mut path, now);
            }
        }
        RUNNING.fetch_sub(1, SeqCst);
    }
    let returned = hand_on(sig, &prev, info, uctx);
    if returned && path_len > 0 && sig != libc::SIGABRT && goes_on(sig) {
        // The previous handler dealt with it (a runtime that uses faults on purpose) and
        // the process goes on: not a crash after all.
        // SAFETY: path is NUL-terminated.
        unsafe { libc::unlink(path.as_ptr() as *const libc::c_char) };
    }
    if owner {
        BUSY.store(0, SeqCst);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_finds_this_function_and_libc() {
        let m = snapshot();
        let here = lookup(
            &m,
            the_snapshot_finds_this_function_and_libc as *const () as usize,
        )
        .unwrap();
        let name = std::str::from_utf8(&here.name[..here.name_len as usize]).unwrap();
        assert!(name.starts_with("openvino_telemetry-"), "{name}");
        assert!(here.build_id_len >= 16, "rustc links with a build id");
        let libc_fn = lookup(&m, libc::getpid as *const () as usize).unwrap();
        let name = std::str::from_utf8(&libc_fn.name[..libc_fn.name_len as usize]).unwrap();
        assert!(name.starts_with("libc.so"), "{name}");
        let late = find_late_module(libc::getpid as *const () as usize);
        resolve_dl_find_object();
        let late = find_late_module(libc::getpid as *const () as usize)
            .or(late)
            .unwrap();
        assert_eq!(late.bias, libc_fn.bias);
        assert_eq!(
            late.name[..late.name_len as usize],
            libc_fn.name[..libc_fn.name_len as usize]
        );
        assert_eq!(
            late.build_id[..late.build_id_len as usize],
            libc_fn.build_id[..libc_fn.build_id_len as usize]
        );
    }

    #[test]
    fn base_names_never_carry_a_path() {
        assert_eq!(base_name(b"/home/u/bin/tool"), b"tool");
        assert_eq!(base_name(b"/tmp/x (deleted)"), b"x");
        assert_eq!(base_name(b""), b"?");
        let m = module(0, b"a b\nc", b"");
        assert_eq!(&m.name[..m.name_len as usize], b"a_b_c");
    }
}
