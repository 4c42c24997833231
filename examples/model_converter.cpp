// model_converter — a small command-line tool showing the recommended telemetry integration.
//
// It "converts" a model: a text file whose first line is `framework: <name>` and whose other
// lines are operation names, one per line. Supported operations are written to the output
// file in upper case; an unsupported one stops the conversion.
//
//   model_converter INPUT OUTPUT [--verbose]
//   exit status: 0 converted, 1 conversion failed, 2 bad usage or unreadable/unwritable file
//
// Telemetry, as every OpenVINO tool does it:
//   - one Telemetry object for the whole run, created with try_init: it never throws and
//     never stops the tool (no consent, no network, a bad option: the tool works the same);
//   - the consent dialog is allowed (asked once, on the terminal, only when a person is
//     there), and CI machines are left alone;
//   - a session around the work, one event per fact worth counting, an error report for a
//     failure — product facts only (framework, operation names, counts), never paths, file
//     names or model content;
//   - a bounded shutdown at the end, so a slow network costs the user at most 2 s.
// Build: CMake target openvino::telemetry (or pkg-config openvino_telemetry).
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "openvino_telemetry.hpp"

namespace ovt = ov::telemetry;

namespace {

constexpr const char* kToolName = "model_converter";
constexpr const char* kToolVersion = "2.1.0";
// Every tool reports to its own GA4 property: replace this with your tool's measurement id.
constexpr const char* kMeasurementId = "G-EXAMPLE0001";
// What the user waits for telemetry at exit, at most.
constexpr std::chrono::seconds kTelemetryShutdown{2};

const std::set<std::string, std::less<>> kSupported = {"Conv", "Relu", "MaxPool", "MatMul", "Add", "Softmax"};

struct Model {
    std::string framework;
    std::vector<std::string> operations;
};

bool read_model(const char* path, Model& model, std::string& why) {
    std::ifstream in(path);
    if (!in) {
        why = std::string("cannot read ") + path;
        return false;
    }
    std::string line;
    if (!std::getline(in, line) || line.rfind("framework: ", 0) != 0) {
        why = "the first line must be `framework: <name>`";
        return false;
    }
    model.framework = line.substr(std::strlen("framework: "));
    while (std::getline(in, line)) {
        if (!line.empty()) {
            model.operations.push_back(line);
        }
    }
    return true;
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const bool verbose = argc == 4 && std::strcmp(argv[3], "--verbose") == 0;
    if (argc != 3 && !verbose) {
        std::fprintf(stderr, "usage: %s INPUT OUTPUT [--verbose]\n", kToolName);
        return 2;
    }

    // 1. One client for the run. try_init never throws; without consent (or with a bad
    //    option) it returns a disabled client whose calls do nothing.
    ovt::Telemetry telemetry = ovt::Telemetry::try_init(ovt::Options()
                                                            .app(kToolName, kToolVersion)
                                                            .measurement_id(kMeasurementId)
                                                            .consent_dialog()
                                                            .disable_in_ci());
    if (verbose) {
        std::fprintf(stderr, "telemetry: %s\n", telemetry.is_enabled() ? "on" : telemetry.reason());
    }

    // 2. A session around the work; the return values are only informative.
    telemetry.start_session(kToolName);

    int exit_code = 0;
    Model model;
    std::string why;
    if (!read_model(argv[1], model, why)) {
        std::fprintf(stderr, "%s: %s\n", kToolName, why.c_str());
        telemetry.event(kToolName, "convert", "unreadable_input");  // no path: it is the user's
        exit_code = 2;
    } else {
        telemetry.event(kToolName, "framework", model.framework);
        std::string output;
        for (const std::string& op : model.operations) {
            if (kSupported.find(op) == kSupported.end()) {
                std::fprintf(stderr, "%s: unsupported operation %s\n", kToolName, op.c_str());
                // 3. An error report: what failed, in product terms.
                telemetry.error(kToolName, "unsupported operation: " + op);
                exit_code = 1;
                break;
            }
            output += upper(op) + "\n";
        }
        if (exit_code == 0) {
            std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
            out << output;
            if (!out) {
                std::fprintf(stderr, "%s: cannot write %s\n", kToolName, argv[2]);
                exit_code = 2;
            }
        }
        telemetry.event(kToolName, "convert", exit_code == 0 ? "ok" : "failed",
                        static_cast<std::int64_t>(model.operations.size()));
        if (exit_code == 0) {
            std::printf("converted %zu operations (%s)\n", model.operations.size(), model.framework.c_str());
        }
    }

    // 4. End the session and deliver what is queued, waiting at most kTelemetryShutdown. The
    //    destructor would do the same with a 1 s bound; saying it here makes the cost visible.
    telemetry.end_session(kToolName);
    const ovt::Status delivered = telemetry.shutdown(kTelemetryShutdown);
    if (verbose) {
        const ovt::Counters c = telemetry.counters();
        std::fprintf(stderr, "telemetry: %s; %llu sent, %llu not delivered\n", ovt::to_string(delivered),
                     static_cast<unsigned long long>(c.sent), static_cast<unsigned long long>(c.failed));
    }
    return exit_code;
}
