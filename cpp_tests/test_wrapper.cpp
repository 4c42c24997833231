// The header-only C++ wrapper (openvino_telemetry.hpp) over the linked library: error
// policy, move semantics, the bounded destructor, consent helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "loopback_server.hpp"
#include "openvino_telemetry.hpp"
#include "test_support.hpp"

namespace {

namespace ovt = ov::telemetry;
using ovt_test::LoopbackServer;
using ovt_test::Mode;
using ovt_util::TempDir;
using Clock = std::chrono::steady_clock;

class Wrapper : public ::testing::Test {
protected:
    void SetUp() override { ovt_util::clear_telemetry_env(); }

    ovt::Options options(const std::string& endpoint) {
        ovt::Options o;
        o.app("ovt_wrapper_test", "1.2.3").measurement_id("G-TEST000000").config_dir(dir_.path()).endpoint(endpoint);
        return o;
    }

    TempDir dir_;
};

TEST_F(Wrapper, OptionsSettersThrowOnInvalidArgument) {
    ovt::Options o;
    try {
        o.app("name", static_cast<const char*>(nullptr));
        FAIL() << "no exception";
    } catch (const ovt::Error& e) {
        EXPECT_EQ(e.status(), ovt::Status::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find(ovt::to_string(ovt::Status::InvalidArgument)),
                  std::string::npos)
            << e.what();
        EXPECT_GT(std::string(e.what()).size(), std::string(ovt::to_string(ovt::Status::InvalidArgument)).size())
            << "carries last_error: " << e.what();
    }
    EXPECT_THROW(o.endpoint("\xff"), ovt::Error);
    EXPECT_THROW(o.config_dir(static_cast<const char*>(nullptr)), ovt::Error);
    EXPECT_THROW(o.measurement_id(std::string("\xff")), ovt::Error);
    EXPECT_NO_THROW(o.app("a", "1").consent_dialog(false).disable_in_ci(false).queue_capacity(10));
}

TEST_F(Wrapper, InitWithoutConsentIsNotAnException) {
    LoopbackServer server(Mode::ok204());
    ovt::Telemetry t = ovt::Telemetry::init(options(server.url()));
    EXPECT_FALSE(t.is_enabled());
    EXPECT_EQ(t.init_status(), ovt::Status::Disabled);
    EXPECT_EQ(t.start_session("c"), ovt::Status::Disabled);
    EXPECT_EQ(t.event("c", "a", "l", 1), ovt::Status::Disabled);
    EXPECT_EQ(t.error("c", "m"), ovt::Status::Disabled);
    EXPECT_EQ(t.stack_trace("c", "t"), ovt::Status::Disabled);
    EXPECT_EQ(t.end_session("c"), ovt::Status::Disabled);
    EXPECT_EQ(t.flush(std::chrono::milliseconds(100)), ovt::Status::Ok);
}

TEST_F(Wrapper, InitThrowsOnInvalidArgument) {
    ovt::Options moved_from = options("http://127.0.0.1:9/mp/collect");
    ovt::Options taken = std::move(moved_from);
    EXPECT_EQ(moved_from.get(), nullptr);
    try {
        (void)ovt::Telemetry::init(moved_from);
        FAIL() << "no exception";
    } catch (const ovt::Error& e) {
        EXPECT_EQ(e.status(), ovt::Status::InvalidArgument);
    }
    EXPECT_THROW((void)ovt::Telemetry::init_simple("\xff", "1", "G-TEST000000"), ovt::Error);
}

TEST_F(Wrapper, EnabledClientDeliversAndShutsDown) {
    LoopbackServer server(Mode::ok204());
    ovt::set_consent(dir_.path(), true);
    EXPECT_EQ(ovt::consent(dir_.path()), ovt::Consent::Accepted);
    ovt::Telemetry t = ovt::Telemetry::init(options(server.url()));
    ASSERT_TRUE(t.is_enabled());
    EXPECT_EQ(t.init_status(), ovt::Status::Ok);
    EXPECT_EQ(t.start_session("cat"), ovt::Status::Ok);
    EXPECT_EQ(t.event("cat", std::string("act"), "lbl", 3), ovt::Status::Ok);
    EXPECT_EQ(t.error("cat", "boom"), ovt::Status::Ok);
    EXPECT_EQ(t.stack_trace("cat", "frame0\nframe1"), ovt::Status::Ok);
    EXPECT_EQ(t.end_session("cat"), ovt::Status::Ok);
    EXPECT_EQ(t.shutdown(std::chrono::seconds(5)), ovt::Status::Ok);
    EXPECT_EQ(server.delivered_event_names(),
              (std::vector<std::string>{"session", "act", "error_", "stack_trace", "session"}));
    EXPECT_EQ(t.event("cat", "act", "lbl", 1), ovt::Status::ShutDown);
}

TEST_F(Wrapper, MoveTransfersTheHandle) {
    LoopbackServer server(Mode::ok204());
    ovt::set_consent(dir_.path(), true);
    ovt::Telemetry a = ovt::Telemetry::init(options(server.url()));
    ov_telemetry_t* raw = a.get();
    ASSERT_NE(raw, nullptr);

    ovt::Telemetry b = std::move(a);
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_FALSE(a.is_enabled());
    EXPECT_EQ(a.event("c", "a", "l", 1), ovt::Status::InvalidArgument);
    EXPECT_EQ(a.flush(std::chrono::milliseconds(0)), ovt::Status::InvalidArgument);
    EXPECT_EQ(b.get(), raw);
    EXPECT_TRUE(b.is_enabled());
    EXPECT_EQ(b.event("c", "moved", "l", 1), ovt::Status::Ok);

    // Move assignment releases the target's previous handle (shut down and freed) first.
    ovt::Telemetry c = ovt::Telemetry::init(options(server.url()));
    EXPECT_EQ(c.event("c", "replaced", "l", 1), ovt::Status::Ok);
    c = std::move(b);
    EXPECT_EQ(c.get(), raw);
    EXPECT_EQ(b.get(), nullptr);
    // The replaced handle was shut down (delivering its event) before the assignment returned.
    auto names = server.delivered_event_names();
    EXPECT_NE(std::find(names.begin(), names.end(), "replaced"), names.end());
    EXPECT_EQ(c.flush(std::chrono::seconds(5)), ovt::Status::Ok);
    names = server.delivered_event_names();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"moved", "replaced"}));
}

