/* Loads openvino_telemetry.dll at run time the way a plugin host does on Windows:
 * LoadLibrary + GetProcAddress("ov_telemetry_get_api") only, then drives the function
 * table: version, consent set/get in the directory given as argv[1], status messages.
 * Built with mingw and run under Wine by scripts/check-platforms. Exit 0 = all held. */
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "openvino_telemetry.h"

typedef const ov_telemetry_api_t *(*get_api_fn)(uint32_t);

#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond)) {                                               \
            fprintf(stderr, "loadlibrary: failed: %s (line %d)\n", #cond, __LINE__); \
            return 1;                                                \
        }                                                            \
    } while (0)

int main(int argc, char **argv) {
    CHECK(argc == 2);
    HMODULE dll = LoadLibraryA("openvino_telemetry.dll");
    CHECK(dll != NULL);
    get_api_fn get_api = (get_api_fn)(void (*)(void))GetProcAddress(dll, "ov_telemetry_get_api");
    CHECK(get_api != NULL);
    CHECK(get_api(OV_TELEMETRY_ABI_VERSION + 1000) == NULL);
    const ov_telemetry_api_t *api = get_api(OV_TELEMETRY_ABI_VERSION);
    CHECK(api != NULL);
    CHECK(api->abi_version == OV_TELEMETRY_ABI_VERSION);
    CHECK(api->struct_size >= sizeof(ov_telemetry_api_t));
    CHECK(strcmp(api->version(), OV_TELEMETRY_VERSION) == 0);
    /* Internal (Rust) symbols are not exported. */
    CHECK(GetProcAddress(dll, "rust_begin_unwind") == NULL);
    CHECK(api->get_consent(argv[1]) == OV_TELEMETRY_CONSENT_UNDECIDED);
    CHECK(api->set_consent(argv[1], true) == OV_TELEMETRY_STATUS_OK);
    CHECK(api->get_consent(argv[1]) == OV_TELEMETRY_CONSENT_ACCEPTED);
    CHECK(api->set_consent(argv[1], false) == OV_TELEMETRY_STATUS_OK);
    CHECK(api->get_consent(argv[1]) == OV_TELEMETRY_CONSENT_DECLINED);
    CHECK(api->status_message(OV_TELEMETRY_STATUS_OK) != NULL);
    CHECK(FreeLibrary(dll));
    printf("loadlibrary: OK (%s)\n", OV_TELEMETRY_VERSION);
    return 0;
}
