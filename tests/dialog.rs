//! The consent dialog as a user meets it: `examples/dialog_probe` runs on a real
//! pseudo-terminal (see `support/pty.rs`) and the tests type the answers.
//!
//! The probe binary: `cargo test` builds the examples before it runs integration tests, into
//! `<target>/<profile>/examples/`, while this test runs from `<target>/<profile>/deps/`. So the
//! probe is found from `std::env::current_exe()` → parent (`deps`) → parent → `examples`.
//! Selecting only this test (`cargo test --test dialog`) does not build examples: run
//! `cargo build --examples` first, or use plain `cargo test`.
//!
//! Timeouts here are hang bounds only; no test measures time.
#![cfg(unix)]

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openvino_telemetry::dialog::{
    ACCEPTED_TEXT, DECLINED_TEXT, MESSAGE, NO_ANSWER_TEXT, SHORT_PROMPT, TIMER_TEXT,
};
use support::pty::{Job, Pty, PtyCommand};

/// Gross bound for anything that should happen at once.
const HANG: Duration = Duration::from_secs(10);

fn probe() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in <target>/<profile>/deps");
    let probe = profile_dir
        .join("examples")
        .join(format!("dialog_probe{}", std::env::consts::EXE_SUFFIX));
    assert!(
        probe.is_file(),
        "{} is missing: run `cargo test` (which builds examples) or `cargo build --examples`",
        probe.display()
    );
    probe
}

/// The probe as the foreground job of a new terminal, with colours off unless asked.
fn start(args: &[&str]) -> Pty {
    PtyCommand::new(probe())
        .args(args)
        .env("NO_COLOR", "1")
        .spawn()
}

/// Waits for the message and its prompt, as a user would before typing.
fn wait_for_prompt(pty: &mut Pty) -> String {
    pty.read_until("can_prompt=true", HANG).unwrap();
    pty.read_until(">>", HANG).unwrap()
}

fn expect_clean_exit(pty: &mut Pty) {
    let status = pty.wait(HANG).expect("the probe exits");
    assert!(status.success(), "{status:?}; output:\n{}", pty.output());
}

/// Types `answer` at the first prompt; returns the output once the probe reported `outcome`.
fn answer_once(answer: &str, outcome: &str) -> String {
    let mut pty = start(&[]);
    wait_for_prompt(&mut pty);
    pty.write(answer).unwrap();
    let output = pty.read_until(&format!("outcome={outcome}"), HANG).unwrap();
    expect_clean_exit(&mut pty);
    output
}

#[test]
fn capital_y_accepts() {
    let output = answer_once("Y\n", "Accepted");
    assert!(output.contains(ACCEPTED_TEXT), "{output}");
    assert!(!output.contains(DECLINED_TEXT));
}

#[test]
fn yes_accepts() {
    let output = answer_once("yes\n", "Accepted");
    assert!(output.contains(ACCEPTED_TEXT), "{output}");
}

#[test]
fn no_with_blanks_declines() {
    let output = answer_once(" no \n", "Declined");
    assert!(output.contains(DECLINED_TEXT), "{output}");
    assert!(!output.contains(ACCEPTED_TEXT));
}

#[test]
fn capital_n_declines() {
    let output = answer_once("N\n", "Declined");
    assert!(output.contains(DECLINED_TEXT), "{output}");
}

#[test]
fn shows_the_documented_message_before_the_prompt() {
    let mut pty = start(&[]);
    let shown = wait_for_prompt(&mut pty).replace("\r\n", "\n");
    assert!(shown.contains(&format!("{MESSAGE}\n>>")), "{shown}");
    assert!(shown.contains("by running opt_in_out --opt_out."));
    assert!(!shown.contains("``"));
    pty.write("n\n").unwrap();
    pty.read_until("outcome=Declined", HANG).unwrap();
    expect_clean_exit(&mut pty);
}

#[test]
fn garbage_reasks_with_the_short_prompt_then_yes_accepts() {
    let mut pty = start(&[]);
    wait_for_prompt(&mut pty);
    pty.write("maybe\n").unwrap();
    // The message ends with the same sentence, but read_until only looks at new output.
    pty.read_until(SHORT_PROMPT, HANG).unwrap();
    pty.read_until(">>", HANG).unwrap();
    pty.write("yes\n").unwrap();
    let output = pty.read_until("outcome=Accepted", HANG).unwrap();
    assert!(output.contains(ACCEPTED_TEXT), "{output}");
    expect_clean_exit(&mut pty);
}

#[test]
fn several_lines_in_one_write_are_answered_in_order() {
    let mut pty = start(&[]);
    wait_for_prompt(&mut pty);
    pty.write("what?\nN\nY\n").unwrap();
    let output = pty.read_until("outcome=Declined", HANG).unwrap();
    assert!(output.contains(DECLINED_TEXT), "{output}");
    assert!(!output.contains(ACCEPTED_TEXT), "{output}");
    expect_clean_exit(&mut pty);
}

