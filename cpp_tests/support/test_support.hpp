// Small helpers shared by the GoogleTest suites: a temporary config directory, the
// environment variables the library reads, stderr capture, file and thread helpers.
#ifndef OVT_TEST_SUPPORT_HPP
#define OVT_TEST_SUPPORT_HPP

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

namespace ovt_util {

/// A fresh directory under $TMPDIR (or /tmp), removed with its content on destruction.
/// Tests use it as the config dir so the real ~/intel is never read or written.
class TempDir {
public:
    TempDir() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern =
            std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/ovt_test.XXXXXX";
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed for " + pattern);
        }
        path_ = buf.data();
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    const char* c_str() const { return path_.c_str(); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline bool file_exists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
}

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
}

/// Every environment variable that changes the library's behaviour in these tests. Cleared
/// before each test so the result does not depend on the caller's shell or CI (CI=true).
inline void clear_telemetry_env() {
    for (const char* name : {"DO_NOT_TRACK", "OPENVINO_TELEMETRY_DISABLE", "OPENVINO_TELEMETRY_DEBUG",
                             "OPENVINO_TELEMETRY_ENDPOINT", "HTTPS_PROXY", "https_proxy",
                             "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"}) {
        unsetenv(name);
    }
}

/// Sets (or, with nullopt, unsets) one variable for the scope, restoring it afterwards.
class ScopedEnv {
public:
    ScopedEnv(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) {
            old_ = old;
        }
        if (value) {
            setenv(name_.c_str(), value->c_str(), 1);
        } else {
            unsetenv(name_.c_str());
        }
    }
    ~ScopedEnv() {
        if (old_) {
            setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            unsetenv(name_.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string name_;
    std::optional<std::string> old_;
};

/// Redirects file descriptor 2 (where the library's debug output goes) to a temporary file
/// until stop(), which restores it and returns what was written.
class StderrCapture {
public:
    StderrCapture() {
        std::fflush(stderr);
        file_ = std::tmpfile();
        if (file_ == nullptr) {
            throw std::runtime_error("tmpfile failed");
        }
        saved_ = dup(2);
        if (saved_ < 0 || dup2(fileno(file_), 2) < 0) {
            throw std::runtime_error("dup2 failed");
        }
    }
    ~StderrCapture() {
        stop();
        if (file_ != nullptr) {
            std::fclose(file_);
        }
    }
    StderrCapture(const StderrCapture&) = delete;
    StderrCapture& operator=(const StderrCapture&) = delete;

    std::string stop() {
        if (saved_ >= 0) {
            std::fflush(stderr);
            dup2(saved_, 2);
            close(saved_);
            saved_ = -1;
            std::rewind(file_);
            std::string out;
            char buf[4096];
            std::size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) {
                out.append(buf, n);
            }
            captured_ = out;
        }
        return captured_;
    }

private:
    std::FILE* file_ = nullptr;
    int saved_ = -1;
    std::string captured_;
};

inline std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) {
            lines.push_back(line);
        }
    }
    return lines;
}

/// Number of threads of this process (entries of /proc/self/task).
inline std::size_t thread_count() {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
        (void)entry;
        ++n;
    }
    return n;
}

/// Polls `pred` until it holds or `timeout` passes; returns its last value.
template <typename Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return pred();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace ovt_util

#endif  // OVT_TEST_SUPPORT_HPP
