//! The record files in the config directory: counting them, claiming them for this
//! process (exactly one of the processes starting together gets each), releasing them once
//! their events are resolved, deleting them.

use std::fs;
use std::path::{Path, PathBuf};

use super::report::{parse_record, Record};
use super::{
    MAX_AGE_MICROS, MAX_RECORDS_PER_INIT, MAX_RECORD_BYTES, PARTIAL_SUFFIX, RECORD_PREFIX,
    RECORD_SUFFIX,
};

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

/// The complete records in `dir` (waiting or claimed), parsed; files that are not a
/// complete record are left out.
pub fn read_records(dir: &Path) -> Vec<Record> {
    record_files(dir)
        .into_iter()
        .filter(|(_, kind)| *kind != Kind::Partial)
        .filter_map(|(name, _)| fs::read_to_string(dir.join(name)).ok())
        .filter_map(|text| parse_record(&text))
        .collect()
}

/// Deletes every crash record in `dir`, sent or not (opt-out, init without consent).
/// Returns how many files were deleted.
pub fn discard_records(dir: &Path) -> usize {
    record_files(dir)
        .into_iter()
        .filter(|(name, _)| fs::remove_file(dir.join(name)).is_ok())
        .count()
}

/// Records claimed by this process: their events are to be queued; `files` are deleted
/// by [`release`] once every one of those events was delivered or kept in the spool.
#[derive(Debug, Default)]
pub struct Claim {
    pub records: Vec<Record>,
    pub files: Vec<PathBuf>,
}

/// Claims the records in `dir` by renaming them to `<record>.<pid>.claimed` (of processes
/// starting together, exactly one gets each), taking over the claims of processes that
/// died before their events were resolved. Returns those to send: complete, written under
/// `client_id`, younger than 72 hours at `now_micros`, the newest
/// [`MAX_RECORDS_PER_INIT`]; the others are deleted unsent.
pub fn claim_records(dir: &Path, client_id: &str, now_micros: u64) -> Claim {
    let mut kept: Vec<(Record, PathBuf)> = Vec::new();
    for path in claim_files(dir) {
        match read_sendable(&path, client_id, now_micros) {
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

/// Renames to this process's claims the complete records and the claims of processes that
/// are gone; deletes partial records left by a handler that died. The claimed paths.
fn claim_files(dir: &Path) -> Vec<PathBuf> {
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
            Kind::Claimed => match abandoned_claim(&name, me) {
                Some(base) => base,
                None => continue, // its owner is still sending it
            },
        };
        let own = dir.join(format!("{base}.{me}{CLAIM_SUFFIX}"));
        if fs::rename(&path, &own).is_ok() {
            claimed.push(own);
        }
    }
    claimed
}

/// The record name of a claim whose owner process is gone (not `me`).
fn abandoned_claim(name: &str, me: u32) -> Option<&str> {
    let (base, owner) = name.strip_suffix(CLAIM_SUFFIX)?.rsplit_once('.')?;
    let owner = owner.parse::<u32>().ok()?;
    (owner != me && !crate::spool::process_alive(owner)).then_some(base)
}

/// The record at `path` if it is complete, written under `client_id` and young enough to
/// send at `now_micros`.
fn read_sendable(path: &Path, client_id: &str, now_micros: u64) -> Option<Record> {
    let bytes = crate::files::read_limited(path, MAX_RECORD_BYTES).ok()??;
    let record = parse_record(&String::from_utf8(bytes).ok()?)?;
    (record.client_id == client_id
        && now_micros.saturating_sub(record.time_micros) < MAX_AGE_MICROS)
        .then_some(record)
}

/// Deletes claimed records whose events are all resolved.
pub fn release(files: &[PathBuf]) {
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
    use super::super::report::tests::{text, CID};
    use super::super::MAX_AGE_MICROS;
    use super::*;

    #[test]
    fn claims_keep_own_fresh_records_until_released_and_delete_the_rest() {
        let dir = tempfile::tempdir().unwrap().keep();
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
