//! Offline spool: events that could not be delivered, kept for the next run with consent.

use std::path::Path;

use crate::error::Result;
use crate::files;

pub const SPOOL_FILE: &str = "openvino_telemetry_spool.jsonl";

/// Deletes everything queued on disk.
pub fn discard(dir: &Path) -> Result<()> {
    files::remove(dir, SPOOL_FILE)
}
