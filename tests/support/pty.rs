//! A pseudo-terminal harness for integration tests: runs a program on a new terminal the way
//! an interactive shell runs a command, and lets the test type at it and read what it prints.
//!
//! Process layout for the default [`Job::Foreground`]:
//!
//! ```text
//! test process ── fork ──▶ session leader  (setsid + TIOCSCTTY: stands in for the shell;
//!                              │            ignores SIGINT/SIGQUIT/SIGTSTP/SIGTTIN/SIGTTOU)
//!                              └─ fork ──▶ command (setpgid(0,0), tcsetpgrp, execve)
//! ```
//!
//! so the command is a process-group leader, its group is the terminal's foreground job and
//! its parent is in the same session. The other [`Job`] kinds break one of those on purpose.
//! The session leader reports the command's pid and, when it ends, its wait status through
//! a pipe, so the test can wait with a deadline (`poll(2)`) although the command is not its
//! own child.
//!
//! Everything between `fork` and `execve` is async-signal-safe (test binaries run tests on
//! several threads): paths, argv and the environment are turned into C strings before the
//! fork. The terminal and the pipes are opened close-on-exec, and the session leader, which
//! never execs, closes every descriptor it does not need, so that no other test's terminal
//! stays open by accident. Nothing sleeps: every wait is a `poll(2)` with a deadline.
//!
//! On Linux the output side has the usual terminal settings (`ONLCR`), so the program's
//! `\n` reads back as `\r\n`; what the test types is echoed back into the output.
#![cfg(unix)]
#![allow(dead_code)] // Each test binary uses a different part of the harness.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// How long `spawn` waits for the command to be started before it gives up.
const SPAWN_LIMIT: Duration = Duration::from_secs(10);

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
    /// The command itself is the session leader (`setsid` + `TIOCSCTTY`), so it is a
    /// foreground group leader whose parent (the test process) is in another session.
    SessionLeader,
}

/// What to run on the new terminal. `env` adds to or replaces variables of this process's
/// environment; `env_remove` drops one.
#[derive(Clone, Debug)]
pub struct PtyCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    job: Job,
    rows: u16,
    cols: u16,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
}

