//! The answer loop: the message, then answers read until one is yes or no, input ends, a
//! signal handler interrupts, or the total timeout has passed. The same loop reads a Unix
//! terminal (or a pipe, in the tests) and the Windows console, through [`Input`].

use std::io::Write;
use std::time::{Duration, Instant};

use super::text::{Screen, MESSAGE};
use super::Outcome;

/// Longest answer line kept; longer lines are discarded and count as "neither yes nor no".
pub(super) const MAX_LINE: usize = 1024;

/// What waiting for input gave.
pub(super) enum Wait {
    Ready,
    TimedOut,
    /// Only Unix waits can be interrupted; a Windows console read reports Ctrl-C itself.
    #[cfg_attr(not(unix), allow(dead_code))]
    Interrupted,
    Failed,
}

/// What reading input gave.
pub(super) enum Read {
    Data(usize),
    Again,
    Eof,
    Interrupted,
    Failed,
}

/// Where answers come from: the terminal, or a pipe in the unit tests.
pub(super) trait Input {
    /// Waits until input can be read or `limit` passes.
    fn wait(&mut self, limit: Duration) -> Wait;
    /// Reads what is there; only called after `wait` said `Ready`.
    fn read(&mut self, buf: &mut [u8]) -> Read;
    /// Drops what was typed and not read yet (a no-op where nothing can be dropped).
    fn discard_typed(&mut self);
}

/// The dialog itself: message, prompt, answers until `timeout` has passed in total.
pub(super) fn run(
    input: &mut dyn Input,
    out: &mut dyn Write,
    color: bool,
    timeout: Duration,
) -> Outcome {
    let deadline = Instant::now().checked_add(timeout);
    let mut screen = Screen { out, color };
    screen.say(MESSAGE);
    // Only what is typed once the prompt is there answers it.
    input.discard_typed();
    screen.prompt();
    let mut lines = LineBuffer::default();
    loop {
        let ended =
            answer_in(&mut lines, &mut screen).or_else(|| read_more(input, &mut lines, deadline));
        if let Some(outcome) = ended {
            return screen.finish(outcome);
        }
    }
}

/// The answer among the complete lines buffered, if one is yes or no; asks again after
/// each that is neither.
fn answer_in(lines: &mut LineBuffer, screen: &mut Screen) -> Option<Outcome> {
    while let Some(reply) = lines.next_line() {
        match reply {
            Reply::Yes => return Some(Outcome::Accepted),
            Reply::No => return Some(Outcome::Declined),
            Reply::Other => screen.ask_again(),
        }
    }
    None
}

/// Waits for input until `deadline` and buffers what comes. `Some` when the dialog ends
/// without a further line to look at: the timer, end of input, an interruption, an error.
fn read_more(
    input: &mut dyn Input,
    lines: &mut LineBuffer,
    deadline: Option<Instant>,
) -> Option<Outcome> {
    let remaining = match deadline {
        Some(deadline) => deadline.saturating_duration_since(Instant::now()),
        None => Duration::MAX,
    };
    if remaining.is_zero() {
        // The unfinished line must not reach the shell once the tool has moved on.
        input.discard_typed();
        return Some(Outcome::NoReply);
    }
    match input.wait(remaining) {
        Wait::Ready => {}
        Wait::TimedOut => return None,
        Wait::Interrupted => {
            input.discard_typed();
            return Some(Outcome::Interrupted);
        }
        Wait::Failed => return Some(Outcome::Closed),
    }
    let mut chunk = [0u8; 512];
    match input.read(&mut chunk) {
        Read::Data(n) => lines.push(&chunk[..n]),
        Read::Again => {}
        // A last answer without a newline still counts, as it would for `input()`.
        Read::Eof => {
            return Some(match lines.rest() {
                Some(Reply::Yes) => Outcome::Accepted,
                Some(Reply::No) => Outcome::Declined,
                Some(Reply::Other) | None => Outcome::Closed,
            })
        }
        Read::Interrupted => {
            input.discard_typed();
            return Some(Outcome::Interrupted);
        }
        Read::Failed => return Some(Outcome::Closed),
    }
    None
}

/// One line typed by the user, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reply {
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
pub(super) struct LineBuffer {
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

#[cfg(test)]
mod tests {
    use super::*;

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
