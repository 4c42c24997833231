#![allow(dead_code)]
pub mod own_process;
pub mod procs;
pub mod pty;
pub mod server;

use std::path::PathBuf;

use tempfile::TempDir;

/// A new, empty directory under the system temp dir (never the user's `~/intel`), removed
/// when the guard drops.
pub fn scratch_dir(tag: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("ovt-{tag}-"))
        .tempdir()
        .unwrap()
}

/// As [`scratch_dir`], but the directory is left behind: for tests that keep only its path.
pub fn temp_dir(tag: &str) -> PathBuf {
    scratch_dir(tag).keep()
}

/// An example binary built by `cargo test` (which builds examples before integration
/// tests) into `<target>/<profile>/examples/`, beside this test's `deps/` directory.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in <target>/<profile>/deps")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo test` (it builds examples) or `cargo build --examples`",
        path.display()
    );
    path
}

/// `examples/probe`, the command-line driver of the Rust API.
pub fn probe() -> PathBuf {
    example("probe")
}