impl PtyCommand {
    /// `program` is executed as given (no `PATH` search); a relative path is taken relative
    /// to the working directory of the command.
    pub fn new(program: impl AsRef<Path>) -> PtyCommand {
        PtyCommand {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            job: Job::Foreground,
            rows: 24,
            cols: 80,
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

    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut PtyCommand {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    pub fn job(&mut self, job: Job) -> &mut PtyCommand {
        self.job = job;
        self
    }

    pub fn window_size(&mut self, rows: u16, cols: u16) -> &mut PtyCommand {
        self.rows = rows;
        self.cols = cols;
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

    /// Starts the command; returns once it has been executed (`execve` succeeded). Panics
    /// with the reason when the terminal cannot be set up or the program cannot be executed.
    pub fn spawn(&self) -> Pty {
        Pty::start(self).unwrap_or_else(|e| panic!("cannot run {:?} on a pty: {e}", self.program))
    }
}

/// A command running on its own pseudo-terminal. Dropping it kills and reaps everything it
/// started.
pub struct Pty {
    master: OwnedFd,
    /// The process this test forked: the session leader, or the command in `SessionLeader`.
    leader: libc::pid_t,
    /// The command.
    child: libc::pid_t,
    job: Job,
    /// Read end of the report pipe (see the module comment).
    report: OwnedFd,
    output: Vec<u8>,
    /// How much of `output` earlier `read_until` calls have consumed.
    consumed: usize,
    /// The terminal reported end of output (every slave descriptor is closed).
    output_ended: bool,
    status: Option<ExitStatus>,
    reaped: bool,
}

impl Pty {
    /// Runs `cmd` with `args` as the foreground job of a new terminal, with `env` added to this
    /// process's environment. Shorthand for [`PtyCommand`].
    pub fn spawn(cmd: &Path, args: &[&str], env: &[(&str, &str)]) -> Pty {
        let mut command = PtyCommand::new(cmd);
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        command.spawn()
    }

    /// Types `bytes` at the terminal (they go through the line discipline: echo, Ctrl-C, …).
    pub fn write(&mut self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        let mut rest = bytes.as_ref();
        while !rest.is_empty() {
            // SAFETY: `rest` is a valid buffer of `rest.len()` bytes for the whole call.
            let n =
                unsafe { libc::write(self.master.as_raw_fd(), rest.as_ptr().cast(), rest.len()) };
            if n < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            rest = &rest[n as usize..];
        }
        Ok(())
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
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize, which `size` is, valid for the call.
        if unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ as _, &size) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Sends `signal` to the command (not to its process group), unless it was reported gone.
    pub fn signal(&mut self, signal: libc::c_int) -> io::Result<()> {
        if self.status_reported() {
            return Err(io::Error::other("the command has already exited"));
        }
        // SAFETY: kill(2) takes plain integers; the command has not been reported dead, so
        // its pid is not reused yet.
        if unsafe { libc::kill(self.child, signal) } < 0 {
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
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(format!(
                    "{needle:?} did not appear within {timeout:?}; output:\n{}",
                    self.output()
                ));
            }
            self.pump(remaining)?;
        }
    }

    /// Reads until the output ends (the command and everything holding the terminal exited)
    /// or `timeout` passes; returns all output either way.
    pub fn read_to_end(&mut self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        while !self.output_ended {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(format!(
                    "output did not end within {timeout:?}; output:\n{}",
                    self.output()
                ));
            }
            self.pump(remaining)?;
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
        self.child
    }

    /// Waits for the command to exit, reading its output meanwhile (so it never blocks on a
    /// full terminal). Returns its status, or `None` when `timeout` passed — then the command
    /// is killed — or the status was lost because the session leader died.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.reaped {
            return self.status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                self.kill();
                return None;
            }
            let mut fds = [
                poll_entry(self.report.as_raw_fd()),
                poll_entry(if self.output_ended {
                    -1
                } else {
                    self.master.as_raw_fd()
                }),
            ];
            match poll(&mut fds, remaining) {
                Ok(0) => continue,
                Ok(_) => {}
                Err(e) => panic!("poll: {e}"),
            }
            if fds[1].revents != 0 {
                let _ = self.read_available();
            }
            if fds[0].revents != 0 {
                return self.collect_status();
            }
        }
    }

