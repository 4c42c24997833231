//! Self-tests of the loopback test server (`tests/loopback`, the `ovt_loopback` crate).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ovt_loopback::{Mode, Stats, TestServer};
use serde_json::json;

const LONG: Duration = Duration::from_secs(10);

fn body(names: &[&str]) -> String {
    let events: Vec<_> = names
        .iter()
        .map(|n| json!({ "name": n, "params": { "x": 1 } }))
        .collect();
    json!({ "client_id": "c1", "events": events }).to_string()
}

fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(timeout)
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(u16, Option<String>), ureq::Error> {
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)?;
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((resp.status().as_u16(), retry_after))
}

fn connect(server: &TestServer) -> TcpStream {
    let s = TcpStream::connect(server.addr()).expect("connect");
    s.set_read_timeout(Some(LONG)).unwrap();
    s
}

fn raw_request(body: &str, extra: &str) -> String {
    format!(
        "POST /mp/collect?measurement_id=G-TEST&api_secret=s3 HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nContent-Type: application/json\r\n{extra}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one response head (we only send codes without bodies).
fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => panic!("eof in response head: {:?}", String::from_utf8_lossy(&head)),
            Ok(_) => head.push(byte[0]),
            Err(e) => panic!("read error: {e}"),
        }
    }
    String::from_utf8(head).unwrap()
}

#[test]
fn ok204_records_request_and_events() {
    let server = TestServer::start(Mode::Ok204);
    assert!(server.url().starts_with("http://127.0.0.1:"));
    assert!(server.url().ends_with("/mp/collect"));
    let mut s = connect(&server);
    s.write_all(raw_request(&body(&["a", "b"]), "X-Test: yes\r\n").as_bytes())
        .unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 204 "), "{head}");

    let reqs = server.wait_for_requests(1, LONG);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path_and_query,
        "/mp/collect?measurement_id=G-TEST&api_secret=s3"
    );
    assert_eq!(r.path(), "/mp/collect");
    assert_eq!(r.query_param("measurement_id"), Some("G-TEST"));
    assert_eq!(r.query_param("api_secret"), Some("s3"));
    assert_eq!(r.header("x-test"), Some("yes"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, body(&["a", "b"]).into_bytes());
    assert_eq!(r.json.as_ref().unwrap()["client_id"], "c1");
    assert_eq!(r.answered, Some(204));

    let events = server.wait_for_events(2, LONG);
    let names: Vec<_> = events.iter().map(|e| e["name"].clone()).collect();
    assert_eq!(names, vec![json!("a"), json!("b")]);
    assert_eq!(server.events(), events);
    assert_eq!(server.connections(), 1);
}

#[test]
fn keep_alive_three_requests_on_one_raw_connection() {
    let server = TestServer::start(Mode::Ok204);
    let mut s = connect(&server);
    for name in ["one", "two", "three"] {
        s.write_all(raw_request(&body(&[name]), "").as_bytes())
            .unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 204 "), "{head}");
    }
    assert_eq!(server.wait_for_requests(3, LONG).len(), 3);
    assert_eq!(server.wait_for_events(3, LONG).len(), 3);
    assert_eq!(server.connections(), 1);
}

#[test]
fn pipelined_requests_in_one_write() {
    let server = TestServer::start(Mode::Ok204);
    let mut s = connect(&server);
    let both = raw_request(&body(&["p1"]), "") + &raw_request(&body(&["p2"]), "");
    s.write_all(both.as_bytes()).unwrap();
    assert!(read_head(&mut s).starts_with("HTTP/1.1 204 "));
    assert!(read_head(&mut s).starts_with("HTTP/1.1 204 "));
    let names: Vec<_> = server
        .wait_for_events(2, LONG)
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["p1", "p2"]);
}

#[test]
fn keep_alive_three_requests_with_ureq() {
    let server = TestServer::start(Mode::Ok204);
    let agent = agent(Some(LONG));
    for name in ["u1", "u2", "u3"] {
        assert_eq!(post(&agent, &server.url(), &body(&[name])).unwrap().0, 204);
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.events().len(), 3);
    assert_eq!(server.connections(), 1, "ureq should reuse the connection");
}

