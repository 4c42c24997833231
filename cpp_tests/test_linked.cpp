// The C API, linked through CMake (openvino::telemetry): argument validation of every
// function, status messages, version, shut-down handles, the consent paths and payloads
// delivered end to end to a loopback HTTP server.
//
// Every test uses a fresh temporary config dir (never ~/intel), clears the environment
// variables the library reads, and points enabled clients at 127.0.0.1 (or sets
// OPENVINO_TELEMETRY_DEBUG=1), so nothing leaves the machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "loopback_server.hpp"
#include "openvino_telemetry.h"
#include "test_support.hpp"

namespace {

using ovt_test::LoopbackServer;
using ovt_test::Mode;
using ovt_util::TempDir;

constexpr const char* kBad = "\xff\xfe";  // not UTF-8
constexpr const char* kTid = "G-TEST000000";

const std::int32_t kAllStatuses[] = {
    OV_TELEMETRY_STATUS_OK,         OV_TELEMETRY_STATUS_DISABLED,
    OV_TELEMETRY_STATUS_QUEUE_FULL, OV_TELEMETRY_STATUS_TIMEOUT,
    OV_TELEMETRY_STATUS_INVALID_ARGUMENT, OV_TELEMETRY_STATUS_SHUT_DOWN,
    OV_TELEMETRY_STATUS_IO_ERROR,   OV_TELEMETRY_STATUS_INTERNAL_ERROR,
};

std::string last_error() {
    const char* e = ov_telemetry_last_error();
    return e == nullptr ? std::string("<NULL>") : std::string(e);
}

// Asserts INVALID_ARGUMENT with a non-empty last_error.
#define EXPECT_INVALID(call)                                                     \
    do {                                                                         \
        const std::int32_t st_ = (call);                                         \
        EXPECT_EQ(st_, OV_TELEMETRY_STATUS_INVALID_ARGUMENT) << #call;           \
        EXPECT_FALSE(last_error().empty()) << "last_error after " #call;         \
    } while (0)

class CApi : public ::testing::Test {
protected:
    void SetUp() override { ovt_util::clear_telemetry_env(); }

    void TearDown() override {
        if (handle_ != nullptr) {
            ov_telemetry_free(handle_);
        }
        if (opts_ != nullptr) {
            ov_telemetry_options_free(opts_);
        }
    }

    // Options for `dir_`, app "ovt_test_app" 9.9.9, optional endpoint.
    ov_telemetry_options_t* options(const std::string& endpoint = std::string()) {
        if (opts_ == nullptr) {
            EXPECT_EQ(ov_telemetry_options_create(&opts_), OV_TELEMETRY_STATUS_OK) << last_error();
            EXPECT_NE(opts_, nullptr);
            EXPECT_EQ(ov_telemetry_options_set_app(opts_, "ovt_test_app", "9.9.9"),
                      OV_TELEMETRY_STATUS_OK)
                << last_error();
            EXPECT_EQ(ov_telemetry_options_set_measurement_id(opts_, kTid), OV_TELEMETRY_STATUS_OK)
                << last_error();
            EXPECT_EQ(ov_telemetry_options_set_config_dir(opts_, dir_.c_str()),
                      OV_TELEMETRY_STATUS_OK)
                << last_error();
        }
        if (!endpoint.empty()) {
            EXPECT_EQ(ov_telemetry_options_set_endpoint(opts_, endpoint.c_str()),
                      OV_TELEMETRY_STATUS_OK)
                << last_error();
        }
        return opts_;
    }

    // Accepts consent in dir_ and returns an enabled handle sending to `server`.
    ov_telemetry_t* enabled_handle(const LoopbackServer& server) {
        EXPECT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK) << last_error();
        EXPECT_EQ(ov_telemetry_init(options(server.url()), &handle_), OV_TELEMETRY_STATUS_OK)
            << last_error();
        EXPECT_NE(handle_, nullptr);
        EXPECT_TRUE(ov_telemetry_is_enabled(handle_));
        return handle_;
    }

