//! Offline spool: events that could not be delivered, kept for the next run with consent.
//!
//! One JSON object per line in `<config dir>/openvino_telemetry_spool.jsonl` (mode `0600`,
//! replaced atomically under the directory lock). Bounded: the newest 1,000 events and
//! 1 MiB; events older than 72 hours are discarded (GA4 refuses them).
//!
//! The next init with consent *claims* the spool by renaming it to
//! `openvino_telemetry_spool.<pid>.<random>.claimed` under the lock, so two processes starting
//! together never both send it. The claimed file is deleted only once every one of its
//! events was delivered or handed back to the spool; a claim left by a process that died is
//! taken over by the next init.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::event::Event;
use crate::files::{self, DirLock};

pub const SPOOL_FILE: &str = "openvino_telemetry_spool.jsonl";
const CLAIM_SUFFIX: &str = ".claimed";
pub const MAX_EVENTS: usize = 1000;
pub const MAX_BYTES: usize = 1024 * 1024;
pub const MAX_AGE: Duration = Duration::from_secs(72 * 3600);

#[derive(Serialize, Deserialize)]
struct Line {
    name: String,
    category: String,
    label: String,
    count: i64,
    session_id: String,
    timestamp_micros: u64,
}

impl From<&Event> for Line {
    fn from(e: &Event) -> Line {
        Line {
            name: e.name.clone(),
            category: e.category.clone(),
            label: e.label.clone(),
            count: e.count,
            session_id: e.session_id.to_string(),
            timestamp_micros: e.timestamp_micros,
        }
    }
}

impl From<Line> for Event {
    fn from(l: Line) -> Event {
        Event {
            name: l.name,
            category: l.category,
            label: l.label,
            count: l.count,
            session_id: Arc::from(l.session_id),
            timestamp_micros: l.timestamp_micros,
        }
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn fresh(event: &Event, now: u64) -> bool {
    now.saturating_sub(event.timestamp_micros) < MAX_AGE.as_micros() as u64
}

/// Parses spool text, skipping lines that are not events (a torn or foreign line never
/// stops the rest from being read).
fn parse(bytes: &[u8]) -> Vec<Event> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
        .map(Event::from)
        .collect()
}

fn read(path: &Path) -> Vec<Event> {
    match files::read_limited(path, MAX_BYTES * 2) {
        Ok(Some(bytes)) => parse(&bytes),
        _ => Vec::new(),
    }
}

/// Adds `events` to the spool, keeping it within its bounds (oldest dropped first).
/// Returns how many events it now holds.
pub fn store(dir: &Path, events: &[Event]) -> Result<usize> {
    let _lock = DirLock::acquire(dir, files::SPOOL_LOCK_WAIT)?;
    let now = now_micros();
    let mut all = read(&dir.join(SPOOL_FILE));
    all.extend(events.iter().cloned());
    all.retain(|e| fresh(e, now));
    if all.len() > MAX_EVENTS {
        all.drain(..all.len() - MAX_EVENTS);
    }
    let mut lines: Vec<String> = all
        .iter()
        .map(|e| serde_json::to_string(&Line::from(e)).expect("an event always serialises"))
        .collect();
    let mut total: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut skip = 0;
    while total > MAX_BYTES && skip < lines.len() {
        total -= lines[skip].len() + 1;
        skip += 1;
    }
    lines.drain(..skip);
    if lines.is_empty() {
        files::remove(dir, SPOOL_FILE)?;
        return Ok(0);
    }
    let mut text = lines.join("\n");
    text.push('\n');
    files::write_atomic(dir, SPOOL_FILE, text.as_bytes())?;
    Ok(lines.len())
}

/// Events claimed by this process, and the file to delete once they are resolved.
pub struct Claim {
    pub events: Vec<Event>,
    pub files: Vec<PathBuf>,
}

impl Claim {
    /// Deletes the claimed files: every claimed event was delivered or spooled again.
    pub fn release(&self) {
        release(&self.files);
    }
}

/// Deletes claimed files whose events are all resolved.
pub fn release(files: &[PathBuf]) {
    for path in files {
        let _ = fs::remove_file(path);
    }
}

/// Claims the spool, and claims left by processes that are gone. Events older than 72 h
/// are dropped here.
pub fn claim(dir: &Path) -> Claim {
    let mut claim = Claim {
        events: Vec::new(),
        files: Vec::new(),
    };
    let Ok(_lock) = DirLock::acquire(dir, files::SPOOL_LOCK_WAIT) else {
        return claim;
    };
    let pid = std::process::id();
    // Unique even for several handles of one process: a later claim never replaces an
    // earlier one that is still being sent.
    let own = dir.join(format!(
        "{SPOOL_FILE}.{pid}.{:08x}{CLAIM_SUFFIX}",
        files::random_u32()
    ));
    if fs::rename(dir.join(SPOOL_FILE), &own).is_ok() {
        claim.files.push(own);
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `<spool>.<owner pid>[.<earlier owners>].claimed`: the owner is the first number;
            // a take-over keeps the whole chain, so names stay unique.
            let Some(chain) = name
                .strip_prefix(&format!("{SPOOL_FILE}."))
                .and_then(|rest| rest.strip_suffix(CLAIM_SUFFIX))
            else {
                continue;
            };
            let Some(owner) = chain.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if owner != pid && !process_alive(owner) {
                let taken = dir.join(format!("{SPOOL_FILE}.{pid}.{chain}{CLAIM_SUFFIX}"));
                if fs::rename(entry.path(), &taken).is_ok() {
                    claim.files.push(taken);
                }
            }
        }
    }
    let now = now_micros();
    for path in &claim.files {
        claim
            .events
            .extend(read(path).into_iter().filter(|e| fresh(e, now)));
    }
    claim
}

