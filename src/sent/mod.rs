//! The sent record: what left this machine (DESIGN §9).
//!
//! After each delivered request (2xx) the worker appends its events to
//! `<config dir>/openvino_telemetry_sent.jsonl`, one line per event: the event object
//! exactly as it was inside the request body — `name`, `params`, `timestamp_micros`
//! ([`event::wire_events_json`]). The client id belongs to the body, not to an event, so it
//! is never recorded.
//!
//! - **Consent is live.** Lines are written only when, under the directory lock, the
//!   decision file says `1` and the client id on disk is the one the events were sent under
//!   (an opt-out and an opt-in in between start a new, clean record).
//! - **Atomic.** Each append replaces the file (temporary file + rename, mode `0600`), so a
//!   reader never sees half a line and two writers never interleave.
//! - **Bounded.** The file is kept sorted by `timestamp_micros`; every write drops the
//!   entries older than 30 days, then the oldest until the file holds at most 1 MiB. The
//!   cut happens under the lock before the rename, so the file never exceeds the bound
//!   whatever number of processes append. Lines that are not the record's (torn, foreign)
//!   are dropped when they reach the oldest end, or at once when a write must re-sort.
//! - Never written in debug mode (`OPENVINO_TELEMETRY_DEBUG`: the sender gets no
//!   [`crate::sender::Delivered`] hook), deleted at opt-out and by an init that finds
//!   consent not given.
//!
//! Reading ([`read`]) never fails on content: lines that are not events (torn, foreign,
//! garbage) are counted and skipped; a file larger than the read limit is read from its
//! tail.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::consent::{self, Consent};
use crate::error::{Error, Result};
use crate::event::{self, Common, Event};
use crate::files::{self, now_micros, DirLock};
use crate::identity;

mod trim;

pub const SENT_FILE: &str = "openvino_telemetry_sent.jsonl";
/// The record never holds more than this many bytes.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Entries older than this (by their `timestamp_micros`) are dropped at the next write.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long the worker waits for the directory lock to record delivered events (they count
/// as done for `flush`/`shutdown` only once recorded, so this is bounded; holders keep the
/// lock for milliseconds). Past it, those events are not recorded.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);
/// At most this much of a (foreign, oversized) record is read: its tail.
const READ_LIMIT: usize = MAX_BYTES;

/// Appends delivered events, as they were sent under `common`. Writes
/// nothing (and returns `Ok(false)`) when consent is no longer given or the client id on
/// disk is not `common.client_id`.
pub fn append(dir: &Path, common: &Common, events: &[Event]) -> Result<bool> {
    let lines = event::wire_events_json(common, events);
    append_lines(dir, &common.client_id, &lines, now_micros())
}

fn append_lines(dir: &Path, client_id: &str, lines: &[String], now: u64) -> Result<bool> {
    if lines.is_empty() {
        return Ok(false);
    }
    let _lock = DirLock::acquire(dir, LOCK_WAIT)?;
    if consent::read(dir).0 != Consent::Accepted
        || identity::peek(dir).as_deref() != Some(client_id)
    {
        return Ok(false);
    }
    let oldest = now.saturating_sub(MAX_AGE.as_micros() as u64);
    let mut new: Vec<(u64, &[u8])> = lines
        .iter()
        .filter_map(|line| trim::stamp(line.as_bytes()).map(|ts| (ts, line.as_bytes())))
        .filter(|(ts, _)| *ts >= oldest)
        .collect();
    new.sort_by_key(|(ts, _)| *ts);
    if trim::append_in_place(&dir.join(SENT_FILE), &new, oldest)? {
        return Ok(true);
    }
    let old = read_tail(&dir.join(SENT_FILE), READ_LIMIT)?.unwrap_or_default();
    let pieces = trim::append_sorted(&old.bytes, &new, oldest)
        .unwrap_or_else(|| trim::merge_all(&old.bytes, &new, oldest));
    if pieces.iter().all(|p| p.is_empty()) {
        files::remove(dir, SENT_FILE)?;
    } else {
        files::write_atomic_pieces(dir, SENT_FILE, &pieces)?;
    }
    Ok(true)
}

