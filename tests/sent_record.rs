//! The sent record and `opt_in_out --show` end to end (DESIGN §9): real `probe` processes
//! deliver to a loopback server, `opt_in_out` shows what they recorded. Every child gets
//! an empty environment but for the variables a test sets, and a private `HOME`.

mod support;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use openvino_telemetry::directory;
use openvino_telemetry::directory::{SENT_FILE, SENT_MAX_BYTES as MAX_BYTES};
use serde_json::Value;
use support::server::{Mode, TestServer};
use support::{probe, temp_dir};

const LONG: Duration = Duration::from_secs(30);

fn opt_in_out() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_opt_in_out"))
}

fn accepted_dir(tag: &str) -> PathBuf {
    let dir = temp_dir(tag).join("intel");
    directory::set_consent(&dir, true).unwrap();
    dir
}

fn clean(mut cmd: Command) -> Command {
    cmd.env_clear()
        .env("HOME", temp_dir("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn probe_cmd(dir: &Path, endpoint: &str, app: &str, steps: &[&str]) -> Command {
    let mut cmd = clean(Command::new(probe()));
    cmd.arg("--config-dir")
        .arg(dir)
        .args(["--endpoint", endpoint, "--app", app])
        .args(steps);
    cmd
}

fn finish(child: Child) -> Output {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "child failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn run_probe(dir: &Path, endpoint: &str, app: &str, steps: &[&str]) -> String {
    let out = finish(probe_cmd(dir, endpoint, app, steps).spawn().unwrap());
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("enabled=true"), "{text}");
    text
}

fn tool(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = clean(Command::new(opt_in_out()));
    cmd.arg("--config-dir").arg(dir).args(args);
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `opt_in_out --show --json`, which must succeed: one object per line.
fn shown(dir: &Path) -> Vec<Value> {
    let out = tool(dir, &["--show", "--json"]);
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sorted_json(events: &[Value]) -> Vec<String> {
    let mut all: Vec<String> = events.iter().map(Value::to_string).collect();
    all.sort();
    all
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn events_delivered_by_several_processes_appear_exactly_once_as_sent() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("sent-many");
    let client_id = directory::client_id(&dir).unwrap();
    let children: Vec<Child> = (0..6)
        .map(|i| {
            probe_cmd(
                &dir,
                &server.url(),
                &format!("app{i}"),
                &["session", "events:40", "end", "shutdown:20000"],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        finish(child);
    }
    let delivered = server.events();
    assert_eq!(delivered.len(), 6 * 42);
    let recorded = shown(&dir);
    // Each delivered event once, byte for byte as it was in the request body.
    assert_eq!(sorted_json(&recorded), sorted_json(&delivered));
    let stamps: Vec<u64> = recorded
        .iter()
        .map(|e| e["timestamp_micros"].as_u64().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    // Byte for byte: every line `--show --json` prints is a piece of a request body.
    let bodies: String = server
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    let out = stdout(&tool(&dir, &["--show", "--json"]));
    for line in out.lines() {
        assert!(bodies.contains(line), "{line}");
    }
    let raw = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
    assert!(!raw.contains(&client_id), "the record holds the client id");
    assert!(!raw.contains("client_id"));
    for request in server.requests() {
        let body = request.json.unwrap();
        assert_eq!(body["client_id"], client_id.as_str(), "the id was sent");
    }
}

#[test]
fn refused_or_undelivered_events_are_recorded_only_once_delivered() {
    let dir = accepted_dir("sent-later");
    // Refused (4xx): never delivered, never recorded, not kept.
    let refusing = TestServer::start(Mode::Status(400));
    run_probe(
        &dir,
        &refusing.url(),
        "t",
        &["event:c:refused:r:1", "shutdown:20000"],
    );
    assert_eq!(refusing.requests().len(), 1);
    assert!(shown(&dir).is_empty());
    assert!(!dir.join(SENT_FILE).exists());

    // Server down, then hanging: kept on disk, not recorded.
    let down = TestServer::start(Mode::Reset);
    run_probe(
        &dir,
        &down.url(),
        "t",
        &["event:c:offline:o:1", "shutdown:300"],
    );
    let hanging = TestServer::start(Mode::Hang);
    let child = probe_cmd(
        &dir,
        &hanging.url(),
        "t",
        &["event:c:hanging:h:1", "shutdown:1000"],
    )
    .spawn()
    .unwrap();
    hanging.wait_for_requests(1, LONG);
    finish(child);
    assert!(
        !hanging.requests().is_empty(),
        "a request was made and hung"
    );
    assert!(shown(&dir).is_empty(), "nothing was delivered yet");
    let status = stdout(&tool(&dir, &["--status"]));
    assert!(status.contains("waiting:    2 events on disk"), "{status}");
    assert!(status.contains("sent:       nothing recorded"), "{status}");

    // Delivered at last: each once.
    let up = TestServer::start(Mode::Ok204);
    run_probe(
        &dir,
        &up.url(),
        "t",
        &["event:c:online:n:1", "shutdown:20000"],
    );
    let recorded = shown(&dir);
    let mut names: Vec<&str> = recorded
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["hanging", "offline", "online"]);
    assert_eq!(sorted_json(&recorded), sorted_json(&up.events()));
    let status = stdout(&tool(&dir, &["--status"]));
    assert!(status.contains("waiting:    0 events on disk"), "{status}");
    let size = fs::metadata(dir.join(SENT_FILE)).unwrap().len();
    assert!(
        status.contains(&format!(
            "sent:       3 events in the last 30 days, {size} bytes"
        )),
        "{status}"
    );
}

#[test]
fn many_processes_appending_never_exceed_the_bound() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("sent-bound");
    let path = dir.join(SENT_FILE);
    let done = Arc::new(AtomicBool::new(false));
    let largest = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, largest, path) = (Arc::clone(&done), Arc::clone(&largest), path.clone());
        // A monitor, not synchronisation: it samples the size while the children write.
        thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(meta) = fs::metadata(&path) {
                    largest.fetch_max(meta.len(), Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let children: Vec<Child> = (0..8)
        .map(|i| {
            probe_cmd(
                &dir,
                &server.url(),
                &format!("bound{i}"),
                &["events:700", "shutdown:60000"],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        finish(child);
    }
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    let delivered = server.events();
    assert_eq!(delivered.len(), 8 * 700);
    let delivered_bytes: usize = delivered.iter().map(|e| e.to_string().len() + 1).sum();
    assert!(
        delivered_bytes > MAX_BYTES + MAX_BYTES / 4,
        "{delivered_bytes}"
    );
    let size = fs::metadata(&path).unwrap().len() as usize;
    assert!(size <= MAX_BYTES, "{size}");
    // A cut for size leaves 7/8 of the bound (so appends stay appends for a while).
    assert!(
        size > MAX_BYTES * 7 / 8 - 2000,
        "the record is nearly full: {size}"
    );
    assert!(largest.load(Ordering::Relaxed) as usize <= MAX_BYTES);
    let recorded = shown(&dir);
    let unique: HashSet<String> = recorded.iter().map(Value::to_string).collect();
    assert_eq!(unique.len(), recorded.len(), "no event twice");
    let sent: HashSet<String> = delivered.iter().map(Value::to_string).collect();
    assert!(unique.is_subset(&sent), "only delivered events");
    // The newest event is the last one ever dropped: it is there.
    let newest = delivered
        .iter()
        .max_by_key(|e| e["timestamp_micros"].as_u64().unwrap())
        .unwrap();
    assert!(unique.contains(&newest.to_string()));
}

#[test]
fn opt_out_leaves_only_the_decision_file() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("sent-optout");
    run_probe(
        &dir,
        &server.url(),
        "t",
        &["event:c:a:l:1", "shutdown:20000"],
    );
    let down = TestServer::start(Mode::Reset);
    run_probe(&dir, &down.url(), "t", &["event:c:b:l:1", "shutdown:300"]);
    let before = names_in(&dir);
    assert!(before.contains(&SENT_FILE.to_string()), "{before:?}");
    assert!(
        before
            .iter()
            .any(|n| n.starts_with("openvino_telemetry_pending.")),
        "{before:?}"
    );
    let out = tool(&dir, &["--opt_out"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(names_in(&dir), [directory::CONSENT_FILE]);
    let show = stdout(&tool(&dir, &["--show"]));
    assert!(show.starts_with("Nothing has been sent"), "{show}");
}

#[test]
fn an_opt_out_while_a_request_is_in_flight_records_nothing() {
    // Below the transport's 3 s response timeout: the answer does come.
    let delay = Duration::from_secs(2);
    let server = TestServer::start(Mode::Slow(delay));
    let dir = accepted_dir("sent-inflight");
    let child = probe_cmd(
        &dir,
        &server.url(),
        "t",
        &["event:c:late:l:1", "shutdown:20000"],
    )
    .spawn()
    .unwrap();
    server.wait_for_requests(1, LONG);
    let arrived = Instant::now();
    let out = tool(&dir, &["--opt_out"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        arrived.elapsed() < delay,
        "the opt-out took {:?}: it had to end before the server answered",
        arrived.elapsed()
    );
    finish(child);
    assert_eq!(server.events().len(), 1, "the server did answer 204");
    assert_eq!(names_in(&dir), [directory::CONSENT_FILE]);
}

#[test]
fn debug_mode_writes_no_record() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("sent-debug");
    let mut cmd = probe_cmd(
        &dir,
        &server.url(),
        "t",
        &["event:c:a:l:1", "shutdown:20000"],
    );
    cmd.env("OPENVINO_TELEMETRY_DEBUG", "1");
    let out = finish(cmd.spawn().unwrap());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"name\":\"a\""));
    assert!(server.requests().is_empty());
    assert!(!dir.join(SENT_FILE).exists());
}

#[test]
fn opt_in_records_the_accepted_event_it_sent() {
    let server = TestServer::start(Mode::Ok204);
    let dir = temp_dir("sent-optin").join("intel");
    let mut cmd = clean(Command::new(opt_in_out()));
    cmd.arg("--config-dir")
        .arg(&dir)
        .arg("--opt_in")
        .env("OPENVINO_TELEMETRY_ENDPOINT", server.url());
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let recorded = shown(&dir);
    assert_eq!(sorted_json(&recorded), sorted_json(&server.events()));
    assert_eq!(recorded[0]["name"], "accepted");
    assert_eq!(recorded[0]["params"]["app_name"], "opt_in_out");
    let raw = fs::read_to_string(dir.join(SENT_FILE)).unwrap();
    assert!(!raw.contains(&directory::client_id(&dir).unwrap()));
}

/// Runs `opt_in_out --show` (and `--json`) on a record holding `content` (or on `setup`'s
/// doing) and checks it never fails with a trace: exit 0, or 1–2 with a message.
fn check_show(dir: &Path, what: &str) -> Vec<(i32, String, String)> {
    let mut results = Vec::new();
    for args in [&["--show"][..], &["--show", "--json"], &["--status"]] {
        let out = tool(dir, args);
        let code = out.status.code().expect("no signal");
        let (o, e) = (
            stdout(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            !e.contains("panicked") && !e.contains("RUST_BACKTRACE") && !o.contains("panicked"),
            "{what} {args:?}: {o}{e}"
        );
        match code {
            0 => assert!(!o.is_empty() || args.contains(&"--json"), "{what} {args:?}"),
            1 | 2 => assert!(e.starts_with("opt_in_out: "), "{what} {args:?}: {e}"),
            other => panic!("{what} {args:?}: exit {other}: {o}{e}"),
        }
        results.push((code, o, e));
    }
    results
}

#[test]
fn show_on_a_missing_empty_truncated_or_garbage_record_prints_what_it_can() {
    let base = temp_dir("sent-bad");
    let dir = base.join("intel");
    // No directory at all, then no file.
    let r = check_show(&dir, "no directory");
    assert!(r[0].1.starts_with("Nothing has been sent"), "{}", r[0].1);
    assert!(!dir.exists(), "--show creates nothing");
    fs::create_dir(&dir).unwrap();
    let r = check_show(&dir, "no file");
    assert!(r[0].1.starts_with("Nothing has been sent"));
    assert_eq!(r[1].1, "");
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        0,
        "--show creates nothing"
    );

    let good = r#"{"name":"act","params":{"event_category":"c","event_label":"kept","event_count":1,"app_name":"a","app_version":"1"},"timestamp_micros":1700000000000000}"#;
    let path = dir.join(SENT_FILE);
    fs::write(&path, b"").unwrap();
    let r = check_show(&dir, "empty");
    assert!(r[0].1.starts_with("Nothing to show"), "{}", r[0].1);
    assert_eq!(r[0].0, 0);

    fs::write(&path, format!("{good}\n{}", &good[..50])).unwrap();
    let r = check_show(&dir, "truncated");
    assert_eq!(r[0].0, 0);
    assert!(r[0].1.contains("kept"), "{}", r[0].1);
    assert!(r[0].1.contains("1 event sent"), "{}", r[0].1);
    assert!(r[0].1.contains("1 line of the record could not be read"));
    assert_eq!(r[1].1.lines().count(), 1);
    assert!(
        r[1].2.contains("could not be read"),
        "the note goes to stderr"
    );

    let mut garbage = vec![0u8, 0xff, 0xfe, b'\n', b'{', b'\n'];
    garbage.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    fs::write(&path, &garbage).unwrap();
    let r = check_show(&dir, "garbage");
    assert_eq!((r[0].0, r[1].0), (0, 0));
    assert!(r[0].1.starts_with("Nothing to show"), "{}", r[0].1);

    // Larger than anything the library writes: the newest part is shown.
    let big: String = (0..20_000).map(|_| format!("{good}\n")).collect();
    fs::write(&path, big).unwrap();
    let r = check_show(&dir, "oversized");
    assert_eq!(r[0].0, 0);
    assert!(
        r[0].1.contains("only its newest part was read"),
        "{}",
        r[0].1
    );

    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let r = check_show(&dir, "a directory");
    assert_eq!(r[0].0, 1);
    assert!(r[0].2.contains("not a regular file"), "{}", r[0].2);
    fs::remove_dir(&path).unwrap();
    #[cfg(unix)]
    {
        fs::write(base.join("elsewhere"), format!("{good}\n")).unwrap();
        std::os::unix::fs::symlink(base.join("elsewhere"), &path).unwrap();
        let r = check_show(&dir, "a symbolic link");
        assert_eq!(r[0].0, 1);
        assert!(r[0].2.contains("symbolic link"), "{}", r[0].2);
    }
    let out = tool(&dir, &["--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json goes with --show"));
}

#[cfg(unix)]
#[test]
fn show_into_a_closed_pipe_fails_with_a_message_not_a_trace() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = temp_dir("sent-pipe");
    let mut fds = [0; 2];
    // SAFETY: pipe writes two new descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read_end);
    let out = Command::new(opt_in_out())
        .env_clear()
        .arg("--config-dir")
        .arg(&dir)
        .arg("--show")
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot write the output"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[cfg(unix)]
#[test]
fn the_table_shows_local_time_from_tz() {
    let dir = temp_dir("sent-tz");
    // 2023-11-14 22:13:20 UTC.
    let line = r#"{"name":"act","params":{"event_category":"cat","event_label":"lbl","event_count":4,"session_id":"s","app_name":"tool","app_version":"2.0"},"timestamp_micros":1700000000000000}"#;
    fs::write(dir.join(SENT_FILE), format!("{line}\n")).unwrap();
    let table = |tz: &str| {
        let mut cmd = clean(Command::new(opt_in_out()));
        cmd.arg("--config-dir")
            .arg(&dir)
            .arg("--show")
            .env("TZ", tz);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        stdout(&out)
    };
    let utc = table("UTC0");
    let lines: Vec<&str> = utc.lines().collect();
    assert_eq!(
        lines[0],
        "TIME                 APP       EVENT  CATEGORY  LABEL  VALUE"
    );
    assert_eq!(
        lines[1],
        "2023-11-14 22:13:20  tool 2.0  act    cat       lbl    4"
    );
    assert!(
        lines[2].starts_with(
            "1 event sent, first 2023-11-14 22:13:20, last 2023-11-14 22:13:20 (local time, UTC+00:00)"
        ),
        "{}",
        lines[2]
    );
    let east = table("XYZ-05:30");
    assert!(east.contains("2023-11-15 03:43:20"), "{east}");
    assert!(east.contains("(local time, UTC+05:30)"), "{east}");
    let west = table("ABC5");
    assert!(west.contains("2023-11-14 17:13:20"), "{west}");
    assert!(west.contains("(local time, UTC-05:00)"), "{west}");
}

#[cfg(unix)]
#[test]
fn show_and_status_take_a_config_dir_that_is_not_unicode() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let base = temp_dir("sent-bytes");
    let dir = base.join(OsStr::from_bytes(b"intel-\xff\xfe"));
    directory::set_consent(&dir, true).unwrap();
    let line =
        r#"{"name":"act","params":{"event_label":"bytes"},"timestamp_micros":1700000000000000}"#;
    fs::write(dir.join(SENT_FILE), format!("{line}\n")).unwrap();
    let mut equals = b"--config-dir=".to_vec();
    equals.extend_from_slice(dir.as_os_str().as_bytes());
    for args in [
        vec![
            OsStr::new("--config-dir"),
            dir.as_os_str(),
            OsStr::new("--show"),
        ],
        vec![OsStr::from_bytes(&equals), OsStr::new("--show")],
    ] {
        let out = clean(Command::new(opt_in_out()))
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(stdout(&out).contains("bytes"), "{}", stdout(&out));
    }
    let out = clean(Command::new(opt_in_out()))
        .arg("--config-dir")
        .arg(&dir)
        .arg("--status")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("sent:       1 event"),
        "{}",
        stdout(&out)
    );
    let out = clean(Command::new(opt_in_out()))
        .arg(OsStr::from_bytes(b"--\xff"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("opt_in_out: error: unrecognized arguments"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
