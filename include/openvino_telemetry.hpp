// openvino_telemetry.hpp — header-only C++17 wrapper over the C API in openvino_telemetry.h.
//
// Hand-written (the C header is generated). Link to the same library as the C API:
// openvino::telemetry (CMake) or `pkg-config --libs openvino_telemetry`.
//
// Error policy:
//   - Configuration throws: Options setters, Options' constructor, Telemetry::init,
//     Telemetry::init_simple and set_consent throw ov::telemetry::Error (a
//     std::runtime_error carrying the Status and the library's last_error text) when the
//     library reports a failure.
//   - "Disabled" is not an error. Without the user's consent (or with DO_NOT_TRACK, or in CI
//     when asked) init returns a valid, inert Telemetry: is_enabled() is false,
//     init_status() is Status::Disabled and every send returns Status::Disabled.
//   - Sending never throws: event / error / stack_trace / start_session / end_session /
//     flush / shutdown are noexcept and return a Status.
//
// Thread safety: one Telemetry may be used from many threads at once (the C API is
// thread-safe); moving or destroying it must not race with other uses.
#ifndef OPENVINO_TELEMETRY_HPP
#define OPENVINO_TELEMETRY_HPP

#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

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

/// Mirrors ov_telemetry_status_e value for value.
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

/// Mirrors ov_telemetry_consent_e: the decision recorded in the consent file.
enum class Consent : std::int32_t {
    Undecided = OV_TELEMETRY_CONSENT_UNDECIDED,
    Declined = OV_TELEMETRY_CONSENT_DECLINED,
    Accepted = OV_TELEMETRY_CONSENT_ACCEPTED,
};

/// The library's static description of a status; never NULL.
inline const char* to_string(Status status) noexcept {
    return ov_telemetry_status_message(static_cast<std::int32_t>(status));
}

/// The calling thread's last failure detail ("" if none).
inline const char* last_error() noexcept { return ov_telemetry_last_error(); }

/// The library's version, e.g. "1.0.0" (the library that is loaded, which may be newer
/// than OV_TELEMETRY_VERSION, the header's).
inline const char* version() noexcept { return ov_telemetry_version(); }

/// Thrown by configuration calls that fail. status() says why; what() is
/// "<status message>: <last_error detail>".
class Error : public std::runtime_error {
public:
    Error(Status status, const std::string& what) : std::runtime_error(what), status_(status) {}
    Status status() const noexcept { return status_; }

private:
    Status status_;
};

/// A NUL-terminated string argument: a `const char*` (NULL is passed through, and the library
/// answers InvalidArgument where NULL is not allowed) or a `std::string`. Borrowed, never
/// copied; std::string_view is deliberately not accepted (it need not be NUL-terminated).
class CString {
public:
    CString(const char* s) noexcept : p_(s) {}
    CString(const std::string& s) noexcept : p_(s.c_str()) {}
    const char* c_str() const noexcept { return p_; }

private:
    const char* p_;
};

namespace detail {

template <typename CStatus>
inline Status to_status(CStatus s) noexcept {
    return static_cast<Status>(static_cast<std::int32_t>(s));
}

[[noreturn]] inline void throw_error(Status status) {
    std::string what = to_string(status);
    const char* detail = ov_telemetry_last_error();
    if (detail != nullptr && detail[0] != '\0') {
        what += ": ";
        what += detail;
    }
    throw Error(status, what);
}

template <typename CStatus>
inline void check(CStatus s) {
    const Status status = to_status(s);
    if (status != Status::Ok) {
        throw_error(status);
    }
}

/// Clamps a duration to the C API's uint32_t milliseconds (negative → 0).
template <typename Rep, typename Period>
inline std::uint32_t to_timeout_ms(std::chrono::duration<Rep, Period> d) noexcept {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms <= 0) {
        return 0;
    }
    if (static_cast<unsigned long long>(ms) > std::numeric_limits<std::uint32_t>::max()) {
        return std::numeric_limits<std::uint32_t>::max();
    }
    return static_cast<std::uint32_t>(ms);
}

}  // namespace detail

/// Builder for Telemetry::init. Owns an ov_telemetry_options_t; move-only. Every setter
/// returns *this and throws Error (InvalidArgument) when the library rejects the value.
class Options {
public:
    /// Throws Error if the options object cannot be created.
    Options() { detail::check(ov_telemetry_options_create(&opts_)); }
    ~Options() { ov_telemetry_options_free(opts_); }

