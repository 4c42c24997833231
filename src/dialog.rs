//! The first-run consent dialog for command-line tools (DESIGN §4).
//!
//! [`can_prompt`] decides whether a dialog may be shown at all; [`ask`] shows the message of
//! the OpenVINO telemetry page on stdout and reads the answer from fd 0 until the total
//! timeout expires. This module only asks: writing the consent file (`0` before asking, `1`
//! after [`Outcome::Accepted`]) is the caller's job, so that Ctrl-C — which kills the process
//! unless the host installed a handler — leaves the decision at "declined".
//!
//! Input is read with `poll(2)` and `read(2)` on the raw descriptor: no thread is started,
//! nothing sleeps, and the remaining time shrinks with every answer that has to be repeated.
//! Because fd 0 is read directly, input already buffered by `std::io::stdin()` is not seen.
//!
//! Signals: Ctrl-C kills the process unless the host handles SIGINT. With a handler, a signal
//! that interrupts the wait ends the dialog with [`Outcome::Interrupted`]; one that arrives
//! while the dialog is printing (not waiting) only runs the handler, and the dialog goes on
//! until the next signal, answer or the deadline. The caller can check its own flag after.

use std::io::Write;
use std::time::{Duration, Instant};

/// How long the dialog waits in total for an answer, as the Python client does.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(50);

/// The consent message of the OpenVINO telemetry page, with the opt-out command written
/// correctly and without the documentation markup.
pub const MESSAGE: &str = "\
Intel would like your permission to collect software performance and usage data
for the purpose of improving Intel products and services. This data will be collected
directly by Intel or through the use of Google Analytics. This data will be stored
in countries where Intel or Google operate.

You can opt-out at any time in the future by running opt_in_out --opt_out.

More Information is available at docs.openvino.ai.

Please type Y to give your consent or N to decline.";

/// Shown again after an answer that is neither yes nor no.
pub const SHORT_PROMPT: &str = "Please type Y to give your consent or N to decline.";

/// The input prompt, printed (uncoloured, without a newline) whenever an answer is expected.
pub const PROMPT: &str = ">> ";

/// Confirmation after `Y` / `yes`.
pub const ACCEPTED_TEXT: &str = "The selected option was to collect telemetry data.";

/// Confirmation after `N` / `no`.
pub const DECLINED_TEXT: &str = "The selected option was NOT to collect telemetry data.";

/// Shown when the total timeout expired without an answer.
pub const TIMER_TEXT: &str = "The timer has expired and no data will be collected.";

/// Shown when input ended (Ctrl-D, closed stdin, read error) or a signal interrupted the wait.
pub const NO_ANSWER_TEXT: &str = "No answer was given and no data will be collected.";

const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// Longest answer line kept; longer lines are discarded and count as "neither yes nor no".
const MAX_LINE: usize = 1024;

/// How the dialog ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The user answered `Y` or `yes`.
    Accepted,
    /// The user answered `N` or `no`.
    Declined,
    /// The timer expired before a valid answer came.
    NoReply,
    /// Input ended (end of file, e.g. Ctrl-D) or could not be read.
    Closed,
    /// A signal interrupted the wait (`EINTR`), e.g. Ctrl-C with a handler installed.
    Interrupted,
}

/// True only when a dialog may be shown: stdin is a terminal and this is the foreground main
/// process — a process-group leader (`getpgrp() == getpid()`), whose group is the terminal's
/// foreground job (`tcgetpgrp(0) == getpgrp()`), and whose parent is in the same session
/// (`getsid(getppid()) == getsid(0)`), the checks the Python client makes. Always false on
/// platforms other than Unix.
pub fn can_prompt() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && sys::is_foreground_main_process()
}

/// Shows the consent message on stdout and reads answers from fd 0 until `timeout` has
/// passed in total. Colours the texts green when stdout is a terminal and `NO_COLOR` is unset
/// or empty (see <https://no-color.org>). Blocks for at most `timeout` (plus the time to write
/// to stdout).
pub fn ask(timeout: Duration) -> Outcome {
    use std::io::IsTerminal;
    let stdout = std::io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = stdout.lock();
    ask_with(0, &mut out, color, timeout)
}

