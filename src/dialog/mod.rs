//! The first-run consent dialog for command-line tools (DESIGN §4).
//!
//! [`Terminal::open`] decides whether a dialog may be shown at all and, when it may, opens the
//! terminal; [`Terminal::ask`] shows the message of the OpenVINO telemetry page there and
//! reads the answer from it until the total timeout expires. The dialog talks to the
//! controlling terminal itself (`/dev/tty`; the console, `CONIN$` / `CONOUT$`, on Windows),
//! never to stdout or stderr, so `tool > out.txt 2> log` still shows the prompt and keeps both
//! files clean. This module only asks: writing the consent file (`0` before asking, `1` after
//! [`Outcome::Accepted`]) is the caller's job, so that Ctrl-C — which kills the process unless
//! the host installed a handler — leaves the decision at "declined".
//!
//! **Who is asked** (Unix): stdin is a terminal, it is the process's controlling terminal, and
//! the process is in that terminal's foreground process group (`tcgetpgrp(0) == getpgrp()`).
//! A tool typed at a shell, or started by a wrapper script running in the foreground, asks; a
//! background job (`tool &`), a service and a process without a terminal never do. Unlike the
//! Python client, the process need not lead its process group (so wrapper scripts work).
//! When no dialog may be shown, [`NoDialog`] names the condition that failed.
//!
//! **Consent is an answer to the prompt the user saw**: input typed before the `>>` prompt
//! appears is discarded (`tcflush(TCIFLUSH)`), and so is an unfinished line left when the
//! timer expires or a signal ends the dialog: it never reaches the shell or the tool.
//!
//! **Input** (Unix) is read with `ppoll(2)` and `read(2)` on the terminal's own descriptor: no
//! thread is started, nothing sleeps, and the remaining time shrinks with every answer that
//! has to be repeated. Input already buffered by `std::io::stdin()` is not seen.
//!
//! **Signals** (Unix): only an answer, end of input (Ctrl-D), Ctrl-C or the timer end the
//! dialog. While it runs, the calling thread blocks every signal but the synchronous ones
//! (`SIGSEGV`, …); the wait itself lets through only `SIGINT`, `SIGTERM`, `SIGHUP` and
//! `SIGQUIT` (Ctrl-C, Ctrl-\\, `kill`, a closed terminal) and, when their disposition is the
//! default, the stop signals (Ctrl-Z stops the tool, `fg` resumes the dialog). With the
//! default disposition the first four end the process as they would without a dialog (the
//! stored `0` stays); with a handler installed by the host, the handler runs and the dialog
//! ends with [`Outcome::Interrupted`]. Any other signal — a window resize, a child exiting, a
//! host's timer — stays pending in this thread and is delivered when the dialog returns
//! (other threads receive process signals as usual; so in a host whose other threads do not
//! block `SIGINT`, a handled Ctrl-C may run on one of them, and the dialog then goes on until
//! an answer or the timer). The mask is swapped atomically by
//! `ppoll`, so a Ctrl-C is never lost whenever it comes; macOS has no `ppoll`: there the swap
//! takes two calls, and a Ctrl-C landing exactly between them needs a second Ctrl-C.
//!
//! **Windows**: asked when stdin is a console and the console can be opened (`CONIN$`,
//! `CONOUT$`). A console read in line mode cannot wait with a deadline, so one helper thread
//! reads a line at a time on request; at the deadline its read is ended by an Enter key event
//! written into the console input (the half-typed line is thrown away) and the console input
//! buffer is flushed. No colours there.
//! Compiled for Windows by the cross-checks; the dialog tests run on Unix pseudo-terminals.
//!
//! Writing to a terminal whose output was stopped (Ctrl-S) blocks until it is resumed (Ctrl-Q):
//! the timer cannot end the dialog while the message itself cannot be shown.
//!
//! Where things are: `text` (what the dialog says), `reading` (the answer loop with its
//! timer), `unix` (who is asked, the signal mask, waiting on the terminal), `windows` (the
//! console and its reader thread).

use std::time::Duration;

mod reading;
mod text;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

#[cfg(all(test, unix))]
mod tests;

pub use text::{
    ACCEPTED_TEXT, DECLINED_TEXT, MESSAGE, NO_ANSWER_TEXT, PROMPT, SHORT_PROMPT, TIMER_TEXT,
};

