use super::reading::MAX_LINE;
use super::text::{GREEN, RESET};
use super::*;
use std::io::{PipeWriter, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Runs the dialog on a pipe that holds `input`; the write end is closed first when
/// `close` is set (end of file after the input), else kept open until the dialog returns.
fn run(input: &[u8], close: bool, color: bool, timeout: Duration) -> (Outcome, String) {
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    writer.write_all(input).expect("write to pipe");
    let keep: Option<PipeWriter> = if close {
        drop(writer);
        None
    } else {
        Some(writer)
    };
    let mut out = Vec::new();
    let outcome = ask_with(reader.as_raw_fd(), &mut out, color, timeout);
    drop(keep);
    (outcome, String::from_utf8(out).expect("UTF-8 output"))
}

/// How often the short prompt was shown after the message (whose last line it also is).
fn reasks(out: &str) -> usize {
    let after_message = out
        .strip_prefix(MESSAGE)
        .expect("output starts with the message");
    after_message
        .matches(&format!("{SHORT_PROMPT}\n{PROMPT}"))
        .count()
}

fn answer(input: &str) -> (Outcome, String) {
    run(input.as_bytes(), false, false, Duration::from_secs(10))
}

#[test]
fn yes_answers_in_any_case_with_blanks_accept() {
    for input in ["Y\n", "y\n", "yes\n", "YES\n", "  yEs \t\r\n", " y\n"] {
        let (outcome, out) = answer(input);
        assert_eq!(outcome, Outcome::Accepted, "input {input:?}");
        assert!(out.ends_with(&format!("{ACCEPTED_TEXT}\n")), "{out}");
        assert_eq!(reasks(&out), 0, "{out}");
    }
}

#[test]
fn no_answers_in_any_case_with_blanks_decline() {
    for input in ["N\n", "n\n", "no\n", " No \n", "\tNO\r\n"] {
        let (outcome, out) = answer(input);
        assert_eq!(outcome, Outcome::Declined, "input {input:?}");
        assert!(out.ends_with(&format!("{DECLINED_TEXT}\n")), "{out}");
    }
}

#[test]
fn message_comes_first_then_the_prompt() {
    let (_, out) = answer("n\n");
    let expected_start = format!("{MESSAGE}\n{PROMPT}");
    assert!(out.starts_with(&expected_start), "{out}");
    assert!(out.contains("opt_in_out --opt_out."));
    assert!(!out.contains("--opt_in"));
    assert!(!out.contains("``"));
    assert!(!out.contains('\x1b'));
}

#[test]
fn other_answers_reask_with_the_short_prompt_each_time() {
    // Several lines in one read: "maybe", an empty line, "yess", then a real answer.
    let (outcome, out) = answer("maybe\n\nyess\nno\nY\n");
    assert_eq!(outcome, Outcome::Declined);
    assert_eq!(reasks(&out), 3, "{out}");
    assert!(!out.contains(ACCEPTED_TEXT));
}

#[test]
fn end_of_input_without_answer_is_closed() {
    let (outcome, out) = run(b"", true, false, Duration::from_secs(10));
    assert_eq!(outcome, Outcome::Closed);
    assert!(
        out.ends_with(&format!("{PROMPT}\n{NO_ANSWER_TEXT}\n")),
        "{out}"
    );

    let (outcome, _) = run(b"what\n", true, false, Duration::from_secs(10));
    assert_eq!(outcome, Outcome::Closed);
}

#[test]
fn unterminated_last_answer_counts_at_end_of_input() {
    assert_eq!(
        run(b"yes", true, false, Duration::from_secs(10)).0,
        Outcome::Accepted
    );
    assert_eq!(
        run(b" n ", true, false, Duration::from_secs(10)).0,
        Outcome::Declined
    );
    assert_eq!(
        run(b"nope", true, false, Duration::from_secs(10)).0,
        Outcome::Closed
    );
}

#[test]
fn silence_until_the_deadline_is_no_reply() {
    let started = Instant::now();
    let (outcome, out) = run(b"", false, false, Duration::from_millis(100));
    assert_eq!(outcome, Outcome::NoReply);
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert!(out.ends_with(&format!("{PROMPT}\n{TIMER_TEXT}\n")), "{out}");
}

#[test]
fn garbage_then_silence_is_no_reply() {
    let (outcome, out) = run(b"later\n", false, false, Duration::from_millis(50));
    assert_eq!(outcome, Outcome::NoReply);
    assert_eq!(reasks(&out), 1, "{out}");
    assert!(out.ends_with(&format!("{TIMER_TEXT}\n")));
}

#[test]
fn zero_timeout_reads_nothing() {
    let (outcome, _) = run(b"Y\n", false, false, Duration::ZERO);
    assert_eq!(outcome, Outcome::NoReply);
}

#[test]
fn color_only_when_asked() {
    let (_, plain) = answer("y\n");
    assert!(!plain.contains('\x1b'));
    let (outcome, colored) = run(b"y\n", false, true, Duration::from_secs(10));
    assert_eq!(outcome, Outcome::Accepted);
    assert!(colored.starts_with(GREEN), "{colored:?}");
    assert!(colored.contains(&format!("{GREEN}{ACCEPTED_TEXT}{RESET}\n")));
    // The prompt itself stays plain.
    assert!(colored.contains(&format!("{RESET}\n{PROMPT}")));
}

#[test]
fn colour_needs_no_color_unset_or_empty_and_a_terminal_that_is_not_dumb() {
    use std::ffi::OsStr;
    let some = |s: &'static str| Some(OsStr::new(s));
    assert!(colour_allowed(None, None));
    assert!(colour_allowed(some(""), some("xterm-256color")));
    assert!(!colour_allowed(some("1"), some("xterm")));
    assert!(!colour_allowed(some("0"), None), "any non-empty NO_COLOR");
    assert!(!colour_allowed(None, some("dumb")));
    assert!(colour_allowed(None, some("")));
}

#[test]
fn each_reason_names_its_condition() {
    let texts: Vec<String> = [
        NoDialog::OptionOff,
        NoDialog::StdinNotTerminal,
        NoDialog::NotControllingTerminal,
        NoDialog::Background,
        NoDialog::NoTerminal,
        NoDialog::Unsupported,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    assert_eq!(texts[0], "the consent dialog option is off");
    assert_eq!(texts[1], "stdin is not a terminal");
    assert_eq!(
        texts[3],
        "not in the terminal's foreground process group (a background job)"
    );
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), texts.len(), "{texts:?}");
}

#[test]
fn overlong_line_is_an_other_answer() {
    let mut input = vec![b'y'; MAX_LINE * 3];
    input.extend_from_slice(b"\nyes\n");
    let (outcome, out) = run(&input, false, false, Duration::from_secs(10));
    assert_eq!(outcome, Outcome::Accepted);
    assert_eq!(reasks(&out), 1, "{out}");
}

#[test]
fn invalid_utf8_is_an_other_answer() {
    let (outcome, out) = run(b"\xff\xfe\nN\n", false, false, Duration::from_secs(10));
    assert_eq!(outcome, Outcome::Declined);
    assert_eq!(reasks(&out), 1, "{out}");
}

#[test]
fn negative_descriptor_is_closed_without_output() {
    let mut out = Vec::new();
    assert_eq!(
        ask_with(-1, &mut out, false, Duration::from_secs(1)),
        Outcome::Closed
    );
    assert!(out.is_empty());
}
