//! Offline spool: claims, crashes, bounds, age and opting out.

use super::*;

#[test]
fn three_processes_starting_together_send_each_spooled_event_exactly_once() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("claim-race");
    const ROUNDS: usize = 5;
    const EVENTS: usize = 40;
    for round in 0..ROUNDS {
        spool_offline(&dir, EVENTS);
        let stamps: Vec<u64> = spool_lines(&dir)
            .iter()
            .map(|l| l["timestamp_micros"].as_u64().unwrap())
            .collect();
        let before = server.events().len();
        let children: Vec<_> = (0..3)
            .map(|_| {
                let mut cmd = probe_command(Some(&dir), &server.url(), &["shutdown:10000"]);
                cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", text(&output));
        }
        let events: Vec<Value> = server.events()[before..].to_vec();
        let expected: Vec<String> = {
            let mut v: Vec<String> = (0..EVENTS).map(|i| i.to_string()).collect();
            v.sort();
            v
        };
        assert_eq!(
            labels_of(&events, "bulk"),
            expected,
            "round {round}: every spooled event arrives exactly once"
        );
        let mut arrived: Vec<u64> = events
            .iter()
            .map(|e| e["timestamp_micros"].as_u64().unwrap())
            .collect();
        arrived.sort_unstable();
        let mut stamps = stamps.clone();
        stamps.sort_unstable();
        assert_eq!(arrived, stamps, "original timestamps are kept");
        assert!(spool_leftovers(&dir).is_empty(), "{:?}", names_in(&dir));
    }
}

