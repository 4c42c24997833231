//! The event pipeline end to end: the real library against a real HTTP server on
//! 127.0.0.1. The process environment is never consulted: every init gets its own
//! environment map, so `CI`, proxies or a user's variables change nothing.

mod support;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openvino_telemetry::directory;
use openvino_telemetry::directory::SPOOL_FILE;
use openvino_telemetry::{Error, Options, Telemetry};
use serde_json::Value;
use support::server::{Mode, TestServer};
use support::{probe, temp_dir};

const LONG: Duration = Duration::from_secs(20);

fn accepted_dir(tag: &str) -> PathBuf {
    let dir = temp_dir(tag).join("intel");
    directory::set_consent(&dir, true).unwrap();
    dir
}

fn options(dir: &Path, endpoint: &str) -> Options {
    let mut options = Options::new("pipeline_test", "2.0.1", "G-TEST");
    options.config_dir = Some(dir.to_path_buf());
    options.endpoint = Some(endpoint.to_string());
    options
}

type Env = HashMap<String, String>;

fn init(options: &Options, env: &Env) -> Telemetry {
    let env = env.clone();
    let lookup = move |name: &str| env.get(name).cloned();
    Telemetry::init_with_env(options, &lookup).unwrap()
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn param<'a>(event: &'a Value, name: &str) -> &'a Value {
    &event["params"][name]
}

#[test]
fn events_arrive_with_the_python_clients_params() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("params");
    let before = now_micros();
    let t = init(&options(&dir, &server.url()), &Env::new());
    assert!(t.is_enabled(), "{}", t.reason());
    t.start_session("cat").unwrap();
    t.send_event("cat", "act", "lbl", 3).unwrap();
    t.send_error("cat", "boom").unwrap();
    t.send_stack_trace("cat", "at main()").unwrap();
    t.end_session("cat").unwrap();
    t.flush(LONG).unwrap();
    let after = now_micros();

    let events = server.events();
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["session", "act", "error_", "stack_trace", "session"]
    );
    let labels: Vec<&str> = events
        .iter()
        .map(|e| param(e, "event_label").as_str().unwrap())
        .collect();
    assert_eq!(labels, ["start", "lbl", "boom", "at main()", "end"]);
    assert_eq!(param(&events[1], "event_count"), 3);
    let session = param(&events[0], "session_id").as_str().unwrap();
    assert!(events.iter().all(|e| param(e, "session_id") == session));
    for e in &events {
        let keys: Vec<&String> = e["params"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "event_category",
                "event_label",
                "event_count",
                "session_id",
                "app_name",
                "app_version",
                "os",
                "docker",
                "usage_count",
                "usage_group"
            ]
        );
        assert_eq!(param(e, "app_name"), "pipeline_test");
        assert_eq!(param(e, "app_version"), "2.0.1");
        assert_eq!(param(e, "usage_count"), 1);
        assert_eq!(param(e, "usage_group"), "first_usage");
        let ts = e["timestamp_micros"].as_u64().unwrap();
        assert!(before <= ts && ts <= after, "{before} <= {ts} <= {after}");
    }
    let stamps: Vec<u64> = events
        .iter()
        .map(|e| e["timestamp_micros"].as_u64().unwrap())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));

    let request = &server.requests()[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), "/mp/collect");
    assert_eq!(request.query_param("measurement_id"), Some("G-TEST"));
    assert_eq!(
        request.query_param("api_secret"),
        Some("zbEMioDXSE-MUHHPLRIi0A")
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(request
        .header("user-agent")
        .unwrap()
        .starts_with("openvino-telemetry-native/"));
    let body = request.json.as_ref().unwrap();
    assert_eq!(
        body["client_id"].as_str().unwrap(),
        fs::read_to_string(dir.join("openvino_ga_cid")).unwrap()
    );
    assert_eq!(body["non_personalized_ads"], false);
    assert_eq!(t.counters().sent, 5);
    t.shutdown(LONG).unwrap();
}

#[test]
fn a_new_session_gets_a_new_id() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("session");
    let t = init(&options(&dir, &server.url()), &Env::new());
    t.send_event("c", "before", "", 1).unwrap();
    t.start_session("c").unwrap();
    t.send_event("c", "first", "", 1).unwrap();
    t.start_session("c").unwrap();
    t.send_event("c", "second", "", 1).unwrap();
    t.flush(LONG).unwrap();
    let ids: Vec<String> = server
        .events()
        .iter()
        .map(|e| param(e, "session_id").as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    assert_ne!(ids[2], ids[3]);
    assert_eq!(ids[3], ids[4]);
}

