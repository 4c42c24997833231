//! The consent dialog as a user meets it: `examples/dialog_probe` runs on a real
//! pseudo-terminal (see `support/pty.rs`) and the tests type the answers. The dialog talks to
//! the terminal itself, so the probe's own lines (stderr) and the dialog both reach the
//! terminal unless a test redirects stdout and stderr to files.
//!
//! The probe binary is found beside the test binary (`support::example`). Selecting only this
//! test (`cargo test --test dialog`) does not build examples: run `cargo build --examples`
//! first, or use plain `cargo test`.
//!
//! Timeouts here are hang bounds only; no test measures time.
#![cfg(unix)]

mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use openvino_telemetry::dialog::{
    ACCEPTED_TEXT, DECLINED_TEXT, MESSAGE, NO_ANSWER_TEXT, SHORT_PROMPT, TIMER_TEXT,
};
use support::pty::{Job, Pty, PtyCommand};
use support::scratch_dir;

/// Gross bound for anything that should happen at once.
const HANG: Duration = Duration::from_secs(10);

fn probe() -> PathBuf {
    support::example("dialog_probe")
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
    wait_for_prompt_only(pty)
}

fn wait_for_prompt_only(pty: &mut Pty) -> String {
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
    // SIGINT is blocked while the dialog prints and let through only while it waits
    // (ppoll), so one Ctrl-C is enough wherever it lands.
    pty.write("ye").unwrap();
    pty.send_interrupt().unwrap();
    let output = pty.read_until("outcome=Interrupted", HANG).unwrap();
    assert!(output.contains(NO_ANSWER_TEXT), "{output}");
    assert!(!output.contains(ACCEPTED_TEXT), "{output}");
    expect_clean_exit(&mut pty);
}

