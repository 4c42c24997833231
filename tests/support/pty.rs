//! A pseudo-terminal harness for integration tests: runs a program on a new terminal the way
//! an interactive shell runs a command, and lets the test type at it and read what it prints.
//!
//! The `pty-process` crate opens the terminal, sets its window size and starts a process as
//! the leader of a new session with the terminal as its controlling terminal
//! ([`Job::SessionLeader`]). The other [`Job`]s need what a shell does and no pty crate
//! offers: a session leader that stays behind while the command runs in a process group of
//! its own (foreground or background) or in the leader's group:
//!
//! ```text
//! test process ── spawn ──▶ session leader (stands in for the shell; ignores
//!                              │             SIGINT/SIGQUIT/SIGTSTP/SIGTTIN/SIGTTOU)
//!                              └─ fork ──▶ command (its job's process group, then execve)
//! ```
//!
//! That fork is the small hand-written part ([`job_control`]): it runs in `pre_exec` of the
//! spawn, after `pty-process` made the session, and std does the exec and reports its
//! failure. The session leader reports the command's pid and wait status through a pipe, as
//! the command is not the test's child. Nothing sleeps: every wait has a deadline.
//!
//! On Linux the output side has the usual terminal settings (`ONLCR`), so the program's
//! `\n` reads back as `\r\n`; what the test types is echoed back into the output.
#![cfg(unix)]
#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// Where the command runs relative to the terminal's job control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Like `cmd` typed at an interactive shell: own process group, made the terminal's
    /// foreground group; the parent (the session leader) is in the same session.
    Foreground,
    /// Like `cmd &`: own process group, but the foreground stays with the session leader.
    Background,
    /// Stays in the session leader's (foreground) process group, as a helper process that a
    /// tool starts would: not a process-group leader.
    SharedGroup,
    /// The command itself is the session leader, so it is a foreground group leader whose
    /// parent (the test process) is in another session.
    SessionLeader,
}

/// What to run on the new terminal. `env` adds to or replaces variables of this process's
/// environment; `env_remove` drops one.
#[derive(Clone, Debug)]
pub struct PtyCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    job: Job,
    size: (u16, u16),
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
}

