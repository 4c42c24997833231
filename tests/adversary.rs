//! Adversarial tests of the shared directory's invariants (DESIGN §3a): real processes,
//! other writers that do not take our lock (the Python client), SIGKILL, deadlines.
//!
//! Each test states the invariant it attacks and the exact interleaving. Tests marked
//! `BROKE:` failed on the first version of the store (an adversarial review of it) and
//! pass since the fix named there.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use openvino_telemetry::directory;
use support::procs::{
    accepted_dir, names_in, opt, opt_in_out, output, probe_command, step, wait_for,
};
use support::server::{Mode, TestServer};
use support::temp_dir;

mod support;

const LONG: Duration = Duration::from_secs(30);

/// Rewrites `path` in place the way the Python client does: `open(path, 'w')` (truncate),
/// then one write, the writer stalled `gap` in between (descheduled on a loaded machine).
fn python_rewrite(path: &Path, content: &[u8], gap: Duration) {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    if !gap.is_zero() {
        std::thread::sleep(gap);
    }
    f.write_all(content).unwrap();
}

/// The Python client's opt-out, which never takes our lock: `0` written in place, then the
/// client id and `stats` deleted.
fn python_opt_out(dir: &Path) {
    python_rewrite(&dir.join(directory::CONSENT_FILE), b"0", Duration::ZERO);
    let _ = fs::remove_file(dir.join(directory::CLIENT_ID_FILE));
    let _ = fs::remove_file(dir.join("stats"));
}

/// True while another process holds the directory's `flock` (an init inside
/// `store::open`). Never holds it itself for longer than the probe.
fn lock_is_held(dir: &Path) -> bool {
    let file = fs::File::open(dir).unwrap();
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(_) => true,
    }
}

