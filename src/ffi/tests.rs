//! The C API called as C would call it: NULL and invalid input everywhere, the panic
//! boundary, precedence of results, the dlopen table.

use std::ffi::{c_char, CStr, CString};
use std::ptr;

use super::tests_support::FORCE_PANIC;
use super::*;
use ov_telemetry_consent_e::*;

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(ov_telemetry_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

const BAD_UTF8: &[u8] = b"\xff\xfe\0";

fn bad() -> *const c_char {
    BAD_UTF8.as_ptr().cast()
}

fn temp_dir() -> CString {
    let dir = crate::testing::temp_dir("ffi").join("intel");
    c(dir.to_str().unwrap())
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
fn each_failure_names_its_argument() {
    let mut opts = ptr::null_mut();
    ov_telemetry_options_create(&mut opts);
    ov_telemetry_options_set_app(opts, c"a".as_ptr(), ptr::null());
    assert_eq!(last_error(), "invalid argument: version is NULL");
    ov_telemetry_options_set_app(opts, bad(), c"1".as_ptr());
    assert_eq!(
        last_error(),
        "invalid argument: name is not valid UTF-8 (invalid byte at offset 0)"
    );
    ov_telemetry_options_set_endpoint(opts, c"http://example.com/x".as_ptr());
    assert!(
        last_error().contains("only for loopback"),
        "{}",
        last_error()
    );
    assert_eq!(
        ov_telemetry_options_set_queue_capacity(opts, 0),
        OV_TELEMETRY_STATUS_INVALID_ARGUMENT
    );
    assert!(last_error().contains("capacity 0"));
    assert_eq!(
        ov_telemetry_options_set_queue_capacity(opts, OV_TELEMETRY_MAX_QUEUE_CAPACITY + 1),
        OV_TELEMETRY_STATUS_INVALID_ARGUMENT
    );
    assert_eq!(
        ov_telemetry_options_set_queue_capacity(opts, 7),
        OV_TELEMETRY_STATUS_OK
    );
    // Options without an app name cannot start.
    let mut t = ptr::null_mut();
    assert_eq!(
        ov_telemetry_init(opts, &mut t),
        OV_TELEMETRY_STATUS_INVALID_ARGUMENT
    );
    assert!(t.is_null(), "*out is untouched on failure");
    assert!(last_error().contains("app name is empty"));
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

#[test]
fn disabled_handle_answers_disabled_before_reading_strings() {
    let t = disabled_handle();
    assert!(
        last_error().contains("no consent was given"),
        "{}",
        last_error()
    );
    assert!(!ov_telemetry_is_enabled(t));
    // Set a recognisable last error: DISABLED must leave it alone.
    ov_telemetry_options_set_app(ptr::null_mut(), ptr::null(), ptr::null());
    let before = last_error();
    assert_eq!(
        ov_telemetry_send_event(t, ptr::null(), bad(), ptr::null(), 1),
        OV_TELEMETRY_STATUS_DISABLED
    );
    assert_eq!(
        ov_telemetry_send_error(t, ptr::null(), ptr::null()),
        OV_TELEMETRY_STATUS_DISABLED
    );
    assert_eq!(
        ov_telemetry_send_stack_trace(t, bad(), bad()),
        OV_TELEMETRY_STATUS_DISABLED
    );
    assert_eq!(
        ov_telemetry_start_session(t, ptr::null()),
        OV_TELEMETRY_STATUS_DISABLED
    );
    assert_eq!(
        ov_telemetry_end_session(t, ptr::null()),
        OV_TELEMETRY_STATUS_DISABLED
    );
    assert_eq!(last_error(), before);
    assert_eq!(ov_telemetry_flush(t, 10), OV_TELEMETRY_STATUS_OK);
    assert_eq!(ov_telemetry_shutdown(t, 10), OV_TELEMETRY_STATUS_OK);
    // Shut down wins over disabled.
    assert_eq!(
        ov_telemetry_send_event(t, c"c".as_ptr(), c"a".as_ptr(), c"l".as_ptr(), 1),
        OV_TELEMETRY_STATUS_SHUT_DOWN
    );
    assert_eq!(
        ov_telemetry_start_session(t, ptr::null()),
        OV_TELEMETRY_STATUS_SHUT_DOWN
    );
    assert_eq!(ov_telemetry_flush(t, 10), OV_TELEMETRY_STATUS_SHUT_DOWN);
    assert!(last_error().contains("shut down"));
    assert_eq!(ov_telemetry_shutdown(t, 10), OV_TELEMETRY_STATUS_OK);
    ov_telemetry_free(t);
}

#[test]
fn a_panic_inside_a_call_becomes_internal_error_and_the_handle_lives_on() {
    let t = disabled_handle();
    FORCE_PANIC.with(|f| f.set(true));
    assert_eq!(
        ov_telemetry_send_event(t, c"c".as_ptr(), c"a".as_ptr(), c"l".as_ptr(), 1),
        OV_TELEMETRY_STATUS_INTERNAL_ERROR
    );
    assert!(last_error().contains("panic"), "{}", last_error());
    assert_eq!(
        ov_telemetry_send_event(t, c"c".as_ptr(), c"a".as_ptr(), c"l".as_ptr(), 1),
        OV_TELEMETRY_STATUS_DISABLED
    );
    FORCE_PANIC.with(|f| f.set(true));
    assert!(
        ov_telemetry_get_api(1).is_null(),
        "a panicking get_api returns NULL"
    );
    FORCE_PANIC.with(|f| f.set(true));
    assert_eq!(
        ov_telemetry_get_consent(ptr::null()),
        OV_TELEMETRY_CONSENT_UNDECIDED
    );
    FORCE_PANIC.with(|f| f.set(true));
    assert!(!ov_telemetry_status_message(0).is_null());
    ov_telemetry_free(t);
}

#[test]
fn status_messages_are_static_and_never_null() {
    for status in [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 12345, i32::MIN, i32::MAX] {
        let text = ov_telemetry_status_message(status);
        assert!(!text.is_null());
        // SAFETY: never NULL, NUL-terminated.
        let text = unsafe { CStr::from_ptr(text) }.to_str().unwrap();
        assert!(!text.is_empty());
    }
    // SAFETY: as above.
    let unknown = unsafe { CStr::from_ptr(ov_telemetry_status_message(12345)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown status");
    // SAFETY: as above.
    let version = unsafe { CStr::from_ptr(ov_telemetry_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

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
    let file = crate::testing::temp_dir("ffi").join("file");
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

#[test]
fn the_dlopen_table_covers_the_api() {
    assert!(ov_telemetry_get_api(0).is_null());
    assert!(ov_telemetry_get_api(2).is_null());
    let api = ov_telemetry_get_api(OV_TELEMETRY_ABI_VERSION);
    // SAFETY: a non-NULL table is static.
    let api = unsafe { &*api };
    assert_eq!(api.abi_version, 1);
    // A caller compiled against this crate sees at least its own table (a newer library
    // may append fields, so the check is >=, never ==).
    assert!(api.struct_size as usize >= std::mem::size_of::<ov_telemetry_api_t>());
    // Two uint32_t, then only function pointers: no padding, no other field types.
    assert_eq!(
        (std::mem::size_of::<ov_telemetry_api_t>() - 8) % std::mem::size_of::<usize>(),
        0
    );
    // The last field is the one most recently appended; struct_size covers it.
    let end_of_last = std::mem::offset_of!(ov_telemetry_api_t, version_number)
        + std::mem::size_of::<extern "C" fn() -> u32>();
    assert_eq!(end_of_last, std::mem::size_of::<ov_telemetry_api_t>());
    assert_eq!(
        api.options_set_crash_reports as usize,
        (ov_telemetry_options_set_crash_reports as extern "C" fn(_, _) -> _) as usize
    );
    assert_eq!(
        api.version_number as usize,
        (ov_telemetry_version_number as extern "C" fn() -> _) as usize
    );
    assert_eq!((api.version_number)(), OV_TELEMETRY_VERSION_NUMBER);
    assert_eq!(
        api.send_event as usize,
        (ov_telemetry_send_event as extern "C" fn(_, _, _, _, _) -> _) as usize
    );
    assert_eq!(
        api.version as usize,
        (ov_telemetry_version as extern "C" fn() -> _) as usize
    );
    assert_eq!(
        api.get_counters as usize,
        (ov_telemetry_get_counters as extern "C" fn(_, _, _) -> _) as usize
    );
    assert_eq!(
        api.handle_free as usize,
        (ov_telemetry_free as extern "C" fn(_)) as usize
    );
    let mut opts = ptr::null_mut();
    assert_eq!((api.options_create)(&mut opts), OV_TELEMETRY_STATUS_OK);
    (api.options_free)(opts);
}

#[test]
fn the_header_matches_the_abi_constants() {
    let header = include_str!("../../include/openvino_telemetry.h");
    assert!(header.contains(&format!(
        "#define OV_TELEMETRY_ABI_VERSION {OV_TELEMETRY_ABI_VERSION}"
    )));
    assert!(header.contains(&format!(
        "#define OV_TELEMETRY_MAX_QUEUE_CAPACITY {OV_TELEMETRY_MAX_QUEUE_CAPACITY}"
    )));
    assert!(header.contains(&format!(
        "#define OV_TELEMETRY_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
    for (name, value) in [
        ("OV_TELEMETRY_VERSION_MAJOR", OV_TELEMETRY_VERSION_MAJOR),
        ("OV_TELEMETRY_VERSION_MINOR", OV_TELEMETRY_VERSION_MINOR),
        ("OV_TELEMETRY_VERSION_PATCH", OV_TELEMETRY_VERSION_PATCH),
        ("OV_TELEMETRY_VERSION_NUMBER", OV_TELEMETRY_VERSION_NUMBER),
    ] {
        assert!(
            header.contains(&format!("#define {name} {value}\n")),
            "{name} is not {value} in the header"
        );
    }
}

#[test]
fn the_version_number_is_cargos_version() {
    let part = |s: &str| s.parse::<u32>().unwrap();
    assert_eq!(
        OV_TELEMETRY_VERSION_MAJOR,
        part(env!("CARGO_PKG_VERSION_MAJOR"))
    );
    assert_eq!(
        OV_TELEMETRY_VERSION_MINOR,
        part(env!("CARGO_PKG_VERSION_MINOR"))
    );
    assert_eq!(
        OV_TELEMETRY_VERSION_PATCH,
        part(env!("CARGO_PKG_VERSION_PATCH"))
    );
    let number = OV_TELEMETRY_VERSION_MAJOR * 1_000_000
        + OV_TELEMETRY_VERSION_MINOR * 1_000
        + OV_TELEMETRY_VERSION_PATCH;
    assert_eq!(OV_TELEMETRY_VERSION_NUMBER, number);
    assert_eq!(ov_telemetry_version_number(), number);
    // A panic inside still answers with the number (it is known at compile time).
    FORCE_PANIC.with(|f| f.set(true));
    assert_eq!(ov_telemetry_version_number(), number);
    // The string and the number name the same version.
    // SAFETY: ov_telemetry_version() returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(ov_telemetry_version()) };
    assert_eq!(
        text.to_str().unwrap(),
        format!(
            "{}.{}.{}",
            OV_TELEMETRY_VERSION_MAJOR, OV_TELEMETRY_VERSION_MINOR, OV_TELEMETRY_VERSION_PATCH
        )
    );
}

/// A host's thread-local destructor may call the C API while the thread exits, after the
/// library's own thread-local (the last error) is gone. Every call must still work; a
/// panic there would reach the panic guard and abort the host.
#[test]
fn the_api_works_from_a_thread_exit_destructor() {
    use std::sync::mpsc;

    struct CallsOnExit(mpsc::Sender<(ov_telemetry_status_e, bool)>);
    impl Drop for CallsOnExit {
        fn drop(&mut self) {
            // A failing call writes the last error; reading it must not panic either.
            let status = ov_telemetry_send_event(
                ptr::null_mut(),
                c"c".as_ptr(),
                c"a".as_ptr(),
                c"".as_ptr(),
                1,
            );
            let text = ov_telemetry_last_error();
            let _ = self.0.send((status, !text.is_null()));
        }
    }
    thread_local! {
        static ON_EXIT: std::cell::RefCell<Option<CallsOnExit>> = const { std::cell::RefCell::new(None) };
    }
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Registered first, so destroyed last (destructors run in reverse order):
        // the library's last error is already gone when this one runs.
        ON_EXIT.with(|slot| *slot.borrow_mut() = Some(CallsOnExit(tx)));
        let status = ov_telemetry_send_event(
            ptr::null_mut(),
            c"c".as_ptr(),
            c"a".as_ptr(),
            c"".as_ptr(),
            1,
        );
        assert_eq!(status, OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
        assert!(!last_error().is_empty());
    })
    .join()
    .expect("the thread exits normally");
    let (status, text) = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the destructor ran");
    assert_eq!(status, OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
    assert!(text);
}