/// Deletes the record (opt-out, or consent found not given).
pub fn forget(dir: &Path) -> Result<()> {
    files::remove(dir, SENT_FILE)
}

/// The record's size in bytes; `None` when there is none.
pub fn size(dir: &Path) -> Option<u64> {
    std::fs::symlink_metadata(dir.join(SENT_FILE))
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// One recorded event, as sent.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    /// The event's params as sent (`event_category`, `event_label`, `event_count`,
    /// `session_id`, `app_name`, …).
    pub params: Map<String, Value>,
    /// When the host sent the event (`None` if the line lacks it).
    pub timestamp_micros: Option<u64>,
}

impl Entry {
    fn parse(line: &[u8]) -> Option<Entry> {
        let Value::Object(mut object) = serde_json::from_slice(line).ok()? else {
            return None;
        };
        let Some(Value::String(name)) = object.remove("name") else {
            return None;
        };
        let params = match object.remove("params") {
            Some(Value::Object(params)) => params,
            None => Map::new(),
            Some(_) => return None,
        };
        let timestamp_micros = object.get("timestamp_micros").and_then(Value::as_u64);
        Some(Entry {
            name,
            params,
            timestamp_micros,
        })
    }

    /// The event as one JSON object: `name`, `params`, `timestamp_micros` (as sent).
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("name".into(), Value::String(self.name.clone()));
        object.insert("params".into(), Value::Object(self.params.clone()));
        if let Some(ts) = self.timestamp_micros {
            object.insert("timestamp_micros".into(), Value::from(ts));
        }
        Value::Object(object)
    }

    /// A param as text: strings as they are, other values as JSON, missing as "".
    pub fn param(&self, key: &str) -> String {
        match self.params.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }
    }
}

/// What [`read`] found.
#[derive(Debug, Default)]
pub struct Record {
    /// Oldest first (by `timestamp_micros`; entries without one first, in file order).
    pub entries: Vec<Entry>,
    /// Non-empty lines that are not events and were skipped.
    pub skipped: usize,
    /// The file was larger than the read limit: only its newest part was read.
    pub partial: bool,
    /// The file exists.
    pub exists: bool,
}

/// Reads the record. An error only when the file exists but cannot be read (a directory, a
/// symbolic link, no permission); content never makes it fail.
pub fn read(dir: &Path) -> Result<Record> {
    let Some(tail) = read_tail(&dir.join(SENT_FILE), READ_LIMIT)? else {
        return Ok(Record::default());
    };
    let mut record = Record {
        partial: tail.partial,
        exists: true,
        ..Record::default()
    };
    for line in tail.bytes.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match Entry::parse(line) {
            Some(entry) => record.entries.push(entry),
            None => record.skipped += 1,
        }
    }
    record
        .entries
        .sort_by_key(|e| e.timestamp_micros.unwrap_or(0));
    Ok(record)
}

#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
    partial: bool,
}