#[test]
fn batches_hold_at_most_25_events_and_nothing_is_lost() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("batch");
    let t = init(&options(&dir, &server.url()), &Env::new());
    for i in 0..260 {
        t.send_event("c", "bulk", &i.to_string(), i).unwrap();
    }
    t.flush(LONG).unwrap();
    let requests = server.requests();
    assert!(requests.iter().all(|r| r.events().len() <= 25));
    assert!(requests.len() >= 11, "{} requests", requests.len());
    let counts: Vec<i64> = server
        .events()
        .iter()
        .map(|e| param(e, "event_count").as_i64().unwrap())
        .collect();
    assert_eq!(counts, (0..260).collect::<Vec<_>>());
    let c = t.counters();
    assert_eq!((c.queued, c.sent, c.dropped, c.failed), (260, 260, 0, 0));
}

#[test]
fn server_errors_are_retried_until_delivered() {
    let server = TestServer::start(Mode::FailThenOk {
        failures: 2,
        status: 500,
    });
    let dir = accepted_dir("retry");
    let t = init(&options(&dir, &server.url()), &Env::new());
    t.send_event("c", "once", "", 1).unwrap();
    t.flush(LONG).unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.events().len(), 1);
    let c = t.counters();
    assert_eq!((c.sent, c.failed, c.retried), (1, 0, 2));
}

#[test]
fn too_many_requests_waits_for_retry_after() {
    let server = TestServer::start(Mode::TooManyRequests {
        retry_after_secs: 1,
        times: 1,
    });
    let dir = accepted_dir("429");
    let t = init(&options(&dir, &server.url()), &Env::new());
    let started = Instant::now();
    t.send_event("c", "later", "", 1).unwrap();
    t.flush(LONG).unwrap();
    // The server asked for one second; the retry must not come earlier.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.events().len(), 1);
    assert_eq!(t.counters().retried, 1);
}

#[test]
fn client_errors_are_not_retried_nor_kept() {
    let server = TestServer::start(Mode::Status(400));
    let dir = accepted_dir("400");
    let t = init(&options(&dir, &server.url()), &Env::new());
    t.send_event("c", "bad", "", 1).unwrap();
    t.flush(LONG).unwrap();
    assert_eq!(server.requests().len(), 1);
    let c = t.counters();
    assert_eq!((c.sent, c.failed, c.retried), (0, 1, 0));
    t.shutdown(LONG).unwrap();
    assert!(!dir.join(SPOOL_FILE).exists());
}

#[test]
fn a_hanging_server_cannot_hold_flush_or_shutdown_past_their_deadline() {
    let server = TestServer::start(Mode::Hang);
    let dir = accepted_dir("hang");
    let t = init(&options(&dir, &server.url()), &Env::new());
    t.send_event("c", "stuck", "", 1).unwrap();
    server.wait_for_requests(1, LONG);
    let started = Instant::now();
    assert!(matches!(
        t.flush(Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        t.shutdown(Duration::from_millis(200)),
        Err(Error::Timeout)
    ));
    // Gross bound only: both deadlines are 200 ms, the server never answers.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(
        t.send_event("c", "after", "", 1),
        Err(Error::ShutDown)
    ));
    // What could not be delivered is kept for the next run.
    let spooled = directory::pending_events(&dir);
    assert_eq!(spooled.len(), 1);
    assert_eq!(spooled[0].name, "stuck");
}