/// BROKE §3a.1 ("nothing but the decision file is created or written unless, at that
/// moment and under the lock, the decision file says `1`").
///
/// Sequence: `1` + client id on disk. A tool starts (`probe`, no steps). The moment its
/// init holds the directory lock (inside `store::open`), the Python client opts out: it
/// writes `0` in place and deletes the client id and `stats` — it does not know our lock.
/// `store::open` read `1` under the lock *before* that, then `identity::load_or_create`
/// finds the id missing and creates a new one, and `stats` is written: after every process
/// has exited, a client id and a usage count sit beside the `0` (store.rs:167-188 — no
/// re-check after the writes, unlike `Keeper::keep`).
#[test]
fn an_opt_out_by_a_client_without_our_lock_during_init_leaves_files_beside_the_decline() {
    let server = TestServer::start(Mode::Ok204);
    let mut broken = Vec::new();
    let runs = 100;
    for run in 0..runs {
        let dir = accepted_dir("init-race");
        let child = probe_command(&dir, &server.url(), &["shutdown:0"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + LONG;
        let mut hit = false;
        while Instant::now() < deadline {
            if lock_is_held(&dir) {
                python_opt_out(&dir);
                hit = true;
                break;
            }
            if dir.join("stats").exists() {
                break; // init is done: missed the window
            }
        }
        if !hit {
            python_opt_out(&dir);
        }
        let out = output(child);
        let names = names_in(&dir);
        if names != vec![directory::CONSENT_FILE.to_owned()] {
            broken.push(format!("run {run} (hit={hit}): {names:?}\n{out}"));
        }
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }
    assert!(
        broken.is_empty(),
        "{} of {runs} runs left files beside the `0`:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

/// §3a.1 + crash: a tool killed (SIGKILL) while it writes its pending file leaves the
/// temporary file (`.openvino_telemetry_pending.….tmp`, holding the events). BROKE: an
/// opt-out afterwards deletes only names `spool::discard` classifies, so the temporary
/// file — event data collected under the withdrawn consent — stays beside the `0` for
/// ever, and no later run claims or removes it (spool.rs:354-364, files.rs:188-210).
#[test]
fn a_tool_killed_mid_hand_off_leaves_event_data_an_opt_out_does_not_remove() {
    let hang = TestServer::start(Mode::Hang);
    let mut leftovers = Vec::new();
    let mut hits = 0;
    let runs = 40;
    for _ in 0..runs {
        let dir = accepted_dir("kill-tmp");
        // 1000 queued events at a shutdown(0): the host thread writes ~100 kB.
        let mut child = probe_command(
            &dir,
            &hang.url(),
            &["events:1000", "shutdown:0", "sleep:10000"],
        )
        .spawn()
        .unwrap();
        let deadline = Instant::now() + LONG;
        let mut killed = false;
        while Instant::now() < deadline {
            let tmp = fs::read_dir(&dir).unwrap().flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(".openvino_telemetry_pending") && name.ends_with(".tmp")
            });
            if tmp {
                child.kill().unwrap();
                killed = true;
                break;
            }
            if directory::pending_count(&dir) > 0 {
                child.kill().unwrap();
                break; // missed
            }
        }
        let _ = child.wait();
        if killed && names_in(&dir).iter().any(|n| n.ends_with(".tmp")) {
            hits += 1;
        }
        let out = Command::new(opt_in_out())
            .env_clear()
            .env("HOME", temp_dir("home"))
            .args(["--opt_out", "--config-dir"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let names = names_in(&dir);
        if names != vec![directory::CONSENT_FILE.to_owned()] {
            leftovers.push(names);
        }
    }
    eprintln!("killed inside the write window in {hits} of {runs} runs");
    assert!(
        leftovers.is_empty(),
        "after SIGKILL + opt-out, files beside the `0` in {} of {runs} runs: {leftovers:?}",
        leftovers.len()
    );
}

/// Summary of durations: p50, p90, max.
fn summary(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "n={} p50={:?} p90={:?} max={:?}",
        v.len(),
        at(0.5),
        at(0.9),
        v[v.len() - 1]
    )
}

/// §3a.3: `shutdown(100)` and `free` with 1000 events queued and the collector hanging
/// (another process holding the lock). The hand-off to disk runs on the caller's thread
/// after the deadline: sorting and rendering every event kept so far, writing, renaming,
/// two gate checks. The measured overshoot is printed; the assertion is the documented
/// bound (+5 ms) with a 100 ms margin for a loaded CI.
#[test]
fn deadlines_with_a_full_queue_and_the_lock_held() {
    let hang = TestServer::start(Mode::Hang);
    let mut shutdowns = Vec::new();
    let mut frees = Vec::new();
    for i in 0..10 {
        let dir = accepted_dir("deadline-full");
        let lock = fs::File::open(&dir).unwrap();
        lock.lock().unwrap();
        let steps: &[&str] = if i % 2 == 0 {
            &["events:1000", "shutdown:100"]
        } else {
            &["events:1000", "free"]
        };
        let out = output(probe_command(&dir, &hang.url(), steps).spawn().unwrap());
        let _ = lock.unlock();
        if i % 2 == 0 {
            let (outcome, took) = step(&out, "shutdown:100");
            assert_eq!(outcome, "TIMEOUT", "{out}");
            shutdowns.push(took.saturating_sub(Duration::from_millis(100)));
        } else {
            frees.push(step(&out, "free").1);
        }
        assert!(directory::pending_count(&dir) >= 990, "{out}");
    }
    eprintln!("shutdown(100) overshoot: {}", summary(shutdowns.clone()));
    eprintln!("free: {}", summary(frees.clone()));
    assert!(shutdowns.iter().all(|d| *d < Duration::from_millis(105)));
    assert!(frees.iter().all(|d| *d < Duration::from_millis(105)));
}

/// BROKE §3a.2 (nothing accepted is lost) under issue 15's writer: the Python client
/// rewrites the shared client id in place (same id; truncate, then write) and is stalled
/// 60 ms between the two — a few scheduler slices, what `files::SETTLE_WAIT` was sized
/// for. A tool's `shutdown` deadline passes during that moment: the hand-off on the host
/// thread re-reads the id for only `HOST_SETTLE` (2 ms), takes the empty file for a new
/// identity, and drops the events as "withdrawn" (`discarded`), and the handle is withdrawn
/// for good — though consent and the id never changed (store.rs:235, sender.rs:235).
/// When instead the worker is inside its own settled read (100 ms) at that moment, the
/// host's hand-off waits for the gate's mutex, held across that read (store.rs:98-105):
/// then nothing is lost but `shutdown(5)` took 60.7 ms (1 of 6 runs; 5 of 6 lost all 10).
#[test]
fn a_python_rewrite_of_the_same_client_id_is_not_a_withdrawal() {
    let hang = TestServer::start(Mode::Hang);
    let dir = accepted_dir("cid-rewrite");
    let cid = fs::read(dir.join(directory::CLIENT_ID_FILE)).unwrap();
    let marks = temp_dir("marks");
    let (ready, go) = (marks.join("ready"), marks.join("go"));
    let child = probe_command(
        &dir,
        &hang.url(),
        &[
            "events:10",
            &format!("touch:{}", ready.display()),
            &format!("wait:{}", go.display()),
            "shutdown:5",
            "counters",
        ],
    )
    .spawn()
    .unwrap();
    wait_for(&ready);
    let path = dir.join(directory::CLIENT_ID_FILE);
    let inode = fs::metadata(&path).unwrap().ino();
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    fs::write(&go, b"").unwrap();
    std::thread::sleep(Duration::from_millis(60));
    f.write_all(&cid).unwrap();
    drop(f);
    assert_eq!(fs::metadata(&path).unwrap().ino(), inode);
    let out = output(child);
    eprintln!(
        "{}",
        out.lines()
            .filter(|l| l.starts_with("shutdown") || l.starts_with("counters"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let kept = directory::pending_count(&dir);
    assert_eq!(
        kept, 10,
        "the same id rewritten in place lost accepted events:\n{out}"
    );
}

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A client id's lifetime: from just before the opt-in that made it to just after the
/// opt-out that withdrew it.
struct Window {
    cid: String,
    from: u64,
    to: u64,
}

/// §3a.1, .2, .4 and the usage count, under a randomised mix: 4 probes sending labelled
/// events at their own pace, the collector switching between ok / 500 / 429 / reset /
/// hang every 20–150 ms, another process holding the lock now and then, and — in two of
/// three rounds — `opt_in_out --opt_out` / `--opt_in` at random moments. Checked after
/// every process has exited:
/// - a delivered event was stamped while its client id was the live one (never under
///   another id, never stamped during a decline or before the opt-in that made the id);
/// - after a final opt-out, nothing but the `0` is left;
/// - no event twice on disk;
/// - in rounds without consent changes, every accepted event is delivered (by the round
///   or by a final draining run) and `usage_count` equals the number of inits.
///
/// Seed from `ADV_SEED` (default fixed); rounds from `ADV_ROUNDS` (default 6).
#[test]
fn randomised_processes_consent_changes_and_collector_modes() {
    let seed: u64 = std::env::var("ADV_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0001);
    let rounds: u64 = std::env::var("ADV_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let mut rng = Rng(seed | 1);
    let mut failures = Vec::new();
    for round in 0..rounds {
        let toggles = round % 3 != 0;
        let server = std::sync::Arc::new(TestServer::start(Mode::Ok204));
        let dir = accepted_dir("stress");
        let cid0 = fs::read_to_string(dir.join(directory::CLIENT_ID_FILE)).unwrap();
        let mut windows = vec![Window {
            cid: cid0,
            from: 0,
            to: u64::MAX,
        }];
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // The collector changes its mind.
        let modes = {
            let (server, stop) = (server.clone(), stop.clone());
            let mut rng = Rng(rng.next() | 1);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    server.set_mode(match rng.below(5) {
                        0 => Mode::Ok204,
                        1 => Mode::Status(500),
                        2 => Mode::TooManyRequests {
                            retry_after_secs: 0,
                            times: usize::MAX,
                        },
                        3 => Mode::Reset,
                        _ => Mode::Hang,
                    });
                    std::thread::sleep(Duration::from_millis(20 + rng.below(130)));
                }
                server.set_mode(Mode::Ok204);
            })
        };
        // Another process holds the lock now and then.
        let locker = {
            let (dir, stop) = (dir.clone(), stop.clone());
            let mut rng = Rng(rng.next() | 1);
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok(f) = fs::File::open(&dir) {
                        if f.lock().is_ok() {
                            std::thread::sleep(Duration::from_millis(rng.below(150)));
                            let _ = f.unlock();
                        }
                    }
                    std::thread::sleep(Duration::from_millis(rng.below(300)));
                }
            })
        };
        let mut children = Vec::new();
        let mut plans = Vec::new();
        for p in 0..4 {
            let mut steps = Vec::new();
            let mut labels = Vec::new();
            for j in 0..25 {
                let label = format!("r{round}p{p}e{j}");
                steps.push(format!("event:stress:ev:{label}:1"));
                labels.push(label);
                match rng.below(6) {
                    0 => steps.push(format!("flush:{}", rng.below(200))),
                    1 | 2 => steps.push(format!("sleep:{}", rng.below(60))),
                    _ => {}
                }
            }
            steps.push(format!("shutdown:{}", rng.below(400)));
            steps.push("counters".into());
            let refs: Vec<&str> = steps.iter().map(String::as_str).collect();
            children.push(probe_command(&dir, &server.url(), &refs).spawn().unwrap());
            plans.push((steps, labels));
        }
        let mut accepted_now = true;
        if toggles {
            for _ in 0..(1 + rng.below(3)) {
                std::thread::sleep(Duration::from_millis(rng.below(400)));
                if accepted_now {
                    opt(&dir, &server.url(), "--opt_out");
                    windows.last_mut().unwrap().to = now_micros();
                } else {
                    let from = now_micros();
                    opt(&dir, &server.url(), "--opt_in");
                    let cid = fs::read_to_string(dir.join(directory::CLIENT_ID_FILE)).unwrap();
                    windows.push(Window {
                        cid,
                        from,
                        to: u64::MAX,
                    });
                }
                accepted_now = !accepted_now;
            }
        }
        let outs: Vec<String> = children.into_iter().map(output).collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        modes.join().unwrap();
        locker.join().unwrap();
        let ctx = format!("seed {seed} round {round}");
        let mut accepted = Vec::new();
        for (out, (steps, labels)) in outs.iter().zip(&plans) {
            for (s, label) in steps.iter().filter(|s| s.starts_with("event:")).zip(labels) {
                if step(out, s).0 == "OK" {
                    accepted.push(label.clone());
                }
            }
        }
        // No event twice on disk.
        let mut on_disk: Vec<String> = directory::pending_events(&dir)
            .into_iter()
            .map(|e| e.label)
            .collect();
        let n = on_disk.len();
        on_disk.sort();
        on_disk.dedup();
        if n != on_disk.len() {
            failures.push(format!("{ctx}: {} duplicates on disk", n - on_disk.len()));
        }
        if !accepted_now {
            let names = names_in(&dir);
            if names != vec![directory::CONSENT_FILE.to_owned()] {
                failures.push(format!("{ctx}: beside the `0`: {names:?}"));
            }
        } else {
            // A later run delivers what was kept.
            let drain = output(
                probe_command(&dir, &server.url(), &["shutdown:10000"])
                    .spawn()
                    .unwrap(),
            );
            if directory::pending_count(&dir) != 0 {
                let detail: Vec<(String, usize)> = names_in(&dir)
                    .into_iter()
                    .map(|n| {
                        let lines = fs::read_to_string(dir.join(&n))
                            .map(|t| t.lines().count())
                            .unwrap_or(0);
                        (n, lines)
                    })
                    .collect();
                failures.push(format!(
                    "{ctx}: still on disk after a drain: {detail:?}\n{drain}\n{}",
                    outs.join("\n")
                ));
            }
        }
        // Every delivered event was stamped while its client id was live.
        let mut delivered = Vec::new();
        for r in server.requests() {
            let (Some(json), Some(200..=299)) = (r.json.as_ref(), r.answered) else {
                continue;
            };
            let cid = json["client_id"].as_str().unwrap_or_default();
            for e in json["events"].as_array().into_iter().flatten() {
                let label = e["params"]["event_label"].as_str().unwrap_or_default();
                let ts = e["timestamp_micros"].as_u64().unwrap_or(0);
                if e["name"] != "ev" {
                    continue;
                }
                delivered.push(label.to_owned());
                let ok = windows
                    .iter()
                    .any(|w| w.cid.trim() == cid && w.from <= ts && ts <= w.to);
                if !ok {
                    failures.push(format!(
                        "{ctx}: {label} stamped {ts} delivered under {cid}, windows {:?}",
                        windows
                            .iter()
                            .map(|w| (w.cid.clone(), w.from, w.to))
                            .collect::<Vec<_>>()
                    ));
                }
            }
        }
        if !toggles {
            delivered.sort();
            delivered.dedup();
            let lost: Vec<&String> = accepted
                .iter()
                .filter(|l| delivered.binary_search(l).is_err())
                .collect();
            if !lost.is_empty() {
                failures.push(format!(
                    "{ctx}: {} of {} accepted events lost: {lost:?}\n{}",
                    lost.len(),
                    accepted.len(),
                    outs.join("\n")
                ));
            }
            let stats = fs::read_to_string(dir.join("stats")).unwrap_or_default();
            if !stats.contains("\"usage_count\": 5") {
                failures.push(format!("{ctx}: 5 inits, stats {stats:?}"));
            }
        }
        eprintln!(
            "{ctx}: toggles={toggles} accepted={} delivered={}",
            accepted.len(),
            delivered.len()
        );
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The Python client's opt-in: `1` written in place, a new client id written.
fn python_opt_in(dir: &Path) -> String {
    python_rewrite(&dir.join(directory::CONSENT_FILE), b"1", Duration::ZERO);
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    let cid = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string();
    python_rewrite(
        &dir.join(directory::CLIENT_ID_FILE),
        cid.as_bytes(),
        Duration::ZERO,
    );
    cid
}

/// BROKE §3a.4 ("events collected under one client id are never sent under another").
///
/// Sequence: version 1 left its spool (`openvino_telemetry_spool.jsonl`, lines without a
/// client id) under client id A. The user opts out and in again with the Python client's
/// `opt_in_out` (it does not know our spool, and no native process ran in between to see
/// the `0`): the directory now holds `1` and a new id B. The next native run claims the
/// version 1 spool and sends its events under B: `spool::claim` keeps lines without a
/// `cid` whatever the id (spool.rs:292), though they are older than B itself.
#[test]
fn version_one_events_are_not_sent_under_an_id_made_after_them() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("legacy-new-id");
    let old = now_micros() - 60_000_000;
    let line = serde_json::json!({
        "name": "v1event", "category": "c", "label": "collected-under-A", "count": 1,
        "session_id": "f0f0f0f0-0000-4000-8000-000000000000", "timestamp_micros": old,
    });
    fs::write(dir.join(directory::SPOOL_FILE), format!("{line}\n")).unwrap();
    python_opt_out(&dir);
    let new_id = python_opt_in(&dir);
    let out = output(
        probe_command(&dir, &server.url(), &["shutdown:5000"])
            .spawn()
            .unwrap(),
    );
    let leaked: Vec<String> = server
        .events()
        .iter()
        .filter(|e| e["name"] == "v1event")
        .map(|e| e.to_string())
        .collect();
    assert!(
        leaked.is_empty(),
        "an event collected under the old id went out under {new_id}: {leaked:?}\n{out}"
    );
}

/// BROKE issue 15 ("a corrupt or unreadable `stats` never lowers a count that was
/// readable a moment before"): `stats` holds 5000; the Python client rewrites it in place
/// and is stalled 150 ms between truncate and write (a loaded machine; the settle bound
/// is 100 ms, files.rs:103). An init in that moment restarts the count at 1 and writes it.
#[test]
fn a_stalled_python_stats_rewrite_does_not_reset_the_usage_count() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("stats-stall");
    let stats = dir.join("stats");
    fs::write(&stats, "{\n    \"usage_count\": 5000\n}").unwrap();
    let writer = {
        let stats = stats.clone();
        std::thread::spawn(move || {
            python_rewrite(
                &stats,
                b"{\n    \"usage_count\": 5001\n}",
                Duration::from_millis(150),
            )
        })
    };
    // The rewrite has truncated the file: start the tool now.
    let deadline = Instant::now() + LONG;
    while fs::metadata(&stats).unwrap().len() != 0 {
        assert!(Instant::now() < deadline);
    }
    let out = output(
        probe_command(&dir, &server.url(), &["shutdown:0"])
            .spawn()
            .unwrap(),
    );
    writer.join().unwrap();
    let count: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&stats).unwrap()).unwrap_or_default();
    assert!(
        !out.contains("stats restarted"),
        "usage restarted on a file being rewritten: {out}\nnow {count}"
    );
}

