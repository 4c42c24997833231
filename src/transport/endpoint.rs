//! The collect URL: which endpoints are accepted, and the query appended to them.
//!
//! The URL is parsed by `http::Uri`, the parser ureq itself sends with, so the host this
//! module checks is the host the request goes to.

use std::net::{IpAddr, Ipv6Addr};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use ureq::http::Uri;

use crate::error::{Error, Result};

/// The GA4 Measurement Protocol collect URL, without its query.
pub const DEFAULT_ENDPOINT: &str = "https://www.google-analytics.com/mp/collect";

/// What a query value keeps as it is: RFC 3986's unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A checked collect URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    url: String,
    loopback: bool,
}

impl Endpoint {
    /// Accepts `https://host[:port]/path` for any host, and `http://` only for loopback
    /// hosts (`localhost`, `127.0.0.0/8`, `[::1]`). No credentials, fragment, blanks or
    /// control characters.
    pub fn parse(url: &str) -> Result<Endpoint> {
        let bad = |why: &str| Error::InvalidArgument(format!("endpoint {url:?}: {why}"));
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("blanks and control characters are not allowed"));
        }
        if url.contains('#') {
            return Err(bad("a fragment is not allowed"));
        }
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(bad("not a URL"));
        };
        if authority.as_str().contains('@') {
            return Err(bad("credentials are not allowed"));
        }
        let host = authority.host();
        let has_port = authority.as_str().len() > host.len();
        if host.is_empty() || (has_port && authority.port_u16().is_none()) {
            return Err(bad("malformed host or port"));
        }
        let loopback = is_loopback(host);
        match scheme.to_ascii_lowercase().as_str() {
            "https" => {}
            "http" if loopback => {}
            "http" => return Err(bad("plain http:// is allowed only for loopback hosts")),
            _ => return Err(bad("the scheme must be https")),
        }
        Ok(Endpoint {
            url: url.to_string(),
            loopback,
        })
    }

    pub fn default_endpoint() -> Endpoint {
        Endpoint::parse(DEFAULT_ENDPOINT).expect("the default endpoint is valid")
    }

    #[cfg(any(test, fuzzing))]
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// Whether requests go over TLS (the scheme is `https`, in any case).
    pub fn is_https(&self) -> bool {
        self.url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    }

    /// The full URL with `measurement_id` and `api_secret` appended.
    pub fn collect_url(&self, measurement_id: &str, api_secret: &str) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}measurement_id={}&api_secret={}",
            self.url,
            utf8_percent_encode(measurement_id, QUERY_VALUE),
            utf8_percent_encode(api_secret, QUERY_VALUE)
        )
    }
}

/// `localhost`, `127.0.0.0/8` or `[::1]` (the host as `http::Uri` gives it).
fn is_loopback(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6 == Ipv6Addr::LOCALHOST,
        Err(_) => false,
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
            "HTTP://LOCALHOST/x",
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
            "https://host:/x",
            "https://host/x y",
            "https://host/x#frag",
            "http://127.0.0.1:80@evil.example/",
            "http://127.0.0.1\\@evil.example/",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert!(Endpoint::parse("http://127.0.0.1/x").unwrap().is_loopback());
        assert!(!Endpoint::default_endpoint().is_loopback());
        assert!(Endpoint::default_endpoint().is_https());
        assert!(!Endpoint::parse("http://[::1]/x").unwrap().is_https());
    }

    #[test]
    fn collect_url_appends_encoded_query() {
        let endpoint = Endpoint::parse("https://h/mp/collect").unwrap();
        assert_eq!(
            endpoint.collect_url("G-ABC", "a b&c~é"),
            "https://h/mp/collect?measurement_id=G-ABC&api_secret=a%20b%26c~%C3%A9"
        );
        let endpoint = Endpoint::parse("https://h/mp/collect?x=1").unwrap();
        assert!(endpoint
            .collect_url("t", "s")
            .starts_with("https://h/mp/collect?x=1&measurement_id=t"));
    }
}
