//! Claiming what other handles left: a pending file (or a claim whose owner died) becomes
//! this process's by one rename, so no event is sent by two runs; the claim is deleted
//! once its events are resolved.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::lines::{fresh, read, render, Line};
use super::names::{claimed_name, classify, new_stem, Entry};
use super::MAX_EVENTS;
use crate::event::Event;
use crate::files;

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

/// Claims the pending files of handles that are gone, and claims left by processes that
/// are gone. Keeps the events collected under `client_id` (or before ids were recorded)
/// that are younger than 72 hours, the newest 1,000; the files of the others are deleted
/// once released. Never waits for the directory lock: each claim is one rename.
pub fn claim(dir: &Path, client_id: &str, now_micros: u64) -> Claim {
    let files = claim_files(dir);
    let events = claimed_events(dir, &files, client_id, now_micros);
    Claim { events, files }
}

/// Renames every claimable file in `dir` to a claim of this process; returns the claims.
fn claim_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let pid = std::process::id();
    let gone = |other: u32| other != pid && !process_alive(other);
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut claimed = Vec::new();
    for name in names {
        let stem = match classify(&name) {
            Entry::Pending { writer, stem }
                if gone(writer) || (writer == pid && !is_live_here(&name)) =>
            {
                stem
            }
            Entry::Claimed { owner, stem } if gone(owner) => stem,
            Entry::Legacy => format!("0.legacy{:08x}", files::random_u32()),
            Entry::LegacyClaimed { owner } if gone(owner) => {
                format!("0.legacy{:08x}", files::random_u32())
            }
            _ => continue,
        };
        let owned = dir.join(claimed_name(&stem, pid));
        if fs::rename(dir.join(&name), &owned).is_ok() {
            claimed.push(owned);
        }
    }
    claimed
}

/// The events of the claimed `files` that may be sent under `client_id` now: its own,
/// younger than 72 hours, the newest 1,000, in time order.
fn claimed_events(dir: &Path, files: &[PathBuf], client_id: &str, now_micros: u64) -> Vec<Event> {
    let id_born = client_id_born(dir);
    let mut events: Vec<Event> = files
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
    events
}

/// When the current client id was created. Version 1's lines name no client id: they
/// belong to the current one only if they were collected after it was created (an
/// opt-out and opt-in since makes them older).
fn client_id_born(dir: &Path) -> u64 {
    fs::metadata(dir.join(crate::identity::CLIENT_ID_FILE))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(u64::MAX, |d| d.as_micros() as u64)
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
    let name = claimed_name(&new_stem(pid), pid);
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

#[cfg(test)]
mod tests {
    use super::super::test_events::{event, now, put, CID};
    use super::super::{discard, new_pending_name, pending_count, MAX_AGE, SPOOL_FILE};
    use super::super::{CLAIMED_SUFFIX, PENDING_PREFIX};
    use super::*;
    use crate::event::ScrubState;

    #[test]
    fn files_are_claimed_once_and_release_deletes() {
        let dir = tempfile::tempdir().unwrap().keep();
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
        let dir = tempfile::tempdir().unwrap().keep();
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
        let dir = tempfile::tempdir().unwrap().keep();
        let mut e = event(3, now());
        e.scrub = ScrubState::Raw { complete: false };
        put(&dir, std::slice::from_ref(&e), CID);
        assert_eq!(claim(&dir, CID, now()).events, vec![e]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn torn_lines_are_skipped_and_dead_and_legacy_claims_are_taken_over() {
        let dir = tempfile::tempdir().unwrap().keep();
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