    Options(const Options&) = delete;
    Options& operator=(const Options&) = delete;
    Options(Options&& other) noexcept : opts_(std::exchange(other.opts_, nullptr)) {}
    Options& operator=(Options&& other) noexcept {
        if (this != &other) {
            ov_telemetry_options_free(opts_);
            opts_ = std::exchange(other.opts_, nullptr);
        }
        return *this;
    }

    /// Application name and version, reported as app_name / app_version.
    Options& app(CString name, CString version) {
        detail::check(ov_telemetry_options_set_app(opts_, name.c_str(), version.c_str()));
        return *this;
    }
    /// GA4 measurement id ("G-...") events are reported to.
    Options& measurement_id(CString tid) {
        detail::check(ov_telemetry_options_set_measurement_id(opts_, tid.c_str()));
        return *this;
    }
    /// Measurement Protocol API secret; the default is OpenVINO's.
    Options& api_secret(CString secret) {
        detail::check(ov_telemetry_options_set_api_secret(opts_, secret.c_str()));
        return *this;
    }
    /// Ask on the terminal when no decision is recorded (command-line tools only). Default off.
    Options& consent_dialog(bool on) {
        detail::check(ov_telemetry_options_set_consent_dialog(opts_, on));
        return *this;
    }
    /// Disable when a CI environment is detected. Default off.
    Options& disable_in_ci(bool on) {
        detail::check(ov_telemetry_options_set_disable_in_ci(opts_, on));
        return *this;
    }
    /// Collect URL without its query (OPENVINO_TELEMETRY_ENDPOINT, if set, wins).
    Options& endpoint(CString url) {
        detail::check(ov_telemetry_options_set_endpoint(opts_, url.c_str()));
        return *this;
    }
    /// Directory holding the consent, client id and stats files (default $HOME/intel).
    Options& config_dir(CString dir) {
        detail::check(ov_telemetry_options_set_config_dir(opts_, dir.c_str()));
        return *this;
    }
    /// Bound of the in-memory event queue (default 1000).
    Options& queue_capacity(std::uint32_t capacity) {
        detail::check(ov_telemetry_options_set_queue_capacity(opts_, capacity));
        return *this;
    }
    /// Crash reports (default off): with consent, a fatal signal leaves a record the next
    /// run sends as a `crash` event. See also install_terminate_handler().
    Options& crash_reports(bool on) {
        detail::check(ov_telemetry_options_set_crash_reports(opts_, on));
        return *this;
    }

    /// The underlying C object (NULL after a move), still owned by this Options.
    const ov_telemetry_options_t* get() const noexcept { return opts_; }

private:
    ov_telemetry_options_t* opts_ = nullptr;
};

/// A telemetry client. Move-only; a moved-from Telemetry holds no handle (is_enabled() is
/// false and its calls return Status::InvalidArgument).
///
/// Destruction shuts the client down, waiting at most kDestructorShutdownTimeout (1 s) for
/// queued events to be delivered, then frees it: a destructor never hangs on the network.
/// Call shutdown() yourself first to choose another bound.
class Telemetry {
public:
    /// Upper bound the destructor waits for queued events to be delivered.
    static constexpr std::chrono::milliseconds kDestructorShutdownTimeout{1000};

    /// Creates a client. Throws Error for InvalidArgument, IoError or InternalError (or any
    /// other failure). A missing consent is *not* an exception: the client is returned
    /// disabled (is_enabled() == false, init_status() == Status::Disabled).
    static Telemetry init(const Options& options) {
        ov_telemetry_t* handle = nullptr;
        const Status status = detail::to_status(ov_telemetry_init(options.get(), &handle));
        return adopt(status, handle);
    }

    /// ov_telemetry_init_simple: default options with an app name, version and measurement
    /// id. Same error policy as init(const Options&).
    static Telemetry init_simple(CString app, CString version, CString measurement_id) {
        ov_telemetry_t* handle = nullptr;
        const Status status = detail::to_status(ov_telemetry_init_simple(
            app.c_str(), version.c_str(), measurement_id.c_str(), &handle));
        return adopt(status, handle);
    }

