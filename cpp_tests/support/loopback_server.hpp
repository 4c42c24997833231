// Header-only HTTP/1.1 test server on 127.0.0.1 for the GoogleTest suites.
//
// It records every request it receives, answers according to a Mode that the
// test can change at any time, and lets the test wait (mutex + condition
// variable, no polling) for requests to arrive. Destroying the server stops
// it: the accept loop ends, every connection handler is woken (a self-pipe
// wakes threads blocked in poll(), the condition variable wakes handlers that
// hang or sleep), and all threads are joined.
//
// POSIX sockets + C++17 standard library only.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace ovt_test {

// How the server answers the requests it receives. Build one with the
// factory functions, e.g. Mode::fail_then_ok(2, 500).
struct Mode {
    enum class Kind { Ok204, FailThenOk, TooManyRequests, Status, Reset, Hang, Slow };

    Kind kind = Kind::Ok204;
    int code = 204;                   // FailThenOk: failure status; Status: the status
    std::size_t count = 0;            // FailThenOk: failures; TooManyRequests: times
    long retry_after_secs = 0;        // TooManyRequests
    std::chrono::milliseconds delay{0};  // Slow

    // Always 204 No Content.
    static Mode ok204() { return Mode{}; }
    // `status` (e.g. 500) `failures` times, then 204.
    static Mode fail_then_ok(std::size_t failures, int status) {
        Mode m;
        m.kind = Kind::FailThenOk;
        m.count = failures;
        m.code = status;
        return m;
    }
    // 429 with `Retry-After: retry_after_secs` `times` times, then 204.
    static Mode too_many_requests(long retry_after_secs, std::size_t times) {
        Mode m;
        m.kind = Kind::TooManyRequests;
        m.retry_after_secs = retry_after_secs;
        m.count = times;
        return m;
    }
    // Always this status (e.g. 400).
    static Mode status(int status) {
        Mode m;
        m.kind = Kind::Status;
        m.code = status;
        return m;
    }
    // Read the request, then close the connection with a TCP RST (SO_LINGER 0).
    static Mode reset() {
        Mode m;
        m.kind = Kind::Reset;
        return m;
    }
    // Read the request and never answer until the server is destroyed.
    static Mode hang() {
        Mode m;
        m.kind = Kind::Hang;
        return m;
    }
    // Wait `delay` (or until the server is destroyed), then 204.
    static Mode slow(std::chrono::milliseconds delay) {
        Mode m;
        m.kind = Kind::Slow;
        m.delay = delay;
        return m;
    }
};

// One fully received request.
struct Request {
    std::string method;
    std::string target;  // path and query, e.g. "/mp/collect?measurement_id=..."
    std::vector<std::pair<std::string, std::string>> headers;  // names as sent
    std::string body;    // de-chunked if sent with Transfer-Encoding: chunked
    int answered = 0;    // status answered; 0 = reset, hanging or not yet answered

    // Value of the first header with this name (case-insensitive), "" if none.
    std::string header(const std::string& name) const;
    bool has_header(const std::string& name) const;
};

// ---------------------------------------------------------------------------
// Tiny JSON reader for the `events` array of a request body.
// ---------------------------------------------------------------------------
namespace detail {

constexpr int kMaxJsonDepth = 64;

inline void skip_ws(const std::string& s, std::size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
}

inline void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

inline bool read_hex4(const std::string& s, std::size_t& i, unsigned long& out) {
    if (i + 4 > s.size()) return false;
    out = 0;
    for (int k = 0; k < 4; ++k) {
        const char c = s[i++];
        out <<= 4;
        if (c >= '0' && c <= '9') out |= static_cast<unsigned long>(c - '0');
        else if (c >= 'a' && c <= 'f') out |= static_cast<unsigned long>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') out |= static_cast<unsigned long>(c - 'A' + 10);
        else return false;
    }
    return true;
}

// s[i] must be '"'. Decodes the string into `out` and moves past it.
inline bool parse_string(const std::string& s, std::size_t& i, std::string& out) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    out.clear();
    while (i < s.size()) {
        const char c = s[i++];
        if (c == '"') return true;
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i >= s.size()) return false;
        const char e = s[i++];
        switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned long cp = 0;
                if (!read_hex4(s, i, cp)) return false;
                if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i] == '\\' &&
                    s[i + 1] == 'u') {
                    std::size_t j = i + 2;
                    unsigned long lo = 0;
                    if (read_hex4(s, j, lo) && lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        i = j;
                    }
                }
                append_utf8(out, cp);
                break;
            }
            default: return false;
        }
    }
    return false;
}