TEST_F(Wrapper, DestructorIsBoundedWhenTheNetworkHangs) {
    LoopbackServer server(Mode::hang());
    ovt::set_consent(dir_.path(), true);
    std::optional<ovt::Telemetry> t(ovt::Telemetry::init(options(server.url())));
    ASSERT_TRUE(t->is_enabled());
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(t->event("c", "a", "l", i), ovt::Status::Ok);
    }
    ASSERT_FALSE(server.wait_for_requests(1, std::chrono::seconds(5)).empty());
    const auto start = Clock::now();
    t.reset();  // ~Telemetry: shutdown(kDestructorShutdownTimeout), then free
    const auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, std::chrono::milliseconds(900)) << "waited for the hanging peer";
    EXPECT_LE(elapsed, ovt::Telemetry::kDestructorShutdownTimeout + std::chrono::milliseconds(500));
}

TEST_F(Wrapper, FlushAndShutdownAreBoundedWhenTheNetworkHangs) {
    LoopbackServer server(Mode::hang());
    ovt::set_consent(dir_.path(), true);
    ovt::Telemetry t = ovt::Telemetry::init(options(server.url()));
    EXPECT_EQ(t.event("c", "a", "l", 1), ovt::Status::Ok);
    const auto start = Clock::now();
    EXPECT_EQ(t.flush(std::chrono::milliseconds(200)), ovt::Status::Timeout);
    const auto elapsed = Clock::now() - start;
    EXPECT_GE(elapsed, std::chrono::milliseconds(190));
    EXPECT_LE(elapsed, std::chrono::milliseconds(700));
    const auto start_shutdown = Clock::now();
    const ovt::Status st = t.shutdown(std::chrono::milliseconds(0));
    EXPECT_TRUE(st == ovt::Status::Timeout || st == ovt::Status::Ok) << ovt::to_string(st);
    EXPECT_LE(Clock::now() - start_shutdown, std::chrono::milliseconds(300));
    EXPECT_EQ(t.event("c", "a", "l", 1), ovt::Status::ShutDown);
}

TEST_F(Wrapper, IdleDestructorIsFast) {
    LoopbackServer server(Mode::hang());
    ovt::set_consent(dir_.path(), true);
    std::optional<ovt::Telemetry> t(ovt::Telemetry::init(options(server.url())));
    ASSERT_TRUE(t->is_enabled());
    const auto start = Clock::now();
    t.reset();
    EXPECT_LE(Clock::now() - start, std::chrono::milliseconds(100));
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(Wrapper, ConsentHelpers) {
    EXPECT_EQ(ovt::consent(dir_.path()), ovt::Consent::Undecided);
    ovt::set_consent(dir_.path(), false);
    EXPECT_EQ(ovt::consent(dir_.path()), ovt::Consent::Declined);
    ovt::set_consent(dir_.path(), true);
    EXPECT_EQ(ovt::consent(dir_.path()), ovt::Consent::Accepted);
    ovt_util::write_file(dir_.file("plain_file"), "x");
    try {
        ovt::set_consent(dir_.file("plain_file/sub"), true);
        FAIL() << "no exception";
    } catch (const ovt::Error& e) {
        EXPECT_EQ(e.status(), ovt::Status::IoError) << e.what();
        EXPECT_NE(std::string(e.what()).find("plain_file"), std::string::npos)
            << "the detail names the path: " << e.what();
    }
}

TEST_F(Wrapper, VersionAndStatusText) {
    EXPECT_STREQ(ovt::version(), OV_TELEMETRY_VERSION);
    EXPECT_STRNE(ovt::to_string(ovt::Status::Ok), "");
    EXPECT_STRNE(ovt::to_string(static_cast<ovt::Status>(12345)), "");
}

}  // namespace
