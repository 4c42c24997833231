/* The C header on its own, compiled by ctest as C99, C11 and C17 and (as C++) C++11 to
 * C++20, with gcc and clang, under -Wall -Wextra -Wpedantic -Werror -Wconversion
 * -Wsign-conversion -Wundef (and -Wstrict-prototypes for C). It uses what a caller uses:
 * the macros in #if and in code, the get_api typedef, OV_TELEMETRY_API_HAS, and status and
 * consent values handled by the evolution rules. Nothing here needs C11 or C++17. */
#include "openvino_telemetry.h"
#include "openvino_telemetry.h" /* twice: the include guard works */

#if !OV_TELEMETRY_VERSION_AT_LEAST(1, 0, 0)
#error "OV_TELEMETRY_VERSION_AT_LEAST(1, 0, 0) is false"
#endif
#if OV_TELEMETRY_VERSION_AT_LEAST(OV_TELEMETRY_VERSION_MAJOR + 1, 0, 0)
#error "OV_TELEMETRY_VERSION_AT_LEAST(next major) is true"
#endif
#if OV_TELEMETRY_VERSION_NUMBER != OV_TELEMETRY_MAKE_VERSION(OV_TELEMETRY_VERSION_MAJOR, OV_TELEMETRY_VERSION_MINOR, OV_TELEMETRY_VERSION_PATCH)
#error "OV_TELEMETRY_VERSION_NUMBER does not match MAJOR, MINOR and PATCH"
#endif
#if OV_TELEMETRY_ABI_VERSION != 1
#error "OV_TELEMETRY_ABI_VERSION is not 1"
#endif

/* C99 has no static assertion: an array of negative size is an error. */
#define OVT_CHECK(name, cond) typedef char ovt_check_##name[(cond) ? 1 : -1]
OVT_CHECK(status_size, sizeof(ov_telemetry_status_e) == 4);
OVT_CHECK(consent_size, sizeof(ov_telemetry_consent_e) == 4);
OVT_CHECK(table_head, offsetof(ov_telemetry_api_t, struct_size) == 4);

#ifdef __cplusplus
extern "C" {
#endif
int ovt_matrix_use(const char *config_dir);
#ifdef __cplusplus
}
#endif

static ov_telemetry_get_api_fn ovt_get_api = ov_telemetry_get_api;

/* A caller following the rules: below 0 fails, 0 and above carries on with the handle. */
int ovt_matrix_use(const char *config_dir) {
    const ov_telemetry_api_t *api = ovt_get_api(OV_TELEMETRY_ABI_VERSION);
    ov_telemetry_t *t = NULL;
    ov_telemetry_status_e status;
    ov_telemetry_consent_e consent;
    uint32_t version = 0;
    int result = 0;
    if (api == NULL) {
        return -1;
    }
    if (OV_TELEMETRY_API_HAS(api, version_number)) {
        version = api->version_number();
    }
    if (version >= OV_TELEMETRY_MAKE_VERSION(1, 1, 0)) {
        result += 1;
    }
    status = api->init_simple("tool", "1.0", "G-XXXXXXXXXX", &t);
    if (status < 0) {
        return (int)status;
    }
    status = api->send_event(t, "c", "a", "l", (int64_t)1);
    if (status == OV_TELEMETRY_STATUS_OK || status > 0) {
        result += 2;
    }
    if (api->shutdown(t, 1000u) >= 0) {
        result += 4;
    }
    if (api->is_enabled(t)) {
        result += 32;
    }
    api->handle_free(t);
    consent = ov_telemetry_get_consent(config_dir);
    if (consent == OV_TELEMETRY_CONSENT_ACCEPTED) {
        result += 8;
    } else if (consent == OV_TELEMETRY_CONSENT_UNDECIDED) {
        result += 16;
    }
    return result + (int)(ov_telemetry_version_number() % 7u);
}
