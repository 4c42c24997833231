//! The consent decision, in one place.
//!
//! The decision is stored in `<config dir>/openvino_telemetry`, shared with the Python
//! client: `1` accepted, `0` declined; the first line is read, blanks trimmed; a missing
//! file is undecided; an empty, unreadable or other file counts as declined (with a
//! warning). At init the first matching rule wins:
//!
//! 1. `DO_NOT_TRACK` or `OPENVINO_TELEMETRY_DISABLE` holds a true value (`1`, `true`, `yes`,
//!    any case) → disabled; no file is touched.
//! 2. `disable_in_ci` is on and a CI service is detected → disabled.
//! 3. The file says `1` → enabled; anything else that exists → disabled.
//! 4. No file: a command-line tool that asked for the dialog, running in the foreground of
//!    a terminal, writes `0`, then asks; only `Y`/`yes` writes `1` (and a new client id).
//!    Anyone else — a library, a service, a notebook — stays disabled and creates nothing.

mod decide;
mod file;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub use decide::{
    decide, detect_ci, is_true_value, opted_out_by_env, DecideOptions, Decision, Env, ProcessEnv,
    Reason,
};
#[cfg(any(test, fuzzing))]
pub use file::parse;
pub use file::{read, read_settled, set, write, CONSENT_FILE};

/// The stored decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    Undecided,
    Declined,
    Accepted,
}

/// Where the shared files live when no directory is given: `$HOME/intel` on Linux and
/// macOS, `%LOCALAPPDATA%\Intel Corporation` on Windows.
pub fn default_config_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    #[cfg(windows)]
    {
        Some(base.data_local_dir().join("Intel Corporation"))
    }
    #[cfg(not(windows))]
    {
        let home = base.home_dir();
        if home.as_os_str().is_empty() {
            return None;
        }
        Some(home.join("intel"))
    }
}

/// The directory to use: the one given, else the default.
pub fn config_dir(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(dir) if dir.as_os_str().is_empty() => {
            Err(Error::InvalidArgument("config_dir is empty".to_string()))
        }
        Some(dir) => Ok(dir.to_path_buf()),
        None => default_config_dir().ok_or_else(|| {
            Error::Disabled("no home directory is known (HOME is unset)".to_string())
        }),
    }
}