/// How long the dialog waits in total for an answer, as the Python client does.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(50);

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
    /// A handler of the host ran for Ctrl-C (or `SIGTERM`, `SIGHUP`, `SIGQUIT`).
    Interrupted,
}

/// Why no dialog is shown: the first condition that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoDialog {
    /// The consent dialog option is off (the default: libraries never ask).
    OptionOff,
    /// stdin is a file, a pipe or closed.
    StdinNotTerminal,
    /// stdin is a terminal, but not this process's controlling terminal (or it has none).
    NotControllingTerminal,
    /// Another process group is the terminal's foreground: a background job.
    Background,
    /// The controlling terminal (Windows: the console) cannot be opened.
    NoTerminal,
    /// This platform has no consent dialog.
    Unsupported,
}

impl std::fmt::Display for NoDialog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoDialog::OptionOff => "the consent dialog option is off",
            NoDialog::StdinNotTerminal => "stdin is not a terminal",
            NoDialog::NotControllingTerminal => {
                "stdin is not the controlling terminal of this process"
            }
            NoDialog::Background => {
                "not in the terminal's foreground process group (a background job)"
            }
            NoDialog::NoTerminal if cfg!(windows) => "the console cannot be opened",
            NoDialog::NoTerminal => "the controlling terminal cannot be opened",
            NoDialog::Unsupported => "no consent dialog on this platform",
        })
    }
}

/// The terminal a dialog may be shown on; only [`Terminal::open`] makes one.
pub struct Terminal {
    inner: sys::Terminal,
}

impl Terminal {
    /// Checks the conditions of the module documentation, in order, and opens the terminal
    /// when they hold. Never blocks, prints nothing.
    pub fn open() -> Result<Terminal, NoDialog> {
        sys::Terminal::open().map(|inner| Terminal { inner })
    }

    /// Shows the consent message on the terminal and reads answers from it until `timeout`
    /// has passed in total. Green when `NO_COLOR` is unset or empty and `TERM` is not `dumb`
    /// (see <https://no-color.org>; never on Windows). Blocks for at most `timeout` (plus the
    /// time to write to the terminal).
    pub fn ask(&mut self, timeout: Duration) -> Outcome {
        let color = sys::COLOUR
            && colour_allowed(
                std::env::var_os("NO_COLOR").as_deref(),
                std::env::var_os("TERM").as_deref(),
            );
        self.inner.ask(color, timeout)
    }
}

/// Whether a dialog may be shown now, and if not, why.
pub fn check() -> Result<(), NoDialog> {
    Terminal::open().map(drop)
}

/// True only when a dialog may be shown now (see [`check`]).
pub fn can_prompt() -> bool {
    check().is_ok()
}

/// `NO_COLOR` unset or empty, and `TERM` not `dumb`.
fn colour_allowed(no_color: Option<&std::ffi::OsStr>, term: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(|v| v.is_empty()) && term.is_none_or(|t| t != "dumb")
}

/// The dialog on descriptor `input_fd`, written to `out` (green when `color`): the same loop
/// as [`Terminal::ask`], for a pipe or a terminal the caller opened. `input_fd` is only read,
/// never closed. A negative descriptor gives [`Outcome::Closed`] without writing anything.
/// Write errors on `out` are ignored: the answer still counts.
#[cfg(unix)]
pub fn ask_with(
    input_fd: i32,
    out: &mut dyn std::io::Write,
    color: bool,
    timeout: Duration,
) -> Outcome {
    if input_fd < 0 {
        return Outcome::Closed;
    }
    let signals = sys::SignalGuard::block();
    let mut input = sys::FdInput {
        fd: input_fd,
        wait_mask: signals.wait_mask(),
    };
    reading::run(&mut input, out, color, timeout)
}

#[cfg(not(any(unix, windows)))]
mod sys {
    use std::time::Duration;

    use super::{NoDialog, Outcome};

    pub const COLOUR: bool = false;

    pub struct Terminal;

    impl Terminal {
        pub fn open() -> Result<Terminal, NoDialog> {
            Err(NoDialog::Unsupported)
        }

        pub fn ask(&mut self, _color: bool, _timeout: Duration) -> Outcome {
            Outcome::Closed
        }
    }
}
