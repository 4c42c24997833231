// Issue #5, item 3: 1,000 dlopen/dlclose cycles, each one loading the library by path, using
// only the table from ov_telemetry_get_api (options with a consent-accepted config dir and a
// loopback endpoint, init, send_event, shutdown, free) and unloading it again. No crash, every
// event delivered exactly once, and no growth in the process's threads or file descriptors.
//
// This executable is NOT linked to the library (OVT_LIB_PATH is a compile definition); the
// header is included for the types alone. The library is linked -z nodelete, so it stays
// mapped after the first dlclose and later dlopen calls only take a reference; each handle's
// worker thread ends after shutdown (possibly a moment after shutdown returns), which is why
// the final counts are polled with a deadline.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "loopback_server.hpp"
#include "openvino_telemetry.h"
#include "test_support.hpp"

#ifndef OVT_LIB_PATH
#error "OVT_LIB_PATH must name the shared library to dlopen"
#endif

namespace {

using GetApi = const ov_telemetry_api_t* (*)(std::uint32_t);

constexpr int kCycles = 1000;
constexpr std::size_t kMaxThreadGrowth = 2;
constexpr std::size_t kMaxFdGrowth = 4;

// Open file descriptors of this process. The directory stream's own descriptor is listed too;
// it is there on every call, so differences are exact.
std::size_t fd_count() {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
        (void)entry;
        ++n;
    }
    return n;
}

// dlopen by path + dlsym("ov_telemetry_get_api") + get_api(1); dlclose on destruction.
class Library {
public:
    Library() {
        handle_ = dlopen(OVT_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
        if (handle_ == nullptr) {
            const char* e = dlerror();
            error_ = std::string("dlopen: ") + (e != nullptr ? e : "?");
            return;
        }
        dlerror();
        void* sym = dlsym(handle_, "ov_telemetry_get_api");
        if (sym == nullptr) {
            const char* e = dlerror();
            error_ = std::string("dlsym: ") + (e != nullptr ? e : "ov_telemetry_get_api is NULL");
            return;
        }
        api_ = reinterpret_cast<GetApi>(sym)(OV_TELEMETRY_ABI_VERSION);
        if (api_ == nullptr) error_ = "ov_telemetry_get_api(1) returned NULL";
    }
    ~Library() { close(); }
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    // dlclose now; returns its result (0 on success, also when already closed).
    int close() {
        int rc = 0;
        if (handle_ != nullptr) {
            rc = dlclose(handle_);
            handle_ = nullptr;
            api_ = nullptr;
        }
        return rc;
    }

    const ov_telemetry_api_t* api() const { return api_; }
    const std::string& error() const { return error_; }

private:
    void* handle_ = nullptr;
    const ov_telemetry_api_t* api_ = nullptr;
    std::string error_;
};

// The label of cycle i, so the server's bodies show which cycles arrived and how often.
std::string label_of(int i) { return "cycle-" + std::to_string(i); }

// One cycle: dlopen → get_api → options → init → send_event → shutdown(2000) → free →
// dlclose. Failures are reported with the cycle number; the handle, options and library
// are released on every path.
void cycle(const std::string& config_dir, const std::string& endpoint, int i) {
    Library lib;
    ASSERT_NE(lib.api(), nullptr) << "cycle " << i << ": " << lib.error();
    const ov_telemetry_api_t* api = lib.api();

    ov_telemetry_options_t* opts = nullptr;
    ASSERT_EQ(api->options_create(&opts), OV_TELEMETRY_STATUS_OK) << api->last_error();
    ASSERT_NE(opts, nullptr);
    std::int32_t st = api->options_set_app(opts, "ovt_dlopen_cycles", "1.0");
    if (st == OV_TELEMETRY_STATUS_OK) st = api->options_set_measurement_id(opts, "G-TEST000000");
    if (st == OV_TELEMETRY_STATUS_OK) st = api->options_set_config_dir(opts, config_dir.c_str());
    if (st == OV_TELEMETRY_STATUS_OK) st = api->options_set_endpoint(opts, endpoint.c_str());
    ov_telemetry_t* t = nullptr;
    std::int32_t init = OV_TELEMETRY_STATUS_INTERNAL_ERROR;
    if (st == OV_TELEMETRY_STATUS_OK) init = api->init(opts, &t);
    api->options_free(opts);
    ASSERT_EQ(st, OV_TELEMETRY_STATUS_OK) << "cycle " << i << ": options: " << api->last_error();
    if (init != OV_TELEMETRY_STATUS_OK) {
        const std::string detail = api->last_error();
        if (t != nullptr) api->handle_free(t);
        FAIL() << "cycle " << i << ": init returned " << init << ": " << detail;
    }
    ASSERT_NE(t, nullptr) << "cycle " << i;

    const std::string label = label_of(i);
    EXPECT_EQ(api->send_event(t, "dlopen", "cycle", label.c_str(), i), OV_TELEMETRY_STATUS_OK)
        << "cycle " << i << ": " << api->last_error();
    EXPECT_EQ(api->shutdown(t, 2000), OV_TELEMETRY_STATUS_OK)
        << "cycle " << i << ": " << api->last_error();
    api->handle_free(t);
    EXPECT_EQ(lib.close(), 0) << "cycle " << i << ": dlclose: " << dlerror();
}

// How many times each "event_label" value appears in the bodies answered 2xx.
std::map<std::string, int> delivered_labels(const ovt_test::LoopbackServer& server) {
    static const std::string key = "\"event_label\":\"";
    std::map<std::string, int> seen;
    for (const auto& r : server.requests()) {
        if (r.answered < 200 || r.answered >= 300) continue;
        for (std::size_t at = r.body.find(key); at != std::string::npos;
             at = r.body.find(key, at + 1)) {
            const std::size_t from = at + key.size();
            const std::size_t to = r.body.find('"', from);
            if (to == std::string::npos) break;
            ++seen[r.body.substr(from, to - from)];
        }
    }
    return seen;
}

TEST(DlopenCycles, ThousandCyclesDeliverEverythingAndLeakNoThreadsOrFds) {
    ovt_util::clear_telemetry_env();
    ovt_util::TempDir dir;
    ovt_test::LoopbackServer server(ovt_test::Mode::ok204());

    // Baseline before the library is first loaded: whatever it keeps for the life of the
    // process (it is NODELETE) counts against the allowance below.
    const std::size_t threads_before = ovt_util::thread_count();
    const std::size_t fds_before = fd_count();

    {
        Library lib;
        ASSERT_NE(lib.api(), nullptr) << lib.error();
        ASSERT_EQ(lib.api()->set_consent(dir.c_str(), true), OV_TELEMETRY_STATUS_OK)
            << lib.api()->last_error();
        ASSERT_EQ(lib.api()->get_consent(dir.c_str()), OV_TELEMETRY_CONSENT_ACCEPTED);
        ASSERT_EQ(lib.close(), 0) << dlerror();
    }

    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kCycles; ++i) {
        cycle(dir.path(), server.url(), i);
        if (HasFailure()) {
            FAIL() << "stopped at cycle " << i << " of " << kCycles;
        }
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);

