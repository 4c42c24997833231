// Helpers shared by the benchmark programs: temporary config directories with a stored
// consent decision, handle creation through the C API, the sink server as a child process,
// CPU time from /proc, and percentiles.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "openvino_telemetry.h"

extern char** environ;

namespace bench {

using Clock = std::chrono::steady_clock;

inline double ns_since(Clock::time_point t0, Clock::time_point t1) {
    return std::chrono::duration<double, std::nano>(t1 - t0).count();
}

[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "bench: %s (last_error: %s)\n", what.c_str(), ov_telemetry_last_error());
    std::exit(1);
}

// A fresh directory under $OVT_BENCH_TMP (default /tmp) holding the consent decision.
inline std::string make_config_dir(bool consent) {
    const char* base = std::getenv("OVT_BENCH_TMP");
    std::string pattern = std::string(base != nullptr && *base ? base : "/tmp") + "/ovt-bench.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) die("mkdtemp " + pattern);
    const std::string dir(buf.data());
    if (ov_telemetry_set_consent(dir.c_str(), consent) != OV_TELEMETRY_STATUS_OK)
        die("set_consent in " + dir);
    return dir;
}

inline void remove_tree(const std::string& dir) {
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            std::remove((dir + "/" + name).c_str());
        }
        closedir(d);
    }
    rmdir(dir.c_str());
}

struct HandleOptions {
    std::string config_dir;
    std::string endpoint;  // empty: the option is not set (never used by the benchmarks)
    std::uint32_t capacity = 0;  // 0: the library's default
};

inline ov_telemetry_options_t* make_options(const HandleOptions& h) {
    ov_telemetry_options_t* opts = nullptr;
    if (ov_telemetry_options_create(&opts) != OV_TELEMETRY_STATUS_OK) die("options_create");
    if (ov_telemetry_options_set_app(opts, "ovt_bench", "1.0.0") != OV_TELEMETRY_STATUS_OK ||
        ov_telemetry_options_set_measurement_id(opts, "G-BENCH00000") != OV_TELEMETRY_STATUS_OK ||
        ov_telemetry_options_set_config_dir(opts, h.config_dir.c_str()) != OV_TELEMETRY_STATUS_OK)
        die("options_set_*");
    if (!h.endpoint.empty() &&
        ov_telemetry_options_set_endpoint(opts, h.endpoint.c_str()) != OV_TELEMETRY_STATUS_OK)
        die("options_set_endpoint " + h.endpoint);
    if (h.capacity != 0 &&
        ov_telemetry_options_set_queue_capacity(opts, h.capacity) != OV_TELEMETRY_STATUS_OK)
        die("options_set_queue_capacity");
    return opts;
}

// init; `expect` is OK (consent) or DISABLED (declined).
inline ov_telemetry_t* make_handle(const HandleOptions& h, ov_telemetry_status_e expect) {
    ov_telemetry_options_t* opts = make_options(h);
    ov_telemetry_t* t = nullptr;
    const ov_telemetry_status_e st = ov_telemetry_init(opts, &t);
    ov_telemetry_options_free(opts);
    if (st != expect || t == nullptr)
        die("init returned " + std::to_string(static_cast<int>(st)) + ", expected " +
            std::to_string(static_cast<int>(expect)));
    return t;
}

// The sink: the loopback test server's binary (tests/loopback, `loopback_server`) as a child
// process; "stats" on its stdin prints a line of counters on its stdout.
class Sink {
public:
    Sink(const std::string& binary, const std::string& mode) {
        int in[2], out[2];
        if (pipe(in) != 0 || pipe(out) != 0) die("pipe");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        for (int fd : {in[0], in[1], out[0], out[1]}) posix_spawn_file_actions_addclose(&fa, fd);
        std::vector<char*> argv = {const_cast<char*>(binary.c_str()), const_cast<char*>("--mode"),
                                   const_cast<char*>(mode.c_str()), nullptr};
        if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ) != 0)
            die("spawn " + binary);
        posix_spawn_file_actions_destroy(&fa);
        close(in[0]);
        close(out[1]);
        in_ = fdopen(in[1], "w");
        out_ = fdopen(out[0], "r");
        port_ = std::stoi(line());
    }
    ~Sink() {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
        std::fclose(in_);
        std::fclose(out_);
    }
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    pid_t pid() const { return pid_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mp/collect"; }

    struct Stats {
        std::uint64_t connections = 0, requests = 0, events = 0, bytes = 0, body_bytes = 0;
    };
    Stats stats() {
        std::fputs("stats\n", in_);
        std::fflush(in_);
        const std::string l = line();
        Stats s;
        std::sscanf(l.c_str(),
                    "stats connections=%lu requests=%lu events=%lu bytes=%lu body_bytes=%lu",
                    &s.connections, &s.requests, &s.events, &s.bytes, &s.body_bytes);
        return s;
    }

private:
    std::string line() {
        char buf[512];
        if (std::fgets(buf, sizeof buf, out_) == nullptr) return std::string();
        return std::string(buf);
    }
    pid_t pid_ = 0;
    FILE* in_ = nullptr;
    FILE* out_ = nullptr;
    int port_ = 0;
};

// utime + stime of a process or thread, in seconds, from /proc/<path>/stat.
inline double proc_cpu_seconds(const std::string& stat_path) {
    std::ifstream f(stat_path);
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const std::size_t close = s.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream rest(s.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
        if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of this process's threads called `comm` (e.g. the library's "ov-telemetry").
inline double threads_cpu_seconds(const std::string& comm) {
    double total = 0;
    if (DIR* d = opendir("/proc/self/task")) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            const std::string base = std::string("/proc/self/task/") + e->d_name;
            std::ifstream c(base + "/comm");
            std::string name;
            std::getline(c, name);
            if (name == comm) total += proc_cpu_seconds(base + "/stat");
        }
        closedir(d);
    }
    return total;
}

inline double self_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Nearest-rank percentile of `v` (sorted in place).
inline double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.5);
    rank = std::min(std::max<std::size_t>(rank, 1), v.size());
    return v[rank - 1];
}

// Peak resident set size of this process in KiB (VmHWM).
inline long vm_hwm_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

}  // namespace bench
