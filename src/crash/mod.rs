//! Crash capture (DESIGN §5a): fatal-signal handlers (Windows: the unhandled-exception
//! filter) that write one small record per crash into the config directory, and the next
//! init's delivery of those records as `crash` events.
//!
//! Nothing else in the library runs in a signal handler. The handler lives in `unix.rs`
//! (Linux) and `windows.rs`; this file holds what runs in ordinary context: the record
//! format, reading records back, turning them into events, and deleting them. Every
//! function that touches files takes the config directory, so the lot can move behind the
//! shared-directory store unchanged.
//!
//! # The record file
//!
//! `<config dir>/openvino_telemetry_crash.<pid>.<seconds>.<nanoseconds>.<token>.rec`,
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

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
use std::sync::Arc;

use crate::event::{self, Event, Extra, COMMON_PARAMS, MAX_PARAMS_PER_EVENT};

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

/// What the handler needs, prepared at init.
#[derive(Clone, Debug)]
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

/// What a file of ours in the config directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A complete record, waiting.
    Complete,
    /// A record claimed by an init (`<record>.<pid>.claimed`) until its event is resolved.
    Claimed,
    /// Being written by a handler (or left by one that died).
    Partial,
}

const CLAIM_SUFFIX: &str = ".claimed";

fn record_files(dir: &Path) -> Vec<(String, Kind)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.strip_prefix(RECORD_PREFIX)?;
            let kind = if rest.ends_with(RECORD_SUFFIX) {
                Kind::Complete
            } else if rest.ends_with(CLAIM_SUFFIX) {
                Kind::Claimed
            } else if rest.ends_with(PARTIAL_SUFFIX) {
                Kind::Partial
            } else {
                return None;
            };
            Some((name, kind))
        })
        .collect()
}

/// How many crash records wait in `dir` to be reported (including those an init has
/// claimed and not yet delivered).
pub fn pending_records(dir: &Path) -> usize {
    record_files(dir)
        .iter()
        .filter(|(_, kind)| *kind != Kind::Partial)
        .count()
}

/// Deletes every crash record in `dir`, sent or not (opt-out, init without consent).
/// Returns how many files were deleted.
pub fn discard_records(dir: &Path) -> usize {
    record_files(dir)
        .into_iter()
        .filter(|(name, _)| fs::remove_file(dir.join(name)).is_ok())
        .count()
}

/// One crash, as read back from its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub signal: String,
    pub time_micros: u64,
    pub app_name: String,
    pub app_version: String,
    pub client_id: String,
    pub exception: Option<String>,
    /// `(module+0xoffset, build id or None)`, innermost first.
    pub frames: Vec<(String, Option<String>)>,
}

/// Parses a record; `None` unless it is complete (magic line first, `end` last).
pub fn parse_record(text: &str) -> Option<Record> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut record = Record {
        signal: String::new(),
        time_micros: 0,
        app_name: String::new(),
        app_version: String::new(),
        client_id: String::new(),
        exception: None,
        frames: Vec::new(),
    };
    let mut ended = false;
    for line in lines {
        if ended {
            return None;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "signal" => record.signal = value.to_owned(),
            "time" => record.time_micros = value.parse().ok()?,
            "app" => record.app_name = value.to_owned(),
            "version" => record.app_version = value.to_owned(),
            "cid" => record.client_id = value.to_owned(),
            "exception" => record.exception = Some(value.to_owned()),
            "frame" => {
                let (frame, id) = value.split_once(' ').unwrap_or((value, "-"));
                let id = (id != "-" && !id.is_empty()).then(|| id.to_owned());
                record.frames.push((frame.to_owned(), id));
            }
            "end" => ended = true,
            _ => {} // a field a later version added
        }
    }
    (ended && !record.signal.is_empty()).then_some(record)
}

/// The `crash` event of a record (DESIGN §5a): category = the crashed app's name, label =
/// the signal or exception name, `app_name`/`app_version` = the crashed run's,
/// `exception` = the C++ exception type when known, `frame_0`… = `module+0xoffset` and the
/// module's build id, as many as GA4's 25 parameters allow, each at most 100 characters;
/// `timestamp_micros` = the crash time.
pub fn record_event(record: &Record, session_id: Arc<str>) -> Event {
    let mut params = Vec::new();
    if let Some(exception) = &record.exception {
        params.push(("exception".to_owned(), event::normalise_value(exception)));
    }
    let room = MAX_PARAMS_PER_EVENT - COMMON_PARAMS - params.len();
    for (i, (frame, id)) in record.frames.iter().take(room).enumerate() {
        params.push((format!("frame_{i}"), frame_value(frame, id.as_deref())));
    }
    let mut event = Event::custom(
        &record.app_name,
        EVENT_NAME,
        &record.signal,
        1,
        session_id,
        record.time_micros,
    )
    .expect("the crash event name is valid");
    event.extra = Some(Box::new(Extra {
        app_name: event::normalise_value(&record.app_name),
        app_version: event::normalise_value(&record.app_version),
        params,
    }));
    event
}