    /// Kills the command (and its process group when it has its own) and the session leader,
    /// and reaps the process this test forked. Idempotent.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        if self.leader == self.child {
            // SAFETY: kill(2) takes no pointers. `leader` is our own unreaped child, so its
            // pid (and group id) cannot have been reused.
            unsafe {
                libc::kill(-self.child, libc::SIGKILL);
                libc::kill(self.child, libc::SIGKILL);
            }
        } else {
            // The command is the session leader's child: once the leader reported its status
            // the command is gone and its pid may be reused, so only signal it before.
            if !self.status_reported() {
                // SAFETY: kill(2) takes no pointers; the command has not been reported dead.
                unsafe {
                    if self.job != Job::SharedGroup {
                        libc::kill(-self.child, libc::SIGKILL);
                    }
                    libc::kill(self.child, libc::SIGKILL);
                }
            }
            // SAFETY: as above; the leader is our own unreaped child.
            unsafe {
                libc::kill(self.leader, libc::SIGKILL);
            }
        }
        self.reap_leader();
    }

    fn start(cmd: &PtyCommand) -> Result<Pty, String> {
        let prepared = Prepared::new(cmd)?;
        let (master, slave) = open_pty(cmd.rows, cmd.cols)?;
        let (report_r, report_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let (exec_r, exec_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let report_r = OwnedFd::from(report_r);
        let report_w = OwnedFd::from(report_w);
        let exec_r = OwnedFd::from(exec_r);
        let exec_w = OwnedFd::from(exec_w);
        // Opened close-on-exec by std; the command gets them as fd 1 and 2 through dup2.
        let redirect = |path: &Option<PathBuf>| {
            path.as_ref()
                .map(|p| {
                    std::fs::File::create(p)
                        .map(OwnedFd::from)
                        .map_err(|e| format!("{}: {e}", p.display()))
                })
                .transpose()
        };
        let stdout = redirect(&cmd.stdout)?;
        let stderr = redirect(&cmd.stderr)?;

        let fds = ChildFds {
            master: master.as_raw_fd(),
            slave: slave.as_raw_fd(),
            report: report_w.as_raw_fd(),
            exec_error: exec_w.as_raw_fd(),
            stdout: stdout.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
            stderr: stderr.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
        };
        let mut keep = [
            fds.slave,
            fds.report,
            fds.exec_error,
            fds.stdout,
            fds.stderr,
        ];
        keep.sort_unstable();
        let fd_limit = fd_limit();

        // SAFETY: fork(2) takes no arguments. The child branch below only makes
        // async-signal-safe calls on data prepared before the fork and never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: we are the freshly forked child; `prepared` and the descriptors are
            // valid copies of the parent's, and the function never returns.
            unsafe { forked_main(&prepared, cmd.job, fds, &keep, fd_limit) }
        }

        // Only the forked processes may hold these now.
        drop(slave);
        drop(report_w);
        drop(exec_w);
        drop(stdout);
        drop(stderr);

        let mut pty = Pty {
            master,
            leader: pid,
            child: pid,
            job: cmd.job,
            report: report_r,
            output: Vec::new(),
            consumed: 0,
            output_ended: false,
            status: None,
            reaped: false,
        };
        let deadline = Instant::now() + SPAWN_LIMIT;
        if cmd.job != Job::SessionLeader {
            let mut pid_bytes = [0u8; 4];
            match read_full(pty.report.as_raw_fd(), &mut pid_bytes, deadline) {
                Ok(4) => pty.child = libc::pid_t::from_ne_bytes(pid_bytes),
                Ok(_) => return Err("the session leader died before starting the command".into()),
                Err(e) => return Err(format!("reading the command's pid: {e}")),
            }
        }
        // The exec-error pipe closes (read gives 0) when execve succeeds; on failure the
        // forked side writes errno into it first.
        let mut errno_bytes = [0u8; 4];
        match read_full(exec_r.as_raw_fd(), &mut errno_bytes, deadline) {
            Ok(0) => Ok(pty),
            Ok(4) => {
                let errno = i32::from_ne_bytes(errno_bytes);
                Err(format!("execve: {}", io::Error::from_raw_os_error(errno)))
            }
            Ok(n) => Err(format!("short report from the forked process ({n} bytes)")),
            Err(e) => Err(format!("waiting for execve: {e}")),
        }
    }

    /// Polls the terminal once for at most `limit` and reads what is there.
    fn pump(&mut self, limit: Duration) -> Result<(), String> {
        let mut fds = [poll_entry(self.master.as_raw_fd())];
        match poll(&mut fds, limit) {
            Ok(0) => Ok(()),
            Ok(_) => self.read_available(),
            Err(e) => Err(format!("poll: {e}")),
        }
    }

    fn read_available(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        // SAFETY: `chunk` is a valid, writable buffer of `chunk.len()` bytes for the call.
        let n = unsafe {
            libc::read(
                self.master.as_raw_fd(),
                chunk.as_mut_ptr().cast(),
                chunk.len(),
            )
        };
        if n > 0 {
            self.output.extend_from_slice(&chunk[..n as usize]);
            return Ok(());
        }
        if n == 0 {
            self.output_ended = true;
            return Ok(());
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::EINTR) | Some(libc::EAGAIN) => Ok(()),
            // Linux: the master reads EIO once no process holds the slave side any more.
            Some(libc::EIO) => {
                self.output_ended = true;
                Ok(())
            }
            _ => Err(format!("read from the pty: {error}")),
        }
    }

    /// Whether the session leader already wrote the command's status (without blocking).
    fn status_reported(&mut self) -> bool {
        if self.status.is_some() {
            return true;
        }
        let mut fds = [poll_entry(self.report.as_raw_fd())];
        if !matches!(poll(&mut fds, Duration::ZERO), Ok(n) if n > 0) {
            return false;
        }
        self.collect_status();
        self.status.is_some()
    }

    /// Called once the report pipe is readable: takes the status and reaps the leader.
    fn collect_status(&mut self) -> Option<ExitStatus> {
        if self.leader == self.child {
            // The command itself held the write end: end of file means it exited.
            self.reap_leader();
            return self.status;
        }
        let mut bytes = [0u8; 4];
        let deadline = Instant::now() + SPAWN_LIMIT;
        if let Ok(4) = read_full(self.report.as_raw_fd(), &mut bytes, deadline) {
            self.status = Some(ExitStatus::from_raw(i32::from_ne_bytes(bytes)));
        }
        self.reap_leader();
        self.status
    }

    fn reap_leader(&mut self) {
        if self.reaped {
            return;
        }
        let mut raw = 0;
        loop {
            // SAFETY: `raw` is a valid place for the status; `leader` is our child.
            let rc = unsafe { libc::waitpid(self.leader, &mut raw, 0) };
            if rc == self.leader {
                if self.leader == self.child {
                    self.status = Some(ExitStatus::from_raw(raw));
                }
                break;
            }
            if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        self.reaped = true;
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Everything the forked processes need, as C data made before the fork.
struct Prepared {
    program: CString,
    // `argv` and `envp` own the strings that the pointer arrays point into.
    argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    cwd: Option<CString>,
}

impl Prepared {
    fn new(cmd: &PtyCommand) -> Result<Prepared, String> {
        let c = |s: &OsStr| {
            CString::new(s.as_bytes()).map_err(|_| format!("{s:?} contains a NUL byte"))
        };
        let program = c(cmd.program.as_os_str())?;
        let mut argv = vec![program.clone()];
        for arg in &cmd.args {
            argv.push(c(arg)?);
        }
        let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        for (key, value) in &cmd.env {
            vars.retain(|(k, _)| k != key);
            if let Some(value) = value {
                vars.push((key.clone(), value.clone()));
            }
        }
        let mut envp = Vec::with_capacity(vars.len());
        for (key, value) in vars {
            let mut entry = key;
            entry.push("=");
            entry.push(value);
            envp.push(c(&entry)?);
        }
        let cwd = cmd.cwd.as_deref().map(|d| c(d.as_os_str())).transpose()?;
        let argv_ptrs = null_terminated(&argv);
        let envp_ptrs = null_terminated(&envp);
        Ok(Prepared {
            program,
            argv,
            argv_ptrs,
            envp,
            envp_ptrs,
            cwd,
        })
    }
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

#[derive(Clone, Copy)]
struct ChildFds {
    master: RawFd,
    slave: RawFd,
    report: RawFd,
    exec_error: RawFd,
    /// The file for the command's stdout, or -1 for the terminal.
    stdout: RawFd,
    /// The file for the command's stderr, or -1 for the terminal.
    stderr: RawFd,
}

/// Signals an interactive shell ignores; its children set them back to the default.
const JOB_CONTROL_SIGNALS: [libc::c_int; 5] = [
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// The forked side of `spawn`. Only async-signal-safe calls, no allocation, no panics.
///
/// # Safety
/// Must be called only in a freshly forked child, with the descriptors in `fds` open.
unsafe fn forked_main(
    prepared: &Prepared,
    job: Job,
    fds: ChildFds,
    keep: &[RawFd; 5],
    fd_limit: RawFd,
) -> ! {
    // SAFETY (whole function): every call is async-signal-safe and takes either no pointers
    // or pointers into `prepared`, which the fork copied and nothing frees before exec/_exit.
    unsafe {
        libc::close(fds.master);
        close_all_except(keep, fd_limit);
        if libc::setsid() < 0 || libc::ioctl(fds.slave, libc::TIOCSCTTY as _, 0) < 0 {
            fail(fds.exec_error);
        }
        if job == Job::SessionLeader {
            // The command keeps the report pipe open across exec; it closes when it exits.
            let flags = libc::fcntl(fds.report, libc::F_GETFD);
            libc::fcntl(fds.report, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            exec_command(prepared, fds);
        }

        for signal in JOB_CONTROL_SIGNALS {
            libc::signal(signal, libc::SIG_IGN);
        }
        let child = libc::fork();
        if child < 0 {
            fail(fds.exec_error);
        }
        if child == 0 {
            libc::close(fds.report);
            match job {
                Job::Foreground => {
                    // SIGTTOU is still ignored (inherited), so a background group may take
                    // the terminal; the session leader does not race us for it.
                    if libc::setpgid(0, 0) < 0 || libc::tcsetpgrp(fds.slave, libc::getpid()) < 0 {
                        fail(fds.exec_error);
                    }
                }
                Job::Background => {
                    if libc::setpgid(0, 0) < 0 {
                        fail(fds.exec_error);
                    }
                }
                Job::SharedGroup | Job::SessionLeader => {}
            }
            exec_command(prepared, fds);
        }

        // The session leader: report the pid, wait, report the status.
        libc::close(fds.slave);
        libc::close(fds.exec_error);
        for fd in [fds.stdout, fds.stderr] {
            if fd >= 0 {
                libc::close(fd);
            }
        }
        write_all_raw(fds.report, &child.to_ne_bytes());
        let mut status: libc::c_int = 0;
        loop {
            let rc = libc::waitpid(child, &mut status, 0);
            if rc == child {
                write_all_raw(fds.report, &status.to_ne_bytes());
                break;
            }
            if rc < 0 && errno() != libc::EINTR {
                break;
            }
        }
        libc::_exit(0)
    }
}

/// Puts the terminal on fds 0–2, restores default signal handling and an empty signal mask,
/// changes directory and executes the command; on failure reports errno and exits 127.
///
/// # Safety
/// As for `forked_main`.
unsafe fn exec_command(prepared: &Prepared, fds: ChildFds) -> ! {
    // SAFETY (whole function): async-signal-safe calls on valid descriptors and on pointers
    // into `prepared` (NUL-terminated strings and NULL-terminated arrays of them).
    unsafe {
        for (target, redirect) in [(0, -1), (1, fds.stdout), (2, fds.stderr)] {
            let source = if redirect >= 0 { redirect } else { fds.slave };
            if libc::dup2(source, target) < 0 {
                fail(fds.exec_error);
            }
        }
        for fd in [fds.slave, fds.stdout, fds.stderr] {
            if fd > 2 {
                libc::close(fd);
            }
        }
        for signal in JOB_CONTROL_SIGNALS {
            libc::signal(signal, libc::SIG_DFL);
        }
        // The Rust runtime ignores SIGPIPE; a program started from a shell does not.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        if let Some(dir) = &prepared.cwd {
            if libc::chdir(dir.as_ptr()) < 0 {
                fail(fds.exec_error);
            }
        }
        libc::execve(
            prepared.program.as_ptr(),
            prepared.argv_ptrs.as_ptr(),
            prepared.envp_ptrs.as_ptr(),
        );
        fail(fds.exec_error)
    }
}

/// Reports errno on the exec-error pipe and exits 127. Async-signal-safe.
///
/// # Safety
/// Only for the forked side of `spawn`: it ends the process without unwinding or cleanup.
unsafe fn fail(exec_error: RawFd) -> ! {
    let code = errno();
    // SAFETY: write and _exit are async-signal-safe; the buffer is a local array.
    unsafe {
        write_all_raw(exec_error, &code.to_ne_bytes());
        libc::_exit(127)
    }
}

/// errno without allocating.
fn errno() -> libc::c_int {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Async-signal-safe: writes `bytes` to `fd`, retrying on EINTR, giving up on other errors.
fn write_all_raw(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes for the call.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Closes every descriptor from 3 up except those in `keep` (sorted; -1 entries are
/// ignored). Async-signal-safe.
///
/// # Safety
/// Only for the forked side of `spawn`: descriptors owned by `OwnedFd`s or by std are closed
/// behind their owners' backs, which is fine only because this process never uses them again.
unsafe fn close_all_except(keep: &[RawFd; 5], fd_limit: RawFd) {
    let mut next: RawFd = 3;
    for &fd in keep {
        if fd > next {
            // SAFETY: closing descriptors is always memory-safe.
            unsafe { close_range(next, fd - 1, fd_limit) };
        }
        next = next.max(fd + 1);
    }
    // SAFETY: as above.
    unsafe { close_range(next, RawFd::MAX, fd_limit) };
}

/// Closes `first..=last`: one close_range(2) call on Linux, else one close(2) per
/// descriptor below `fd_limit`.
///
/// # Safety
/// As for `close_all_except`.
unsafe fn close_range(first: RawFd, last: RawFd, fd_limit: RawFd) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: close_range(2) takes plain integers.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                last as libc::c_uint,
                0 as libc::c_uint,
            )
        };
        if rc == 0 {
            return;
        }
    }
    let mut fd = first;
    while fd <= last && fd < fd_limit {
        // SAFETY: close(2) takes a plain integer.
        unsafe { libc::close(fd) };
        fd += 1;
    }
}

/// Upper bound for the close(2) fallback of `close_range`.
fn fd_limit() -> RawFd {
    // SAFETY: sysconf takes a plain integer.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    if max <= 0 {
        1024
    } else {
        max.min(65_536) as RawFd
    }
}

/// A new pseudo-terminal, both sides close-on-exec, with the given window size.
fn open_pty(rows: u16, cols: u16) -> Result<(OwnedFd, OwnedFd), String> {
    let os = |what: &str| format!("{what}: {}", io::Error::last_os_error());
    #[cfg(target_os = "linux")]
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    #[cfg(not(target_os = "linux"))]
    let flags = libc::O_RDWR | libc::O_NOCTTY;
    // SAFETY: posix_openpt takes plain flags and returns a new descriptor or -1.
    let raw = unsafe { libc::posix_openpt(flags) };
    if raw < 0 {
        return Err(os("posix_openpt"));
    }
    // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
    let master = unsafe { OwnedFd::from_raw_fd(raw) };
    #[cfg(not(target_os = "linux"))]
    set_cloexec(master.as_raw_fd()).map_err(|e| format!("fcntl: {e}"))?;
    // SAFETY: grantpt/unlockpt take a valid master descriptor.
    if unsafe { libc::grantpt(master.as_raw_fd()) } < 0 {
        return Err(os("grantpt"));
    }
    // SAFETY: as above.
    if unsafe { libc::unlockpt(master.as_raw_fd()) } < 0 {
        return Err(os("unlockpt"));
    }
    let name = slave_name(master.as_raw_fd())?;
    // SAFETY: `name` is a valid NUL-terminated path for the call.
    let raw = unsafe {
        libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(os("open the pty slave"));
    }
    // SAFETY: `raw` is a freshly opened descriptor that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(raw) };
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `size` is a valid winsize that outlives the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ as _, &size) } < 0 {
        return Err(os("TIOCSWINSZ"));
    }
    Ok((master, slave))
}

