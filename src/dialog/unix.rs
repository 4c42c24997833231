use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use super::reading::{Input, Read, Wait};
use super::{NoDialog, Outcome};

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

/// Compiles `$ppoll` where the C library has ppoll(2), else `$fallback`: the list of those
/// systems is written once.
macro_rules! with_or_without_ppoll {
    (on: [$($os:literal),*], ppoll: $ppoll:item, fallback: $fallback:item) => {
        #[cfg(any($(target_os = $os),*))]
        $ppoll
        #[cfg(not(any($(target_os = $os),*)))]
        $fallback
    };
}

with_or_without_ppoll! {
    on: ["linux", "android", "freebsd", "dragonfly", "netbsd", "openbsd"],
    ppoll:
    /// poll(2) with `mask` as the thread's signal mask for the duration of the wait.
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
    },
    fallback:
    /// Without ppoll(2): the mask is set, poll(2) waits, the mask is put back. A signal that
    /// arrives between the first two calls runs its handler before the wait, which then goes
    /// on until the next signal, answer or the deadline.
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let guard = SignalGuard::block();
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
}