// Skips any JSON value starting at s[i].
inline bool skip_value(const std::string& s, std::size_t& i, int depth) {
    if (depth > kMaxJsonDepth) return false;
    skip_ws(s, i);
    if (i >= s.size()) return false;
    const char c = s[i];
    std::string scratch;
    if (c == '"') return parse_string(s, i, scratch);
    if (c == '{' || c == '[') {
        const char close = c == '{' ? '}' : ']';
        ++i;
        skip_ws(s, i);
        if (i < s.size() && s[i] == close) {
            ++i;
            return true;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(s, i);
                if (!parse_string(s, i, scratch)) return false;
                skip_ws(s, i);
                if (i >= s.size() || s[i] != ':') return false;
                ++i;
            }
            if (!skip_value(s, i, depth + 1)) return false;
            skip_ws(s, i);
            if (i >= s.size()) return false;
            if (s[i] == ',') {
                ++i;
                continue;
            }
            if (s[i] == close) {
                ++i;
                return true;
            }
            return false;
        }
    }
    // number, true, false, null
    const std::size_t start = i;
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
        ++i;
    return i > start;
}

// Walks the top-level object's "events" array. For each element calls
// on_event(name, has_name) where `name` is the element's top-level "name"
// string. Returns false if the body is not such a JSON object.
template <typename F>
bool walk_events(const std::string& s, F on_event) {
    std::size_t i = 0;
    skip_ws(s, i);
    if (i >= s.size() || s[i] != '{') return false;
    ++i;
    skip_ws(s, i);
    if (i < s.size() && s[i] == '}') return true;
    std::string key;
    for (;;) {
        skip_ws(s, i);
        if (!parse_string(s, i, key)) return false;
        skip_ws(s, i);
        if (i >= s.size() || s[i] != ':') return false;
        ++i;
        skip_ws(s, i);
        if (key == "events" && i < s.size() && s[i] == '[') {
            ++i;
            skip_ws(s, i);
            if (i < s.size() && s[i] == ']') {
                ++i;
            } else {
                for (;;) {
                    skip_ws(s, i);
                    std::string name;
                    bool has_name = false;
                    if (i < s.size() && s[i] == '{') {
                        // An event object: look for its own "name" key.
                        ++i;
                        skip_ws(s, i);
                        if (i < s.size() && s[i] == '}') {
                            ++i;
                        } else {
                            std::string ekey;
                            for (;;) {
                                skip_ws(s, i);
                                if (!parse_string(s, i, ekey)) return false;
                                skip_ws(s, i);
                                if (i >= s.size() || s[i] != ':') return false;
                                ++i;
                                skip_ws(s, i);
                                if (ekey == "name" && i < s.size() && s[i] == '"') {
                                    if (!parse_string(s, i, name)) return false;
                                    has_name = true;
                                } else if (!skip_value(s, i, 2)) {
                                    return false;
                                }
                                skip_ws(s, i);
                                if (i < s.size() && s[i] == ',') {
                                    ++i;
                                    continue;
                                }
                                if (i < s.size() && s[i] == '}') {
                                    ++i;
                                    break;
                                }
                                return false;
                            }
                        }
                    } else if (!skip_value(s, i, 1)) {
                        return false;
                    }
                    on_event(name, has_name);
                    skip_ws(s, i);
                    if (i < s.size() && s[i] == ',') {
                        ++i;
                        continue;
                    }
                    if (i < s.size() && s[i] == ']') {
                        ++i;
                        break;
                    }
                    return false;
                }
            }
        } else if (!skip_value(s, i, 1)) {
            return false;
        }
        skip_ws(s, i);
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i < s.size() && s[i] == '}') return true;
        return false;
    }
}

inline char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (lower(a[k]) != lower(b[k])) return false;
    return true;
}

inline std::string to_lower(std::string s) {
    for (auto& c : s) c = lower(c);
    return s;
}

inline std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
    return s.substr(b, e - b);
}

}  // namespace detail

inline std::string Request::header(const std::string& name) const {
    for (const auto& h : headers)
        if (detail::iequals(h.first, name)) return h.second;
    return std::string();
}

inline bool Request::has_header(const std::string& name) const {
    for (const auto& h : headers)
        if (detail::iequals(h.first, name)) return true;
    return false;
}

