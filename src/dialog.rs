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

/// Shown when input ended (Ctrl-D, read error) or a signal handler interrupted the wait.
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

/// What waiting for input gave.
enum Wait {
    Ready,
    TimedOut,
    /// Only Unix waits can be interrupted; a Windows console read reports Ctrl-C itself.
    #[cfg_attr(not(unix), allow(dead_code))]
    Interrupted,
    Failed,
}

/// What reading input gave.
enum Read {
    Data(usize),
    Again,
    Eof,
    Interrupted,
    Failed,
}

/// Where answers come from: the terminal, or a pipe in the unit tests.
trait Input {
    /// Waits until input can be read or `limit` passes.
    fn wait(&mut self, limit: Duration) -> Wait;
    /// Reads what is there; only called after `wait` said `Ready`.
    fn read(&mut self, buf: &mut [u8]) -> Read;
    /// Drops what was typed and not read yet (a no-op where nothing can be dropped).
    fn discard_typed(&mut self);
}

/// The dialog on descriptor `input_fd`, written to `out` (green when `color`): the same loop
/// as [`Terminal::ask`], for a pipe or a terminal the caller opened. `input_fd` is only read,
/// never closed. A negative descriptor gives [`Outcome::Closed`] without writing anything.
/// Write errors on `out` are ignored: the answer still counts.
#[cfg(unix)]
pub fn ask_with(input_fd: i32, out: &mut dyn Write, color: bool, timeout: Duration) -> Outcome {
    if input_fd < 0 {
        return Outcome::Closed;
    }
    let signals = sys::SignalGuard::block();
    let mut input = sys::FdInput {
        fd: input_fd,
        wait_mask: signals.wait_mask(),
    };
    run(&mut input, out, color, timeout)
}