    // A handle initialised without consent: DISABLED but valid.
    ov_telemetry_t* disabled_handle() {
        EXPECT_EQ(ov_telemetry_init(options("http://127.0.0.1:9/mp/collect"), &handle_),
                  OV_TELEMETRY_STATUS_DISABLED)
            << last_error();
        EXPECT_NE(handle_, nullptr);
        return handle_;
    }

    TempDir dir_;
    ov_telemetry_options_t* opts_ = nullptr;
    ov_telemetry_t* handle_ = nullptr;
};

// ---------------------------------------------------------------------------------------
// NULL and invalid UTF-8

TEST_F(CApi, OptionsFunctionsRejectNullAndInvalidUtf8) {
    EXPECT_INVALID(ov_telemetry_options_create(nullptr));

    ov_telemetry_options_t* o = options();
    EXPECT_INVALID(ov_telemetry_options_set_app(nullptr, "a", "1"));
    EXPECT_INVALID(ov_telemetry_options_set_app(o, nullptr, "1"));
    EXPECT_INVALID(ov_telemetry_options_set_app(o, "a", nullptr));
    EXPECT_INVALID(ov_telemetry_options_set_app(o, kBad, "1"));
    EXPECT_INVALID(ov_telemetry_options_set_app(o, "a", kBad));

    using Setter = ov_telemetry_status_e (*)(ov_telemetry_options_t*, const char*);
    const std::pair<const char*, Setter> setters[] = {
        {"set_measurement_id", ov_telemetry_options_set_measurement_id},
        {"set_api_secret", ov_telemetry_options_set_api_secret},
        {"set_endpoint", ov_telemetry_options_set_endpoint},
    };
    for (const auto& s : setters) {
        SCOPED_TRACE(s.first);
        EXPECT_INVALID(s.second(nullptr, "x"));
        EXPECT_INVALID(s.second(o, nullptr));
        EXPECT_INVALID(s.second(o, kBad));
    }
    // A directory is a path: any bytes on Unix (documented in the header), NULL never.
    EXPECT_INVALID(ov_telemetry_options_set_config_dir(nullptr, "x"));
    EXPECT_INVALID(ov_telemetry_options_set_config_dir(o, nullptr));
    EXPECT_INVALID(ov_telemetry_options_set_consent_dialog(nullptr, true));
    EXPECT_INVALID(ov_telemetry_options_set_disable_in_ci(nullptr, true));
    EXPECT_INVALID(ov_telemetry_options_set_queue_capacity(nullptr, 10));
    ov_telemetry_options_free(nullptr);  // a no-op

    // The rejected values did not replace the good ones: the options still work.
    ovt_test::LoopbackServer server(Mode::ok204());
    EXPECT_NE(enabled_handle(server), nullptr);
}

TEST_F(CApi, PlainHttpIsRejectedForNonLoopbackHosts) {
    ov_telemetry_options_t* o = options();
    const std::int32_t set = ov_telemetry_options_set_endpoint(o, "http://example.com/mp/collect");
    if (set == OV_TELEMETRY_STATUS_OK) {  // rejected at set or at init, not used
        ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK);
        EXPECT_INVALID(ov_telemetry_init(o, &handle_));
        EXPECT_EQ(handle_, nullptr);
    } else {
        EXPECT_EQ(set, OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
        EXPECT_FALSE(last_error().empty());
    }
}

