// A C++ program that ends with an uncaught exception, for tests/crash.rs.
//
//   crasher_cpp CONFIG_DIR
//
// Turns crash reports and the wrapper's terminate handler on, prints "init <status>",
// then throws a std::runtime_error nobody catches (its message names a path that must
// never reach a report).
#include <cstdio>
#include <stdexcept>

#include "openvino_telemetry.hpp"

namespace {

[[noreturn]] __attribute__((noinline)) void throw_uncaught() {
    throw std::runtime_error("cannot open /home/secret-user/model.xml");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: crasher_cpp CONFIG_DIR\n");
        return 2;
    }
    ov::telemetry::install_terminate_handler();
    ov::telemetry::Options options;
    options.app("crasher_cpp", "4.5.6").measurement_id("G-CRASHTEST").config_dir(argv[1]).crash_reports(true);
    ov::telemetry::Telemetry telemetry = ov::telemetry::Telemetry::init(options);
    std::printf("init %d\n", static_cast<int>(telemetry.init_status()));
    std::fflush(stdout);
    throw_uncaught();
}