/// The dialog itself: message, prompt, answers until `timeout` has passed in total.
fn run(input: &mut dyn Input, out: &mut dyn Write, color: bool, timeout: Duration) -> Outcome {
    let deadline = Instant::now().checked_add(timeout);
    let mut screen = Screen { out, color };
    screen.say(MESSAGE);
    // Only what is typed once the prompt is there answers it.
    input.discard_typed();
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
            // The unfinished line must not reach the shell once the tool has moved on.
            input.discard_typed();
            return screen.finish(Outcome::NoReply);
        }
        match input.wait(remaining) {
            Wait::Ready => {}
            Wait::TimedOut => continue,
            Wait::Interrupted => {
                input.discard_typed();
                return screen.finish(Outcome::Interrupted);
            }
            Wait::Failed => return screen.finish(Outcome::Closed),
        }
        match input.read(&mut chunk) {
            Read::Data(n) => lines.push(&chunk[..n]),
            Read::Again => {}
            // A last answer without a newline still counts, as it would for `input()`.
            Read::Eof => {
                let outcome = match lines.rest() {
                    Some(Reply::Yes) => Outcome::Accepted,
                    Some(Reply::No) => Outcome::Declined,
                    Some(Reply::Other) | None => Outcome::Closed,
                };
                return screen.finish(outcome);
            }
            Read::Interrupted => {
                input.discard_typed();
                return screen.finish(Outcome::Interrupted);
            }
            Read::Failed => return screen.finish(Outcome::Closed),
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
    use std::fs::{File, OpenOptions};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    use std::time::Duration;

    use super::{Input, NoDialog, Outcome, Read, Wait};

    pub const COLOUR: bool = true;

    /// Signals that report a fault of the running code: never blocked (blocking them would
    /// only turn the host's crash handler into a plain kill).
    const SYNCHRONOUS: [libc::c_int; 7] = [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGTRAP,
        libc::SIGSYS,
        libc::SIGABRT,
    ];

    /// The ways to ask a program to stop: they end the wait.
    const ENDING: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

    /// Job-control stops: let through while waiting when they only stop the process.
    const STOPPING: [libc::c_int; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

    /// The controlling terminal, opened read-write for this dialog.
    pub struct Terminal {
        tty: File,
    }

    impl Terminal {
        pub fn open() -> Result<Terminal, NoDialog> {
            // SAFETY: isatty, tcgetpgrp and getpgrp take plain integers and only report
            // state; a failing call returns 0 or -1, handled below.
            let (stdin_is_tty, foreground, group) =
                unsafe { (libc::isatty(0), libc::tcgetpgrp(0), libc::getpgrp()) };
            if stdin_is_tty != 1 {
                return Err(NoDialog::StdinNotTerminal);
            }
            // tcgetpgrp fails (ENOTTY) unless fd 0 is our controlling terminal.
            if foreground < 0 {
                return Err(NoDialog::NotControllingTerminal);
            }
            if foreground != group {
                return Err(NoDialog::Background);
            }
            let tty = OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open("/dev/tty")
                .map_err(|_| NoDialog::NoTerminal)?;
            Ok(Terminal { tty })
        }

        pub fn ask(&mut self, color: bool, timeout: Duration) -> Outcome {
            let fd = self.tty.as_raw_fd();
            super::ask_with(fd, &mut self.tty, color, timeout)
        }
    }

    /// Blocks the signals of the module documentation in the calling thread for as long as it
    /// lives, and knows the mask to wait with.
    pub struct SignalGuard {
        old: libc::sigset_t,
        wait: libc::sigset_t,
    }

    impl SignalGuard {
        pub fn block() -> SignalGuard {
            // SAFETY: the sigset functions only write the sets passed, which are valid locals;
            // pthread_sigmask reads `block` and writes `old`, both valid for the call; the
            // sigaction query passes NULL as the new action and a valid place for the old one.
            unsafe {
                let mut block: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut block);
                for signal in SYNCHRONOUS {
                    libc::sigdelset(&mut block, signal);
                }
                let mut old: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut old);
                libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);

                let mut wait = block;
                for signal in SYNCHRONOUS {
                    if libc::sigismember(&old, signal) == 1 {
                        libc::sigaddset(&mut wait, signal);
                    }
                }
                for signal in ENDING {
                    if libc::sigismember(&old, signal) != 1 {
                        libc::sigdelset(&mut wait, signal);
                    }
                }
                for signal in STOPPING {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    let default = libc::sigaction(signal, std::ptr::null(), &mut action) == 0
                        && action.sa_sigaction == libc::SIG_DFL;
                    if default && libc::sigismember(&old, signal) != 1 {
                        libc::sigdelset(&mut wait, signal);
                    }
                }
                SignalGuard { old, wait }
            }
        }

        pub fn wait_mask(&self) -> libc::sigset_t {
            self.wait
        }
    }

    impl Drop for SignalGuard {
        fn drop(&mut self) {
            // SAFETY: `old` is the valid mask saved in `block`; NULL is allowed for the
            // previous mask. Signals that became pending are delivered now.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
            }
        }
    }

    /// A terminal or pipe descriptor, waited on with the guard's mask.
    pub struct FdInput {
        pub fd: i32,
        pub wait_mask: libc::sigset_t,
    }

    impl Input for FdInput {
        /// Waits until `fd` can be read (data, end of file or an error to report) or `limit`
        /// passes. `Interrupted` only when a handler of a signal that ends the wait ran.
        fn wait(&mut self, limit: Duration) -> Wait {
            let mut entry = libc::pollfd {
                fd: self.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // Long waits are cut to a day: the caller's loop waits again.
            let limit = limit.min(Duration::from_secs(86_400));
            match poll_with_mask(&mut entry, limit, &self.wait_mask) {
                Ok(0) => Wait::TimedOut,
                // POLLIN, POLLHUP and POLLERR all mean that read(2) will not block and will
                // say what happened.
                Ok(_) if entry.revents & libc::POLLNVAL == 0 => Wait::Ready,
                Ok(_) => Wait::Failed,
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => Wait::Interrupted,
                Err(_) => Wait::Failed,
            }
        }

        fn read(&mut self, buf: &mut [u8]) -> Read {
            // SAFETY: `buf` is a valid, writable buffer of `buf.len()` bytes for the whole
            // call; read(2) writes at most that many bytes into it.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
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

        fn discard_typed(&mut self) {
            // SAFETY: tcflush takes plain integers; on a pipe it fails with ENOTTY, harmlessly.
            unsafe {
                libc::tcflush(self.fd, libc::TCIFLUSH);
            }
        }
    }

    /// poll(2) with `mask` as the thread's signal mask for the duration of the wait.
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    fn poll_with_mask(
        entry: &mut libc::pollfd,
        limit: Duration,
        mask: &libc::sigset_t,
    ) -> std::io::Result<i32> {
        let timeout = libc::timespec {
            tv_sec: limit.as_secs() as libc::time_t,
            tv_nsec: limit.subsec_nanos() as _,
        };
        // SAFETY: `entry`, `timeout` and `mask` are valid for the call; the count is 1, the
        // number of entries `entry` points to. The mask is swapped atomically with the wait.
        let ready = unsafe { libc::ppoll(entry, 1, &timeout, mask) };
        if ready < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(ready)
    }

    /// Without ppoll(2): the mask is set, poll(2) waits, the mask is put back. A signal that
    /// arrives between the first two calls runs its handler before the wait, which then goes
    /// on until the next signal, answer or the deadline.
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    )))]
    fn poll_with_mask(
        entry: &mut libc::pollfd,
        limit: Duration,
        mask: &libc::sigset_t,
    ) -> std::io::Result<i32> {
        // Rounds up to whole milliseconds so that the caller's deadline has passed when this
        // times out.
        let millis = i32::try_from(limit.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX);
        // SAFETY: the masks are valid sets for the calls; `entry` is a valid pollfd and the
        // count passed is 1.
        unsafe {
            let mut during: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_SETMASK, mask, &mut during);
            let ready = libc::poll(entry, 1, millis);
            let result = if ready < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(ready)
            };
            libc::pthread_sigmask(libc::SIG_SETMASK, &during, std::ptr::null_mut());
            result
        }
    }
}

