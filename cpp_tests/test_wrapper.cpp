// The header-only C++ wrapper (openvino_telemetry.hpp) over the linked library: error
// policy, move semantics, the bounded destructor, consent helpers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <string_view>
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

TEST_F(Wrapper, OptionsSettersKeepTheFirstFailureAndInitReportsIt) {
    ovt::Options o;
    EXPECT_EQ(o.status(), ovt::Status::Ok);
    EXPECT_EQ(o.error(), "");
    o.app("name", static_cast<const char*>(nullptr));
    EXPECT_EQ(o.status(), ovt::Status::InvalidArgument);
    const std::string first = o.error();
    EXPECT_NE(first.find("version"), std::string::npos) << "names the argument: " << first;
    o.endpoint("\xff").measurement_id(std::string("\xff"));
    EXPECT_EQ(o.error(), first) << "the first failure is kept";
    try {
        (void)ovt::Telemetry::init(o);
        FAIL() << "no exception";
    } catch (const ovt::Error& e) {
        EXPECT_EQ(e.status(), ovt::Status::InvalidArgument);
        EXPECT_EQ(std::string(e.what()), first);
    }
    ovt::Options good;
    good.app("a", "1").consent_dialog(false).disable_in_ci(false).queue_capacity(10);
    EXPECT_EQ(good.status(), ovt::Status::Ok) << good.error();
}

TEST_F(Wrapper, ErrorTextSaysItsKindOnce) {
    ovt::Options o;
    o.app("tool", "1").measurement_id("");
    ASSERT_EQ(o.status(), ovt::Status::InvalidArgument);
    const std::string kind = ovt::to_string(ovt::Status::InvalidArgument);
    const std::string& text = o.error();
    ASSERT_EQ(text.rfind(kind, 0), 0u) << text;
    EXPECT_EQ(text.find(kind, 1), std::string::npos) << "\"" << kind << "\" twice: " << text;
    EXPECT_GT(text.size(), kind.size()) << "carries the detail";
    // The same text through try_init and init.
    ovt::Telemetry t = ovt::Telemetry::try_init(o);
    EXPECT_STREQ(t.reason(), text.c_str());
    // An I/O failure: the detail names the file once, after no repeated kind.
    ovt_util::write_file(dir_.file("plain_file"), "x");
    try {
        ovt::set_consent(dir_.file("plain_file/sub"), true);
        FAIL() << "no exception";
    } catch (const ovt::Error& e) {
        const std::string what = e.what();
        const std::string io = ovt::to_string(ovt::Status::IoError);
        EXPECT_EQ(what.find(io + ": "), std::string::npos) << what;
        EXPECT_NE(what.find("plain_file"), std::string::npos) << what;
    }
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
    // The moved-from object is in the empty state: a disabled no-op.
    EXPECT_EQ(a.get(), nullptr);
    EXPECT_FALSE(a.is_enabled());
    EXPECT_EQ(a.init_status(), ovt::Status::Disabled);
    EXPECT_STRNE(a.reason(), "");
    EXPECT_EQ(a.event("c", "a", "l", 1), ovt::Status::Disabled);
    EXPECT_EQ(a.flush(std::chrono::milliseconds(0)), ovt::Status::Ok);
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

TEST_F(Wrapper, DefaultConstructedIsADisabledNoOp) {
    ovt::Telemetry t;
    EXPECT_EQ(t.get(), nullptr);
    EXPECT_FALSE(t.is_enabled());
    EXPECT_EQ(t.init_status(), ovt::Status::Disabled);
    EXPECT_STRNE(t.reason(), "");
    EXPECT_EQ(t.start_session("c"), ovt::Status::Disabled);
    EXPECT_EQ(t.event("c", "a", "l"), ovt::Status::Disabled);
    EXPECT_EQ(t.error("c", "m"), ovt::Status::Disabled);
    EXPECT_EQ(t.stack_trace("c", "t"), ovt::Status::Disabled);
    EXPECT_EQ(t.end_session("c"), ovt::Status::Disabled);
    EXPECT_EQ(t.flush(std::chrono::seconds(1)), ovt::Status::Ok);
    EXPECT_EQ(t.shutdown(std::chrono::seconds(1)), ovt::Status::Ok);
    const ovt::Counters c = t.counters();
    EXPECT_EQ(c.queued + c.sent + c.dropped + c.failed + c.retried, 0u);
    // A member that is assigned later: the usual pattern for a tool's long-lived object.
    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ovt::try_set_consent(dir_.path(), true), ovt::Status::Ok);
    t = ovt::Telemetry::try_init(options(server.url()));
    EXPECT_TRUE(t.is_enabled()) << t.reason();
    EXPECT_EQ(t.event("c", "assigned", "l"), ovt::Status::Ok);
    EXPECT_EQ(t.shutdown(std::chrono::seconds(5)), ovt::Status::Ok);
    EXPECT_EQ(server.delivered_event_names(), std::vector<std::string>{"assigned"});
}

