// ovt_bench: what telemetry costs the host program, measured through the C ABI.
//
//   ovt_bench --sink PATH/loopback_server --out results.json [--quick] [--only NAME[,NAME]]
//
// Figures (names as in the JSON):
//   timer               cost of one steady_clock::now() pair (subtracted from per-call samples)
//   send_enabled_1t     per-call latency of ov_telemetry_send_event, consent given, 1 thread
//   send_enabled_8t     the same, 8 threads on one handle
//   send_disabled_1t    per-call cost on a disabled handle (consent declined), from batches
//   send_disabled_8t    the same, 8 threads
//   init                ov_telemetry_init with consent stored (files, client id, stats, thread)
//   init_crash_reports  the same with ov_telemetry_options_set_crash_reports(opts, true),
//                       timed in the same loop (alternating), so the difference of the two
//                       is what crash reports add to init (handlers, alternate stack check;
//                       the module snapshot is rebuilt only when modules were loaded since)
//   shutdown_idle       ov_telemetry_shutdown of a handle with nothing pending (flushed, then
//                       2 ms for the worker to park), and the ov_telemetry_free after it
//   flush_1000          ov_telemetry_flush right after 1,000 sends to the loopback sink
//   throughput          delivery to the loopback sink: events/s, requests/s, bytes/event,
//                       CPU of the sink process and of the library's worker thread
//
// Every sample set is reported as count, min, p50, p90, p99, max (ns unless the key says
// otherwise). The sink is the loopback test server (tests/loopback) run as a child process on
// 127.0.0.1.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_common.hpp"

using namespace bench;

