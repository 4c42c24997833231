// Compile-only test: the generated C header is valid C++17 under -Wall -Wextra -Wpedantic
// -Werror, survives double inclusion, and its declarations match the dlopen table exactly.
#include "openvino_telemetry.h"
#include "openvino_telemetry.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

static_assert(OV_TELEMETRY_STATUS_OK == 0, "OK");
static_assert(OV_TELEMETRY_STATUS_DISABLED == 1, "DISABLED");
static_assert(OV_TELEMETRY_STATUS_QUEUE_FULL == 2, "QUEUE_FULL");
static_assert(OV_TELEMETRY_STATUS_TIMEOUT == 3, "TIMEOUT");
static_assert(OV_TELEMETRY_STATUS_INVALID_ARGUMENT == -1, "INVALID_ARGUMENT");
static_assert(OV_TELEMETRY_STATUS_SHUT_DOWN == -2, "SHUT_DOWN");
static_assert(OV_TELEMETRY_STATUS_IO_ERROR == -3, "IO_ERROR");
static_assert(OV_TELEMETRY_STATUS_INTERNAL_ERROR == -4, "INTERNAL_ERROR");
static_assert(OV_TELEMETRY_CONSENT_UNDECIDED == -1, "UNDECIDED");
static_assert(OV_TELEMETRY_CONSENT_DECLINED == 0, "DECLINED");
static_assert(OV_TELEMETRY_CONSENT_ACCEPTED == 1, "ACCEPTED");
static_assert(sizeof(ov_telemetry_status_e) == 4, "status is 32-bit");
static_assert(sizeof(ov_telemetry_consent_e) == 4, "consent is 32-bit");
static_assert(sizeof(ov_telemetry_counters_t) == 5 * sizeof(std::uint64_t), "five counters");
static_assert(offsetof(ov_telemetry_counters_t, queued) == 0 && offsetof(ov_telemetry_counters_t, sent) == 8 &&
                  offsetof(ov_telemetry_counters_t, dropped) == 16 && offsetof(ov_telemetry_counters_t, failed) == 24 &&
                  offsetof(ov_telemetry_counters_t, retried) == 32,
              "counters in DESIGN order");

static_assert(OV_TELEMETRY_VERSION_MAJOR == OVT_EXPECT_MAJOR, "major version");
static_assert(OV_TELEMETRY_VERSION_MINOR == OVT_EXPECT_MINOR, "minor version");
static_assert(OV_TELEMETRY_VERSION_PATCH == OVT_EXPECT_PATCH, "patch version");
static_assert(OV_TELEMETRY_ABI_VERSION == 1, "ABI version");
constexpr bool ovt_streq(const char* a, const char* b) {
    return *a == *b && (*a == '\0' || ovt_streq(a + 1, b + 1));
}
static_assert(ovt_streq(OV_TELEMETRY_VERSION, OVT_EXPECT_VERSION), "version string");

static_assert(std::is_standard_layout<ov_telemetry_api_t>::value, "C layout");
static_assert(offsetof(ov_telemetry_api_t, abi_version) == 0, "abi_version first");
static_assert(offsetof(ov_telemetry_api_t, struct_size) == 4, "struct_size second");
// Two uint32_t, then only function pointers (fields are appended, so no count here).
static_assert((sizeof(ov_telemetry_api_t) - 8) % sizeof(void (*)()) == 0, "pointers only");
static_assert(offsetof(ov_telemetry_api_t, version_number) + sizeof(void (*)()) ==
                  sizeof(ov_telemetry_api_t),
              "version_number is the last field");

// Each function's type is exactly its table slot's type.
#define OVT_SAME(slot, fn) \
    static_assert(std::is_same<decltype(ov_telemetry_api_t::slot), decltype(&fn)>::value, #fn)
OVT_SAME(options_create, ov_telemetry_options_create);
OVT_SAME(options_set_app, ov_telemetry_options_set_app);
OVT_SAME(options_set_measurement_id, ov_telemetry_options_set_measurement_id);
OVT_SAME(options_set_api_secret, ov_telemetry_options_set_api_secret);
OVT_SAME(options_set_consent_dialog, ov_telemetry_options_set_consent_dialog);
OVT_SAME(options_set_disable_in_ci, ov_telemetry_options_set_disable_in_ci);
OVT_SAME(options_set_endpoint, ov_telemetry_options_set_endpoint);
OVT_SAME(options_set_config_dir, ov_telemetry_options_set_config_dir);
OVT_SAME(options_set_queue_capacity, ov_telemetry_options_set_queue_capacity);
OVT_SAME(options_free, ov_telemetry_options_free);
OVT_SAME(init, ov_telemetry_init);
OVT_SAME(init_simple, ov_telemetry_init_simple);
OVT_SAME(is_enabled, ov_telemetry_is_enabled);
OVT_SAME(send_event, ov_telemetry_send_event);
OVT_SAME(send_error, ov_telemetry_send_error);
OVT_SAME(send_stack_trace, ov_telemetry_send_stack_trace);
OVT_SAME(start_session, ov_telemetry_start_session);
OVT_SAME(end_session, ov_telemetry_end_session);
OVT_SAME(flush, ov_telemetry_flush);
OVT_SAME(shutdown, ov_telemetry_shutdown);
OVT_SAME(handle_free, ov_telemetry_free);
OVT_SAME(get_consent, ov_telemetry_get_consent);
OVT_SAME(set_consent, ov_telemetry_set_consent);
OVT_SAME(status_message, ov_telemetry_status_message);
OVT_SAME(last_error, ov_telemetry_last_error);
OVT_SAME(version, ov_telemetry_version);
OVT_SAME(options_set_crash_reports, ov_telemetry_options_set_crash_reports);
OVT_SAME(get_counters, ov_telemetry_get_counters);
OVT_SAME(version_number, ov_telemetry_version_number);
#undef OVT_SAME
static_assert(std::is_same<decltype(&ov_telemetry_get_api),
                           const ov_telemetry_api_t* (*)(std::uint32_t)>::value,
              "get_api");
static_assert(std::is_same<decltype(&ov_telemetry_get_api), ov_telemetry_get_api_fn>::value,
              "the get_api typedef");

// The statuses the C++ wrapper needs compare as plain integers.
int ovt_header_cpp_usage(ov_telemetry_t* t);
int ovt_header_cpp_usage(ov_telemetry_t* t) {
    ov_telemetry_status_e st = ov_telemetry_send_event(t, "c", "a", "l", 1);
    const std::int32_t raw = st;
    return raw == OV_TELEMETRY_STATUS_OK ? 0 : static_cast<int>(std::strlen(ov_telemetry_status_message(raw)));
}
