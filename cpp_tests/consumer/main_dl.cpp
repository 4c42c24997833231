// Built with openvino::telemetry::headers only (not linked to the library): loads the
// installed library at run time and checks that it is the one the header describes.
#include <cstdio>
#include <cstring>

#include <openvino_telemetry_dl.hpp>

int main() {
    ov::telemetry::dl::Library lib(OVT_INSTALLED_LIB);
    if (!lib.loaded()) {
        std::fprintf(stderr, "not loaded: %s\n", lib.error());
        return 1;
    }
    if (std::strcmp(lib.version(), OV_TELEMETRY_VERSION) != 0) {
        std::fprintf(stderr, "version mismatch: library %s, header %s\n", lib.version(), OV_TELEMETRY_VERSION);
        return 1;
    }
    // Without a measurement id init fails, quietly: an empty, disabled client.
    ov::telemetry::dl::Telemetry t = ov::telemetry::dl::Telemetry::try_init(ov::telemetry::dl::Options(lib).app("c", "1"));
    if (t.is_enabled() || t.init_status() != ov::telemetry::Status::InvalidArgument) {
        std::fprintf(stderr, "unexpected init: %s\n", t.reason());
        return 1;
    }
    std::printf("openvino_telemetry %s\n", lib.version());
    return 0;
}
