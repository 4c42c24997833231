//! Shows the consent dialog, for the pseudo-terminal tests in `tests/dialog.rs` and for trying
//! it by hand (`cargo run --example dialog_probe > out.txt 2> log`: the dialog still shows).
//!
//! Prints `group_leader=<bool>` (Unix) and `can_prompt=<bool>` to stderr, and `no_dialog=<reason>` when no dialog may be shown;
//! otherwise runs the dialog on the terminal and prints `outcome=<Outcome>` to stderr. Prints
//! `done` to stdout at the end. Always exits 0.
//!
//! Options:
//! - `--timeout-ms <n>` (default 50000);
//! - `--catch-sigint`: a SIGINT handler that does nothing (so that Ctrl-C interrupts the
//!   dialog instead of killing the process);
//! - `--catch-other-signals`: handlers for SIGWINCH, SIGCHLD, SIGUSR1 and SIGALRM that count
//!   them; `signals=<n>` is printed after the dialog;
//! - `--wait-for-input`: before the dialog, prints `waiting_for_input` and waits (at most 20 s)
//!   until a whole line is typed, without reading it: the line is typed-ahead input;
//! - `--read-after`: after the dialog, reads one line from stdin and prints `after=<line:?>`.
//!
//! The handlers are installed without `SA_RESTART`, as a host that wants to see `EINTR` would.

use std::io::{BufRead, Write};
use std::time::Duration;

use openvino_telemetry::dialog;

fn main() {
    let mut catch_sigint = false;
    let mut catch_others = false;
    let mut wait_for_input = false;
    let mut read_after = false;
    let mut timeout = dialog::DEFAULT_TIMEOUT;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--catch-sigint" => catch_sigint = true,
            "--catch-other-signals" => catch_others = true,
            "--wait-for-input" => wait_for_input = true,
            "--read-after" => read_after = true,
            "--timeout-ms" => {
                let value = args.next().and_then(|v| v.parse().ok());
                let Some(millis) = value else {
                    eprintln!("--timeout-ms needs a number of milliseconds");
                    std::process::exit(2);
                };
                timeout = Duration::from_millis(millis);
            }
            other => {
                eprintln!("unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }

    if catch_sigint {
        signals::install(&[signals::SIGINT]);
    }
    if catch_others {
        signals::install(&signals::OTHERS);
    }
    #[cfg(unix)]
    {
        // SAFETY: getpgrp and getpid take no arguments and cannot fail.
        let leader = unsafe { libc::getpgrp() == libc::getpid() };
        eprintln!("group_leader={leader}");
    }
    match dialog::Terminal::open() {
        Err(why) => {
            eprintln!("can_prompt=false");
            eprintln!("no_dialog={why}");
        }
        Ok(mut terminal) => {
            eprintln!("can_prompt=true");
            if wait_for_input {
                eprintln!("waiting_for_input");
                signals::wait_for_a_line(Duration::from_secs(20));
            }
            let outcome = terminal.ask(timeout);
            eprintln!("outcome={outcome:?}");
        }
    }
    if catch_others {
        eprintln!("signals={}", signals::caught());
    }
    if read_after {
        let mut line = String::new();
        let _ = std::io::stdin().lock().read_line(&mut line);
        eprintln!("after={line:?}");
    }
    println!("done");
    let _ = std::io::stdout().flush();
}

#[cfg(unix)]
mod signals {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    pub const SIGINT: libc::c_int = libc::SIGINT;
    pub const OTHERS: [libc::c_int; 4] =
        [libc::SIGWINCH, libc::SIGCHLD, libc::SIGUSR1, libc::SIGALRM];

    static CAUGHT: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn count(_signal: libc::c_int) {
        // Async-signal-safe: one atomic add.
        CAUGHT.fetch_add(1, Ordering::SeqCst);
    }

    pub fn caught() -> usize {
        CAUGHT.load(Ordering::SeqCst)
    }

    pub fn install(list: &[libc::c_int]) {
        for &signal in list {
            // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags); the
            // handler only does an atomic add and so is async-signal-safe.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = count as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // No SA_RESTART: a blocked poll(2) or read(2) would return EINTR.
            action.sa_flags = 0;
            // SAFETY: `action` is initialised and outlives the call; NULL for the old action
            // is allowed.
            let rc = unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
            assert_eq!(rc, 0, "sigaction: {}", std::io::Error::last_os_error());
        }
    }

    /// Waits until stdin is readable (on a terminal in canonical mode: a whole line was typed)
    /// or `limit` passes, reading nothing.
    pub fn wait_for_a_line(limit: Duration) {
        let mut entry = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = i32::try_from(limit.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: `entry` is a valid pollfd for the call and the count is 1.
        unsafe { libc::poll(&mut entry, 1, millis) };
    }
}

#[cfg(not(unix))]
mod signals {
    use std::time::Duration;

    pub const SIGINT: i32 = 2;
    pub const OTHERS: [i32; 0] = [];

    pub fn caught() -> usize {
        0
    }

    pub fn install(_list: &[i32]) {}

    pub fn wait_for_a_line(_limit: Duration) {}
}