TEST_F(CApi, InitRejectsNullAndLeavesOutputUntouched) {
    ov_telemetry_t* const sentinel = reinterpret_cast<ov_telemetry_t*>(std::uintptr_t{0x1});
    ov_telemetry_t* out = sentinel;
    EXPECT_INVALID(ov_telemetry_init(nullptr, &out));
    EXPECT_EQ(out, sentinel);
    EXPECT_INVALID(ov_telemetry_init(options(), nullptr));

    EXPECT_INVALID(ov_telemetry_init_simple(nullptr, "1", kTid, &out));
    EXPECT_INVALID(ov_telemetry_init_simple("a", nullptr, kTid, &out));
    EXPECT_INVALID(ov_telemetry_init_simple("a", "1", nullptr, &out));
    EXPECT_INVALID(ov_telemetry_init_simple(kBad, "1", kTid, &out));
    EXPECT_INVALID(ov_telemetry_init_simple("a", kBad, kTid, &out));
    EXPECT_INVALID(ov_telemetry_init_simple("a", "1", kBad, &out));
    EXPECT_INVALID(ov_telemetry_init_simple("a", "1", kTid, nullptr));
    EXPECT_EQ(out, sentinel);
}

TEST_F(CApi, HandleFunctionsRejectNullHandle) {
    EXPECT_FALSE(ov_telemetry_is_enabled(nullptr));
    EXPECT_INVALID(ov_telemetry_send_event(nullptr, "c", "a", "l", 1));
    EXPECT_INVALID(ov_telemetry_send_error(nullptr, "c", "m"));
    EXPECT_INVALID(ov_telemetry_send_stack_trace(nullptr, "c", "t"));
    EXPECT_INVALID(ov_telemetry_start_session(nullptr, "c"));
    EXPECT_INVALID(ov_telemetry_end_session(nullptr, "c"));
    EXPECT_INVALID(ov_telemetry_flush(nullptr, 0));
    EXPECT_INVALID(ov_telemetry_shutdown(nullptr, 0));
    ov_telemetry_free(nullptr);  // a no-op
}

