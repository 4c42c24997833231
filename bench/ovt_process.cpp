// ovt_process: a whole host process with telemetry, as a tool would use it.
//
//   ovt_process ENDPOINT_URL [--events N] [--timeout-ms T] [--rss]
//
// init (consent from $HOME/intel, the same files the Python client reads) + start_session
// + N events (100) + end_session + shutdown(T = 1000 ms) + free, then exit. It is the
// counterpart of bench/py_process.py. With --rss it prints `vmhwm_kib=<peak RSS>` on stderr
// before exiting.
//
// Built twice: ovt_process (linked to the library) and ovt_process_nolib (-DOVT_NO_LIB: the
// same program without any telemetry, the baseline for the RSS the library adds).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#ifndef OVT_NO_LIB
#include "openvino_telemetry.h"
#endif

namespace {

long vm_hwm_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: ovt_process ENDPOINT_URL [--events N] [--timeout-ms T] [--rss]\n");
        return 2;
    }
    const char* endpoint = argv[1];
    int events = 100;
    unsigned timeout_ms = 1000;
    bool rss = false;
    for (int i = 2; i < argc; ++i) {
        if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) events = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc)
            timeout_ms = static_cast<unsigned>(std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--rss") == 0) rss = true;
    }
    int rc = 0;
#ifndef OVT_NO_LIB
    using Clock = std::chrono::steady_clock;
    const auto us = [](Clock::time_point a, Clock::time_point b) {
        return static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(b - a).count());
    };
    const auto t0 = Clock::now();
    ov_telemetry_options_t* opts = nullptr;
    ov_telemetry_options_create(&opts);
    ov_telemetry_options_set_app(opts, "ovt_process", "1.0.0");
    ov_telemetry_options_set_measurement_id(opts, "G-BENCH00000");
    ov_telemetry_options_set_endpoint(opts, endpoint);
    ov_telemetry_t* t = nullptr;
    const ov_telemetry_status_e st = ov_telemetry_init(opts, &t);
    ov_telemetry_options_free(opts);
    if (st != OV_TELEMETRY_STATUS_OK) {
        std::fprintf(stderr, "ovt_process: init -> %d (%s)\n", static_cast<int>(st),
                     ov_telemetry_last_error());
        return 1;
    }
    const auto t1 = Clock::now();
    ov_telemetry_start_session(t, "ovt_process");
    for (int i = 0; i < events; ++i) {
        if (ov_telemetry_send_event(t, "ovt_process", "step", "a typical label", i) !=
            OV_TELEMETRY_STATUS_OK)
            rc = 1;
    }
    ov_telemetry_end_session(t, "ovt_process");
    const auto t2 = Clock::now();
    const ov_telemetry_status_e sd = ov_telemetry_shutdown(t, timeout_ms);
    const auto t3 = Clock::now();
    if (sd != OV_TELEMETRY_STATUS_OK && sd != OV_TELEMETRY_STATUS_TIMEOUT) rc = 1;
    ov_telemetry_free(t);
    if (std::getenv("OVT_BENCH_VERBOSE") != nullptr)
        std::fprintf(stderr, "ovt_process: init %ld us, sends %ld us, shutdown %ld us (%s), free %ld us\n",
                     us(t0, t1), us(t1, t2), us(t2, t3), ov_telemetry_status_message(sd),
                     us(t3, Clock::now()));
#else
    (void)endpoint;
    (void)events;
    (void)timeout_ms;
#endif
    if (rss) std::fprintf(stderr, "vmhwm_kib=%ld\n", vm_hwm_kib());
    return rc;
}