#[test]
fn a_spooled_batch_is_kept_until_a_2xx_and_then_deleted() {
    let dir = accepted_dir("until-2xx");
    spool_offline(&dir, 30);
    // Run 2: the server fails every request (503, then hangs): nothing is acknowledged,
    // so everything goes back to the spool.
    for mode in [Mode::Status(503), Mode::Hang] {
        let failing = TestServer::start(mode.clone());
        let out = run_probe(probe_command(
            Some(&dir),
            &failing.url(),
            &["shutdown:500", "counters"],
        ));
        assert!(
            !failing.requests().is_empty(),
            "{mode:?}: the spool was tried: {out}"
        );
        assert_eq!(spool_lines(&dir).len(), 30, "{mode:?}: {out}");
    }
    // Run 3: a 2xx, and the spool is gone.
    let up = TestServer::start(Mode::Ok204);
    run_probe(probe_command(Some(&dir), &up.url(), &["shutdown:10000"]));
    let expected: Vec<String> = {
        let mut v: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(labels_of(&up.events(), "bulk"), expected);
    assert!(spool_leftovers(&dir).is_empty(), "{:?}", names_in(&dir));
}

/// Starts a probe that claims the spool of `dir` and starts sending it to a server that
/// never answers, then kills it (SIGKILL): its claim is left behind.
fn claim_and_die(dir: &Path) {
    let hang = TestServer::start(Mode::Hang);
    let mut cmd = probe_command(Some(dir), &hang.url(), &["flush:60000"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // The claim is taken before the first request is sent.
    assert_eq!(hang.wait_for_requests(1, LONG).len(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        names_in(dir).iter().any(|n| n.ends_with(".claimed")),
        "{:?}",
        names_in(dir)
    );
}

fn claims_left_by_dead_processes_are_sent(deaths: usize) {
    let dir = accepted_dir("dead-claim");
    spool_offline(&dir, 10);
    for _ in 0..deaths {
        claim_and_die(&dir);
    }
    let up = TestServer::start(Mode::Ok204);
    run_probe(probe_command(Some(&dir), &up.url(), &["shutdown:10000"]));
    assert_eq!(
        labels_of(&up.events(), "bulk").len(),
        10,
        "after {deaths} killed claimer(s): {:?}",
        names_in(&dir)
    );
    assert!(spool_leftovers(&dir).is_empty(), "{:?}", names_in(&dir));
}

#[test]
fn a_claim_left_by_a_killed_process_is_sent_by_the_next_one() {
    claims_left_by_dead_processes_are_sent(1);
}

/// The process that took over a dead process's claim can die too.
#[test]
fn a_claim_taken_over_by_a_process_that_was_killed_too_is_still_sent() {
    claims_left_by_dead_processes_are_sent(2);
}

/// In its own process: two handles of one process claim the spool of `dir` in turn (the
/// second after a new spool appeared), both stuck sending, then the process dies without a
/// shutdown.
fn two_claims_then_crash(dir: &str) {
    let dir = PathBuf::from(dir);
    let hang = TestServer::start(Mode::Hang);
    let first = init(&options(&dir, &hang.url()));
    assert_eq!(hang.wait_for_requests(1, LONG).len(), 1);
    let now = now_micros();
    let second_spool: Vec<(String, u64)> = (0..5).map(|i| (format!("B{i}"), now - i)).collect();
    write_spool(&dir, &second_spool);
    let second = init(&options(&dir, &hang.url()));
    assert_eq!(hang.wait_for_requests(2, LONG).len(), 2);
    println!("CLAIMS {:?}", names_in(&dir));
    std::mem::forget((first, second));
    // SAFETY: dies on the spot, as a crash would: no destructor, no shutdown.
    unsafe { libc::_exit(0) };
}

/// Two handles in one process (two components of one application) must not overwrite each
/// other's claim: each claim survives a crash until delivered.
#[test]
fn two_claims_of_one_process_both_survive_its_crash() {
    let run = run_in_own_process(
        rusty_fork_test_name!(two_claims_of_one_process_both_survive_its_crash),
        || {
            let dir = accepted_dir("two-claims");
            spool_offline(&dir, 10);
            dir.to_str().unwrap().to_string()
        },
        two_claims_then_crash,
        WATCHDOG,
    );
    let (dir, all) = (PathBuf::from(&run.argument), run.output);
    assert!(run.status.success(), "{all}");
    let up = TestServer::start(Mode::Ok204);
    run_probe(probe_command(Some(&dir), &up.url(), &["shutdown:10000"]));
    let events = up.events();
    assert_eq!(
        (
            labels_of(&events, "bulk").len(),
            labels_of(&events, "spooled").len()
        ),
        (10, 5),
        "claimed files before the crash: {}",
        line(&all, "CLAIMS ")
    );
}

#[test]
fn the_spool_is_bounded_private_and_keeps_the_newest_through_the_real_path() {
    let dir = accepted_dir("bound");
    // An old spool of big lines (written by hand: the API cannot make lines this big).
    let now = now_micros();
    let big: Vec<(String, u64)> = (0..900)
        .map(|i| (format!("old{i}-{}", "x".repeat(1200)), now - 1000 + i))
        .collect();
    write_spool(&dir, &big);
    assert!(fs::metadata(dir.join(SPOOL_FILE)).unwrap().len() > 1024 * 1024);

    let mut opts = options(&dir, &closed_port_url());
    opts.queue_capacity = 5000;
    let t = init(&opts);
    for i in 0..1500 {
        t.send_event("c", "new", &i.to_string(), i).unwrap();
    }
    let _ = t.shutdown(Duration::from_millis(200));
    drop(t);

    let kept = spool_leftovers(&dir);
    assert_eq!(kept.len(), 1, "one pending file: {kept:?}");
    let path = dir.join(&kept[0]);
    let lines = spool_lines(&dir);
    assert_eq!(lines.len(), 1000, "bounded to 1,000 events");
    assert!(
        fs::metadata(&path).unwrap().len() <= 1024 * 1024,
        "and 1 MiB"
    );
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(&dir), 0o700);
    // The newest are kept: the last 1,000 of the 1,500 new events.
    let labels: Vec<&str> = lines.iter().map(|l| l["label"].as_str().unwrap()).collect();
    let expected: Vec<String> = (500..1500).map(|i| i.to_string()).collect();
    assert_eq!(labels, expected);
    // Nothing but the spool, the lock and the consent files: no temporary file left.
    for name in names_in(&dir) {
        assert!(!name.ends_with(".tmp"), "{name}");
        assert_eq!(mode_of(&dir.join(&name)), 0o600, "{name}");
    }
}

#[test]
fn spooled_events_older_than_72_hours_are_discarded_and_the_rest_keep_their_time() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("age");
    let now = now_micros();
    let hour = 3600 * 1_000_000u64;
    let events = vec![
        ("older-than-72h".to_string(), now - 73 * hour),
        ("just-over-72h".to_string(), now - 72 * hour - 60_000_000),
        ("71h".to_string(), now - 71 * hour),
        ("1min".to_string(), now - 60_000_000),
    ];
    write_spool(&dir, &events);
    let t = init(&options(&dir, &server.url()));
    t.shutdown(LONG).unwrap();
    let arrived = server.events();
    assert_eq!(labels_of(&arrived, "spooled"), ["1min", "71h"]);
    for e in &arrived {
        let label = e["params"]["event_label"].as_str().unwrap();
        let (_, ts) = events.iter().find(|(l, _)| l == label).unwrap();
        assert_eq!(e["timestamp_micros"].as_u64(), Some(*ts), "{label}");
    }
    assert!(spool_leftovers(&dir).is_empty(), "{:?}", names_in(&dir));
}

#[test]
fn opting_out_deletes_the_spool_and_claims() {
    let dir = accepted_dir("opt-out");
    spool_offline(&dir, 5);
    fs::write(dir.join(format!("{SPOOL_FILE}.999999.claimed")), "{}\n").unwrap();
    let mut cmd = Command::new(opt_in_out());
    cmd.env_clear()
        .env("HOME", temp_dir("home"))
        .arg("--opt_out")
        .arg("--config-dir")
        .arg(&dir);
    let (output, _) = run_with_deadline(cmd, WATCHDOG);
    assert!(output.status.success(), "{}", text(&output));
    assert!(spool_leftovers(&dir).is_empty(), "{:?}", names_in(&dir));
    assert!(!dir.join(CLIENT_ID_FILE).exists());
}

/// Issue #5: "an init that finds consent not given deletes the spool". No decision stored
/// (the consent file was removed, e.g. to reset the choice) is consent not given.
#[test]
fn an_init_without_a_stored_decision_deletes_the_spool() {
    let dir = accepted_dir("undecided-spool");
    spool_offline(&dir, 5);
    fs::remove_file(dir.join(directory::CONSENT_FILE)).unwrap();
    let t = init(&options(&dir, &closed_port_url()));
    assert!(!t.is_enabled());
    drop(t);
    assert!(
        spool_leftovers(&dir).is_empty(),
        "events spooled under a consent that no longer exists must not survive: {:?}",
        names_in(&dir)
    );
}