#[cfg(windows)]
mod sys {
    use std::fs::{File, OpenOptions};
    use std::io::{IsTerminal, Read as _};
    use std::os::windows::io::AsRawHandle;
    use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
    use std::thread::JoinHandle;
    use std::time::Duration;

    use super::{Input, NoDialog, Outcome, Read, Wait};

    pub const COLOUR: bool = false;

    type Handle = *mut core::ffi::c_void;
    const ERROR_OPERATION_ABORTED: i32 = 995;

    const KEY_EVENT: u16 = 0x0001;
    const VK_RETURN: u16 = 0x0D;
    const ENTER_SCAN_CODE: u16 = 0x1C;

    /// `KEY_EVENT_RECORD`.
    #[repr(C)]
    struct KeyEventRecord {
        key_down: i32,
        repeat_count: u16,
        virtual_key_code: u16,
        virtual_scan_code: u16,
        unicode_char: u16,
        control_key_state: u32,
    }

    /// `INPUT_RECORD` holding a key event (the largest member of its union, 16 bytes).
    #[repr(C)]
    struct InputRecord {
        event_type: u16,
        key: KeyEventRecord,
    }

    const _: () = assert!(std::mem::size_of::<InputRecord>() == 20);

    #[link(name = "kernel32")]
    extern "system" {
        fn CancelSynchronousIo(thread: Handle) -> i32;
        fn FlushConsoleInputBuffer(console_input: Handle) -> i32;
        fn WriteConsoleInputW(
            console_input: Handle,
            buffer: *const InputRecord,
            length: u32,
            written: *mut u32,
        ) -> i32;
    }

    /// The console, opened for this dialog.
    pub struct Terminal {
        input: File,
        output: File,
    }

    impl Terminal {
        pub fn open() -> Result<Terminal, NoDialog> {
            if !std::io::stdin().is_terminal() {
                return Err(NoDialog::StdinNotTerminal);
            }
            let input = OpenOptions::new()
                .read(true)
                .write(true)
                .open("CONIN$")
                .map_err(|_| NoDialog::NoTerminal)?;
            let output = OpenOptions::new()
                .write(true)
                .open("CONOUT$")
                .map_err(|_| NoDialog::NoTerminal)?;
            Ok(Terminal { input, output })
        }

        pub fn ask(&mut self, color: bool, timeout: Duration) -> Outcome {
            let mut input = ConsoleInput {
                console: &self.input,
                reader: None,
                outstanding: false,
                ready: None,
            };
            super::run(&mut input, &mut self.output, color, timeout)
        }
    }

    type Chunk = std::io::Result<Vec<u8>>;

    /// The helper thread: one console read per request, the result sent back.
    struct Reader {
        requests: Sender<()>,
        replies: Receiver<Chunk>,
        thread: JoinHandle<()>,
    }

