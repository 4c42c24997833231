//! The host survives (the panic boundary itself is tested in src/ffi/tests.rs).

use super::*;

/// A keep-alive HTTP server that answers each request with 204, then aborts the idle
/// connection with a TCP RST (as a load balancer dropping idle connections does). Counts
/// the requests answered and the connections reset.
fn resetting_keep_alive_server() -> (String, Arc<(AtomicU64, AtomicU64)>) {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mp/collect", listener.local_addr().unwrap());
    let counts = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let shared = Arc::clone(&counts);
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counts = Arc::clone(&shared);
            thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break at + 4;
                    }
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while request.len() < head_end + length {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
                counts.0.fetch_add(1, Ordering::SeqCst);
                // Let the client put the connection back in its pool, then abort it.
                thread::sleep(Duration::from_millis(20));
                let linger = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: sets SO_LINGER on a socket we own, with a valid struct and length.
                unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(&stream),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&linger as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                }
                drop(stream);
                counts.1.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    (url, counts)
}

/// In its own process, as a C host, which does not ignore SIGPIPE (a Rust program does):
/// writing to a connection the peer has reset must never raise it.
fn send_as_a_c_host_to_a_resetting_peer(_: &str) {
    // SAFETY: restores the default disposition, as a C program starts with.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (url, counts) = resetting_keep_alive_server();
    let dir = accepted_dir("sigpipe");
    let t = init(&options(&dir, &url));
    const ROUNDS: u64 = 6;
    for round in 0..ROUNDS {
        t.send_event("c", "keepalive", &round.to_string(), 1)
            .unwrap();
        t.flush(LONG).unwrap();
        // Wait until the server has reset the connection the client keeps in its pool.
        let deadline = Instant::now() + LONG;
        while counts.1.load(Ordering::SeqCst) < counts.0.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the server never reset");
            thread::yield_now();
        }
    }
    t.shutdown(LONG).unwrap();
    let c = t.counters();
    println!(
        "SIGPIPE survived rounds={ROUNDS} sent={} retried={} answered={}",
        c.sent,
        c.retried,
        counts.0.load(Ordering::SeqCst)
    );
    assert_eq!(c.sent, ROUNDS);
}

#[test]
fn a_peer_resetting_connections_never_raises_sigpipe_in_a_c_host() {
    let run = run_in_own_process(
        rusty_fork_test_name!(a_peer_resetting_connections_never_raises_sigpipe_in_a_c_host),
        String::new,
        send_as_a_c_host_to_a_resetting_peer,
        Duration::from_secs(120),
    );
    let all = run.output;
    assert!(
        run.status.success(),
        "the host process died ({:?}): {all}",
        run.status
    );
    println!("{}", line(&all, "SIGPIPE "));
}