TEST_F(CApi, SendFunctionsRejectNullAndInvalidUtf8Strings) {
    LoopbackServer server(Mode::ok204());
    ov_telemetry_t* t = enabled_handle(server);
    for (const char* bad : {static_cast<const char*>(nullptr), kBad}) {
        SCOPED_TRACE(bad == nullptr ? "NULL" : "invalid UTF-8");
        EXPECT_INVALID(ov_telemetry_send_event(t, bad, "a", "l", 1));
        EXPECT_INVALID(ov_telemetry_send_event(t, "c", bad, "l", 1));
        EXPECT_INVALID(ov_telemetry_send_event(t, "c", "a", bad, 1));
        EXPECT_INVALID(ov_telemetry_send_error(t, bad, "m"));
        EXPECT_INVALID(ov_telemetry_send_error(t, "c", bad));
        EXPECT_INVALID(ov_telemetry_send_stack_trace(t, bad, "t"));
        EXPECT_INVALID(ov_telemetry_send_stack_trace(t, "c", bad));
        EXPECT_INVALID(ov_telemetry_start_session(t, bad));
        EXPECT_INVALID(ov_telemetry_end_session(t, bad));
    }
    // Nothing invalid was queued.
    EXPECT_EQ(ov_telemetry_flush(t, 5000), OV_TELEMETRY_STATUS_OK);
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(CApi, ConsentDirectoriesAreBytePaths) {
    // Directories are paths, and Unix paths are bytes: a non-UTF-8 name is a valid
    // directory (the header documents it), both for set/get_consent and for set_config_dir.
    const std::string odd = dir_.file(kBad);
    ASSERT_EQ(ov_telemetry_set_consent(odd.c_str(), true), OV_TELEMETRY_STATUS_OK) << last_error();
    EXPECT_EQ(ovt_util::read_file(odd + "/openvino_telemetry"), "1");
    EXPECT_EQ(ov_telemetry_get_consent(odd.c_str()), OV_TELEMETRY_CONSENT_ACCEPTED);

    LoopbackServer server(Mode::ok204());
    ov_telemetry_options_t* o = options(server.url());
    ASSERT_EQ(ov_telemetry_options_set_config_dir(o, odd.c_str()), OV_TELEMETRY_STATUS_OK) << last_error();
    ASSERT_EQ(ov_telemetry_init(o, &handle_), OV_TELEMETRY_STATUS_OK) << last_error();
    EXPECT_TRUE(ov_telemetry_is_enabled(handle_));
}

TEST_F(CApi, SetConsentReportsIoErrors) {
    // A regular file where a directory is needed: nothing can be written below it.
    ovt_util::write_file(dir_.file("plain_file"), "x");
    const std::string impossible = dir_.file("plain_file/sub");
    const std::int32_t st = ov_telemetry_set_consent(impossible.c_str(), true);
    EXPECT_EQ(st, OV_TELEMETRY_STATUS_IO_ERROR);
    EXPECT_FALSE(last_error().empty());
    EXPECT_NE(ov_telemetry_get_consent(impossible.c_str()), OV_TELEMETRY_CONSENT_ACCEPTED);
}

TEST_F(CApi, LastErrorIsEmptyOnAFreshThreadAndPerThread) {
    EXPECT_INVALID(ov_telemetry_options_create(nullptr));
    std::string other_thread = "<unset>";
    std::thread([&] {
        const char* e = ov_telemetry_last_error();
        other_thread = e == nullptr ? "<NULL>" : e;
    }).join();
    EXPECT_EQ(other_thread, "");
    EXPECT_FALSE(last_error().empty());  // this thread's detail is still there
}

TEST_F(CApi, StatusMessageNeverNull) {
    for (std::int32_t s : kAllStatuses) {
        const char* m = ov_telemetry_status_message(s);
        ASSERT_NE(m, nullptr) << s;
        EXPECT_GT(std::strlen(m), 0u) << s;
    }
    for (std::int32_t s : {12345, -12345, INT32_MIN, INT32_MAX}) {
        const char* m = ov_telemetry_status_message(s);
        ASSERT_NE(m, nullptr) << s;
        EXPECT_GT(std::strlen(m), 0u) << s;
    }
    EXPECT_STRNE(ov_telemetry_status_message(OV_TELEMETRY_STATUS_OK),
                 ov_telemetry_status_message(OV_TELEMETRY_STATUS_INVALID_ARGUMENT));
}

TEST_F(CApi, VersionMatchesHeader) {
    ASSERT_NE(ov_telemetry_version(), nullptr);
    EXPECT_STREQ(ov_telemetry_version(), OV_TELEMETRY_VERSION);
}

TEST_F(CApi, ApiTableIsCompleteForVersion1Only) {
    EXPECT_EQ(ov_telemetry_get_api(0), nullptr);
    EXPECT_EQ(ov_telemetry_get_api(2), nullptr);
    const ov_telemetry_api_t* api = ov_telemetry_get_api(OV_TELEMETRY_ABI_VERSION);
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->abi_version, 1u);
    // The library linked here is at least as new as this header (never ==: a newer
    // library appends fields).
    EXPECT_GE(api->struct_size, sizeof(ov_telemetry_api_t));
    EXPECT_STREQ(api->version(), OV_TELEMETRY_VERSION);
    ASSERT_TRUE(OV_TELEMETRY_API_HAS(api, version_number));
    EXPECT_EQ(api->version_number(), static_cast<std::uint32_t>(OV_TELEMETRY_VERSION_NUMBER));
}