TEST_F(Wrapper, TryInitNeverThrowsAndSaysWhy) {
    // Forgetting the measurement id: no exception, an empty Telemetry and the reason.
    static_assert(noexcept(ovt::Telemetry::try_init(std::declval<const ovt::Options&>())), "noexcept");
    ovt::Telemetry missing_id = ovt::Telemetry::try_init(ovt::Options().app("tool", "1").config_dir(dir_.path()));
    EXPECT_EQ(missing_id.get(), nullptr);
    EXPECT_FALSE(missing_id.is_enabled());
    EXPECT_EQ(missing_id.init_status(), ovt::Status::InvalidArgument);
    EXPECT_NE(std::string(missing_id.reason()).find("measurement"), std::string::npos) << missing_id.reason();
    EXPECT_EQ(missing_id.event("c", "a", "l"), ovt::Status::Disabled);
    // A rejected setter value reaches try_init.
    ovt::Telemetry bad_url = ovt::Telemetry::try_init(options("ftp://127.0.0.1/x"));
    EXPECT_EQ(bad_url.init_status(), ovt::Status::InvalidArgument);
    EXPECT_NE(std::string(bad_url.reason()).find("ftp"), std::string::npos) << bad_url.reason();
    // No consent recorded: a real, disabled handle and the library's reason.
    LoopbackServer server(Mode::ok204());
    ovt::Telemetry undecided = ovt::Telemetry::try_init(options(server.url()));
    EXPECT_NE(undecided.get(), nullptr);
    EXPECT_EQ(undecided.init_status(), ovt::Status::Disabled);
    EXPECT_NE(std::string(undecided.reason()).find("disabled"), std::string::npos) << undecided.reason();
    EXPECT_EQ(undecided.event("c", "a", "l"), ovt::Status::Disabled);
    // Enabled: no reason.
    ASSERT_EQ(ovt::try_set_consent(dir_.path(), true), ovt::Status::Ok);
    ovt::Telemetry enabled = ovt::Telemetry::try_init(options(server.url()));
    EXPECT_EQ(enabled.init_status(), ovt::Status::Ok);
    EXPECT_STREQ(enabled.reason(), "");
    // try_init_simple: default options (the default directory is never touched here because
    // the measurement id is refused first).
    ovt::Telemetry simple = ovt::Telemetry::try_init_simple("tool", "1", "");
    EXPECT_EQ(simple.init_status(), ovt::Status::InvalidArgument);
}

TEST_F(Wrapper, OptionsOnATemporaryAndStringViews) {
    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ovt::try_set_consent(std::string_view(dir_.path()), true), ovt::Status::Ok);
    // Not NUL-terminated views: each is copied with its own length.
    const std::string buffer = "convert_model_onnx_and_more";
    const std::string_view action = std::string_view(buffer).substr(0, 7);   // "convert"
    const std::string_view label = std::string_view(buffer).substr(14, 4);   // "onnx"
    const std::string url = server.url();
    ovt::Telemetry t = ovt::Telemetry::try_init(ovt::Options()
                                                    .app(std::string_view("ovt_wrapper_test"), "1.2.3")
                                                    .measurement_id(std::string("G-TEST000000"))
                                                    .config_dir(std::string_view(dir_.path()))
                                                    .endpoint(std::string_view(url)));
    ASSERT_TRUE(t.is_enabled()) << t.reason();
    EXPECT_EQ(t.event(std::string_view("cat"), action, label, 2), ovt::Status::Ok);
    EXPECT_EQ(t.shutdown(std::chrono::seconds(5)), ovt::Status::Ok);
    EXPECT_EQ(server.delivered_event_names(), std::vector<std::string>{"convert"});
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_NE(requests[0].body.find("\"onnx\""), std::string::npos) << requests[0].body;
    EXPECT_EQ(requests[0].body.find("onnx_and"), std::string::npos) << requests[0].body;
    // Options().app(...) is an rvalue all along the chain.
    static_assert(std::is_same<decltype(ovt::Options().app("a", "1").measurement_id("G-1")), ovt::Options&&>::value,
                  "chains on a temporary");
}

TEST_F(Wrapper, ConsentWithoutArgumentReadsTheDefaultDirectory) {
    ovt_util::ScopedEnv home("HOME", dir_.path());
    EXPECT_EQ(ovt::consent(), ovt::Consent::Undecided);
    ASSERT_EQ(ovt::try_set_consent(dir_.file("intel"), false), ovt::Status::Ok);
    EXPECT_EQ(ovt::consent(), ovt::Consent::Declined);
    ASSERT_EQ(ovt::try_set_consent(nullptr, true), ovt::Status::Ok);
    EXPECT_EQ(ovt::consent(), ovt::Consent::Accepted);
    EXPECT_EQ(ovt::consent(dir_.file("intel")), ovt::Consent::Accepted);
}

