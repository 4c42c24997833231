//! The record, formatted and written from the signal handler: a fixed buffer, then
//! `open(O_CREAT|O_EXCL)`, `write`, `close`, `rename` (all async-signal-safe).

use std::ffi::c_void;
use std::sync::atomic::Ordering::SeqCst;

use super::super::buf::Buf;
use super::super::{PARTIAL_SUFFIX, RECORD_SUFFIX};
use super::modules::{find_late_module, lookup, Modules, MODULES};
use super::unwind::{context_pc, unwind, Frames};
use super::{Prepared, PATH_BYTES, SIGNAL_NAMES};

/// Frames written to the record (the event has room for 15).
const MAX_RECORD_FRAMES: usize = 20;
/// The record buffer: the fixed lines (≤ 3 × 110), the exception note (≤ 140) and
/// MAX_RECORD_FRAMES frames of at most 6 + 64 + 19 + 1 + 64 + 1 bytes.
pub(super) const RECORD_BYTES: usize = 4096;

/// Formats the record. Async-signal-safe.
pub(super) fn format_record(
    buf: &mut Buf<RECORD_BYTES>,
    p: &Prepared,
    index: usize,
    uctx: *mut c_void,
    now: u64,
) {
    buf.push_head(SIGNAL_NAMES[index], now, &p.fixed_lines);
    let mut frames = Frames::new();
    // SAFETY (async-signal-safety): libgcc's unwinder, warmed up at init (see `unwind`).
    unwind(&mut frames);
    // SAFETY: MODULES is published and retired only as RUNNING allows (see retire).
    let modules = unsafe { MODULES.load(SeqCst).as_ref() };
    for i in (first_crashed_frame(&frames, uctx)..frames.len).take(MAX_RECORD_FRAMES) {
        // A return address points after the call: step back into it.
        let ip = if frames.exact[i] {
            frames.ips[i]
        } else {
            frames.ips[i].wrapping_sub(1)
        };
        push_frame(buf, ip, modules);
    }
    buf.push(b"end\n");
}

/// The frames of the handler itself end at the signal frame: the one whose pc is the
/// faulting pc (or, where the context is not read, the first the unwinder marks exact).
/// Async-signal-safe (reads of the frames and the signal context).
fn first_crashed_frame(frames: &Frames, uctx: *mut c_void) -> usize {
    let pc = context_pc(uctx);
    (0..frames.len)
        .find(|&i| match pc {
            Some(pc) => frames.ips[i] == pc,
            None => frames.exact[i],
        })
        .or_else(|| (0..frames.len).find(|&i| frames.exact[i]))
        .unwrap_or(0)
}

/// `frame <module>+0x<offset> <build id or ->`, or `frame ? -` when no module holds `ip`.
/// Async-signal-safe (`_dl_find_object` or a search of the snapshot; copies).
fn push_frame(buf: &mut Buf<RECORD_BYTES>, ip: usize, modules: Option<&Modules>) {
    buf.push(b"frame ");
    match find_late_module(ip).or_else(|| modules.and_then(|m| lookup(m, ip))) {
        Some(m) => {
            buf.push(m.name());
            buf.push(b"+0x");
            buf.hex(ip.wrapping_sub(m.bias) as u64);
            buf.push(b" ");
            if m.build_id().is_empty() {
                buf.push(b"-");
            } else {
                buf.hex_bytes(m.build_id());
            }
        }
        None => buf.push(b"? -"),
    }
    buf.push(b"\n");
}

/// Writes the record; returns the length of its final path in `path` (0: nothing
/// written). Async-signal-safe.
pub(super) fn write_record(
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
    // SAFETY: getpid (async-signal-safe) has no preconditions.
    name.push_record_stem(unsafe { libc::getpid() } as u64, now, p.token);
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
