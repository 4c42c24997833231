/* Canary for scripts/sanitize (not part of ctest): leaks one options object allocated by the
 * Rust library. The library is not instrumented, so this checks that LeakSanitizer and
 * valgrind memcheck do see its allocations; each must report a definite leak and fail. */
#include <stdio.h>

#include "openvino_telemetry.h"

int main(void) {
    ov_telemetry_options_t* opts = NULL;
    if (ov_telemetry_options_create(&opts) != OV_TELEMETRY_STATUS_OK) {
        return 2;
    }
    opts = NULL; /* the only pointer to it is gone: definitely lost */
    printf("leaked one ov_telemetry_options_t\n");
    return 0;
}