    Telemetry(const Telemetry&) = delete;
    Telemetry& operator=(const Telemetry&) = delete;
    Telemetry(Telemetry&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          init_status_(std::exchange(other.init_status_, Status::ShutDown)) {}
    Telemetry& operator=(Telemetry&& other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
            init_status_ = std::exchange(other.init_status_, Status::ShutDown);
        }
        return *this;
    }
    /// Shuts down (waiting at most kDestructorShutdownTimeout) and frees the handle.
    ~Telemetry() { release(); }

    /// True when events are actually collected (consent given, not overridden).
    bool is_enabled() const noexcept { return ov_telemetry_is_enabled(handle_); }
    /// What init returned: Status::Ok or Status::Disabled.
    Status init_status() const noexcept { return init_status_; }

    /// Queues an event; never blocks on I/O. Ok, Disabled, QueueFull (dropped), ShutDown or
    /// InvalidArgument.
    Status event(CString category, CString action, CString label, std::int64_t value = 1) noexcept {
        return detail::to_status(ov_telemetry_send_event(handle_, category.c_str(),
                                                         action.c_str(), label.c_str(), value));
    }
    /// Queues an error report (the message is scrubbed of home directory and user name).
    Status error(CString category, CString message) noexcept {
        return detail::to_status(ov_telemetry_send_error(handle_, category.c_str(), message.c_str()));
    }
    /// Queues a stack trace report (scrubbed like error()).
    Status stack_trace(CString category, CString trace) noexcept {
        return detail::to_status(
            ov_telemetry_send_stack_trace(handle_, category.c_str(), trace.c_str()));
    }
    /// Starts a new session (new session id) and queues the session/start event.
    Status start_session(CString category) noexcept {
        return detail::to_status(ov_telemetry_start_session(handle_, category.c_str()));
    }
    /// Queues the session/end event.
    Status end_session(CString category) noexcept {
        return detail::to_status(ov_telemetry_end_session(handle_, category.c_str()));
    }

    /// Waits until everything queued is delivered, at most `timeout`: Ok or Timeout.
    template <typename Rep, typename Period>
    Status flush(std::chrono::duration<Rep, Period> timeout) noexcept {
        return detail::to_status(ov_telemetry_flush(handle_, detail::to_timeout_ms(timeout)));
    }
    /// Delivers what is queued (at most `timeout`) and stops the worker; later sends return
    /// Status::ShutDown. The handle stays owned until destruction.
    template <typename Rep, typename Period>
    Status shutdown(std::chrono::duration<Rep, Period> timeout) noexcept {
        return detail::to_status(ov_telemetry_shutdown(handle_, detail::to_timeout_ms(timeout)));
    }

    /// The underlying C handle (NULL after a move), still owned by this Telemetry.
    ov_telemetry_t* get() const noexcept { return handle_; }

private:
    Telemetry(ov_telemetry_t* handle, Status init_status) noexcept
        : handle_(handle), init_status_(init_status) {}

    static Telemetry adopt(Status status, ov_telemetry_t* handle) {
        if ((status == Status::Ok || status == Status::Disabled) && handle != nullptr) {
            return Telemetry(handle, status);
        }
        if (handle != nullptr) {  // not expected from the C API; do not leak it
            ov_telemetry_free(handle);
        }
        detail::throw_error(status == Status::Ok ? Status::InternalError : status);
    }

    void release() noexcept {
        if (handle_ != nullptr) {
            ov_telemetry_shutdown(handle_, detail::to_timeout_ms(kDestructorShutdownTimeout));
            ov_telemetry_free(handle_);
            handle_ = nullptr;
        }
    }

    ov_telemetry_t* handle_ = nullptr;
    Status init_status_ = Status::ShutDown;
};

/// The decision recorded in `config_dir` (NULL: the default directory, $HOME/intel).
inline Consent consent(CString config_dir) noexcept {
    return static_cast<Consent>(static_cast<std::int32_t>(ov_telemetry_get_consent(config_dir.c_str())));
}

/// Records a decision in `config_dir` (NULL: the default directory) exactly as opt_in_out
/// does: a new client id on accept; client id, stats and queued events deleted on decline.
/// Sends nothing. Throws Error on failure (InvalidArgument, IoError).
inline void set_consent(CString config_dir, bool accepted) {
    detail::check(ov_telemetry_set_consent(config_dir.c_str(), accepted));
}

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
        try {
            std::rethrow_exception(current);
        } catch (const std::exception& e) {
            name = typeid(e).name();
        } catch (...) {
        }
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
