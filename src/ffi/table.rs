//! `ov_telemetry_get_api`: one symbol for `dlopen` users, a static table of every
//! function of the API.

use std::ffi::c_char;

use super::consent::*;
use super::counters::*;
use super::ffi_panic_boundary;
use super::handle::*;
use super::misc::*;
use super::options::*;
use super::status::ov_telemetry_status_e;
use super::version::*;

/// The ABI version this library provides through ov_telemetry_get_api().
pub const OV_TELEMETRY_ABI_VERSION: u32 = 1;

/// The type of ov_telemetry_get_api(), for the pointer dlsym() returns. ISO C has no
/// conversion from `void *` to a function pointer (POSIX guarantees they share a
/// representation), so copy it: `void *sym = dlsym(lib, "ov_telemetry_get_api");
/// ov_telemetry_get_api_fn get_api; memcpy(&get_api, &sym, sizeof get_api);`
pub type ov_telemetry_get_api_fn = extern "C" fn(abi_version: u32) -> *const ov_telemetry_api_t;

/// The whole API v1 as function pointers, for programs that load the library with
/// dlopen() and look up only ov_telemetry_get_api().
///
/// Evolution: fields are only ever appended (never removed, reordered or retyped), and
/// `abi_version` stays 1. `struct_size` is the size of the library's table, which may be
/// larger than this header's `sizeof(ov_telemetry_api_t)` (a newer library) or smaller (an
/// older one): before calling a field marked "Since", check it with
/// `OV_TELEMETRY_API_HAS(api, field)`. Fields without a note are in every version.
#[repr(C)]
pub struct ov_telemetry_api_t {
    /// The ABI version of this table: 1.
    pub abi_version: u32,
    /// The size in bytes of the library's table; see OV_TELEMETRY_API_HAS().
    pub struct_size: u32,
    pub options_create: extern "C" fn(*mut *mut ov_telemetry_options_t) -> ov_telemetry_status_e,
    pub options_set_app: extern "C" fn(
        *mut ov_telemetry_options_t,
        *const c_char,
        *const c_char,
    ) -> ov_telemetry_status_e,
    pub options_set_measurement_id:
        extern "C" fn(*mut ov_telemetry_options_t, *const c_char) -> ov_telemetry_status_e,
    pub options_set_api_secret:
        extern "C" fn(*mut ov_telemetry_options_t, *const c_char) -> ov_telemetry_status_e,
    pub options_set_consent_dialog:
        extern "C" fn(*mut ov_telemetry_options_t, bool) -> ov_telemetry_status_e,
    pub options_set_disable_in_ci:
        extern "C" fn(*mut ov_telemetry_options_t, bool) -> ov_telemetry_status_e,
    pub options_set_endpoint:
        extern "C" fn(*mut ov_telemetry_options_t, *const c_char) -> ov_telemetry_status_e,
    pub options_set_config_dir:
        extern "C" fn(*mut ov_telemetry_options_t, *const c_char) -> ov_telemetry_status_e,
    pub options_set_queue_capacity:
        extern "C" fn(*mut ov_telemetry_options_t, u32) -> ov_telemetry_status_e,
    pub options_free: extern "C" fn(*mut ov_telemetry_options_t),
    pub init: extern "C" fn(
        *const ov_telemetry_options_t,
        *mut *mut ov_telemetry_t,
    ) -> ov_telemetry_status_e,
    pub init_simple: extern "C" fn(
        *const c_char,
        *const c_char,
        *const c_char,
        *mut *mut ov_telemetry_t,
    ) -> ov_telemetry_status_e,
    pub is_enabled: extern "C" fn(*const ov_telemetry_t) -> bool,
    pub send_event: extern "C" fn(
        *mut ov_telemetry_t,
        *const c_char,
        *const c_char,
        *const c_char,
        i64,
    ) -> ov_telemetry_status_e,
    pub send_error:
        extern "C" fn(*mut ov_telemetry_t, *const c_char, *const c_char) -> ov_telemetry_status_e,
    pub send_stack_trace:
        extern "C" fn(*mut ov_telemetry_t, *const c_char, *const c_char) -> ov_telemetry_status_e,
    pub start_session: extern "C" fn(*mut ov_telemetry_t, *const c_char) -> ov_telemetry_status_e,
    pub end_session: extern "C" fn(*mut ov_telemetry_t, *const c_char) -> ov_telemetry_status_e,
    pub flush: extern "C" fn(*mut ov_telemetry_t, u32) -> ov_telemetry_status_e,
    pub shutdown: extern "C" fn(*mut ov_telemetry_t, u32) -> ov_telemetry_status_e,
    /// ov_telemetry_free(). Not named `free`: a C library may define `free` as a
    /// function-like macro (MSVC's debug CRT does), which would rewrite `api->free(t)`.
    pub handle_free: extern "C" fn(*mut ov_telemetry_t),
    pub get_consent: extern "C" fn(*const c_char) -> ov_telemetry_consent_e,
    pub set_consent: extern "C" fn(*const c_char, bool) -> ov_telemetry_status_e,
    pub status_message: extern "C" fn(i32) -> *const c_char,
    pub last_error: extern "C" fn() -> *const c_char,
    pub version: extern "C" fn() -> *const c_char,
    /// ov_telemetry_options_set_crash_reports(). Since 1.1.
    pub options_set_crash_reports:
        extern "C" fn(*mut ov_telemetry_options_t, bool) -> ov_telemetry_status_e,
    /// ov_telemetry_get_counters(). Since 1.1.
    pub get_counters: extern "C" fn(
        *const ov_telemetry_t,
        *mut ov_telemetry_counters_t,
        usize,
    ) -> ov_telemetry_status_e,
    /// ov_telemetry_version_number(). Since 1.1.
    pub version_number: extern "C" fn() -> u32,
}

