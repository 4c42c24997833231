//! HTTP/1.1 on one connection: reading requests (heads by `httparse`; bodies by length or
//! chunked) and writing answers.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use crate::mode::Answer;

/// Largest request head (request line + headers) the server accepts.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body the server accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// One request as read from the connection.
pub(crate) struct Parsed {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client asked for the connection to be closed after the answer.
    pub close: bool,
    /// Bytes the request took on the wire.
    pub wire_len: usize,
}

/// A buffered connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes consumed since the connection opened.
    consumed: usize,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
            pos: 0,
            consumed: 0,
        }
    }

    /// One full request; `None` when the client closed between requests.
    pub fn read_request(&mut self) -> io::Result<Option<Parsed>> {
        let start = self.consumed;
        let Some(mut parsed) = self.read_head()? else {
            return Ok(None);
        };
        let header = |name: &str| {
            parsed
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.to_ascii_lowercase())
        };
        let chunked = header("transfer-encoding").is_some_and(|te| te.contains("chunked"));
        let length = header("content-length")
            .map(|v| v.parse::<usize>().map_err(|_| bad("bad content-length")))
            .transpose()?;
        if header("expect").is_some_and(|e| e == "100-continue") {
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        if chunked {
            parsed.body = self.read_chunked()?;
        } else if let Some(n) = length {
            if n > MAX_BODY {
                return Err(bad("body too large"));
            }
            parsed.body = self.take(n)?.to_vec();
        }
        parsed.wire_len = self.consumed - start;
        Ok(Some(parsed))
    }

    /// The request line and headers; `None` at a clean end of stream.
    fn read_head(&mut self) -> io::Result<Option<Parsed>> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            // httparse skips empty lines before the request line (RFC 9112 §2.2).
            match req.parse(&self.buf[self.pos..]) {
                Ok(httparse::Status::Complete(len)) => {
                    let close = match (req.version, connection_header(req.headers)) {
                        (Some(0), connection) => !connection.contains("keep-alive"),
                        (_, connection) => connection.contains("close"),
                    };
                    let parsed = Parsed {
                        method: req.method.unwrap_or_default().to_string(),
                        target: req.path.unwrap_or_default().to_string(),
                        headers: req
                            .headers
                            .iter()
                            .map(|h| (h.name.to_string(), text(h.value)))
                            .collect(),
                        body: Vec::new(),
                        close,
                        wire_len: 0,
                    };
                    self.advance(len);
                    return Ok(Some(parsed));
                }
                Ok(httparse::Status::Partial) if self.buf.len() - self.pos > MAX_HEAD => {
                    return Err(bad("head too large"));
                }
                Ok(httparse::Status::Partial) => {
                    if !self.fill()? {
                        return match self.pos == self.buf.len() {
                            true => Ok(None),
                            false => Err(io::ErrorKind::UnexpectedEof.into()),
                        };
                    }
                }
                Err(e) => return Err(bad(&e.to_string())),
            }
        }
    }

    fn read_chunked(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let size = match httparse::parse_chunk_size(&self.buf[self.pos..]) {
                Ok(httparse::Status::Complete((len, size))) => {
                    self.advance(len);
                    size as usize
                }
                Ok(httparse::Status::Partial) => {
                    self.fill_or_eof()?;
                    continue;
                }
                Err(_) => return Err(bad("bad chunk size")),
            };
            if size == 0 {
                // The trailer section, up to the empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(bad("body too large"));
            }
            body.extend_from_slice(self.take(size)?);
            if !self.read_line()?.is_empty() {
                return Err(bad("missing CRLF after chunk"));
            }
        }
    }

    /// One line, without its line ending.
    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = self.buf[self.pos..].iter().position(|&b| b == b'\n') {
                let line = self.take(i + 1)?;
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                return Ok(line.strip_suffix(b"\r").unwrap_or(line).to_vec());
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(bad("line too long"));
            }
            self.fill_or_eof()?;
        }
    }

    /// The next `n` bytes.
    fn take(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.buf.len() - self.pos < n {
            self.fill_or_eof()?;
        }
        self.advance(n);
        Ok(&self.buf[self.pos - n..self.pos])
    }

    fn advance(&mut self, n: usize) {
        self.pos += n;
        self.consumed += n;
    }

    fn fill_or_eof(&mut self) -> io::Result<()> {
        match self.fill()? {
            true => Ok(()),
            false => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    /// Reads more bytes into the buffer; `false` at end of stream.
    fn fill(&mut self) -> io::Result<bool> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// No more answers on this connection.
    pub fn close_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Closes the socket so that the peer sees a TCP RST.
    pub fn reset(self) {
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: a valid socket fd owned by `stream`; pointer and length describe `linger`.
            unsafe {
                libc::setsockopt(
                    self.stream.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        // The RST goes out when the last handle to the socket is closed: this one now, then
        // the clone kept for `Drop`, which the handler thread removes right after.
        #[cfg(not(unix))]
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn connection_header(headers: &[httparse::Header]) -> String {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("connection"))
        .map(|h| text(h.value).to_ascii_lowercase())
        .unwrap_or_default()
}

/// Status line and headers of an answer (`Content-Length` except for 1xx and 204).
pub(crate) fn response_head(answer: &Answer, close: bool) -> String {
    let status = answer.status;
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    if status != 204 && !(100..200).contains(&status) {
        head.push_str(&format!("Content-Length: {}\r\n", answer.body.len()));
    }
    if let Some((name, value)) = &answer.header {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    head
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
