//! The fixed buffer crash records are formatted into, shared by the Unix signal handler and
//! the Windows exception filter: no allocation, no formatting machinery, only copies and
//! digit arithmetic that cannot panic. Async-signal-safe.

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
    #[cfg_attr(windows, allow(dead_code))] // the build id: ELF notes only
    pub(super) fn hex_bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(&[
                b"0123456789abcdef"[(b >> 4) as usize],
                b"0123456789abcdef"[(b & 15) as usize],
            ]);
        }
    }
}
