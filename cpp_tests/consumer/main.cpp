// Links openvino::telemetry from an installed prefix and checks that the library it runs
// with is the one its header describes. Exit 0 on success.
#include <cstdio>
#include <cstring>

#include <openvino_telemetry.h>
#include <openvino_telemetry.hpp>

int main() {
    const char* lib = ov_telemetry_version();
    if (lib == nullptr || std::strcmp(lib, OV_TELEMETRY_VERSION) != 0) {
        std::fprintf(stderr, "version mismatch: library %s, header %s\n", lib ? lib : "(null)",
                     OV_TELEMETRY_VERSION);
        return 1;
    }
    if (std::strcmp(ov::telemetry::version(), lib) != 0) {
        std::fprintf(stderr, "C++ wrapper disagrees: %s\n", ov::telemetry::version());
        return 1;
    }
    std::printf("openvino_telemetry %s\n", lib);
    return 0;
}
