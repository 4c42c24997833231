//! HTTP delivery through ureq: one POST per batch, each attempt bounded as a whole (name
//! resolution included), the proxy from the environment (`HTTPS_PROXY`, `https_proxy`,
//! `ALL_PROXY`, `NO_PROXY`), and TLS verified against the operating system's trust store
//! (DESIGN §6). Plain `http://` is accepted only for loopback hosts.
//!
//! Trust store per platform (verification can never be turned off):
//! - Windows: SChannel with the Windows certificate store; macOS: Security.framework with
//!   the keychains (both through native-tls, so the OS's own verifier decides).
//! - Linux and other Unix: rustls with the roots OpenSSL would load: the file named by
//!   `SSL_CERT_FILE`, else the system bundle; and the hashed certificates
//!   (`<8 hex digits>.<n>`) in the directories named by `SSL_CERT_DIR` (`:`-separated),
//!   else in the system directory. Only when neither variable is set and the system has no
//!   store at all (a minimal container) are the bundled Mozilla roots used instead.

use std::io::Write;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::error::{Error, Result};

/// The GA4 Measurement Protocol collect URL, without its query.
pub const DEFAULT_ENDPOINT: &str = "https://www.google-analytics.com/mp/collect";
/// The whole of one delivery attempt ends within this: name resolution, connecting (to
/// each address, and through a proxy), the TLS handshake, sending, and reading the answer.
pub const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
pub const USER_AGENT: &str = concat!("openvino-telemetry-native/", env!("CARGO_PKG_VERSION"));

/// What one attempt to deliver a body came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
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
    fn post(&mut self, body: &[u8]) -> Outcome;
}

/// A checked collect URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    loopback: bool,
}

impl Endpoint {
    /// Accepts `https://host[:port]/path` for any host, and `http://` only for loopback
    /// hosts (`localhost`, `127.0.0.0/8`, `[::1]`).
    pub fn parse(url: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::InvalidArgument(format!("endpoint {url:?}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let authority = rest
            .split(['/', '?', '#'])
            .next()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| bad("no host"))?;
        if authority.contains('@') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad(
                "credentials, blanks and control characters are not allowed",
            ));
        }
        let host = host_of(authority).ok_or_else(|| bad("malformed host or port"))?;
        let loopback = is_loopback(host);
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(bad("plain http:// is allowed only for loopback hosts")),
            _ => return Err(bad("the scheme must be https")),
        }
        if url.contains('#') {
            return Err(bad("a fragment is not allowed"));
        }
        Ok(Endpoint {
            url: url.to_string(),
            loopback,
        })
    }

    pub fn default_endpoint() -> Endpoint {
        Endpoint::parse(DEFAULT_ENDPOINT).expect("the default endpoint is valid")
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// The full URL with `measurement_id` and `api_secret` appended.
    pub fn collect_url(&self, measurement_id: &str, api_secret: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}measurement_id={}&api_secret={}",
            self.url,
            percent_encode(measurement_id),
            percent_encode(api_secret)
        )
    }
}

/// The host part of `host[:port]` or `[v6][:port]`, if well formed.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    if let Some(port) = port {
        port.parse::<u16>().ok()?;
    }
    Some(host)
}

fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
    }
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// POSTs with ureq. The agent (TLS roots, connection pool) is built on the first post,
/// on the worker thread, so creating a transport costs the host's init nothing.
pub struct HttpTransport {
    agent: Option<ureq::Agent>,
    loopback: bool,
    url: String,
    limit: Duration,
    lookup: Lookup,
}

