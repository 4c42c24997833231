// openvino_telemetry_dl.hpp — load the telemetry library at run time, with the C++ wrapper's
// classes and method names. Header-only C++17; the program does not link the library.
//
//     #include <openvino_telemetry_dl.hpp>
//     namespace ovt = ov::telemetry;
//
//     ovt::dl::Library lib;  // dlopen("libopenvino_telemetry.so.1") / LoadLibrary(...)
//     ovt::dl::Telemetry telemetry = ovt::dl::Telemetry::try_init(
//         ovt::dl::Options(lib).app("my_tool", "1.2.0").measurement_id("G-XXXXXXXXXX"));
//     telemetry.event("my_tool", "convert", "onnx");  // Status::Disabled without the library
//
// When the library is missing, lacks ov_telemetry_get_api, has no table for ABI version 1,
// or its table is too short for a function the wrapper needs, `lib.loaded()` is false,
// `lib.error()` says which, and everything built from it is a disabled no-op (try_init gives
// the empty state with init_status() Status::Disabled and reason() the load error). A library
// older than ov_telemetry_get_counters still works; counters() are then zero.
//
// Lifetime: a Library must outlive the Options and Telemetry made from it. The library itself
// stays mapped after the last Library is gone (it is linked NODELETE: its thread must not be
// unmapped), so a Telemetry that outlives its Library by mistake does not crash.
// Link: -ldl on glibc before 2.34 (CMake: ${CMAKE_DL_LIBS}); nothing on Windows.
#ifndef OPENVINO_TELEMETRY_DL_HPP
#define OPENVINO_TELEMETRY_DL_HPP

#include "openvino_telemetry.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif

// ov_telemetry_get_api_fn and OV_TELEMETRY_API_HAS come from the C header (shipped together).

namespace ov::telemetry::dl {

/// The file name the library is loaded by when no path is given: the SONAME on Linux.
#if defined(_WIN32)
inline constexpr const char* kDefaultLibraryName = "openvino_telemetry.dll";
#elif defined(__APPLE__)
inline constexpr const char* kDefaultLibraryName = "libopenvino_telemetry.dylib";
#else
inline constexpr const char* kDefaultLibraryName = "libopenvino_telemetry.so.1";
#endif

class Library;

namespace detail {

/// The wrapper's backend over an ov_telemetry_get_api() table; unusable (NULL table) when
/// the library could not be loaded.
class TableBackend {
public:
    TableBackend() noexcept = default;
    TableBackend(const Library& lib) noexcept;  // NOLINT: implicit, so Options(lib) reads well

    bool usable() const noexcept { return api_ != nullptr; }
    const char* unusable_reason() const noexcept { return reason_; }
    bool has_counters() const noexcept { return api_ != nullptr && OV_TELEMETRY_API_HAS(api_, get_counters); }