// Number of items in the top-level "events" array of a JSON body (0 when the
// body is not a JSON object or has no such array).
inline std::size_t count_events(const std::string& body) {
    std::size_t n = 0;
    if (!detail::walk_events(body, [&n](const std::string&, bool) { ++n; })) return 0;
    return n;
}

// The "name" of each item of the top-level "events" array, in order (items
// without a string "name" are skipped; empty when the body is not valid).
inline std::vector<std::string> event_names(const std::string& body) {
    std::vector<std::string> names;
    if (!detail::walk_events(body, [&names](const std::string& name, bool has_name) {
            if (has_name) names.push_back(name);
        }))
        return {};
    return names;
}

// ---------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------
class LoopbackServer {
public:
    explicit LoopbackServer(Mode mode) : mode_(mode) {
        if (::pipe(wake_) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
        set_cloexec(wake_[0]);
        set_cloexec(wake_[1]);
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (listen_fd_ < 0) {
            const int err = errno;
            close_wake();
            throw std::system_error(err, std::generic_category(), "socket");
        }
        set_cloexec(listen_fd_);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = 0;
        socklen_t len = sizeof addr;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listen_fd_, 128) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
            const int err = errno;
            ::close(listen_fd_);
            close_wake();
            throw std::system_error(err, std::generic_category(), "bind/listen 127.0.0.1:0");
        }
        port_ = ntohs(addr.sin_port);
        try {
            acceptor_ = std::thread([this] { accept_loop(); });
        } catch (...) {
            ::close(listen_fd_);
            close_wake();
            throw;
        }
    }

    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;

    ~LoopbackServer() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        // The pipe becomes readable forever: wakes every poll() in the server.
        const char byte = 'x';
        while (::write(wake_[1], &byte, 1) < 0 && errno == EINTR) {
        }
        if (acceptor_.joinable()) acceptor_.join();
        std::vector<std::thread> handlers;
        {
            std::lock_guard<std::mutex> lock(mu_);
            handlers.swap(handlers_);
        }
        for (auto& t : handlers)
            if (t.joinable()) t.join();
        ::close(listen_fd_);
        close_wake();
    }

    // "http://127.0.0.1:PORT/mp/collect"
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(port_) + "/mp/collect";
    }

    std::uint16_t port() const { return port_; }

    // Changes how later requests are answered; restarts the counters of
    // fail_then_ok and too_many_requests.
    void set_mode(Mode mode) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            mode_ = mode;
            served_in_mode_ = 0;
        }
        cv_.notify_all();
    }

    // Every request fully received so far, in arrival order.
    std::vector<Request> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }

    // Waits until at least n requests were received or the timeout passed,
    // then returns all requests received so far.
    std::vector<Request> wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
        return requests_;
    }

    // Names of the events of every request answered 2xx, in arrival order.
    std::vector<std::string> delivered_event_names() const {
        std::lock_guard<std::mutex> lock(mu_);
        return delivered_locked();
    }

    // Waits until at least n events were delivered (in requests answered
    // 2xx) or the timeout passed, then returns their names.
    std::vector<std::string> wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, timeout, [&] { return delivered_count_locked() >= n; });
        return delivered_locked();
    }

    // Connections accepted so far.
    std::size_t connections() const {
        std::lock_guard<std::mutex> lock(mu_);
        return connections_;
    }