namespace {

// --- JSON output -------------------------------------------------------------------------

struct Figure {
    std::vector<std::pair<std::string, std::string>> fields;
    void num(const std::string& k, double v) {
        char buf[64];
        if (std::isfinite(v)) std::snprintf(buf, sizeof buf, "%.6g", v);
        else std::snprintf(buf, sizeof buf, "null");
        fields.emplace_back(k, buf);
    }
    void str(const std::string& k, const std::string& v) { fields.emplace_back(k, "\"" + v + "\""); }
    void dist(const std::string& prefix, std::vector<double> v) {
        num(prefix + "count", static_cast<double>(v.size()));
        double sum = 0;
        for (double x : v) sum += x;
        num(prefix + "mean", v.empty() ? 0 : sum / static_cast<double>(v.size()));
        num(prefix + "min", percentile(v, 0));
        num(prefix + "p50", percentile(v, 50));
        num(prefix + "p90", percentile(v, 90));
        num(prefix + "p99", percentile(v, 99));
        num(prefix + "p999", percentile(v, 99.9));
        num(prefix + "max", v.empty() ? 0 : v.back());
    }
};

std::vector<std::pair<std::string, Figure>> g_figures;

Figure& figure(const std::string& name) {
    g_figures.emplace_back(name, Figure{});
    std::fprintf(stderr, "[ovt_bench] %s\n", name.c_str());
    return g_figures.back().second;
}

void write_json(const std::string& path) {
    std::ostringstream o;
    o << "{\n";
    for (std::size_t i = 0; i < g_figures.size(); ++i) {
        o << "  \"" << g_figures[i].first << "\": {";
        const auto& f = g_figures[i].second.fields;
        for (std::size_t k = 0; k < f.size(); ++k)
            o << (k ? ", " : "") << "\"" << f[k].first << "\": " << f[k].second;
        o << "}" << (i + 1 < g_figures.size() ? "," : "") << "\n";
    }
    o << "}\n";
    FILE* fp = std::fopen(path.c_str(), "w");
    if (fp == nullptr) die("cannot write " + path);
    std::fputs(o.str().c_str(), fp);
    std::fclose(fp);
}

// --- settings ----------------------------------------------------------------------------

struct Settings {
    std::string sink;
    std::string out = "ovt_bench.json";
    bool quick = false;
    std::set<std::string> only;
    bool wants(const std::string& name) const { return only.empty() || only.count(name) > 0; }
};

double g_timer_ns = 0;  // median cost of a now() pair

const char* const kCategory = "bench";
const char* const kAction = "send_event";
const char* const kLabel = "a typical label";

struct StatusCount {
    std::atomic<long> ok{0}, queue_full{0}, disabled{0}, other{0};
    void add(ov_telemetry_status_e st) {
        switch (st) {
            case OV_TELEMETRY_STATUS_OK: ok.fetch_add(1, std::memory_order_relaxed); break;
            case OV_TELEMETRY_STATUS_QUEUE_FULL: queue_full.fetch_add(1, std::memory_order_relaxed); break;
            case OV_TELEMETRY_STATUS_DISABLED: disabled.fetch_add(1, std::memory_order_relaxed); break;
            default: other.fetch_add(1, std::memory_order_relaxed); break;
        }
    }
    void report(Figure& f) const {
        f.num("status_ok", static_cast<double>(ok.load()));
        f.num("status_queue_full", static_cast<double>(queue_full.load()));
        f.num("status_disabled", static_cast<double>(disabled.load()));
        f.num("status_other", static_cast<double>(other.load()));
    }
};

void measure_timer() {
    std::vector<double> v;
    v.reserve(200000);
    for (int i = 0; i < 200000; ++i) {
        const auto a = Clock::now();
        const auto b = Clock::now();
        v.push_back(ns_since(a, b));
    }
    Figure& f = figure("timer");
    g_timer_ns = percentile(v, 50);
    f.dist("ns_", v);
}

// A simple start line for threads of one round.
class StartLine {
public:
    explicit StartLine(int n) : waiting_(n) {}
    void arrive_and_wait() {
        waiting_.fetch_sub(1);
        while (waiting_.load() > 0) std::this_thread::yield();
    }

private:
    std::atomic<int> waiting_;
};

// Per-call latency with consent: every call timed on its own (timer cost subtracted).
void bench_send_enabled(const Settings& s, int threads) {
    const int rounds = s.quick ? 2 : 5;
    const int calls = (s.quick ? 20000 : 80000) / threads;  // per thread per round
    Sink sink(s.sink, "ok");
    const std::string dir = make_config_dir(true);
    ov_telemetry_t* t = make_handle({dir, sink.url(), 1000000}, OV_TELEMETRY_STATUS_OK);
    // Warm-up: connection, allocator, caches.
    for (int i = 0; i < 2000; ++i) ov_telemetry_send_event(t, kCategory, kAction, kLabel, i);
    if (ov_telemetry_flush(t, 60000) != OV_TELEMETRY_STATUS_OK) die("warm-up flush");

    StatusCount statuses;
    std::vector<std::vector<double>> per_thread(static_cast<std::size_t>(threads));
    for (auto& v : per_thread) v.reserve(static_cast<std::size_t>(rounds * calls));
    std::vector<double> flush_ms;
    const auto wall0 = Clock::now();
    for (int r = 0; r < rounds; ++r) {
        StartLine start(threads);
        std::vector<std::thread> pool;
        for (int k = 0; k < threads; ++k) {
            pool.emplace_back([&, k] {
                auto& v = per_thread[static_cast<std::size_t>(k)];
                start.arrive_and_wait();
                for (int i = 0; i < calls; ++i) {
                    const auto a = Clock::now();
                    const ov_telemetry_status_e st =
                        ov_telemetry_send_event(t, kCategory, kAction, kLabel, i);
                    const auto b = Clock::now();
                    v.push_back(std::max(0.0, ns_since(a, b) - g_timer_ns));
                    statuses.add(st);
                }
            });
        }
        for (auto& th : pool) th.join();
        const auto f0 = Clock::now();
        if (ov_telemetry_flush(t, 120000) != OV_TELEMETRY_STATUS_OK) die("flush between rounds");
        flush_ms.push_back(ns_since(f0, Clock::now()) / 1e6);
    }
    const double wall_s = ns_since(wall0, Clock::now()) / 1e9;
    std::vector<double> all;
    for (auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
    Figure& f = figure(threads == 1 ? "send_enabled_1t" : "send_enabled_" + std::to_string(threads) + "t");
    f.num("threads", threads);
    f.num("rounds", rounds);
    f.num("calls_per_thread_per_round", calls);
    f.num("timer_ns_subtracted", g_timer_ns);
    f.dist("ns_", all);
    // Median of each round's p50 / p99, to show the spread between rounds.
    std::vector<double> round_p50, round_p99;
    for (int r = 0; r < rounds; ++r) {
        std::vector<double> v;
        for (auto& pt : per_thread)
            v.insert(v.end(), pt.begin() + r * calls, pt.begin() + (r + 1) * calls);
        round_p50.push_back(percentile(v, 50));
        round_p99.push_back(percentile(v, 99));
    }
    f.num("round_p50_min", percentile(round_p50, 0));
    f.num("round_p50_max", round_p50.back());
    f.num("round_p99_min", percentile(round_p99, 0));
    f.num("round_p99_max", round_p99.back());
    f.num("wall_s", wall_s);
    statuses.report(f);
    ov_telemetry_shutdown(t, 5000);
    ov_telemetry_free(t);
    remove_tree(dir);
}

// Disabled path: too fast to time call by call; batches of 1,000 calls, per-call mean.
void bench_send_disabled(const Settings& s, int threads) {
    const int batches = s.quick ? 500 : 4000;  // per thread
    const int batch = 1000;
    const std::string dir = make_config_dir(false);
    ov_telemetry_t* t = make_handle({dir, "", 0}, OV_TELEMETRY_STATUS_DISABLED);
    for (int i = 0; i < 100000; ++i) ov_telemetry_send_event(t, kCategory, kAction, kLabel, i);
    StatusCount statuses;
    std::vector<std::vector<double>> per_thread(static_cast<std::size_t>(threads));
    StartLine start(threads);
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; ++k) {
        pool.emplace_back([&, k] {
            auto& v = per_thread[static_cast<std::size_t>(k)];
            v.reserve(static_cast<std::size_t>(batches));
            long disabled = 0;
            start.arrive_and_wait();
            for (int b = 0; b < batches; ++b) {
                const auto a = Clock::now();
                for (int i = 0; i < batch; ++i)
                    disabled += ov_telemetry_send_event(t, kCategory, kAction, kLabel, i) ==
                                OV_TELEMETRY_STATUS_DISABLED;
                const auto e = Clock::now();
                v.push_back(ns_since(a, e) / batch);
            }
            statuses.disabled.fetch_add(disabled);
            statuses.other.fetch_add(static_cast<long>(batches) * batch - disabled);
        });
    }
    for (auto& th : pool) th.join();
    std::vector<double> all;
    for (auto& v : per_thread) all.insert(all.end(), v.begin(), v.end());
    Figure& f = figure(threads == 1 ? "send_disabled_1t" : "send_disabled_" + std::to_string(threads) + "t");
    f.num("threads", threads);
    f.num("batch_calls", batch);
    f.dist("ns_per_call_", all);
    statuses.report(f);
    ov_telemetry_shutdown(t, 1000);
    ov_telemetry_free(t);
    remove_tree(dir);
}

void bench_init_shutdown(const Settings& s) {
    const int n = s.quick ? 50 : 300;
    Sink sink(s.sink, "ok");
    const std::string dir = make_config_dir(true);
    ov_telemetry_options_t* opts = make_options({dir, sink.url(), 0});
    ov_telemetry_options_t* crash_opts = make_options({dir, sink.url(), 0});
    if (ov_telemetry_options_set_crash_reports(crash_opts, true) != OV_TELEMETRY_STATUS_OK)
        die("options_set_crash_reports");
    std::vector<double> init_ns, shutdown_ns, free_ns, crash_init_ns, crash_shutdown_ns;
    for (int i = -10; i < n; ++i) {  // 10 warm-up iterations
        for (int crash = 0; crash < 2; ++crash) {  // alternate: same conditions for both
            ov_telemetry_t* t = nullptr;
            const auto a = Clock::now();
            const ov_telemetry_status_e st = ov_telemetry_init(crash ? crash_opts : opts, &t);
            const auto b = Clock::now();
            if (st != OV_TELEMETRY_STATUS_OK) die("init");
            // Make the handle idle: whatever init left to the worker is done (flush returns
            // when nothing is pending), then let the worker park.
            if (ov_telemetry_flush(t, 5000) != OV_TELEMETRY_STATUS_OK) die("flush before shutdown");
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            const auto c = Clock::now();
            const ov_telemetry_status_e sd = ov_telemetry_shutdown(t, 1000);
            const auto d = Clock::now();
            ov_telemetry_free(t);
            const auto e = Clock::now();
            if (sd != OV_TELEMETRY_STATUS_OK) die("idle shutdown");
            if (i < 0) continue;
            if (crash) {
                crash_init_ns.push_back(ns_since(a, b));
                crash_shutdown_ns.push_back(ns_since(c, d));
            } else {
                init_ns.push_back(ns_since(a, b));
                shutdown_ns.push_back(ns_since(c, d));
                free_ns.push_back(ns_since(d, e));
            }
        }
    }
    ov_telemetry_options_free(opts);
    ov_telemetry_options_free(crash_opts);
    std::ifstream stats(dir + "/stats");
    std::string stats_text((std::istreambuf_iterator<char>(stats)), std::istreambuf_iterator<char>());
    remove_tree(dir);
    {
        Figure& f = figure("init");
        f.dist("ns_", init_ns);
        f.str("note", "consent stored; client id present after the first; stats +1 each");
    }
    {
        Figure& f = figure("init_crash_reports");
        f.dist("ns_", crash_init_ns);
        f.dist("shutdown_ns_", crash_shutdown_ns);
        f.str("note", "as init, with crash reports on; alternating with init in one loop");
    }
    {
        Figure& f = figure("shutdown_idle");
        f.dist("ns_", shutdown_ns);
        f.dist("free_ns_", free_ns);
    }
    (void)stats_text;
}

void bench_flush_1000(const Settings& s) {
    const int n = s.quick ? 5 : 20;
    Sink sink(s.sink, "ok");
    const std::string dir = make_config_dir(true);
    std::vector<double> flush_ms, total_ms, enqueue_ms;
    StatusCount statuses;
    for (int i = -2; i < n; ++i) {
        ov_telemetry_t* t = make_handle({dir, sink.url(), 0}, OV_TELEMETRY_STATUS_OK);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const Sink::Stats s0 = sink.stats();
        const auto a = Clock::now();
        for (int k = 0; k < 1000; ++k)
            statuses.add(ov_telemetry_send_event(t, kCategory, kAction, kLabel, k));
        const auto b = Clock::now();
        const ov_telemetry_status_e st = ov_telemetry_flush(t, 60000);
        const auto c = Clock::now();
        const Sink::Stats s1 = sink.stats();
        if (st != OV_TELEMETRY_STATUS_OK) die("flush_1000");
        ov_telemetry_shutdown(t, 1000);
        ov_telemetry_free(t);
        if (i < 0) continue;
        if (s1.events - s0.events < 1000) die("flush returned before the sink had 1000 events");
        enqueue_ms.push_back(ns_since(a, b) / 1e6);
        flush_ms.push_back(ns_since(b, c) / 1e6);
        total_ms.push_back(ns_since(a, c) / 1e6);
    }
    remove_tree(dir);
    Figure& f = figure("flush_1000");
    f.dist("flush_ms_", flush_ms);
    f.dist("enqueue_ms_", enqueue_ms);
    f.dist("total_ms_", total_ms);
    statuses.report(f);
}

void bench_throughput(const Settings& s) {
    const int runs = s.quick ? 1 : 3;
    const int events = s.quick ? 20000 : 100000;
    Sink sink(s.sink, "ok");
    const std::string dir = make_config_dir(true);
    std::vector<double> eps, rps, bpe, body_bpe, srv_cpu, worker_cpu, secs;
    StatusCount statuses;
    for (int r = 0; r < runs; ++r) {
        ov_telemetry_t* t = make_handle({dir, sink.url(), static_cast<std::uint32_t>(events)},
                                        OV_TELEMETRY_STATUS_OK);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        const Sink::Stats s0 = sink.stats();
        const double srv0 = proc_cpu_seconds("/proc/" + std::to_string(sink.pid()) + "/stat");
        const double wk0 = threads_cpu_seconds("ov-telemetry");
        const auto a = Clock::now();
        for (int k = 0; k < events; ++k)
            statuses.add(ov_telemetry_send_event(t, kCategory, kAction, kLabel, k));
        const ov_telemetry_status_e st = ov_telemetry_flush(t, 300000);
        const double sec = ns_since(a, Clock::now()) / 1e9;
        const double wk1 = threads_cpu_seconds("ov-telemetry");
        const double srv1 = proc_cpu_seconds("/proc/" + std::to_string(sink.pid()) + "/stat");
        const Sink::Stats s1 = sink.stats();
        if (st != OV_TELEMETRY_STATUS_OK) die("throughput flush");
        ov_telemetry_shutdown(t, 1000);
        ov_telemetry_free(t);
        const double ev = static_cast<double>(s1.events - s0.events);
        const double rq = static_cast<double>(s1.requests - s0.requests);
        secs.push_back(sec);
        eps.push_back(ev / sec);
        rps.push_back(rq / sec);
        bpe.push_back(static_cast<double>(s1.bytes - s0.bytes) / ev);
        body_bpe.push_back(static_cast<double>(s1.body_bytes - s0.body_bytes) / ev);
        srv_cpu.push_back((srv1 - srv0) / sec);
        worker_cpu.push_back((wk1 - wk0) / sec);
        if (ev < events) die("the sink received fewer events than were sent");
    }
    remove_tree(dir);
    Figure& f = figure("throughput");
    f.num("events_per_run", events);
    f.dist("events_per_s_", eps);
    f.dist("requests_per_s_", rps);
    f.dist("bytes_per_event_", bpe);
    f.dist("body_bytes_per_event_", body_bpe);
    f.dist("sink_cpu_fraction_", srv_cpu);
    f.dist("worker_cpu_fraction_", worker_cpu);
    f.dist("seconds_", secs);
    statuses.report(f);
}

}  // namespace

