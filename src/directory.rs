//! The shared directory from Rust: where it is, the names of its files and what they hold.
//!
//! This is the library's public view of the files it shares with the Python client and the
//! other OpenVINO tools (README: "Consent: files and the decision" and "The shared
//! directory"). Every function here reads or writes them under the same rules as
//! [`crate::Telemetry::init`] and the `opt_in_out` command; nothing here sends anything.

use std::path::{Path, PathBuf};

use crate::{Consent, Result};

pub use crate::consent::CONSENT_FILE;
pub use crate::crash::{
    Record as CrashRecord, RECORD_PREFIX as CRASH_RECORD_PREFIX,
    RECORD_SUFFIX as CRASH_RECORD_SUFFIX,
};
pub use crate::event::Event as PendingEvent;
pub use crate::identity::CLIENT_ID_FILE;
pub use crate::sent::{Record as SentRecord, MAX_BYTES as SENT_MAX_BYTES, SENT_FILE};
pub use crate::spool::{PENDING_PREFIX, SPOOL_FILE};
pub use crate::stats::STATS_FILE;

/// The directory used when none is given: `$HOME/intel` on Linux and macOS,
/// `%LOCALAPPDATA%\Intel Corporation` on Windows; `None` when no home directory is known.
pub fn default_dir() -> Option<PathBuf> {
    crate::consent::default_config_dir()
}

/// The directory to use: `given`, else [`default_dir`]. An empty `given` is an error.
pub fn resolve(given: Option<&Path>) -> Result<PathBuf> {
    crate::consent::config_dir(given)
}

/// The stored decision, read as the Python client reads it. A file that is neither `1`
/// nor `0` counts as declined. Reading a plain `0` deletes this library's own files
/// (waiting events, the sent record, crash records), as every native read does.
pub fn consent(dir: &Path) -> Consent {
    crate::consent::read(dir).0
}

/// Writes the bare decision file (`1` or `0`), exactly as the Python client does: no client
/// id is made and nothing is deleted. Use [`set_consent`] for what a user's choice does.
pub fn write_consent(dir: &Path, accepted: bool) -> Result<()> {
    crate::consent::write(dir, accepted)
}

/// Applies a user's choice as `opt_in_out` does: accepting writes `1` and a new client id;
/// declining writes `0` and deletes the client id, the usage count and every file this
/// library keeps. Returns the decision stored before.
pub fn set_consent(dir: &Path, accepted: bool) -> Result<Consent> {
    crate::consent::set(dir, accepted)
}

/// The stored client id, if a valid one is there. Never writes.
pub fn client_id(dir: &Path) -> Option<String> {
    crate::identity::peek(dir)
}

/// The usage count in `stats`, if a valid positive one is there. Never writes.
pub fn usage_count(dir: &Path) -> Option<u64> {
    crate::stats::read_usage(dir)
}

/// Counts one usage under the directory lock, as an init with consent does, and returns
/// the new count.
pub fn record_usage(dir: &Path) -> Result<u64> {
    crate::stats::record_usage(dir).map(|usage| usage.count)
}

/// Every event waiting on disk to be sent by a later run, as it would be sent.
pub fn pending_events(dir: &Path) -> Vec<PendingEvent> {
    crate::spool::pending_events(dir)
}

/// How many events wait on disk (what `opt_in_out --status` reports).
pub fn pending_count(dir: &Path) -> usize {
    crate::spool::pending_count(dir)
}

/// The crash records waiting to be reported, complete ones only, in no particular order.
pub fn crash_records(dir: &Path) -> Vec<CrashRecord> {
    crate::crash::read_records(dir)
}

/// The record of what was sent from this directory (`opt_in_out --show`). An error only
/// when the file exists and cannot be read.
pub fn sent_record(dir: &Path) -> Result<SentRecord> {
    crate::sent::read(dir)
}
