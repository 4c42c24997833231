//! The checked-in C header must be exactly what cbindgen generates from src/ffi.
//!
//! build.rs regenerates `include/openvino_telemetry.h` on every build (and keeps a copy in
//! OUT_DIR), so the working tree is always fresh; what can be stale is the *committed*
//! header. This test compares the generated text with the header in git's HEAD.

use std::process::Command;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/openvino_telemetry.h"));

#[test]
fn the_committed_header_is_up_to_date() {
    let root = env!("CARGO_MANIFEST_DIR");
    let on_disk = std::fs::read_to_string(format!("{root}/include/openvino_telemetry.h")).unwrap();
    assert_eq!(on_disk, GENERATED, "build.rs did not write the header");
    let committed = Command::new("git")
        .args(["-C", root, "show", "HEAD:include/openvino_telemetry.h"])
        .output();
    match committed {
        Ok(out) if out.status.success() => {
            assert!(
                String::from_utf8_lossy(&out.stdout) == GENERATED,
                "include/openvino_telemetry.h in HEAD is stale: cargo build regenerated it; commit it"
            );
        }
        // Not a git checkout (a source tarball): the file on disk was checked above.
        _ => eprintln!("not a git checkout: only the file on disk was compared"),
    }
}

#[test]
fn the_header_declares_every_function_of_the_api() {
    for name in [
        "ov_telemetry_options_create",
        "ov_telemetry_options_set_app",
        "ov_telemetry_options_set_measurement_id",
        "ov_telemetry_options_set_api_secret",
        "ov_telemetry_options_set_consent_dialog",
        "ov_telemetry_options_set_disable_in_ci",
        "ov_telemetry_options_set_endpoint",
        "ov_telemetry_options_set_config_dir",
        "ov_telemetry_options_set_queue_capacity",
        "ov_telemetry_options_set_crash_reports",
        "ov_telemetry_crash_set_exception",
        "ov_telemetry_options_free",
        "ov_telemetry_init",
        "ov_telemetry_init_simple",
        "ov_telemetry_is_enabled",
        "ov_telemetry_send_event",
        "ov_telemetry_send_error",
        "ov_telemetry_send_stack_trace",
        "ov_telemetry_start_session",
        "ov_telemetry_end_session",
        "ov_telemetry_flush",
        "ov_telemetry_shutdown",
        "ov_telemetry_free",
        "ov_telemetry_get_consent",
        "ov_telemetry_set_consent",
        "ov_telemetry_status_message",
        "ov_telemetry_last_error",
        "ov_telemetry_version",
        "ov_telemetry_get_api",
        "ov_telemetry_get_counters",
        "ov_telemetry_version_number",
    ] {
        let declared =
            GENERATED.contains(&format!(" {name}(")) || GENERATED.contains(&format!("*{name}("));
        assert!(declared, "{name} is not declared");
    }
    for phrase in [
        "Caller owns the result",
        "NULL is a no-op",
        "Thread-safe",
        "Never blocks",
    ] {
        assert!(
            GENERATED.contains(phrase),
            "the header lacks the phrase {phrase:?}"
        );
    }
}
