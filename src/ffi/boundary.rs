//! The panic boundary every export's body runs in: a panic never unwinds into C. It becomes
//! the return type's failure value ([`PanicValue`]) and this thread's last error.

use std::ffi::c_char;

use super::consent::ov_telemetry_consent_e::{self, OV_TELEMETRY_CONSENT_UNDECIDED};
use super::status::ov_telemetry_status_e::{self, OV_TELEMETRY_STATUS_INTERNAL_ERROR};
use super::table::ov_telemetry_api_t;
use crate::error::INTERNAL_TEXT;

/// What an export returns when its body panicked.
pub(super) trait PanicValue {
    fn on_panic() -> Self;
}

macro_rules! panic_values {
    ($($ty:ty => $value:expr,)*) => {
        $(impl PanicValue for $ty {
            fn on_panic() -> Self {
                $value
            }
        })*
    };
}

panic_values! {
    ov_telemetry_status_e => OV_TELEMETRY_STATUS_INTERNAL_ERROR,
    ov_telemetry_consent_e => OV_TELEMETRY_CONSENT_UNDECIDED, // no answer is no yes
    bool => false,
    () => (),
    *const c_char => c"".as_ptr(), // the strings the API returns are never NULL
    *const ov_telemetry_api_t => std::ptr::null(),
}

/// Text of a caught panic's payload.
pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    format!(
        "{} (a panic was caught): {what}",
        INTERNAL_TEXT.to_string_lossy()
    )
}

/// Runs an export's body; a panic becomes the return type's [`PanicValue`] and a last error.
/// Written inside the function so cbindgen still sees the signature.
macro_rules! ffi_panic_boundary {
    ($body:block) => {{
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(value) => value,
            Err(payload) => {
                $crate::ffi::last_error::set_last_error($crate::ffi::boundary::panic_text(
                    &*payload,
                ));
                $crate::ffi::boundary::PanicValue::on_panic()
            }
        }
    }};
}
pub(super) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;
    use crate::ffi::tests::{forced_panic, last_error};

    /// What the boundary answers for a body of type `T` that panics.
    fn caught<T: PanicValue>() -> T {
        ffi_panic_boundary!({ forced_panic() })
    }

    #[test]
    fn a_panicking_status_call_is_internal_error_with_the_panic_as_last_error() {
        assert_eq!(
            caught::<ov_telemetry_status_e>(),
            OV_TELEMETRY_STATUS_INTERNAL_ERROR
        );
        assert_eq!(
            last_error(),
            "internal error (a panic was caught): forced by a test"
        );
    }

    #[test]
    fn each_return_type_has_its_failure_value() {
        assert!(caught::<*const ov_telemetry_api_t>().is_null());
        assert_eq!(
            caught::<ov_telemetry_consent_e>(),
            OV_TELEMETRY_CONSENT_UNDECIDED
        );
        assert!(!caught::<bool>());
        caught::<()>();
        let text = caught::<*const c_char>();
        assert!(
            !text.is_null(),
            "a string is never NULL, even after a panic"
        );
        // SAFETY: non-NULL and NUL-terminated (checked above; a static "").
        assert_eq!(unsafe { CStr::from_ptr(text) }.to_bytes(), b"");
        assert!(last_error().contains("panic"), "{}", last_error());
    }

    #[test]
    fn a_string_payload_is_quoted_and_others_are_unknown() {
        let owned = std::panic::catch_unwind(|| panic!("{}", String::from("owned"))).unwrap_err();
        assert!(panic_text(&*owned).ends_with(": owned"));
        let other = std::panic::catch_unwind(|| std::panic::panic_any(7)).unwrap_err();
        assert!(panic_text(&*other).ends_with(": unknown panic"));
    }

    /// Every export runs its whole body inside the boundary (so a panic anywhere in it
    /// becomes the failure value its return type has above), checked on the source of
    /// each file of the C surface. The one exception runs no code.
    #[test]
    fn every_export_runs_its_body_inside_the_boundary() {
        let sources = [
            include_str!("options.rs"),
            include_str!("handle.rs"),
            include_str!("consent.rs"),
            include_str!("misc.rs"),
            include_str!("version.rs"),
            include_str!("counters.rs"),
            include_str!("table.rs"),
        ];
        let mut exports = 0;
        for source in sources {
            for (at, _) in source.match_indices("pub extern \"C\" fn ") {
                let rest = &source[at..];
                let name = rest["pub extern \"C\" fn ".len()..]
                    .split('(')
                    .next()
                    .unwrap();
                let body = rest[rest.find(" {\n").unwrap() + 3..].trim_start();
                exports += 1;
                if name == "ov_telemetry_version_number" {
                    continue;
                }
                assert!(
                    body.starts_with("ffi_panic_boundary!({"),
                    "{name}: its body is not inside ffi_panic_boundary!"
                );
            }
        }
        // Every `#[no_mangle]` function of src/ffi was looked at.
        assert_eq!(exports, 31);
    }
}
