/* A stand-in whose ov_telemetry_get_api returns a table shorter than ABI version 1: a
 * broken or pre-release library. The loader must refuse it without calling any entry. */
#include <stddef.h>

#include "openvino_telemetry.h"

static ov_telemetry_status_e never_called(ov_telemetry_options_t** out) {
    (void)out;
    return OV_TELEMETRY_STATUS_INTERNAL_ERROR;
}

const ov_telemetry_api_t* ov_telemetry_get_api(uint32_t abi_version);
const ov_telemetry_api_t* ov_telemetry_get_api(uint32_t abi_version) {
    static ov_telemetry_api_t table;
    if (abi_version != 1) {
        return NULL;
    }
    table.abi_version = 1;
    /* abi_version, struct_size and one entry only */
    table.struct_size = (uint32_t)(offsetof(ov_telemetry_api_t, options_create) + sizeof table.options_create);
    table.options_create = never_called;
    return &table;
}
