//! The stored consent decision for C callers: read it, change it.

use std::ffi::c_char;
use std::path::PathBuf;

use super::args::arg_path;
use super::ffi_panic_boundary;
use super::status::{fail, ov_telemetry_status_e, status_of};
use crate::consent::{self, Consent};
use crate::error::Error;

/// The stored consent decision. A newer library may return a value this header does not
/// list: only OV_TELEMETRY_CONSENT_ACCEPTED means the user said yes; treat any other value
/// as no consent (and ask again only on OV_TELEMETRY_CONSENT_UNDECIDED).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ov_telemetry_consent_e {
    /// No decision is stored.
    OV_TELEMETRY_CONSENT_UNDECIDED = -1,
    /// The user declined (or the file is malformed).
    OV_TELEMETRY_CONSENT_DECLINED = 0,
    /// The user accepted.
    OV_TELEMETRY_CONSENT_ACCEPTED = 1,
}

use ov_telemetry_consent_e::*;

impl From<Consent> for ov_telemetry_consent_e {
    fn from(consent: Consent) -> Self {
        match consent {
            Consent::Undecided => OV_TELEMETRY_CONSENT_UNDECIDED,
            Consent::Declined => OV_TELEMETRY_CONSENT_DECLINED,
            Consent::Accepted => OV_TELEMETRY_CONSENT_ACCEPTED,
        }
    }
}

/// The directory argument: NULL is the default directory.
fn config_dir_arg(dir: *const c_char) -> Result<PathBuf, Error> {
    if dir.is_null() {
        consent::config_dir(None)
    } else {
        arg_path(dir, "config_dir")
    }
}

/// The stored decision in `config_dir` (NULL: the default directory). Environment
/// variables are not considered: this is what the file says. UNDECIDED when no home is
/// known. May block briefly (one small file read). Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_get_consent(config_dir: *const c_char) -> ov_telemetry_consent_e {
    ffi_panic_boundary!({
        match config_dir_arg(config_dir) {
            Ok(dir) => consent::read(&dir).0.into(),
            Err(e) => {
                fail(e);
                OV_TELEMETRY_CONSENT_UNDECIDED
            }
        }
    })
}

/// Changes the decision exactly as `opt_in_out` does: accepting writes `1` and a new
/// client id; declining writes `0` and deletes the client id, usage statistics and spool.
/// Sends nothing. NULL `config_dir` is the default directory. May block briefly (small
/// file writes). Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_set_consent(
    config_dir: *const c_char,
    accepted: bool,
) -> ov_telemetry_status_e {
    ffi_panic_boundary!({
        status_of(
            config_dir_arg(config_dir).and_then(|dir| consent::set(&dir, accepted).map(|_| ())),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::ov_telemetry_status_e::*;
    use crate::ffi::tests::{c, last_error, temp_dir};

    #[test]
    fn consent_functions_change_the_files_like_opt_in_out() {
        let dir = temp_dir();
        assert_eq!(
            ov_telemetry_get_consent(dir.as_ptr()),
            OV_TELEMETRY_CONSENT_UNDECIDED
        );
        assert_eq!(
            ov_telemetry_set_consent(dir.as_ptr(), true),
            OV_TELEMETRY_STATUS_OK
        );
        assert_eq!(
            ov_telemetry_get_consent(dir.as_ptr()),
            OV_TELEMETRY_CONSENT_ACCEPTED
        );
        let path = std::path::PathBuf::from(dir.to_str().unwrap());
        assert!(path.join(crate::identity::CLIENT_ID_FILE).exists());
        assert_eq!(
            ov_telemetry_set_consent(dir.as_ptr(), false),
            OV_TELEMETRY_STATUS_OK
        );
        assert_eq!(
            ov_telemetry_get_consent(dir.as_ptr()),
            OV_TELEMETRY_CONSENT_DECLINED
        );
        assert!(!path.join(crate::identity::CLIENT_ID_FILE).exists());
        // A file where the directory should be: an I/O error naming it.
        let file = tempfile::tempdir().unwrap().keep().join("file");
        std::fs::write(&file, "x").unwrap();
        let file = c(file.to_str().unwrap());
        assert_eq!(
            ov_telemetry_set_consent(file.as_ptr(), true),
            OV_TELEMETRY_STATUS_IO_ERROR
        );
        assert!(last_error().contains("not a directory"), "{}", last_error());
        assert_eq!(
            ov_telemetry_set_consent(c"".as_ptr(), true),
            OV_TELEMETRY_STATUS_INVALID_ARGUMENT
        );
    }
}