/// The dialog itself: writes the message and prompts to `out` (green when `color`), reads
/// answers from `input_fd` until `timeout` has passed in total. `input_fd` is only read, never
/// closed. A negative descriptor, and every descriptor on platforms other than Unix, gives
/// [`Outcome::Closed`] without writing anything. Write errors on `out` are ignored: the
/// answer still counts.
pub fn ask_with(input_fd: i32, out: &mut dyn Write, color: bool, timeout: Duration) -> Outcome {
    if input_fd < 0 || !sys::SUPPORTED {
        return Outcome::Closed;
    }
    let deadline = Instant::now().checked_add(timeout);
    let mut screen = Screen { out, color };
    screen.say(MESSAGE);
    screen.prompt();

    let mut lines = LineBuffer::default();
    let mut chunk = [0u8; 512];
    loop {
        while let Some(reply) = lines.next_line() {
            match reply {
                Reply::Yes => return screen.finish(Outcome::Accepted),
                Reply::No => return screen.finish(Outcome::Declined),
                Reply::Other => {
                    screen.say(SHORT_PROMPT);
                    screen.prompt();
                }
            }
        }
        let remaining = match deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()),
            None => Duration::MAX,
        };
        if remaining.is_zero() {
            return screen.finish(Outcome::NoReply);
        }
        match sys::wait_readable(input_fd, remaining) {
            sys::Wait::Ready => {}
            sys::Wait::TimedOut => continue,
            sys::Wait::Interrupted => return screen.finish(Outcome::Interrupted),
            sys::Wait::Failed => return screen.finish(Outcome::Closed),
        }
        match sys::read_some(input_fd, &mut chunk) {
            sys::Read::Data(n) => lines.push(&chunk[..n]),
            sys::Read::Again => {}
            // A last answer without a newline still counts, as it would for `input()`.
            sys::Read::Eof => {
                let outcome = match lines.rest() {
                    Some(Reply::Yes) => Outcome::Accepted,
                    Some(Reply::No) => Outcome::Declined,
                    Some(Reply::Other) | None => Outcome::Closed,
                };
                return screen.finish(outcome);
            }
            sys::Read::Interrupted => return screen.finish(Outcome::Interrupted),
            sys::Read::Failed => return screen.finish(Outcome::Closed),
        }
    }
}

/// The output side: texts in green when asked to, prompts plain, flushed at each prompt.
struct Screen<'a> {
    out: &'a mut dyn Write,
    color: bool,
}

impl Screen<'_> {
    fn say(&mut self, text: &str) {
        // Errors are ignored on purpose: a closed stdout must not change the answer.
        let _ = if self.color {
            writeln!(self.out, "{GREEN}{text}{RESET}")
        } else {
            writeln!(self.out, "{text}")
        };
    }

    fn prompt(&mut self) {
        let _ = self.out.write_all(PROMPT.as_bytes());
        let _ = self.out.flush();
    }

    /// Prints the confirmation that belongs to `outcome` and returns it.
    fn finish(&mut self, outcome: Outcome) -> Outcome {
        let text = match outcome {
            Outcome::Accepted => ACCEPTED_TEXT,
            Outcome::Declined => DECLINED_TEXT,
            Outcome::NoReply => TIMER_TEXT,
            Outcome::Closed | Outcome::Interrupted => NO_ANSWER_TEXT,
        };
        if !matches!(outcome, Outcome::Accepted | Outcome::Declined) {
            // The cursor is still on the prompt line: nothing typed ended it.
            let _ = writeln!(self.out);
        }
        self.say(text);
        let _ = self.out.flush();
        outcome
    }
}

/// One line typed by the user, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Yes,
    No,
    Other,
}

impl Reply {
    /// `Y` / `yes` / `N` / `no` in any case, with surrounding blanks; anything else is `Other`.
    fn parse(line: &[u8]) -> Reply {
        let Ok(text) = std::str::from_utf8(line) else {
            return Reply::Other;
        };
        let text = text.trim();
        if text.eq_ignore_ascii_case("y") || text.eq_ignore_ascii_case("yes") {
            Reply::Yes
        } else if text.eq_ignore_ascii_case("n") || text.eq_ignore_ascii_case("no") {
            Reply::No
        } else {
            Reply::Other
        }
    }
}

/// Splits what was read into lines, whatever the chunking: a line may arrive in pieces, and
/// one read may hold several lines. Memory stays bounded on input without newlines.
#[derive(Default)]
struct LineBuffer {
    pending: Vec<u8>,
    /// The current line grew past `MAX_LINE`; its text was dropped and it counts as `Other`.
    overlong: bool,
}

impl LineBuffer {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() > MAX_LINE && !self.pending.contains(&b'\n') {
            self.pending.clear();
            self.overlong = true;
        }
    }

    /// The next complete line, if one is buffered.
    fn next_line(&mut self) -> Option<Reply> {
        let end = self.pending.iter().position(|&b| b == b'\n')?;
        let reply = if std::mem::take(&mut self.overlong) {
            Reply::Other
        } else {
            Reply::parse(&self.pending[..end])
        };
        self.pending.drain(..=end);
        Some(reply)
    }

    /// At end of input: the unterminated last line, if anything was typed.
    fn rest(&mut self) -> Option<Reply> {
        if std::mem::take(&mut self.overlong) {
            self.pending.clear();
            return Some(Reply::Other);
        }
        if self.pending.is_empty() {
            return None;
        }
        let reply = Reply::parse(&self.pending);
        self.pending.clear();
        Some(reply)
    }
}

