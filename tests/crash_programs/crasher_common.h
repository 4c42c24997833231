/* What the crashers share (crasher.c on Unix, crasher_win.c under Wine): the fault they
 * cause, telemetry initialised with crash reports on, and the `run` mode that delivers the
 * records an earlier crash left. */
#ifndef CRASHER_COMMON_H
#define CRASHER_COMMON_H

#include <stdio.h>

#include "openvino_telemetry.h"

__attribute__((noinline)) void crash_null_write(void) {
    volatile int* volatile p = NULL;
    *p = 42;
}

/* Initialises telemetry for app "crasher" 1.2.3 with crash reports on and the config
 * directory `config_dir`, and prints "init <status>". */
static ov_telemetry_t* crasher_init(const char* config_dir) {
    ov_telemetry_options_t* opts = NULL;
    ov_telemetry_options_create(&opts);
    ov_telemetry_options_set_app(opts, "crasher", "1.2.3");
    ov_telemetry_options_set_measurement_id(opts, "G-CRASHTEST");
    ov_telemetry_options_set_config_dir(opts, config_dir);
    ov_telemetry_options_set_crash_reports(opts, true);
    ov_telemetry_t* t = NULL;
    int status = ov_telemetry_init(opts, &t);
    ov_telemetry_options_free(opts);
    printf("init %d\n", status);
    fflush(stdout);
    return t;
}

/* The `run` mode: flushes (delivering earlier crash records), frees the handle and prints
 * "flush <status>". Returns the exit code, 0. */
static int crasher_run(ov_telemetry_t* t) {
    int flushed = ov_telemetry_flush(t, 10000);
    ov_telemetry_free(t);
    printf("flush %d\n", flushed);
    return 0;
}

#endif
