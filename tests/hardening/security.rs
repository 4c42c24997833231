//! Security: file modes, TLS verification, nothing secret printed.

use super::*;

#[test]
fn every_file_is_0600_and_the_directory_0700_whatever_the_umask() {
    let base_dir = scratch_dir("modes");
    let base = base_dir.path();
    let dir = base.join("intel");
    let script = r#"
        umask 000
        "$1" --opt_in --config-dir "$3" || exit 1
        "$2" --config-dir "$3" --endpoint "$4" events:20 shutdown:200 || exit 1
    "#;
    let mut cmd = Command::new("sh");
    cmd.env_clear()
        .env("HOME", temp_dir("home"))
        .env("OPENVINO_TELEMETRY_ENDPOINT", closed_port_url())
        .args(["-c", script, "sh"])
        .arg(opt_in_out())
        .arg(probe())
        .arg(&dir)
        .arg(closed_port_url());
    let (output, _) = run_with_deadline(cmd, WATCHDOG);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(mode_of(&dir), 0o700);
    let names = names_in(&dir);
    for expected in [directory::CONSENT_FILE, CLIENT_ID_FILE, STATS_FILE] {
        assert!(names.contains(&expected.to_string()), "{names:?}");
    }
    assert!(
        names.iter().any(|n| n.starts_with(PENDING_PREFIX)),
        "a pending file: {names:?}"
    );
    for name in names {
        assert_eq!(mode_of(&dir.join(&name)), 0o600, "{name}");
    }
}

/// `openssl s_server` with a fresh self-signed certificate for 127.0.0.1.
struct SelfSignedServer {
    child: std::process::Child,
    port: u16,
    dir: TempDir,
}

