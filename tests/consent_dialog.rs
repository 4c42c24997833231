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

use openvino_telemetry::dialog::{ACCEPTED_TEXT, DECLINED_TEXT, SHORT_PROMPT, TIMER_TEXT};
use openvino_telemetry::directory::{CLIENT_ID_FILE, CONSENT_FILE, SPOOL_FILE, STATS_FILE};
use support::pty::{Job, Pty, PtyCommand};
use support::{probe, scratch_dir};
use tempfile::TempDir;

const HANG: Duration = Duration::from_secs(20);

/// `<temp>/intel`, not created; the guard removes `<temp>`.
fn config_dir(tag: &str) -> (TempDir, PathBuf) {
    let temp = scratch_dir(tag);
    let dir = temp.path().join("intel");
    (temp, dir)
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
    command(dir, job, extra).spawn()
}

/// The probe with the dialog on, `extra` options, then a session and a shutdown.
fn command(dir: &Path, job: Job, extra: &[&str]) -> PtyCommand {
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
    cmd
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
    let (_temp, dir) = config_dir("yes");
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
    // The form the Python client writes: lowercase, hyphenated, 36 characters.
    assert_eq!(
        uuid::Uuid::parse_str(&cid)
            .unwrap()
            .hyphenated()
            .to_string(),
        cid
    );
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
    let (_temp, dir) = config_dir("no");
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
    let (_temp, dir) = config_dir("garbage");
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
    let (_temp, dir) = config_dir("timer");
    let mut pty = start(&dir, Job::Foreground, &["--dialog-timeout-ms", "300"]);
    let out = finish(&mut pty);
    assert!(out.contains(TIMER_TEXT), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
    assert!(!out.contains("client_id"), "{out}");
}

#[test]
fn closed_stdin_means_no_collection() {
    let (_temp, dir) = config_dir("eof");
    let mut pty = start(&dir, Job::Foreground, &[]);
    pty.read_until(">>", HANG).unwrap();
    pty.send_eof().unwrap();
    let out = finish(&mut pty);
    assert!(out.contains("enabled=false"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
}

#[test]
fn ctrl_c_leaves_the_decline_behind() {
    let (_temp, dir) = config_dir("sigint");
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
fn a_background_job_is_never_asked_creates_nothing_and_says_why() {
    let (_temp, dir) = config_dir("background");
    let mut pty = start(&dir, Job::Background, &[]);
    let out = finish(&mut pty);
    assert!(!out.contains(">>"), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
    assert!(
        out.contains(
            "reason=no consent was given (no decision stored, and no dialog: not in the \
             terminal's foreground process group (a background job))"
        ),
        "{out}"
    );
    assert!(!dir.exists(), "a process that may not ask creates nothing");
}

#[test]
fn with_the_dialog_option_off_a_terminal_is_not_asked_and_the_reason_says_so() {
    let (_temp, dir) = config_dir("option-off");
    let mut cmd = PtyCommand::new(probe());
    cmd.args(["--config-dir", dir.to_str().unwrap(), "session:tool"]);
    for name in CLEARED {
        cmd.env_remove(name);
    }
    let mut pty = cmd.env("OPENVINO_TELEMETRY_DEBUG", "1").spawn();
    let out = finish(&mut pty);
    assert!(!out.contains(">>"), "{out}");
    assert!(
        out.contains("no dialog: the consent dialog option is off)"),
        "{out}"
    );
    assert!(!dir.exists());
}

/// `tool > out.txt 2> log`: the prompt is on the terminal, the answer is taken, and neither
/// file holds any of the dialog.
#[test]
fn stdout_and_stderr_in_files_the_dialog_still_asks_on_the_terminal() {
    let (_temp, dir) = config_dir("redirected");
    let files = scratch_dir("redirected-out");
    let (out_path, err_path) = (files.path().join("out.txt"), files.path().join("log"));
    let mut pty = command(&dir, Job::Foreground, &[])
        .stdout_file(&out_path)
        .stderr_file(&err_path)
        .spawn();
    pty.read_until(">>", HANG).unwrap();
    pty.write("y\n").unwrap();
    let screen = finish(&mut pty);
    assert!(
        screen.contains("Intel would like your permission"),
        "{screen}"
    );
    assert!(screen.contains(ACCEPTED_TEXT), "{screen}");
    assert!(
        !screen.contains("enabled="),
        "stdout went to the file: {screen}"
    );
    assert_eq!(consent_file(&dir).as_deref(), Some("1"));

    let stdout = fs::read_to_string(&out_path).unwrap();
    let stderr = fs::read_to_string(&err_path).unwrap();
    assert!(stdout.starts_with("enabled=true\n"), "{stdout}");
    // The debug transport prints what would be sent on stderr: the accepted event.
    assert!(stderr.contains("new_state: accepted"), "{stderr}");
    for file in [&stdout, &stderr] {
        for text in ["Intel would like", ">>", ACCEPTED_TEXT, SHORT_PROMPT] {
            assert!(!file.contains(text), "{text:?} leaked into a file: {file}");
        }
    }
}

/// `sh -c 'tool …; …'`: the tool is not a process-group leader, but in the foreground group.
#[test]
fn a_tool_started_by_a_wrapper_script_is_asked() {
    let (_temp, dir) = config_dir("wrapper");
    let mut cmd = PtyCommand::new("/bin/sh");
    cmd.args(["-c", "\"$0\" \"$@\"; status=$?; exit $status"]);
    cmd.arg(probe());
    cmd.args([
        "--config-dir",
        dir.to_str().unwrap(),
        "--dialog",
        "session:tool",
    ]);
    for name in CLEARED {
        cmd.env_remove(name);
    }
    let mut pty = cmd
        .env("OPENVINO_TELEMETRY_DEBUG", "1")
        .env("NO_COLOR", "1")
        .spawn();
    pty.read_until(">>", HANG).unwrap();
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
    pty.write("no\n").unwrap();
    let out = finish(&mut pty);
    assert!(out.contains(DECLINED_TEXT), "{out}");
    assert!(out.contains("reason=the user declined now"), "{out}");
    assert_eq!(consent_file(&dir).as_deref(), Some("0"));
}

#[test]
fn a_stored_decision_is_never_asked_again() {
    let (_temp, dir) = config_dir("stored");
    openvino_telemetry::directory::write_consent(&dir, false).unwrap();
    let mut pty = start(&dir, Job::Foreground, &[]);
    let out = finish(&mut pty);
    assert!(!out.contains(">>"), "{out}");
    assert!(out.contains("enabled=false"), "{out}");
}

#[test]
fn without_a_terminal_there_is_no_dialog_and_no_file() {
    let (_temp, dir) = config_dir("pipe");
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
    assert!(
        stdout.contains("no dialog: stdin is not a terminal)"),
        "{stdout}"
    );
    assert!(stdout.contains("session:tool DISABLED"), "{stdout}");
    assert!(!dir.exists());
}
