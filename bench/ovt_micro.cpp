// ovt_micro: Google Benchmark cross-check of the send paths (mean cost per call over
// whole timed loops, so no per-call timer cost), through the C ABI.
//
//   OVT_SINK=PATH/loopback_server ovt_micro --benchmark_repetitions=10 ...
//
// send_event with consent (to the loopback sink, queue large enough that nothing is
// dropped: a fixed number of iterations, flushed after each run) and without (disabled
// handle), with 1 and 8 threads on one handle.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "bench_common.hpp"

namespace {

ov_telemetry_t* g_enabled = nullptr;
ov_telemetry_t* g_disabled = nullptr;

void BM_send_enabled(benchmark::State& state) {
    long rejected = 0;
    for (auto _ : state) {
        rejected += ov_telemetry_send_event(g_enabled, "bench", "send_event", "a typical label",
                                            1) != OV_TELEMETRY_STATUS_OK;
    }
    if (state.thread_index() == 0) ov_telemetry_flush(g_enabled, 120000);
    state.counters["rejected"] = benchmark::Counter(static_cast<double>(rejected),
                                                    benchmark::Counter::kAvgThreads);
}

void BM_send_disabled(benchmark::State& state) {
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            ov_telemetry_send_event(g_disabled, "bench", "send_event", "a typical label", 1));
    }
}

}  // namespace

// Enabled: 8 threads x 10,000 calls and 1 x 40,000 stay far below the queue's 1,000,000.
BENCHMARK(BM_send_enabled)->Iterations(40000)->Threads(1)->UseRealTime();
BENCHMARK(BM_send_enabled)->Iterations(10000)->Threads(8)->UseRealTime();
BENCHMARK(BM_send_disabled)->Threads(1)->UseRealTime();
BENCHMARK(BM_send_disabled)->Threads(8)->UseRealTime();

int main(int argc, char** argv) {
    const char* sink_path = std::getenv("OVT_SINK");
    if (sink_path == nullptr) bench::die("set OVT_SINK to the loopback_server binary");
    for (const char* v : {"OPENVINO_TELEMETRY_ENDPOINT", "OPENVINO_TELEMETRY_DEBUG",
                          "OPENVINO_TELEMETRY_DISABLE", "DO_NOT_TRACK", "HTTPS_PROXY",
                          "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"})
        unsetenv(v);
    benchmark::Initialize(&argc, argv);
    auto sink = std::make_unique<bench::Sink>(sink_path, "ok");
    const std::string on = bench::make_config_dir(true);
    const std::string off = bench::make_config_dir(false);
    g_enabled = bench::make_handle({on, sink->url(), 1000000}, OV_TELEMETRY_STATUS_OK);
    g_disabled = bench::make_handle({off, "", 0}, OV_TELEMETRY_STATUS_DISABLED);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    ov_telemetry_shutdown(g_enabled, 5000);
    ov_telemetry_free(g_enabled);
    ov_telemetry_free(g_disabled);
    bench::remove_tree(on);
    bench::remove_tree(off);
    return 0;
}