#[test]
fn green_on_a_terminal() {
    let mut pty = PtyCommand::new(probe())
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .spawn();
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
fn a_dumb_terminal_gets_no_colours() {
    let mut pty = PtyCommand::new(probe())
        .env_remove("NO_COLOR")
        .env("TERM", "dumb")
        .spawn();
    wait_for_prompt(&mut pty);
    pty.write("y\n").unwrap();
    let output = pty.read_until("outcome=Accepted", HANG).unwrap();
    assert!(output.contains(ACCEPTED_TEXT), "{output}");
    assert!(!output.contains('\x1b'), "{output:?}");
    expect_clean_exit(&mut pty);
}

#[test]
fn piped_stdin_cannot_prompt_and_says_why() {
    let output = Command::new(probe())
        .args(["--timeout-ms", "5000"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .output()
        .expect("run the probe");
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("can_prompt=false"), "{stderr}");
    assert!(
        stderr.contains("no_dialog=stdin is not a terminal\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("outcome="), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
}

/// `tool > out.txt 2> log` with the person at the terminal: the dialog is on the terminal,
/// the answer works, and neither file holds any of it.
#[test]
fn stdout_and_stderr_redirected_to_files_still_show_the_dialog_on_the_terminal() {
    let dir = scratch_dir("dialog-redirect");
    let (out, err) = (dir.path().join("out.txt"), dir.path().join("log"));
    let mut pty = PtyCommand::new(probe())
        .env("NO_COLOR", "1")
        .stdout_file(&out)
        .stderr_file(&err)
        .spawn();
    let shown = pty.read_until(">>", HANG).unwrap().replace("\r\n", "\n");
    assert!(shown.contains(&format!("{MESSAGE}\n>>")), "{shown}");
    pty.write("y\n").unwrap();
    pty.read_until(ACCEPTED_TEXT, HANG).unwrap();
    expect_clean_exit(&mut pty);
    let screen = pty.read_to_end(HANG).unwrap_or_else(|e| e);
    assert!(
        !screen.contains("can_prompt"),
        "stderr went to the file: {screen}"
    );
    assert!(
        !screen.contains("done"),
        "stdout went to the file: {screen}"
    );

    let stdout = std::fs::read_to_string(&out).unwrap();
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert_eq!(stdout, "done\n");
    assert!(stderr.contains("can_prompt=true\n"), "{stderr}");
    assert!(stderr.contains("outcome=Accepted\n"), "{stderr}");
    for file in [&stdout, &stderr] {
        for text in ["Intel would like", ">>", ACCEPTED_TEXT, SHORT_PROMPT] {
            assert!(!file.contains(text), "{text:?} leaked into a file: {file}");
        }
    }
}

/// `sh -c 'tool; …'`: the shell leads the foreground group, the tool is its child in that
/// group, not a process-group leader. It asks.
#[test]
fn a_tool_started_by_a_wrapper_script_asks() {
    let mut pty = PtyCommand::new("/bin/sh")
        .args(["-c", "\"$0\" \"$@\"; status=$?; exit $status"])
        .arg(probe())
        .env("NO_COLOR", "1")
        .spawn();
    let output = pty.read_until("can_prompt=", HANG).unwrap();
    assert!(output.contains("group_leader=false"), "{output}");
    pty.read_until(">>", HANG).unwrap();
    pty.write("n\n").unwrap();
    let output = pty.read_until("outcome=Declined", HANG).unwrap();
    assert!(output.contains(DECLINED_TEXT), "{output}");
    expect_clean_exit(&mut pty);
}

/// What is typed before the prompt appears is not an answer to it.
#[test]
fn input_typed_before_the_prompt_is_discarded() {
    let mut pty = start(&["--wait-for-input"]);
    pty.read_until("waiting_for_input", HANG).unwrap();
    // A whole line, queued in the terminal before the dialog starts.
    pty.write("y\n").unwrap();
    wait_for_prompt_only(&mut pty);
    pty.write("n\n").unwrap();
    let output = pty.read_until("outcome=", HANG).unwrap();
    let output = output + &pty.read_until("\n", HANG).unwrap_or_default();
    assert!(output.contains("outcome=Declined"), "{output}");
    assert!(!output.contains(ACCEPTED_TEXT), "{output}");
    expect_clean_exit(&mut pty);
}

/// A line left half typed when the timer expires is dropped: what the tool (or the shell)
/// reads next starts after it.
#[test]
fn an_unfinished_line_at_the_timer_is_discarded() {
    let mut pty = start(&["--timeout-ms", "5000", "--read-after"]);
    wait_for_prompt(&mut pty);
    pty.write("ye").unwrap();
    let output = pty.read_until("outcome=NoReply", HANG).unwrap();
    let typed = output.rfind("ye").expect("the typed letters are echoed");
    let expired = output.rfind(TIMER_TEXT).expect("the timer message");
    assert!(
        typed < expired,
        "the letters must be typed before the timer expires: {output}"
    );
    pty.write("s\n").unwrap();
    let output = pty.read_until("after=", HANG).unwrap();
    let output = output + &pty.read_until("\n", HANG).unwrap();
    assert!(output.contains("after=\"s\\n\""), "{output}");
    expect_clean_exit(&mut pty);
}

/// A window resize, a child exiting, a host's timer or user signal: handlers run (after the
/// dialog), the dialog goes on and takes the answer.
#[test]
fn other_signals_do_not_end_the_dialog() {
    let mut pty = start(&["--catch-other-signals"]);
    wait_for_prompt(&mut pty);
    pty.resize(30, 100).unwrap();
    for signal in [libc::SIGCHLD, libc::SIGUSR1, libc::SIGALRM] {
        pty.signal(signal).unwrap();
    }
    pty.write("y\n").unwrap();
    let output = pty.read_until("signals=", HANG).unwrap();
    let output = output + &pty.read_until("\n", HANG).unwrap();
    assert!(output.contains("outcome=Accepted"), "{output}");
    assert!(output.contains(ACCEPTED_TEXT), "{output}");
    // Each signal reached its handler once the dialog returned.
    assert!(output.contains("signals=4"), "{output}");
    expect_clean_exit(&mut pty);
}

fn run_as(job: Job, args: &[&str]) -> Pty {
    PtyCommand::new(probe())
        .args(args)
        .env("NO_COLOR", "1")
        .job(job)
        .spawn()
}

#[test]
fn foreground_job_asks() {
    let mut pty = run_as(Job::Foreground, &["--timeout-ms", "0"]);
    let output = pty.read_until("outcome=NoReply", HANG).unwrap();
    assert!(output.contains("group_leader=true"), "{output}");
    assert!(output.contains("can_prompt=true"), "{output}");
    expect_clean_exit(&mut pty);
}

#[test]
fn background_job_never_asks_and_says_why() {
    let mut pty = run_as(Job::Background, &[]);
    let output = pty.read_until("done", HANG).unwrap();
    expect_clean_exit(&mut pty);
    assert!(output.contains("can_prompt=false"), "{output}");
    assert!(
        output.contains(
            "no_dialog=not in the terminal's foreground process group (a background job)"
        ),
        "{output}"
    );
    assert!(!output.contains("outcome="), "{output}");
    assert!(!output.contains(">>"), "{output}");
}

/// Not a process-group leader, but in the terminal's foreground group (like a helper a tool
/// starts): asked. The Python client would not ask; we do, on purpose (DESIGN §4).
#[test]
fn a_process_in_the_foreground_group_that_does_not_lead_it_asks() {
    let mut pty = run_as(Job::SharedGroup, &[]);
    let output = pty.read_until("can_prompt=", HANG).unwrap();
    assert!(output.contains("group_leader=false"), "{output}");
    pty.read_until(">>", HANG).unwrap();
    pty.write("yes\n").unwrap();
    pty.read_until("outcome=Accepted", HANG).unwrap();
    expect_clean_exit(&mut pty);
}

/// The session leader of its terminal (its parent is in another session) is the foreground
/// job: asked.
#[test]
fn a_session_leader_on_its_terminal_asks() {
    let mut pty = run_as(Job::SessionLeader, &[]);
    pty.read_until("can_prompt=true", HANG).unwrap();
    pty.read_until(">>", HANG).unwrap();
    pty.write("no\n").unwrap();
    pty.read_until("outcome=Declined", HANG).unwrap();
    expect_clean_exit(&mut pty);
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

/// Ctrl-Z stops the tool during the dialog (the stop signals are let through when the host
/// does not handle them), and `fg` (SIGCONT) resumes the same dialog, which takes the answer.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_z_stops_and_a_continue_resumes_the_dialog() {
    let mut pty = start(&[]);
    wait_for_prompt(&mut pty);
    pty.write([0x1a]).unwrap(); // Ctrl-Z: SIGTSTP to the foreground group
    let state = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.chars().next()))
            .flatten()
    };
    let deadline = std::time::Instant::now() + HANG;
    while state(pty.pid()) != Some('T') {
        assert!(
            std::time::Instant::now() < deadline,
            "the probe did not stop: state {:?}",
            state(pty.pid())
        );
        std::thread::yield_now();
    }
    pty.signal(libc::SIGCONT).unwrap();
    pty.write("y\n").unwrap();
    let output = pty.read_until("outcome=", HANG).unwrap();
    let output = output + &pty.read_until("\n", HANG).unwrap();
    assert!(output.contains("outcome=Accepted"), "{output}");
    expect_clean_exit(&mut pty);
}
