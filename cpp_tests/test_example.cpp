// examples/model_converter.cpp, the recommended integration, run as a real process against
// the loopback server: what arrives for a conversion, for a failed one, without consent, and
// how long a hanging network can hold the tool. The child gets a fresh HOME (its config dir
// is $HOME/intel), a minimal environment, and no controlling terminal (setsid), so no
// consent dialog can ever be asked here.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loopback_server.hpp"
#include "openvino_telemetry.hpp"
#include "test_support.hpp"

namespace {

namespace ovt = ov::telemetry;
using ovt_test::LoopbackServer;
using ovt_test::Mode;
using ovt_util::TempDir;
using Clock = std::chrono::steady_clock;

struct ToolRun {
    int exit_code = -1;  // -1: did not exit in time (killed)
    std::string out;
    std::string err;
    std::chrono::milliseconds elapsed{0};
};

class ModelConverter : public ::testing::Test {
protected:
    std::string home() const { return home_.path(); }
    std::string config_dir() const { return home_.file("intel"); }

    std::string write_model(const std::string& name, const std::string& content) {
        const std::string path = work_.file(name);
        ovt_util::write_file(path, content);
        return path;
    }

    ToolRun run(const std::string& endpoint, const std::vector<std::string>& args) {
        const std::string out_path = work_.file("stdout.txt");
        const std::string err_path = work_.file("stderr.txt");
        std::vector<std::string> env_strings = {"HOME=" + home(), "PATH=/usr/bin:/bin",
                                                "OPENVINO_TELEMETRY_ENDPOINT=" + endpoint};
        std::vector<std::string> arg_strings = {OVT_MODEL_CONVERTER};
        arg_strings.insert(arg_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a : arg_strings) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<char*> envp;
        for (auto& e : env_strings) envp.push_back(e.data());
        envp.push_back(nullptr);

        const auto start = Clock::now();
        const pid_t pid = fork();
        if (pid == 0) {
            setsid();  // no controlling terminal: the dialog can never be asked
            const int in = open("/dev/null", O_RDONLY);
            const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
                _exit(127);
            }
            execve(argv[0], argv.data(), envp.data());
            _exit(127);
        }
        ToolRun result;
        if (pid < 0) {
            ADD_FAILURE() << "fork failed";
            return result;
        }
        int status = 0;
        const bool exited = ovt_util::wait_until(
            [&] { return waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::milliseconds(30000));
        result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        if (!exited) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            ADD_FAILURE() << "model_converter did not exit within 30 s";
        } else if (WIFEXITED(status)) {
            result.exit_code = WEXITSTATUS(status);
        }
        result.out = ovt_util::read_file(out_path);
        result.err = ovt_util::read_file(err_path);
        return result;
    }

    static std::string all_bodies(const LoopbackServer& server) {
        std::string bodies;
        for (const auto& r : server.requests()) bodies += r.body + "\n";
        return bodies;
    }

    TempDir home_;
    TempDir work_;
};

TEST_F(ModelConverter, AConversionReportsItsSession) {
    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ovt::try_set_consent(config_dir(), true), ovt::Status::Ok);
    const std::string input = write_model("net.txt", "framework: onnx\nConv\nRelu\n");
    const std::string output = work_.file("net.out");
    const ToolRun r = run(server.url(), {input, output});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "converted 2 operations (onnx)\n");
    EXPECT_EQ(ovt_util::read_file(output), "CONV\nRELU\n");
    // shutdown() returned before exit, so everything has arrived.
    EXPECT_EQ(server.delivered_event_names(),
              (std::vector<std::string>{"session", "framework", "convert", "session"}));
    const std::string bodies = all_bodies(server);
    EXPECT_NE(bodies.find("\"app_name\":\"model_converter\",\"app_version\":\"2.1.0\""), std::string::npos) << bodies;
    EXPECT_NE(bodies.find("\"name\":\"framework\",\"params\":{\"event_category\":\"model_converter\",\"event_label\":\"onnx\""),
              std::string::npos)
        << bodies;
    EXPECT_NE(bodies.find("\"name\":\"convert\",\"params\":{\"event_category\":\"model_converter\",\"event_label\":\"ok\",\"event_count\":2"),
              std::string::npos)
        << bodies;
    EXPECT_NE(server.requests().front().target.find("measurement_id=G-EXAMPLE0001"), std::string::npos)
        << server.requests().front().target;
    EXPECT_EQ(bodies.find(work_.path()), std::string::npos) << "no path leaves the machine";
}

TEST_F(ModelConverter, AFailedConversionSendsAnErrorReport) {
    LoopbackServer server(Mode::ok204());
    ASSERT_EQ(ovt::try_set_consent(config_dir(), true), ovt::Status::Ok);
    const std::string input = write_model("bad.txt", "framework: tensorflow\nConv\nFancyOp\nRelu\n");
    const ToolRun r = run(server.url(), {input, work_.file("bad.out")});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("unsupported operation FancyOp"), std::string::npos) << r.err;
    EXPECT_FALSE(ovt_util::file_exists(work_.file("bad.out")));
    EXPECT_EQ(server.delivered_event_names(),
              (std::vector<std::string>{"session", "framework", "error_", "convert", "session"}));
    const std::string bodies = all_bodies(server);
    EXPECT_NE(bodies.find("\"event_label\":\"unsupported operation: FancyOp\""), std::string::npos) << bodies;
    EXPECT_NE(bodies.find("\"event_label\":\"failed\",\"event_count\":3"), std::string::npos) << bodies;
    EXPECT_EQ(bodies.find(work_.path()), std::string::npos) << "no path leaves the machine";
}

TEST_F(ModelConverter, WithoutConsentTheToolWorksAndSendsNothing) {
    LoopbackServer server(Mode::ok204());
    const std::string input = write_model("net.txt", "framework: onnx\nMatMul\n");
    const ToolRun r = run(server.url(), {input, work_.file("net.out"), "--verbose"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ovt_util::read_file(work_.file("net.out")), "MATMUL\n");
    EXPECT_NE(r.err.find("telemetry: "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("telemetry: on"), std::string::npos) << r.err;
    EXPECT_EQ(ovt::consent(config_dir()), ovt::Consent::Undecided) << "no dialog without a terminal";
    EXPECT_TRUE(server.requests().empty()) << "the process has exited: nothing can still arrive";
}

TEST_F(ModelConverter, AHangingNetworkHoldsTheToolAtMostItsShutdownBound) {
    LoopbackServer server(Mode::hang());
    ASSERT_EQ(ovt::try_set_consent(config_dir(), true), ovt::Status::Ok);
    const std::string input = write_model("net.txt", "framework: onnx\nAdd\n");
    const ToolRun r = run(server.url(), {input, work_.file("net.out"), "--verbose"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(ovt_util::read_file(work_.file("net.out")), "ADD\n");
    EXPECT_FALSE(server.requests().empty()) << "it tried";
    EXPECT_NE(r.err.find(ovt::to_string(ovt::Status::Timeout)), std::string::npos) << r.err;
    // The tool's documented bound (2 s shutdown) plus process start and a loaded CI's margin.
    EXPECT_LE(r.elapsed, std::chrono::milliseconds(2000 + 1500)) << r.err;
}

}  // namespace