/// §3a.2 ("only a request whose answer never came may also arrive a second time") with a
/// SIGKILL: 100 events are kept on disk by an offline run. The next run claims them and
/// the collector answers its first request (25 events) with 204, then hangs. That run is
/// killed. BROKE: the claimed file is released only once *all* of its events are resolved
/// (sender.rs:211-225), so the take-over by a third run sends the 25 acknowledged events
/// again.
#[test]
fn acknowledged_events_of_a_killed_claimer_are_not_sent_again() {
    let server = TestServer::start(Mode::Hang);
    let dir = accepted_dir("kill-claimer");
    let out = output(
        probe_command(&dir, &server.url(), &["events:100", "shutdown:0"])
            .spawn()
            .unwrap(),
    );
    assert_eq!(directory::pending_count(&dir), 100, "{out}");
    let served_before = server.requests().len();
    // One batch acknowledged, then the collector hangs.
    server.set_mode(Mode::OkThenHang(1));
    let mut claimer = probe_command(&dir, &server.url(), &["sleep:20000"])
        .spawn()
        .unwrap();
    // Its second request reaching the collector shows the claim shrank after the first
    // (the worker reports a resolved batch before it takes the next); then kill it.
    let deadline = Instant::now() + LONG;
    while server.requests().len() < served_before + 2 {
        assert!(Instant::now() < deadline, "the claimer never sent twice");
        std::thread::yield_now();
    }
    claimer.kill().unwrap();
    let _ = claimer.wait();
    server.set_mode(Mode::Ok204);
    let out = output(
        probe_command(&dir, &server.url(), &["shutdown:10000"])
            .spawn()
            .unwrap(),
    );
    let mut acked = Vec::new();
    let mut all = Vec::new();
    for r in server.requests() {
        let Some(json) = r.json.as_ref() else {
            continue;
        };
        for e in json["events"].as_array().into_iter().flatten() {
            let label = e["params"]["event_label"].as_str().unwrap_or("").to_owned();
            if r.answered == Some(204) {
                acked.push(label.clone());
            }
            all.push(label);
        }
    }
    let mut unique = acked.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 100, "not all delivered in the end:\n{out}");
    assert_eq!(
        acked.len(),
        100,
        "{} events acknowledged (204) and sent again by the take-over",
        acked.len() - 100
    );
}

