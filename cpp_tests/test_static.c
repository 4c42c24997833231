/* Links openvino::telemetry_static (libopenvino_telemetry.a plus the system libraries its
 * imported target names) into a C program: proves that link line is complete. */
#include <stdio.h>
#include <string.h>

#include "openvino_telemetry.h"

int main(void) {
    const char *v = ov_telemetry_version();
    if (v == NULL || strcmp(v, OV_TELEMETRY_VERSION) != 0) {
        fprintf(stderr, "version mismatch: %s vs %s\n", v ? v : "(null)", OV_TELEMETRY_VERSION);
        return 1;
    }
    if (ov_telemetry_options_create(NULL) != OV_TELEMETRY_STATUS_INVALID_ARGUMENT) {
        fprintf(stderr, "options_create(NULL) did not fail\n");
        return 1;
    }
    if (ov_telemetry_version_number() != OV_TELEMETRY_VERSION_NUMBER) {
        fprintf(stderr, "version number mismatch: %u vs %u\n", (unsigned)ov_telemetry_version_number(),
                (unsigned)OV_TELEMETRY_VERSION_NUMBER);
        return 1;
    }
    if (ov_telemetry_get_api(OV_TELEMETRY_ABI_VERSION) == NULL) {
        fprintf(stderr, "no API table\n");
        return 1;
    }
    printf("static openvino_telemetry %s\n", v);
    return 0;
}
