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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::consent::{self, Consent};
use crate::error::{Error, Result};
use crate::event::{self, Common, Event};
use crate::files::{self, DirLock};
use crate::identity;

pub const SENT_FILE: &str = "openvino_telemetry_sent.jsonl";
/// The record never holds more than this many bytes.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Entries older than this (by their `timestamp_micros`) are dropped at the next write.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long the worker waits for the directory lock to record delivered events (they count
/// as done for `flush`/`shutdown` only once recorded, so this is bounded; holders keep the
/// lock for milliseconds). Past it, those events are not recorded.
pub const LOCK_WAIT: Duration = Duration::from_secs(1);
/// New events older than the record's last lines are merged among them when they belong
/// within this many bytes of the end; further back, the whole record is re-sorted.
const TAIL_MERGE_BYTES: usize = 64 * 1024;
/// When a write must cut the record for size, it cuts it to this, so the appends that
/// follow are plain appends again for a while (not a rewrite of a full megabyte each).
const TRIM_TO: usize = MAX_BYTES - MAX_BYTES / 8;
/// How much of each end of the record the append fast path looks at.
const END_PEEK: usize = 4096;
/// At most this much of a (foreign, oversized) record is read: its tail.
const READ_LIMIT: usize = MAX_BYTES;

/// The key that ends every recorded line (`…,"timestamp_micros":N}`), as `WireEvent`
/// serialises it.
const STAMP_KEY: &[u8] = b",\"timestamp_micros\":";

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The timestamp of a line this module wrote, found without parsing the whole line (a
/// full record is re-read at every append). `None` for anything else.
fn stamp(line: &[u8]) -> Option<u64> {
    if !line.starts_with(b"{\"name\":") {
        return None;
    }
    let rest = line.strip_suffix(b"}")?;
    let at = rest
        .windows(STAMP_KEY.len())
        .rposition(|w| w == STAMP_KEY)?;
    let digits = &rest[at + STAMP_KEY.len()..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

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
        .filter_map(|line| stamp(line.as_bytes()).map(|ts| (ts, line.as_bytes())))
        .filter(|(ts, _)| *ts >= oldest)
        .collect();
    new.sort_by_key(|(ts, _)| *ts);
    if append_in_place(&dir.join(SENT_FILE), &new, oldest)? {
        return Ok(true);
    }
    let old = read_tail(&dir.join(SENT_FILE), READ_LIMIT)?.unwrap_or_default();
    let pieces = append_sorted(&old.bytes, &new, oldest)
        .unwrap_or_else(|| merge_all(&old.bytes, &new, oldest));
    if pieces.iter().all(|p| p.is_empty()) {
        files::remove(dir, SENT_FILE)?;
    } else {
        files::write_atomic_pieces(dir, SENT_FILE, &pieces)?;
    }
    Ok(true)
}

/// The usual write: the new lines go after the record's last one (they are newer), the
/// record stays within its bound, and its first line is younger than 30 days: then they
/// are appended (`O_APPEND`, under the directory lock) and only the record's two ends are
/// read. False when a rewrite is needed (or there is no record yet).
fn append_in_place(path: &Path, new: &[(u64, &[u8])], oldest: u64) -> Result<bool> {
    let Some(&(first_new, _)) = new.first() else {
        return Ok(true);
    };
    let Some((mut file, len)) = files::open_regular(path)? else {
        return Ok(false);
    };
    let added: usize = new.iter().map(|(_, l)| l.len() + 1).sum();
    if len == 0 || len as usize + added > MAX_BYTES {
        return Ok(false);
    }
    let io = |e| Error::io("append to", path, e);
    let mut head = vec![0u8; END_PEEK.min(len as usize)];
    file.read_exact(&mut head).map_err(io)?;
    let first_fresh = head
        .split(|b| *b == b'\n')
        .next()
        .and_then(stamp)
        .is_some_and(|ts| ts >= oldest);
    let tail_len = END_PEEK.min(len as usize);
    file.seek(SeekFrom::Start(len - tail_len as u64))
        .map_err(io)?;
    let mut tail = vec![0u8; tail_len];
    file.read_exact(&mut tail).map_err(io)?;
    let last_before_new = tail
        .strip_suffix(b"\n")
        .and_then(|body| body.rsplit(|b| *b == b'\n').next())
        .and_then(stamp)
        .is_some_and(|ts| ts <= first_new);
    if !(first_fresh && last_before_new) {
        return Ok(false);
    }
    let mut text = Vec::with_capacity(added);
    for (_, line) in new {
        text.extend_from_slice(line);
        text.push(b'\n');
    }
    let mut options = std::fs::OpenOptions::new();
    options.append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let mut appender = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut appender, &text).map_err(io)?;
    Ok(true)
}

/// Every write leaves the record sorted by time, valid lines only. So in the usual case the
/// new events belong at the end, or among the last few lines (several threads stamp events
/// a few microseconds apart), and the lines to drop (too old, or too many bytes) are all
/// at the front: only those ends are looked at, the rest is copied as it is, and the lock
/// is held for a read and a write of the file, not for parsing a megabyte. `None` when the
/// record's end is not such a line (torn, foreign), or the new events belong further back
/// than [`TAIL_MERGE_BYTES`]: then [`merge_all`] sorts everything.
fn append_sorted<'a>(old: &'a [u8], new: &[(u64, &'a [u8])], oldest: u64) -> Option<Vec<&'a [u8]>> {
    let first_new = new.first()?.0;
    // The old lines from `split` on are newer than the oldest new line: merged with them.
    let mut split = old.len();
    if !old.is_empty() {
        let body = old.strip_suffix(b"\n")?;
        let mut end = body.len();
        loop {
            let start = body[..end]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            if stamp(&body[start..end])? <= first_new {
                break;
            }
            split = start;
            if start == 0 || old.len() - split > TAIL_MERGE_BYTES {
                break;
            }
            end = start - 1;
        }
        if old.len() - split > TAIL_MERGE_BYTES {
            return None;
        }
    }
    let mut tail: Vec<(u64, &[u8])> = old[split..]
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        // Every one of them was stamped by the loop above.
        .filter_map(|line| stamp(line).map(|ts| (ts, line)))
        .chain(new.iter().copied())
        .collect();
    tail.sort_by_key(|(ts, _)| *ts);
    let tail_bytes: usize = tail.iter().map(|(_, l)| l.len() + 1).sum();
    let limit = if split + tail_bytes > MAX_BYTES {
        TRIM_TO
    } else {
        MAX_BYTES
    };
    let budget = limit.checked_sub(tail_bytes)?;
    let mut start = 0;
    while start < split {
        let end = old[start..split]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(split, |i| start + i + 1);
        let line = &old[start..end - 1];
        if split - start <= budget && stamp(line).is_some_and(|ts| ts >= oldest) {
            break;
        }
        start = end;
    }
    let mut pieces = Vec::with_capacity(1 + 2 * tail.len());
    pieces.push(&old[start..split]);
    for (_, line) in tail {
        pieces.push(line);
        pieces.push(b"\n".as_slice());
    }
    Some(pieces)
}

/// Keeps the valid lines not older than `oldest`, sorted by time (stable: the old lines
/// first), then drops the oldest until the bound holds.
fn merge_all<'a>(old: &'a [u8], new: &[(u64, &'a [u8])], oldest: u64) -> Vec<&'a [u8]> {
    let mut kept: Vec<(u64, &[u8])> = old
        .split(|b| *b == b'\n')
        .filter_map(|line| stamp(line).map(|ts| (ts, line)))
        .filter(|(ts, _)| *ts >= oldest)
        .chain(new.iter().copied())
        .collect();
    kept.sort_by_key(|(ts, _)| *ts);
    let mut total: usize = kept.iter().map(|(_, l)| l.len() + 1).sum();
    let limit = if total > MAX_BYTES {
        TRIM_TO
    } else {
        MAX_BYTES
    };
    let mut skip = 0;
    while total > limit && skip < kept.len() {
        total -= kept[skip].1.len() + 1;
        skip += 1;
    }
    let mut pieces = Vec::with_capacity(2 * (kept.len() - skip));
    for (_, line) in &kept[skip..] {
        pieces.push(*line);
        pieces.push(b"\n".as_slice());
    }
    pieces
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
mod tests {
    use super::*;
    use crate::testing::temp_dir;
    use std::fs;
    use std::sync::Arc;

    fn common(dir: &Path) -> Common {
        Common {
            client_id: identity::peek(dir).unwrap(),
            app_name: "app".into(),
            app_version: "1.0".into(),
            os: "Linux",
            docker: false,
            usage_count: Some(3),
        }
    }

    fn event(label: &str, ts: u64) -> Event {
        Event::custom("cat", "act", label, 7, Arc::from("sid"), ts).unwrap()
    }

    fn accepted() -> std::path::PathBuf {
        let dir = temp_dir("sent");
        consent::set(&dir, true).unwrap();
        dir
    }

    fn labels(dir: &Path) -> Vec<String> {
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
    fn entries_older_than_30_days_are_cut_at_the_next_write() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        let day = 24 * 3600 * 1_000_000u64;
        let old = [
            event("31 days", now - 31 * day),
            event("29 days", now - 29 * day),
        ];
        // Written as another run left them (no cut happens at read).
        let text = event::wire_events_json(&common, &old).join("\n") + "\n";
        fs::write(dir.join(SENT_FILE), text).unwrap();
        assert_eq!(labels(&dir), ["31 days", "29 days"]);
        append(&dir, &common, &[event("now", now)]).unwrap();
        assert_eq!(labels(&dir), ["29 days", "now"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_record_past_1_mib_is_cut_to_its_newest_part_at_the_next_write() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        let label = "x".repeat(100);
        let many: Vec<Event> = (0..8000)
            .map(|i| event(&format!("{i:04}{label}"), now - 10_000 + i))
            .collect();
        let lines = event::wire_events_json(&common, &many);
        let text = lines.join("\n") + "\n";
        assert!(text.len() > 2 * MAX_BYTES, "{}", text.len());
        fs::write(dir.join(SENT_FILE), &text).unwrap();
        let record = read(&dir).unwrap();
        assert!(record.partial);
        assert_eq!(
            record.skipped, 0,
            "the cut first line is dropped, not shown"
        );
        append(&dir, &common, &[event("newest", now)]).unwrap();
        let kept = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        assert!(kept.len() <= MAX_BYTES, "{}", kept.len());
        assert!(
            kept.len() > TRIM_TO - 1000,
            "cut to the trim size, not further: {}",
            kept.len()
        );
        let kept: Vec<&str> = kept.lines().collect();
        assert!(kept.last().unwrap().contains("\"newest\""));
        // The newest of the old lines are kept, in order, none twice.
        let old = &kept[..kept.len() - 1];
        assert_eq!(old, &lines[lines.len() - old.len()..]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn out_of_order_batches_are_stored_oldest_first() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        append(&dir, &common, &[event("b", now - 5)]).unwrap();
        // Spooled in an earlier run, delivered later.
        append(&dir, &common, &[event("a", now - 100)]).unwrap();
        append(&dir, &common, &[event("c", now)]).unwrap();
        // Stamped by two threads a few microseconds apart: merged among the last lines.
        append(&dir, &common, &[event("d", now - 3), event("e", now + 1)]).unwrap();
        let text = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        let order: Vec<u64> = text.lines().map(|l| stamp(l.as_bytes()).unwrap()).collect();
        assert_eq!(order, [now - 100, now - 5, now - 3, now, now + 1]);
        assert_eq!(labels(&dir), ["a", "b", "d", "c", "e"]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_torn_or_foreign_end_is_cleaned_by_the_next_write() {
        let dir = accepted();
        let common = common(&dir);
        let now = now_micros();
        append(&dir, &common, &[event("a", now - 10)]).unwrap();
        let mut text = fs::read(dir.join(SENT_FILE)).unwrap();
        text.extend_from_slice(b"{\"name\":\"torn\",\"par");
        fs::write(dir.join(SENT_FILE), &text).unwrap();
        append(&dir, &common, &[event("b", now)]).unwrap();
        assert_eq!(labels(&dir), ["a", "b"]);
        let text = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn reading_skips_what_is_not_an_event_and_never_fails_on_content() {
        let dir = temp_dir("sent");
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

    #[test]
    fn stamp_reads_only_lines_of_the_record_format() {
        assert_eq!(
            stamp(br#"{"name":"a","params":{},"timestamp_micros":12}"#),
            Some(12)
        );
        assert_eq!(stamp(br#"{"name":"a","timestamp_micros":}"#), None);
        assert_eq!(stamp(br#"{"name":"a","timestamp_micros":-1}"#), None);
        assert_eq!(stamp(br#"{"x":1,"timestamp_micros":12}"#), None);
        assert_eq!(stamp(b"garbage"), None);
    }
}
