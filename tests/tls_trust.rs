//! TLS is verified against the system's trust store, with `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` honoured as OpenSSL honours them (DESIGN §6). A private CA (made with the
//! `openssl` command) signs a certificate for 127.0.0.1; an HTTPS collector on loopback
//! serves it. The probe runs in a child process with exactly the variables of each case,
//! and Python's urllib (OpenSSL, as the Python client) must come to the same verdict.

#[cfg(not(any(windows, target_os = "macos")))]
mod linux {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    use crate::support::{probe, temp_dir};
    use openvino_telemetry::directory;

    fn openssl(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command (scripts/ensure-deps installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A private CA and a certificate for 127.0.0.1 signed by it, in `dir`:
    /// `ca.pem`, `server.pem` (leaf + CA chain), `server.key`. Returns the CA's
    /// subject hash (OpenSSL's name for it in a certificate directory).
    fn make_pki(dir: &Path) -> String {
        std::fs::write(
            dir.join("leaf.ext"),
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n\
             extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=OVT Test Private CA",
        ];
        ca.extend(ec);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(dir, &ca);
        let mut csr = vec!["req", "-new", "-subj", "/CN=127.0.0.1"];
        csr.extend(ec);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        openssl(dir, &csr);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "leaf.ext",
                "-out",
                "leaf.pem",
            ],
        );
        let chain = [
            std::fs::read(dir.join("leaf.pem")).unwrap(),
            std::fs::read(dir.join("ca.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(dir.join("server.pem"), chain).unwrap();
        openssl(dir, &["x509", "-subject_hash", "-noout", "-in", "ca.pem"])
    }

    #[derive(Default)]
    struct Seen {
        /// Request bodies received over a verified connection.
        bodies: Vec<String>,
        /// Connections whose handshake failed (the client refused our certificate).
        refused: usize,
    }

    /// An HTTPS collector on 127.0.0.1 answering 204 to every POST.
    struct Collector {
        port: u16,
        seen: Arc<(Mutex<Seen>, Condvar)>,
    }

    impl Collector {
        fn start(pki: &Path) -> Collector {
            use rustls::pki_types::pem::PemObject;
            use rustls::pki_types::{CertificateDer, PrivateKeyDer};
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(pki.join("server.pem"))
                    .unwrap()
                    .map(|c| c.unwrap())
                    .collect();
            let key = PrivateKeyDer::from_pem_file(pki.join("server.key")).unwrap();
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = Arc::new(
                rustls::ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .unwrap()
                    .with_no_client_auth()
                    .with_single_cert(certs, key)
                    .unwrap(),
            );
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let seen: Arc<(Mutex<Seen>, Condvar)> = Arc::default();
            let shared = Arc::clone(&seen);
            // Detached: it serves until the test process exits.
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let config = Arc::clone(&config);
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        let mut tls = rustls::StreamOwned::new(conn, stream);
                        let (lock, changed) = &*shared;
                        let outcome = serve(&mut tls, |body| {
                            lock.lock().unwrap().bodies.push(body);
                            changed.notify_all();
                        });
                        if outcome.is_err() && tls.conn.is_handshaking() {
                            lock.lock().unwrap().refused += 1;
                            changed.notify_all();
                        }
                    });
                }
            });
            Collector { port, seen }
        }

        fn url(&self) -> String {
            format!("https://127.0.0.1:{}/mp/collect", self.port)
        }

        /// Waits (at most 10 s) until `done` holds for what was seen.
        fn wait(&self, done: impl Fn(&Seen) -> bool) -> (Vec<String>, usize) {
            let (lock, changed) = &*self.seen;
            let seen = changed
                .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(10), |s| !done(s))
                .unwrap()
                .0;
            (seen.bodies.clone(), seen.refused)
        }
    }

    /// Serves the requests of one connection, passing each body to `record` as it arrives.
    fn serve(
        tls: &mut rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>,
        record: impl Fn(String),
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        loop {
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let mut chunk = [0u8; 4096];
                let n = tls.read(&mut chunk)?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            while buf.len() < head_end + length {
                let mut chunk = [0u8; 4096];
                let n = tls.read(&mut chunk)?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            record(String::from_utf8_lossy(&buf[head_end..head_end + length]).into());
            buf.drain(..head_end + length);
            tls.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")?;
            tls.flush()?;
        }
    }

    struct Case {
        root: PathBuf,
        pki: PathBuf,
        hash: String,
        collector: Collector,
    }

    fn case(tag: &str) -> Case {
        let root = temp_dir(tag);
        let pki = root.join("pki");
        std::fs::create_dir(&pki).unwrap();
        let hash = make_pki(&pki);
        let collector = Collector::start(&pki);
        Case {
            root,
            pki,
            hash,
            collector,
        }
    }

    /// Runs the probe with an opted-in config dir and only `env` (plus PATH and HOME);
    /// sends one event labelled `label`; returns the config dir.
    fn run_probe(case: &Case, label: &str, env: &[(&str, &Path)]) -> PathBuf {
        let config = case.root.join(format!("intel-{label}"));
        directory::set_consent(&config, true).unwrap();
        let mut cmd = Command::new(probe());
        cmd.env_clear()
            .env("HOME", &case.root)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--config-dir", config.to_str().unwrap()])
            .args(["--endpoint", &case.collector.url()])
            .arg(format!("event:tls:deliver:{label}:1"))
            .arg("shutdown:4000");
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("enabled=true"), "{stdout}");
        config
    }

    /// Whether Python's urllib (OpenSSL's default verify paths) trusts the collector with
    /// the same variables: the library must agree with it.
    fn python_trusts(case: &Case, env: &[(&str, &Path)]) -> bool {
        let script = "import sys, urllib.request\n\
                      req = urllib.request.Request(sys.argv[1], data=b'{\"python\": 1}')\n\
                      try:\n    urllib.request.urlopen(req, timeout=10)\n\
                      except Exception as e:\n    print(e)\n    sys.exit(1)\n";
        let mut cmd = Command::new("python3");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["-c", script, &case.collector.url()]);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd.output().expect("python3");
        out.status.success()
    }

    fn assert_delivered(case: &Case, config: &Path, label: &str) {
        let (bodies, refused) = case
            .collector
            .wait(|s| s.bodies.iter().any(|b| b.contains(label)));
        assert!(
            bodies.iter().any(|b| b.contains(label)),
            "{label}: not delivered ({refused} refused handshakes)"
        );
        assert!(
            openvino_telemetry::directory::pending_events(config).is_empty(),
            "{label}: delivered events are not kept"
        );
    }

    fn assert_refused_and_kept(case: &Case, config: &Path, label: &str) {
        let (bodies, refused) = case.collector.wait(|s| s.refused >= 1);
        assert!(refused >= 1, "{label}: the client never tried");
        assert!(
            !bodies.iter().any(|b| b.contains(label)),
            "{label}: delivered to a collector the trust store does not vouch for"
        );
        let kept = openvino_telemetry::directory::pending_events(config);
        assert!(
            kept.iter()
                .any(|e| e.label.contains(label) || e.name.contains(label)),
            "{label}: the event was not kept: {kept:?}"
        );
    }

    #[test]
    fn a_private_ca_given_through_ssl_cert_file_is_trusted() {
        let case = case("tls-file");
        let ca = case.pki.join("ca.pem");
        let env: &[(&str, &Path)] = &[("SSL_CERT_FILE", &ca)];
        let config = run_probe(&case, "viafile", env);
        assert_delivered(&case, &config, "viafile");
        assert!(python_trusts(&case, env), "Python disagrees");
    }

    #[test]
    fn a_private_ca_given_through_ssl_cert_dir_under_its_hashed_name_is_trusted() {
        let case = case("tls-dir");
        let dirs = [case.root.join("empty"), case.root.join("certs")];
        for dir in &dirs {
            std::fs::create_dir(dir).unwrap();
        }
        std::fs::copy(
            case.pki.join("ca.pem"),
            dirs[1].join(format!("{}.0", case.hash)),
        )
        .unwrap();
        // A list, as OpenSSL reads it: the CA is in the second directory.
        let list = std::env::join_paths(&dirs).unwrap();
        let env: &[(&str, &Path)] = &[("SSL_CERT_DIR", Path::new(&list))];
        let config = run_probe(&case, "viadir", env);
        assert_delivered(&case, &config, "viadir");
        assert!(python_trusts(&case, env), "Python disagrees");
    }

    #[test]
    fn without_the_ca_nothing_is_delivered_and_the_event_is_kept() {
        let case = case("tls-none");
        // The system store (or the bundled roots) does not know the private CA.
        let config = run_probe(&case, "nostore", &[]);
        assert_refused_and_kept(&case, &config, "nostore");
        assert!(!python_trusts(&case, &[]), "Python disagrees");
    }

    #[test]
    fn a_ca_in_ssl_cert_dir_under_another_name_is_not_used_as_openssl_would_not() {
        let case = case("tls-unhashed");
        let dir = case.root.join("certs");
        std::fs::create_dir(&dir).unwrap();
        std::fs::copy(case.pki.join("ca.pem"), dir.join("company-ca.pem")).unwrap();
        let env: &[(&str, &Path)] = &[("SSL_CERT_DIR", &dir)];
        let config = run_probe(&case, "unhashed", env);
        assert_refused_and_kept(&case, &config, "unhashed");
        assert!(!python_trusts(&case, env), "Python disagrees");
    }

    #[test]
    fn ssl_cert_file_replaces_the_default_bundle() {
        // With SSL_CERT_FILE naming a bundle without the CA, and the CA in no hashed
        // directory, the collector is refused even though a file was given.
        let case = case("tls-other-file");
        let other = case.root.join("other.pem");
        std::fs::copy(case.pki.join("leaf.pem"), &other).unwrap();
        let empty = case.root.join("empty");
        std::fs::create_dir(&empty).unwrap();
        let env: &[(&str, &Path)] = &[("SSL_CERT_FILE", &other), ("SSL_CERT_DIR", &empty)];
        let config = run_probe(&case, "otherfile", env);
        assert_refused_and_kept(&case, &config, "otherfile");
        assert!(!python_trusts(&case, env), "Python disagrees");
    }
}

#[cfg(not(any(windows, target_os = "macos")))]
mod support;

#[cfg(any(windows, target_os = "macos"))]
#[test]
#[ignore = "SSL_CERT_FILE / SSL_CERT_DIR are OpenSSL's: on Windows and macOS the OS verifier and store decide (native-tls)"]
fn private_ca_through_openssl_variables() {}
