//! The library's one error type. The FFI layer maps it to status codes in one place.

use std::fmt;
use std::io;
use std::path::PathBuf;

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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument(why) => write!(f, "invalid argument: {why}"),
            Error::Io { what, path, source } => {
                write!(f, "cannot {what} {}: {source}", path.display())?;
                if let Some(errno) = source.raw_os_error() {
                    write!(f, " (errno {errno})")?;
                }
                Ok(())
            }
            Error::Disabled(why) => write!(f, "telemetry is disabled: {why}"),
            Error::ShutDown => f.write_str("the telemetry handle has been shut down"),
            Error::QueueFull => f.write_str("the event queue is full; the event was dropped"),
            Error::Timeout => f.write_str("the deadline passed before all events were delivered"),
            Error::Internal(why) => write!(f, "internal error: {why}"),
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