    // Every shutdown returned OK, so each event was delivered before it returned: exactly
    // kCycles events, one per cycle.
    const std::vector<std::string> names = server.delivered_event_names();
    EXPECT_EQ(names.size(), static_cast<std::size_t>(kCycles));
    const std::map<std::string, int> labels = delivered_labels(server);
    EXPECT_EQ(labels.size(), static_cast<std::size_t>(kCycles));
    for (int i = 0; i < kCycles; ++i) {
        const auto it = labels.find(label_of(i));
        const int n = it == labels.end() ? 0 : it->second;
        EXPECT_EQ(n, 1) << "event of cycle " << i << " delivered " << n << " times";
    }

    // The workers (and the server's per-connection threads, which end when the library
    // closes its connection) exit shortly after shutdown returns: poll with a deadline.
    std::size_t threads_after = 0;
    std::size_t fds_after = 0;
    const bool bounded = ovt_util::wait_until(
        [&] {
            threads_after = ovt_util::thread_count();
            fds_after = fd_count();
            return threads_after <= threads_before + kMaxThreadGrowth &&
                   fds_after <= fds_before + kMaxFdGrowth;
        },
        std::chrono::seconds(5));
    std::printf("%d cycles in %lld ms (%.2f ms per cycle); threads %zu -> %zu, fds %zu -> %zu; "
                "server: %zu connections, %zu requests\n",
                kCycles, static_cast<long long>(elapsed.count()),
                static_cast<double>(elapsed.count()) / kCycles, threads_before, threads_after,
                fds_before, fds_after, server.connections(), server.requests().size());
    EXPECT_TRUE(bounded) << "threads " << threads_before << " -> " << threads_after
                         << " (allowed +" << kMaxThreadGrowth << "), fds " << fds_before
                         << " -> " << fds_after << " (allowed +" << kMaxFdGrowth << ")";
}

}  // namespace
