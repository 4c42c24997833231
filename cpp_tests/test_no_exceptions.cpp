// Built with -fno-exceptions: both wrapper headers compile, the throwing calls are absent,
// and the non-throwing ones work. Plain main (GoogleTest needs exceptions); exit 0 = pass.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <string>
#include <type_traits>
#include <utility>

#include <stdlib.h>

#include "openvino_telemetry.hpp"
#include "openvino_telemetry_dl.hpp"

#if OV_TELEMETRY_CXX_EXCEPTIONS
#error "this file must be compiled with -fno-exceptions"
#endif

namespace ovt = ov::telemetry;

template <typename T, typename = void>
struct has_init : std::false_type {};
template <typename T>
struct has_init<T, std::void_t<decltype(T::init(std::declval<const typename T::Options&>()))>> : std::true_type {};
template <typename T, typename = void>
struct has_try_init : std::false_type {};
template <typename T>
struct has_try_init<T, std::void_t<decltype(T::try_init(std::declval<const typename T::Options&>()))>>
    : std::true_type {};
static_assert(!has_init<ovt::Telemetry>::value, "init (throwing) is absent");
static_assert(has_try_init<ovt::Telemetry>::value, "try_init remains");
static_assert(!has_init<ovt::dl::Telemetry>::value, "init (throwing) is absent");
static_assert(has_try_init<ovt::dl::Telemetry>::value, "try_init remains");

static int failures = 0;
#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            std::fprintf(stderr, "%s:%d: CHECK(%s)\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                    \
        }                                                                  \
    } while (0)

int main() {
    for (const char* name : {"DO_NOT_TRACK", "OPENVINO_TELEMETRY_DISABLE", "OPENVINO_TELEMETRY_ENDPOINT"}) {
        unsetenv(name);
    }
    char dir_template[] = "/tmp/ovt_noexc.XXXXXX";
    const char* made = mkdtemp(dir_template);
    CHECK(made != nullptr);
    const std::string dir = std::string(made != nullptr ? made : "/tmp") + "/intel";

    // A failed init: the empty state and the reason, no exception machinery involved.
    ovt::Telemetry missing = ovt::Telemetry::try_init(ovt::Options().app("t", "1").config_dir(dir));
    CHECK(missing.init_status() == ovt::Status::InvalidArgument);
    CHECK(std::string(missing.reason()).find("measurement") != std::string::npos);
    CHECK(missing.event("c", "a", "l") == ovt::Status::Disabled);

    // No consent: a disabled handle.
    ovt::Telemetry undecided = ovt::Telemetry::try_init(
        ovt::Options().app("t", "1").measurement_id("G-TEST000000").config_dir(dir).endpoint("http://127.0.0.1:9/x"));
    CHECK(undecided.get() != nullptr);
    CHECK(undecided.init_status() == ovt::Status::Disabled);
    CHECK(undecided.event("c", "a", "l") == ovt::Status::Disabled);
    CHECK(undecided.flush(std::chrono::hours::max()) == ovt::Status::Ok);

    CHECK(ovt::try_set_consent(dir, false) == ovt::Status::Ok);
    CHECK(ovt::consent(dir) == ovt::Consent::Declined);

    ovt::dl::Library absent(dir + "/no_such_library.so");
    CHECK(!absent.loaded());
    ovt::dl::Telemetry d = ovt::dl::Telemetry::try_init(ovt::dl::Options(absent).app("t", "1"));
    CHECK(d.init_status() == ovt::Status::Disabled);

    ovt::Telemetry empty;
    CHECK(!empty.is_enabled());
    if (made != nullptr) {
        std::error_code ec;
        std::filesystem::remove_all(made, ec);
        CHECK(!ec);
    }
    if (failures == 0) {
        std::printf("no-exceptions wrapper: ok\n");
    }
    return failures == 0 ? 0 : 1;
}
