//! A small HTTP/1.1 server on 127.0.0.1 for integration tests.
//!
//! It records every request it receives, answers according to a [`Mode`] that
//! the test can change at any time, and lets the test wait (Mutex + Condvar,
//! no polling) for requests or events to arrive. Dropping the server stops it:
//! the accept loop ends, every open connection is shut down, handlers that are
//! hanging or sleeping are woken, and all threads are joined.
//!
//! Only `std`, `serde_json` and (on unix, for `SO_LINGER`) `libc` are used.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Largest request head (request line + headers) the server accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the server accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// How the server answers the requests it receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Always `204 No Content`.
    Ok204,
    /// Answers `status` (e.g. 500) `failures` times, then 204.
    FailThenOk { failures: usize, status: u16 },
    /// Answers `429` with `Retry-After: retry_after_secs` `times` times, then 204.
    TooManyRequests { retry_after_secs: u64, times: usize },
    /// Always answers with this status (e.g. 400).
    Status(u16),
    /// Reads the request, then closes the connection with a TCP RST.
    Reset,
    /// Reads the request and never answers; the connection is closed when the
    /// server is dropped.
    Hang,
    /// Waits this long (or until the server is dropped), then answers 204.
    Slow(Duration),
}

/// One request, as fully received by the server.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path_and_query: String,
    /// Header names as sent by the client, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it was sent with `Transfer-Encoding: chunked`.
    pub body: Vec<u8>,
    /// The body parsed as JSON, if it is valid JSON.
    pub json: Option<Value>,
    /// The status the server answered with; `None` when it reset the
    /// connection, hung, or has not answered yet.
    pub answered: Option<u16>,
    /// When the whole request had been read.
    pub received: std::time::Instant,
}

impl Request {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn path(&self) -> &str {
        match self.path_and_query.split_once('?') {
            Some((path, _)) => path,
            None => &self.path_and_query,
        }
    }

    /// The raw (not percent-decoded) value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let (_, query) = self.path_and_query.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }

    /// The `events[]` items of the JSON body (empty if there are none).
    pub fn events(&self) -> Vec<Value> {
        self.json
            .as_ref()
            .and_then(|j| j.get("events"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    fn answered_2xx(&self) -> bool {
        matches!(self.answered, Some(s) if (200..300).contains(&s))
    }
}

struct State {
    mode: Mode,
    /// Requests answered under the current mode (drives the "N times, then
    /// 204" modes); reset by `set_mode`.
    served_in_mode: usize,
    requests: Vec<Request>,
    connections: usize,
    stopping: bool,
    next_conn_id: u64,
    /// Clones of open connections, so `Drop` can shut them down.
    open: HashMap<u64, TcpStream>,
    handlers: Vec<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not make the server unusable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until `done` holds or the deadline passes; returns the guard.
    fn wait_until<'a>(
        &'a self,
        timeout: Duration,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        while !done(&state) {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        state
    }
}

/// A loopback HTTP server; see the module docs.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving in the background.
    pub fn start(mode: Mode) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                mode,
                served_in_mode: 0,
                requests: Vec::new(),
                connections: 0,
                stopping: false,
                next_conn_id: 0,
                open: HashMap::new(),
                handlers: Vec::new(),
            }),
            changed: Condvar::new(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("test-server-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn accept thread")
        };
        TestServer {
            shared,
            addr,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT/mp/collect`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mp/collect", self.addr.port())
    }

    /// The bound address (always 127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes how later requests are answered; restarts the counters of
    /// `FailThenOk` and `TooManyRequests`.
    pub fn set_mode(&self, mode: Mode) {
        let mut state = self.shared.lock();
        state.mode = mode;
        state.served_in_mode = 0;
        drop(state);
        self.shared.changed.notify_all();
    }

    /// Every request fully received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests were received or `timeout` passed,
    /// then returns all requests received so far.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.shared
            .wait_until(timeout, |s| s.requests.len() >= n)
            .requests
            .clone()
    }

    /// The `events[]` items of every request answered 2xx, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        collect_events(&self.shared.lock())
    }

    /// Waits until at least `n` events were received in requests answered
    /// 2xx, or `timeout` passed, then returns them all.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let state = self.shared.wait_until(timeout, |s| count_events(s) >= n);
        collect_events(&state)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let open: Vec<TcpStream> = {
            let mut state = self.shared.lock();
            state.stopping = true;
            state.open.drain().map(|(_, s)| s).collect()
        };
        self.shared.changed.notify_all();
        for stream in &open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // The acceptor is gone, so no handler can be added any more.
        let handlers = std::mem::take(&mut self.shared.lock().handlers);
        for handler in handlers {
            let _ = handler.join();
        }
    }
}

fn count_events(state: &State) -> usize {
    state
        .requests
        .iter()
        .filter(|r| r.answered_2xx())
        .map(|r| r.events().len())
        .sum()
}

fn collect_events(state: &State) -> Vec<Value> {
    state
        .requests
        .iter()
        .filter(|r| r.answered_2xx())
        .flat_map(|r| r.events())
        .collect()
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        let mut state = shared.lock();
        if state.stopping {
            return;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => continue,
        };
        state.connections += 1;
        let id = state.next_conn_id;
        state.next_conn_id += 1;
        if let Ok(clone) = stream.try_clone() {
            state.open.insert(id, clone);
        }
        let handler = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("test-server-conn-{id}"))
                .spawn(move || {
                    serve_connection(stream, &shared);
                    shared.lock().open.remove(&id);
                })
        };
        match handler {
            Ok(h) => state.handlers.push(h),
            Err(_) => {
                if let Some(s) = state.open.remove(&id) {
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
        drop(state);
        shared.changed.notify_all();
    }
}

/// What to do with one received request.
enum Action {
    Answer {
        status: u16,
        retry_after: Option<u64>,
    },
    Reset,
    Hang,
    Slow(Duration),
}

fn decide(state: &mut State) -> Action {
    let served = state.served_in_mode;
    state.served_in_mode += 1;
    match state.mode {
        Mode::Ok204 => Action::Answer {
            status: 204,
            retry_after: None,
        },
        Mode::FailThenOk { failures, status } => Action::Answer {
            status: if served < failures { status } else { 204 },
            retry_after: None,
        },
        Mode::TooManyRequests {
            retry_after_secs,
            times,
        } => {
            if served < times {
                Action::Answer {
                    status: 429,
                    retry_after: Some(retry_after_secs),
                }
            } else {
                Action::Answer {
                    status: 204,
                    retry_after: None,
                }
            }
        }
        Mode::Status(status) => Action::Answer {
            status,
            retry_after: None,
        },
        Mode::Reset => Action::Reset,
        Mode::Hang => Action::Hang,
        Mode::Slow(d) => Action::Slow(d),
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let mut conn = Conn {
        stream,
        buf: Vec::new(),
        pos: 0,
    };
    loop {
        let parsed = match conn.read_request() {
            Ok(Some(p)) => p,
            // Clean close, malformed request or I/O error: drop the connection.
            Ok(None) | Err(_) => return,
        };
        let json = serde_json::from_slice(&parsed.body).ok();
        let request = Request {
            method: parsed.method,
            path_and_query: parsed.target,
            headers: parsed.headers,
            body: parsed.body,
            json,
            answered: None,
            received: std::time::Instant::now(),
        };
        let (index, action) = {
            let mut state = shared.lock();
            if state.stopping {
                return;
            }
            state.requests.push(request);
            let index = state.requests.len() - 1;
            (index, decide(&mut state))
        };
        shared.changed.notify_all();

        let (status, retry_after) = match action {
            Action::Answer {
                status,
                retry_after,
            } => (status, retry_after),
            Action::Reset => {
                reset(&conn.stream);
                return;
            }
            Action::Hang => {
                let _state = shared.wait_until(Duration::MAX, |s| s.stopping);
                return;
            }
            Action::Slow(delay) => {
                let state = shared.wait_until(delay, |s| s.stopping);
                if state.stopping {
                    return;
                }
                (204, None)
            }
        };

        // Record the answer before the client can see it, so a client that
        // returns after reading the response always finds it recorded.
        {
            let mut state = shared.lock();
            state.requests[index].answered = Some(status);
        }
        shared.changed.notify_all();

        let close = parsed.close;
        let mut response = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        if status != 204 && !(100..200).contains(&status) {
            response.push_str("Content-Length: 0\r\n");
        }
        if let Some(secs) = retry_after {
            response.push_str(&format!("Retry-After: {secs}\r\n"));
        }
        if close {
            response.push_str("Connection: close\r\n");
        }
        response.push_str("\r\n");
        if conn.stream.write_all(response.as_bytes()).is_err() || conn.stream.flush().is_err() {
            return;
        }
        if close {
            let _ = conn.stream.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Closes the socket so that the peer sees a TCP RST.
fn reset(stream: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: valid socket fd owned by `stream`, pointer and length describe `linger`.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    // The RST goes out when the last handle to the socket is closed: the
    // handler's own stream when it returns, then the clone kept for `Drop`,
    // which the handler thread removes right after.
    #[cfg(not(unix))]
    let _ = stream.shutdown(Shutdown::Both);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

struct ParsedRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

/// A buffered reader over one connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl Conn {
    /// Reads more bytes into the buffer; `false` at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// One line without its line ending; `None` at a clean end of stream.
    fn read_line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let mut line = &self.buf[self.pos..self.pos + i];
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                return String::from_utf8(line.to_vec())
                    .map(Some)
                    .map_err(|_| bad("non-UTF-8 header line"));
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(bad("header line too long"));
            }
            if !self.fill()? {
                return if self.pos == self.buf.len() {
                    Ok(None)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    fn read_exact_bytes(&mut self, n: usize, out: &mut Vec<u8>) -> io::Result<()> {
        while self.buf.len() - self.pos < n {
            if !self.fill()? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(())
    }

    /// One full request; `None` when the client closed between requests.
    fn read_request(&mut self) -> io::Result<Option<ParsedRequest>> {
        // Tolerate empty lines before the request line (RFC 9112 §2.2).
        let request_line = loop {
            match self.read_line()? {
                None => return Ok(None),
                Some(l) if l.is_empty() => continue,
                Some(l) => break l,
            }
        };
        let mut parts = request_line.split_whitespace();
        let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
            (Some(m), Some(t), Some(v)) => (m.to_string(), t.to_string(), v.to_string()),
            _ => return Err(bad("malformed request line")),
        };
        let mut headers = Vec::new();
        let mut head_len = request_line.len();
        loop {
            let line = self.read_line()?.ok_or_else(|| bad("eof in headers"))?;
            if line.is_empty() {
                break;
            }
            head_len += line.len();
            if head_len > MAX_HEAD {
                return Err(bad("head too large"));
            }
            let (name, value) = line.split_once(':').ok_or_else(|| bad("bad header"))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let connection = find("connection").unwrap_or_default();
        let close = if version.eq_ignore_ascii_case("HTTP/1.0") {
            !connection.contains("keep-alive")
        } else {
            connection.contains("close")
        };
        let chunked = find("transfer-encoding").is_some_and(|te| te.contains("chunked"));
        let content_length = match find("content-length") {
            Some(v) => Some(v.parse::<usize>().map_err(|_| bad("bad content-length"))?),
            None => None,
        };
        if find("expect").is_some_and(|e| e == "100-continue") {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }

        let mut body = Vec::new();
        if chunked {
            loop {
                let size_line = self.read_line()?.ok_or_else(|| bad("eof in chunk"))?;
                let size_hex = size_line.split(';').next().unwrap_or("").trim();
                let size =
                    usize::from_str_radix(size_hex, 16).map_err(|_| bad("bad chunk size"))?;
                if size == 0 {
                    // Trailer section up to the empty line.
                    loop {
                        let t = self.read_line()?.ok_or_else(|| bad("eof in trailer"))?;
                        if t.is_empty() {
                            break;
                        }
                    }
                    break;
                }
                if body.len() + size > MAX_BODY {
                    return Err(bad("body too large"));
                }
                self.read_exact_bytes(size, &mut body)?;
                let crlf = self.read_line()?.ok_or_else(|| bad("eof after chunk"))?;
                if !crlf.is_empty() {
                    return Err(bad("missing CRLF after chunk"));
                }
            }
        } else if let Some(n) = content_length {
            if n > MAX_BODY {
                return Err(bad("body too large"));
            }
            self.read_exact_bytes(n, &mut body)?;
        }
        Ok(Some(ParsedRequest {
            method,
            target,
            headers,
            body,
            close,
        }))
    }
}