#[test]
fn events_spooled_in_an_offline_run_arrive_once_in_the_next_run() {
    let down = TestServer::start(Mode::Reset);
    let dir = accepted_dir("offline");
    let first = init(&options(&dir, &down.url()), &Env::new());
    let mut stamps = Vec::new();
    for i in 0..30 {
        first.send_event("c", "offline", &i.to_string(), i).unwrap();
    }
    let _ = first.shutdown(Duration::from_millis(300));
    drop(first);
    let mut spooled = directory::pending_events(&dir);
    spooled.sort_by_key(|e| e.timestamp_micros);
    assert_eq!(spooled.len(), 30);
    stamps.extend(spooled.iter().map(|e| e.timestamp_micros));

    let up = TestServer::start(Mode::Ok204);
    let second = init(&options(&dir, &up.url()), &Env::new());
    second.send_event("c", "online", "", 1).unwrap();
    second.shutdown(LONG).unwrap();
    let events = up.events();
    let offline: Vec<&Value> = events.iter().filter(|e| e["name"] == "offline").collect();
    assert_eq!(
        offline.len(),
        30,
        "every offline event arrives exactly once"
    );
    let arrived: Vec<u64> = offline
        .iter()
        .map(|e| e["timestamp_micros"].as_u64().unwrap())
        .collect();
    assert_eq!(arrived, stamps, "original timestamps are kept");
    assert_eq!(events.iter().filter(|e| e["name"] == "online").count(), 1);
    let leftovers: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("spool"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_full_queue_drops_and_counts() {
    let server = TestServer::start(Mode::Hang);
    let dir = accepted_dir("full");
    let mut opts = options(&dir, &server.url());
    opts.queue_capacity = 10;
    let t = init(&opts, &Env::new());
    let mut full = 0;
    for _ in 0..100 {
        match t.send_event("c", "x", "", 1) {
            Ok(()) => {}
            Err(Error::QueueFull) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    let c = t.counters();
    assert!(full >= 100 - 10 - 25, "{full}");
    assert_eq!(c.dropped, full);
    assert_eq!(c.queued + c.dropped, 100);
    let _ = t.shutdown(Duration::ZERO);
}

#[test]
fn idle_shutdown_is_immediate_and_final() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("idle");
    let t = init(&options(&dir, &server.url()), &Env::new());
    t.shutdown(LONG).unwrap();
    t.shutdown(LONG).unwrap();
    for result in [
        t.send_event("c", "a", "", 1),
        t.send_error("c", "m"),
        t.send_stack_trace("c", "t"),
        t.start_session("c"),
        t.end_session("c"),
    ] {
        assert!(matches!(result, Err(Error::ShutDown)));
    }
    assert!(matches!(t.flush(LONG), Err(Error::ShutDown)));
    assert!(!t.is_enabled());
    assert!(server.requests().is_empty());
}

#[test]
fn the_endpoint_variable_wins_over_the_option() {
    let option_server = TestServer::start(Mode::Ok204);
    let env_server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("endpoint");
    let env: Env = [("OPENVINO_TELEMETRY_ENDPOINT".to_string(), env_server.url())].into();
    let t = init(&options(&dir, &option_server.url()), &env);
    t.send_event("c", "where", "", 1).unwrap();
    t.flush(LONG).unwrap();
    assert_eq!(env_server.events().len(), 1);
    assert!(option_server.requests().is_empty());
}

#[test]
fn a_non_loopback_http_endpoint_is_refused() {
    let dir = accepted_dir("refused");
    let opts = options(&dir, "http://192.0.2.1/mp/collect");
    assert!(matches!(
        Telemetry::init(&opts),
        Err(Error::InvalidArgument(_))
    ));
    let env: Env = [(
        "OPENVINO_TELEMETRY_ENDPOINT".to_string(),
        "http://192.0.2.1/mp/collect".to_string(),
    )]
    .into();
    let t = init(&options(&dir, "http://127.0.0.1:9/x"), &env);
    assert!(!t.is_enabled());
    assert!(
        t.reason().contains("OPENVINO_TELEMETRY_ENDPOINT"),
        "{}",
        t.reason()
    );
}

#[test]
fn without_consent_nothing_is_sent_and_nothing_is_created() {
    let server = TestServer::start(Mode::Ok204);
    let dir = temp_dir("undecided").join("intel");
    let t = init(&options(&dir, &server.url()), &Env::new());
    assert!(!t.is_enabled());
    assert!(matches!(
        t.send_event("c", "a", "", 1),
        Err(Error::Disabled(_))
    ));
    t.flush(LONG).unwrap();
    t.shutdown(LONG).unwrap();
    assert!(!dir.exists());

    directory::set_consent(&dir, false).unwrap();
    fs::write(dir.join(SPOOL_FILE), "{}\n").unwrap();
    let t = init(&options(&dir, &server.url()), &Env::new());
    assert!(!t.is_enabled());
    assert!(matches!(
        t.send_event("c", "a", "", 1),
        Err(Error::Disabled(_))
    ));
    assert!(
        !dir.join(SPOOL_FILE).exists(),
        "a declined init deletes the spool"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn do_not_track_wins_over_an_accepted_file() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("dnt");
    let env: Env = [("DO_NOT_TRACK".to_string(), "1".to_string())].into();
    let t = init(&options(&dir, &server.url()), &env);
    assert!(!t.is_enabled());
    assert!(t.reason().contains("DO_NOT_TRACK"));
    assert!(!dir.join("stats").exists(), "the usage is not counted");
}

#[test]
fn one_process_counts_one_usage_however_many_handles_it_opens() {
    // DESIGN §7: a tool and a library inside it both init; the Python client counts one
    // instance per process, and so do we. (Other processes count: tests/concurrency.rs.)
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("usage");
    let first = init(&options(&dir, &server.url()), &Env::new());
    for _ in 0..3 {
        let t = init(&options(&dir, &server.url()), &Env::new());
        assert!(t.is_enabled());
        t.send_event("c", "use", "", 1).unwrap();
        t.shutdown(LONG).unwrap();
        let last = server.events().pop().unwrap();
        assert_eq!(param(&last, "usage_count"), 1);
    }
    first.send_event("c", "use", "", 1).unwrap();
    first.shutdown(LONG).unwrap();
    assert_eq!(server.events().len(), 4, "each handle works on its own");
    assert_eq!(param(&server.events()[3], "usage_group"), "first_usage");
    let stats = fs::read_to_string(dir.join("stats")).unwrap();
    assert!(stats.contains("\"usage_count\": 1"), "{stats}");
}

#[test]
fn messages_are_scrubbed_of_home_and_user_before_queueing() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("scrub");
    let t = init(&options(&dir, &server.url()), &Env::new());
    let home = std::env::var("HOME").unwrap_or_default();
    if home.len() > 1 {
        t.send_error("c", &format!("cannot open {home}/models/x.xml"))
            .unwrap();
        t.flush(LONG).unwrap();
        let label = param(&server.events()[0], "event_label")
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(label, "cannot open ~/models/x.xml");
    }
}

/// Runs the probe in a child with only the given variables: the proxy settings are read by
/// the HTTP client from the process environment.
fn probe_with_env(dir: &Path, endpoint: &str, env: &[(&str, String)]) -> String {
    let mut cmd = std::process::Command::new(probe());
    cmd.args([
        "--config-dir",
        dir.to_str().unwrap(),
        "--endpoint",
        endpoint,
        "event:c:via:proxy:1",
        "shutdown:1500",
    ])
    .env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn https_goes_through_the_proxy_from_the_environment_unless_no_proxy() {
    // The "proxy" is the loopback test server: it sees the CONNECT request and refuses it,
    // so nothing leaves the machine. The collector's name is in the reserved .invalid TLD.
    let proxy = TestServer::start(Mode::Status(403));
    let proxy_url = format!("http://{}", proxy.addr());
    let dir = accepted_dir("proxy");
    let endpoint = "https://collector.invalid/mp/collect";
    for variable in ["HTTPS_PROXY", "https_proxy"] {
        let out = probe_with_env(&dir, endpoint, &[(variable, proxy_url.clone())]);
        assert!(out.contains("enabled=true"), "{out}");
        let requests = proxy.wait_for_requests(1, LONG);
        let connect = requests.last().expect("the proxy was asked");
        assert_eq!(connect.method, "CONNECT", "{variable}");
        assert!(
            connect.path_and_query.starts_with("collector.invalid:443"),
            "{}",
            connect.path_and_query
        );
    }
    let before = proxy.requests().len();
    let out = probe_with_env(
        &dir,
        endpoint,
        &[
            ("HTTPS_PROXY", proxy_url.clone()),
            ("NO_PROXY", "collector.invalid".to_string()),
        ],
    );
    assert!(out.contains("enabled=true"), "{out}");
    assert_eq!(
        proxy.requests().len(),
        before,
        "NO_PROXY bypasses the proxy"
    );
}

#[test]
fn debug_mode_prints_each_body_as_one_json_line_and_sends_nothing() {
    let server = TestServer::start(Mode::Ok204);
    let dir = accepted_dir("debug");
    let out = std::process::Command::new(probe())
        .args([
            "--config-dir",
            dir.to_str().unwrap(),
            "--endpoint",
            &server.url(),
            "session:dbg",
            "event:dbg:act:lbl:2",
            "end:dbg",
            "shutdown:2000",
        ])
        .env_clear()
        .env("OPENVINO_TELEMETRY_DEBUG", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let bodies: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let names: Vec<&str> = bodies
        .iter()
        .flat_map(|b| b["events"].as_array().unwrap())
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["session", "act", "session"]);
    assert!(server.requests().is_empty(), "debug mode sends nothing");
}
