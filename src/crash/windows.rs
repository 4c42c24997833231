//! The unhandled-exception filter (Windows). Same record as on Linux; the "signal" is the
//! exception's name (`EXCEPTION_ACCESS_VIOLATION`, …). The filter runs on the faulting
//! thread after every frame-based handler declined the exception; it uses no heap and no
//! lock: only data prepared at init, `CreateFileW`/`WriteFile`/`MoveFileExW`,
//! `RtlCaptureStackBackTrace` and `GetModuleHandleExW`/`GetModuleFileNameW` (which take the
//! loader lock: the residual risk of any in-process reporter on Windows). It then returns
//! what the previous filter returns, or `EXCEPTION_CONTINUE_SEARCH`, so Windows Error
//! Reporting and the exit code are unchanged.
//!
//! Frames are `module+0xRVA` (address minus the module's load address); the build id is
//! the CodeView (RSDS) PDB signature and age when the image has one.
//!
//! Not tested on Windows yet (it compiles for x86_64-pc-windows-gnu): the Wine crash test
//! comes with the Wine test infrastructure. A stack overflow is not recorded reliably:
//! the filter runs on the exhausted stack.

use std::ffi::c_void;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;

use super::{Config, PARTIAL_SUFFIX, RECORD_PREFIX, RECORD_SUFFIX};

type Filter = unsafe extern "system" fn(*const ExceptionPointers) -> i32;

#[repr(C)]
struct ExceptionRecord {
    code: u32,
    flags: u32,
    record: *mut ExceptionRecord,
    address: *mut c_void,
    number_parameters: u32,
    information: [usize; 15],
}

#[repr(C)]
struct ExceptionPointers {
    record: *const ExceptionRecord,
    context: *mut c_void,
}

const EXCEPTION_CONTINUE_SEARCH: i32 = 0;
const GENERIC_READ: u32 = 0x8000_0000;
const GENERIC_WRITE: u32 = 0x4000_0000;
const FILE_SHARE_READ: u32 = 1;
const CREATE_NEW: u32 = 1;
const OPEN_EXISTING: u32 = 3;
const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
const INVALID_HANDLE: isize = -1;
const MOVEFILE_REPLACE_EXISTING: u32 = 1;
const FROM_ADDRESS: u32 = 4;
const UNCHANGED_REFCOUNT: u32 = 2;

#[link(name = "kernel32")]
extern "system" {
    fn SetUnhandledExceptionFilter(filter: Option<Filter>) -> Option<Filter>;
    fn RtlCaptureStackBackTrace(skip: u32, n: u32, out: *mut *mut c_void, hash: *mut u32) -> u16;
    fn GetModuleHandleExW(flags: u32, address: *const u16, module: *mut isize) -> i32;
    fn GetModuleFileNameW(module: isize, name: *mut u16, size: u32) -> u32;
    fn CreateFileW(
        name: *const u16,
        access: u32,
        share: u32,
        security: *mut c_void,
        disposition: u32,
        flags: u32,
        template: isize,
    ) -> isize;
    fn ReadFile(file: isize, buf: *mut u8, n: u32, read: *mut u32, overlapped: *mut c_void) -> i32;
    fn WriteFile(
        file: isize,
        buf: *const u8,
        n: u32,
        done: *mut u32,
        overlapped: *mut c_void,
    ) -> i32;
    fn CloseHandle(h: isize) -> i32;
    fn MoveFileExW(from: *const u16, to: *const u16, flags: u32) -> i32;
    fn DeleteFileW(name: *const u16) -> i32;
    fn GetSystemTimeAsFileTime(out: *mut u64);
    fn GetCurrentProcessId() -> u32;
    fn GetStdHandle(which: u32) -> isize;
}

const STD_ERROR_HANDLE: u32 = -12i32 as u32;

struct Prepared {
    consent_path: Vec<u16>,
    cid_path: Vec<u16>,
    client_id: Vec<u8>,
    /// `<dir>\openvino_telemetry_crash.` (UTF-16, no NUL)
    record_prefix: Vec<u16>,
    fixed_lines: Vec<u8>,
    debug: bool,
    token: u32,
}

static PREPARED: AtomicPtr<Prepared> = AtomicPtr::new(ptr::null_mut());
static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
static BUSY: AtomicBool = AtomicBool::new(false);
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static INSTALLS: Mutex<usize> = Mutex::new(0);