impl HttpTransport {
    pub fn new(endpoint: &Endpoint, measurement_id: &str, api_secret: &str) -> HttpTransport {
        HttpTransport {
            agent: None,
            loopback: endpoint.is_loopback(),
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

/// Windows and macOS: the OS's TLS stack and its verifier with the system store.
#[cfg(any(windows, target_os = "macos"))]
fn tls_config() -> ureq::tls::TlsConfig {
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build()
}

/// Linux and other Unix: rustls with the roots OpenSSL would trust (see the module docs).
#[cfg(not(any(windows, target_os = "macos")))]
fn tls_config() -> ureq::tls::TlsConfig {
    let roots = match openssl_roots() {
        Some(certs) => ureq::tls::RootCerts::new_with_certs(&certs),
        None => ureq::tls::RootCerts::WebPki,
    };
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(roots)
        .build()
}

/// The certificates OpenSSL's default verify paths would load, with `SSL_CERT_FILE` and
/// `SSL_CERT_DIR` replacing the default file and directories as they do for OpenSSL.
/// `None` only when neither variable is set and no system store exists.
#[cfg(not(any(windows, target_os = "macos")))]
fn openssl_roots() -> Option<Vec<ureq::tls::Certificate<'static>>> {
    use std::path::PathBuf;
    let env_file = std::env::var_os("SSL_CERT_FILE");
    let env_dirs = std::env::var_os("SSL_CERT_DIR");
    let configured = env_file.is_some() || env_dirs.is_some();
    let file: Option<PathBuf> = match env_file {
        Some(file) => Some(file.into()),
        // probe() reads SSL_CERT_FILE too, but it is unset here.
        None => openssl_probe::probe().cert_file,
    };
    let dirs: Vec<PathBuf> = match env_dirs {
        Some(dirs) => std::env::split_paths(&dirs)
            .filter(|d| !d.as_os_str().is_empty())
            .collect(),
        None => openssl_probe::candidate_cert_dirs()
            .map(PathBuf::from)
            .collect(),
    };
    let mut ders = Vec::new();
    if let Some(file) = &file {
        ders.extend(rustls_native_certs::load_certs_from_paths(Some(file), None).certs);
    }
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        // OpenSSL looks certificates up by subject hash: `<hash>.<n>`; other files in the
        // directory are not certificates it would use.
        let mut hashed: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| is_openssl_hash_name(&e.file_name().to_string_lossy()))
            .map(|e| e.path())
            .collect();
        hashed.sort();
        for path in hashed {
            ders.extend(rustls_native_certs::load_certs_from_paths(Some(&path), None).certs);
        }
    }
    ders.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
    ders.dedup();
    if ders.is_empty() && !configured {
        return None;
    }
    Some(
        ders.into_iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
            .collect(),
    )
}

/// `3513523f.0`: eight lowercase hex digits, a dot, a decimal sequence number.
#[cfg_attr(any(windows, target_os = "macos"), allow(dead_code))]
fn is_openssl_hash_name(name: &str) -> bool {
    let Some((hash, n)) = name.split_once('.') else {
        return false;
    };
    hash.len() == 8
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
}

/// Name lookup: `host:port` to addresses (the system's `getaddrinfo` in production).
type Lookup = fn(&str) -> std::io::Result<Vec<SocketAddr>>;

fn system_lookup(host_and_port: &str) -> std::io::Result<Vec<SocketAddr>> {
    host_and_port.to_socket_addrs().map(|a| a.collect())
}

/// A name lookup still running on its helper thread.
struct Pending {
    host_and_port: String,
    answer: Receiver<std::io::Result<Vec<SocketAddr>>>,
}

/// Resolves names within the attempt's budget. `getaddrinfo` cannot be interrupted, so it
/// runs on a helper thread and the attempt waits for it at most the time left. A lookup
/// that outlives its attempt is not started again by the next attempt: that one waits for
/// the same thread, so a hanging resolver costs one thread, not one per retry. IP literals
/// need no lookup and no thread.
struct BoundedResolver {
    lookup: Lookup,
    pending: Arc<Mutex<Option<Pending>>>,
}

impl BoundedResolver {
    fn new(lookup: Lookup) -> BoundedResolver {
        BoundedResolver {
            lookup,
            pending: Arc::new(Mutex::new(None)),
        }
    }

    fn lookup_within(
        &self,
        host_and_port: &str,
        wait: Duration,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending
            .as_ref()
            .is_some_and(|p| p.host_and_port != host_and_port)
        {
            // A lookup of another name (the proxy's, say) is abandoned to finish alone.
            *pending = None;
        }
        if pending.is_none() {
            let (tx, rx) = mpsc::sync_channel(1);
            let lookup = self.lookup;
            let name = host_and_port.to_string();
            std::thread::Builder::new()
                .name("ovt-resolve".into())
                .spawn(move || {
                    let _ = tx.send(lookup(&name));
                })
                .map_err(ureq::Error::Io)?;
            *pending = Some(Pending {
                host_and_port: host_and_port.to_string(),
                answer: rx,
            });
        }
        let answer = pending.as_ref().map(|p| p.answer.recv_timeout(wait));
        match answer {
            Some(Ok(result)) => {
                *pending = None;
                Ok(result?)
            }
            Some(Err(RecvTimeoutError::Timeout)) => {
                Err(ureq::Error::Timeout(ureq::Timeout::Resolve))
            }
            Some(Err(RecvTimeoutError::Disconnected)) | None => {
                *pending = None;
                Err(ureq::Error::HostNotFound)
            }
        }
    }
}

impl std::fmt::Debug for BoundedResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BoundedResolver")
    }
}

impl Resolver for BoundedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let bad = || ureq::Error::BadUri(uri.to_string());
        let authority = uri.authority().ok_or_else(bad)?;
        let port = match (authority.port_u16(), uri.scheme_str()) {
            (Some(port), _) => port,
            (None, Some("https")) => 443,
            (None, Some("http")) => 80,
            (None, Some(s)) if s.starts_with("socks") => 1080,
            _ => return Err(bad()),
        };
        let host = authority.host();
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>();
        let addrs = match literal {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => self.lookup_within(&format!("{host}:{port}"), *timeout.after)?,
        };
        let mut result = self.empty();
        for addr in config.ip_family().keep_wanted(addrs.into_iter()).take(16) {
            result.push(addr);
        }
        if result.is_empty() {
            Err(ureq::Error::HostNotFound)
        } else {
            Ok(result)
        }
    }
}

