//! Events kept on disk for a later run: one file per handle, claimed by renaming.
//!
//! Each handle that has undeliverable events (retries exhausted, or left at a shutdown
//! deadline) keeps them in a file of its own, `openvino_telemetry_pending.<pid>.<16 hex>.jsonl`
//! (mode `0600`): one JSON object per line, each naming the client id it was collected
//! under, at most the newest 1,000 events and 1 MiB. Each hand-off replaces that file
//! atomically (temporary file + rename). Writing never waits for the directory lock or for
//! another process (Mozilla Glean keeps pending pings the same way), so shutdown deadlines
//! hold while other processes are busy in the directory.
//!
//! A later init with consent *claims* the files of handles that are gone (their process
//! has exited, or, in this process, the handle was shut down) by renaming each to
//! `openvino_telemetry_pending.<pid>.<16 hex>.<claimer pid>.claimed`: a rename succeeds for
//! one process only, so no event is sent by two runs. A claimed file is deleted once every
//! one of its events was delivered or kept again; a claim whose owner died is taken over by
//! renaming it to the new owner's pid. Events collected under another client id (the user
//! opted out and in again since) are never sent: the claim deletes them.
//!
//! Bounds are applied again when files are claimed: the newest 1,000 events, younger than
//! 72 hours (GA4 refuses older ones). Version 1's single spool file
//! (`openvino_telemetry_spool.jsonl`) and its claims are claimed the same way.
//!
//! The only path to duplicates on disk is a crash between keeping claimed events again
//! and deleting the claimed files; the next claim then holds both.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::event::{Event, Extra, ScrubState};
use crate::files;

/// Prefix of every pending or claimed file.
pub const PENDING_PREFIX: &str = "openvino_telemetry_pending.";
const PENDING_SUFFIX: &str = ".jsonl";
const CLAIMED_SUFFIX: &str = ".claimed";
/// Version 1's single spool file, and its claims (`<spool>.<pids>.claimed`).
pub const SPOOL_FILE: &str = "openvino_telemetry_spool.jsonl";
pub const MAX_EVENTS: usize = 1000;
/// The most one pending file holds.
pub const MAX_BYTES: usize = 1024 * 1024;
/// The most read from one file (version 1's spool could exceed `MAX_BYTES` a little).
const READ_LIMIT: usize = 2 * MAX_BYTES;
pub const MAX_AGE: Duration = Duration::from_secs(72 * 3600);

#[derive(Serialize, Deserialize)]
struct Line {
    name: String,
    category: String,
    label: String,
    count: i64,
    session_id: String,
    timestamp_micros: u64,
    /// The client id the event was collected under (absent in version 1's spool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cid: Option<String>,
    /// The label is a raw copy still to be scrubbed; `Some(complete)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    raw: Option<bool>,
    /// A `crash` report's app, version and frames (absent for other events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    extra: Option<Extra>,
}

impl Line {
    fn new(e: &Event, cid: &str) -> Line {
        Line {
            name: e.name.clone(),
            category: e.category.clone(),
            label: e.label.clone(),
            count: e.count,
            session_id: e.session_id.to_string(),
            timestamp_micros: e.timestamp_micros,
            cid: Some(cid.to_owned()),
            raw: match e.scrub {
                ScrubState::Done => None,
                ScrubState::Raw { complete } => Some(complete),
            },
            extra: e.extra.as_deref().cloned(),
        }
    }

    fn into_event(self) -> Event {
        Event {
            name: self.name,
            category: self.category,
            label: self.label,
            count: self.count,
            session_id: Arc::from(self.session_id),
            timestamp_micros: self.timestamp_micros,
            scrub: match self.raw {
                None => ScrubState::Done,
                Some(complete) => ScrubState::Raw { complete },
            },
            extra: self.extra.map(Box::new),
        }
    }
}

fn fresh(timestamp_micros: u64, now: u64) -> bool {
    now.saturating_sub(timestamp_micros) < MAX_AGE.as_micros() as u64
}

/// Parses pending text, skipping lines that are not events (a torn or foreign line never
/// stops the rest from being read).
fn parse(bytes: &[u8]) -> Vec<Line> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
        .collect()
}

fn read(path: &Path) -> Vec<Line> {
    match files::read_limited(path, READ_LIMIT) {
        Ok(Some(bytes)) => parse(&bytes),
        _ => Vec::new(),
    }
}

