//! The library's one error type. The FFI layer maps it to status codes in one place.

use std::ffi::CStr;
use std::fmt;
use std::io;
use std::path::PathBuf;

// The fixed texts, NUL-terminated so the C API hands them out as they are (no allocation on
// the hot paths: a full queue, a shut-down handle). `Display` and
// `ov_telemetry_status_message()` both read them here.
pub(crate) const INVALID_ARGUMENT_TEXT: &CStr = c"invalid argument";
pub(crate) const SHUT_DOWN_TEXT: &CStr = c"the telemetry handle has been shut down";
pub(crate) const QUEUE_FULL_TEXT: &CStr = c"the event queue is full; the event was dropped";
pub(crate) const TIMEOUT_TEXT: &CStr = c"the deadline passed before all events were delivered";
pub(crate) const INTERNAL_TEXT: &CStr = c"internal error";

/// Everything that can go wrong inside the library.
#[derive(Debug)]
pub enum Error {
    /// A caller-supplied value is unusable; the text names the argument and why.
    InvalidArgument(String),
    /// A file operation failed; `path` names the file, `source` carries the errno.
    Io {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// Telemetry is off by design (no consent, opt-out variable, CI); not a failure.
    Disabled(String),
    /// The handle was shut down; nothing more is accepted.
    ShutDown,
    /// The bounded queue is full; the event was dropped and counted.
    QueueFull,
    /// A deadline passed before the work was done.
    Timeout,
    /// A bug or a broken invariant inside the library.
    Internal(String),
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// The whole text of an error that carries no detail (what `Display` writes for it).
    pub(crate) fn fixed_text(&self) -> Option<&'static CStr> {
        match self {
            Error::ShutDown => Some(SHUT_DOWN_TEXT),
            Error::QueueFull => Some(QUEUE_FULL_TEXT),
            Error::Timeout => Some(TIMEOUT_TEXT),
            _ => None,
        }
    }
}

/// A fixed text as `str` (they are ASCII; nothing is allocated).
fn text(c: &'static CStr) -> std::borrow::Cow<'static, str> {
    c.to_string_lossy()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(why) => write!(f, "{}: {why}", text(INVALID_ARGUMENT_TEXT)),
            Error::Io { what, path, source } => {
                write!(f, "cannot {what} {}: {source}", path.display())?;
                if let Some(errno) = source.raw_os_error() {
                    write!(f, " (errno {errno})")?;
                }
                Ok(())
            }
            Error::Disabled(why) => write!(f, "telemetry is disabled: {why}"),
            Error::Internal(why) => write!(f, "{}: {why}", text(INTERNAL_TEXT)),
            Error::ShutDown => f.write_str(&text(SHUT_DOWN_TEXT)),
            Error::QueueFull => f.write_str(&text(QUEUE_FULL_TEXT)),
            Error::Timeout => f.write_str(&text(TIMEOUT_TEXT)),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
