//! HTTP delivery through ureq: one POST per batch, each attempt bounded as a whole (name
//! resolution included), the proxy from the environment (`HTTPS_PROXY`, `https_proxy`,
//! `ALL_PROXY`, `NO_PROXY`), and TLS verified against the operating system's trust store
//! (DESIGN §6). Plain `http://` is accepted only for loopback hosts.
//!
//! Where things are: `endpoint` (which URLs are accepted, the query), `tls` (the trust
//! store per platform), `resolve` (name lookup within the attempt's budget); this file
//! holds the attempt itself and what its answer means.

use std::io::Write;
use std::time::Duration;

use ureq::unversioned::transport::DefaultConnector;

mod endpoint;
mod resolve;
mod tls;

pub use endpoint::Endpoint;
use resolve::{system_lookup, BoundedResolver, Lookup};
use tls::tls_config;

/// The whole of one delivery attempt ends within this: name resolution, connecting (to
/// each address, and through a proxy), the TLS handshake, sending, and reading the answer.
pub const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
pub const USER_AGENT: &str = concat!("openvino-telemetry-native/", env!("CARGO_PKG_VERSION"));
/// What is read of an answer's body (so the connection can be reused), at most.
const ANSWER_BODY_LIMIT: u64 = 64 * 1024;

/// What one attempt to deliver a body came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostOutcome {
    /// 2xx: the batch is delivered.
    Delivered,
    /// A network error, 5xx or 429: worth another try, after `after` if the server said.
    Retry {
        after: Option<Duration>,
        why: String,
    },
    /// Any other status: the server will not take this batch, ever.
    Rejected { status: u16 },
}

/// Delivers request bodies. Implementations are used by one worker thread at a time.
pub trait Transport: Send {
    fn post(&mut self, body: &[u8]) -> PostOutcome;
}

/// POSTs with ureq. The agent (TLS roots, connection pool) is built on the first post,
/// on the worker thread, so creating a transport costs the host's init nothing.
pub struct HttpTransport {
    agent: Option<ureq::Agent>,
    loopback: bool,
    https: bool,
    url: String,
    limit: Duration,
    lookup: Lookup,
}

impl HttpTransport {
    pub fn new(endpoint: &Endpoint, measurement_id: &str, api_secret: &str) -> HttpTransport {
        HttpTransport {
            agent: None,
            loopback: endpoint.is_loopback(),
            https: endpoint.is_https(),
            url: endpoint.collect_url(measurement_id, api_secret),
            limit: ATTEMPT_LIMIT,
            lookup: system_lookup,
        }
    }
}

fn build_agent(loopback: bool, https: bool, limit: Duration, lookup: Lookup) -> ureq::Agent {
    // One budget for the whole attempt. ureq hands what is left of it to every phase:
    // the resolver below, each connect, the TLS handshake, each read and write.
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(limit))
        .max_redirects(0)
        .user_agent(USER_AGENT);
    if https {
        // The system's roots are loaded (and kept) only where TLS can be used: a plain
        // http:// endpoint (loopback only) never pays for them.
        config = config.tls_config(tls_config());
    }
    if loopback {
        // A loopback endpoint is never sent through a proxy.
        config = config.proxy(None);
    }
    ureq::Agent::with_parts(
        config.build(),
        DefaultConnector::default(),
        BoundedResolver::new(lookup),
    )
}

