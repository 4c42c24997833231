// openvino_telemetry.hpp — header-only C++17 wrapper over the C API in openvino_telemetry.h.
//
// Hand-written (the C header is generated). Link to the same library as the C API:
// openvino::telemetry (CMake) or `pkg-config --libs openvino_telemetry`. A program that loads
// the library at run time instead (dlopen / LoadLibrary) uses openvino_telemetry_dl.hpp, which
// offers the same classes and method names.
//
// The recommended integration (telemetry never stops the tool, never throws):
//
//     namespace ovt = ov::telemetry;
//     ovt::Telemetry telemetry = ovt::Telemetry::try_init(
//         ovt::Options().app("my_tool", "1.2.0").measurement_id("G-XXXXXXXXXX").consent_dialog());
//     telemetry.start_session("my_tool");           // Status::Disabled without consent
//     telemetry.event("my_tool", "convert", "onnx");
//     telemetry.end_session("my_tool");
//     telemetry.shutdown(std::chrono::seconds(1));  // or let the destructor do it (<= 1 s)
//
// Error policy:
//   - Telemetry is never in the way. A default-constructed Telemetry, one whose init failed
//     (try_init) and a moved-from one are disabled no-ops: is_enabled() is false, sends return
//     Status::Disabled, flush/shutdown return Status::Ok, counters() are zero.
//   - Options setters never throw: the first rejected value is kept (Options::status(),
//     Options::error()) and reported by init. try_init / try_init_simple / try_set_consent
//     never throw either: try_init returns a disabled Telemetry whose init_status() says why
//     (< 0) and reason() the library's text.
//   - Only init, init_simple and set_consent throw ov::telemetry::Error, and only when exceptions
//     are enabled: with -fno-exceptions they are absent and the try_ forms remain.
//   - "Disabled" is not an error: without the user's consent (or with DO_NOT_TRACK, or in CI
//     when asked) init returns a valid, inert Telemetry with init_status() Status::Disabled.
//   - Evolution: a Status value this header does not name may come from a newer library; a
//     value below 0 is a failure, 0 or above is not (is_error()). A handle returned with any
//     status >= 0 is kept. A Consent value this header does not name means "not accepted".
//
// Strings: `const char*` (NULL passed through; the library answers InvalidArgument where NULL
// is not allowed), `std::string` and `std::string_view` (copied to add the terminating NUL; a
// string_view is cut at an embedded NUL, as any C string is).
//
// Thread safety: one Telemetry may be used from many threads at once (the C API is
// thread-safe); moving, assigning or destroying it must not race with other uses.
#ifndef OPENVINO_TELEMETRY_HPP
#define OPENVINO_TELEMETRY_HPP

#ifndef __cplusplus
#error "openvino_telemetry.hpp is C++ (C++17 or newer); C code includes openvino_telemetry.h"
#endif
#if defined(_MSVC_LANG)
#define OV_TELEMETRY_CPLUSPLUS _MSVC_LANG
#else
#define OV_TELEMETRY_CPLUSPLUS __cplusplus
#endif
#if OV_TELEMETRY_CPLUSPLUS < 201703L
#error "openvino_telemetry.hpp needs C++17 or newer (e.g. -std=c++17, CMake cxx_std_17); older C++ can use the C API in openvino_telemetry.h"
#endif

/// 1 when the throwing calls (init, init_simple, set_consent, Error) are available: C++
/// exceptions are enabled. Define it to 0 before including to leave them out anyway.
#ifndef OV_TELEMETRY_CXX_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define OV_TELEMETRY_CXX_EXCEPTIONS 1
#else
#define OV_TELEMETRY_CXX_EXCEPTIONS 0
#endif
#endif

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <ratio>
#include <string>
#include <string_view>
#include <utility>
#if OV_TELEMETRY_CXX_EXCEPTIONS
#include <new>
#include <stdexcept>
#endif

#include <cstdlib>
#include <typeinfo>

#if defined(__has_include)
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define OV_TELEMETRY_HAVE_CXXABI 1
#endif
#endif
#ifndef OV_TELEMETRY_HAVE_CXXABI
#define OV_TELEMETRY_HAVE_CXXABI 0
#endif

#include "openvino_telemetry.h"