TEST_F(Wrapper, TrySetConsentReportsFailuresWithoutThrowing) {
    static_assert(noexcept(ovt::try_set_consent("d", true)), "noexcept");
    ovt_util::write_file(dir_.file("plain_file"), "x");
    EXPECT_EQ(ovt::try_set_consent(dir_.file("plain_file/sub"), true), ovt::Status::IoError);
    EXPECT_NE(std::string(ovt::last_error()).find("plain_file"), std::string::npos) << ovt::last_error();
    EXPECT_EQ(ovt::try_set_consent("", true), ovt::Status::InvalidArgument);
}

TEST_F(Wrapper, CountersAfterDelivery) {
    LoopbackServer server(Mode::fail_then_ok(1, 500));
    ovt::Telemetry undecided = ovt::Telemetry::try_init(options(server.url()));
    ASSERT_EQ(undecided.init_status(), ovt::Status::Disabled);
    EXPECT_EQ(undecided.event("c", "a", "l"), ovt::Status::Disabled);
    ovt::Counters zero = undecided.counters();
    EXPECT_EQ(zero.queued + zero.sent + zero.dropped + zero.failed + zero.retried, 0u);

    ASSERT_EQ(ovt::try_set_consent(dir_.path(), true), ovt::Status::Ok);
    ovt::Telemetry t = ovt::Telemetry::try_init(options(server.url()));
    ASSERT_TRUE(t.is_enabled()) << t.reason();
    for (const char* action : {"a", "b", "c"}) {
        EXPECT_EQ(t.event("cat", action, "l"), ovt::Status::Ok);
    }
    ASSERT_EQ(t.flush(std::chrono::seconds(20)), ovt::Status::Ok);
    const ovt::Counters c = t.counters();
    EXPECT_EQ(c.queued, 3u);
    EXPECT_EQ(c.sent, 3u);
    EXPECT_EQ(c.dropped, 0u);
    EXPECT_EQ(c.failed, 0u);
    EXPECT_EQ(c.retried, 1u);
    EXPECT_EQ(server.delivered_event_names().size(), 3u);
    // The C function itself: NULL handle, short size.
    ov_telemetry_counters_t raw{};
    EXPECT_EQ(ov_telemetry_get_counters(nullptr, &raw, sizeof raw), OV_TELEMETRY_STATUS_INVALID_ARGUMENT);
    unsigned char bytes[sizeof(ov_telemetry_counters_t) + 8];
    std::fill(std::begin(bytes), std::end(bytes), static_cast<unsigned char>(0xAA));
    ASSERT_EQ(ov_telemetry_get_counters(t.get(), reinterpret_cast<ov_telemetry_counters_t*>(bytes), 16),
              OV_TELEMETRY_STATUS_OK);
    std::uint64_t first_two[2];
    std::memcpy(first_two, bytes, sizeof first_two);
    EXPECT_EQ(first_two[0], 3u);
    EXPECT_EQ(first_two[1], 3u);
    EXPECT_TRUE(std::all_of(bytes + 16, std::end(bytes), [](unsigned char b) { return b == 0xAA; }))
        << "nothing beyond out_size is written";
    // Final counts after shutdown.
    EXPECT_EQ(t.shutdown(std::chrono::seconds(5)), ovt::Status::Ok);
    EXPECT_EQ(t.counters().sent, 3u);
}

// A library newer than this header may return statuses the header does not name.
struct NewerLibrary : ovt::detail::LinkedBackend {
    static inline std::int32_t init_answer = 0;
    static ov_telemetry_status_e init(const ov_telemetry_options_t* o, ov_telemetry_t** out) noexcept {
        const ov_telemetry_status_e real = ov_telemetry_init(o, out);
        if (real < 0) {
            return real;
        }
        if (init_answer < 0) {  // a failure the header does not know: no handle is written
            ov_telemetry_free(*out);
            *out = nullptr;
        }
        return static_cast<ov_telemetry_status_e>(init_answer);
    }
};