impl SelfSignedServer {
    fn start() -> SelfSignedServer {
        let temp = scratch_dir("tls");
        let dir = temp.path();
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
            ])
            .arg("-keyout")
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the openssl command");
        assert!(status.success(), "openssl req failed");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(dir.join("cert.pem"))
            .arg("-key")
            .arg(dir.join("key.pem"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("openssl s_server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("ACCEPT") {
            let n = stdout.read_line(&mut seen).unwrap();
            assert!(n > 0, "s_server ended before accepting: {seen}");
        }
        // Keep draining its output so it never blocks on a full pipe.
        let log = dir.join("s_server.log");
        let mut file = fs::File::create(&log).unwrap();
        thread::spawn(move || {
            let _ = std::io::copy(&mut stdout, &mut file);
        });
        SelfSignedServer {
            child,
            port,
            dir: temp,
        }
    }

    fn output(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        format!(
            "{}{err}",
            fs::read_to_string(self.dir.path().join("s_server.log")).unwrap_or_default()
        )
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_self_signed_https_server_on_loopback_is_refused() {
    let mut server = SelfSignedServer::start();
    let dir = accepted_dir("tls");
    let url = format!("https://127.0.0.1:{}/mp/collect", server.port);
    let t = init(&options(&dir, &url));
    assert!(t.is_enabled());
    t.send_event("c", "tls", "l", 1).unwrap();
    assert!(matches!(
        t.flush(Duration::from_secs(2)),
        Err(Error::Timeout)
    ));
    let _ = t.shutdown(Duration::from_millis(100));
    let c = t.counters();
    assert_eq!(c.sent, 0, "{c:?}");
    assert!(c.retried >= 1, "the handshake was attempted: {c:?}");
    let spooled = spool_lines(&dir);
    assert_eq!(spooled.len(), 1);
    assert_eq!(spooled[0]["name"], "tls");

    // The server does work: a client that skips verification gets an answer.
    let mut control = Command::new("openssl");
    control
        .args(["s_client", "-quiet", "-connect"])
        .arg(format!("127.0.0.1:{}", server.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut control = control.spawn().unwrap();
    std::io::Write::write_all(control.stdin.as_mut().unwrap(), b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let answer = control.wait_with_output().unwrap();
    let answer = String::from_utf8_lossy(&answer.stdout);
    assert!(answer.contains("HTTP/1.0 200"), "control request: {answer}");
    // Why it failed: ureq as the library configures it (rustls, default roots) rejects the
    // certificate, and the same request with that certificate as a root goes through.
    let url = format!("https://127.0.0.1:{}/", server.port);
    let strict: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let refused = strict.get(&url).call().unwrap_err().to_string();
    assert!(
        refused.contains("UnknownIssuer") || refused.contains("certificate"),
        "{refused}"
    );
    let pem = fs::read(server.dir.path().join("cert.pem")).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|item| match item.unwrap() {
            ureq::tls::PemItem::Certificate(cert) => Some(cert),
            _ => None,
        })
        .collect();
    let trusting: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        )
        .build()
        .into();
    let answer = trusting.get(&url).call().unwrap();
    assert_eq!(
        answer.status(),
        200,
        "the control request with the root trusted"
    );
    let log = server.output();
    assert!(!log.contains("POST "), "a request was processed: {log}");
    println!("TLS refused: {refused}");
}

#[test]
fn nothing_secret_is_printed_outside_debug_mode() {
    let server = TestServer::start(Mode::Ok204);
    let failing = TestServer::start(Mode::Status(500));
    let base_dir = scratch_dir("secrets");
    let base = base_dir.path();
    let dir = base.join("intel");
    let home_dir = scratch_dir("home");
    let home = home_dir.path();
    let mut printed = String::new();
    let mut run = |cmd: Command| {
        let (output, _) = run_with_deadline(cmd, WATCHDOG);
        printed.push_str(&text(&output));
        output
    };
    let opt = |args: &[&str]| {
        let mut cmd = Command::new(opt_in_out());
        cmd.env_clear()
            .env("HOME", home)
            .env("OPENVINO_TELEMETRY_ENDPOINT", server.url())
            .args(args)
            .arg("--config-dir")
            .arg(&dir);
        cmd
    };
    run(opt(&["--opt_in", "--status"]));
    run(opt(&["--status"]));
    run(opt(&["--opt_in"]));
    let client_id = fs::read_to_string(dir.join(CLIENT_ID_FILE)).unwrap();
    for endpoint in [server.url(), failing.url(), closed_port_url()] {
        run(probe_command(
            Some(&dir),
            &endpoint,
            &[
                "session",
                "event:c:a:l:1",
                "error:c:boom",
                "flush:1000",
                "shutdown:500",
                "counters",
            ],
        ));
    }
    run(probe_command(
        Some(&dir),
        "http://192.0.2.1/refused",
        &["shutdown:0"],
    ));
    // Nor is the secret ever written to disk (the spool holds events only).
    assert!(
        !spool_lines(&dir).is_empty(),
        "the failing runs spooled events"
    );
    for name in names_in(&dir) {
        let bytes = fs::read(dir.join(&name)).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        assert!(!content.contains(DEFAULT_API_SECRET), "{name}");
    }
    run(opt(&["--opt_out", "--status"]));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.query_param("api_secret") == Some(DEFAULT_API_SECRET)),
        "the secret was used, so it could have leaked"
    );
    assert!(!printed.contains(DEFAULT_API_SECRET), "{printed}");
    assert!(!printed.contains(&client_id), "{printed}");
    assert!(!printed.contains("api_secret"), "{printed}");

    // Debug mode is the documented exception: it prints the body (client id included).
    fs::create_dir_all(&dir).unwrap();
    directory::set_consent(&dir, true).unwrap();
    let client_id = fs::read_to_string(dir.join(CLIENT_ID_FILE)).unwrap();
    let mut cmd = probe_command(
        Some(&dir),
        &server.url(),
        &["event:c:a:l:1", "shutdown:1000"],
    );
    cmd.env("OPENVINO_TELEMETRY_DEBUG", "1");
    let (output, _) = run_with_deadline(cmd, WATCHDOG);
    let debug = text(&output);
    assert!(debug.contains(&client_id), "{debug}");
    assert!(!debug.contains(DEFAULT_API_SECRET), "{debug}");
}