namespace ov::telemetry {

/// Mirrors ov_telemetry_status_e value for value. Other values may come from a newer library:
/// below 0 is a failure, 0 or above is not (see is_error()).
enum class Status : std::int32_t {
    Ok = OV_TELEMETRY_STATUS_OK,
    Disabled = OV_TELEMETRY_STATUS_DISABLED,
    QueueFull = OV_TELEMETRY_STATUS_QUEUE_FULL,
    Timeout = OV_TELEMETRY_STATUS_TIMEOUT,
    InvalidArgument = OV_TELEMETRY_STATUS_INVALID_ARGUMENT,
    ShutDown = OV_TELEMETRY_STATUS_SHUT_DOWN,
    IoError = OV_TELEMETRY_STATUS_IO_ERROR,
    InternalError = OV_TELEMETRY_STATUS_INTERNAL_ERROR,
};

/// True for a failure (any value below 0, named here or not).
[[nodiscard]] constexpr bool is_error(Status status) noexcept {
    return static_cast<std::int32_t>(status) < 0;
}

/// Mirrors ov_telemetry_consent_e: the decision recorded in the consent file. Any value other
/// than Accepted (a newer library may add some) means "do not collect".
enum class Consent : std::int32_t {
    Undecided = OV_TELEMETRY_CONSENT_UNDECIDED,
    Declined = OV_TELEMETRY_CONSENT_DECLINED,
    Accepted = OV_TELEMETRY_CONSENT_ACCEPTED,
};

/// What a Telemetry's sender has done so far (ov_telemetry_counters_t). Every accepted event
/// ends up exactly once in `sent` or `failed`, or is still pending. All zero when disabled.
struct Counters {
    std::uint64_t queued = 0;   ///< events accepted onto the queue
    std::uint64_t sent = 0;     ///< events delivered
    std::uint64_t dropped = 0;  ///< events refused because the queue was full
    std::uint64_t failed = 0;   ///< events that could not be delivered
    std::uint64_t retried = 0;  ///< requests that were tried again
};

/// A string argument: `const char*` (NULL passed through), `std::string` (borrowed) or
/// `std::string_view` (copied, to add the terminating NUL). Only for parameters: it may
/// point into its argument, so it must not outlive the call.
class StringArg {
public:
    StringArg() noexcept = default;  // NULL
    StringArg(std::nullptr_t) noexcept {}
    StringArg(const char* s) noexcept : p_(s) {}
    StringArg(const std::string& s) noexcept : p_(s.c_str()) {}
    StringArg(std::string_view s) noexcept {
#if OV_TELEMETRY_CXX_EXCEPTIONS
        try {
            owned_.assign(s.data(), s.size());
            p_ = owned_.c_str();
        } catch (...) {
            p_ = nullptr;  // out of memory: the library answers InvalidArgument
        }
#else
        owned_.assign(s.data(), s.size());
        p_ = owned_.c_str();
#endif
    }
    StringArg(const StringArg&) = delete;
    StringArg& operator=(const StringArg&) = delete;

    const char* c_str() const noexcept { return p_; }

private:
    const char* p_ = nullptr;
    std::string owned_;
};

/// The previous name of StringArg.
using CString = StringArg;

namespace detail {

template <typename CStatus>
constexpr Status to_status(CStatus s) noexcept {
    return static_cast<Status>(static_cast<std::int32_t>(s));
}

/// `dst = text`, leaving dst empty if memory runs out (never throws).
inline void assign_text(std::string& dst, const char* text) noexcept {
    if (text == nullptr) {
        text = "";
    }
#if OV_TELEMETRY_CXX_EXCEPTIONS
    try {
        dst.assign(text);
    } catch (...) {
        dst.clear();
    }
#else
    dst.assign(text);
#endif
}

/// One clean text for a failure just reported by `backend`: the library's detail (which
/// already says what kind of failure it is, e.g. "invalid argument: tid is empty"), or the
/// status's description when there is no detail.
template <typename Backend>
inline void error_text(const Backend& backend, Status status, std::string& out) noexcept {
    const char* detail = backend.last_error();
    if (detail != nullptr && detail[0] != '\0') {
        assign_text(out, detail);
    } else {
        assign_text(out, backend.status_message(static_cast<std::int32_t>(status)));
    }
}

/// A duration as the C API's uint32_t milliseconds: negative, zero or NaN → 0, at least
/// UINT32_MAX ms → UINT32_MAX, otherwise truncated to whole milliseconds. Clamps in floating
/// point before any integer conversion, so no duration overflows (hours::max() included).
template <typename Rep, typename Period>
constexpr std::uint32_t to_timeout_ms(std::chrono::duration<Rep, Period> d) noexcept {
    using WideMs = std::chrono::duration<long double, std::milli>;
    const long double ms = std::chrono::duration_cast<WideMs>(d).count();
    constexpr auto max_ms = static_cast<long double>(std::numeric_limits<std::uint32_t>::max());
    if (!(ms > 0.0L)) {  // also NaN
        return 0;
    }
    if (ms >= max_ms) {
        return std::numeric_limits<std::uint32_t>::max();
    }
    return static_cast<std::uint32_t>(ms);
}

/// The C API linked into the program (openvino::telemetry). openvino_telemetry_dl.hpp has
/// the same interface over the ov_telemetry_get_api() table.
struct LinkedBackend {
    static constexpr bool usable() noexcept { return true; }
    static constexpr const char* unusable_reason() noexcept { return ""; }
    static constexpr bool has_counters() noexcept { return true; }