/// Drops the oldest of `events` (kept in time order) until they fit the bounds (1,000
/// events, 1 MiB rendered), and renders them.
pub fn render_bounded(events: &mut Vec<Event>, cid: &str) -> Vec<u8> {
    if events.len() > MAX_EVENTS {
        events.drain(..events.len() - MAX_EVENTS);
    }
    loop {
        let text = render(events, cid);
        if text.len() <= MAX_BYTES || events.is_empty() {
            return text;
        }
        // Drop about as many of the oldest as the excess needs (at least one).
        let excess = text.len() - MAX_BYTES;
        let average = text.len() / events.len();
        events.drain(..(excess / average.max(1)).clamp(1, events.len()));
    }
}

/// The text of a pending file holding `events` collected under `cid`.
pub fn render(events: &[Event], cid: &str) -> Vec<u8> {
    let mut text = Vec::with_capacity(events.len() * 200);
    for event in events {
        serde_json::to_writer(&mut text, &Line::new(event, cid))
            .expect("an event always serialises");
        text.push(b'\n');
    }
    text
}

/// A fresh, unique pending file name for a handle of this process.
pub fn new_pending_name() -> String {
    format!(
        "{PENDING_PREFIX}{}.{:08x}{:08x}{PENDING_SUFFIX}",
        std::process::id(),
        files::random_u32(),
        files::random_u32()
    )
}

/// Pending files of this process's live handles: not claimable yet.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Marks a handle's pending file as in use (not claimable by this process's other handles).
pub fn register_live(name: &str) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(name.to_owned());
}

/// The handle is done with its pending file: a later init may claim it.
pub fn unregister_live(name: &str) {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|n| n != name);
}

fn is_live_here(name: &str) -> bool {
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|n| n == name)
}

/// Events claimed by this process, and the files to delete once they are resolved.
pub struct Claim {
    pub events: Vec<Event>,
    pub files: Vec<PathBuf>,
}

/// Deletes claimed files whose events are all resolved.
pub fn release(files: &[PathBuf]) {
    for path in files {
        let _ = fs::remove_file(path);
    }
}

/// What a directory entry is to the spool.
enum Entry {
    /// A handle's pending file, written by process `writer`.
    Pending {
        writer: u32,
    },
    /// Claimed by the process `owner`; `stem` is `<writer>.<hex>`.
    Claimed {
        owner: u32,
        stem: String,
    },
    /// Version 1's spool, free to claim.
    Legacy,
    /// Version 1's claim by `owner`.
    LegacyClaimed {
        owner: u32,
    },
    Other,
}

fn classify(name: &str) -> Entry {
    if let Some(rest) = name.strip_prefix(PENDING_PREFIX) {
        if let Some(stem) = rest.strip_suffix(PENDING_SUFFIX) {
            if let Some(writer) = stem.split('.').next().and_then(|p| p.parse().ok()) {
                return Entry::Pending { writer };
            }
        }
        if let Some((stem, owner)) = rest
            .strip_suffix(CLAIMED_SUFFIX)
            .and_then(|chain| chain.rsplit_once('.'))
        {
            if let Ok(owner) = owner.parse::<u32>() {
                return Entry::Claimed {
                    owner,
                    stem: stem.to_owned(),
                };
            }
        }
        return Entry::Other;
    }
    if name == SPOOL_FILE {
        return Entry::Legacy;
    }
    if let Some(chain) = name
        .strip_prefix(&format!("{SPOOL_FILE}."))
        .and_then(|rest| rest.strip_suffix(CLAIMED_SUFFIX))
    {
        if let Some(owner) = chain.split('.').next().and_then(|p| p.parse::<u32>().ok()) {
            return Entry::LegacyClaimed { owner };
        }
    }
    Entry::Other
}

