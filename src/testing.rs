//! Helpers for the unit tests.

use std::path::PathBuf;

/// A new, empty directory under the system temp dir (never the user's `~/intel`).
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ovt-{tag}-{}-{:08x}",
        std::process::id(),
        crate::files::random_u32()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