/// `module+0xoffset buildid`, cut to 100 characters by shortening the module name: the
/// offset and the build id are what resolve the frame.
fn frame_value(frame: &str, build_id: Option<&str>) -> String {
    let (module, offset) = frame.rsplit_once('+').unwrap_or((frame, ""));
    let id: String = build_id.unwrap_or("").chars().take(64).collect();
    let fixed = 1
        + offset.chars().count()
        + if id.is_empty() {
            0
        } else {
            1 + id.chars().count()
        };
    let keep = event::MAX_VALUE_CHARS.saturating_sub(fixed);
    let module: String = module.chars().take(keep).collect();
    let value = match (offset.is_empty(), id.is_empty()) {
        (true, _) => module,
        (false, true) => format!("{module}+{offset}"),
        (false, false) => format!("{module}+{offset} {id}"),
    };
    event::normalise_value(&value)
}

/// Records claimed by this process: their events are to be queued; `files` are deleted
/// by [`release`] once every one of those events was delivered or kept in the spool.
#[derive(Debug, Default)]
pub struct Claim {
    pub records: Vec<Record>,
    pub files: Vec<std::path::PathBuf>,
}

/// Claims the records in `dir` by renaming them to `<record>.<pid>.claimed` (of processes
/// starting together, exactly one gets each), taking over the claims of processes that
/// died before their events were resolved. Returns those to send: complete, written under
/// `client_id`, younger than 72 hours at `now_micros`, the newest
/// [`MAX_RECORDS_PER_INIT`]; the others are deleted unsent.
pub fn claim_records(dir: &Path, client_id: &str, now_micros: u64) -> Claim {
    let me = std::process::id();
    let mut claimed = Vec::new();
    for (name, kind) in record_files(dir) {
        let path = dir.join(&name);
        let base = match kind {
            Kind::Partial => {
                // A handler may be writing it right now; one left by a handler that died
                // goes after a minute.
                if partial_is_stale(&path) {
                    let _ = fs::remove_file(&path);
                }
                continue;
            }
            Kind::Complete => name.as_str(),
            Kind::Claimed => {
                let Some((base, owner)) = name
                    .strip_suffix(CLAIM_SUFFIX)
                    .and_then(|n| n.rsplit_once('.'))
                else {
                    continue;
                };
                match owner.parse::<u32>() {
                    Ok(owner) if owner != me && !crate::spool::process_alive(owner) => base,
                    _ => continue, // its owner is still sending it
                }
            }
        };
        let own = dir.join(format!("{base}.{me}{CLAIM_SUFFIX}"));
        if fs::rename(&path, &own).is_ok() {
            claimed.push(own);
        }
    }
    let mut kept: Vec<(Record, std::path::PathBuf)> = Vec::new();
    for path in claimed {
        let record = crate::files::read_limited(&path, MAX_RECORD_BYTES)
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .and_then(|text| parse_record(&text))
            .filter(|r| {
                r.client_id == client_id
                    && now_micros.saturating_sub(r.time_micros) < MAX_AGE_MICROS
            });
        match record {
            Some(record) => kept.push((record, path)),
            None => {
                let _ = fs::remove_file(&path);
            }
        }
    }
    kept.sort_by_key(|(r, _)| std::cmp::Reverse(r.time_micros));
    for (_, path) in kept.drain(MAX_RECORDS_PER_INIT.min(kept.len())..) {
        let _ = fs::remove_file(path);
    }
    kept.reverse();
    let (records, files) = kept.into_iter().unzip();
    Claim { records, files }
}

/// Deletes claimed records whose events are all resolved.
pub fn release(files: &[std::path::PathBuf]) {
    for path in files {
        let _ = fs::remove_file(path);
    }
}