private:
    static constexpr std::size_t kMaxHead = 64 * 1024;
    static constexpr std::size_t kMaxBody = 16 * 1024 * 1024;

    struct Action {
        enum class Kind { Answer, Reset, Hang, Slow } kind = Kind::Answer;
        int status = 204;
        long retry_after = -1;  // < 0: no Retry-After header
        std::chrono::milliseconds delay{0};
    };

    // Buffered reader over one connection; every wait also watches the wake pipe.
    class Conn {
    public:
        Conn(int fd, int wake_fd) : fd_(fd), wake_fd_(wake_fd) {}
        int fd() const { return fd_; }

        // false at end of stream, on error, or when the server stops.
        bool fill() {
            if (pos_ > 0 && pos_ == buf_.size()) {
                buf_.clear();
                pos_ = 0;
            }
            for (;;) {
                pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
                const int r = ::poll(fds, 2, -1);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    return false;
                }
                if (fds[1].revents != 0) return false;
                char chunk[8192];
                const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return false;
                buf_.append(chunk, static_cast<std::size_t>(n));
                return true;
            }
        }

        // One line without its line ending. `eof_clean` is set when the peer
        // closed with nothing pending.
        bool read_line(std::string& line, bool& eof_clean) {
            eof_clean = false;
            for (;;) {
                const std::size_t nl = buf_.find('\n', pos_);
                if (nl != std::string::npos) {
                    line.assign(buf_, pos_, nl - pos_);
                    pos_ = nl + 1;
                    if (!line.empty() && line.back() == '\r') line.pop_back();
                    return true;
                }
                if (buf_.size() - pos_ > kMaxHead) return false;
                if (!fill()) {
                    eof_clean = pos_ == buf_.size();
                    return false;
                }
            }
        }

        bool read_line(std::string& line) {
            bool ignored = false;
            return read_line(line, ignored);
        }

        bool read_bytes(std::size_t n, std::string& out) {
            while (buf_.size() - pos_ < n)
                if (!fill()) return false;
            out.append(buf_, pos_, n);
            pos_ += n;
            return true;
        }

    private:
        int fd_;
        int wake_fd_;
        std::string buf_;
        std::size_t pos_ = 0;
    };

    static void set_cloexec(int fd) {
        const int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }

    void close_wake() {
        ::close(wake_[0]);
        ::close(wake_[1]);
    }

    static bool send_all(int fd, const std::string& data) {
#ifdef MSG_NOSIGNAL
        const int flags = MSG_NOSIGNAL;
#else
        const int flags = 0;
#endif
        std::size_t off = 0;
        while (off < data.size()) {
            const ssize_t n = ::send(fd, data.data() + off, data.size() - off, flags);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

    static const char* reason(int status) {
        switch (status) {
            case 200: return "OK";
            case 202: return "Accepted";
            case 204: return "No Content";
            case 400: return "Bad Request";
            case 401: return "Unauthorized";
            case 403: return "Forbidden";
            case 404: return "Not Found";
            case 408: return "Request Timeout";
            case 413: return "Content Too Large";
            case 429: return "Too Many Requests";
            case 500: return "Internal Server Error";
            case 502: return "Bad Gateway";
            case 503: return "Service Unavailable";
            case 504: return "Gateway Timeout";
            default: return "Status";
        }
    }

    static bool is_2xx(int status) { return status >= 200 && status < 300; }

    std::size_t delivered_count_locked() const {
        std::size_t n = 0;
        for (const auto& r : requests_)
            if (is_2xx(r.answered)) n += count_events(r.body);
        return n;
    }

    std::vector<std::string> delivered_locked() const {
        std::vector<std::string> names;
        for (const auto& r : requests_) {
            if (!is_2xx(r.answered)) continue;
            for (auto& n : event_names(r.body)) names.push_back(std::move(n));
        }
        return names;
    }

    void accept_loop() {
        for (;;) {
            pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
            const int r = ::poll(fds, 2, -1);
            if (r < 0 && errno != EINTR) return;
            if (fds[1].revents != 0) return;
            if (r <= 0 || fds[0].revents == 0) continue;
            const int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) continue;
            set_cloexec(fd);
#ifdef SO_NOSIGPIPE
            const int one = 1;
            ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
            std::lock_guard<std::mutex> lock(mu_);
            if (stopping_) {
                ::close(fd);
                return;
            }
            ++connections_;
            try {
                handlers_.emplace_back([this, fd] {
                    try {
                        serve(fd);
                    } catch (...) {
                    }
                    ::close(fd);
                });
            } catch (...) {
                ::close(fd);
            }
            cv_.notify_all();
        }
    }

    Action decide_locked() {
        const std::size_t served = served_in_mode_++;
        Action a;
        switch (mode_.kind) {
            case Mode::Kind::Ok204: break;
            case Mode::Kind::FailThenOk:
                if (served < mode_.count) a.status = mode_.code;
                break;
            case Mode::Kind::TooManyRequests:
                if (served < mode_.count) {
                    a.status = 429;
                    a.retry_after = mode_.retry_after_secs;
                }
                break;
            case Mode::Kind::Status: a.status = mode_.code; break;
            case Mode::Kind::Reset: a.kind = Action::Kind::Reset; break;
            case Mode::Kind::Hang: a.kind = Action::Kind::Hang; break;
            case Mode::Kind::Slow:
                a.kind = Action::Kind::Slow;
                a.delay = mode_.delay;
                break;
        }
        return a;
    }

    // Reads one request into `req`; false when the connection must be closed.
    static bool read_request(Conn& conn, Request& req, bool& close) {
        std::string line;
        bool eof_clean = false;
        do {  // tolerate empty lines before the request line
            if (!conn.read_line(line, eof_clean)) return false;
        } while (line.empty());
        const std::size_t sp1 = line.find(' ');
        const std::size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
        if (sp2 == std::string::npos) return false;
        req.method = line.substr(0, sp1);
        req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        const std::string version = detail::trim(line.substr(sp2 + 1));

        std::size_t head = line.size();
        for (;;) {
            if (!conn.read_line(line)) return false;
            if (line.empty()) break;
            head += line.size();
            if (head > kMaxHead) return false;
            const std::size_t colon = line.find(':');
            if (colon == std::string::npos) return false;
            req.headers.emplace_back(detail::trim(line.substr(0, colon)),
                                     detail::trim(line.substr(colon + 1)));
        }

        const std::string connection = detail::to_lower(req.header("connection"));
        if (detail::iequals(version, "HTTP/1.0"))
            close = connection.find("keep-alive") == std::string::npos;
        else
            close = connection.find("close") != std::string::npos;
        const bool chunked =
            detail::to_lower(req.header("transfer-encoding")).find("chunked") != std::string::npos;
        if (detail::iequals(req.header("expect"), "100-continue") &&
            !send_all(conn.fd(), "HTTP/1.1 100 Continue\r\n\r\n"))
            return false;

        if (chunked) {
            for (;;) {
                if (!conn.read_line(line)) return false;
                const std::string hex = detail::trim(line.substr(0, line.find(';')));
                if (hex.empty()) return false;
                char* end = nullptr;
                const unsigned long long size = std::strtoull(hex.c_str(), &end, 16);
                if (end == nullptr || *end != '\0') return false;
                if (size == 0) {
                    do {  // trailer section up to the empty line
                        if (!conn.read_line(line)) return false;
                    } while (!line.empty());
                    break;
                }
                if (size > kMaxBody || req.body.size() + size > kMaxBody) return false;
                if (!conn.read_bytes(static_cast<std::size_t>(size), req.body)) return false;
                if (!conn.read_line(line) || !line.empty()) return false;
            }
        } else if (req.has_header("content-length")) {
            const std::string v = req.header("content-length");
            if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) return false;
            const unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
            if (n > kMaxBody) return false;
            if (!conn.read_bytes(static_cast<std::size_t>(n), req.body)) return false;
        }
        return true;
    }

    void serve(int fd) {
        Conn conn(fd, wake_[0]);
        for (;;) {
            Request req;
            bool close = false;
            if (!read_request(conn, req, close)) return;

            std::size_t index = 0;
            Action action;
            {
                std::lock_guard<std::mutex> lock(mu_);
                if (stopping_) return;
                requests_.push_back(std::move(req));
                index = requests_.size() - 1;
                action = decide_locked();
            }
            cv_.notify_all();

            switch (action.kind) {
                case Action::Kind::Answer: break;
                case Action::Kind::Reset: {
                    linger lg{};
                    lg.l_onoff = 1;
                    lg.l_linger = 0;
                    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                    return;  // the caller's close() sends the RST
                }
                case Action::Kind::Hang: {
                    std::unique_lock<std::mutex> lock(mu_);
                    cv_.wait(lock, [this] { return stopping_; });
                    return;
                }
                case Action::Kind::Slow: {
                    std::unique_lock<std::mutex> lock(mu_);
                    if (cv_.wait_for(lock, action.delay, [this] { return stopping_; })) return;
                    break;
                }
            }

            // Record the answer before the client can see it, so a client
            // that returns after reading the response always finds it recorded.
            {
                std::lock_guard<std::mutex> lock(mu_);
                requests_[index].answered = action.status;
            }
            cv_.notify_all();

            std::string resp = "HTTP/1.1 " + std::to_string(action.status) + " " +
                               reason(action.status) + "\r\n";
            if (action.status != 204 && action.status >= 200) resp += "Content-Length: 0\r\n";
            if (action.retry_after >= 0)
                resp += "Retry-After: " + std::to_string(action.retry_after) + "\r\n";
            if (close) resp += "Connection: close\r\n";
            resp += "\r\n";
            if (!send_all(fd, resp)) return;
            if (close) {
                ::shutdown(fd, SHUT_WR);
                return;
            }
        }
    }

    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    std::uint16_t port_ = 0;

    mutable std::mutex mu_;
    mutable std::condition_variable cv_;
    Mode mode_;
    std::size_t served_in_mode_ = 0;
    std::vector<Request> requests_;
    std::size_t connections_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> handlers_;
    std::thread acceptor_;  // last: started once everything else is initialised
};

}  // namespace ovt_test
