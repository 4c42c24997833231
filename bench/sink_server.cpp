// sink_server: a small, fast HTTP/1.1 collector on 127.0.0.1 for the benchmarks.
//
// One thread, epoll, no per-request allocation beyond the connection buffer, so that
// in a throughput run the server is not the bottleneck (its CPU time is reported by the
// benchmark from /proc/<pid>/stat). It only ever binds 127.0.0.1.
//
//   sink_server --mode ok|hang [--port-file PATH]
//
//   ok    answer every complete request with `204 No Content` (keep-alive unless the
//         client asked for `Connection: close`)
//   hang  accept, read and discard everything, never answer (a peer that accepts and
//         never answers); connections stay open until the client gives up
//
// The chosen port is printed as the first line on stdout (and written to --port-file).
// Each SIGUSR1 prints one line of counters on stdout:
//   stats connections=<n> requests=<n> events=<n> bytes=<n> body_bytes=<n>
// `events` counts the GA4 events in the bodies (occurrences of "timestamp_micros":, one per
// event in this library's and the Python client's payloads... the Python client sends no
// timestamp_micros, so its events are counted as one per request). SIGTERM/SIGINT exit.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

namespace {

bool g_hang = false;

struct Counters {
    std::uint64_t connections = 0, requests = 0, events = 0, bytes = 0, body_bytes = 0;
} g_count;

struct Conn {
    int fd;
    std::string buf;
    bool close_after = false;
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Case-insensitive search of `needle` (lower case) in [b, e).
const char* ifind(const char* b, const char* e, const char* needle) {
    const std::size_t n = std::strlen(needle);
    for (const char* p = b; p + n <= e; ++p) {
        std::size_t k = 0;
        while (k < n && lower(p[k]) == needle[k]) ++k;
        if (k == n) return p;
    }
    return nullptr;
}

// Value of header `name` (lower case, with the colon) in the head, or empty.
std::string header(const char* b, const char* e, const char* name_colon) {
    const char* p = b;
    while ((p = ifind(p, e, name_colon)) != nullptr) {
        if (p == b || p[-1] == '\n') {
            p += std::strlen(name_colon);
            while (p < e && (*p == ' ' || *p == '\t')) ++p;
            const char* end = p;
            while (end < e && *end != '\r' && *end != '\n') ++end;
            return std::string(p, end);
        }
        ++p;
    }
    return std::string();
}

std::uint64_t count_events(const char* b, const char* e) {
    static const char kKey[] = "\"timestamp_micros\":";
    const std::size_t n = sizeof kKey - 1;
    std::uint64_t count = 0;
    for (const char* p = b; p + n <= e;) {
        const void* hit = std::memchr(p, '"', static_cast<std::size_t>(e - p));
        if (hit == nullptr) break;
        p = static_cast<const char*>(hit);
        if (p + n <= e && std::memcmp(p, kKey, n) == 0) {
            ++count;
            p += n;
        } else {
            ++p;
        }
    }
    return count;
}

bool send_all(int fd, const char* data, std::size_t len) {
    while (len > 0) {
        const ssize_t w = ::send(fd, data, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            // Tiny responses on loopback: wait for room.
            fd_set set;
            FD_ZERO(&set);
            FD_SET(fd, &set);
            ::select(fd + 1, nullptr, &set, nullptr, nullptr);
            continue;
        }
        if (w <= 0) return false;
        data += w;
        len -= static_cast<std::size_t>(w);
    }
    return true;
}

// Consumes complete requests from c.buf. Returns false when the connection must close.
bool process(Conn& c) {
    for (;;) {
        const std::size_t head_end = c.buf.find("\r\n\r\n");
        if (head_end == std::string::npos) return c.buf.size() < (1u << 20);
        const char* hb = c.buf.data();
        const char* he = hb + head_end + 2;
        std::size_t body_start = head_end + 4;
        std::size_t consumed = 0;
        const char* body_b = nullptr;
        std::size_t body_len = 0;
        std::string decoded;
        const std::string te = header(hb, he, "transfer-encoding:");
        if (ifind(te.data(), te.data() + te.size(), "chunked") != nullptr) {
            std::size_t pos = body_start;
            for (;;) {
                const std::size_t eol = c.buf.find("\r\n", pos);
                if (eol == std::string::npos) return true;  // need more
                const unsigned long long size = std::strtoull(c.buf.c_str() + pos, nullptr, 16);
                pos = eol + 2;
                if (size == 0) {
                    const std::size_t end = c.buf.find("\r\n", pos);  // no trailers expected
                    if (end == std::string::npos) return true;
                    consumed = end + 2;
                    break;
                }
                if (c.buf.size() < pos + size + 2) return true;
                decoded.append(c.buf, pos, size);
                pos += size + 2;
            }
            body_b = decoded.data();
            body_len = decoded.size();
        } else {
            const std::string cl = header(hb, he, "content-length:");
            body_len = cl.empty() ? 0 : std::strtoull(cl.c_str(), nullptr, 10);
            if (c.buf.size() < body_start + body_len) return true;  // need more
            body_b = c.buf.data() + body_start;
            consumed = body_start + body_len;
        }
        const std::string conn_hdr = header(hb, he, "connection:");
        const bool close = ifind(conn_hdr.data(), conn_hdr.data() + conn_hdr.size(), "close") !=
                           nullptr;
        ++g_count.requests;
        g_count.bytes += consumed;
        g_count.body_bytes += body_len;
        const std::uint64_t ev = count_events(body_b, body_b + body_len);
        g_count.events += ev > 0 ? ev : 1;
        c.buf.erase(0, consumed);
        if (g_hang) continue;  // never answer
        if (close) {
            static const char kClose[] =
                "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
            send_all(c.fd, kClose, sizeof kClose - 1);
            return false;
        }
        static const char kOk[] = "HTTP/1.1 204 No Content\r\n\r\n";
        if (!send_all(c.fd, kOk, sizeof kOk - 1)) return false;
    }
}

void print_stats() {
    std::printf("stats connections=%llu requests=%llu events=%llu bytes=%llu body_bytes=%llu\n",
                static_cast<unsigned long long>(g_count.connections),
                static_cast<unsigned long long>(g_count.requests),
                static_cast<unsigned long long>(g_count.events),
                static_cast<unsigned long long>(g_count.bytes),
                static_cast<unsigned long long>(g_count.body_bytes));
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const char* port_file = nullptr;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--mode" && i + 1 < argc) {
            const std::string m = argv[++i];
            if (m == "hang") g_hang = true;
            else if (m != "ok") {
                std::fprintf(stderr, "sink_server: unknown mode %s\n", m.c_str());
                return 2;
            }
        } else if (a == "--port-file" && i + 1 < argc) {
            port_file = argv[++i];
        } else {
            std::fprintf(stderr, "usage: sink_server --mode ok|hang [--port-file PATH]\n");
            return 2;
        }
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGPIPE);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    const int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