/// BROKE §6 ("`send_*` never blocks on I/O"); fixed by a per-directory record of changes and
/// a re-armed epoch. Before: `store::consent_changed_here` bumped one
/// process-wide epoch whatever directory changed (store.rs:36-46), and a handle whose
/// epoch differs re-checks the disk *on the caller's thread* at every send, for ever,
/// because `Active::consent_epoch` is never updated after a re-check that allows
/// (telemetry.rs:400-408). So after `set_consent` on another directory (a tool with a
/// second config dir, or a test harness), each send of a healthy handle does file I/O,
/// and waits up to `SETTLE_WAIT` (100 ms) while the Python client rewrites the decision
/// file in place. Shown: a send taking as long as a 60 ms in-place rewrite.
#[test]
fn a_consent_change_elsewhere_does_not_make_sends_wait_for_the_disk() {
    let hang = TestServer::start(Mode::Hang);
    let dir = accepted_dir("epoch-a");
    let other = temp_dir("epoch-b").join("intel");
    let mut options = openvino_telemetry::Options::new("adv", "1", "G-ADV");
    options.config_dir = Some(dir.clone());
    options.endpoint = Some(hang.url());
    let no_env = |_: &str| -> Option<String> { None };
    let t = openvino_telemetry::Telemetry::init_with_env(&options, &no_env).unwrap();
    assert!(t.is_enabled(), "{}", t.reason());
    directory::set_consent(&other, true).unwrap();
    t.send_event("c", "a", "before", 1).unwrap();
    let path = dir.join(directory::CONSENT_FILE);
    let writer = std::thread::spawn(move || {
        python_rewrite(&path, b"1", Duration::from_millis(60));
    });
    let deadline = Instant::now() + LONG;
    while fs::metadata(dir.join(directory::CONSENT_FILE))
        .unwrap()
        .len()
        != 0
    {
        assert!(Instant::now() < deadline);
    }
    let started = Instant::now();
    let sent = t.send_event("c", "a", "during", 1);
    let took = started.elapsed();
    writer.join().unwrap();
    let _ = t.shutdown(Duration::ZERO);
    assert!(sent.is_ok(), "{sent:?}");
    assert!(
        took < Duration::from_millis(20),
        "send_event blocked {took:?} on a file being rewritten"
    );
}