#[cfg(unix)]
mod sys {
    use std::time::Duration;

    pub const SUPPORTED: bool = true;

    pub enum Wait {
        Ready,
        TimedOut,
        Interrupted,
        Failed,
    }

    pub enum Read {
        Data(usize),
        Again,
        Eof,
        Interrupted,
        Failed,
    }

    pub fn is_foreground_main_process() -> bool {
        // SAFETY: these functions take no pointers and only report the state of this process,
        // its parent and the terminal on fd 0; they have no preconditions. A failing call
        // returns -1, which never equals a valid id, so the checks below then say "no".
        let (pid, pgrp, foreground, sid, parent_sid) = unsafe {
            (
                libc::getpid(),
                libc::getpgrp(),
                libc::tcgetpgrp(0),
                libc::getsid(0),
                libc::getsid(libc::getppid()),
            )
        };
        pgrp == pid && foreground == pgrp && sid != -1 && parent_sid == sid
    }

    /// Waits until `fd` can be read (data, end of file or an error to report) or `limit`
    /// passes. Rounds up to whole milliseconds so that the caller's deadline has passed when
    /// this says `TimedOut`.
    pub fn wait_readable(fd: i32, limit: Duration) -> Wait {
        let nanos = limit.as_nanos().div_ceil(1_000_000);
        let millis = i32::try_from(nanos).unwrap_or(i32::MAX);
        let mut entry = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `entry` is a valid, initialised pollfd that lives across the call, and the
        // count passed is 1, the number of entries it points to.
        let ready = unsafe { libc::poll(&mut entry, 1, millis) };
        match ready {
            0 => Wait::TimedOut,
            n if n > 0 => {
                if entry.revents & libc::POLLNVAL != 0 {
                    Wait::Failed
                } else {
                    // POLLIN, POLLHUP and POLLERR all mean that read(2) will not block and
                    // will say what happened.
                    Wait::Ready
                }
            }
            _ => match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => Wait::Interrupted,
                _ => Wait::Failed,
            },
        }
    }

    pub fn read_some(fd: i32, buf: &mut [u8]) -> Read {
        // SAFETY: `buf` is a valid, writable buffer of `buf.len()` bytes for the whole call;
        // read(2) writes at most that many bytes into it.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => Read::Eof,
            n if n > 0 => Read::Data(n as usize),
            _ => match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => Read::Interrupted,
                Some(libc::EAGAIN) => Read::Again,
                Some(e) if e == libc::EWOULDBLOCK => Read::Again,
                _ => Read::Failed,
            },
        }
    }
}

#[cfg(not(unix))]
mod sys {
    use std::time::Duration;

    pub const SUPPORTED: bool = false;

    pub enum Wait {
        #[allow(dead_code)]
        Ready,
        #[allow(dead_code)]
        TimedOut,
        #[allow(dead_code)]
        Interrupted,
        Failed,
    }

    pub enum Read {
        #[allow(dead_code)]
        Data(usize),
        #[allow(dead_code)]
        Again,
        #[allow(dead_code)]
        Eof,
        #[allow(dead_code)]
        Interrupted,
        Failed,
    }

    pub fn is_foreground_main_process() -> bool {
        false
    }

    pub fn wait_readable(_fd: i32, _limit: Duration) -> Wait {
        Wait::Failed
    }

    pub fn read_some(_fd: i32, _buf: &mut [u8]) -> Read {
        Read::Failed
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::PipeWriter;
    use std::os::fd::AsRawFd;

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

    #[test]
    fn lines_are_reassembled_across_reads() {
        let mut lines = LineBuffer::default();
        lines.push(b"y");
        assert_eq!(lines.next_line(), None);
        lines.push(b"e");
        lines.push(b"s\r\nn");
        assert_eq!(lines.next_line(), Some(Reply::Yes));
        assert_eq!(lines.next_line(), None);
        lines.push(b"o\nhm\n");
        assert_eq!(lines.next_line(), Some(Reply::No));
        assert_eq!(lines.next_line(), Some(Reply::Other));
        assert_eq!(lines.next_line(), None);
        assert_eq!(lines.rest(), None);
    }

    #[test]
    fn buffer_stays_bounded_without_newlines() {
        let mut lines = LineBuffer::default();
        for _ in 0..100 {
            lines.push(&[b'x'; 100]);
        }
        assert!(lines.pending.len() <= MAX_LINE + 100);
        lines.push(b"tail\n");
        assert_eq!(lines.next_line(), Some(Reply::Other));
        lines.push(b"Y\n");
        assert_eq!(lines.next_line(), Some(Reply::Yes));
    }
}