/// Reads a regular file, never through a symbolic link; when it is larger than `limit`,
/// only its last `limit` bytes from the first line start on. `Ok(None)` when missing.
fn read_tail(path: &Path, limit: usize) -> Result<Option<Tail>> {
    let Some((mut file, len)) = files::open_regular(path)? else {
        return Ok(None);
    };
    let partial = len > limit as u64;
    if partial {
        file.seek(SeekFrom::Start(len - limit as u64))
            .map_err(|e| Error::io("read", path, e))?;
    }
    let mut bytes = Vec::with_capacity((len as usize).min(limit));
    file.take(limit as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if partial {
        // The first line is most likely cut: start after it.
        let start = bytes.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.drain(..start);
    }
    Ok(Some(Tail { bytes, partial }))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::fs;
    use std::sync::Arc;

    pub(super) fn common(dir: &Path) -> Common {
        Common {
            client_id: identity::peek(dir).unwrap(),
            app_name: "app".into(),
            app_version: "1.0".into(),
            os: "Linux",
            docker: false,
            usage_count: Some(3),
        }
    }

    pub(super) fn event(label: &str, ts: u64) -> Event {
        Event::custom("cat", "act", label, 7, Arc::from("sid"), ts).unwrap()
    }

    pub(super) fn accepted() -> std::path::PathBuf {
        let dir = tempfile::tempdir().unwrap().keep();
        consent::set(&dir, true).unwrap();
        dir
    }

    pub(super) fn labels(dir: &Path) -> Vec<String> {
        read(dir)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.param("event_label"))
            .collect()
    }

    #[test]
    fn appended_events_read_back_as_sent_without_the_client_id() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        let events = [event("a", now - 2), event("b", now - 1)];
        assert!(append(&dir, &common, &events).unwrap());
        let text = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            event::wire_events_json(&common, &events)
        );
        assert!(!text.contains(&common.client_id));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(SENT_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let record = read(&dir).unwrap();
        assert_eq!(record.entries.len(), 2);
        assert_eq!(record.entries[0].name, "act");
        assert_eq!(record.entries[0].param("event_count"), "7");
        assert_eq!(record.entries[1].timestamp_micros, Some(now - 1));
        assert_eq!(size(&dir), Some(text.len() as u64));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn nothing_is_written_without_consent_or_under_another_client_id() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        // Another opt-in made a new client id: the old handle's events do not belong here.
        identity::regenerate(&dir).unwrap();
        assert!(!append(&dir, &common, &[event("old id", now)]).unwrap());
        assert!(!dir.join(SENT_FILE).exists());
        // The decision alone turns it off, even with the client id still in place.
        let mut current = common.clone();
        current.client_id = identity::peek(&dir).unwrap();
        consent::write(&dir, false).unwrap();
        assert!(!append(&dir, &current, &[event("declined", now)]).unwrap());
        assert!(!dir.join(SENT_FILE).exists());
        consent::write(&dir, true).unwrap();
        assert!(append(&dir, &current, &[event("accepted", now)]).unwrap());
        assert!(dir.join(SENT_FILE).exists());
        consent::set(&dir, false).unwrap();
        let mut left_over = common.clone();
        left_over.client_id = identity::new_uuid_v4();
        assert!(!append(&dir, &left_over, &[event("declined", now)]).unwrap());
        fs::remove_file(dir.join(consent::CONSENT_FILE)).unwrap();
        assert!(!append(&dir, &left_over, &[event("undecided", now)]).unwrap());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn opt_out_deletes_the_record() {
        let dir = accepted();
        append(&dir, &common(&dir), &[event("x", now_micros())]).unwrap();
        assert!(dir.join(SENT_FILE).exists());
        consent::set(&dir, false).unwrap();
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [consent::CONSENT_FILE]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reading_skips_what_is_not_an_event_and_never_fails_on_content() {
        let dir = tempfile::tempdir().unwrap().keep();
        assert!(!read(&dir).unwrap().exists);
        fs::write(dir.join(SENT_FILE), b"").unwrap();
        let record = read(&dir).unwrap();
        assert!(record.exists && record.entries.is_empty() && record.skipped == 0);
        let good = r#"{"name":"act","params":{"event_label":"l"},"timestamp_micros":5}"#;
        let mut garbage = format!("{good}\n\u{0}\u{1}").into_bytes();
        garbage.extend_from_slice(b"\xff\n[1,2]\n{\"name\":3}\n{\"name\":\"no params\"}\n\n");
        garbage.extend_from_slice(&good.as_bytes()[..20]);
        fs::write(dir.join(SENT_FILE), garbage).unwrap();
        let record = read(&dir).unwrap();
        let names: Vec<&str> = record.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["no params", "act"]);
        assert_eq!(record.skipped, 4);
        let mut raw = good.as_bytes().to_vec();
        raw.extend_from_slice(b"\n\xff\xfe\n");
        fs::write(dir.join(SENT_FILE), raw).unwrap();
        assert_eq!(read(&dir).unwrap().entries.len(), 1);
        fs::remove_file(dir.join(SENT_FILE)).unwrap();
        fs::create_dir(dir.join(SENT_FILE)).unwrap();
        let err = read(&dir).unwrap_err().to_string();
        // Windows refuses to open a directory as a file before we can look at it.
        assert!(
            err.contains("not a regular file") || (cfg!(windows) && err.contains("denied")),
            "{err}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