/// Claims the pending files of handles that are gone, and claims left by processes that
/// are gone. Keeps the events collected under `client_id` (or before ids were recorded)
/// that are younger than 72 hours, the newest 1,000; the files of the others are deleted
/// once released. Never waits for the directory lock: each claim is one rename.
pub fn claim(dir: &Path, client_id: &str, now_micros: u64) -> Claim {
    let mut claim = Claim {
        events: Vec::new(),
        files: Vec::new(),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return claim;
    };
    let pid = std::process::id();
    let gone = |other: u32| other != pid && !process_alive(other);
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        let stem = match classify(&name) {
            Entry::Pending { writer }
                if gone(writer) || (writer == pid && !is_live_here(&name)) =>
            {
                name[PENDING_PREFIX.len()..name.len() - PENDING_SUFFIX.len()].to_owned()
            }
            Entry::Claimed { owner, stem } if gone(owner) => stem,
            Entry::Legacy => format!("0.legacy{:08x}", files::random_u32()),
            Entry::LegacyClaimed { owner } if gone(owner) => {
                format!("0.legacy{:08x}", files::random_u32())
            }
            _ => continue,
        };
        let owned = dir.join(format!("{PENDING_PREFIX}{stem}.{pid}{CLAIMED_SUFFIX}"));
        if fs::rename(dir.join(&name), &owned).is_ok() {
            claim.files.push(owned);
        }
    }
    // Version 1's lines name no client id: they belong to the current one only if they
    // were collected after it was created (an opt-out and opt-in since makes them older).
    let id_born = fs::metadata(dir.join(crate::identity::CLIENT_ID_FILE))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| d.as_micros() as u64);
    let mut events: Vec<Event> = claim
        .files
        .iter()
        .flat_map(|path| read(path))
        .filter(|line| match line.cid.as_deref() {
            Some(cid) => cid == client_id,
            None => line.timestamp_micros >= id_born,
        })
        .filter(|line| fresh(line.timestamp_micros, now_micros))
        .map(Line::into_event)
        .collect();
    events.sort_by_key(|e| e.timestamp_micros);
    if events.len() > MAX_EVENTS {
        events.drain(..events.len() - MAX_EVENTS);
    }
    claim.events = events;
    claim
}

/// Puts a claim's events into one claimed file of this process (deleting the others), so
/// that its progress can be written as the events are delivered. Returns that file, or
/// `None` when nothing was claimed or it could not be written (the claim then stays as
/// it was, released whole).
pub fn consolidate(dir: &Path, claim: &mut Claim, cid: &str) -> Option<PathBuf> {
    if claim.files.is_empty() {
        return None;
    }
    let pid = std::process::id();
    let name = format!(
        "{PENDING_PREFIX}{pid}.{:08x}{:08x}.{pid}{CLAIMED_SUFFIX}",
        files::random_u32(),
        files::random_u32()
    );
    files::write_atomic(dir, &name, &render(&claim.events, cid)).ok()?;
    release(&claim.files);
    claim.files = vec![dir.join(&name)];
    Some(dir.join(name))
}

/// Rewrites a consolidated claim with what is still unresolved (`events`).
pub fn shrink_claim(path: &Path, events: &[Event], cid: &str) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let _ = files::write_atomic(dir, name, &render(events, cid));
}

/// Events waiting on disk (pending and claimed files), for `opt_in_out --status`.
pub fn pending_count(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            !matches!(classify(&name.to_string_lossy()), Entry::Other)
        })
        .map(|e| read(&e.path()).len())
        .sum()
}

/// Every event waiting on disk, as it would be sent (for tests and `--status`).
pub fn pending_events(dir: &Path) -> Vec<Event> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !matches!(classify(&e.file_name().to_string_lossy()), Entry::Other))
        .flat_map(|e| read(&e.path()))
        .map(Line::into_event)
        .collect()
}

pub(crate) fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 only checks for existence and permission.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::Foundation::{CloseHandle, ERROR_ACCESS_DENIED, STILL_ACTIVE};
        use windows_sys::Win32::System::Threading::{
            GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
        };
        // SAFETY: plain Win32 calls; the handle is closed before returning.
        unsafe {
            let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if handle.is_null() {
                // No such process, unless it exists and is not ours to query.
                return std::io::Error::last_os_error().raw_os_error()
                    == Some(ERROR_ACCESS_DENIED as i32);
            }
            let mut code = 0u32;
            let ok = GetExitCodeProcess(handle, &mut code) != 0;
            CloseHandle(handle);
            !ok || code == STILL_ACTIVE as u32
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = pid;
        true
    }
}

