//! The loopback HTTP/1.1 server of the tests and benchmarks, on 127.0.0.1 only.
//!
//! It answers according to a [`Mode`] the test can change at any time, records every
//! request (or, for long benchmark runs, only counts them: [`Stats`]), and lets the test wait
//! (Mutex + Condvar, no polling) for requests or events to arrive. Dropping the server stops
//! it: the accept loop ends, every open connection is shut down, handlers that are sleeping
//! are woken, and all threads are joined.
//!
//! Users: the Rust tests (this crate as a dev-dependency), the C++ tests (the C API of
//! `c_api.rs`, through `cpp_tests/support/loopback_server.hpp`) and the benchmarks (the
//! `loopback_server` binary, `src/main.rs`). The HTTP handling is hand-written on std sockets
//! (`http.rs`, with `httparse` for heads): hanging, resetting and trickling a body need
//! control of the socket that server frameworks hide.

mod c_api;
mod http;
mod mode;

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

use http::Conn;
pub use mode::Mode;
use mode::{Answer, Reply};

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
    /// The status the server answered with; `None` when it reset the connection, hung, or
    /// has not answered yet.
    pub answered: Option<u16>,
    /// When the whole request had been read.
    pub received: Instant,
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

/// Counters over everything received, recorded or not (the benchmarks' figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: u64,
    pub requests: u64,
    /// Items of the bodies' `events` arrays.
    pub events: u64,
    /// Request bytes on the wire: heads, bodies and chunk framing.
    pub bytes: u64,
    /// Body bytes, de-chunked.
    pub body_bytes: u64,
}

/// The number of items in a JSON body's top-level `events` array (0 when there is none).
pub fn count_events(body: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct Batch {
        #[serde(default)]
        events: Vec<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Batch>(body).map_or(0, |b| b.events.len())
}

struct State {
    mode: Mode,
    /// Requests answered under the current mode (drives the "N times, then 204" modes);
    /// restarted by `set_mode`.
    served_in_mode: usize,
    /// Whether requests are kept (tests) or only counted (benchmarks).
    record: bool,
    requests: Vec<Request>,
    stats: Stats,
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

    /// Waits until `done` holds or the timeout passes; returns the guard.
    fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'_, State> {
        let deadline = Instant::now().checked_add(timeout);
        let mut state = self.lock();
        while !done(&state) {
            let left = deadline.map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(Instant::now())
            });
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

    fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let result = f(&mut self.lock());
        self.changed.notify_all();
        result
    }
}

/// A loopback HTTP server; see the crate docs.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds `127.0.0.1:0` and starts serving in the background, recording every request.
    pub fn start(mode: Mode) -> TestServer {
        TestServer::start_with(mode, true)
    }

    /// Like [`TestServer::start`], but keeps only the [`Stats`]: for long benchmark runs.
    pub fn start_counting(mode: Mode) -> TestServer {
        TestServer::start_with(mode, false)
    }

    fn start_with(mode: Mode, record: bool) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                mode,
                served_in_mode: 0,
                record,
                requests: Vec::new(),
                stats: Stats::default(),
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

    /// Changes how later requests are answered; restarts the counters of the modes that
    /// answer differently the first N times.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.update(|state| {
            state.mode = mode;
            state.served_in_mode = 0;
        });
    }

    /// Every request fully received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests were received or `timeout` passed, then returns
    /// all requests received so far.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        self.shared
            .wait_until(timeout, |s| s.requests.len() >= n)
            .requests
            .clone()
    }

    /// The `events[]` items of every request answered 2xx, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        delivered_events(&self.shared.lock()).collect()
    }

    /// Waits until at least `n` events were received in requests answered 2xx, or `timeout`
    /// passed, then returns them all.
    pub fn wait_for_events(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let state = self
            .shared
            .wait_until(timeout, |s| delivered_events(s).count() >= n);
        delivered_events(&state).collect()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.lock().stats.connections as usize
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let open: Vec<TcpStream> = self.shared.update(|state| {
            state.stopping = true;
            state.open.drain().map(|(_, s)| s).collect()
        });
        // Wakes every handler blocked in a read.
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

fn delivered_events(state: &State) -> impl Iterator<Item = Value> + '_ {
    state
        .requests
        .iter()
        .filter(|r| r.answered_2xx())
        .flat_map(|r| r.events())
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        let mut state = shared.lock();
        if state.stopping {
            return;
        }
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        state.stats.connections += 1;
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
                    serve_connection(Conn::new(stream), &shared);
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

/// Counts (and, when recording, keeps) one request; returns its index in `requests` and
/// what to answer, or `None` when the server is stopping.
fn receive(shared: &Shared, parsed: http::Parsed) -> Option<(Option<usize>, Reply)> {
    // Parsed once: into a Value when recording, only counted otherwise.
    let record = shared.lock().record;
    let (json, events) = match record {
        true => {
            let json: Option<Value> = serde_json::from_slice(&parsed.body).ok();
            let events = json.as_ref().and_then(|j| j.get("events")?.as_array());
            let events = events.map_or(0, Vec::len) as u64;
            (json, events)
        }
        false => (None, count_events(&parsed.body) as u64),
    };
    shared.update(|state| {
        if state.stopping {
            return None;
        }
        let stats = &mut state.stats;
        stats.requests += 1;
        stats.events += events;
        stats.bytes += parsed.wire_len as u64;
        stats.body_bytes += parsed.body.len() as u64;
        let reply = state.mode.reply(state.served_in_mode);
        state.served_in_mode += 1;
        if !record {
            return Some((None, reply));
        }
        state.requests.push(Request {
            method: parsed.method,
            path_and_query: parsed.target,
            headers: parsed.headers,
            json,
            body: parsed.body,
            answered: None,
            received: Instant::now(),
        });
        Some((Some(state.requests.len() - 1), reply))
    })
}

fn serve_connection(mut conn: Conn, shared: &Shared) {
    // Clean close, malformed request or I/O error: drop the connection.
    while let Ok(Some(parsed)) = conn.read_request() {
        let close = parsed.close;
        let Some((index, reply)) = receive(shared, parsed) else {
            return;
        };
        let answer = match reply {
            Reply::Reset => return conn.reset(),
            Reply::Hang => continue,
            Reply::Answer(answer) => answer,
        };
        if stopped_during(shared, answer.delay) {
            return;
        }
        // Record the answer before the client can see it, so a client that returns after
        // reading the response always finds it recorded.
        if let Some(index) = index {
            shared.update(|state| state.requests[index].answered = Some(answer.status));
        }
        if !send_answer(&mut conn, &answer, close, shared) {
            return;
        }
        if close {
            return conn.close_write();
        }
    }
}

/// Writes the answer, pausing halfway through the body if the mode says so; false when the
/// connection failed or the server stopped.
fn send_answer(conn: &mut Conn, answer: &Answer, close: bool, shared: &Shared) -> bool {
    let (first, rest) = answer.body.split_at(answer.body.len() / 2);
    let mut head = http::response_head(answer, close).into_bytes();
    head.extend_from_slice(first);
    conn.write(&head).is_ok()
        && (rest.is_empty() || !stopped_during(shared, answer.body_pause))
        && conn.write(rest).is_ok()
}

/// Sleeps `pause` unless the server stops first; whether it stopped.
fn stopped_during(shared: &Shared, pause: Duration) -> bool {
    !pause.is_zero() && shared.wait_until(pause, |s| s.stopping).stopping
}
