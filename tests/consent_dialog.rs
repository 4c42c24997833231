//! The first-run decision end to end: `examples/probe --dialog` (a real `Telemetry::init`
//! with the consent dialog on) in the foreground of a pseudo-terminal, answered by typing.
//! Checks the files left behind and what would be sent (`OPENVINO_TELEMETRY_DEBUG=1` prints
//! request bodies; nothing leaves the machine). Hang bounds only.
#![cfg(unix)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use openvino_telemetry::consent::CONSENT_FILE;
use openvino_telemetry::dialog::{ACCEPTED_TEXT, DECLINED_TEXT, SHORT_PROMPT, TIMER_TEXT};
use openvino_telemetry::identity::CLIENT_ID_FILE;
use openvino_telemetry::spool::SPOOL_FILE;
use openvino_telemetry::stats::STATS_FILE;
use support::pty::{Job, Pty, PtyCommand};
use support::{probe, temp_dir};

const HANG: Duration = Duration::from_secs(20);

fn config_dir(tag: &str) -> PathBuf {
    temp_dir(tag).join("intel")
}

/// The variables a developer's or CI's environment could hold that change the decision.
const CLEARED: [&str; 6] = [
    "DO_NOT_TRACK",
    "OPENVINO_TELEMETRY_DISABLE",
    "OPENVINO_TELEMETRY_ENDPOINT",
    "CI",
    "GITHUB_ACTIONS",
    "NO_COLOR",
];

fn start(dir: &Path, job: Job, extra: &[&str]) -> Pty {
    let mut cmd = PtyCommand::new(probe());
    cmd.args(["--config-dir", dir.to_str().unwrap(), "--dialog"]);
    cmd.args(extra.iter().copied());
    cmd.args(["session:tool", "shutdown:2000"]);
    for name in CLEARED {
        cmd.env_remove(name);
    }
    cmd.env("OPENVINO_TELEMETRY_DEBUG", "1")
        .env("NO_COLOR", "1")
        .job(job);
    cmd.spawn()
}

fn finish(pty: &mut Pty) -> String {
    let status = pty.wait(HANG).expect("the probe exits");
    assert!(status.success(), "{status:?}: {}", pty.output());
    pty.output()
}

fn consent_file(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(CONSENT_FILE)).ok()
}

#[test]
fn yes_stores_consent_and_sends_the_accepted_event() {
    let dir = config_dir("yes");
    let mut pty = start(&dir, Job::Foreground, &[]);
    pty.read_until(">>", HANG).unwrap();
    // The decline is stored before the question is asked.
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
    pty.write(" Y \n").unwrap();
    let out = finish(&mut pty);
    assert!(out.contains(ACCEPTED_TEXT), "{out}");
    assert!(out.contains("enabled=true"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("1"));
    let cid = fs::read_to_string(dir.join(CLIENT_ID_FILE)).unwrap();
    assert!(openvino_telemetry::identity::is_valid_uuid(&cid));
    assert_eq!(
        fs::read_to_string(dir.join(STATS_FILE)).unwrap(),
        "{\n    \"usage_count\": 1\n}"
    );
    // The accepted event, then the tool's own session event, with the new client id.
    assert!(
        out.contains("{prev_state:undefined, new_state: accepted}"),
        "{out}"
    );
    assert!(out.contains(&format!("\"client_id\":\"{cid}\"")), "{out}");
    assert!(out.contains("\"name\":\"session\""), "{out}");
}

#[test]
fn no_stores_the_decline_and_sends_nothing() {
    let dir = config_dir("no");
    // Events kept from an earlier consent must not survive a "no".
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(SPOOL_FILE), "{}\n").unwrap();
    let mut pty = start(&dir, Job::Foreground, &[]);
    pty.read_until(">>", HANG).unwrap();
    pty.write("no\n").unwrap();
    let out = finish(&mut pty);
    assert!(out.contains(DECLINED_TEXT), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
    assert!(!out.contains("client_id"), "nothing is sent: {out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
    assert!(!dir.join(CLIENT_ID_FILE).exists());
    assert!(!dir.join(STATS_FILE).exists());
    assert!(!dir.join(SPOOL_FILE).exists());
}

#[test]
fn other_input_reasks_then_yes_is_taken() {
    let dir = config_dir("garbage");
    let mut pty = start(&dir, Job::Foreground, &[]);
    pty.read_until(">>", HANG).unwrap();
    pty.write("maybe\n").unwrap();
    pty.read_until(SHORT_PROMPT, HANG).unwrap();
    pty.write("yes\n").unwrap();
    let out = finish(&mut pty);
    assert!(out.contains("enabled=true"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("1"));
}

#[test]
fn no_reply_before_the_timer_means_no_collection() {
    let dir = config_dir("timer");
    let mut pty = start(&dir, Job::Foreground, &["--dialog-timeout-ms", "300"]);
    let out = finish(&mut pty);
    assert!(out.contains(TIMER_TEXT), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
    assert!(!out.contains("client_id"), "{out}");
}

#[test]
fn closed_stdin_means_no_collection() {
    let dir = config_dir("eof");
    let mut pty = start(&dir, Job::Foreground, &[]);
    pty.read_until(">>", HANG).unwrap();
    pty.send_eof().unwrap();
    let out = finish(&mut pty);
    assert!(out.contains("enabled=false"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
}

#[test]
fn ctrl_c_leaves_the_decline_behind() {
    let dir = config_dir("sigint");
    let mut pty = start(&dir, Job::Foreground, &[]);
    pty.read_until(">>", HANG).unwrap();
    pty.send_interrupt().unwrap();
    let status = pty.wait(HANG).expect("the probe exits");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
    assert!(!dir.join(CLIENT_ID_FILE).exists());
}

#[test]
fn a_background_job_is_never_asked_and_creates_nothing() {
    let dir = config_dir("background");
    let mut pty = start(&dir, Job::Background, &[]);
    let out = finish(&mut pty);
    assert!(!out.contains(">>"), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
    assert!(!dir.exists(), "a process that may not ask creates nothing");
}

#[test]
fn a_stored_decision_is_never_asked_again() {
    let dir = config_dir("stored");
    openvino_telemetry::consent::write(&dir, false).unwrap();
    let mut pty = start(&dir, Job::Foreground, &[]);
    let out = finish(&mut pty);
    assert!(!out.contains(">>"), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
}

#[test]
fn without_a_terminal_there_is_no_dialog_and_no_file() {
    let dir = config_dir("pipe");
    let mut cmd = Command::new(probe());
    cmd.args([
        "--config-dir",
        dir.to_str().unwrap(),
        "--dialog",
        "session:tool",
    ]);
    for name in CLEARED {
        cmd.env_remove(name);
    }
    let out = cmd
        .env("OPENVINO_TELEMETRY_DEBUG", "1")
        .stdin(Stdio::piped())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(!stdout.contains(">>"), "{stdout}");
    assert!(stdout.contains("enabled=false"), "{stdout}");
    assert!(stdout.contains("session:tool DISABLED"), "{stdout}");
    assert!(!dir.exists());
}
