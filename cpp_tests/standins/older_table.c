/* A stand-in for an older library: the real library's table, but with the struct_size of a
 * release that ended at `version` (before ov_telemetry_get_counters was appended). The
 * caller must not call a field its struct_size does not cover. */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "openvino_telemetry.h"

const ov_telemetry_api_t* ov_telemetry_get_api(uint32_t abi_version);
const ov_telemetry_api_t* ov_telemetry_get_api(uint32_t abi_version) {
    static ov_telemetry_api_t table;
    static int ready = 0;
    if (abi_version != 1) {
        return NULL;
    }
    if (!ready) {
        void* real = dlopen(OVT_REAL_LIB, RTLD_NOW | RTLD_LOCAL);
        if (real == NULL) {
            return NULL;
        }
        const ov_telemetry_api_t* (*get_api)(uint32_t);
        void* sym = dlsym(real, "ov_telemetry_get_api");
        if (sym == NULL) {
            return NULL;
        }
        memcpy(&get_api, &sym, sizeof get_api);
        const ov_telemetry_api_t* api = get_api(1);
        if (api == NULL) {
            return NULL;
        }
        memcpy(&table, api, sizeof table);
        table.struct_size = (uint32_t)(offsetof(ov_telemetry_api_t, version) + sizeof table.version);
        /* What an older library does not have is not there: a call would crash. */
        memset((char*)&table + table.struct_size, 0, sizeof table - table.struct_size);
        ready = 1;
    }
    return &table;
}
