//! Several processes sharing one config directory: consent flips are atomic for readers,
//! usage increments are never lost. A test's child processes re-run that same test with
//! `OVT_ROLE` set, which sends it straight to its role (a plain function, never a test that
//! passes doing nothing).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use openvino_telemetry::{directory, Error};
use support::{probe, temp_dir};

mod support;

const WRITERS: usize = 8;
const FLIPS: usize = 1000;
const READERS: usize = 2;

fn spawn_role(test: &str, role: &str, dir: &Path, extra: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("OVT_ROLE", role)
        .env("OVT_DIR", dir)
        .env("OVT_EXTRA", extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn role() -> Option<(String, PathBuf, String)> {
    let role = std::env::var("OVT_ROLE").ok()?;
    let dir = std::env::var("OVT_DIR").ok()?.into();
    Some((role, dir, std::env::var("OVT_EXTRA").unwrap_or_default()))
}

/// The tests of this file start up to 10 busy processes each: one at a time, so that each
/// measures its own 8 processes, not 20 on 2 cores.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "child failed: {text}");
    text
}

/// Child role: flips the decision FLIPS times, or reads until told to stop.
fn consent_flipper((role, dir, extra): (String, PathBuf, String)) {
    match role.as_str() {
        "writer" => {
            let offset: usize = extra.parse().unwrap();
            for i in 0..FLIPS {
                directory::write_consent(&dir, (i + offset).is_multiple_of(2)).unwrap();
            }
        }
        "reader" => {
            let stop = dir.join("stop");
            let mut reads = 0u64;
            loop {
                let done = stop.exists();
                let bytes = fs::read(dir.join(directory::CONSENT_FILE)).unwrap();
                assert!(
                    bytes == b"0" || bytes == b"1",
                    "a reader saw {:?} after {reads} reads",
                    String::from_utf8_lossy(&bytes)
                );
                reads += 1;
                // Leave the CPU to the writers between reads (2 cores on CI).
                std::thread::yield_now();
                if done {
                    break;
                }
            }
            println!("READS {reads}");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn readers_never_see_a_torn_consent_file_while_8_writers_flip_it() {
    const TEST: &str = "readers_never_see_a_torn_consent_file_while_8_writers_flip_it";
    if let Some(role) = role() {
        return consent_flipper(role);
    }
    let _one = one_at_a_time();
    let dir = temp_dir("flip").join("intel");
    directory::write_consent(&dir, false).unwrap();
    let readers: Vec<Child> = (0..READERS)
        .map(|_| spawn_role(TEST, "reader", &dir, ""))
        .collect();
    let writers: Vec<Child> = (0..WRITERS)
        .map(|i| spawn_role(TEST, "writer", &dir, &i.to_string()))
        .collect();
    for w in writers {
        finish(w);
    }
    fs::write(dir.join("stop"), b"").unwrap();
    let mut total = 0u64;
    for r in readers {
        let out = finish(r);
        let reads: u64 = out
            .lines()
            .find_map(|l| l.split_once("READS ").map(|(_, n)| n))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no count in {out}"));
        total += reads;
    }
    assert!(total >= READERS as u64, "{total}");
    // No temporary file is left behind by 8,000 atomic replacements.
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "stop")
        .collect();
    assert_eq!(names, [directory::CONSENT_FILE]);
}

const INCREMENTS: usize = 50;

/// Child role: counts INCREMENTS usages. An attempt that gives up waiting for the lock
/// (its documented 1 s bound, reachable on a crowded 2-core machine) counts nothing and is
/// made again: what is checked is that no increment is lost.
fn usage_counter((role, dir, _): (String, PathBuf, String)) {
    assert_eq!(role, "counter");
    let mut gave_up = 0;
    for _ in 0..INCREMENTS {
        loop {
            match directory::record_usage(&dir) {
                Ok(_) => break,
                Err(Error::Io { source, .. }) if source.kind() == ErrorKind::TimedOut => {
                    gave_up += 1;
                }
                Err(other) => panic!("record_usage: {other}"),
            }
        }
    }
    println!("GAVE_UP {gave_up}");
}

#[test]
fn usage_increments_from_8_processes_are_never_lost() {
    const TEST: &str = "usage_increments_from_8_processes_are_never_lost";
    if let Some(role) = role() {
        return usage_counter(role);
    }
    let _one = one_at_a_time();
    let dir = temp_dir("stats").join("intel");
    directory::set_consent(&dir, true).unwrap();
    fs::write(
        dir.join(directory::STATS_FILE),
        "{\"usage_count\": 5, \"other\": \"kept\"}",
    )
    .unwrap();
    let children: Vec<Child> = (0..8)
        .map(|_| spawn_role(TEST, "counter", &dir, ""))
        .collect();
    for c in children {
        finish(c);
    }
    assert_eq!(
        directory::usage_count(&dir),
        Some(5 + 8 * INCREMENTS as u64)
    );
    let text = fs::read_to_string(dir.join(directory::STATS_FILE)).unwrap();
    assert!(text.contains("\"other\": \"kept\""), "{text}");
}

#[test]
fn eight_tools_starting_at_once_count_eight_usages() {
    let _one = one_at_a_time();
    let dir = temp_dir("inits").join("intel");
    directory::set_consent(&dir, true).unwrap();
    let children: Vec<Child> = (0..8)
        .map(|_| {
            Command::new(probe())
                .args(["--config-dir", dir.to_str().unwrap(), "shutdown:0"])
                .env_clear()
                .env("OPENVINO_TELEMETRY_DEBUG", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = finish(c);
        assert!(out.contains("enabled=true"), "{out}");
    }
    assert_eq!(directory::usage_count(&dir), Some(8));
}
