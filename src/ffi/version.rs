//! The library's version: the constants cbindgen turns into the header's
//! `OV_TELEMETRY_VERSION_*` macros (build.rs writes them from Cargo.toml's version, the one
//! source), `ov_telemetry_version()` and `ov_telemetry_version_number()`.

use std::ffi::c_char;

use super::ffi_panic_boundary;

// OV_TELEMETRY_VERSION_MAJOR, _MINOR, _PATCH and _NUMBER as literals (cbindgen emits only
// literal constants), written by build.rs from CARGO_PKG_VERSION_*.
include!(concat!(env!("OUT_DIR"), "/version.rs"));

/// The library's version, e.g. "1.0.0" (equal to OV_TELEMETRY_VERSION of the header it
/// was built with). Static; never NULL. Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_version() -> *const c_char {
    ffi_panic_boundary!({ concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast() })
}

/// The library's version as one number, MAJOR * 1000000 + MINOR * 1000 + PATCH (1.2.3 is
/// 1002003): compare it with OV_TELEMETRY_MAKE_VERSION(), e.g.
/// `ov_telemetry_version_number() >= OV_TELEMETRY_MAKE_VERSION(1, 1, 0)`. Equal to
/// OV_TELEMETRY_VERSION_NUMBER of the header the library was built with. Since 1.1.
/// Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_version_number() -> u32 {
    // The one export without a panic boundary: it runs no code, so it answers the number
    // on every path (a boundary could only ever turn it into 0).
    OV_TELEMETRY_VERSION_NUMBER
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

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
        // No panic can make it answer anything else: it runs no code but the constant (and
        // so needs no panic boundary, which would answer 0).
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
}
