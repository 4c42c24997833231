//! Replays every input kept under `fuzz/regressions/<target>/` through the fuzz target's
//! own check (the parent module), so `cargo test` keeps every finding of the fuzzers fixed
//! without needing cargo-fuzz or a nightly compiler.
//! See `fuzz/README.md` for how the targets are run and inputs are added.

use super as checks;

use std::fs;
use std::path::{Path, PathBuf};

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// Runs every kept input of `target`; reports all failures at once, by file name.
fn replay(target: &str) {
    let (_, check) = checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no fuzz target {target}"));
    let dir = regressions().join(target);
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no input", dir.display());
    let scratch = checks::Scratch::new(target);
    let mut failures = Vec::new();
    for input in &inputs {
        let data = fs::read(input).unwrap();
        let outcome = std::panic::catch_unwind(|| check(scratch.path(), &data));
        if let Err(payload) = outcome {
            let why = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {why}", input.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} inputs fail:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn consent_file_regressions() {
    replay("consent_file");
}

#[test]
fn stats_file_regressions() {
    replay("stats_file");
}

#[test]
fn normalise_regressions() {
    replay("normalise");
}

#[test]
fn endpoint_regressions() {
    replay("endpoint");
}

#[test]
fn spool_file_regressions() {
    replay("spool_file");
}

#[test]
fn every_regression_directory_belongs_to_a_target() {
    for entry in fs::read_dir(regressions()).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_type().unwrap().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            checks::TARGETS.iter().any(|(target, _)| *target == name),
            "fuzz/regressions/{name} has no target: its inputs would never run"
        );
    }
}