impl PtyCommand {
    /// `program` is executed as std's `Command` executes it.
    pub fn new(program: impl AsRef<Path>) -> PtyCommand {
        PtyCommand {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            job: Job::Foreground,
            size: (24, 80),
            stdout: None,
            stderr: None,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut PtyCommand {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(&mut self, args: I) -> &mut PtyCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for arg in args {
            self.arg(arg);
        }
        self
    }

    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut PtyCommand {
        let key = key.as_ref().to_os_string();
        self.env.push((key, Some(value.as_ref().to_os_string())));
        self
    }

    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut PtyCommand {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    pub fn job(&mut self, job: Job) -> &mut PtyCommand {
        self.job = job;
        self
    }

    pub fn window_size(&mut self, rows: u16, cols: u16) -> &mut PtyCommand {
        self.size = (rows, cols);
        self
    }

    /// Sends the command's stdout to `path` (created or truncated) instead of the terminal,
    /// like `cmd > path` at a shell.
    pub fn stdout_file(&mut self, path: impl AsRef<Path>) -> &mut PtyCommand {
        self.stdout = Some(path.as_ref().to_path_buf());
        self
    }

    /// Sends the command's stderr to `path` (created or truncated), like `cmd 2> path`.
    pub fn stderr_file(&mut self, path: impl AsRef<Path>) -> &mut PtyCommand {
        self.stderr = Some(path.as_ref().to_path_buf());
        self
    }

    /// Starts the command; returns once it has been executed. Panics with the reason when
    /// the terminal cannot be set up or the program cannot be executed.
    pub fn spawn(&self) -> Pty {
        Pty::start(self).unwrap_or_else(|e| panic!("cannot run {:?} on a pty: {e}", self.program))
    }

    /// The `pty-process` command, without the job control.
    fn to_command(&self) -> io::Result<pty_process::blocking::Command> {
        let mut cmd = pty_process::blocking::Command::new(&self.program).args(&self.args);
        for (key, value) in &self.env {
            cmd = match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(path) = &self.stdout {
            cmd = cmd.stdout(std::fs::File::create(path)?);
        }
        if let Some(path) = &self.stderr {
            cmd = cmd.stderr(std::fs::File::create(path)?);
        }
        Ok(cmd)
    }
}

/// A command running on its own pseudo-terminal. Dropping it kills and reaps everything it
/// started.
pub struct Pty {
    master: Arc<pty_process::blocking::Pty>,
    /// The process this test started: the session leader, or the command in `SessionLeader`.
    leader: Child,
    /// The command.
    pid: i32,
    job: Job,
    /// The session leader's report of the command's wait status (not in `SessionLeader`).
    report: Option<io::PipeReader>,
    /// What the terminal printed, in chunks, from the reader thread; closed at its end.
    chunks: Receiver<Vec<u8>>,
    output: Vec<u8>,
    /// How much of `output` earlier `read_until` calls have consumed.
    consumed: usize,
    /// The terminal reported end of output (every slave descriptor is closed).
    output_ended: bool,
    status: Option<ExitStatus>,
    reaped: bool,
}

impl Pty {
    /// Types `bytes` at the terminal (they go through the line discipline: echo, Ctrl-C, …).
    pub fn write(&mut self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        (&*self.master).write_all(bytes.as_ref())
    }

    /// Ctrl-D: at the start of a line (canonical mode) the program's next read returns 0.
    pub fn send_eof(&mut self) -> io::Result<()> {
        self.write([0x04])
    }

    /// Ctrl-C: the terminal sends SIGINT to its foreground process group.
    pub fn send_interrupt(&mut self) -> io::Result<()> {
        self.write([0x03])
    }

    /// Changes the window size: the terminal sends SIGWINCH to its foreground process group.
    pub fn resize(&mut self, rows: u16, cols: u16) -> io::Result<()> {
        self.master
            .resize(pty_process::Size::new(rows, cols))
            .map_err(io::Error::other)
    }

    /// Sends `signal` to the command (not to its process group), unless it is known gone.
    pub fn signal(&mut self, signal: libc::c_int) -> io::Result<()> {
        if self.reaped {
            return Err(io::Error::other("the command has already exited"));
        }
        // SAFETY: kill(2) takes plain integers; the command was not reported dead.
        if unsafe { libc::kill(self.pid, signal) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads output until `needle` appears after what earlier calls consumed, or `timeout`
    /// passes, or the output ends. On success returns all output so far (lossy UTF-8) and
    /// consumes it up to the end of `needle`; on failure says why and includes the output.
    pub fn read_until(&mut self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = find(&self.output[self.consumed..], needle.as_bytes()) {
                self.consumed += at + needle.len();
                return Ok(self.output());
            }
            if self.output_ended {
                return Err(format!(
                    "output ended before {needle:?} appeared; output:\n{}",
                    self.output()
                ));
            }
            if !self.receive_until(deadline) {
                return Err(format!(
                    "{needle:?} did not appear within {timeout:?}; output:\n{}",
                    self.output()
                ));
            }
        }
    }

    /// Reads until the output ends (the command and everything holding the terminal exited)
    /// or `timeout` passes; returns all output either way.
    pub fn read_to_end(&mut self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        while !self.output_ended {
            if !self.receive_until(deadline) {
                return Err(format!(
                    "output did not end within {timeout:?}; output:\n{}",
                    self.output()
                ));
            }
        }
        self.consumed = self.output.len();
        Ok(self.output())
    }

    /// All output read so far (lossy UTF-8), without waiting.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// The command's process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits for the command to exit, then for the rest of its output (a reader thread keeps
    /// reading, so it never blocks on a full terminal). Returns its status, or `None` when
    /// `timeout` passed — then the command is killed — or the status was lost because the
    /// session leader died.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.reaped {
            return self.status;
        }
        let deadline = Instant::now() + timeout;
        let Ok(Some(status)) = self.leader.wait_timeout(timeout) else {
            self.kill();
            return None;
        };
        self.reaped = true;
        self.status = match &mut self.report {
            None => Some(status),
            Some(report) => read_i32(report).map(ExitStatus::from_raw),
        };
        while !self.output_ended && self.receive_until(deadline) {}
        self.status
    }

    /// Kills the command (and its process group when it has its own) and the session leader,
    /// and reaps the process this test started. Idempotent.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        // While the process this test started runs, the command's pid is not reused: the
        // session leader reports its status before it exits.
        if let Ok(None) = self.leader.try_wait() {
            // SAFETY: kill(2) takes plain integers.
            unsafe {
                if self.job != Job::SharedGroup {
                    libc::kill(-self.pid, libc::SIGKILL);
                }
                libc::kill(self.pid, libc::SIGKILL);
            }
        }
        let _ = self.leader.kill();
        let _ = self.leader.wait();
        self.reaped = true;
    }

    fn start(cmd: &PtyCommand) -> Result<Pty, String> {
        let (master, pts) = pty_process::blocking::open().map_err(|e| format!("open: {e}"))?;
        let (rows, cols) = cmd.size;
        master
            .resize(pty_process::Size::new(rows, cols))
            .map_err(|e| format!("window size: {e}"))?;
        let command = cmd.to_command().map_err(|e| format!("redirect: {e}"))?;
        let (mut report_r, report_w) = io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let layer = job_control(cmd.job, report_w.as_raw_fd());
        // SAFETY: `job_control` makes only async-signal-safe calls (see there).
        let command = unsafe { command.pre_exec(layer) };
        let leader = command.spawn(pts).map_err(|e| e.to_string())?;
        drop(report_w);
        let (pid, report) = if cmd.job == Job::SessionLeader {
            (leader.id() as i32, None)
        } else {
            let pid = read_i32(&mut report_r).ok_or("the session leader reported no pid")?;
            (pid, Some(report_r))
        };
        let master = Arc::new(master);
        Ok(Pty {
            chunks: read_in_background(Arc::clone(&master)),
            master,
            leader,
            pid,
            job: cmd.job,
            report,
            output: Vec::new(),
            consumed: 0,
            output_ended: false,
            status: None,
            reaped: false,
        })
    }

    /// Takes what the reader thread read, waiting until `deadline`; false when it passed.
    fn receive_until(&mut self, deadline: Instant) -> bool {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match self.chunks.recv_timeout(remaining) {
            Ok(chunk) => self.output.extend_from_slice(&chunk),
            Err(RecvTimeoutError::Disconnected) => self.output_ended = true,
            Err(RecvTimeoutError::Timeout) => return false,
        }
        true
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the terminal until its output ends (EIO on Linux once every slave descriptor is
/// closed), sending each chunk; the channel closes at the end.
fn read_in_background(master: Arc<pty_process::blocking::Pty>) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match (&*master).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    });
    rx
}

fn read_i32(pipe: &mut io::PipeReader) -> Option<i32> {
    let mut bytes = [0u8; 4];
    pipe.read_exact(&mut bytes).ok()?;
    Some(i32::from_ne_bytes(bytes))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Job control: hand-written because no pty crate runs a command under a shell-like session
// leader (pty-process, portable-pty, expectrl and rexpect all make the command itself the
// session leader). Kept to the fork, the process group and the status report.
// ---------------------------------------------------------------------------------------

/// Signals an interactive shell ignores; the command gets them at their defaults, whatever
/// the test process inherited.
const JOB_CONTROL_SIGNALS: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// The `pre_exec` step, run in the new session leader once `pty-process` made the session.
/// For [`Job::SessionLeader`] it only restores the job-control signals; else it forks: the
/// child goes on to exec the command in `job`'s process group, the parent stays as the
/// session leader and never returns. Only async-signal-safe calls, no allocation.
fn job_control(job: Job, report: RawFd) -> impl FnMut() -> io::Result<()> + Send + Sync {
    move || {
        if job == Job::SessionLeader {
            restore_job_signals();
            return Ok(());
        }
        // SAFETY: signal(2) and fork(2) in the freshly forked, single-threaded session
        // leader; each side makes only async-signal-safe calls before exec or _exit. The
        // test process's SIGCHLD handler (wait-timeout's) would write to a pipe that
        // `lead_session` closes.
        unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => join_job(job),
            command => unsafe { lead_session(command, report) },
        }
    }
}

/// Async-signal-safe: the job-control signals at their defaults.
fn restore_job_signals() {
    for signal in JOB_CONTROL_SIGNALS {
        // SAFETY: signal(2) with a plain disposition.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    }
}

/// In the command's process: the job-control signals at their defaults, and its own process
/// group (made the foreground one) unless it shares the leader's. std then executes it.
fn join_job(job: Job) -> io::Result<()> {
    restore_job_signals();
    if job == Job::SharedGroup {
        return Ok(());
    }
    // SAFETY: plain-integer calls. SIGTTOU is ignored around tcsetpgrp, as a shell's child
    // does, because the new group is still in the background when it takes the terminal.
    unsafe {
        if libc::setpgid(0, 0) < 0 {
            return Err(io::Error::last_os_error());
        }
        if job == Job::Foreground {
            libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            let rc = libc::tcsetpgrp(0, libc::getpid());
            libc::signal(libc::SIGTTOU, libc::SIG_DFL);
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// The stand-in shell: reports the command's pid and, once it ended, its wait status, then
/// exits. It never execs, so it first closes every descriptor it inherited from the test
/// process but the terminal (0–2) and the report pipe (moved to 3): no other test's terminal
/// stays open through it, and std's exec-status pipe closes once the command executed.
///
/// # Safety
/// Only in the forked session leader; ends the process without unwinding.
unsafe fn lead_session(command: libc::pid_t, report: RawFd) -> ! {
    // SAFETY (whole function): async-signal-safe calls on plain integers and local buffers.
    unsafe {
        for signal in JOB_CONTROL_SIGNALS {
            libc::signal(signal, libc::SIG_IGN);
        }
        libc::dup2(report, 3);
        close_from(4);
        write_i32(3, command);
        let mut status = 0;
        loop {
            if libc::waitpid(command, &mut status, 0) == command {
                write_i32(3, status);
                break;
            }
            if errno() != libc::EINTR {
                break;
            }
        }
        libc::_exit(0)
    }
}

/// Closes every descriptor from `first` up. Async-signal-safe.
///
/// # Safety
/// Closes descriptors behind their owners' backs: only for a process that never returns to
/// them.
unsafe fn close_from(first: RawFd) {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range(2) takes plain integers.
    if unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0u32) } == 0 {
        return;
    }
    // SAFETY: sysconf and close take plain integers.
    unsafe {
        let limit = libc::sysconf(libc::_SC_OPEN_MAX).clamp(256, 65_536) as RawFd;
        for fd in first..limit {
            libc::close(fd);
        }
    }
}

/// One write(2) of 4 bytes to a pipe (atomic: under PIPE_BUF), retried on EINTR.
fn write_i32(fd: RawFd, value: i32) {
    let bytes = value.to_ne_bytes();
    // SAFETY: `bytes` is a valid local buffer for the call.
    while unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) } < 0
        && errno() == libc::EINTR
    {}
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}
