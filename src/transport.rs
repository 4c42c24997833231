//! HTTP delivery through ureq: one POST per batch, with bounded timeouts, the proxy from
//! the environment (`HTTPS_PROXY`, `https_proxy`, `ALL_PROXY`, `NO_PROXY`), and verified
//! TLS (webpki roots). Plain `http://` is accepted only for loopback hosts.

use std::io::Write;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::error::{Error, Result};

/// The GA4 Measurement Protocol collect URL, without its query.
pub const DEFAULT_ENDPOINT: &str = "https://www.google-analytics.com/mp/collect";
/// Connect and response timeouts, each.
pub const TIMEOUT: Duration = Duration::from_secs(3);
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
}

impl HttpTransport {
    pub fn new(endpoint: &Endpoint, measurement_id: &str, api_secret: &str) -> HttpTransport {
        HttpTransport {
            agent: None,
            loopback: endpoint.is_loopback(),
            url: endpoint.collect_url(measurement_id, api_secret),
        }
    }
}

fn build_agent(loopback: bool) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(TIMEOUT))
        .timeout_send_request(Some(TIMEOUT))
        .timeout_send_body(Some(TIMEOUT))
        .timeout_recv_response(Some(TIMEOUT))
        .timeout_recv_body(Some(TIMEOUT))
        .max_redirects(0)
        .user_agent(USER_AGENT);
    if loopback {
        // A loopback endpoint is never sent through a proxy.
        config = config.proxy(None);
    }
    config.build().into()
}

impl Transport for HttpTransport {
    fn post(&mut self, body: &[u8]) -> Outcome {
        let loopback = self.loopback;
        let response = self
            .agent
            .get_or_insert_with(|| build_agent(loopback))
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