#[test]
fn no_answer_until_the_timer_expires_is_no_reply() {
    let mut pty = start(&["--timeout-ms", "300"]);
    wait_for_prompt(&mut pty);
    let output = pty.read_until("outcome=NoReply", HANG).unwrap();
    assert!(output.contains(TIMER_TEXT), "{output}");
    assert!(!output.contains(ACCEPTED_TEXT));
    expect_clean_exit(&mut pty);
}

#[test]
fn ctrl_d_closes_without_consent() {
    let mut pty = start(&[]);
    wait_for_prompt(&mut pty);
    pty.send_eof().unwrap();
    let output = pty.read_until("outcome=Closed", HANG).unwrap();
    assert!(output.contains(NO_ANSWER_TEXT), "{output}");
    assert!(!output.contains(ACCEPTED_TEXT));
    expect_clean_exit(&mut pty);
}

#[test]
fn ctrl_c_kills_the_probe_by_sigint() {
    let mut pty = start(&[]);
    wait_for_prompt(&mut pty);
    pty.send_interrupt().unwrap();
    let status = pty.wait(HANG).expect("the probe dies");
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert!(!pty.output().contains("outcome="), "{}", pty.output());
}

#[test]
fn ctrl_c_with_a_handler_interrupts_the_dialog() {
    let mut pty = start(&["--catch-sigint"]);
    wait_for_prompt(&mut pty);
    // The prompt is printed just before the dialog blocks in poll(2); a SIGINT that lands
    // in between runs the handler without interrupting anything. A user would press Ctrl-C
    // again; so does the test.
    let deadline = Instant::now() + HANG;
    let output = loop {
        pty.send_interrupt().unwrap();
        match pty.read_until("outcome=Interrupted", Duration::from_millis(200)) {
            Ok(output) => break output,
            Err(e) if Instant::now() >= deadline => panic!("{e}"),
            Err(_) => continue,
        }
    };
    assert!(output.contains(NO_ANSWER_TEXT), "{output}");
    expect_clean_exit(&mut pty);
}

#[test]
fn green_on_a_terminal() {
    let mut pty = PtyCommand::new(probe()).env_remove("NO_COLOR").spawn();
    wait_for_prompt(&mut pty);
    pty.write("y\n").unwrap();
    let output = pty.read_until("outcome=Accepted", HANG).unwrap();
    assert!(output.contains("\x1b[32m"), "{output:?}");
    assert!(
        output.contains(&format!("\x1b[32m{ACCEPTED_TEXT}")),
        "{output:?}"
    );
    expect_clean_exit(&mut pty);
}

#[test]
fn no_color_turns_colours_off() {
    let output = answer_once("y\n", "Accepted");
    assert!(!output.contains('\x1b'), "{output:?}");
}

#[test]
fn piped_stdin_cannot_prompt() {
    let output = Command::new(probe())
        .args(["--timeout-ms", "5000"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .output()
        .expect("run the probe");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("can_prompt=false"), "{stderr}");
    assert!(!stderr.contains("outcome="), "{stderr}");
    assert!(output.stdout.is_empty(), "no message without a terminal");
}

#[test]
fn forced_dialog_on_pipes_is_plain_and_reads_the_pipe() {
    let mut child = Command::new(probe())
        .args(["--force", "--timeout-ms", "10000"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the probe");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"  YES \n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("outcome=Accepted"), "{stderr}");
    assert!(stdout.contains(ACCEPTED_TEXT), "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "stdout is not a terminal: {stdout:?}"
    );
}

fn can_prompt_as(job: Job) -> String {
    let mut pty = PtyCommand::new(probe()).job(job).spawn();
    let output = pty.read_until("can_prompt=", HANG).unwrap();
    let output = pty.read_to_end(HANG).unwrap_or(output);
    expect_clean_exit(&mut pty);
    output
}

#[test]
fn foreground_job_can_prompt() {
    let mut pty = PtyCommand::new(probe()).args(["--timeout-ms", "0"]).spawn();
    pty.read_until("can_prompt=true", HANG).unwrap();
    pty.read_until("outcome=NoReply", HANG).unwrap();
    expect_clean_exit(&mut pty);
}

#[test]
fn background_job_cannot_prompt() {
    let output = can_prompt_as(Job::Background);
    assert!(output.contains("can_prompt=false"), "{output}");
    assert!(!output.contains("outcome="), "{output}");
}

#[test]
fn process_that_is_not_a_group_leader_cannot_prompt() {
    let output = can_prompt_as(Job::SharedGroup);
    assert!(output.contains("can_prompt=false"), "{output}");
    assert!(!output.contains("outcome="), "{output}");
}

#[test]
fn process_whose_parent_is_in_another_session_cannot_prompt() {
    let output = can_prompt_as(Job::SessionLeader);
    assert!(output.contains("can_prompt=false"), "{output}");
    assert!(!output.contains("outcome="), "{output}");
}

#[test]
fn harness_reports_a_missing_program() {
    let result = std::panic::catch_unwind(|| {
        PtyCommand::new("/nonexistent/dialog_probe").spawn();
    });
    let message = result.expect_err("spawn fails");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("No such file"), "{text}");
}