TEST_F(Wrapper, UnknownStatusesFromANewerLibrary) {
    using NewerOptions = ovt::BasicOptions<NewerLibrary>;
    using NewerTelemetry = ovt::BasicTelemetry<NewerLibrary>;
    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ovt::try_set_consent(dir_.path(), true), ovt::Status::Ok);
    const std::string url = server.url();
    auto options_for = [&] {
        return NewerOptions().app("t", "1").measurement_id("G-TEST000000").config_dir(dir_.path()).endpoint(url);
    };
    EXPECT_FALSE(ovt::is_error(static_cast<ovt::Status>(7)));
    EXPECT_TRUE(ovt::is_error(static_cast<ovt::Status>(-9)));

    // A positive status it does not know is not an error, and the handle is kept.
    NewerLibrary::init_answer = 7;
    NewerTelemetry kept = NewerTelemetry::try_init(options_for());
    EXPECT_EQ(static_cast<std::int32_t>(kept.init_status()), 7);
    ASSERT_NE(kept.get(), nullptr);
    EXPECT_TRUE(kept.is_enabled());
    EXPECT_EQ(kept.event("c", "kept", "l"), ovt::Status::Ok);
    EXPECT_EQ(kept.shutdown(std::chrono::seconds(5)), ovt::Status::Ok);
    EXPECT_EQ(server.delivered_event_names(), std::vector<std::string>{"kept"});
    NewerTelemetry thrown_not = NewerTelemetry::init(options_for());  // no exception either
    EXPECT_NE(thrown_not.get(), nullptr);

    // A negative one is a failure: the empty state, and init throws.
    NewerLibrary::init_answer = -9;
    NewerTelemetry failed = NewerTelemetry::try_init(options_for());
    EXPECT_EQ(failed.get(), nullptr);
    EXPECT_EQ(static_cast<std::int32_t>(failed.init_status()), -9);
    EXPECT_STRNE(failed.reason(), "");
    EXPECT_THROW((void)NewerTelemetry::init(options_for()), ovt::Error);
    NewerLibrary::init_answer = 0;
}

TEST_F(Wrapper, TimeoutsAreClampedBeforeConversion) {
    using ovt::detail::to_timeout_ms;
    using std::chrono::duration;
    constexpr std::uint32_t kMax = std::numeric_limits<std::uint32_t>::max();
    // Compile-time evaluation rejects signed overflow, so these also prove there is none.
    static_assert(to_timeout_ms(std::chrono::hours::max()) == kMax);
    static_assert(to_timeout_ms(std::chrono::hours::min()) == 0);
    static_assert(to_timeout_ms(std::chrono::nanoseconds::max()) == kMax);
    static_assert(to_timeout_ms(std::chrono::seconds(-1)) == 0);
    static_assert(to_timeout_ms(std::chrono::milliseconds(0)) == 0);
    static_assert(to_timeout_ms(std::chrono::microseconds(5999)) == 5);
    static_assert(to_timeout_ms(std::chrono::milliseconds(kMax)) == kMax);
    static_assert(to_timeout_ms(std::chrono::milliseconds(std::int64_t{kMax} + 1)) == kMax);
    static_assert(to_timeout_ms(std::chrono::milliseconds(kMax - 1)) == kMax - 1);
    static_assert(to_timeout_ms(duration<std::int64_t, std::ratio<86400 * 365>>::max()) == kMax);
    static_assert(to_timeout_ms(duration<double>(1.5)) == 1500);
    static_assert(to_timeout_ms(duration<double>(1e300)) == kMax);
    static_assert(to_timeout_ms(duration<std::uint64_t, std::milli>::max()) == kMax);
    // The same at run time (UBSan builds check these calls).
    volatile std::int64_t big = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(to_timeout_ms(std::chrono::hours(big)), kMax);
    EXPECT_EQ(to_timeout_ms(std::chrono::hours(-big)), 0u);
    EXPECT_EQ(to_timeout_ms(duration<double>(std::numeric_limits<double>::quiet_NaN())), 0u);
    EXPECT_EQ(to_timeout_ms(duration<double>(std::numeric_limits<double>::infinity())), kMax);
    EXPECT_EQ(to_timeout_ms(duration<double>(-std::numeric_limits<double>::infinity())), 0u);

    // Through the wrapper: an idle flush with the largest duration returns at once, a
    // shutdown with the most negative one does not wait for the hanging peer.
    LoopbackServer server(Mode::hang());
    ASSERT_EQ(ovt::try_set_consent(dir_.path(), true), ovt::Status::Ok);
    ovt::Telemetry t = ovt::Telemetry::try_init(options(server.url()));
    ASSERT_TRUE(t.is_enabled()) << t.reason();
    EXPECT_EQ(t.flush(std::chrono::hours::max()), ovt::Status::Ok);
    EXPECT_EQ(t.event("c", "a", "l"), ovt::Status::Ok);
    ASSERT_EQ(server.wait_for_requests(1, std::chrono::seconds(10)).size(), 1u);
    const auto start = Clock::now();
    EXPECT_EQ(t.shutdown(std::chrono::hours::min()), ovt::Status::Timeout);
    EXPECT_LE(Clock::now() - start, std::chrono::milliseconds(500));
}

}  // namespace