/// Deletes everything kept on disk (opt-out, or consent found not given): pending and
/// claimed files, version 1's spool, and the temporary files of hand-offs that a killed
/// process left half-written.
pub fn discard(dir: &Path) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    let temp_prefix = format!(".{PENDING_PREFIX}");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let temp = name.starts_with(&temp_prefix) && name.ends_with(".tmp");
        if temp || !matches!(classify(&name), Entry::Other) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::temp_dir;

    const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";

    fn now() -> u64 {
        crate::telemetry::now_micros()
    }

    fn event(i: usize, ts: u64) -> Event {
        Event {
            name: format!("act{i}"),
            category: "cat".into(),
            label: "x".repeat(i % 7),
            count: i as i64,
            session_id: Arc::from("s"),
            timestamp_micros: ts,
            scrub: ScrubState::Done,
            extra: None,
        }
    }

    /// A pending file as a finished handle of this process leaves it.
    fn put(dir: &Path, events: &[Event], cid: &str) {
        files::write_atomic(dir, &new_pending_name(), &render(events, cid)).unwrap();
    }

    #[test]
    fn render_bounded_keeps_the_newest_within_both_bounds() {
        let now = now();
        let mut many: Vec<Event> = (0..1500).map(|i| event(i, now + i as u64)).collect();
        render_bounded(&mut many, CID);
        assert_eq!(many.len(), MAX_EVENTS);
        assert_eq!(many[0].name, "act500");
        let mut big: Vec<Event> = (0..800)
            .map(|i| Event {
                label: "y".repeat(2000),
                ..event(i, now + i as u64)
            })
            .collect();
        let text = render_bounded(&mut big, CID);
        assert!(text.len() <= MAX_BYTES && big.len() > 400, "{}", big.len());
        assert_eq!(big.last().unwrap().name, "act799");
    }

    #[test]
    fn files_are_claimed_once_and_release_deletes() {
        let dir = temp_dir("spool");
        let now = now();
        let events: Vec<Event> = (0..5).map(|i| event(i, now - 10 + i as u64)).collect();
        put(&dir, &events[..2], CID);
        put(&dir, &events[2..], CID);
        assert_eq!(pending_count(&dir), 5);
        let claim = claim(&dir, CID, now);
        assert_eq!(claim.events, events);
        assert_eq!(claim.files.len(), 2);
        // A second claimer finds nothing: the files are ours.
        assert!(super::claim(&dir, CID, now).events.is_empty());
        release(&claim.files);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn another_identity_age_and_count_bounds_are_enforced() {
        let dir = temp_dir("spool");
        let now = now();
        let old = now - MAX_AGE.as_micros() as u64 - 1;
        put(
            &dir,
            &[event(1, now)],
            "11111111-1111-4111-8111-111111111111",
        );
        put(&dir, &[event(2, old)], CID);
        let many: Vec<Event> = (0..1200).map(|i| event(i, now - 2000 + i as u64)).collect();
        put(&dir, &many, CID);
        let claim = claim(&dir, CID, now);
        assert_eq!(claim.events.len(), MAX_EVENTS);
        assert_eq!(claim.events.first().unwrap().name, "act200");
        assert!(claim
            .events
            .iter()
            .all(|e| e.name != "act1" || e.count != 1));
        release(&claim.files);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn raw_labels_survive_the_round_trip() {
        let dir = temp_dir("spool");
        let mut e = event(3, now());
        e.scrub = ScrubState::Raw { complete: false };
        put(&dir, std::slice::from_ref(&e), CID);
        assert_eq!(claim(&dir, CID, now()).events, vec![e]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn torn_lines_are_skipped_and_dead_and_legacy_claims_are_taken_over() {
        let dir = temp_dir("spool");
        let now = now();
        let good = String::from_utf8(render(&[event(1, now)], CID)).unwrap();
        fs::write(dir.join(SPOOL_FILE), format!("{good}{{\"name\": \n\u{0}\n")).unwrap();
        fs::write(
            dir.join(format!("{SPOOL_FILE}.99999999{CLAIMED_SUFFIX}")),
            &good,
        )
        .unwrap();
        fs::write(
            dir.join(format!(
                "{PENDING_PREFIX}99999998.00000000ffffffff.99999999{CLAIMED_SUFFIX}"
            )),
            &good,
        )
        .unwrap();
        // A live owner's claim is left alone, and so is a live handle's pending file.
        let live = dir.join(format!(
            "{PENDING_PREFIX}99999998.00000000eeeeeeee.{}{CLAIMED_SUFFIX}",
            std::process::id()
        ));
        let name = new_pending_name();
        register_live(&name);
        fs::write(dir.join(&name), &good).unwrap();
        fs::write(&live, &good).unwrap();
        let claim = claim(&dir, CID, now);
        assert_eq!(claim.events.len(), 3);
        assert!(live.exists());
        assert!(dir.join(&name).exists());
        unregister_live(&name);
        assert_eq!(
            super::claim(&dir, CID, now).events.len(),
            1,
            "a finished handle's file"
        );
        release(&claim.files);
        discard(&dir).unwrap();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }
}
