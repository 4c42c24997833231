// The library loaded at run time: this executable is NOT linked to it. It dlopen()s the
// file named by OVT_LIB_PATH, looks up the single symbol ov_telemetry_get_api and uses only
// the function table (the header is included for the types alone).
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "loopback_server.hpp"
#include "openvino_telemetry.h"
#include "test_support.hpp"

#ifndef OVT_LIB_PATH
#error "OVT_LIB_PATH must name the shared library to dlopen"
#endif
#ifndef OVT_SONAME
#error "OVT_SONAME must name the library's SONAME"
#endif

namespace {

using GetApi = ov_telemetry_get_api_fn;

// Whether the library was in the process before main() (it must not be: no DT_NEEDED),
// recorded before any test dlopen()s it (-z nodelete keeps it loaded afterwards).
const bool kLoadedAtStartup = [] {
    void* h = dlopen(OVT_SONAME, RTLD_NOW | RTLD_NOLOAD);
    if (h != nullptr) {
        dlclose(h);
    }
    return h != nullptr || dlsym(RTLD_DEFAULT, "ov_telemetry_version") != nullptr;
}();

// A dlopen'ed library and its table; dlclose on destruction.
class Loaded {
public:
    Loaded() {
        handle_ = dlopen(OVT_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
        if (handle_ == nullptr) {
            error_ = dlerror();
            return;
        }
        dlerror();
        void* sym = dlsym(handle_, "ov_telemetry_get_api");
        if (sym == nullptr) {
            const char* e = dlerror();
            error_ = e != nullptr ? e : "ov_telemetry_get_api is NULL";
            return;
        }
        get_api_ = reinterpret_cast<GetApi>(sym);
        api_ = get_api_(OV_TELEMETRY_ABI_VERSION);
    }
    ~Loaded() {
        if (handle_ != nullptr) {
            dlclose(handle_);
        }
    }
    Loaded(const Loaded&) = delete;
    Loaded& operator=(const Loaded&) = delete;

    const std::string& error() const { return error_; }
    GetApi get_api() const { return get_api_; }
    const ov_telemetry_api_t* api() const { return api_; }

private:
    void* handle_ = nullptr;
    GetApi get_api_ = nullptr;
    const ov_telemetry_api_t* api_ = nullptr;
    std::string error_;
};

class Dlopen : public ::testing::Test {
protected:
    void SetUp() override { ovt_util::clear_telemetry_env(); }
};

TEST_F(Dlopen, ThisExecutableIsNotLinkedToTheLibrary) {
    EXPECT_FALSE(kLoadedAtStartup) << OVT_SONAME " was loaded before main()";
}

TEST_F(Dlopen, GetApiKnowsVersion1Only) {
    Loaded lib;
    ASSERT_TRUE(lib.error().empty()) << lib.error();
    EXPECT_EQ(lib.get_api()(0), nullptr);
    EXPECT_EQ(lib.get_api()(2), nullptr);
    EXPECT_EQ(lib.get_api()(UINT32_MAX), nullptr);
    const ov_telemetry_api_t* api = lib.api();
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->abi_version, 1u);
    EXPECT_GE(api->struct_size, sizeof(ov_telemetry_api_t)) << "a newer library may append fields";
    EXPECT_EQ(lib.get_api()(1), api) << "a static table";
}

TEST_F(Dlopen, EveryTableEntryIsSet) {
    Loaded lib;
    ASSERT_NE(lib.api(), nullptr) << lib.error();
    const ov_telemetry_api_t* api = lib.api();
    const void* entries[] = {
        reinterpret_cast<const void*>(api->options_create),
        reinterpret_cast<const void*>(api->options_set_app),
        reinterpret_cast<const void*>(api->options_set_measurement_id),
        reinterpret_cast<const void*>(api->options_set_api_secret),
        reinterpret_cast<const void*>(api->options_set_consent_dialog),
        reinterpret_cast<const void*>(api->options_set_disable_in_ci),
        reinterpret_cast<const void*>(api->options_set_endpoint),
        reinterpret_cast<const void*>(api->options_set_config_dir),
        reinterpret_cast<const void*>(api->options_set_queue_capacity),
        reinterpret_cast<const void*>(api->options_free),
        reinterpret_cast<const void*>(api->init),
        reinterpret_cast<const void*>(api->init_simple),
        reinterpret_cast<const void*>(api->is_enabled),
        reinterpret_cast<const void*>(api->send_event),
        reinterpret_cast<const void*>(api->send_error),
        reinterpret_cast<const void*>(api->send_stack_trace),
        reinterpret_cast<const void*>(api->start_session),
        reinterpret_cast<const void*>(api->end_session),
        reinterpret_cast<const void*>(api->flush),
        reinterpret_cast<const void*>(api->shutdown),
        reinterpret_cast<const void*>(api->handle_free),
        reinterpret_cast<const void*>(api->get_consent),
        reinterpret_cast<const void*>(api->set_consent),
        reinterpret_cast<const void*>(api->status_message),
        reinterpret_cast<const void*>(api->last_error),
        reinterpret_cast<const void*>(api->version),
        reinterpret_cast<const void*>(api->options_set_crash_reports),
        reinterpret_cast<const void*>(api->get_counters),
        reinterpret_cast<const void*>(api->version_number),
    };
    static_assert(sizeof(entries) / sizeof(entries[0]) * sizeof(void (*)()) + 8 ==
                      sizeof(ov_telemetry_api_t),
                  "every slot is listed");
    for (std::size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); ++i) {
        EXPECT_NE(entries[i], nullptr) << "slot " << i;
    }
    EXPECT_STREQ(api->version(), OV_TELEMETRY_VERSION);
    ASSERT_TRUE(OV_TELEMETRY_API_HAS(api, version_number));
    EXPECT_EQ(api->version_number(), static_cast<std::uint32_t>(OV_TELEMETRY_VERSION_NUMBER));
    EXPECT_EQ(api->options_create(nullptr), OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
    EXPECT_STRNE(api->last_error(), "");
    EXPECT_NE(api->status_message(12345), nullptr);
}

// One load / use / unload cycle: init with consent, send one event to the server, shut down.
void cycle(const ovt_util::TempDir& dir, const ovt_test::LoopbackServer& server, int i) {
    Loaded lib;
    ASSERT_NE(lib.api(), nullptr) << lib.error();
    const ov_telemetry_api_t* api = lib.api();
    ov_telemetry_options_t* opts = nullptr;
    ASSERT_EQ(api->options_create(&opts), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_app(opts, "ovt_dlopen", "1.0"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_measurement_id(opts, "G-TEST000000"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_config_dir(opts, dir.c_str()), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(api->options_set_endpoint(opts, server.url().c_str()), OV_TELEMETRY_STATUS_OK);
    ov_telemetry_t* t = nullptr;
    const std::int32_t init = api->init(opts, &t);
    api->options_free(opts);
    ASSERT_EQ(init, OV_TELEMETRY_STATUS_OK) << api->last_error();
    EXPECT_TRUE(api->is_enabled(t));
    EXPECT_EQ(api->send_event(t, "dlopen", "cycle", "l", i), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(api->shutdown(t, 5000), OV_TELEMETRY_STATUS_OK);
    api->handle_free(t);
}

TEST_F(Dlopen, HundredLoadUnloadCyclesLeakNoThreads) {
    ovt_util::TempDir dir;
    ovt_test::LoopbackServer server(ovt_test::Mode::ok204());
    {
        Loaded lib;
        ASSERT_NE(lib.api(), nullptr) << lib.error();
        ASSERT_EQ(lib.api()->set_consent(dir.c_str(), true), OV_TELEMETRY_STATUS_OK)
            << lib.api()->last_error();
    }
    const std::size_t before = ovt_util::thread_count();

    constexpr int kCycles = 100;
    for (int i = 0; i < kCycles; ++i) {
        cycle(dir, server, i);
        if (HasFatalFailure()) {
            FAIL() << "cycle " << i;
        }
    }

    // -z nodelete: the library stays mapped after its last dlclose (its threads may not
    // outlive their code).
    void* still = dlopen(OVT_LIB_PATH, RTLD_NOW | RTLD_NOLOAD);
    EXPECT_NE(still, nullptr) << "not NODELETE";
    if (still != nullptr) {
        dlclose(still);
    }

    // Each shutdown delivered its event before returning.
    EXPECT_EQ(server.delivered_event_names().size(), static_cast<std::size_t>(kCycles));

    // The server's connection threads end when the library closes its connections; the
    // library's own workers end at shutdown. Allow them a moment to exit.
    const bool bounded = ovt_util::wait_until(
        [&] { return ovt_util::thread_count() <= before + 2; }, std::chrono::seconds(5));
    std::printf("threads before %zu, after %zu; server connections %zu\n", before,
                ovt_util::thread_count(), server.connections());
    EXPECT_TRUE(bounded) << "threads before " << before << ", after " << ovt_util::thread_count()
                         << " (server connections: " << server.connections() << ")";
}

}  // namespace
