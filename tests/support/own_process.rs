//! Tests that need a process of their own (a signal disposition, forks, peak memory, a crash
//! without shutdown): rusty-fork re-runs just the calling test in a new process of the test
//! binary, where the test goes straight to its child body.
#![cfg(unix)]

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

/// The child body's argument, passed by the parent through the environment.
const ARGUMENT: &str = "OVT_OWN_PROCESS_ARGUMENT";

/// How the child process ended, what it printed (stdout and stderr) and what it was given.
pub struct Finished {
    pub status: ExitStatus,
    pub output: String,
    pub elapsed: Duration,
    pub argument: String,
}

/// Runs `body(argument)` in a new process of this test binary, started for the calling test
/// `test` (its path, from `rusty_fork::rusty_fork_test_name!`). In that process the test
/// calls this again, which runs `body` and exits (status 70 if it panicked): what the test
/// does before this call runs there too, so the setup belongs in `argument`, which only
/// this process calls. The child has its own process group; when it is not done within
/// `limit` the whole group is killed and the test fails.
pub fn run_in_own_process(
    test: &str,
    argument: impl FnOnce() -> String,
    body: fn(&str),
    limit: Duration,
) -> Finished {
    let started = Instant::now();
    let mut given = String::new();
    let set_up = |cmd: &mut std::process::Command| {
        given = argument();
        cmd.env(ARGUMENT, &given).process_group(0);
    };
    let (status, output) = rusty_fork::fork(
        test,
        rusty_fork::rusty_fork_id!(),
        set_up,
        |child, file| {
            let child = child.inner_mut();
            let status = child.wait_timeout(limit).expect("wait for the child");
            let status = status.unwrap_or_else(|| {
                // SAFETY: kill(2) on the process group this function created.
                unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
                let _ = child.wait();
                panic!(
                    "HANG: {test} was still running in its own process after {limit:?} and \
                     was killed\n{}",
                    read_all(file)
                );
            });
            (status, read_all(file))
        },
        || body(&std::env::var(ARGUMENT).unwrap_or_default()),
    )
    .unwrap_or_else(|e| panic!("cannot start {test} in its own process: {e}"));
    Finished {
        status,
        output,
        elapsed: started.elapsed(),
        argument: given,
    }
}

fn read_all(file: &mut std::fs::File) -> String {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut bytes).unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}