impl Transport for HttpTransport {
    fn post(&mut self, body: &[u8]) -> PostOutcome {
        let (loopback, https, limit, lookup) = (self.loopback, self.https, self.limit, self.lookup);
        let response = self
            .agent
            .get_or_insert_with(|| build_agent(loopback, https, limit, lookup))
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body);
        let mut response = match response {
            Ok(response) => response,
            Err(e) => {
                return PostOutcome::Retry {
                    after: None,
                    why: e.to_string(),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Read what little the server says, so the connection can be reused.
        let _ = response
            .body_mut()
            .with_config()
            .limit(ANSWER_BODY_LIMIT)
            .read_to_vec();
        classify(status, retry_after)
    }
}

/// Maps a status code to an outcome.
pub fn classify(status: u16, retry_after: Option<Duration>) -> PostOutcome {
    match status {
        200..=299 => PostOutcome::Delivered,
        429 | 500..=599 => PostOutcome::Retry {
            after: retry_after,
            why: format!("HTTP {status}"),
        },
        _ => PostOutcome::Rejected { status },
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by collectors and is ignored).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `OPENVINO_TELEMETRY_DEBUG=1`: each body is printed as one JSON line on stderr and
/// nothing is sent.
pub struct DebugTransport;

impl Transport for DebugTransport {
    fn post(&mut self, body: &[u8]) -> PostOutcome {
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        let _ = std::io::stderr().lock().write_all(&line);
        PostOutcome::Delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::mpsc;

    /// A transport to `url` with a short attempt limit and the given name lookup.
    fn transport(url: &str, limit: Duration, lookup: Lookup) -> HttpTransport {
        let mut t = HttpTransport::new(&Endpoint::parse(url).unwrap(), "G-T", "s");
        t.limit = limit;
        t.lookup = lookup;
        t
    }

    static LOOKUPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// A resolver that never answers, like `getaddrinfo` waiting on a dead DNS server.
    fn hanging_lookup(_: &str) -> std::io::Result<Vec<SocketAddr>> {
        LOOKUPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        loop {
            std::thread::park();
        }
    }

    const LIMIT: Duration = Duration::from_millis(400);
    /// What a loaded 2-core CI adds to a deadline.
    const MARGIN: Duration = Duration::from_millis(100);

    #[test]
    fn a_hanging_name_lookup_ends_the_attempt_at_its_limit_and_is_not_started_again() {
        let mut t = transport("http://localhost:9/x", LIMIT, hanging_lookup);
        for attempt in 0..3 {
            let started = std::time::Instant::now();
            let outcome = t.post(b"{}");
            let took = started.elapsed();
            assert!(matches!(outcome, PostOutcome::Retry { .. }), "{outcome:?}");
            assert!(took <= LIMIT + MARGIN, "attempt {attempt} took {took:?}");
            assert!(took >= LIMIT, "attempt {attempt} ended early: {took:?}");
        }
        // Three attempts, one lookup thread: the later attempts waited for the same one.
        assert_eq!(LOOKUPS.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_peer_that_never_answers_or_trickles_is_bounded_by_the_attempt_limit() {
        use std::io::Read;
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let mut held = Vec::new();
            // First connection: read the request, answer nothing. Second: answer one
            // header byte every 50 ms, for ever (each read succeeds, none completes).
            for (n, stream) in listener.incoming().take(2).enumerate() {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                if n == 1 {
                    let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n");
                    while stop_rx.recv_timeout(Duration::from_millis(50)).is_err() {
                        if stream.write_all(b"X").is_err() {
                            break;
                        }
                    }
                }
                held.push(stream);
            }
        });
        let url = format!("http://127.0.0.1:{port}/x");
        for case in ["silent", "trickle"] {
            let mut t = transport(&url, LIMIT, system_lookup);
            let started = std::time::Instant::now();
            let outcome = t.post(b"{}");
            let took = started.elapsed();
            assert!(
                matches!(outcome, PostOutcome::Retry { .. }),
                "{case}: {outcome:?}"
            );
            assert!(took <= LIMIT + MARGIN, "{case}: {took:?}");
        }
        drop(stop_tx);
        server.join().unwrap();
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(204, None), PostOutcome::Delivered);
        assert_eq!(classify(200, None), PostOutcome::Delivered);
        assert!(matches!(classify(500, None), PostOutcome::Retry { .. }));
        assert!(matches!(classify(503, None), PostOutcome::Retry { .. }));
        assert_eq!(
            classify(429, Some(Duration::from_secs(1))),
            PostOutcome::Retry {
                after: Some(Duration::from_secs(1)),
                why: "HTTP 429".into()
            }
        );
        assert_eq!(classify(400, None), PostOutcome::Rejected { status: 400 });
        assert_eq!(classify(404, None), PostOutcome::Rejected { status: 404 });
        assert_eq!(classify(301, None), PostOutcome::Rejected { status: 301 });
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
