//! Bad files and environments.

use super::*;

#[test]
fn home_is_a_file_disables_with_a_reason_and_leaves_the_file_alone() {
    let base_dir = scratch_dir("home-file");
    let base = base_dir.path();
    let home = base.join("home");
    fs::write(&home, "not a directory").unwrap();
    let mut cmd = probe_command(None, &closed_port_url(), &["event:c:a:l:1", "shutdown:0"]);
    cmd.env("HOME", &home);
    let out = run_probe(cmd);
    assert!(out.contains("enabled=false"), "{out}");
    assert!(line(&out, "reason=").contains("Not a directory"), "{out}");
    assert!(out.contains("event:c:a:l:1 DISABLED"), "{out}");

    for args in [&["--opt_in"][..], &["--status"], &["--opt_out"]] {
        let mut cmd = Command::new(opt_in_out());
        cmd.env_clear().env("HOME", &home).args(args);
        let (output, _) = run_with_deadline(cmd, WATCHDOG);
        let all = text(&output);
        assert!(!all.contains("panicked"), "{args:?}: {all}");
        assert!(output.status.code().is_some(), "{args:?}: {all}");
        if args[0] != "--status" {
            assert_eq!(output.status.code(), Some(1), "{args:?}: {all}");
            assert!(all.contains("Not a directory"), "{args:?}: {all}");
        }
    }
    assert_eq!(fs::read_to_string(&home).unwrap(), "not a directory");
    assert_eq!(names_in(base), ["home"]);
}

#[test]
fn a_consent_path_that_is_a_directory_a_fifo_or_a_symlink_counts_as_declined() {
    let server = TestServer::start(Mode::Ok204);
    let outside_dir = scratch_dir("outside");
    let outside = outside_dir.path();
    let victim = outside.join("victim");
    fs::write(&victim, "1").unwrap();
    for (kind, expected) in [
        ("directory", "not a regular file"),
        ("fifo", "not a regular file"),
        ("symlink", "symbolic link"),
        ("huge", "larger than 4096 bytes"),
    ] {
        let dir = accepted_dir(kind);
        let path = dir.join(directory::CONSENT_FILE);
        fs::remove_file(&path).unwrap();
        match kind {
            "directory" => fs::create_dir(&path).unwrap(),
            "fifo" => {
                let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
            }
            "symlink" => std::os::unix::fs::symlink(&victim, &path).unwrap(),
            _ => fs::write(&path, "1".repeat(10 * 1024 * 1024)).unwrap(),
        }
        let out = run_probe(probe_command(
            Some(&dir),
            &server.url(),
            &["event:c:a:l:1", "shutdown:1000"],
        ));
        assert!(out.contains("enabled=false"), "{kind}: {out}");
        let reason = line(&out, "reason=");
        assert!(reason.contains(expected), "{kind}: {reason}");
        assert!(reason.contains("treated as declined"), "{kind}: {reason}");

        // opt_in_out on it: an error or a replaced link, never a crash or a write outside.
        let mut cmd = Command::new(opt_in_out());
        cmd.env_clear()
            .env("HOME", temp_dir("home"))
            .env("OPENVINO_TELEMETRY_ENDPOINT", server.url())
            .args(["--opt_in", "--config-dir"])
            .arg(&dir);
        let (output, _) = run_with_deadline(cmd, WATCHDOG);
        assert!(
            !text(&output).contains("panicked"),
            "{kind}: {}",
            text(&output)
        );
        if kind == "directory" {
            assert_eq!(output.status.code(), Some(1), "{}", text(&output));
            assert!(path.is_dir(), "the directory is never deleted");
        }
    }
    assert!(server.events().iter().all(|e| e["name"] != "a"));
    assert_eq!(fs::read_to_string(&victim).unwrap(), "1");
    assert_eq!(names_in(outside), ["victim"]);
}

