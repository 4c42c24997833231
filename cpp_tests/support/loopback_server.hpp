// The loopback test server (tests/loopback, the Rust tests' server) for the GoogleTest
// suites: RAII classes over its C API (libovt_loopback.so, src/c_api.rs there).
//
// The server records every request it receives on 127.0.0.1, answers according to a Mode
// the test can change at any time, and lets the test wait (no polling) for requests to
// arrive. Destroying it stops it and joins its threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern "C" {
struct ovt_loopback;
struct ovt_loopback_strings;
ovt_loopback* ovt_loopback_start(const char* mode);
void ovt_loopback_free(ovt_loopback* server);
std::uint16_t ovt_loopback_port(const ovt_loopback* server);
bool ovt_loopback_set_mode(const ovt_loopback* server, const char* mode);
std::size_t ovt_loopback_connections(const ovt_loopback* server);
ovt_loopback_strings* ovt_loopback_requests(const ovt_loopback* server, std::size_t min,
                                            std::uint64_t timeout_ms);
ovt_loopback_strings* ovt_loopback_event_names(const char* body, std::size_t len);
std::size_t ovt_loopback_count_events(const char* body, std::size_t len);
std::size_t ovt_loopback_strings_len(const ovt_loopback_strings* list);
const char* ovt_loopback_strings_get(const ovt_loopback_strings* list, std::size_t index,
                                     std::size_t* len);
void ovt_loopback_strings_free(ovt_loopback_strings* list);
}

namespace ovt_test {

// How the server answers: the text forms of the Rust `Mode` (tests/loopback/src/mode.rs).
struct Mode {
    std::string text;

    // Always 204 No Content.
    static Mode ok204() { return {"ok"}; }
    // `status` (e.g. 500) `failures` times, then 204.
    static Mode fail_then_ok(std::size_t failures, int status) {
        return {"fail:" + std::to_string(failures) + ":" + std::to_string(status)};
    }
    // 429 with `Retry-After: retry_after_secs` `times` times, then 204.
    static Mode too_many_requests(long retry_after_secs, std::size_t times) {
        return {"429:" + std::to_string(retry_after_secs) + ":" + std::to_string(times)};
    }
    // Always this status (e.g. 400).
    static Mode status(int status) { return {"status:" + std::to_string(status)}; }
    // Read the request, then close the connection with a TCP RST.
    static Mode reset() { return {"reset"}; }
    // Read requests and never answer.
    static Mode hang() { return {"hang"}; }
    // Wait `delay` (or until the server is destroyed), then 204.
    static Mode slow(std::chrono::milliseconds delay) {
        return {"slow:" + std::to_string(delay.count())};
    }
};

namespace detail {

// A list from the C API, copied out and freed.
inline std::vector<std::string> take(ovt_loopback_strings* list) {
    std::vector<std::string> out;
    if (list == nullptr) throw std::runtime_error("ovt_loopback: no list");
    for (std::size_t i = 0, n = ovt_loopback_strings_len(list); i < n; ++i) {
        std::size_t len = 0;
        const char* s = ovt_loopback_strings_get(list, i, &len);
        out.emplace_back(s, len);
    }
    ovt_loopback_strings_free(list);
    return out;
}

inline bool iequals(const std::string& a, const std::string& b) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (a.size() != b.size()) return false;
    for (std::size_t k = 0; k < a.size(); ++k)
        if (lower(a[k]) != lower(b[k])) return false;
    return true;
}

}  // namespace detail

// One fully received request.
struct Request {
    std::string method;
    std::string target;  // path and query, e.g. "/mp/collect?measurement_id=..."
    std::vector<std::pair<std::string, std::string>> headers;  // names as sent
    std::string body;    // de-chunked if sent with Transfer-Encoding: chunked
    int answered = 0;    // status answered; 0 = reset, hanging or not yet answered

    // Value of the first header with this name (case-insensitive), "" if none.
    std::string header(const std::string& name) const {
        for (const auto& h : headers)
            if (detail::iequals(h.first, name)) return h.second;
        return std::string();
    }
    bool has_header(const std::string& name) const {
        for (const auto& h : headers)
            if (detail::iequals(h.first, name)) return true;
        return false;
    }
};

// Number of items in the top-level "events" array of a JSON body (0 when there is none).
inline std::size_t count_events(const std::string& body) {
    return ovt_loopback_count_events(body.data(), body.size());
}

// The "name" of each item of the top-level "events" array that has a string one, in order.
inline std::vector<std::string> event_names(const std::string& body) {
    return detail::take(ovt_loopback_event_names(body.data(), body.size()));
}

class LoopbackServer {
public:
    explicit LoopbackServer(const Mode& mode) : server_(ovt_loopback_start(mode.text.c_str())) {
        if (!server_) throw std::runtime_error("ovt_loopback: cannot start in mode " + mode.text);
    }

    // "http://127.0.0.1:PORT/mp/collect"
    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(port()) + "/mp/collect";
    }
    std::uint16_t port() const { return ovt_loopback_port(server_.get()); }

    // Changes how later requests are answered; restarts the counters of fail_then_ok and
    // too_many_requests.
    void set_mode(const Mode& mode) {
        if (!ovt_loopback_set_mode(server_.get(), mode.text.c_str()))
            throw std::invalid_argument("ovt_loopback: bad mode " + mode.text);
    }

    // Every request fully received so far, in arrival order.
    std::vector<Request> requests() const { return wait_for_requests(0, std::chrono::milliseconds(0)); }

    // Waits until at least n requests were received or the timeout passed, then returns all
    // requests received so far.
    std::vector<Request> wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
        const auto fields = detail::take(ovt_loopback_requests(
            server_.get(), n, static_cast<std::uint64_t>(timeout.count())));
        std::vector<Request> out;
        for (std::size_t i = 0; i + 5 <= fields.size(); i += 5) {
            Request r{fields[i], fields[i + 1], {}, fields[i + 3], std::stoi(fields[i + 4])};
            const std::string& head = fields[i + 2];
            for (std::size_t at = 0, end; (end = head.find("\r\n", at)) != std::string::npos; at = end + 2) {
                const std::size_t colon = head.find(": ", at);
                r.headers.emplace_back(head.substr(at, colon - at), head.substr(colon + 2, end - colon - 2));
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    // Names of the events of every request answered 2xx, in arrival order.
    std::vector<std::string> delivered_event_names() const {
        std::vector<std::string> names;
        for (const auto& r : requests()) {
            if (r.answered < 200 || r.answered >= 300) continue;
            for (auto& n : event_names(r.body)) names.push_back(std::move(n));
        }
        return names;
    }

    // Connections accepted so far.
    std::size_t connections() const { return ovt_loopback_connections(server_.get()); }

private:
    struct Free {
        void operator()(ovt_loopback* s) const { ovt_loopback_free(s); }
    };
    std::unique_ptr<ovt_loopback, Free> server_;
};

}  // namespace ovt_test