    ov_telemetry_status_e options_create(ov_telemetry_options_t** out) const noexcept { return api_->options_create(out); }
    ov_telemetry_status_e options_set_app(ov_telemetry_options_t* o, const char* name, const char* version) const noexcept {
        return api_->options_set_app(o, name, version);
    }
    ov_telemetry_status_e options_set_measurement_id(ov_telemetry_options_t* o, const char* tid) const noexcept {
        return api_->options_set_measurement_id(o, tid);
    }
    ov_telemetry_status_e options_set_api_secret(ov_telemetry_options_t* o, const char* secret) const noexcept {
        return api_->options_set_api_secret(o, secret);
    }
    ov_telemetry_status_e options_set_consent_dialog(ov_telemetry_options_t* o, bool on) const noexcept {
        return api_->options_set_consent_dialog(o, on);
    }
    ov_telemetry_status_e options_set_disable_in_ci(ov_telemetry_options_t* o, bool on) const noexcept {
        return api_->options_set_disable_in_ci(o, on);
    }
    ov_telemetry_status_e options_set_crash_reports(ov_telemetry_options_t* o, bool on) const noexcept {
        // A library from before crash reports (1.0): not fatal, nothing to turn on.
        if (!OV_TELEMETRY_API_HAS(api_, options_set_crash_reports)) {
            return OV_TELEMETRY_STATUS_DISABLED;
        }
        return api_->options_set_crash_reports(o, on);
    }
    ov_telemetry_status_e options_set_endpoint(ov_telemetry_options_t* o, const char* url) const noexcept {
        return api_->options_set_endpoint(o, url);
    }
    ov_telemetry_status_e options_set_config_dir(ov_telemetry_options_t* o, const char* dir) const noexcept {
        return api_->options_set_config_dir(o, dir);
    }
    ov_telemetry_status_e options_set_queue_capacity(ov_telemetry_options_t* o, std::uint32_t capacity) const noexcept {
        return api_->options_set_queue_capacity(o, capacity);
    }
    void options_free(ov_telemetry_options_t* o) const noexcept { api_->options_free(o); }
    ov_telemetry_status_e init(const ov_telemetry_options_t* o, ov_telemetry_t** out) const noexcept {
        return api_->init(o, out);
    }
    bool is_enabled(const ov_telemetry_t* t) const noexcept { return api_->is_enabled(t); }
    ov_telemetry_status_e send_event(ov_telemetry_t* t, const char* category, const char* action, const char* label,
                                     std::int64_t value) const noexcept {
        return api_->send_event(t, category, action, label, value);
    }
    ov_telemetry_status_e send_error(ov_telemetry_t* t, const char* category, const char* message) const noexcept {
        return api_->send_error(t, category, message);
    }
    ov_telemetry_status_e send_stack_trace(ov_telemetry_t* t, const char* category, const char* trace) const noexcept {
        return api_->send_stack_trace(t, category, trace);
    }
    ov_telemetry_status_e start_session(ov_telemetry_t* t, const char* category) const noexcept {
        return api_->start_session(t, category);
    }
    ov_telemetry_status_e end_session(ov_telemetry_t* t, const char* category) const noexcept {
        return api_->end_session(t, category);
    }
    ov_telemetry_status_e flush(ov_telemetry_t* t, std::uint32_t ms) const noexcept { return api_->flush(t, ms); }
    ov_telemetry_status_e shutdown(ov_telemetry_t* t, std::uint32_t ms) const noexcept { return api_->shutdown(t, ms); }
    void free(ov_telemetry_t* t) const noexcept { api_->handle_free(t); }
    ov_telemetry_status_e get_counters(const ov_telemetry_t* t, ov_telemetry_counters_t* out,
                                       std::size_t size) const noexcept {
        return api_->get_counters(t, out, size);
    }
    const char* status_message(std::int32_t status) const noexcept {
        return api_ != nullptr ? api_->status_message(status) : "";
    }
    const char* last_error() const noexcept { return api_ != nullptr ? api_->last_error() : ""; }

private:
    const ov_telemetry_api_t* api_ = nullptr;
    const char* reason_ = "the telemetry library is not loaded";
};

}  // namespace detail

/// The loaded library (RAII: dlopen / LoadLibrary in the constructor, dlclose / FreeLibrary
/// in the destructor). Never throws; check loaded() and error(). Move-only.
class Library {
public:
    /// Loads kDefaultLibraryName, found the way the system loader finds libraries.
    Library() noexcept : Library(kDefaultLibraryName) {}
    /// Loads the library at `path` (or a bare file name, searched as the system loader does).
    explicit Library(const StringArg& path) noexcept {
        if (path.c_str() == nullptr) {
            set_error("no library path given");
            return;
        }
#if defined(_WIN32)
        handle_ = reinterpret_cast<void*>(::LoadLibraryA(path.c_str()));
        if (handle_ == nullptr) {
            set_error("cannot load ", path.c_str(), ": LoadLibrary failed");
            return;
        }
        const auto get_api = reinterpret_cast<ov_telemetry_get_api_fn>(
            reinterpret_cast<void*>(::GetProcAddress(static_cast<HMODULE>(handle_), "ov_telemetry_get_api")));
#else
        handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle_ == nullptr) {
            const char* why = ::dlerror();
            set_error("cannot load the telemetry library: ", why != nullptr ? why : path.c_str());
            return;
        }
        // POSIX allows converting the void* from dlsym to a function pointer.
        const auto get_api = reinterpret_cast<ov_telemetry_get_api_fn>(::dlsym(handle_, "ov_telemetry_get_api"));
#endif
        if (get_api == nullptr) {
            set_error(path.c_str(), " has no ov_telemetry_get_api (not the telemetry library, or older than 1.0)");
            return;
        }
        const ov_telemetry_api_t* api = get_api(OV_TELEMETRY_ABI_VERSION);
        if (api == nullptr) {
            set_error(path.c_str(), " has no function table for ABI version 1");
            return;
        }
        // Every v1 function up to `version` is required; later ones are checked where used.
        if (api->abi_version != OV_TELEMETRY_ABI_VERSION || !OV_TELEMETRY_API_HAS(api, version)) {
            set_error(path.c_str(), " is too old or broken: its function table is shorter than ABI version 1");
            return;
        }
        api_ = api;
    }
    ~Library() { close(); }

    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;
    Library(Library&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)),
          api_(std::exchange(other.api_, nullptr)),
          error_(std::move(other.error_)) {}
    Library& operator=(Library&& other) noexcept {
        if (this != &other) {
            close();
            handle_ = std::exchange(other.handle_, nullptr);
            api_ = std::exchange(other.api_, nullptr);
            error_ = std::move(other.error_);
        }
        return *this;
    }

    /// True when the library is loaded and its table has every function of ABI version 1.
    [[nodiscard]] bool loaded() const noexcept { return api_ != nullptr; }
    /// Why the library is not usable ("" when loaded()).
    [[nodiscard]] const char* error() const noexcept { return error_.c_str(); }
    /// The function table (NULL unless loaded()). Check OV_TELEMETRY_API_HAS(api, field)
    /// before calling a function appended after `version`.
    [[nodiscard]] const ov_telemetry_api_t* api() const noexcept { return api_; }

    /// The loaded library's version ("" when not loaded).
    [[nodiscard]] const char* version() const noexcept { return api_ != nullptr ? api_->version() : ""; }
    /// The library's description of a status ("" when not loaded).
    [[nodiscard]] const char* to_string(Status status) const noexcept {
        return api_ != nullptr ? api_->status_message(static_cast<std::int32_t>(status)) : "";
    }
    /// The decision recorded in `config_dir` (default: $HOME/intel); Undecided when not loaded.
    [[nodiscard]] Consent consent(const StringArg& config_dir = {}) const noexcept {
        if (api_ == nullptr) {
            return Consent::Undecided;
        }
        return static_cast<Consent>(static_cast<std::int32_t>(api_->get_consent(config_dir.c_str())));
    }
    /// Records a decision as ov::telemetry::try_set_consent does; Status::Disabled (nothing
    /// written) when not loaded.
    [[nodiscard]] Status try_set_consent(const StringArg& config_dir, bool accepted) const noexcept {
        if (api_ == nullptr) {
            return Status::Disabled;
        }
        return ov::telemetry::detail::to_status(api_->set_consent(config_dir.c_str(), accepted));
    }