int main(int argc, char** argv) {
    Settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--sink" && i + 1 < argc) s.sink = argv[++i];
        else if (a == "--out" && i + 1 < argc) s.out = argv[++i];
        else if (a == "--quick") s.quick = true;
        else if (a == "--only" && i + 1 < argc) {
            std::stringstream list(argv[++i]);
            std::string name;
            while (std::getline(list, name, ',')) s.only.insert(name);
        } else {
            std::fprintf(stderr, "usage: ovt_bench --sink PATH [--out FILE] [--quick] [--only a,b]\n");
            return 2;
        }
    }
    if (s.sink.empty()) die("--sink is required");
    // The endpoint must come from the options: no environment override, no proxy.
    for (const char* v : {"OPENVINO_TELEMETRY_ENDPOINT", "OPENVINO_TELEMETRY_DEBUG",
                          "OPENVINO_TELEMETRY_DISABLE", "DO_NOT_TRACK", "HTTPS_PROXY",
                          "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"})
        unsetenv(v);

    measure_timer();
    if (s.wants("send_enabled_1t")) bench_send_enabled(s, 1);
    if (s.wants("send_enabled_8t")) bench_send_enabled(s, 8);
    if (s.wants("send_disabled_1t")) bench_send_disabled(s, 1);
    if (s.wants("send_disabled_8t")) bench_send_disabled(s, 8);
    if (s.wants("init") || s.wants("shutdown_idle")) bench_init_shutdown(s);
    if (s.wants("flush_1000")) bench_flush_1000(s);
    if (s.wants("throughput")) bench_throughput(s);
    write_json(s.out);
    return 0;
}