#[test]
fn planted_symlinks_are_never_written_through() {
    {
        let outside_dir = scratch_dir("victims");
        let outside = outside_dir.path();
        let dir = accepted_dir("planted");
        let mut victims = Vec::new();
        let mut plant = |name: &str| {
            let victim = outside.join(format!("victim-{}", name.trim_start_matches('.')));
            fs::write(&victim, format!("precious {name}")).unwrap();
            let _ = fs::remove_file(dir.join(name));
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
            victims.push(victim);
        };
        plant(STATS_FILE);
        plant(SPOOL_FILE);
        plant(CLIENT_ID_FILE);
        plant(&format!("{SPOOL_FILE}.99999999.claimed"));
        let out = run_probe(probe_command(
            Some(&dir),
            &closed_port_url(),
            &["events:30", "shutdown:300"],
        ));
        assert!(line(&out, "reason=").contains("stats restarted"), "{out}");
        assert_eq!(
            spool_lines(&dir).len(),
            30,
            "a real spool replaced the link"
        );
        let mut cmd = Command::new(opt_in_out());
        cmd.env_clear()
            .env("HOME", temp_dir("home"))
            .args(["--opt_out", "--config-dir"])
            .arg(&dir);
        let (output, _) = run_with_deadline(cmd, WATCHDOG);
        assert!(!text(&output).contains("panicked"), "{}", text(&output));
        for victim in &victims {
            let name = victim.file_name().unwrap().to_string_lossy().into_owned();
            let content = fs::read_to_string(victim).unwrap();
            assert!(
                content.starts_with("precious") && !content.contains('\n'),
                "{name} was written through: {content:?}"
            );
        }
        assert_eq!(
            names_in(outside).len(),
            victims.len(),
            "{:?}",
            names_in(outside)
        );
    }
}

#[test]
fn a_10_mb_or_binary_stats_file_restarts_the_count_with_a_reason() {
    let server = TestServer::start(Mode::Ok204);
    let contents: [(&str, Vec<u8>); 3] = [
        ("10 MB", vec![b'7'; 10 * 1024 * 1024]),
        ("binary", (0..=255u8).cycle().take(4096).collect()),
        (
            "deep",
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
        ),
    ];
    for (kind, bytes) in contents {
        let dir = accepted_dir("stats");
        fs::write(dir.join(STATS_FILE), &bytes).unwrap();
        let out = run_probe(probe_command(
            Some(&dir),
            &server.url(),
            &["event:c:stats:l:1", "shutdown:10000"],
        ));
        assert!(out.contains("enabled=true"), "{kind}: {out}");
        assert!(
            line(&out, "reason=").contains("stats restarted"),
            "{kind}: {out}"
        );
        assert_eq!(
            fs::read_to_string(dir.join(STATS_FILE)).unwrap(),
            "{\n    \"usage_count\": 1\n}",
            "{kind}"
        );
        let last = server.events().pop().unwrap();
        assert_eq!(last["params"]["usage_count"], 1, "{kind}");
    }
}

/// A process that holds the directory lock (stopped with ^Z mid-update, hung on a network
/// home, or a forked child that inherited it) may cost a usage count or the spool, never
/// an init or a shutdown that does not return.
#[test]
fn a_lock_held_by_another_process_cannot_hang_init_or_shutdown() {
    let dir = accepted_dir("held-lock");
    // The lock is an flock on the config directory itself. This process holds it (as a
    // stopped or hung process would) for the whole run.
    let lock = fs::File::open(&dir).unwrap();
    lock.lock().unwrap();
    let cmd = probe_command(
        Some(&dir),
        &closed_port_url(),
        &["event:c:a:l:1", "shutdown:300"],
    );
    let (output, elapsed) = run_with_deadline(cmd, Duration::from_secs(20));
    lock.unlock().unwrap();
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    println!(
        "LOCKED init+send+shutdown(300 ms) took {} ms",
        elapsed.as_millis()
    );
    // Degraded, and says why: no usage count this time.
    assert!(out.contains("enabled=true"), "{out}");
    assert!(
        line(&out, "reason=").contains("usage statistics unavailable"),
        "{out}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "init + shutdown(300 ms) took {elapsed:?} while another process held the lock"
    );
}
