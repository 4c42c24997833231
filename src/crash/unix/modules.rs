//! Naming the module of a frame: base name, offset, GNU build id. In the handler,
//! `_dl_find_object` (glibc ≥ 2.35) or, without it, the snapshot taken at init.

use std::ffi::{c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

use super::publish;

const MAX_NAME: usize = 64;
const MAX_BUILD_ID: usize = 32;

#[derive(Clone, Copy)]
pub(super) struct Module {
    pub(super) bias: usize,
    name: [u8; MAX_NAME],
    name_len: u8,
    build_id: [u8; MAX_BUILD_ID],
    build_id_len: u8,
}

impl Module {
    /// The base name, printable, without blanks. Async-signal-safe.
    pub(super) fn name(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }

    /// The GNU build id (empty when the module has none). Async-signal-safe.
    pub(super) fn build_id(&self) -> &[u8] {
        &self.build_id[..self.build_id_len as usize]
    }
}

#[derive(Clone, Copy)]
struct Range {
    start: usize,
    end: usize,
    module: usize,
}

pub(super) struct Modules {
    modules: Vec<Module>,
    /// Sorted by `start`, not overlapping.
    ranges: Vec<Range>,
    adds: u64,
    subs: u64,
}

pub(super) static MODULES: AtomicPtr<Modules> = AtomicPtr::new(ptr::null_mut());
pub(super) static DL_FIND_OBJECT: AtomicUsize = AtomicUsize::new(0);
/// The main program's base name (the loader names it ""), set once, never freed.
static MAIN_NAME: AtomicPtr<Vec<u8>> = AtomicPtr::new(ptr::null_mut());

// ---- the module snapshot ----

pub(super) fn refresh_modules() {
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

pub(super) fn remember_main_name() {
    let name = Box::new(base_name(&main_path()).to_vec());
    MAIN_NAME.store(Box::into_raw(name), SeqCst);
}

/// Async-signal-safe.
fn main_name() -> &'static [u8] {
    // SAFETY: set once before any handler is installed, never freed.
    unsafe { MAIN_NAME.load(SeqCst).as_ref() }.map_or(b"?", |v| v.as_slice())
}

pub(super) fn resolve_dl_find_object() {
    // SAFETY: dlsym with a NUL-terminated name; the result is only stored.
    let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"_dl_find_object".as_ptr()) };
    DL_FIND_OBJECT.store(f as usize, SeqCst);
}

/// The module holding `pc`, found in the loader's own tables. Async-signal-safe.
pub(super) fn find_late_module(pc: usize) -> Option<Module> {
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

/// Async-signal-safe (binary search over prepared data).
pub(super) fn lookup(m: &Modules, ip: usize) -> Option<Module> {
    let i = m.ranges.partition_point(|r| r.start <= ip);
    let r = m.ranges.get(i.checked_sub(1)?)?;
    (ip < r.end).then(|| m.modules[r.module])
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
