//! What the Unix signal handler and the Windows exception filter share: the fixed buffer a
//! record is formatted into (no allocation, no formatting machinery, only copies and digit
//! arithmetic that cannot panic), the record's first lines, and the consent re-check.
//! Async-signal-safe: nothing here calls the system but through the function it is given.

/// A fixed buffer; what does not fit is cut.
pub(super) struct Buf<const N: usize> {
    pub(super) bytes: [u8; N],
    pub(super) len: usize,
}

impl<const N: usize> Buf<N> {
    pub(super) fn new() -> Self {
        Buf {
            bytes: [0; N],
            len: 0,
        }
    }
    pub(super) fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }
    pub(super) fn dec(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
    pub(super) fn hex(&mut self, mut v: u64) {
        let mut digits = [0u8; 16];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b"0123456789abcdef"[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
    pub(super) fn hex_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(&[
                b"0123456789abcdef"[(b >> 4) as usize],
                b"0123456789abcdef"[(b & 15) as usize],
            ]);
        }
    }

    /// The record file's name after the prefix, before the suffix:
    /// `<pid>.<seconds>.<microseconds>.<token>` (see the crash module docs).
    pub(super) fn push_record_stem(&mut self, pid: u64, now_micros: u64, token: u32) {
        self.dec(pid);
        self.push(b".");
        self.dec(now_micros / 1_000_000);
        self.push(b".");
        self.dec(now_micros % 1_000_000);
        self.push(b".");
        self.hex(u64::from(token));
    }

    /// The record's lines before its frames, the same on every platform: the magic line,
    /// `signal`, `time`, the fixed lines prepared at init (app, version, client id) and the
    /// C++ exception note when there is one.
    pub(super) fn push_head(&mut self, signal: &[u8], now_micros: u64, fixed_lines: &[u8]) {
        self.push(super::MAGIC.as_bytes());
        self.push(b"\nsignal ");
        self.push(signal);
        self.push(b"\ntime ");
        self.dec(now_micros);
        self.push(b"\n");
        self.push(fixed_lines);
        if let Some(note) = super::exception_note() {
            self.push(b"exception ");
            self.push(note);
            self.push(b"\n");
        }
    }
}

/// Moves the first line of `text[..n]`, trimmed of ASCII whitespace, to the start of `text`;
/// returns its length. Copies only.
pub(super) fn first_line_trimmed(text: &mut [u8], n: usize) -> usize {
    let read = &text[..n.min(text.len())];
    let line_end = read
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(read.len());
    let line = &read[..line_end];
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    text.copy_within(start..end, 0);
    end - start
}

/// Whether the decision file still says `1` and the client id file still holds
/// `client_id`, each read with `read_first_line` (the platform's plain open/read/close).
/// Async-signal-safe when `read_first_line` is.
pub(super) fn consent_still_given<P: ?Sized>(
    read_first_line: impl Fn(&P, &mut [u8; 128]) -> Option<usize>,
    consent_path: &P,
    cid_path: &P,
    client_id: &[u8],
) -> bool {
    let mut line = [0u8; 128];
    if read_first_line(consent_path, &mut line) != Some(1) || line[0] != b'1' {
        return false;
    }
    matches!(read_first_line(cid_path, &mut line), Some(n) if line[..n] == *client_id)
}