impl Transport for HttpTransport {
    fn post(&mut self, body: &[u8]) -> Outcome {
        let (loopback, limit, lookup) = (self.loopback, self.limit, self.lookup);
        let https = self.url.starts_with("https://");
        let response = self
            .agent
            .get_or_insert_with(|| build_agent(loopback, https, limit, lookup))
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body);
        let mut response = match response {
            Ok(response) => response,
            Err(e) => {
                return Outcome::Retry {
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
            .limit(64 * 1024)
            .read_to_vec();
        classify(status, retry_after)
    }
}

/// Maps a status code to an outcome.
pub fn classify(status: u16, retry_after: Option<Duration>) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        429 | 500..=599 => Outcome::Retry {
            after: retry_after,
            why: format!("HTTP {status}"),
        },
        _ => Outcome::Rejected { status },
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
    fn post(&mut self, body: &[u8]) -> Outcome {
        let mut line = Vec::with_capacity(body.len() + 1);
        line.extend_from_slice(body);
        line.push(b'\n');
        let _ = std::io::stderr().lock().write_all(&line);
        Outcome::Delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_https_anywhere_http_only_on_loopback() {
        for ok in [
            "https://www.google-analytics.com/mp/collect",
            "https://example.test:8443/x",
            "http://127.0.0.1:8080/mp/collect",
            "http://127.3.4.5/x",
            "http://localhost:1/x",
            "http://[::1]:9/x",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/x",
            "http://10.0.0.1/x",
            "http://127.0.0.1.example.com/x",
            "ftp://127.0.0.1/x",
            "127.0.0.1:80/x",
            "https:///x",
            "https://user:pw@host/x",
            "http://127.0.0.1:99999/x",
            "https://host/x y",
            "https://host/x#frag",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert!(Endpoint::parse("http://127.0.0.1/x").unwrap().is_loopback());
        assert!(!Endpoint::default_endpoint().is_loopback());
    }

    #[test]
    fn collect_url_appends_encoded_query() {
        let endpoint = Endpoint::parse("https://h/mp/collect").unwrap();
        assert_eq!(
            endpoint.collect_url("G-ABC", "a b&c"),
            "https://h/mp/collect?measurement_id=G-ABC&api_secret=a%20b%26c"
        );
        let endpoint = Endpoint::parse("https://h/mp/collect?x=1").unwrap();
        assert!(endpoint
            .collect_url("t", "s")
            .starts_with("https://h/mp/collect?x=1&measurement_id=t"));
    }

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
            assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
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
                matches!(outcome, Outcome::Retry { .. }),
                "{case}: {outcome:?}"
            );
            assert!(took <= LIMIT + MARGIN, "{case}: {took:?}");
        }
        drop(stop_tx);
        server.join().unwrap();
    }

    #[test]
    fn certificate_verification_is_always_on() {
        // No option, variable or platform turns it off (tests/tls_trust.rs shows the
        // refusal end to end).
        let config = tls_config();
        assert!(!config.disable_verification());
        #[cfg(any(windows, target_os = "macos"))]
        assert!(matches!(
            config.root_certs(),
            ureq::tls::RootCerts::PlatformVerifier
        ));
    }

    #[test]
    fn openssl_hashed_names() {
        for ok in ["3513523f.0", "00000000.12", "abcdef01.1"] {
            assert!(is_openssl_hash_name(ok), "{ok}");
        }
        for bad in [
            "3513523f",
            "3513523F.0",
            "3513523.0",
            "3513523f.r0",
            "ca.pem",
            "3513523f.0.pem",
        ] {
            assert!(!is_openssl_hash_name(bad), "{bad}");
        }
    }

    #[test]
    fn statuses_are_classified() {
        assert_eq!(classify(204, None), Outcome::Delivered);
        assert_eq!(classify(200, None), Outcome::Delivered);
        assert!(matches!(classify(500, None), Outcome::Retry { .. }));
        assert!(matches!(classify(503, None), Outcome::Retry { .. }));
        assert_eq!(
            classify(429, Some(Duration::from_secs(1))),
            Outcome::Retry {
                after: Some(Duration::from_secs(1)),
                why: "HTTP 429".into()
            }
        );
        assert_eq!(classify(400, None), Outcome::Rejected { status: 400 });
        assert_eq!(classify(404, None), Outcome::Rejected { status: 404 });
        assert_eq!(classify(301, None), Outcome::Rejected { status: 301 });
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