    static ov_telemetry_status_e options_create(ov_telemetry_options_t** out) noexcept {
        return ov_telemetry_options_create(out);
    }
    static ov_telemetry_status_e options_set_app(ov_telemetry_options_t* o, const char* name,
                                                 const char* version) noexcept {
        return ov_telemetry_options_set_app(o, name, version);
    }
    static ov_telemetry_status_e options_set_measurement_id(ov_telemetry_options_t* o,
                                                            const char* tid) noexcept {
        return ov_telemetry_options_set_measurement_id(o, tid);
    }
    static ov_telemetry_status_e options_set_api_secret(ov_telemetry_options_t* o,
                                                        const char* secret) noexcept {
        return ov_telemetry_options_set_api_secret(o, secret);
    }
    static ov_telemetry_status_e options_set_consent_dialog(ov_telemetry_options_t* o, bool on) noexcept {
        return ov_telemetry_options_set_consent_dialog(o, on);
    }
    static ov_telemetry_status_e options_set_disable_in_ci(ov_telemetry_options_t* o, bool on) noexcept {
        return ov_telemetry_options_set_disable_in_ci(o, on);
    }
    static ov_telemetry_status_e options_set_crash_reports(ov_telemetry_options_t* o, bool on) noexcept {
        return ov_telemetry_options_set_crash_reports(o, on);
    }
    static ov_telemetry_status_e options_set_endpoint(ov_telemetry_options_t* o, const char* url) noexcept {
        return ov_telemetry_options_set_endpoint(o, url);
    }
    static ov_telemetry_status_e options_set_config_dir(ov_telemetry_options_t* o, const char* dir) noexcept {
        return ov_telemetry_options_set_config_dir(o, dir);
    }
    static ov_telemetry_status_e options_set_queue_capacity(ov_telemetry_options_t* o,
                                                            std::uint32_t capacity) noexcept {
        return ov_telemetry_options_set_queue_capacity(o, capacity);
    }
    static void options_free(ov_telemetry_options_t* o) noexcept { ov_telemetry_options_free(o); }
    static ov_telemetry_status_e init(const ov_telemetry_options_t* o, ov_telemetry_t** out) noexcept {
        return ov_telemetry_init(o, out);
    }
    static bool is_enabled(const ov_telemetry_t* t) noexcept { return ov_telemetry_is_enabled(t); }
    static ov_telemetry_status_e send_event(ov_telemetry_t* t, const char* category, const char* action,
                                            const char* label, std::int64_t value) noexcept {
        return ov_telemetry_send_event(t, category, action, label, value);
    }
    static ov_telemetry_status_e send_error(ov_telemetry_t* t, const char* category,
                                            const char* message) noexcept {
        return ov_telemetry_send_error(t, category, message);
    }
    static ov_telemetry_status_e send_stack_trace(ov_telemetry_t* t, const char* category,
                                                  const char* trace) noexcept {
        return ov_telemetry_send_stack_trace(t, category, trace);
    }
    static ov_telemetry_status_e start_session(ov_telemetry_t* t, const char* category) noexcept {
        return ov_telemetry_start_session(t, category);
    }
    static ov_telemetry_status_e end_session(ov_telemetry_t* t, const char* category) noexcept {
        return ov_telemetry_end_session(t, category);
    }
    static ov_telemetry_status_e flush(ov_telemetry_t* t, std::uint32_t ms) noexcept {
        return ov_telemetry_flush(t, ms);
    }
    static ov_telemetry_status_e shutdown(ov_telemetry_t* t, std::uint32_t ms) noexcept {
        return ov_telemetry_shutdown(t, ms);
    }
    static void free(ov_telemetry_t* t) noexcept { ov_telemetry_free(t); }
    static ov_telemetry_status_e get_counters(const ov_telemetry_t* t, ov_telemetry_counters_t* out,
                                              std::size_t size) noexcept {
        return ov_telemetry_get_counters(t, out, size);
    }
    static ov_telemetry_consent_e get_consent(const char* dir) noexcept { return ov_telemetry_get_consent(dir); }
    static ov_telemetry_status_e set_consent(const char* dir, bool accepted) noexcept {
        return ov_telemetry_set_consent(dir, accepted);
    }
    static const char* status_message(std::int32_t status) noexcept { return ov_telemetry_status_message(status); }
    static const char* last_error() noexcept { return ov_telemetry_last_error(); }
    static const char* version() noexcept { return ov_telemetry_version(); }
};

}  // namespace detail

#if OV_TELEMETRY_CXX_EXCEPTIONS
/// Thrown by init, init_simple and set_consent when the library reports a failure. status()
/// says why; what() is the library's text for it, once (e.g. "invalid argument: tid is empty").
class Error : public std::runtime_error {
public:
    Error(Status status, const std::string& what) : std::runtime_error(what), status_(status) {}
    [[nodiscard]] Status status() const noexcept { return status_; }

private:
    Status status_;
};
#endif

template <typename Backend>
class BasicTelemetry;

/// Builder for Telemetry::init / try_init. Owns an ov_telemetry_options_t; move-only. Setters
/// never throw and chain, on a variable (`o.app(…)`, returns Options&) and on a temporary
/// (`Options().app(…)`, returns Options&&). The first rejected value is kept: status() and
/// error() tell it, and init reports it (later setters are then ignored).
/// A moved-from Options holds nothing; init with it fails with Status::InvalidArgument.
template <typename Backend>
class BasicOptions {
public:
    /// Default options (ov_telemetry_options_create). For openvino_telemetry_dl.hpp, pass the
    /// loaded library instead.
    BasicOptions() noexcept : BasicOptions(Backend{}) {}
    explicit BasicOptions(Backend backend) noexcept : backend_(std::move(backend)) {
        if (backend_.usable()) {
            record(backend_.options_create(&opts_));
        }
    }
    ~BasicOptions() {
        if (opts_ != nullptr) {
            backend_.options_free(opts_);
        }
    }