    const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int one = 1;
    ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only, always
    socklen_t len = sizeof addr;
    if (sfd < 0 || lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(lfd, 1024) != 0 ||
        ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        std::perror("sink_server: socket/bind/listen 127.0.0.1:0");
        return 1;
    }
    const unsigned port = ntohs(addr.sin_port);
    if (port_file != nullptr) {
        const std::string tmp = std::string(port_file) + ".tmp";
        if (FILE* f = std::fopen(tmp.c_str(), "w")) {
            std::fprintf(f, "%u\n", port);
            std::fclose(f);
            std::rename(tmp.c_str(), port_file);
        }
    }
    std::printf("%u\n", port);
    std::fflush(stdout);

    const int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

    std::unordered_map<int, std::unique_ptr<Conn>> conns;
    char chunk[65536];
    epoll_event events[64];
    for (;;) {
        const int n = epoll_wait(ep, events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == sfd) {
                signalfd_siginfo si;
                if (::read(sfd, &si, sizeof si) != sizeof si) continue;
                if (si.ssi_signo == SIGUSR1) {
                    print_stats();
                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                    print_stats();
                    return 0;
                }
                continue;
            }
            if (fd == lfd) {
                for (;;) {
                    const int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
                    if (cfd < 0) break;
                    ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ++g_count.connections;
                    auto c = std::make_unique<Conn>();
                    c->fd = cfd;
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLRDHUP;
                    cev.data.fd = cfd;
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                    conns.emplace(cfd, std::move(c));
                }
                continue;
            }
            auto it = conns.find(fd);
            if (it == conns.end()) continue;
            Conn& c = *it->second;
            bool keep = true;
            for (;;) {
                const ssize_t r = ::recv(fd, chunk, sizeof chunk, 0);
                if (r > 0) {
                    c.buf.append(chunk, static_cast<std::size_t>(r));
                    continue;
                }
                if (r < 0 && errno == EINTR) continue;
                if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
                keep = false;  // EOF or error
                break;
            }
            if (!c.buf.empty() && !process(c)) keep = false;
            if (!keep) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
                ::close(fd);
                conns.erase(it);
            }
        }
    }
}
