//! Name resolution within the attempt's budget (`getaddrinfo` cannot be interrupted).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Name lookup: `host:port` to addresses (the system's `getaddrinfo` in production).
pub(super) type Lookup = fn(&str) -> std::io::Result<Vec<SocketAddr>>;

pub(super) fn system_lookup(host_and_port: &str) -> std::io::Result<Vec<SocketAddr>> {
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
pub(super) struct BoundedResolver {
    lookup: Lookup,
    pending: Arc<Mutex<Option<Pending>>>,
}

impl BoundedResolver {
    pub(super) fn new(lookup: Lookup) -> BoundedResolver {
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