private:
    template <typename... Parts>
    void set_error(const Parts&... parts) noexcept {
#if OV_TELEMETRY_CXX_EXCEPTIONS
        try {
            error_.clear();
            (error_.append(parts), ...);
        } catch (...) {
            error_.clear();
        }
#else
        error_.clear();
        (error_.append(parts), ...);
#endif
    }

    void close() noexcept {
        api_ = nullptr;
        if (handle_ != nullptr) {
#if defined(_WIN32)
            ::FreeLibrary(static_cast<HMODULE>(handle_));
#else
            ::dlclose(handle_);
#endif
            handle_ = nullptr;
        }
    }

    void* handle_ = nullptr;
    const ov_telemetry_api_t* api_ = nullptr;
    std::string error_;
};

inline detail::TableBackend::TableBackend(const Library& lib) noexcept : api_(lib.api()) {
    if (api_ == nullptr) {
        reason_ = lib.error();
    }
}

/// Options and Telemetry over a loaded library: the classes of openvino_telemetry.hpp. Build
/// Options from the Library: `dl::Options(lib).app(…)`.
using Options = BasicOptions<detail::TableBackend>;
using Telemetry = BasicTelemetry<detail::TableBackend>;

}  // namespace ov::telemetry::dl

#endif  // OPENVINO_TELEMETRY_DL_HPP