    /// Console input read by a helper thread, started at the first wait.
    struct ConsoleInput<'a> {
        console: &'a File,
        reader: Option<Reader>,
        /// A read was requested and its reply has not come yet.
        outstanding: bool,
        ready: Option<Chunk>,
    }

    impl ConsoleInput<'_> {
        fn reader(&mut self) -> Option<&Reader> {
            if self.reader.is_none() {
                let mut console = self.console.try_clone().ok()?;
                let (requests, asked) = mpsc::channel::<()>();
                let (reply, replies) = mpsc::channel::<Chunk>();
                let thread = std::thread::Builder::new()
                    .name("ov-telemetry-dialog".into())
                    .spawn(move || {
                        let mut buf = [0u8; 512];
                        while asked.recv().is_ok() {
                            let chunk = console.read(&mut buf).map(|n| buf[..n].to_vec());
                            if reply.send(chunk).is_err() {
                                break;
                            }
                        }
                    })
                    .ok()?;
                self.reader = Some(Reader {
                    requests,
                    replies,
                    thread,
                });
            }
            self.reader.as_ref()
        }

        /// Ends the helper. A read still outstanding is ended the way libuv ends one: an
        /// Enter key event written into the console input makes the line read return, with
        /// the half-typed line, which is thrown away; it never takes a line typed for the
        /// tool later. An idle helper ends when its request channel closes.
        fn stop(&mut self) {
            let Some(reader) = self.reader.take() else {
                return;
            };
            if !std::mem::take(&mut self.outstanding) {
                return;
            }
            let enter = InputRecord {
                event_type: KEY_EVENT,
                key: KeyEventRecord {
                    key_down: 1,
                    repeat_count: 1,
                    virtual_key_code: VK_RETURN,
                    virtual_scan_code: ENTER_SCAN_CODE,
                    unicode_char: u16::from(b'\r'),
                    control_key_state: 0,
                },
            };
            let mut written = 0u32;
            // SAFETY: the handle is the console input owned by `console`; `enter` is one
            // valid record and `written` a valid place for the count, both live for the call.
            unsafe {
                WriteConsoleInputW(
                    self.console.as_raw_handle() as Handle,
                    &enter,
                    1,
                    &mut written,
                )
            };
            if reader.replies.recv_timeout(Duration::from_secs(1)).is_err() {
                // Last resort (a console that ignored the key): cancel the read itself.
                // SAFETY: the handle is the helper thread's, valid while `reader.thread`
                // lives (the JoinHandle is dropped, detaching it, only afterwards).
                unsafe { CancelSynchronousIo(reader.thread.as_raw_handle() as Handle) };
                let _ = reader.replies.recv_timeout(Duration::from_millis(200));
            }
        }
    }

    impl Input for ConsoleInput<'_> {
        fn wait(&mut self, limit: Duration) -> Wait {
            if self.ready.is_some() {
                return Wait::Ready;
            }
            let outstanding = self.outstanding;
            let Some(reader) = self.reader() else {
                return Wait::Failed;
            };
            if !outstanding && reader.requests.send(()).is_err() {
                return Wait::Failed;
            }
            let result = reader.replies.recv_timeout(limit);
            match result {
                Ok(chunk) => {
                    self.outstanding = false;
                    self.ready = Some(chunk);
                    Wait::Ready
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.outstanding = true;
                    Wait::TimedOut
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.outstanding = false;
                    Wait::Failed
                }
            }
        }

        fn read(&mut self, buf: &mut [u8]) -> Read {
            match self.ready.take() {
                None => Read::Again,
                Some(Ok(bytes)) if bytes.is_empty() => Read::Eof,
                Some(Ok(bytes)) => {
                    // The helper reads at most 512 bytes, the size of the caller's buffer.
                    let n = bytes.len().min(buf.len());
                    buf[..n].copy_from_slice(&bytes[..n]);
                    Read::Data(n)
                }
                // Ctrl-C with a console control handler installed by the host.
                Some(Err(e)) if e.raw_os_error() == Some(ERROR_OPERATION_ABORTED) => {
                    Read::Interrupted
                }
                Some(Err(_)) => Read::Failed,
            }
        }

        fn discard_typed(&mut self) {
            self.stop();
            // SAFETY: the handle is the console input handle owned by `console`, valid here.
            unsafe { FlushConsoleInputBuffer(self.console.as_raw_handle() as Handle) };
        }
    }

    impl Drop for ConsoleInput<'_> {
        fn drop(&mut self) {
            self.stop();
        }
    }
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
    fn signals_are_blocked_during_the_dialog_and_restored_after() {
        // SAFETY: the sigset functions write only the local sets; pthread_sigmask with a NULL
        // new set only reads the current mask.
        let blocked = |signal: libc::c_int| unsafe {
            let mut now: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut now);
            libc::sigismember(&now, signal) == 1
        };
        // The mask this thread inherited (a parent may have blocked some signals).
        let before = [libc::SIGWINCH, libc::SIGINT].map(blocked);
        {
            let guard = sys::SignalGuard::block();
            assert!(blocked(libc::SIGWINCH) && blocked(libc::SIGINT) && blocked(libc::SIGCHLD));
            assert!(
                !blocked(libc::SIGSEGV),
                "synchronous signals stay deliverable"
            );
            let wait = guard.wait_mask();
            // SAFETY: sigismember only reads the set.
            let in_wait = |signal| unsafe { libc::sigismember(&wait, signal) == 1 };
            // Ctrl-C ends the wait, unless the thread had it blocked before.
            assert_eq!(in_wait(libc::SIGINT), before[1]);
            assert!(in_wait(libc::SIGWINCH) && in_wait(libc::SIGCHLD) && in_wait(libc::SIGUSR1));
        }
        assert_eq!([libc::SIGWINCH, libc::SIGINT].map(blocked), before);
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
