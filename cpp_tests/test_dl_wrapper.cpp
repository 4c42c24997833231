// openvino_telemetry_dl.hpp: the RAII loader and the wrapper's classes over the dlopen()
// table. Not linked to the library: the real one is loaded by path, and so are stand-ins
// without ov_telemetry_get_api, with a too short table, and with an older (shorter) table.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "loopback_server.hpp"
#include "openvino_telemetry_dl.hpp"
#include "test_support.hpp"

namespace {

namespace ovt = ov::telemetry;
using ovt_test::LoopbackServer;
using ovt_test::Mode;
using ovt_util::TempDir;

class DlWrapper : public ::testing::Test {
protected:
    void SetUp() override { ovt_util::clear_telemetry_env(); }

    ovt::dl::Options options(const ovt::dl::Library& lib, const std::string& endpoint) {
        return ovt::dl::Options(lib).app("ovt_dl_test", "1.0").measurement_id("G-TEST000000").config_dir(dir_.path()).endpoint(endpoint);
    }

    TempDir dir_;
};

// Everything made from an unusable library is a disabled no-op that says why.
void expect_no_op(const ovt::dl::Library& lib, const std::string& dir, const std::string& why) {
    EXPECT_FALSE(lib.loaded());
    EXPECT_EQ(lib.api(), nullptr);
    EXPECT_NE(std::string(lib.error()).find(why), std::string::npos) << lib.error();
    EXPECT_STREQ(lib.version(), "");
    EXPECT_EQ(lib.consent(dir), ovt::Consent::Undecided);
    EXPECT_EQ(lib.try_set_consent(dir, true), ovt::Status::Disabled);
    EXPECT_FALSE(ovt_util::file_exists(dir + "/openvino_telemetry_consent.txt")) << "nothing written";

    ovt::dl::Options o(lib);
    o.app("t", "1").measurement_id("G-TEST000000").config_dir(dir);
    EXPECT_EQ(o.status(), ovt::Status::Ok) << "setters are no-ops";
    ovt::dl::Telemetry t = ovt::dl::Telemetry::try_init(o);
    EXPECT_EQ(t.get(), nullptr);
    EXPECT_FALSE(t.is_enabled());
    EXPECT_EQ(t.init_status(), ovt::Status::Disabled);
    EXPECT_STREQ(t.reason(), lib.error());
    EXPECT_EQ(t.start_session("c"), ovt::Status::Disabled);
    EXPECT_EQ(t.event("c", "a", "l"), ovt::Status::Disabled);
    EXPECT_EQ(t.error("c", "m"), ovt::Status::Disabled);
    EXPECT_EQ(t.end_session("c"), ovt::Status::Disabled);
    EXPECT_EQ(t.flush(std::chrono::hours::max()), ovt::Status::Ok);
    EXPECT_EQ(t.shutdown(std::chrono::seconds(1)), ovt::Status::Ok);
    EXPECT_EQ(t.counters().queued, 0u);
}

TEST_F(DlWrapper, PresentLibraryWorksLikeTheLinkedWrapper) {
    ovt::dl::Library lib(OVT_LIB_PATH);
    ASSERT_TRUE(lib.loaded()) << lib.error();
    EXPECT_STREQ(lib.error(), "");
    EXPECT_STREQ(lib.version(), OV_TELEMETRY_VERSION);
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(lib.api(), get_counters));
    EXPECT_STRNE(lib.to_string(ovt::Status::Timeout), "");

    EXPECT_EQ(lib.consent(dir_.path()), ovt::Consent::Undecided);
    ASSERT_EQ(lib.try_set_consent(dir_.path(), true), ovt::Status::Ok);
    EXPECT_EQ(lib.consent(dir_.path()), ovt::Consent::Accepted);

    LoopbackServer server(Mode::ok204());
    ovt::dl::Telemetry t = ovt::dl::Telemetry::try_init(options(lib, server.url()));
    ASSERT_TRUE(t.is_enabled()) << t.reason();
    EXPECT_EQ(t.init_status(), ovt::Status::Ok);
    EXPECT_EQ(t.start_session("cat"), ovt::Status::Ok);
    EXPECT_EQ(t.event("cat", std::string_view("convert"), std::string("onnx"), 2), ovt::Status::Ok);
    EXPECT_EQ(t.error("cat", "boom"), ovt::Status::Ok);
    EXPECT_EQ(t.end_session("cat"), ovt::Status::Ok);
    EXPECT_EQ(t.flush(std::chrono::seconds(10)), ovt::Status::Ok);
    const ovt::Counters c = t.counters();
    EXPECT_EQ(c.queued, 4u);
    EXPECT_EQ(c.sent, 4u);
    EXPECT_EQ(t.shutdown(std::chrono::seconds(5)), ovt::Status::Ok);
    EXPECT_EQ(t.event("cat", "late", "l"), ovt::Status::ShutDown);
    EXPECT_EQ(server.delivered_event_names(),
              (std::vector<std::string>{"session", "convert", "error_", "session"}));