pub struct Installed;

fn wide(path: &std::path::Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

pub fn install(config: &Config) -> io::Result<Installed> {
    let mut installs = INSTALLS.lock().unwrap_or_else(|e| e.into_inner());
    if *installs == 0 {
        let dir = std::path::absolute(&config.dir)?;
        let mut record_prefix: Vec<u16> = dir.as_os_str().encode_wide().collect();
        record_prefix.push(b'\\' as u16);
        record_prefix.extend(RECORD_PREFIX.encode_utf16());
        if record_prefix.len() > 1000 {
            return Err(io::Error::other("the config directory path is too long"));
        }
        let prepared = Box::new(Prepared {
            consent_path: wide(&dir.join(crate::consent::CONSENT_FILE)),
            cid_path: wide(&dir.join(crate::identity::CLIENT_ID_FILE)),
            client_id: config.client_id.as_bytes().to_vec(),
            record_prefix,
            fixed_lines: super::fixed_lines(config),
            debug: config.debug,
            token: crate::files::random_u32(),
        });
        let old = PREPARED.swap(Box::into_raw(prepared), SeqCst);
        retire(old);
        // SAFETY: installing our filter; the previous one is kept to hand on to.
        let previous = unsafe { SetUnhandledExceptionFilter(Some(filter)) };
        PREVIOUS.store(previous.map_or(0, |f| f as usize), SeqCst);
    }
    *installs += 1;
    Ok(Installed)
}

pub fn uninstall(_: Installed) {
    let mut installs = INSTALLS.lock().unwrap_or_else(|e| e.into_inner());
    *installs = installs.saturating_sub(1);
    if *installs > 0 {
        return;
    }
    let previous = PREVIOUS.load(SeqCst);
    // SAFETY: PREVIOUS holds a filter function pointer or 0.
    let previous: Option<Filter> =
        (previous != 0).then(|| unsafe { std::mem::transmute::<usize, Filter>(previous) });
    // SAFETY: swapping filters; a filter installed after ours is put back at once.
    unsafe {
        let current = SetUnhandledExceptionFilter(previous);
        if current.map(|f| f as usize) != Some(filter as Filter as usize) {
            SetUnhandledExceptionFilter(current);
        }
    }
    retire(PREPARED.swap(ptr::null_mut(), SeqCst));
}

fn retire(old: *mut Prepared) {
    if !old.is_null() && RUNNING.load(SeqCst) == 0 {
        // SAFETY: from Box::into_raw, no longer published.
        drop(unsafe { Box::from_raw(old) });
    }
}

fn exception_name(code: u32, out: &mut Buf<48>) {
    let name: &[u8] = match code {
        0xC000_0005 => b"EXCEPTION_ACCESS_VIOLATION",
        0xC000_0006 => b"EXCEPTION_IN_PAGE_ERROR",
        0xC000_001D => b"EXCEPTION_ILLEGAL_INSTRUCTION",
        0xC000_0094 => b"EXCEPTION_INT_DIVIDE_BY_ZERO",
        0xC000_0095 => b"EXCEPTION_INT_OVERFLOW",
        0xC000_0096 => b"EXCEPTION_PRIV_INSTRUCTION",
        0xC000_00FD => b"EXCEPTION_STACK_OVERFLOW",
        0xC000_008C => b"EXCEPTION_ARRAY_BOUNDS_EXCEEDED",
        0xC000_0409 => b"STATUS_STACK_BUFFER_OVERRUN",
        0x8000_0003 => b"EXCEPTION_BREAKPOINT",
        0xE06D_7363 => b"CPP_EXCEPTION",
        _ => {
            out.push(b"EXCEPTION_0x");
            out.hex(code as u64);
            return;
        }
    };
    out.push(name);
}

use super::buf::{self, Buf};

/// Bytes of one record.
const RECORD: usize = 6144;

/// The first line of a small file, trimmed, into `out`; its length. Plain file calls.
fn read_first_line(path: &[u16], out: &mut [u8; 128]) -> Option<usize> {
    // SAFETY: plain file calls with a NUL-terminated path and our buffer.
    unsafe {
        let h = CreateFileW(
            path.as_ptr(),
            GENERIC_READ,
            FILE_SHARE_READ | 2 | 4,
            ptr::null_mut(),
            OPEN_EXISTING,
            FILE_ATTRIBUTE_NORMAL,
            0,
        );
        if h == INVALID_HANDLE {
            return None;
        }
        let mut n = 0u32;
        let ok = ReadFile(
            h,
            out.as_mut_ptr(),
            out.len() as u32,
            &mut n,
            ptr::null_mut(),
        );
        CloseHandle(h);
        if ok == 0 {
            return None;
        }
        Some(buf::first_line_trimmed(out, n as usize))
    }
}

fn consent_still_given(p: &Prepared) -> bool {
    buf::consent_still_given(
        read_first_line,
        p.consent_path.as_slice(),
        p.cid_path.as_slice(),
        &p.client_id,
    )
}

/// The CodeView PDB signature (GUID and age, hex) of the image at `base`, if any.
///
/// # Safety
/// `base` must be the load address of a mapped PE image.
unsafe fn codeview_id(base: usize, out: &mut Buf<RECORD>) -> bool {
    let read32 = |at: usize| ptr::read_unaligned(at as *const u32) as usize;
    let read16 = |at: usize| ptr::read_unaligned(at as *const u16) as usize;
    if read16(base) != 0x5A4D {
        return false;
    }
    let nt = base + read32(base + 0x3C);
    if read32(nt) != 0x4550 {
        return false;
    }
    let optional = nt + 24;
    let data_dirs = match read16(optional) {
        0x20B => optional + 112,
        0x10B => optional + 96,
        _ => return false,
    };
    let (rva, size) = (read32(data_dirs + 6 * 8), read32(data_dirs + 6 * 8 + 4));
    for i in 0..(size / 28).min(16) {
        let entry = base + rva + i * 28;
        if read32(entry + 12) == 2 && read32(entry + 16) >= 24 {
            let cv = base + read32(entry + 20);
            if read32(cv) == 0x5344_5352 {
                out.hex_bytes(std::slice::from_raw_parts((cv + 4) as *const u8, 20));
                return true;
            }
        }
    }
    false
}

unsafe fn frame(buf: &mut Buf<RECORD>, ip: usize) {
    buf.push(b"frame ");
    let mut module: isize = 0;
    if GetModuleHandleExW(
        FROM_ADDRESS | UNCHANGED_REFCOUNT,
        ip as *const u16,
        &mut module,
    ) == 0
    {
        buf.push(b"? -\n");
        return;
    }
    let mut name = [0u16; 512];
    let n = GetModuleFileNameW(module, name.as_mut_ptr(), name.len() as u32) as usize;
    let path = &name[..n.min(name.len())];
    let start = path
        .iter()
        .rposition(|&c| c == b'\\' as u16 || c == b'/' as u16)
        .map_or(0, |i| i + 1);
    let base_name = &path[start..];
    if base_name.is_empty() {
        buf.push(b"?");
    }
    for &c in base_name.iter().take(64) {
        let b = if (0x21..0x7f).contains(&c) {
            c as u8
        } else {
            b'_'
        };
        buf.push(&[b]);
    }
    buf.push(b"+0x");
    buf.hex(ip.wrapping_sub(module as usize) as u64);
    buf.push(b" ");
    if !codeview_id(module as usize, buf) {
        buf.push(b"-");
    }
    buf.push(b"\n");
}

/// Writes the record of the exception at `pointers` (to stderr in debug mode).
///
/// # Safety
/// `pointers` and its exception record are valid (the filter's arguments).
unsafe fn record(p: &Prepared, pointers: *const ExceptionPointers) {
    let mut ft = 0u64;
    GetSystemTimeAsFileTime(&mut ft);
    let now = (ft / 10).saturating_sub(11_644_473_600_000_000);
    let buf = format_record(p, pointers, now);
    if p.debug {
        write_to_stderr(&buf);
    } else {
        write_record_file(p, &buf, now);
    }
}

/// The record's text: the head, the frames from the faulting one on, `end`.
///
/// # Safety
/// As for [`record`].
unsafe fn format_record(p: &Prepared, pointers: *const ExceptionPointers, now: u64) -> Buf<RECORD> {
    let mut buf = Buf::<RECORD>::new();
    let rec = (*pointers).record;
    let mut signal = Buf::<48>::new();
    exception_name((*rec).code, &mut signal);
    buf.push_head(&signal.bytes[..signal.len], now, &p.fixed_lines);
    let mut ips = [ptr::null_mut::<c_void>(); 62];
    let captured = RtlCaptureStackBackTrace(0, ips.len() as u32, ips.as_mut_ptr(), ptr::null_mut());
    let n = ips[..(captured as usize).min(ips.len())]
        .iter()
        .position(|ip| ip.is_null())
        .unwrap_or((captured as usize).min(ips.len())) as u16;
    let fault = (*rec).address as usize;
    let first = ips[..n as usize]
        .iter()
        .position(|&ip| ip as usize == fault)
        .or_else(|| {
            ips[..n as usize]
                .iter()
                .position(|&ip| (ip as usize).wrapping_sub(fault) < 16)
        });
    if first.is_none() {
        // The faulting frame was not on the captured stack: at least name it.
        frame(&mut buf, fault);
    }
    for (i, &ip) in ips[..n as usize]
        .iter()
        .enumerate()
        .skip(first.unwrap_or(n as usize))
        .take(32)
    {
        let ip = ip as usize;
        frame(
            &mut buf,
            if Some(i) == first {
                ip
            } else {
                ip.wrapping_sub(1)
            },
        );
    }
    buf.push(b"end\n");
    buf
}

/// Debug mode: the record goes to stderr, no file is written.
unsafe fn write_to_stderr(buf: &Buf<RECORD>) {
    let err = GetStdHandle(STD_ERROR_HANDLE);
    let mut done = 0u32;
    if err != 0 && err != INVALID_HANDLE {
        WriteFile(
            err,
            buf.bytes.as_ptr(),
            buf.len as u32,
            &mut done,
            ptr::null_mut(),
        );
    }
}

/// Writes the record under its `.tmp` name, then renames it to its `.rec` name.
unsafe fn write_record_file(p: &Prepared, buf: &Buf<RECORD>, now: u64) {
    let mut name = [0u16; 1200];
    let mut len = p.record_prefix.len();
    name[..len].copy_from_slice(&p.record_prefix);
    let mut tail = Buf::<64>::new();
    tail.push_record_stem(GetCurrentProcessId() as u64, now, p.token);
    for &b in &tail.bytes[..tail.len] {
        name[len] = b as u16;
        len += 1;
    }
    let base = len;
    let mut tmp = name;
    for (i, c) in PARTIAL_SUFFIX.encode_utf16().enumerate() {
        tmp[base + i] = c;
    }
    tmp[base + PARTIAL_SUFFIX.len()] = 0;
    for (i, c) in RECORD_SUFFIX.encode_utf16().enumerate() {
        name[base + i] = c;
    }
    name[base + RECORD_SUFFIX.len()] = 0;
    let h = CreateFileW(
        tmp.as_ptr(),
        GENERIC_WRITE,
        0,
        ptr::null_mut(),
        CREATE_NEW,
        FILE_ATTRIBUTE_NORMAL,
        0,
    );
    if h == INVALID_HANDLE {
        return;
    }
    let mut done = 0u32;
    let ok = WriteFile(
        h,
        buf.bytes.as_ptr(),
        buf.len as u32,
        &mut done,
        ptr::null_mut(),
    );
    CloseHandle(h);
    if ok == 0
        || done as usize != buf.len
        || MoveFileExW(tmp.as_ptr(), name.as_ptr(), MOVEFILE_REPLACE_EXISTING) == 0
    {
        DeleteFileW(tmp.as_ptr());
    }
}

unsafe extern "system" fn filter(pointers: *const ExceptionPointers) -> i32 {
    // Re-entry guard: an exception inside the filter (or a second thread crashing at the
    // same moment) goes straight to the hand-on.
    if !pointers.is_null() && !(*pointers).record.is_null() && !BUSY.swap(true, SeqCst) {
        RUNNING.fetch_add(1, SeqCst);
        if let Some(p) = PREPARED.load(SeqCst).as_ref() {
            if p.debug || consent_still_given(p) {
                record(p, pointers);
            }
        }
        RUNNING.fetch_sub(1, SeqCst);
        BUSY.store(false, SeqCst);
    }
    let previous = PREVIOUS.load(SeqCst);
    if previous != 0 {
        let f: Filter = std::mem::transmute::<usize, Filter>(previous);
        return f(pointers);
    }
    EXCEPTION_CONTINUE_SEARCH
}
