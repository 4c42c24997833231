//! Real processes against one config directory: `examples/probe` and `opt_in_out` with an
//! empty environment but for a private `HOME`, and the probe's step output.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openvino_telemetry::directory;

use super::{probe, temp_dir};

/// Longest wait for a hand-shake file (a gross bound against hangs).
const HANDSHAKE: Duration = Duration::from_secs(30);

/// A fresh `<tmp>/intel` where the user accepted (`1` and a client id).
pub fn accepted_dir(tag: &str) -> PathBuf {
    let dir = temp_dir(tag).join("intel");
    directory::set_consent(&dir, true).unwrap();
    dir
}

pub fn opt_in_out() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opt_in_out"))
}

/// `opt_in_out FLAG --config-dir DIR`, its `accepted` event sent to `endpoint`; must succeed.
pub fn opt(dir: &Path, endpoint: &str, flag: &str) {
    let out = Command::new(opt_in_out())
        .env_clear()
        .env("HOME", temp_dir("home"))
        .env("OPENVINO_TELEMETRY_ENDPOINT", endpoint)
        .arg(flag)
        .arg("--config-dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// `probe --config-dir DIR --endpoint URL STEPS…`, output piped.
pub fn probe_command(dir: &Path, endpoint: &str, steps: &[&str]) -> Command {
    let mut cmd = Command::new(probe());
    cmd.env_clear()
        .env("HOME", temp_dir("home"))
        .arg("--config-dir")
        .arg(dir)
        .args(["--endpoint", endpoint])
        .args(steps)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Everything a child printed, whatever its exit.
pub fn output(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Everything a child printed; it must have succeeded without a panic.
pub fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "probe failed: {text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

/// The outcome the probe printed for `step` ("OK", "DISABLED", …) and its duration.
pub fn step<'a>(out: &'a str, step: &str) -> (&'a str, Duration) {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{step} ")))
        .unwrap_or_else(|| panic!("no step {step} in:\n{out}"));
    let mut words = line[step.len() + 1..].rsplitn(2, ' ');
    let micros = words
        .next()
        .unwrap()
        .trim_end_matches("us")
        .parse()
        .unwrap();
    (words.next().unwrap_or(""), Duration::from_micros(micros))
}

/// Waits for a hand-shake file another process creates.
pub fn wait_for(path: &Path) {
    let deadline = Instant::now() + HANDSHAKE;
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