    // A rejected option: the library's text, once.
    ovt::dl::Telemetry bad = ovt::dl::Telemetry::try_init(ovt::dl::Options(lib).app("t", "1"));
    EXPECT_EQ(bad.init_status(), ovt::Status::InvalidArgument);
    EXPECT_NE(std::string(bad.reason()).find("measurement"), std::string::npos) << bad.reason();
}

TEST_F(DlWrapper, MissingLibraryIsANoOp) {
    const std::string path = dir_.file("libopenvino_telemetry.so.1");  // does not exist
    ovt::dl::Library lib(path);
    expect_no_op(lib, dir_.file("intel"), path);
}

TEST_F(DlWrapper, LibraryWithoutGetApiIsANoOp) {
    ovt::dl::Library lib(OVT_STANDIN_NO_GET_API);
    expect_no_op(lib, dir_.file("intel"), "has no ov_telemetry_get_api");
}

TEST_F(DlWrapper, LibraryWithATooShortTableIsANoOp) {
    ovt::dl::Library lib(OVT_STANDIN_SHORT_TABLE);
    expect_no_op(lib, dir_.file("intel"), "too old");
}

TEST_F(DlWrapper, OlderLibraryWorksWithoutCounters) {
    ovt::dl::Library lib(OVT_STANDIN_OLDER_TABLE);
    ASSERT_TRUE(lib.loaded()) << lib.error();
    EXPECT_FALSE(OV_TELEMETRY_API_HAS(lib.api(), get_counters));
    EXPECT_TRUE(OV_TELEMETRY_API_HAS(lib.api(), version));
    ASSERT_EQ(lib.try_set_consent(dir_.path(), true), ovt::Status::Ok);
    LoopbackServer server(Mode::ok204());
    ovt::dl::Telemetry t = ovt::dl::Telemetry::try_init(options(lib, server.url()));
    ASSERT_TRUE(t.is_enabled()) << t.reason();
    EXPECT_EQ(t.event("cat", "old", "l"), ovt::Status::Ok);
    EXPECT_EQ(t.flush(std::chrono::seconds(10)), ovt::Status::Ok);
    EXPECT_EQ(t.counters().sent, 0u) << "the table has no get_counters: zero, never a call past its end";
    EXPECT_EQ(server.delivered_event_names(), std::vector<std::string>{"old"});
}

TEST_F(DlWrapper, LibraryIsMoveOnlyAndMovesItsTable) {
    static_assert(!std::is_copy_constructible<ovt::dl::Library>::value, "move-only");
    static_assert(std::is_nothrow_move_constructible<ovt::dl::Library>::value, "noexcept move");
    static_assert(std::is_nothrow_constructible<ovt::dl::Library, const char*>::value, "never throws");
    ovt::dl::Library a(OVT_LIB_PATH);
    ASSERT_TRUE(a.loaded()) << a.error();
    const ov_telemetry_api_t* api = a.api();
    ovt::dl::Library b = std::move(a);
    EXPECT_FALSE(a.loaded());
    EXPECT_EQ(b.api(), api);
    ovt::dl::Library missing(dir_.file("nothing.so"));
    missing = std::move(b);
    EXPECT_TRUE(missing.loaded());
    EXPECT_STREQ(missing.error(), "");
}

TEST_F(DlWrapper, GetApiTypedefMatchesTheSymbol) {
    void* handle = dlopen(OVT_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle, nullptr) << dlerror();
    const auto get_api = reinterpret_cast<ov_telemetry_get_api_fn>(dlsym(handle, "ov_telemetry_get_api"));
    ASSERT_NE(get_api, nullptr);
    const ov_telemetry_api_t* api = get_api(OV_TELEMETRY_ABI_VERSION);
    ASSERT_NE(api, nullptr);
    EXPECT_GE(api->struct_size, sizeof(ov_telemetry_api_t));
    dlclose(handle);
}

}  // namespace
