//! Shows the consent dialog, for the pseudo-terminal tests in `tests/dialog.rs` and for trying
//! it by hand.
//!
//! Prints `can_prompt=<bool>` to stderr; then, if `can_prompt()` is true or `--force` is given,
//! runs `dialog::ask` and prints `outcome=<Outcome>` to stderr. Always exits 0.
//!
//! Options: `--force`, `--timeout-ms <n>` (default 50000), `--catch-sigint` (installs a SIGINT
//! handler that does nothing, so that Ctrl-C interrupts the dialog instead of killing it).

use std::time::Duration;

use openvino_telemetry::dialog;

fn main() {
    let mut force = false;
    let mut catch_sigint = false;
    let mut timeout = dialog::DEFAULT_TIMEOUT;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--force" => force = true,
            "--catch-sigint" => catch_sigint = true,
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

    let can_prompt = dialog::can_prompt();
    eprintln!("can_prompt={can_prompt}");
    if can_prompt || force {
        if catch_sigint {
            catch_sigint_without_restart();
        }
        let outcome = dialog::ask(timeout);
        eprintln!("outcome={outcome:?}");
    }
}

#[cfg(unix)]
fn catch_sigint_without_restart() {
    extern "C" fn ignore(_signal: libc::c_int) {}

    // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags); the handler is
    // set to a function that does nothing and so is async-signal-safe.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // No SA_RESTART: a blocked poll(2) or read(2) must return EINTR.
    action.sa_flags = 0;
    // SAFETY: `action` is initialised and outlives the call; passing NULL for the old action
    // is allowed.
    let rc = unsafe { libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "sigaction: {}", std::io::Error::last_os_error());
}

#[cfg(not(unix))]
fn catch_sigint_without_restart() {}
