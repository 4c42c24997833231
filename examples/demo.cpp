// telemetry_demo — what a C++ tool does with openvino_telemetry, in a sandbox.
//
// It records consent in a fresh temporary directory (never your real ~/intel), starts a
// session, sends one event, ends the session and shuts down. Unless you point it at a
// collector with OPENVINO_TELEMETRY_ENDPOINT, it turns on OPENVINO_TELEMETRY_DEBUG=1, so the
// request bodies are printed on stderr (one JSON document per line) and nothing is sent.
//
// stdout ends with `config_dir=<dir>`; scripts/demo passes it to `opt_in_out --status` and
// removes the directory afterwards.
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "openvino_telemetry.hpp"

namespace ovt = ov::telemetry;

namespace {

std::string make_sandbox_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") +
                          "/telemetry_demo.XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
        throw std::runtime_error("mkdtemp(" + pattern + ") failed");
    }
    return std::string(buf.data());
}

void report(const char* what, ovt::Status status) {
    std::cout << "  " << what << " -> " << ovt::to_string(status) << "\n";
}

}  // namespace

int main() {
    try {
        std::cout << "openvino_telemetry " << ovt::version() << " (header "
                  << OV_TELEMETRY_VERSION << ")\n";

        const char* endpoint = std::getenv("OPENVINO_TELEMETRY_ENDPOINT");
        const char* debug = std::getenv("OPENVINO_TELEMETRY_DEBUG");
        const bool has_endpoint = endpoint != nullptr && endpoint[0] != '\0';
        if (!has_endpoint && (debug == nullptr || std::string(debug) != "1")) {
            // The demo gives consent on your behalf in a sandbox; it must not send anything
            // to the real collector because of that.
            setenv("OPENVINO_TELEMETRY_DEBUG", "1", 1);
            std::cout << "OPENVINO_TELEMETRY_DEBUG was not set: setting it to 1, so nothing"
                         " leaves this machine.\n";
        }

        const std::string dir = make_sandbox_dir();
        std::cout << "Sandbox config directory: " << dir << "\n"
                  << "  (a temporary directory standing in for ~/intel; your own telemetry"
                     " decision is neither read nor changed)\n";

        ovt::set_consent(dir, true);
        std::cout << "Consent recorded as accepted in the sandbox.\n";

        ovt::Telemetry telemetry = ovt::Telemetry::init(ovt::Options()
                                                            .app("telemetry_demo", OV_TELEMETRY_VERSION)
                                                            .measurement_id("G-0000000000")
                                                            .config_dir(dir));
        std::cout << "init -> " << ovt::to_string(telemetry.init_status())
                  << (telemetry.is_enabled() ? " (enabled)" : " (disabled)") << "\n";

        report("start_session(\"demo\")", telemetry.start_session("demo"));
        report("event(\"demo\", \"run\", \"sandbox\", 1)", telemetry.event("demo", "run", "sandbox", 1));
        report("end_session(\"demo\")", telemetry.end_session("demo"));
        report("shutdown(2 s)", telemetry.shutdown(std::chrono::seconds(2)));
        std::cout << "With OPENVINO_TELEMETRY_DEBUG=1 the request bodies went to stderr,"
                     " one JSON document per line.\n";

        std::cout << "config_dir=" << dir << std::endl;
        return 0;
    } catch (const ovt::Error& e) {
        std::cerr << "telemetry_demo: " << e.what() << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "telemetry_demo: " << e.what() << "\n";
        return 1;
    }
}
