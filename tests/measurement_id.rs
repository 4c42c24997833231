//! The measurement id is checked at init (issue 12): `G-` followed by ASCII letters and
//! digits, else `INVALID_ARGUMENT` with a message that names the id and the expected form —
//! through the Rust API and through the C ABI. Nothing is decided or created for a refused id.

mod support;

use std::ffi::{CStr, CString};
use std::ptr;

use openvino_telemetry::ffi::{
    ov_telemetry_free, ov_telemetry_init_simple, ov_telemetry_last_error, ov_telemetry_status_e,
    ov_telemetry_t,
};
use openvino_telemetry::{Error, Options, Telemetry};
use support::temp_dir;

const VALID: [&str; 5] = [
    "G-W5E9RNLD4H",
    "G-TEST000000",
    "G-abc123XYZ",
    "G-X",
    openvino_telemetry::OPT_IN_OUT_MEASUREMENT_ID,
];

const INVALID: [&str; 13] = [
    "W5E9RNLD4H",
    "G-",
    "G",
    "g-W5E9RNLD4H",
    "UA-12345-1",
    "G_W5E9RNLD4H",
    "G-W5E9 RNLD4H",
    " G-W5E9RNLD4H",
    "G-W5E9RNLD4H\n",
    "G-W5E9-RNLD4H",
    "G-W5E9RNLD4H&api_secret=x",
    "G-ÄBC",
    "G-１２３",
];

fn init(id: &str, dir: &std::path::Path) -> Result<Telemetry, Error> {
    let mut options = Options::new("measurement_id_test", "1.0", id);
    options.config_dir = Some(dir.to_path_buf());
    // No variable of the caller's environment may decide the outcome.
    Telemetry::init_with_env(&options, &|_: &str| None::<String>)
}

#[test]
fn ga4_shaped_ids_are_accepted() {
    let base = temp_dir("tid-valid");
    for id in VALID {
        let dir = base.join(id);
        let t = init(id, &dir).unwrap_or_else(|e| panic!("{id:?} refused: {e}"));
        // Undecided consent: a disabled handle, not an error.
        assert!(!t.is_enabled(), "{id:?}: {}", t.reason());
    }
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn anything_else_is_an_invalid_argument_with_a_clear_message() {
    let base = temp_dir("tid-invalid");
    for (n, id) in INVALID.into_iter().enumerate() {
        let dir = base.join(n.to_string());
        match init(id, &dir) {
            Err(Error::InvalidArgument(why)) => {
                assert!(why.contains("measurement id"), "{id:?}: {why}");
                assert!(why.contains("G- followed by letters and digits"), "{why}");
                assert!(why.contains(&format!("{id:?}")), "names the id: {why}");
            }
            Err(e) => panic!("{id:?}: wrong error {e:?}"),
            Ok(t) => panic!("{id:?} accepted (reason {})", t.reason()),
        }
        assert!(!dir.exists(), "{id:?}: nothing is created for a refused id");
    }
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn empty_id_keeps_its_own_message() {
    let base = temp_dir("tid-empty");
    match init("", &base.join("intel")) {
        Err(Error::InvalidArgument(why)) => assert_eq!(why, "the measurement id is empty"),
        other => panic!("{:?}", other.map(|t| t.reason().to_string())),
    }
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn the_c_abi_returns_invalid_argument_and_says_why() {
    // Keeps the C test from ever touching the real ~/intel: an invalid id is refused before
    // any directory is looked at, and a valid one is not initialised here.
    for id in ["UA-1-1", "G-", "G-W5E9RNLD4H;"] {
        let tid = CString::new(id).unwrap();
        let mut handle: *mut ov_telemetry_t = ptr::null_mut();
        let status = ov_telemetry_init_simple(
            c"measurement_id_test".as_ptr(),
            c"1.0".as_ptr(),
            tid.as_ptr(),
            &mut handle,
        );
        assert_eq!(
            status,
            ov_telemetry_status_e::OV_TELEMETRY_STATUS_INVALID_ARGUMENT,
            "{id:?}"
        );
        // SAFETY: the library returns a valid NUL-terminated thread-local string.
        let why = unsafe { CStr::from_ptr(ov_telemetry_last_error()) }
            .to_string_lossy()
            .into_owned();
        assert!(why.contains("is not a GA4 measurement id"), "{id:?}: {why}");
        assert_eq!(
            why.matches("invalid argument").count(),
            1,
            "said once: {why}"
        );
        if !handle.is_null() {
            ov_telemetry_free(handle);
        }
    }
}