fn process_alive(pid: u32) -> bool {
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

/// Deletes everything queued on disk (opt-out, or consent found not given).
pub fn discard(dir: &Path) -> Result<()> {
    files::remove(dir, SPOOL_FILE)?;
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(SPOOL_FILE) && name.ends_with(CLAIM_SUFFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::temp_dir;

    fn event(i: usize, ts: u64) -> Event {
        Event {
            name: format!("act{i}"),
            category: "cat".into(),
            label: "x".repeat(i % 7),
            count: i as i64,
            session_id: Arc::from("s"),
            timestamp_micros: ts,
        }
    }

    #[test]
    fn store_then_claim_round_trips_and_release_deletes() {
        let dir = temp_dir("spool");
        let now = now_micros();
        let events: Vec<Event> = (0..5).map(|i| event(i, now - i as u64)).collect();
        assert_eq!(store(&dir, &events).unwrap(), 5);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(SPOOL_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let claim = claim(&dir);
        assert_eq!(claim.events, events);
        assert!(!dir.join(SPOOL_FILE).exists());
        // A second claimer finds nothing: the file is ours.
        assert!(super::claim(&dir).events.is_empty());
        claim.release();
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bounds_and_age_are_enforced() {
        let dir = temp_dir("spool");
        let now = now_micros();
        let old = now - MAX_AGE.as_micros() as u64 - 1;
        let mut events: Vec<Event> = (0..1200).map(|i| event(i, now)).collect();
        events.push(event(9999, old));
        assert_eq!(store(&dir, &events).unwrap(), MAX_EVENTS);
        let kept = read(&dir.join(SPOOL_FILE));
        assert_eq!(kept.first().unwrap().name, "act200");
        let big: Vec<Event> = (0..MAX_EVENTS)
            .map(|i| Event {
                label: "y".repeat(2000),
                ..event(i, now)
            })
            .collect();
        let n = store(&dir, &big).unwrap();
        assert!(n < MAX_EVENTS && n > 0);
        assert!(fs::metadata(dir.join(SPOOL_FILE)).unwrap().len() as usize <= MAX_BYTES);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn torn_lines_are_skipped_and_dead_claims_are_taken_over() {
        let dir = temp_dir("spool");
        let now = now_micros();
        let good = serde_json::to_string(&Line::from(&event(1, now))).unwrap();
        fs::write(
            dir.join(SPOOL_FILE),
            format!("{good}\n{{\"name\": \n\u{0}\n"),
        )
        .unwrap();
        fs::write(
            dir.join(format!("{SPOOL_FILE}.99999999{CLAIM_SUFFIX}")),
            format!("{good}\n"),
        )
        .unwrap();
        let claim = claim(&dir);
        assert_eq!(claim.events.len(), 2);
        claim.release();
        discard(&dir).unwrap();
        fs::remove_dir_all(dir).unwrap();
    }
}
