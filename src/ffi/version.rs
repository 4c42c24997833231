//! The library's version as numbers: the constants cbindgen turns into the header's
//! `OV_TELEMETRY_VERSION_*` macros (build.rs derives them from Cargo's package version),
//! and `ov_telemetry_version_number()`.

use super::ffi_guard;

// OV_TELEMETRY_VERSION_MAJOR, _MINOR, _PATCH, _NUMBER and OV_TELEMETRY_VERSION, written by
// build.rs from CARGO_PKG_VERSION (and emitted into the header from the same file).
include!(concat!(env!("OUT_DIR"), "/version.rs"));

/// The library's version as one number, MAJOR * 1000000 + MINOR * 1000 + PATCH (1.2.3 is
/// 1002003): compare it with OV_TELEMETRY_MAKE_VERSION(), e.g.
/// `ov_telemetry_version_number() >= OV_TELEMETRY_MAKE_VERSION(1, 1, 0)`. Equal to
/// OV_TELEMETRY_VERSION_NUMBER of the header the library was built with. Since 1.1.
/// Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_version_number() -> u32 {
    ffi_guard!(OV_TELEMETRY_VERSION_NUMBER, { OV_TELEMETRY_VERSION_NUMBER })
}
