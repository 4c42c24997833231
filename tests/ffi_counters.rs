//! `ov_telemetry_get_counters` through the C ABI against a real server on 127.0.0.1: the
//! counts after delivery, a retry, a full queue, and after shutdown.

mod support;

use std::ffi::CString;
use std::ptr;
use std::sync::Once;
use std::time::Duration;

use openvino_telemetry::ffi::ov_telemetry_status_e::*;
use openvino_telemetry::ffi::*;
use support::server::{Mode, TestServer};
use support::temp_dir;

const LONG: Duration = Duration::from_secs(20);

/// The C API reads the process environment: clear what would disable or redirect it, once,
/// before any test of this binary reads it.
fn clean_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in [
            "DO_NOT_TRACK",
            "OPENVINO_TELEMETRY_DISABLE",
            "OPENVINO_TELEMETRY_DEBUG",
            "OPENVINO_TELEMETRY_ENDPOINT",
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            std::env::remove_var(name);
        }
    });
}

fn c(text: &str) -> CString {
    CString::new(text).unwrap()
}

/// An enabled handle (consent stored in a fresh directory) sending to `url`.
fn enabled_handle(tag: &str, url: &str, capacity: u32) -> *mut ov_telemetry_t {
    clean_env();
    let dir = c(temp_dir(tag).join("intel").to_str().unwrap());
    assert_eq!(
        ov_telemetry_set_consent(dir.as_ptr(), true),
        OV_TELEMETRY_STATUS_OK
    );
    let mut opts = ptr::null_mut();
    assert_eq!(
        ov_telemetry_options_create(&mut opts),
        OV_TELEMETRY_STATUS_OK
    );
    let url = c(url);
    for status in [
        ov_telemetry_options_set_app(opts, c"ffi_counters".as_ptr(), c"1.0".as_ptr()),
        ov_telemetry_options_set_measurement_id(opts, c"G-TEST0FFI".as_ptr()),
        ov_telemetry_options_set_config_dir(opts, dir.as_ptr()),
        ov_telemetry_options_set_endpoint(opts, url.as_ptr()),
        ov_telemetry_options_set_queue_capacity(opts, capacity),
    ] {
        assert_eq!(status, OV_TELEMETRY_STATUS_OK);
    }
    let mut t = ptr::null_mut();
    assert_eq!(ov_telemetry_init(opts, &mut t), OV_TELEMETRY_STATUS_OK);
    ov_telemetry_options_free(opts);
    t
}

fn counters(t: *const ov_telemetry_t) -> ov_telemetry_counters_t {
    let mut out = ov_telemetry_counters_t::default();
    assert_eq!(
        ov_telemetry_get_counters(t, &mut out, std::mem::size_of_val(&out)),
        OV_TELEMETRY_STATUS_OK
    );
    out
}

fn send(t: *mut ov_telemetry_t, action: &str) -> ov_telemetry_status_e {
    let action = c(action);
    ov_telemetry_send_event(t, c"cat".as_ptr(), action.as_ptr(), c"lbl".as_ptr(), 1)
}

#[test]
fn counters_count_delivered_and_retried_events() {
    let server = TestServer::start(Mode::FailThenOk {
        failures: 1,
        status: 500,
    });
    let t = enabled_handle("counters-sent", &server.url(), 1000);
    assert_eq!(counters(t), ov_telemetry_counters_t::default());
    for action in ["a", "b", "c"] {
        assert_eq!(send(t, action), OV_TELEMETRY_STATUS_OK);
    }
    assert_eq!(ov_telemetry_flush(t, 20_000), OV_TELEMETRY_STATUS_OK);
    let after_flush = counters(t);
    assert_eq!(
        after_flush,
        ov_telemetry_counters_t {
            queued: 3,
            sent: 3,
            dropped: 0,
            failed: 0,
            retried: 1,
        }
    );
    assert_eq!(
        server.events().len(),
        3,
        "the server saw what the counters say"
    );
    // Still readable after shutdown: the final counts.
    assert_eq!(ov_telemetry_shutdown(t, 5_000), OV_TELEMETRY_STATUS_OK);
    assert_eq!(send(t, "late"), OV_TELEMETRY_STATUS_SHUT_DOWN);
    assert_eq!(counters(t), after_flush);
    ov_telemetry_free(t);
}

#[test]
fn counters_count_events_dropped_on_a_full_queue() {
    let server = TestServer::start(Mode::Hang);
    let t = enabled_handle("counters-dropped", &server.url(), 2);
    assert_eq!(send(t, "first"), OV_TELEMETRY_STATUS_OK);
    // The worker has taken "first" off the queue and waits for the hanging server.
    assert_eq!(server.wait_for_requests(1, LONG).len(), 1);
    assert_eq!(send(t, "second"), OV_TELEMETRY_STATUS_OK);
    assert_eq!(send(t, "third"), OV_TELEMETRY_STATUS_OK);
    assert_eq!(send(t, "fourth"), OV_TELEMETRY_STATUS_QUEUE_FULL);
    let c = counters(t);
    assert_eq!((c.queued, c.sent, c.dropped), (3, 0, 1), "{c:?}");
    assert_eq!(ov_telemetry_shutdown(t, 0), OV_TELEMETRY_STATUS_TIMEOUT);
    let c = counters(t);
    assert_eq!(
        (c.queued, c.sent, c.dropped, c.failed),
        (3, 0, 1, 3),
        "{c:?}"
    );
    ov_telemetry_free(t);
}