TEST_F(CApi, VersionNumberMatchesHeader) {
    EXPECT_EQ(ov_telemetry_version_number(),
              OV_TELEMETRY_MAKE_VERSION(OV_TELEMETRY_VERSION_MAJOR, OV_TELEMETRY_VERSION_MINOR,
                                        OV_TELEMETRY_VERSION_PATCH));
    EXPECT_EQ(ov_telemetry_version_number(), static_cast<std::uint32_t>(OV_TELEMETRY_VERSION_NUMBER));
    EXPECT_TRUE(OV_TELEMETRY_VERSION_AT_LEAST(1, 0, 0));
    EXPECT_TRUE(OV_TELEMETRY_VERSION_AT_LEAST(OV_TELEMETRY_VERSION_MAJOR, OV_TELEMETRY_VERSION_MINOR,
                                              OV_TELEMETRY_VERSION_PATCH));
    EXPECT_FALSE(OV_TELEMETRY_VERSION_AT_LEAST(OV_TELEMETRY_VERSION_MAJOR, OV_TELEMETRY_VERSION_MINOR,
                                               OV_TELEMETRY_VERSION_PATCH + 1));
    EXPECT_FALSE(OV_TELEMETRY_VERSION_AT_LEAST(OV_TELEMETRY_VERSION_MAJOR + 1, 0, 0));
    EXPECT_LT(OV_TELEMETRY_MAKE_VERSION(1, 9, 999), OV_TELEMETRY_MAKE_VERSION(2, 0, 0));
    EXPECT_LT(OV_TELEMETRY_MAKE_VERSION(1, 0, 999), OV_TELEMETRY_MAKE_VERSION(1, 1, 0));
}

// ---------------------------------------------------------------------------------------
// Shut-down and disabled handles

TEST_F(CApi, CallsOnAShutDownHandleReturnShutDown) {
    LoopbackServer server(Mode::ok204());
    ov_telemetry_t* t = enabled_handle(server);
    ASSERT_EQ(ov_telemetry_shutdown(t, 1000), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_send_event(t, "c", "a", "l", 1), OV_TELEMETRY_STATUS_SHUT_DOWN);
    EXPECT_EQ(ov_telemetry_send_error(t, "c", "m"), OV_TELEMETRY_STATUS_SHUT_DOWN);
    EXPECT_EQ(ov_telemetry_send_stack_trace(t, "c", "t"), OV_TELEMETRY_STATUS_SHUT_DOWN);
    EXPECT_EQ(ov_telemetry_start_session(t, "c"), OV_TELEMETRY_STATUS_SHUT_DOWN);
    EXPECT_EQ(ov_telemetry_end_session(t, "c"), OV_TELEMETRY_STATUS_SHUT_DOWN);
    EXPECT_EQ(ov_telemetry_flush(t, 0), OV_TELEMETRY_STATUS_SHUT_DOWN);
    // SHUT_DOWN is decided before any string is read.
    EXPECT_EQ(ov_telemetry_send_event(t, nullptr, nullptr, nullptr, 1), OV_TELEMETRY_STATUS_SHUT_DOWN);
    // A second shutdown is harmless.
    const std::int32_t again = ov_telemetry_shutdown(t, 0);
    EXPECT_TRUE(again == OV_TELEMETRY_STATUS_OK || again == OV_TELEMETRY_STATUS_SHUT_DOWN) << again;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(CApi, DisabledHandleShortCircuitsWithoutTouchingLastError) {
    ov_telemetry_t* t = disabled_handle();
    EXPECT_FALSE(ov_telemetry_is_enabled(t));
    EXPECT_INVALID(ov_telemetry_options_create(nullptr));
    const std::string before = last_error();
    EXPECT_EQ(ov_telemetry_send_event(t, "c", "a", "l", 1), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_send_event(t, nullptr, kBad, nullptr, 1), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_send_error(t, "c", "m"), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_send_stack_trace(t, "c", "t"), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_start_session(t, "c"), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_end_session(t, "c"), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(last_error(), before);
    EXPECT_EQ(ov_telemetry_flush(t, 100), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_shutdown(t, 100), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_send_event(t, "c", "a", "l", 1), OV_TELEMETRY_STATUS_SHUT_DOWN);
}

// ---------------------------------------------------------------------------------------
// Consent paths

TEST_F(CApi, AcceptedConsentEnables) {
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK) << last_error();
    EXPECT_EQ(ovt_util::read_file(dir_.file("openvino_telemetry")), "1");
    EXPECT_EQ(ovt_util::read_file(dir_.file("openvino_ga_cid")).size(), 36u);
    EXPECT_EQ(ov_telemetry_get_consent(dir_.c_str()), OV_TELEMETRY_CONSENT_ACCEPTED);

    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ov_telemetry_init(options(server.url()), &handle_), OV_TELEMETRY_STATUS_OK) << last_error();
    EXPECT_TRUE(ov_telemetry_is_enabled(handle_));
    EXPECT_EQ(ov_telemetry_send_event(handle_, "c", "a", "l", 1), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_shutdown(handle_, 5000), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(server.delivered_event_names(), std::vector<std::string>{"a"});
}

TEST_F(CApi, EachAcceptWritesANewClientId) {
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK);
    const std::string first = ovt_util::read_file(dir_.file("openvino_ga_cid"));
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), false), OV_TELEMETRY_STATUS_OK);
    EXPECT_FALSE(ovt_util::file_exists(dir_.file("openvino_ga_cid")));
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK);
    const std::string second = ovt_util::read_file(dir_.file("openvino_ga_cid"));
    EXPECT_EQ(second.size(), 36u);
    EXPECT_NE(first, second);
}

