/* The Windows crasher (mingw): `crasher_win segv DIR` writes through a null pointer with
 * crash reports on; `crasher_win run DIR` delivers waiting records and exits 0.
 * Run by hand under Wine (see tests/crash_programs/wine-check.sh); the automated Wine
 * test comes with the Wine test infrastructure. */
#include <stdio.h>
#include <string.h>
#include "openvino_telemetry.h"

__attribute__((noinline)) void crash_null_write(void) {
    volatile int* volatile p = 0;
    *p = 42;
}

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    ov_telemetry_options_t* opts = NULL;
    ov_telemetry_options_create(&opts);
    ov_telemetry_options_set_app(opts, "crasher", "1.2.3");
    ov_telemetry_options_set_measurement_id(opts, "G-CRASHTEST");
    ov_telemetry_options_set_config_dir(opts, argv[2]);
    ov_telemetry_options_set_crash_reports(opts, true);
    ov_telemetry_t* t = NULL;
    int status = ov_telemetry_init(opts, &t);
    ov_telemetry_options_free(opts);
    printf("init %d\n", status);
    fflush(stdout);
    if (strcmp(argv[1], "run") == 0) {
        printf("flush %d\n", ov_telemetry_flush(t, 10000));
        ov_telemetry_free(t);
        return 0;
    }
    crash_null_write();
    return 3;
}
