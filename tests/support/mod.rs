#![allow(dead_code)]
pub mod procs;
pub mod pty;
pub mod server;

use std::path::PathBuf;

/// A new, empty directory under the system temp dir (never the user's `~/intel`).
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ovt-{tag}-{}-{:08x}",
        std::process::id(),
        openvino_telemetry::files::random_u32()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