static API_V1: ov_telemetry_api_t = ov_telemetry_api_t {
    abi_version: OV_TELEMETRY_ABI_VERSION,
    struct_size: std::mem::size_of::<ov_telemetry_api_t>() as u32,
    options_create: ov_telemetry_options_create,
    options_set_app: ov_telemetry_options_set_app,
    options_set_measurement_id: ov_telemetry_options_set_measurement_id,
    options_set_api_secret: ov_telemetry_options_set_api_secret,
    options_set_consent_dialog: ov_telemetry_options_set_consent_dialog,
    options_set_disable_in_ci: ov_telemetry_options_set_disable_in_ci,
    options_set_endpoint: ov_telemetry_options_set_endpoint,
    options_set_config_dir: ov_telemetry_options_set_config_dir,
    options_set_queue_capacity: ov_telemetry_options_set_queue_capacity,
    options_free: ov_telemetry_options_free,
    init: ov_telemetry_init,
    init_simple: ov_telemetry_init_simple,
    is_enabled: ov_telemetry_is_enabled,
    send_event: ov_telemetry_send_event,
    send_error: ov_telemetry_send_error,
    send_stack_trace: ov_telemetry_send_stack_trace,
    start_session: ov_telemetry_start_session,
    end_session: ov_telemetry_end_session,
    flush: ov_telemetry_flush,
    shutdown: ov_telemetry_shutdown,
    handle_free: ov_telemetry_free,
    get_consent: ov_telemetry_get_consent,
    set_consent: ov_telemetry_set_consent,
    status_message: ov_telemetry_status_message,
    last_error: ov_telemetry_last_error,
    version: ov_telemetry_version,
    options_set_crash_reports: ov_telemetry_options_set_crash_reports,
    get_counters: ov_telemetry_get_counters,
    version_number: ov_telemetry_version_number,
};

/// The function table for `abi_version` (1), or NULL for a version this library does not
/// provide. Static: never free it. Never blocks. Infallible. Thread-safe.
#[no_mangle]
pub extern "C" fn ov_telemetry_get_api(abi_version: u32) -> *const ov_telemetry_api_t {
    ffi_panic_boundary!({
        if abi_version == OV_TELEMETRY_ABI_VERSION {
            &API_V1
        } else {
            std::ptr::null()
        }
    })
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::status::ov_telemetry_status_e::*;

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
}
