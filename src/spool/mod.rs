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

mod claim;
mod lines;
mod names;

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::event::Event;
use crate::files::TEMP_SUFFIX;
use lines::{read, Line};
use names::is_spool_file;

pub(crate) use claim::process_alive;
pub use claim::{claim, consolidate, register_live, release, shrink_claim, unregister_live};
#[cfg(test)]
pub use lines::render;
pub use lines::render_bounded;
pub use names::new_pending_name;

/// Prefix of every pending or claimed file.
pub const PENDING_PREFIX: &str = "openvino_telemetry_pending.";
const PENDING_SUFFIX: &str = ".jsonl";
const CLAIMED_SUFFIX: &str = ".claimed";
/// Version 1's single spool file, and its claims (`<spool>.<pids>.claimed`).
pub const SPOOL_FILE: &str = "openvino_telemetry_spool.jsonl";
pub const MAX_EVENTS: usize = 1000;
/// The most one pending file holds.
pub const MAX_BYTES: usize = 1024 * 1024;
pub const MAX_AGE: Duration = Duration::from_secs(72 * 3600);

/// Events waiting on disk (pending and claimed files), for `opt_in_out --status`.
pub fn pending_count(dir: &Path) -> usize {
    spool_lines(dir).len()
}

/// Every event waiting on disk, as it would be sent (for tests and `--status`).
pub fn pending_events(dir: &Path) -> Vec<Event> {
    spool_lines(dir).into_iter().map(Line::into_event).collect()
}

fn spool_lines(dir: &Path) -> Vec<Line> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| is_spool_file(&e.file_name().to_string_lossy()))
        .flat_map(|e| read(&e.path()))
        .collect()
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
        let temp = name.starts_with(&temp_prefix) && name.ends_with(TEMP_SUFFIX);
        if temp || is_spool_file(&name) {
            let _ = fs::remove_file(entry.path());
        }
    }
    Ok(())
}

#[cfg(test)]
mod test_events {
    use std::path::Path;
    use std::sync::Arc;

    use super::{new_pending_name, render};
    use crate::event::{Event, ScrubState};
    use crate::files;

    pub const CID: &str = "b05ef51d-3610-4440-bce3-6140be6d302c";

    pub fn now() -> u64 {
        files::now_micros()
    }

    pub fn event(i: usize, ts: u64) -> Event {
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
    pub fn put(dir: &Path, events: &[Event], cid: &str) {
        files::write_atomic(dir, &new_pending_name(), &render(events, cid)).unwrap();
    }
}