TEST_F(CApi, DeclinedConsentDisables) {
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), false), OV_TELEMETRY_STATUS_OK) << last_error();
    EXPECT_EQ(ovt_util::read_file(dir_.file("openvino_telemetry")), "0");
    EXPECT_EQ(ov_telemetry_get_consent(dir_.c_str()), OV_TELEMETRY_CONSENT_DECLINED);

    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ov_telemetry_init(options(server.url()), &handle_), OV_TELEMETRY_STATUS_DISABLED);
    ASSERT_NE(handle_, nullptr);
    EXPECT_FALSE(ov_telemetry_is_enabled(handle_));
    EXPECT_EQ(ov_telemetry_start_session(handle_, "c"), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_send_event(handle_, "c", "a", "l", 1), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_send_error(handle_, "c", "m"), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_flush(handle_, 1000), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_shutdown(handle_, 1000), OV_TELEMETRY_STATUS_OK);
    EXPECT_TRUE(server.requests().empty());
    EXPECT_EQ(ovt_util::read_file(dir_.file("openvino_telemetry")), "0");
}

TEST_F(CApi, MalformedConsentFileMeansDeclined) {
    for (const char* content : {"", "yes", "2", "true"}) {
        SCOPED_TRACE(content);
        ovt_util::write_file(dir_.file("openvino_telemetry"), content);
        EXPECT_EQ(ov_telemetry_get_consent(dir_.c_str()), OV_TELEMETRY_CONSENT_DECLINED);
        ov_telemetry_t* t = nullptr;
        EXPECT_EQ(ov_telemetry_init(options("http://127.0.0.1:9/mp/collect"), &t),
                  OV_TELEMETRY_STATUS_DISABLED);
        ov_telemetry_free(t);
    }
    ovt_util::write_file(dir_.file("openvino_telemetry"), " 1\n");  // first line, trimmed
    EXPECT_EQ(ov_telemetry_get_consent(dir_.c_str()), OV_TELEMETRY_CONSENT_ACCEPTED);
}

