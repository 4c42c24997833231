/* Compile-only test: the generated C header is valid C11 under -Wall -Wextra -Wpedantic
 * -Werror, survives double inclusion, and its declarations agree with the dlopen table and
 * with DESIGN.md §7 (names, values, signatures). Built as an object library: compiling is
 * the test. */
#include "openvino_telemetry.h"
#include "openvino_telemetry.h"

#include <stddef.h>

/* Status and consent values are part of the ABI and never renumbered. */
_Static_assert(OV_TELEMETRY_STATUS_OK == 0, "OK");
_Static_assert(OV_TELEMETRY_STATUS_DISABLED == 1, "DISABLED");
_Static_assert(OV_TELEMETRY_STATUS_QUEUE_FULL == 2, "QUEUE_FULL");
_Static_assert(OV_TELEMETRY_STATUS_TIMEOUT == 3, "TIMEOUT");
_Static_assert(OV_TELEMETRY_STATUS_INVALID_ARGUMENT == -1, "INVALID_ARGUMENT");
_Static_assert(OV_TELEMETRY_STATUS_SHUT_DOWN == -2, "SHUT_DOWN");
_Static_assert(OV_TELEMETRY_STATUS_IO_ERROR == -3, "IO_ERROR");
_Static_assert(OV_TELEMETRY_STATUS_INTERNAL_ERROR == -4, "INTERNAL_ERROR");
_Static_assert(OV_TELEMETRY_CONSENT_UNDECIDED == -1, "UNDECIDED");
_Static_assert(OV_TELEMETRY_CONSENT_DECLINED == 0, "DECLINED");
_Static_assert(OV_TELEMETRY_CONSENT_ACCEPTED == 1, "ACCEPTED");
_Static_assert(sizeof(ov_telemetry_status_e) == 4, "status is 32-bit");
_Static_assert(sizeof(ov_telemetry_consent_e) == 4, "consent is 32-bit");

/* Version macros match Cargo.toml (CMake passes the version it read from there). */
_Static_assert(OV_TELEMETRY_VERSION_MAJOR == OVT_EXPECT_MAJOR, "major version");
_Static_assert(OV_TELEMETRY_VERSION_MINOR == OVT_EXPECT_MINOR, "minor version");
_Static_assert(OV_TELEMETRY_VERSION_PATCH == OVT_EXPECT_PATCH, "patch version");
_Static_assert(OV_TELEMETRY_ABI_VERSION == 1, "ABI version");
_Static_assert(sizeof(OV_TELEMETRY_VERSION) == sizeof(OVT_EXPECT_VERSION), "version string");

/* The table starts with two uint32_t, then one pointer per function. */
_Static_assert(offsetof(ov_telemetry_api_t, abi_version) == 0, "abi_version first");
_Static_assert(offsetof(ov_telemetry_api_t, struct_size) == 4, "struct_size second");
/* Two uint32_t, then only function pointers (fields are appended, so no count here). */
_Static_assert((sizeof(ov_telemetry_api_t) - 8) % sizeof(void (*)(void)) == 0, "pointers only");
_Static_assert(offsetof(ov_telemetry_api_t, version_number) + sizeof(void (*)(void)) ==
                   sizeof(ov_telemetry_api_t),
               "version_number is the last field");

/* Every declared function has exactly the type of its slot in the table: an incompatible
 * pointer type is an error under -Werror. */
const ov_telemetry_api_t ovt_header_test_table = {
    OV_TELEMETRY_ABI_VERSION,
    (uint32_t)sizeof(ov_telemetry_api_t),
    ov_telemetry_options_create,
    ov_telemetry_options_set_app,
    ov_telemetry_options_set_measurement_id,
    ov_telemetry_options_set_api_secret,
    ov_telemetry_options_set_consent_dialog,
    ov_telemetry_options_set_disable_in_ci,
    ov_telemetry_options_set_endpoint,
    ov_telemetry_options_set_config_dir,
    ov_telemetry_options_set_queue_capacity,
    ov_telemetry_options_free,
    ov_telemetry_init,
    ov_telemetry_init_simple,
    ov_telemetry_is_enabled,
    ov_telemetry_send_event,
    ov_telemetry_send_error,
    ov_telemetry_send_stack_trace,
    ov_telemetry_start_session,
    ov_telemetry_end_session,
    ov_telemetry_flush,
    ov_telemetry_shutdown,
    ov_telemetry_free,
    ov_telemetry_get_consent,
    ov_telemetry_set_consent,
    ov_telemetry_status_message,
    ov_telemetry_last_error,
    ov_telemetry_version,
    ov_telemetry_options_set_crash_reports,
    ov_telemetry_get_counters,
    ov_telemetry_version_number,
};

const ov_telemetry_api_t *(*const ovt_header_test_get_api)(uint32_t) = ov_telemetry_get_api;
const ov_telemetry_get_api_fn ovt_header_test_get_api_typedef = ov_telemetry_get_api;

/* The types are usable as a C caller writes them. */
int ovt_header_test_usage(ov_telemetry_t *t);
int ovt_header_test_usage(ov_telemetry_t *t) {
    ov_telemetry_status_e st = ov_telemetry_send_event(t, "c", "a", "l", (int64_t)1);
    ov_telemetry_consent_e c = ov_telemetry_get_consent("/nonexistent");
    bool on = ov_telemetry_is_enabled(t);
    return (st == OV_TELEMETRY_STATUS_OK) + (c == OV_TELEMETRY_CONSENT_ACCEPTED) + (on ? 1 : 0);
}
