// Issue #16: converting any std::chrono duration to the C API's milliseconds is free of
// undefined behaviour. Built with -fsanitize=undefined -fno-sanitize-recover=all, so a signed
// overflow (what `duration_cast<milliseconds>(hours::max())` was) aborts the test. The
// inputs are volatile so the compiler cannot fold the conversions away. Exit 0 = pass.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <ratio>
#include <string>
#include <system_error>

#include <stdlib.h>

#include "openvino_telemetry.hpp"

namespace ovt = ov::telemetry;
using ovt::detail::to_timeout_ms;

static int failures = 0;

static void expect(std::uint32_t got, std::uint32_t want, const char* what) {
    if (got != want) {
        std::fprintf(stderr, "%s: got %u, want %u\n", what, static_cast<unsigned>(got), static_cast<unsigned>(want));
        ++failures;
    }
}

int main() {
    constexpr std::uint32_t kMax = std::numeric_limits<std::uint32_t>::max();
    volatile std::int64_t i64max = std::numeric_limits<std::int64_t>::max();
    volatile std::int64_t i64min = std::numeric_limits<std::int64_t>::min();
    volatile double huge = 1e300;
    volatile double nan = std::numeric_limits<double>::quiet_NaN();
    volatile std::uint64_t u64max = std::numeric_limits<std::uint64_t>::max();

    expect(to_timeout_ms(std::chrono::hours(i64max)), kMax, "hours::max");
    expect(to_timeout_ms(std::chrono::hours(i64min)), 0, "hours::min");
    expect(to_timeout_ms(std::chrono::seconds(i64max)), kMax, "seconds::max");
    expect(to_timeout_ms(std::chrono::nanoseconds(i64max)), kMax, "nanoseconds::max");
    expect(to_timeout_ms(std::chrono::nanoseconds(i64min)), 0, "nanoseconds::min");
    expect(to_timeout_ms(std::chrono::duration<std::int64_t, std::ratio<31536000>>(i64max)), kMax, "years::max");
    expect(to_timeout_ms(std::chrono::duration<std::uint64_t, std::milli>(u64max)), kMax, "u64 ms max");
    expect(to_timeout_ms(std::chrono::duration<std::int32_t, std::ratio<3600>>(std::numeric_limits<std::int32_t>::max())),
           kMax, "int32 hours max");
    expect(to_timeout_ms(std::chrono::duration<double>(huge)), kMax, "1e300 s");
    expect(to_timeout_ms(std::chrono::duration<double>(-huge)), 0, "-1e300 s");
    expect(to_timeout_ms(std::chrono::duration<double>(nan)), 0, "NaN s");
    expect(to_timeout_ms(std::chrono::milliseconds(std::int64_t{kMax} + i64max % 2)), kMax, "UINT32_MAX+1 ms");
    volatile std::int64_t ms1233 = 1233;
    expect(to_timeout_ms(std::chrono::milliseconds(ms1233)), 1233, "1233 ms");
    expect(to_timeout_ms(std::chrono::microseconds(ms1233)), 1, "1233 us");

    // Through the wrapper, on a real (disabled) handle: the C call gets the clamped value.
    unsetenv("DO_NOT_TRACK");
    unsetenv("OPENVINO_TELEMETRY_DISABLE");
    char dir_template[] = "/tmp/ovt_ubsan.XXXXXX";
    const char* dir = mkdtemp(dir_template);
    if (dir == nullptr) {
        std::fprintf(stderr, "mkdtemp failed\n");
        return 1;
    }
    {
        ovt::Telemetry t = ovt::Telemetry::try_init(
            ovt::Options().app("t", "1").measurement_id("G-TEST000000").config_dir(std::string(dir) + "/intel"));
        if (t.get() == nullptr || t.init_status() != ovt::Status::Disabled) {
            std::fprintf(stderr, "no disabled handle: %s\n", t.reason());
            ++failures;
        }
        if (t.flush(std::chrono::hours::max()) != ovt::Status::Ok ||
            t.shutdown(std::chrono::nanoseconds::min()) != ovt::Status::Ok) {
            std::fprintf(stderr, "flush/shutdown on a disabled handle\n");
            ++failures;
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    if (failures == 0) {
        std::printf("timeouts under ubsan: ok\n");
    }
    return failures == 0 ? 0 : 1;
}