TEST_F(CApi, UndecidedConsentDisablesAndCreatesNoFile) {
    EXPECT_EQ(ov_telemetry_get_consent(dir_.c_str()), OV_TELEMETRY_CONSENT_UNDECIDED);
    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ov_telemetry_init(options(server.url()), &handle_), OV_TELEMETRY_STATUS_DISABLED);
    ASSERT_NE(handle_, nullptr);
    EXPECT_FALSE(ov_telemetry_is_enabled(handle_));
    EXPECT_EQ(ov_telemetry_send_event(handle_, "c", "a", "l", 1), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_EQ(ov_telemetry_shutdown(handle_, 1000), OV_TELEMETRY_STATUS_OK);
    EXPECT_FALSE(ovt_util::file_exists(dir_.file("openvino_telemetry")));
    EXPECT_FALSE(ovt_util::file_exists(dir_.file("openvino_ga_cid")));
    EXPECT_EQ(ov_telemetry_get_consent(dir_.c_str()), OV_TELEMETRY_CONSENT_UNDECIDED);
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(CApi, InitSimpleWithoutConsentIsDisabled) {
    // init_simple uses the default directory; HOME points at an empty sandbox, so the
    // decision there is "undecided" (or the directory is unusable): disabled either way.
    ovt_util::ScopedEnv home("HOME", dir_.path());
    // Should the library ever read another directory, nothing may leave the machine.
    ovt_util::ScopedEnv endpoint("OPENVINO_TELEMETRY_ENDPOINT", std::string("http://127.0.0.1:9/mp/collect"));
    ov_telemetry_t* t = nullptr;
    EXPECT_EQ(ov_telemetry_init_simple("ovt_test_app", "9.9.9", kTid, &t), OV_TELEMETRY_STATUS_DISABLED)
        << last_error();
    ASSERT_NE(t, nullptr);
    EXPECT_FALSE(ov_telemetry_is_enabled(t));
    EXPECT_EQ(ov_telemetry_send_event(t, "c", "a", "l", 1), OV_TELEMETRY_STATUS_DISABLED);
    ov_telemetry_free(t);
    EXPECT_FALSE(ovt_util::file_exists(dir_.file("intel/openvino_telemetry")));
}

TEST_F(CApi, DoNotTrackWinsOverAcceptedFile) {
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK);
    LoopbackServer server(Mode::ok204());
    for (const char* value : {"1", "true", "YES"}) {
        SCOPED_TRACE(value);
        ovt_util::ScopedEnv dnt("DO_NOT_TRACK", std::string(value));
        ov_telemetry_t* t = nullptr;
        EXPECT_EQ(ov_telemetry_init(options(server.url()), &t), OV_TELEMETRY_STATUS_DISABLED);
        ASSERT_NE(t, nullptr);
        EXPECT_FALSE(ov_telemetry_is_enabled(t));
        EXPECT_EQ(ov_telemetry_send_event(t, "c", "a", "l", 1), OV_TELEMETRY_STATUS_DISABLED);
        ov_telemetry_free(t);
    }
    EXPECT_EQ(ovt_util::read_file(dir_.file("openvino_telemetry")), "1");  // not touched
    // Once unset, the file decides again.
    ASSERT_EQ(ov_telemetry_init(options(), &handle_), OV_TELEMETRY_STATUS_OK) << last_error();
    EXPECT_TRUE(ov_telemetry_is_enabled(handle_));
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(CApi, OpenvinoTelemetryDisableWinsOverAcceptedFile) {
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK);
    ovt_util::ScopedEnv off("OPENVINO_TELEMETRY_DISABLE", std::string("1"));
    EXPECT_EQ(ov_telemetry_init(options("http://127.0.0.1:9/mp/collect"), &handle_),
              OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_FALSE(ov_telemetry_is_enabled(handle_));
}

TEST_F(CApi, DisableInCiOnlyWhenAsked) {
    ASSERT_EQ(ov_telemetry_set_consent(dir_.c_str(), true), OV_TELEMETRY_STATUS_OK);
    ovt_util::ScopedEnv ci("CI", std::string("true"));
    LoopbackServer server(Mode::ok204());
    ov_telemetry_options_t* o = options(server.url());

    ov_telemetry_t* t = nullptr;
    EXPECT_EQ(ov_telemetry_init(o, &t), OV_TELEMETRY_STATUS_OK) << "disable_in_ci is off by default";
    ov_telemetry_free(t);

    ASSERT_EQ(ov_telemetry_options_set_disable_in_ci(o, true), OV_TELEMETRY_STATUS_OK);
    t = nullptr;
    EXPECT_EQ(ov_telemetry_init(o, &t), OV_TELEMETRY_STATUS_DISABLED);
    EXPECT_FALSE(ov_telemetry_is_enabled(t));
    ov_telemetry_free(t);
}

// ---------------------------------------------------------------------------------------
// Payloads end to end

TEST_F(CApi, SessionAndEventReachTheServer) {
    LoopbackServer server(Mode::ok204());
    ov_telemetry_t* t = enabled_handle(server);
    const std::string client_id = ovt_util::read_file(dir_.file("openvino_ga_cid"));

    EXPECT_EQ(ov_telemetry_start_session(t, "cat"), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_send_event(t, "cat", "act", "lbl", 3), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_end_session(t, "cat"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(ov_telemetry_flush(t, 5000), OV_TELEMETRY_STATUS_OK);

    // flush returned OK: everything was delivered, nothing to wait for.
    EXPECT_EQ(server.delivered_event_names(), (std::vector<std::string>{"session", "act", "session"}));
    const auto requests = server.requests();
    ASSERT_FALSE(requests.empty());
    for (const auto& r : requests) {
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(r.target.rfind("/mp/collect?", 0), 0u) << r.target;
        EXPECT_NE(r.target.find(std::string("measurement_id=") + kTid), std::string::npos) << r.target;
        EXPECT_NE(r.target.find("api_secret="), std::string::npos) << r.target;
        EXPECT_NE(r.header("content-type").find("application/json"), std::string::npos);
        EXPECT_NE(r.body.find("\"app_name\":\"ovt_test_app\""), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("\"app_version\":\"9.9.9\""), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("\"client_id\":\"" + client_id + "\""), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("\"timestamp_micros\":"), std::string::npos) << r.body;
    }
    std::string all;
    for (const auto& r : requests) {
        all += r.body;
    }
    EXPECT_NE(all.find("\"event_label\":\"start\""), std::string::npos);
    EXPECT_NE(all.find("\"event_label\":\"lbl\""), std::string::npos);
    EXPECT_NE(all.find("\"event_count\":3"), std::string::npos);
    EXPECT_NE(all.find("\"event_label\":\"end\""), std::string::npos);
}

TEST_F(CApi, EndpointFromEnvironmentWinsOverOption) {
    LoopbackServer option_server(Mode::ok204());
    LoopbackServer env_server(Mode::ok204());
    ovt_util::ScopedEnv env("OPENVINO_TELEMETRY_ENDPOINT", env_server.url());
    ov_telemetry_t* t = enabled_handle(option_server);
    EXPECT_EQ(ov_telemetry_send_event(t, "c", "via_env", "l", 1), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(ov_telemetry_flush(t, 5000), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(env_server.delivered_event_names(), std::vector<std::string>{"via_env"});
    EXPECT_TRUE(option_server.requests().empty());
}

TEST_F(CApi, DebugPrintsBodiesAndSendsNothing) {
    LoopbackServer server(Mode::ok204());
    ovt_util::ScopedEnv debug("OPENVINO_TELEMETRY_DEBUG", std::string("1"));
    ovt_util::StderrCapture capture;
    ov_telemetry_t* t = enabled_handle(server);
    EXPECT_EQ(ov_telemetry_start_session(t, "cat"), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_send_event(t, "cat", "act", "lbl", 3), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_end_session(t, "cat"), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_flush(t, 5000), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(ov_telemetry_shutdown(t, 5000), OV_TELEMETRY_STATUS_OK);
    const std::string err = capture.stop();

    EXPECT_TRUE(server.requests().empty());
    std::vector<std::string> names;
    for (const auto& line : ovt_util::split_lines(err)) {
        if (line.front() != '{') {
            continue;  // other diagnostics
        }
        const auto n = ovt_test::event_names(line);
        EXPECT_FALSE(n.empty()) << "not one JSON body per line: " << line;
        names.insert(names.end(), n.begin(), n.end());
        EXPECT_NE(line.find("\"app_name\":\"ovt_test_app\""), std::string::npos) << line;
    }
    EXPECT_EQ(names, (std::vector<std::string>{"session", "act", "session"})) << err;
}

}  // namespace