    BasicOptions(const BasicOptions&) = delete;
    BasicOptions& operator=(const BasicOptions&) = delete;
    BasicOptions(BasicOptions&& other) noexcept
        : backend_(other.backend_),
          opts_(std::exchange(other.opts_, nullptr)),
          status_(std::exchange(other.status_, Status::Ok)),
          error_(std::move(other.error_)) {}
    BasicOptions& operator=(BasicOptions&& other) noexcept {
        if (this != &other) {
            if (opts_ != nullptr) {
                backend_.options_free(opts_);
            }
            backend_ = other.backend_;
            opts_ = std::exchange(other.opts_, nullptr);
            status_ = std::exchange(other.status_, Status::Ok);
            error_ = std::move(other.error_);
        }
        return *this;
    }

    /// Application name and version, reported as app_name / app_version (name required).
    BasicOptions& app(const StringArg& name, const StringArg& version) & noexcept {
        if (ready()) {
            record(backend_.options_set_app(opts_, name.c_str(), version.c_str()));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& app(const StringArg& name, const StringArg& version) && noexcept {
        return std::move(app(name, version));
    }
    /// Your tool's own GA4 measurement id ("G-" then letters and digits; required).
    BasicOptions& measurement_id(const StringArg& tid) & noexcept {
        if (ready()) {
            record(backend_.options_set_measurement_id(opts_, tid.c_str()));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& measurement_id(const StringArg& tid) && noexcept {
        return std::move(measurement_id(tid));
    }
    /// Measurement Protocol API secret; the default is OpenVINO's.
    BasicOptions& api_secret(const StringArg& secret) & noexcept {
        if (ready()) {
            record(backend_.options_set_api_secret(opts_, secret.c_str()));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& api_secret(const StringArg& secret) && noexcept {
        return std::move(api_secret(secret));
    }
    /// Ask on the terminal when no decision is recorded (command-line tools only). Off unless
    /// called; `consent_dialog()` turns it on.
    BasicOptions& consent_dialog(bool on = true) & noexcept {
        if (ready()) {
            record(backend_.options_set_consent_dialog(opts_, on));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& consent_dialog(bool on = true) && noexcept {
        return std::move(consent_dialog(on));
    }
    /// Disable when a CI environment is detected. Off unless called; `disable_in_ci()` turns
    /// it on.
    BasicOptions& disable_in_ci(bool on = true) & noexcept {
        if (ready()) {
            record(backend_.options_set_disable_in_ci(opts_, on));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& disable_in_ci(bool on = true) && noexcept {
        return std::move(disable_in_ci(on));
    }
    /// Collect URL without its query (OPENVINO_TELEMETRY_ENDPOINT, if set, wins).
    BasicOptions& endpoint(const StringArg& url) & noexcept {
        if (ready()) {
            record(backend_.options_set_endpoint(opts_, url.c_str()));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& endpoint(const StringArg& url) && noexcept {
        return std::move(endpoint(url));
    }
    /// Directory holding the consent, client id and stats files (default $HOME/intel).
    BasicOptions& config_dir(const StringArg& dir) & noexcept {
        if (ready()) {
            record(backend_.options_set_config_dir(opts_, dir.c_str()));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& config_dir(const StringArg& dir) && noexcept {
        return std::move(config_dir(dir));
    }
    /// Bound of the in-memory event queue (1 … OV_TELEMETRY_MAX_QUEUE_CAPACITY, default 1000).
    BasicOptions& queue_capacity(std::uint32_t capacity) & noexcept {
        if (ready()) {
            record(backend_.options_set_queue_capacity(opts_, capacity));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& queue_capacity(std::uint32_t capacity) && noexcept {
        return std::move(queue_capacity(capacity));
    }
    /// Crash reports (default off): with consent, a fatal signal leaves a record the next
    /// run sends as a `crash` event. See also install_terminate_handler(). With a library
    /// too old to have them, nothing happens.
    BasicOptions& crash_reports(bool on = true) & noexcept {
        if (ready()) {
            record(backend_.options_set_crash_reports(opts_, on));
        }
        return *this;
    }
    [[nodiscard]] BasicOptions&& crash_reports(bool on = true) && noexcept {
        return std::move(crash_reports(on));
    }

    /// Status::Ok, or the status of the first rejected value.
    [[nodiscard]] Status status() const noexcept { return status_; }
    /// The library's text for the first rejected value ("" if none).
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    /// The underlying C object (NULL after a move), still owned by this Options.
    [[nodiscard]] const ov_telemetry_options_t* get() const noexcept { return opts_; }
    [[nodiscard]] const Backend& backend() const noexcept { return backend_; }

private:
    bool ready() const noexcept { return status_ == Status::Ok && opts_ != nullptr; }

    void record(ov_telemetry_status_e s) noexcept {
        const Status status = detail::to_status(s);
        if (is_error(status) && !is_error(status_)) {
            status_ = status;
            detail::error_text(backend_, status, error_);
        }
    }

    Backend backend_;
    ov_telemetry_options_t* opts_ = nullptr;
    Status status_ = Status::Ok;
    std::string error_;
};

/// A telemetry client. Move-only.
///
/// Empty state: a default-constructed Telemetry, one from a failed try_init and a moved-from
/// one hold no handle and are disabled no-ops (is_enabled() false, sends return
/// Status::Disabled, flush and shutdown Status::Ok, counters() zero).
///
/// Blocking: the destructor and move assignment (which releases the target's previous
/// handle first) shut the handle down, waiting at most kDestructorShutdownTimeout (1 s) for
/// queued events to be delivered, then free it; with nothing queued they return at once.
/// Call shutdown() yourself first to choose another bound.
template <typename Backend>
class BasicTelemetry {
public:
    using Options = BasicOptions<Backend>;

    /// Upper bound the destructor and move assignment wait for queued events to be delivered.
    static constexpr std::chrono::milliseconds kDestructorShutdownTimeout{1000};

    /// The empty state: a disabled no-op (see the class comment).
    BasicTelemetry() noexcept = default;

    /// Creates a client; never throws. On success init_status() is Status::Ok (enabled) or
    /// Status::Disabled (no consent; reason() says why) or another status >= 0 from a newer
    /// library, and the handle is kept. On failure (invalid options, an I/O or internal error,
    /// a library not loaded) the result is in the empty state, init_status() is the failure
    /// (< 0, or Status::Disabled when no library could be loaded) and reason() its text.
    [[nodiscard]] static BasicTelemetry try_init(const Options& options) noexcept {
        BasicTelemetry result(options.backend());
        const Backend& backend = options.backend();
        if (!backend.usable()) {
            result.init_status_ = Status::Disabled;
            detail::assign_text(result.reason_, backend.unusable_reason());
            return result;
        }
        if (is_error(options.status())) {
            result.init_status_ = options.status();
            detail::assign_text(result.reason_, options.error().c_str());
            return result;
        }
        ov_telemetry_t* handle = nullptr;
        const Status status = detail::to_status(backend.init(options.get(), &handle));
        if (!is_error(status) && handle != nullptr) {
            result.handle_ = handle;
            result.init_status_ = status;
            if (status != Status::Ok) {
                detail::error_text(backend, status, result.reason_);
            }
            return result;
        }
        if (handle != nullptr) {  // not expected from the C API (status < 0): do not leak it
            backend.free(handle);
        }
        result.init_status_ = is_error(status) ? status : Status::InternalError;
        if (is_error(status)) {
            detail::error_text(backend, status, result.reason_);
        } else {
            detail::assign_text(result.reason_, "the library returned no handle");
        }
        return result;
    }

    /// try_init with default options plus app name, version and measurement id.
    [[nodiscard]] static BasicTelemetry try_init_simple(const StringArg& app, const StringArg& version,
                                                        const StringArg& measurement_id) noexcept {
        return try_init(Options().app(app, version).measurement_id(measurement_id));
    }

#if OV_TELEMETRY_CXX_EXCEPTIONS
    /// Like try_init, but a failure (init_status() < 0) throws Error with reason() as its
    /// text. A missing consent is *not* an exception: the client is returned disabled.
    [[nodiscard]] static BasicTelemetry init(const Options& options) {
        BasicTelemetry t = try_init(options);
        if (is_error(t.init_status_)) {
            throw Error(t.init_status_, t.reason_);
        }
        return t;
    }
    /// init with default options plus app name, version and measurement id.
    [[nodiscard]] static BasicTelemetry init_simple(const StringArg& app, const StringArg& version,
                                                    const StringArg& measurement_id) {
        return init(Options().app(app, version).measurement_id(measurement_id));
    }
#endif

    BasicTelemetry(const BasicTelemetry&) = delete;
    BasicTelemetry& operator=(const BasicTelemetry&) = delete;
    /// Takes the handle; `other` is left in the empty state.
    BasicTelemetry(BasicTelemetry&& other) noexcept
        : backend_(other.backend_),
          handle_(std::exchange(other.handle_, nullptr)),
          init_status_(std::exchange(other.init_status_, Status::Disabled)),
          reason_(std::move(other.reason_)) {
        other.reason_.clear();
    }
    /// Releases this object's handle as the destructor does (may block up to
    /// kDestructorShutdownTimeout), then takes `other`'s; `other` is left in the empty state.
    BasicTelemetry& operator=(BasicTelemetry&& other) noexcept {
        if (this != &other) {
            release();
            backend_ = other.backend_;
            handle_ = std::exchange(other.handle_, nullptr);
            init_status_ = std::exchange(other.init_status_, Status::Disabled);
            reason_ = std::move(other.reason_);
            other.reason_.clear();
        }
        return *this;
    }
    /// Shuts down (waiting at most kDestructorShutdownTimeout) and frees the handle.
    ~BasicTelemetry() { release(); }

    /// True when events are actually collected (consent given, not overridden).
    [[nodiscard]] bool is_enabled() const noexcept {
        return handle_ != nullptr && backend_.is_enabled(handle_);
    }
    /// What init returned: Status::Ok, Status::Disabled, or (try_init) the failure. The empty
    /// state says Status::Disabled.
    [[nodiscard]] Status init_status() const noexcept { return init_status_; }
    /// Why the client is not enabled: the library's text for a disabled or failed init, a
    /// fixed text for the empty state, "" when enabled.
    [[nodiscard]] const char* reason() const noexcept {
        if (!reason_.empty()) {
            return reason_.c_str();
        }
        if (handle_ == nullptr && init_status_ == Status::Disabled) {
            return "no telemetry handle (default-constructed, moved from, or not initialised)";
        }
        return "";
    }

    /// Queues an event; never blocks on I/O. Ok, Disabled, QueueFull (dropped), ShutDown or
    /// InvalidArgument.
    Status event(const StringArg& category, const StringArg& action, const StringArg& label,
                 std::int64_t value = 1) noexcept {
        if (handle_ == nullptr) {
            return Status::Disabled;
        }
        return detail::to_status(
            backend_.send_event(handle_, category.c_str(), action.c_str(), label.c_str(), value));
    }
    /// Queues an error report (the message is scrubbed of home directory and user name).
    Status error(const StringArg& category, const StringArg& message) noexcept {
        if (handle_ == nullptr) {
            return Status::Disabled;
        }
        return detail::to_status(backend_.send_error(handle_, category.c_str(), message.c_str()));
    }
    /// Queues a stack trace report (scrubbed like error()).
    Status stack_trace(const StringArg& category, const StringArg& trace) noexcept {
        if (handle_ == nullptr) {
            return Status::Disabled;
        }
        return detail::to_status(backend_.send_stack_trace(handle_, category.c_str(), trace.c_str()));
    }
    /// Starts a new session (new session id) and queues the session/start event.
    Status start_session(const StringArg& category) noexcept {
        if (handle_ == nullptr) {
            return Status::Disabled;
        }
        return detail::to_status(backend_.start_session(handle_, category.c_str()));
    }
    /// Queues the session/end event.
    Status end_session(const StringArg& category) noexcept {
        if (handle_ == nullptr) {
            return Status::Disabled;
        }
        return detail::to_status(backend_.end_session(handle_, category.c_str()));
    }

    /// Waits until everything queued is delivered, at most `timeout` (any duration; clamped
    /// to 0 … UINT32_MAX ms): Ok or Timeout.
    template <typename Rep, typename Period>
    Status flush(std::chrono::duration<Rep, Period> timeout) noexcept {
        if (handle_ == nullptr) {
            return Status::Ok;
        }
        return detail::to_status(backend_.flush(handle_, detail::to_timeout_ms(timeout)));
    }
    /// Delivers what is queued (at most `timeout`, clamped like flush's) and stops the
    /// worker; later sends return Status::ShutDown. The handle stays owned until destruction.
    template <typename Rep, typename Period>
    Status shutdown(std::chrono::duration<Rep, Period> timeout) noexcept {
        if (handle_ == nullptr) {
            return Status::Ok;
        }
        return detail::to_status(backend_.shutdown(handle_, detail::to_timeout_ms(timeout)));
    }

    /// The sender's counters (all zero when disabled, in the empty state, or when a loaded
    /// library is too old to report them). Readable after shutdown.
    [[nodiscard]] Counters counters() const noexcept {
        Counters result;
        if (handle_ == nullptr || !backend_.has_counters()) {
            return result;
        }
        ov_telemetry_counters_t c{};
        if (!is_error(detail::to_status(backend_.get_counters(handle_, &c, sizeof c)))) {
            result.queued = c.queued;
            result.sent = c.sent;
            result.dropped = c.dropped;
            result.failed = c.failed;
            result.retried = c.retried;
        }
        return result;
    }

    /// The underlying C handle (NULL in the empty state), still owned by this Telemetry.
    [[nodiscard]] ov_telemetry_t* get() const noexcept { return handle_; }

private:
    explicit BasicTelemetry(Backend backend) noexcept : backend_(std::move(backend)) {}

    void release() noexcept {
        if (handle_ != nullptr) {
            backend_.shutdown(handle_, detail::to_timeout_ms(kDestructorShutdownTimeout));
            backend_.free(handle_);
            handle_ = nullptr;
        }
    }

    Backend backend_{};
    ov_telemetry_t* handle_ = nullptr;
    Status init_status_ = Status::Disabled;
    std::string reason_;
};

/// Options and Telemetry over the linked library.
using Options = BasicOptions<detail::LinkedBackend>;
using Telemetry = BasicTelemetry<detail::LinkedBackend>;

/// The library's static description of a status ("unknown status" for a value it does not
/// know); never NULL.
[[nodiscard]] inline const char* to_string(Status status) noexcept {
    return ov_telemetry_status_message(static_cast<std::int32_t>(status));
}

/// The calling thread's last failure detail ("" if none).
[[nodiscard]] inline const char* last_error() noexcept { return ov_telemetry_last_error(); }

/// The library's version, e.g. "1.0.0" (the library that is loaded, which may be newer
/// than OV_TELEMETRY_VERSION, the header's).
[[nodiscard]] inline const char* version() noexcept { return ov_telemetry_version(); }

/// The decision recorded in `config_dir` (default: $HOME/intel). Never throws.
[[nodiscard]] inline Consent consent(const StringArg& config_dir = {}) noexcept {
    return static_cast<Consent>(static_cast<std::int32_t>(ov_telemetry_get_consent(config_dir.c_str())));
}

/// Records a decision in `config_dir` (NULL: the default directory) exactly as opt_in_out
/// does: a new client id on accept; client id, stats and queued events deleted on decline.
/// Sends nothing. Returns Ok or the failure (InvalidArgument, IoError; last_error() says more).
[[nodiscard]] inline Status try_set_consent(const StringArg& config_dir, bool accepted) noexcept {
    return detail::to_status(ov_telemetry_set_consent(config_dir.c_str(), accepted));
}

#if OV_TELEMETRY_CXX_EXCEPTIONS
/// try_set_consent that throws Error on failure.
inline void set_consent(const StringArg& config_dir, bool accepted) {
    const Status status = try_set_consent(config_dir, accepted);
    if (is_error(status)) {
        std::string what;
        detail::error_text(detail::LinkedBackend{}, status, what);
        throw Error(status, what);
    }
}
#endif

// ---- crash reports: the uncaught-exception note (opt-in) ----

namespace detail {

inline std::terminate_handler& previous_terminate_handler() noexcept {
    static std::terminate_handler previous = nullptr;
    return previous;
}

[[noreturn]] inline void on_terminate() noexcept {
    // Only the exception's type is noted (what() may hold paths or personal data).
    if (std::exception_ptr current = std::current_exception()) {
        const char* name = "unknown exception";
#if OV_TELEMETRY_CXX_EXCEPTIONS
        try {
            std::rethrow_exception(current);
        } catch (const std::exception& e) {
            name = typeid(e).name();
        } catch (...) {
        }
#endif
        const std::type_info* type = nullptr;
#if OV_TELEMETRY_HAVE_CXXABI
        type = abi::__cxa_current_exception_type();
#endif
        if (type != nullptr) {
            name = type->name();
        }
#if OV_TELEMETRY_HAVE_CXXABI
        int demangled_ok = -1;
        char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &demangled_ok);
        ov_telemetry_crash_set_exception(demangled_ok == 0 && demangled != nullptr ? demangled
                                                                                   : name);
        std::free(demangled);
#else
        ov_telemetry_crash_set_exception(name);
#endif
    }
    std::terminate_handler previous = previous_terminate_handler();
    if (previous != nullptr && previous != &on_terminate) {
        previous();  // e.g. the C++ runtime's verbose handler, which prints and aborts
    }
    std::abort();
}

}  // namespace detail

/// Opt-in: makes std::terminate note the type of an uncaught exception (e.g.
/// "std::runtime_error", never its message) before the previous terminate handler runs
/// and aborts, so the `crash` report of the SIGABRT that follows names it. Needs crash
/// reports on (Options::crash_reports) to have any effect. Call once, early in main().
inline void install_terminate_handler() noexcept {
    std::terminate_handler previous = std::set_terminate(&detail::on_terminate);
    if (previous != &detail::on_terminate) {
        detail::previous_terminate_handler() = previous;
    }
}

}  // namespace ov::telemetry

#endif  // OPENVINO_TELEMETRY_HPP
