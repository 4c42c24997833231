// One handle shared by many threads: 8 senders x 10,000 events while another thread flushes
// over and over. Every send is either accepted (OK) or dropped and counted (QUEUE_FULL);
// after the final flush the server holds exactly the accepted events.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "loopback_server.hpp"
#include "openvino_telemetry.h"
#include "test_support.hpp"

namespace {

constexpr int kSenders = 8;
constexpr int kSendsPerThread = 10000;

TEST(Threads, ConcurrentSendsAndFlushesLoseNothingAccepted) {
    ovt_util::clear_telemetry_env();
    ovt_util::TempDir dir;
    ovt_test::LoopbackServer server(ovt_test::Mode::ok204());
    ASSERT_EQ(ov_telemetry_set_consent(dir.c_str(), true), OV_TELEMETRY_STATUS_OK) << ov_telemetry_last_error();

    ov_telemetry_options_t* opts = nullptr;
    ASSERT_EQ(ov_telemetry_options_create(&opts), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(ov_telemetry_options_set_app(opts, "ovt_threads", "1.0"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(ov_telemetry_options_set_measurement_id(opts, "G-TEST000000"), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(ov_telemetry_options_set_config_dir(opts, dir.c_str()), OV_TELEMETRY_STATUS_OK);
    ASSERT_EQ(ov_telemetry_options_set_endpoint(opts, server.url().c_str()), OV_TELEMETRY_STATUS_OK);
    ov_telemetry_t* t = nullptr;
    ASSERT_EQ(ov_telemetry_init(opts, &t), OV_TELEMETRY_STATUS_OK) << ov_telemetry_last_error();
    ov_telemetry_options_free(opts);

    std::atomic<std::int64_t> ok{0}, queue_full{0}, other{0};
    std::atomic<std::int64_t> flushes{0}, bad_flushes{0};
    std::atomic<bool> senders_done{false};

    std::thread flusher([&] {
        while (!senders_done.load()) {
            const std::int32_t st = ov_telemetry_flush(t, 20);
            if (st != OV_TELEMETRY_STATUS_OK && st != OV_TELEMETRY_STATUS_TIMEOUT) {
                bad_flushes.fetch_add(1);
            }
            flushes.fetch_add(1);
        }
    });
    std::vector<std::thread> senders;
    for (int i = 0; i < kSenders; ++i) {
        senders.emplace_back([&, i] {
            const std::string action = "thread_" + std::to_string(i);
            for (int n = 0; n < kSendsPerThread; ++n) {
                const std::int32_t st = ov_telemetry_send_event(t, "threads", action.c_str(), "l", n);
                if (st == OV_TELEMETRY_STATUS_OK) {
                    ok.fetch_add(1);
                } else if (st == OV_TELEMETRY_STATUS_QUEUE_FULL) {
                    queue_full.fetch_add(1);
                } else {
                    other.fetch_add(1);
                }
            }
        });
    }
    for (auto& s : senders) {
        s.join();
    }
    senders_done = true;
    flusher.join();

    ASSERT_EQ(ov_telemetry_flush(t, 30000), OV_TELEMETRY_STATUS_OK);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(bad_flushes.load(), 0);
    EXPECT_EQ(ok.load() + queue_full.load(), std::int64_t{kSenders} * kSendsPerThread);
    EXPECT_GT(ok.load(), 0);
    EXPECT_GT(flushes.load(), 0);

    std::int64_t received = 0;
    for (const auto& r : server.requests()) {
        EXPECT_EQ(r.answered, 204);
        received += static_cast<std::int64_t>(ovt_test::count_events(r.body));
    }
    EXPECT_EQ(received, ok.load()) << "accepted " << ok.load() << ", dropped " << queue_full.load();
    std::printf("accepted %lld, dropped %lld, requests %zu, flushes %lld\n",
                static_cast<long long>(ok.load()), static_cast<long long>(queue_full.load()),
                server.requests().size(), static_cast<long long>(flushes.load()));

    EXPECT_EQ(ov_telemetry_shutdown(t, 5000), OV_TELEMETRY_STATUS_OK);
    ov_telemetry_free(t);
}

}  // namespace