/// BROKE §3a.2 (no duplicates; only an unanswered request may arrive twice). The worker
/// publishes idle (`busy = false`, sender.rs:565-567) *before* `check_backlog` deletes the
/// claimed files (sender.rs:569). A `shutdown` waiter that is awake at that moment (woken
/// by the previous batch's notify, not yet scheduled on a loaded machine) sees the queue
/// empty and idle, returns OK, and the host exits: the claimed file, all of whose events
/// were just acknowledged, stays on disk, and the next run takes the dead claim over and
/// sends every event again. Sequence: ten offline runs keep 10 events each; a run claims
/// the ten files,
/// the collector acknowledges all, `shutdown(10000)` returns OK, the process exits; the
/// directory still holds claimed files (seen in the randomised test: seed 7, round 6, and
/// the default seed, round 0). NOTE: this targeted loop has not reproduced it on its own
/// (0 of 270 drains, with two spinning threads); the randomised test has, twice in about
/// 45 rounds without consent changes. Kept as the regression test for the fix (publish
/// idle only after the release).
#[test]
fn a_drained_claim_is_released_before_shutdown_returns() {
    let hang = TestServer::start(Mode::Hang);
    let ok = TestServer::start(Mode::Ok204);
    let runs = 60;
    let mut left = Vec::new();
    // A loaded machine: two threads that only spin, so the waiter is often descheduled.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hogs: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    for run in 0..runs {
        let dir = accepted_dir("release-race");
        // Ten offline runs: ten pending files, 100 events (four batches to deliver).
        let offline: Vec<Child> = (0..10)
            .map(|_| {
                probe_command(&dir, &hang.url(), &["events:10", "shutdown:0"])
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in offline {
            output(child);
        }
        let kept = directory::pending_count(&dir);
        let out = output(
            probe_command(&dir, &ok.url(), &["shutdown:10000", "counters"])
                .spawn()
                .unwrap(),
        );
        if directory::pending_count(&dir) != 0 {
            left.push(format!(
                "run {run}: kept {kept}, after the drain {:?}\n{out}",
                names_in(&dir)
            ));
        }
        let _ = fs::remove_dir_all(dir.parent().unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for hog in hogs {
        hog.join().unwrap();
    }
    assert!(
        left.is_empty(),
        "{} of {runs} drains left their claim:\n{}",
        left.len(),
        left.join("\n")
    );
}
