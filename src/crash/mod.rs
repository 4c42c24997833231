//! Crash capture (DESIGN §5a): fatal-signal handlers (Windows: the unhandled-exception
//! filter) that write one small record per crash into the config directory, and the next
//! init's delivery of those records as `crash` events.
//!
//! Nothing else in the library runs in a signal handler. The handler lives in `unix/`
//! (Linux) and `windows.rs`, with `buf.rs`, what both share. What runs in ordinary context:
//! this file (the record format, installing, the C++ exception note), `report.rs` (reading
//! a record back and the event it becomes) and `claim.rs` (claiming, releasing and deleting
//! the record files). Every function that touches files takes the config directory, so the
//! lot can move behind the shared-directory store unchanged.
//!
//! # The record file
//!
//! `<config dir>/openvino_telemetry_crash.<pid>.<seconds>.<microseconds>.<token>.rec`,
//! written by the handler under a `.tmp` name (created with `O_CREAT|O_EXCL`, mode `0600`)
//! and renamed when complete, so a reader never sees half a record. Text, one field a line:
//!
//! ```text
//! openvino_telemetry_crash 1
//! signal SIGSEGV
//! time 1764570000123456
//! app benchmark_app
//! version 2025.2.0
//! cid 3f0c…                       (the client id the crashed run sent under; never sent)
//! exception std::runtime_error    (only after the C++ terminate handler saw one)
//! frame crasher+0x1139 9a4c…      (module base name + offset, then the GNU build id or -)
//! end
//! ```
//!
//! Nothing else is recorded: no memory contents, registers, arguments, environment or
//! paths (module names are base names).
//!
//! The next init with consent claims each record by renaming it to
//! `<record>.<pid>.claimed`, queues its event ahead of everything else (in the sender's
//! backlog, with the spool's events) and deletes the claim once the event was delivered or
//! kept in the spool. A claim whose process is gone is taken over by the next init.

use std::sync::atomic::{AtomicU8, Ordering::SeqCst};

use crate::event;

mod claim;
mod report;

pub use claim::{claim_records, discard_records, pending_records, read_records, release};
pub use report::{record_event, Record};

/// cbindgen:ignore
#[cfg(any(all(target_os = "linux", target_pointer_width = "64"), windows))]
mod buf;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod unix;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
use unix as platform;

/// cbindgen:ignore
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

#[cfg(not(any(all(target_os = "linux", target_pointer_width = "64"), windows)))]
mod platform {
    //! No crash capture on this platform yet: install succeeds and does nothing.
    pub struct Installed;
    pub fn install(_: &super::Config) -> std::io::Result<Installed> {
        Ok(Installed)
    }
    pub fn uninstall(_: Installed) {}
}

/// First part of every record file name.
pub const RECORD_PREFIX: &str = "openvino_telemetry_crash.";
/// A complete record.
pub const RECORD_SUFFIX: &str = ".rec";
/// A record being written (left behind only if the handler itself died).
pub const PARTIAL_SUFFIX: &str = ".tmp";
/// The first line of a record.
pub const MAGIC: &str = "openvino_telemetry_crash 1";
/// Records read at one init (the newest); the rest are deleted unsent, so a tool that
/// crashes in a loop cannot spend the event budget.
pub const MAX_RECORDS_PER_INIT: usize = 10;
/// Largest record read back.
const MAX_RECORD_BYTES: usize = 16 * 1024;
/// Records older than this are deleted unsent: GA4 refuses events older than 72 hours.
pub const MAX_AGE_MICROS: u64 = 72 * 3600 * 1_000_000;
/// The event name of a crash report.
pub const EVENT_NAME: &str = "crash";

/// What the handler needs, prepared at init. (Where no handler exists, only the app name
/// and version and the client id are read.)
#[derive(Clone, Debug)]
#[cfg_attr(
    not(any(all(target_os = "linux", target_pointer_width = "64"), windows)),
    allow(dead_code)
)]
pub struct Config {
    /// The config directory the records are written to.
    pub dir: std::path::PathBuf,
    pub app_name: String,
    pub app_version: String,
    /// The handle's client id: a record is written only while the directory still holds it
    /// (and the decision still says `1`).
    pub client_id: String,
    /// `OPENVINO_TELEMETRY_DEBUG`: the record goes to stderr instead of a file.
    pub debug: bool,
}

/// Handlers installed for one handle. Dropping it releases them: when the last
/// installation of the process goes, the handlers that are still ours are replaced by what
/// was there before.
pub struct Installation {
    inner: Option<platform::Installed>,
}

impl Drop for Installation {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            platform::uninstall(inner);
        }
    }
}

impl std::fmt::Debug for Installation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("crash::Installation")
    }
}

/// The record's lines known at init, the same on every platform: `app`, `version` and
/// `cid`, each one line (control characters become spaces) of at most 100 characters.
#[cfg_attr(
    not(any(all(target_os = "linux", target_pointer_width = "64"), windows)),
    allow(dead_code)
)]
fn fixed_lines(config: &Config) -> Vec<u8> {
    let mut lines = Vec::new();
    for (key, value) in [
        ("app", &config.app_name),
        ("version", &config.app_version),
        ("cid", &config.client_id),
    ] {
        lines.extend_from_slice(key.as_bytes());
        lines.push(b' ');
        lines.extend(event::normalise_value(value).into_bytes());
        lines.push(b'\n');
    }
    lines
}

/// Installs the handlers (or, when another handle already did, shares them).
pub fn install(config: &Config) -> std::io::Result<Installation> {
    Ok(Installation {
        inner: Some(platform::install(config)?),
    })
}

/// Notes the type name of an exception that is about to terminate the process (the C++
/// wrapper's terminate handler calls this); the crash record written next carries it.
/// At most 127 bytes are kept.
pub fn set_exception(type_name: &str) {
    if EXCEPTION_STATE
        .compare_exchange(0, 1, SeqCst, SeqCst)
        .or_else(|_| EXCEPTION_STATE.compare_exchange(2, 1, SeqCst, SeqCst))
        .is_err()
    {
        return; // another thread is writing a note right now
    }
    // SAFETY: state 1 gives this thread exclusive access.
    let note = unsafe { &mut *EXCEPTION.0.get() };
    let mut n = 0;
    for &b in type_name.as_bytes().iter().take(note.0.len()) {
        // One field of a one-line record: printable ASCII only.
        note.0[n] = if (0x20..0x7f).contains(&b) { b } else { b'_' };
        n += 1;
    }
    note.1 = n;
    EXCEPTION_STATE.store(2, SeqCst);
}

/// The C++ exception note: 0 empty, 1 being written, 2 ready.
static EXCEPTION_STATE: AtomicU8 = AtomicU8::new(0);
struct ExceptionNote(std::cell::UnsafeCell<([u8; 127], usize)>);
// SAFETY: access is serialised by EXCEPTION_STATE.
unsafe impl Sync for ExceptionNote {}
static EXCEPTION: ExceptionNote = ExceptionNote(std::cell::UnsafeCell::new(([0; 127], 0)));

/// The exception note, if one is complete. Async-signal-safe (a load and a borrow).
#[cfg_attr(not(any(target_os = "linux", windows)), allow(dead_code))]
fn exception_note() -> Option<&'static [u8]> {
    if EXCEPTION_STATE.load(SeqCst) != 2 {
        return None;
    }
    // SAFETY: state 2: the note is complete and only rewritten after a CAS to 1 by
    // set_exception, which a crashing process does not do again.
    let note = unsafe { &*EXCEPTION.0.get() };
    Some(&note.0[..note.1])
}
