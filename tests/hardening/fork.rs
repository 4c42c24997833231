//! fork(2) while sending: neither parent nor child deadlocks or sends twice.

use super::*;

/// What a forked child checks; the exit code is a bit set of what went wrong (0 = all
/// fine). Nothing is printed: another thread may have held stdout's lock at fork time.
fn in_forked_child(t: &Telemetry, spare: Option<Telemetry>, fresh: Option<&Options>) -> i32 {
    let mut code = 0;
    if !matches!(
        t.send_event("fork", "child", "x", 1),
        Err(Error::Disabled(_))
    ) {
        code |= 1;
    }
    if !matches!(t.start_session("fork"), Err(Error::Disabled(_))) {
        code |= 1;
    }
    if !matches!(t.send_error("fork", "boom"), Err(Error::Disabled(_))) {
        code |= 1;
    }
    if t.is_enabled() {
        code |= 2;
    }
    if t.flush(Duration::from_secs(5)).is_err() {
        code |= 4;
    }
    if t.counters() != Counters::default() {
        code |= 8;
    }
    if t.shutdown(Duration::from_secs(5)).is_err() {
        code |= 16;
    }
    // The child's copy of a handle is dropped: it must not touch the parent's lock.
    drop(spare);
    if let Some(options) = fresh {
        // A new handle made in the child works normally.
        match Telemetry::init_with_env(options, &|_: &str| None) {
            Ok(child) => {
                if child.send_event("fork", "fresh_child", "x", 1).is_err()
                    || child.shutdown(Duration::from_secs(10)).is_err()
                {
                    code |= 32;
                }
            }
            Err(_) => code |= 64,
        }
    }
    code
}

/// Waits for `pid` at most `limit`; kills it after that. Returns the exit code, or
/// `Err` when it had to be killed.
fn wait_child(pid: libc::pid_t, limit: Duration) -> Result<i32, String> {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child without blocking.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            return Err(format!("child {pid} died abnormally (status {status:#x})"));
        }
        assert!(done == 0, "waitpid: {}", std::io::Error::last_os_error());
        if started.elapsed() > limit {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("child {pid} hung for {limit:?} and was killed"));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// How long the children of the `down` fork mode live (a pre-forking server's workers).
const CHILD_LIFETIME: Duration = Duration::from_secs(8);

/// In its own process: 4 threads send on one handle while this process forks; see the
/// tests below. Mode `up`: 50 forks, each child checked and reaped before the next. Mode
/// `down` (every request refused, so the worker keeps writing the spool under the
/// directory lock): 20 children that live CHILD_LIFETIME, and the parent shuts down while
/// they live.
fn fork_while_sending(mode: &str) {
    let server = TestServer::start(Mode::Ok204);
    // `down`: every request is refused at once with 429 and Retry-After: 0, so the worker
    // gives up on batch after batch and is nearly always writing the spool.
    let refusing = TestServer::start(Mode::TooManyRequests {
        retry_after_secs: 0,
        times: usize::MAX,
    });
    let dir = accepted_dir("fork");
    let endpoint = if mode == "up" {
        server.url()
    } else {
        refusing.url()
    };
    let opts = options(&dir, &endpoint);
    let fresh_opts = options(&dir, &server.url());
    let t = Arc::new(init(&opts));
    let mut spare = Some(init(&opts));
    assert!(t.is_enabled());
    let stop = Arc::new(AtomicBool::new(false));
    let sends = Arc::new(AtomicU64::new(0));
    let senders: Vec<_> = (0..4)
        .map(|i| {
            let (t, stop, sends) = (Arc::clone(&t), Arc::clone(&stop), Arc::clone(&sends));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = t.send_event("fork", "parent", &i.to_string(), 1);
                    sends.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let forks = if mode == "up" { 50 } else { 20 };
    let mut failures = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut children = Vec::new();
    let mut fresh_children = 0;
    for i in 0..forks {
        // Fork only while the senders are busy.
        let seen = sends.load(Ordering::Relaxed);
        let deadline = Instant::now() + LONG;
        while sends.load(Ordering::Relaxed) < seen + 20 && Instant::now() < deadline {
            thread::yield_now();
        }
        let fresh = mode == "up" && i % 10 == 0;
        fresh_children += usize::from(fresh);
        let started = Instant::now();
        // SAFETY: the child calls only the library, sleeps, and leaves with _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            // The child's memory is a copy: taking the spare handle here leaves the
            // parent's alone.
            let code = in_forked_child(&t, spare.take(), fresh.then_some(&fresh_opts));
            if mode == "down" {
                thread::sleep(CHILD_LIFETIME);
            }
            // SAFETY: leaves without running the parent's exit handlers or destructors.
            unsafe { libc::_exit(code) };
        }
        if mode == "up" {
            match wait_child(pid, Duration::from_secs(10)) {
                Ok(0) => slowest = slowest.max(started.elapsed()),
                Ok(code) => failures.push(format!("fork {i}: child exit code {code:#b}")),
                Err(why) => failures.push(format!("fork {i}: {why}")),
            }
        } else {
            children.push(pid);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let started = Instant::now();
    let shutdown = t.shutdown(Duration::from_millis(300));
    let parent_shutdown = started.elapsed();
    drop(spare);
    for pid in children {
        match wait_child(pid, Duration::from_secs(15)) {
            Ok(0) => {}
            Ok(code) => failures.push(format!("child exit code {code:#b}")),
            Err(why) => failures.push(why),
        }
    }
    let fresh_arrived = server
        .events()
        .iter()
        .filter(|e| e["name"] == "fresh_child")
        .count();
    println!(
        "FORK mode={mode} forks={forks} sends={} slowest_child_ms={} parent_shutdown_ms={} \
         shutdown={shutdown:?} fresh_children={fresh_children} fresh_arrived={fresh_arrived}",
        sends.load(Ordering::Relaxed),
        slowest.as_millis(),
        parent_shutdown.as_millis()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(fresh_arrived, fresh_children);
    if mode == "up" {
        shutdown.unwrap();
    }
    assert!(
        parent_shutdown < Duration::from_secs(5),
        "the parent's shutdown(300 ms) took {parent_shutdown:?} while forked children lived"
    );
}

fn run_fork_while_sending(test: &str, mode: &'static str) -> String {
    let run = run_in_own_process(
        test,
        || mode.into(),
        fork_while_sending,
        Duration::from_secs(180),
    );
    assert!(run.status.success(), "{}", run.output);
    let summary = line(&run.output, "FORK ").to_string();
    println!("FORK {summary} total_ms={}", run.elapsed.as_millis());
    summary
}

#[test]
fn forking_50_times_while_4_threads_send_never_deadlocks_parent_or_child() {
    run_fork_while_sending(
        rusty_fork_test_name!(
            forking_50_times_while_4_threads_send_never_deadlocks_parent_or_child
        ),
        "up",
    );
}

#[test]
fn long_lived_forked_children_cannot_hold_the_parents_shutdown() {
    run_fork_while_sending(
        rusty_fork_test_name!(long_lived_forked_children_cannot_hold_the_parents_shutdown),
        "down",
    );
}

#[test]
fn the_probe_fork_step_is_inert_in_the_child() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("probe-fork");
    let out = run_probe(probe_command(
        Some(&dir),
        &server.url(),
        &["events:50", "fork", "shutdown:10000"],
    ));
    assert!(out.contains("child-exit=0"), "{out}");
    assert!(out.contains("child send=DISABLED"), "{out}");
    assert_eq!(labels_of(&server.events(), "bulk").len(), 50);
    assert!(labels_of(&server.events(), "child").is_empty());
}