#[cfg(target_os = "linux")]
fn slave_name(master: RawFd) -> Result<CString, String> {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: `buf` is writable for `buf.len()` bytes; ptsname_r NUL-terminates on success.
    let rc = unsafe { libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return Err(format!("ptsname_r: {}", io::Error::from_raw_os_error(rc)));
    }
    // SAFETY: on success `buf` holds a NUL-terminated string.
    Ok(unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_owned())
}

#[cfg(not(target_os = "linux"))]
fn slave_name(master: RawFd) -> Result<CString, String> {
    // ptsname(3) returns a static buffer; only this harness calls it, under this lock.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: `master` is a valid master descriptor; the result is copied before the lock
    // is released.
    let name = unsafe { libc::ptsname(master) };
    if name.is_null() {
        return Err(format!("ptsname: {}", io::Error::last_os_error()));
    }
    // SAFETY: non-NULL results are NUL-terminated strings.
    Ok(unsafe { std::ffi::CStr::from_ptr(name) }.to_owned())
}

#[cfg(not(target_os = "linux"))]
fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFD/F_SETFD takes plain integers.
    let rc = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC)
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn poll_entry(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// poll(2) for at most `limit` (rounded up to whole milliseconds); EINTR counts as "nothing
/// ready yet".
fn poll(fds: &mut [libc::pollfd], limit: Duration) -> io::Result<usize> {
    let millis = i32::try_from(limit.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX);
    // SAFETY: `fds` is a valid array of `fds.len()` initialised pollfd entries.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if n < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(error);
    }
    Ok(n as usize)
}

/// Reads until `buf` is full or end of file, polling with `deadline`; returns the count.
fn read_full(fd: RawFd, buf: &mut [u8], deadline: Instant) -> Result<usize, String> {
    let mut filled = 0;
    while filled < buf.len() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err("timed out".into());
        }
        let mut fds = [poll_entry(fd)];
        if poll(&mut fds, remaining).map_err(|e| format!("poll: {e}"))? == 0 {
            continue;
        }
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid, writable buffer of `rest.len()` bytes for the call.
        let n = unsafe { libc::read(fd, rest.as_mut_ptr().cast(), rest.len()) };
        if n == 0 {
            break;
        }
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("read: {error}"));
        }
        filled += n as usize;
    }
    Ok(filled)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
