//! The C API called as C would call it, across every export: NULL and invalid UTF-8 for
//! each parameter. Also the helpers the other files' tests share.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use super::*;
use ov_telemetry_status_e::*;

pub(super) fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(ov_telemetry_last_error()) }
        .to_string_lossy()
        .into_owned()
}

pub(super) fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

const BAD_UTF8: &[u8] = b"\xff\xfe\0";

pub(super) fn bad() -> *const c_char {
    BAD_UTF8.as_ptr().cast()
}

pub(super) fn temp_dir() -> CString {
    let dir = tempfile::tempdir().unwrap().keep().join("intel");
    c(dir.to_str().unwrap())
}

/// Stands for code that panics: a body given to the panic boundary in a test.
pub(super) fn forced_panic<T>() -> T {
    panic!("forced by a test")
}

/// A disabled handle (no decision stored) in a fresh directory.
pub(super) fn disabled_handle() -> *mut ov_telemetry_t {
    let dir = temp_dir();
    let mut opts = ptr::null_mut();
    assert_eq!(
        ov_telemetry_options_create(&mut opts),
        OV_TELEMETRY_STATUS_OK
    );
    assert_eq!(
        ov_telemetry_options_set_app(opts, c"app".as_ptr(), c"1".as_ptr()),
        OV_TELEMETRY_STATUS_OK
    );
    assert_eq!(
        ov_telemetry_options_set_measurement_id(opts, c"G-X".as_ptr()),
        OV_TELEMETRY_STATUS_OK
    );
    assert_eq!(
        ov_telemetry_options_set_config_dir(opts, dir.as_ptr()),
        OV_TELEMETRY_STATUS_OK
    );
    let mut t = ptr::null_mut();
    assert_eq!(
        ov_telemetry_init(opts, &mut t),
        OV_TELEMETRY_STATUS_DISABLED
    );
    ov_telemetry_options_free(opts);
    assert!(!t.is_null());
    t
}

#[test]
fn null_arguments_are_invalid_and_explained() {
    let mut opts = ptr::null_mut();
    assert_eq!(
        ov_telemetry_options_create(ptr::null_mut()),
        OV_TELEMETRY_STATUS_INVALID_ARGUMENT
    );
    assert!(last_error().contains("out is NULL"));
    assert_eq!(
        ov_telemetry_options_create(&mut opts),
        OV_TELEMETRY_STATUS_OK
    );
    let null_opts = ptr::null_mut();
    type Call<'a> = Box<dyn Fn() -> ov_telemetry_status_e + 'a>;
    let cases: Vec<(Call, &str)> = vec![
        (
            Box::new(|| ov_telemetry_options_set_app(null_opts, c"a".as_ptr(), c"1".as_ptr())),
            "opts",
        ),
        (
            Box::new(|| ov_telemetry_options_set_app(opts, ptr::null(), c"1".as_ptr())),
            "name",
        ),
        (
            Box::new(|| ov_telemetry_options_set_app(opts, c"a".as_ptr(), ptr::null())),
            "version",
        ),
        (
            Box::new(|| ov_telemetry_options_set_measurement_id(opts, ptr::null())),
            "tid",
        ),
        (
            Box::new(|| ov_telemetry_options_set_measurement_id(null_opts, c"G".as_ptr())),
            "opts",
        ),
        (
            Box::new(|| ov_telemetry_options_set_api_secret(opts, ptr::null())),
            "secret",
        ),
        (
            Box::new(|| ov_telemetry_options_set_consent_dialog(null_opts, true)),
            "opts",
        ),
        (
            Box::new(|| ov_telemetry_options_set_disable_in_ci(null_opts, true)),
            "opts",
        ),
        (
            Box::new(|| ov_telemetry_options_set_endpoint(opts, ptr::null())),
            "url",
        ),
        (
            Box::new(|| ov_telemetry_options_set_config_dir(opts, ptr::null())),
            "dir",
        ),
        (
            Box::new(|| ov_telemetry_options_set_queue_capacity(null_opts, 5)),
            "opts",
        ),
        (
            Box::new(|| ov_telemetry_options_set_crash_reports(null_opts, true)),
            "opts",
        ),
        (
            Box::new(|| ov_telemetry_crash_set_exception(ptr::null())),
            "type_name",
        ),
        (
            Box::new(|| ov_telemetry_init(ptr::null(), ptr::null_mut())),
            "opts",
        ),
        (Box::new(|| ov_telemetry_init(opts, ptr::null_mut())), "out"),
        (
            Box::new(|| {
                ov_telemetry_init_simple(ptr::null(), c"1".as_ptr(), c"G".as_ptr(), ptr::null_mut())
            }),
            "app",
        ),
        (
            Box::new(|| {
                ov_telemetry_init_simple(
                    c"a".as_ptr(),
                    c"1".as_ptr(),
                    c"G".as_ptr(),
                    ptr::null_mut(),
                )
            }),
            "out",
        ),
        (
            Box::new(|| {
                ov_telemetry_send_event(
                    ptr::null_mut(),
                    c"c".as_ptr(),
                    c"a".as_ptr(),
                    c"l".as_ptr(),
                    1,
                )
            }),
            "t",
        ),
        (
            Box::new(|| ov_telemetry_send_error(ptr::null_mut(), c"c".as_ptr(), c"m".as_ptr())),
            "t",
        ),
        (
            Box::new(|| {
                ov_telemetry_send_stack_trace(ptr::null_mut(), c"c".as_ptr(), c"m".as_ptr())
            }),
            "t",
        ),
        (
            Box::new(|| ov_telemetry_start_session(ptr::null_mut(), c"c".as_ptr())),
            "t",
        ),
        (
            Box::new(|| ov_telemetry_end_session(ptr::null_mut(), c"c".as_ptr())),
            "t",
        ),
        (Box::new(|| ov_telemetry_flush(ptr::null_mut(), 0)), "t"),
        (Box::new(|| ov_telemetry_shutdown(ptr::null_mut(), 0)), "t"),
    ];
    for (i, (call, name)) in cases.into_iter().enumerate() {
        assert_eq!(call(), OV_TELEMETRY_STATUS_INVALID_ARGUMENT, "case {i}");
        assert_eq!(
            last_error(),
            format!("invalid argument: {name} is NULL"),
            "case {i}"
        );
    }
    assert!(!ov_telemetry_is_enabled(ptr::null()));
    ov_telemetry_free(ptr::null_mut());
    ov_telemetry_options_free(ptr::null_mut());
    ov_telemetry_options_free(opts);
}

#[test]
fn invalid_utf8_is_refused_by_every_string_parameter() {
    let mut opts = ptr::null_mut();
    ov_telemetry_options_create(&mut opts);
    for status in [
        ov_telemetry_options_set_app(opts, c"a".as_ptr(), bad()),
        ov_telemetry_options_set_measurement_id(opts, bad()),
        ov_telemetry_options_set_api_secret(opts, bad()),
        ov_telemetry_options_set_endpoint(opts, bad()),
        ov_telemetry_init_simple(c"a".as_ptr(), c"1".as_ptr(), bad(), &mut ptr::null_mut()),
    ] {
        assert_eq!(status, OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
        assert!(last_error().contains("not valid UTF-8"), "{}", last_error());
    }
    ov_telemetry_options_free(opts);
}