#[test]
fn connection_close_is_honoured() {
    let server = TestServer::start(Mode::Ok204);
    let mut s = connect(&server);
    s.write_all(raw_request("{}", "Connection: close\r\n").as_bytes())
        .unwrap();
    let head = read_head(&mut s);
    assert!(head.contains("Connection: close"), "{head}");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn chunked_body_is_decoded() {
    let server = TestServer::start(Mode::Ok204);
    let b = body(&["chunky"]);
    let (first, second) = b.split_at(10);
    let mut s = connect(&server);
    let req = format!(
        "POST /mp/collect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{first}\r\n{:x};ext=1\r\n{second}\r\n0\r\nX-Trailer: t\r\n\r\n",
        first.len(),
        second.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    assert!(read_head(&mut s).starts_with("HTTP/1.1 204 "));
    let reqs = server.wait_for_requests(1, LONG);
    assert_eq!(reqs[0].body, b.into_bytes());
    assert_eq!(server.events()[0]["name"], "chunky");
}

#[test]
fn fail_then_ok() {
    let server = TestServer::start(Mode::FailThenOk {
        failures: 2,
        status: 500,
    });
    let agent = agent(Some(LONG));
    let statuses: Vec<u16> = (0..4)
        .map(|i| {
            post(&agent, &server.url(), &body(&[&format!("e{i}")]))
                .unwrap()
                .0
        })
        .collect();
    assert_eq!(statuses, [500, 500, 204, 204]);
    let answered: Vec<_> = server.requests().iter().map(|r| r.answered).collect();
    assert_eq!(answered, [Some(500), Some(500), Some(204), Some(204)]);
    // Only requests answered 2xx count as delivered events.
    let names: Vec<_> = server.events().iter().map(|e| e["name"].clone()).collect();
    assert_eq!(names, [json!("e2"), json!("e3")]);
}

#[test]
fn too_many_requests_with_retry_after() {
    let server = TestServer::start(Mode::TooManyRequests {
        retry_after_secs: 7,
        times: 2,
    });
    let agent = agent(Some(LONG));
    let url = server.url();
    assert_eq!(post(&agent, &url, "{}").unwrap(), (429, Some("7".into())));
    assert_eq!(post(&agent, &url, "{}").unwrap(), (429, Some("7".into())));
    assert_eq!(post(&agent, &url, "{}").unwrap(), (204, None));

    // Raw client sees the header too.
    server.set_mode(Mode::TooManyRequests {
        retry_after_secs: 3,
        times: 1,
    });
    let mut s = connect(&server);
    s.write_all(raw_request("{}", "").as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
    assert!(head.contains("\r\nRetry-After: 3\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Length: 0\r\n"), "{head}");
}

#[test]
fn fixed_status() {
    let server = TestServer::start(Mode::Status(400));
    let agent = agent(Some(LONG));
    for _ in 0..3 {
        assert_eq!(
            post(&agent, &server.url(), &body(&["x"])).unwrap(),
            (400, None)
        );
    }
    assert_eq!(server.requests().len(), 3);
    assert!(server.events().is_empty());
}

#[test]
fn set_mode_changes_answers_and_restarts_counters() {
    let server = TestServer::start(Mode::Status(503));
    let agent = agent(Some(LONG));
    let url = server.url();
    assert_eq!(post(&agent, &url, "{}").unwrap().0, 503);
    server.set_mode(Mode::FailThenOk {
        failures: 1,
        status: 502,
    });
    assert_eq!(post(&agent, &url, "{}").unwrap().0, 502);
    assert_eq!(post(&agent, &url, "{}").unwrap().0, 204);
    server.set_mode(Mode::FailThenOk {
        failures: 1,
        status: 502,
    });
    assert_eq!(post(&agent, &url, "{}").unwrap().0, 502);
    server.set_mode(Mode::Ok204);
    assert_eq!(post(&agent, &url, "{}").unwrap().0, 204);
}

#[test]
fn reset_gives_client_error() {
    let server = TestServer::start(Mode::Reset);
    let started = Instant::now();
    let err = post(&agent(Some(LONG)), &server.url(), &body(&["r"]));
    assert!(err.is_err(), "expected an error, got {err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // Raw client: the read fails with ECONNRESET (or sees EOF on platforms
    // without SO_LINGER support), never a response.
    let mut s = connect(&server);
    s.write_all(raw_request(&body(&["r"]), "").as_bytes())
        .unwrap();
    let mut buf = [0u8; 64];
    let read = s.read(&mut buf);
    #[cfg(unix)]
    match read {
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
        Ok(n) => panic!("expected a reset, read {n} bytes"),
    }
    #[cfg(not(unix))]
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");

    let reqs = server.wait_for_requests(2, LONG);
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| r.answered.is_none()));
    assert!(server.events().is_empty());
}

#[test]
fn hang_times_out_on_client_and_drop_is_prompt() {
    let server = TestServer::start(Mode::Hang);
    let started = Instant::now();
    let res = post(
        &agent(Some(Duration::from_millis(300))),
        &server.url(),
        &body(&["h"]),
    );
    let took = started.elapsed();
    match res {
        Err(ureq::Error::Timeout(_)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");

    // A raw client that keeps its connection open, waiting for the answer.
    let mut s = connect(&server);
    s.write_all(raw_request("{}", "").as_bytes()).unwrap();
    let reqs = server.wait_for_requests(2, LONG);
    assert_eq!(reqs.len(), 2);
    assert!(reqs.iter().all(|r| r.answered.is_none()));

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "drop took {:?}",
        started.elapsed()
    );
    // The hanging connection was closed without an answer.
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty());
}

#[test]
fn ok_then_hang_answers_the_first_requests_then_none() {
    let server = TestServer::start(Mode::OkThenHang(1));
    let client = agent(Some(Duration::from_millis(300)));
    assert_eq!(post(&client, &server.url(), &body(&["a"])).unwrap().0, 204);
    match post(&client, &server.url(), &body(&["b"])) {
        Err(ureq::Error::Timeout(_)) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    let answered: Vec<Option<u16>> = server.requests().iter().map(|r| r.answered).collect();
    assert_eq!(answered, [Some(204), None]);
}

#[test]
fn slow_answers_after_the_delay() {
    let delay = Duration::from_millis(200);
    let server = TestServer::start(Mode::Slow(delay));
    let started = Instant::now();
    assert_eq!(
        post(&agent(Some(LONG)), &server.url(), &body(&["s"]))
            .unwrap()
            .0,
        204
    );
    let took = started.elapsed();
    assert!(took >= delay, "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(server.events().len(), 1);
}

#[test]
fn drop_is_prompt_while_slow_and_with_idle_connections() {
    let server = TestServer::start(Mode::Slow(Duration::from_secs(60)));
    let _idle = connect(&server);
    let mut busy = connect(&server);
    busy.write_all(raw_request("{}", "").as_bytes()).unwrap();
    server.wait_for_requests(1, LONG);
    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "drop took {:?}",
        started.elapsed()
    );
}

#[test]
fn wait_for_returns_promptly() {
    let server = TestServer::start(Mode::Ok204);

    // Nothing arrives: returns at the deadline with what it has.
    let started = Instant::now();
    assert!(server
        .wait_for_requests(1, Duration::from_millis(100))
        .is_empty());
    assert!(server
        .wait_for_events(1, Duration::from_millis(100))
        .is_empty());
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // A request arriving while waiting wakes the waiter long before the deadline.
    let url = server.url();
    let sender = std::thread::spawn(move || {
        let a = agent(Some(LONG));
        post(&a, &url, &body(&["w1", "w2"])).unwrap();
    });
    let started = Instant::now();
    assert_eq!(server.wait_for_events(2, Duration::from_secs(30)).len(), 2);
    assert!(started.elapsed() < Duration::from_secs(5));
    sender.join().unwrap();

    // Already satisfied: returns immediately.
    let started = Instant::now();
    assert_eq!(
        server.wait_for_requests(1, Duration::from_secs(30)).len(),
        1
    );
    assert_eq!(server.wait_for_events(2, Duration::from_secs(30)).len(), 2);
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[test]
fn many_concurrent_connections() {
    let server = TestServer::start(Mode::Ok204);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let url = server.url();
            std::thread::spawn(move || {
                let a = agent(Some(LONG));
                post(&a, &url, &body(&[&format!("c{i}")])).unwrap().0
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 204);
    }
    assert_eq!(server.wait_for_events(8, LONG).len(), 8);
    assert!(server.connections() >= 1);
}

#[test]
fn non_json_body_and_get_are_recorded() {
    let server = TestServer::start(Mode::Ok204);
    let mut s = connect(&server);
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_head(&mut s).starts_with("HTTP/1.1 204 "));
    s.write_all(raw_request("not json", "").as_bytes()).unwrap();
    assert!(read_head(&mut s).starts_with("HTTP/1.1 204 "));
    let reqs = server.wait_for_requests(2, LONG);
    assert_eq!(reqs[0].method, "GET");
    assert!(reqs[0].body.is_empty());
    assert!(reqs[1].json.is_none());
    assert!(server.events().is_empty());
}

#[test]
fn redirect_answers_with_location() {
    let to = "http://127.0.0.1:9/elsewhere";
    let server = TestServer::start(Mode::Redirect {
        status: 307,
        location: to.into(),
    });
    let mut s = connect(&server);
    s.write_all(raw_request("{}", "").as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 307 "), "{head}");
    assert!(head.contains(&format!("\r\nLocation: {to}\r\n")), "{head}");
    assert_eq!(server.wait_for_requests(1, LONG)[0].answered, Some(307));
}

#[test]
fn slow_body_sends_the_head_then_pauses_in_the_body() {
    let pause = Duration::from_millis(500);
    let server = TestServer::start(Mode::SlowBody(pause));
    let mut s = connect(&server);
    let started = Instant::now();
    s.write_all(raw_request("{}", "").as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("a Content-Length")
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    assert!(started.elapsed() >= pause, "{:?}", started.elapsed());
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
}

#[test]
fn counting_server_keeps_stats_only() {
    let server = TestServer::start_counting(Mode::Ok204);
    let mut s = connect(&server);
    let plain = raw_request(&body(&["a", "b"]), "");
    let b = body(&["c"]);
    let chunked = format!(
        "POST /mp/collect HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{b}\r\n0\r\n\r\n",
        b.len()
    );
    for request in [&plain, &chunked] {
        s.write_all(request.as_bytes()).unwrap();
        assert!(read_head(&mut s).starts_with("HTTP/1.1 204 "));
    }
    let stats = server.stats();
    assert_eq!(
        stats,
        Stats {
            connections: 1,
            requests: 2,
            events: 3,
            bytes: (plain.len() + chunked.len()) as u64,
            body_bytes: (body(&["a", "b"]).len() + b.len()) as u64,
        }
    );
    assert!(server.requests().is_empty());
}

#[test]
fn modes_have_text_forms() {
    let ms = Duration::from_millis;
    let cases = [
        ("ok", Mode::Ok204),
        ("hang", Mode::Hang),
        ("ok-then-hang:2", Mode::OkThenHang(2)),
        ("reset", Mode::Reset),
        ("status:503", Mode::Status(503)),
        (
            "fail:2:500",
            Mode::FailThenOk {
                failures: 2,
                status: 500,
            },
        ),
        (
            "429:7:3",
            Mode::TooManyRequests {
                retry_after_secs: 7,
                times: 3,
            },
        ),
        ("slow:250", Mode::Slow(ms(250))),
        ("slow-body:40", Mode::SlowBody(ms(40))),
        (
            "redirect:308:http://127.0.0.1:1/x",
            Mode::Redirect {
                status: 308,
                location: "http://127.0.0.1:1/x".into(),
            },
        ),
    ];
    for (text, mode) in cases {
        assert_eq!(text.parse::<Mode>(), Ok(mode), "{text}");
    }
    for bad in [
        "",
        "okay",
        "status",
        "status:x",
        "fail:1",
        "status:70000",
        "redirect:307",
    ] {
        assert!(bad.parse::<Mode>().is_err(), "{bad}");
    }
}
