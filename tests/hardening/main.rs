//! Hardening (issue #5): a telemetry library is a guest in somebody else's process. It may
//! fail to report; it may never take the host down, hang it, corrupt its files or leak
//! the user's data. Every scenario here has a row in `RELIABILITY.md`.
//!
//! The process environment of this test binary is never changed (tests run in parallel
//! threads): environments are given to child processes — `examples/probe`, `opt_in_out`,
//! or a test's own process (`support::own_process`, for signal dispositions, forks and
//! peak memory). Mount tricks (read-only directory, full disk, a hidden home) run inside
//! `unshare -m`, so nothing reaches the host's mount table; they need root and a root that
//! is a mount point, so they are ignored by default and `scripts/test` runs them where
//! they can run; there, a missing privilege fails them loudly.
//! Time bounds are gross (seconds), never tight.

#[path = "../support/mod.rs"]
mod support;

mod files;
mod fork;
mod host;
mod load;
mod mounts;
mod security;
mod spool;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openvino_telemetry::directory::{self, CLIENT_ID_FILE, PENDING_PREFIX, SPOOL_FILE, STATS_FILE};
use openvino_telemetry::DEFAULT_API_SECRET;
use openvino_telemetry::{Counters, Error, Options, Telemetry};
use rusty_fork::rusty_fork_test_name;
use serde_json::Value;
use support::own_process::run_in_own_process;
use support::procs::{accepted_dir, names_in, opt_in_out};
use support::server::{Mode, TestServer};
use support::{probe, scratch_dir, temp_dir};
use tempfile::TempDir;

const LONG: Duration = Duration::from_secs(20);
/// Every child process is killed (and the test failed) after this long.
const WATCHDOG: Duration = Duration::from_secs(60);

fn options(dir: &Path, endpoint: &str) -> Options {
    let mut options = Options::new("hardening_test", "1.0", "G-HARDEN");
    options.config_dir = Some(dir.to_path_buf());
    options.endpoint = Some(endpoint.to_string());
    options
}

/// Init with an empty environment: nothing of this process's variables counts.
fn init(options: &Options) -> Telemetry {
    Telemetry::init_with_env(options, &|_: &str| None).unwrap()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A loopback URL nobody listens on: connections are refused at once ("network down").
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/mp/collect")
}

/// `probe` with an empty environment but for `HOME` (a private temp dir).
fn probe_command(dir: Option<&Path>, endpoint: &str, steps: &[&str]) -> Command {
    let mut cmd = Command::new(probe());
    cmd.env_clear().env("HOME", temp_dir("home"));
    if let Some(dir) = dir {
        cmd.arg("--config-dir").arg(dir);
    }
    cmd.args(["--endpoint", endpoint]).args(steps);
    cmd
}

/// Runs a child in its own process group; kills the whole group and fails the test when it
/// is not done within `limit`.
fn run_with_deadline(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let shown = format!("{cmd:?}");
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => (output.unwrap(), started.elapsed()),
        Err(_) => {
            // SAFETY: signals the process group this function created.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let output = rx.recv().unwrap().unwrap();
            panic!(
                "HANG: {shown} was still running after {limit:?} and was killed\n\
                 stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs a probe and checks it exited normally; returns its stdout.
fn run_probe(cmd: Command) -> String {
    let (output, _) = run_with_deadline(cmd, WATCHDOG);
    let all = text(&output);
    assert!(output.status.success(), "probe failed: {all}");
    assert!(!all.contains("panicked"), "{all}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The rest of the first line holding `marker` (the test harness may print before it).
fn line<'a>(out: &'a str, marker: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.find(marker).map(|at| &l[at + marker.len()..]))
        .unwrap_or_else(|| panic!("no {marker:?} line in:\n{out}"))
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every event line kept on disk, whatever file holds it (pending, claimed, version 1's).
fn spool_lines(dir: &Path) -> Vec<Value> {
    spool_leftovers(dir)
        .into_iter()
        .filter_map(|name| fs::read_to_string(dir.join(name)).ok())
        .flat_map(|text| {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// Writes a spool by hand, in the library's format: one JSON object per line, under the
/// directory's client id (the fixed one of the tmpfs test where there is none yet).
fn write_spool(dir: &Path, events: &[(String, u64)]) {
    let cid = openvino_telemetry::directory::client_id(dir)
        .unwrap_or_else(|| "b05ef51d-3610-4440-bce3-6140be6d302c".to_string());
    let mut text = String::new();
    for (label, ts) in events {
        let line = serde_json::json!({
            "name": "spooled",
            "category": "c",
            "label": label,
            "count": 1,
            "session_id": "f0f0f0f0-0000-4000-8000-000000000000",
            "timestamp_micros": ts,
            "cid": cid,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    fs::write(dir.join(SPOOL_FILE), text).unwrap();
}

fn labels_of(events: &[Value], name: &str) -> Vec<String> {
    let mut labels: Vec<String> = events
        .iter()
        .filter(|e| e["name"] == name)
        .map(|e| e["params"]["event_label"].as_str().unwrap().to_string())
        .collect();
    labels.sort();
    labels
}

fn spool_leftovers(dir: &Path) -> Vec<String> {
    names_in(dir)
        .into_iter()
        .filter(|n| n.contains("spool") || n.starts_with(PENDING_PREFIX))
        .collect()
}

/// A run of `probe` with the network down: `n` events end up in the spool.
fn spool_offline(dir: &Path, n: usize) {
    let steps = format!("events:{n}");
    let out = run_probe(probe_command(
        Some(dir),
        &closed_port_url(),
        &[&steps, "shutdown:200"],
    ));
    assert!(out.contains("enabled=true"), "{out}");
    assert_eq!(spool_lines(dir).len(), n, "{out}");
}

/// A line `KEY value` of /proc/self/status, in kB.
fn proc_status_kb(key: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"))
}

/// Runs `script` under `sh` in a new mount namespace (so mounts stay private to it).
fn in_mount_namespace(script: &str, args: &[&std::ffi::OsStr]) -> Output {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
    .args(args);
    let (output, _) = run_with_deadline(cmd, WATCHDOG);
    let all = text(&output);
    assert!(
        !all.contains("MOUNT-FAILED") && output.status.code() != Some(99),
        "the test needs `unshare -m` and mount (root, and a root that is a mount point, \
         i.e. not a chroot): they failed, so the scenario was NOT tested:\n{all}"
    );
    output
}