/// A `.tmp` record older than a minute was left by a handler that died.
fn partial_is_stale(path: &Path) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";

    fn text(frames: usize, exception: bool) -> String {
        let mut t =
            format!("{MAGIC}\nsignal SIGSEGV\ntime 1000\napp tool\nversion 1.2\ncid {CID}\n");
        if exception {
            t.push_str("exception std::runtime_error\n");
        }
        for i in 0..frames {
            t.push_str(&format!(
                "frame crasher+0x{:x} {}\n",
                0x1000 + i,
                "ab".repeat(20)
            ));
        }
        t.push_str("frame libc.so.6+0x2724a -\nend\n");
        t
    }

    #[test]
    fn a_record_parses_and_becomes_a_crash_event() {
        let record = parse_record(&text(1, true)).unwrap();
        assert_eq!(record.signal, "SIGSEGV");
        assert_eq!(record.time_micros, 1000);
        assert_eq!(record.frames.len(), 2);
        assert_eq!(record.frames[1], ("libc.so.6+0x2724a".to_owned(), None));
        let e = record_event(&record, Arc::from("s"));
        assert_eq!(e.name, "crash");
        assert_eq!(e.category, "tool");
        assert_eq!(e.label, "SIGSEGV");
        assert_eq!(e.timestamp_micros, 1000);
        let extra = e.extra.unwrap();
        assert_eq!(extra.app_version, "1.2");
        assert_eq!(
            extra.params[0],
            ("exception".to_owned(), "std::runtime_error".to_owned())
        );
        assert_eq!(
            extra.params[1],
            (
                "frame_0".to_owned(),
                format!("crasher+0x1000 {}", "ab".repeat(20))
            )
        );
        assert_eq!(extra.params[2].1, "libc.so.6+0x2724a");
    }

    #[test]
    fn frames_fill_the_25_parameters_and_no_more() {
        for exception in [false, true] {
            let e = record_event(&parse_record(&text(40, exception)).unwrap(), Arc::from("s"));
            assert_eq!(
                COMMON_PARAMS + e.extra.unwrap().params.len(),
                MAX_PARAMS_PER_EVENT
            );
        }
    }

    #[test]
    fn a_long_module_name_is_cut_and_the_offset_and_build_id_kept() {
        let id = "cd".repeat(20);
        let v = frame_value(&format!("{}+0x12345678", "m".repeat(200)), Some(&id));
        assert_eq!(v.chars().count(), 100);
        assert!(v.ends_with(&format!("+0x12345678 {id}")), "{v}");
    }

    #[test]
    fn a_crash_event_kept_in_the_spool_keeps_its_frames() {
        let dir = crate::testing::temp_dir("crash-spool");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let mut record = parse_record(&text(3, true)).unwrap();
        record.time_micros = now;
        let event = record_event(&record, Arc::from("s"));
        const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";
        let text = crate::spool::render(std::slice::from_ref(&event), CID);
        crate::files::write_atomic(&dir, &crate::spool::new_pending_name(), &text).unwrap();
        let claim = crate::spool::claim(&dir, CID, now);
        assert_eq!(claim.events, vec![event]);
        crate::spool::release(&claim.files);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn incomplete_or_foreign_records_are_refused() {
        let full = text(1, false);
        assert!(parse_record(full.trim_end_matches("end\n")).is_none());
        assert!(parse_record(&full.replacen(MAGIC, "something else", 1)).is_none());
        assert!(parse_record(&full.replace("time 1000", "time x")).is_none());
    }

    #[test]
    fn claims_keep_own_fresh_records_until_released_and_delete_the_rest() {
        let dir = crate::testing::temp_dir("crash-claim");
        let write = |name: &str, body: &str| fs::write(dir.join(name), body).unwrap();
        write("openvino_telemetry_crash.1.rec", &text(1, false));
        write(
            "openvino_telemetry_crash.2.rec",
            &text(1, false).replace(CID, "another-identity"),
        );
        write("openvino_telemetry_crash.3.rec", "garbage");
        write("openvino_telemetry_crash.4.tmp", "being written");
        write("unrelated", "x");
        assert_eq!(pending_records(&dir), 3);
        let claim = claim_records(&dir, CID, 2000);
        assert_eq!(claim.records.len(), 1);
        assert_eq!(claim.records[0].client_id, CID);
        assert_eq!(pending_records(&dir), 1, "claimed, not yet delivered");
        // the fresh .tmp may still be being written: left alone
        assert!(dir.join("openvino_telemetry_crash.4.tmp").exists());
        assert!(
            claim_records(&dir, CID, 2000).records.is_empty(),
            "ours, in flight"
        );
        release(&claim.files);
        assert_eq!(pending_records(&dir), 0);
        write("openvino_telemetry_crash.5.rec", &text(1, false));
        assert!(
            claim_records(&dir, CID, 1000 + MAX_AGE_MICROS)
                .records
                .is_empty(),
            "too old"
        );
        assert_eq!(pending_records(&dir), 0);
        // A claim whose owner died is taken over.
        write(
            "openvino_telemetry_crash.6.rec.999999999.claimed",
            &text(1, false),
        );
        let claim = claim_records(&dir, CID, 2000);
        assert_eq!(claim.records.len(), 1);
        write("openvino_telemetry_crash.7.rec", &text(1, false));
        assert_eq!(discard_records(&dir), 3);
        assert!(dir.join("unrelated").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
