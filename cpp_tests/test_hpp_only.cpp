// Compile-only test: the header-only C++ wrapper is self-contained C++17 under -Wall -Wextra
// -Wpedantic -Werror and survives double inclusion; its enums mirror the C values.
#include "openvino_telemetry.hpp"
#include "openvino_telemetry.hpp"

#include <type_traits>

namespace ovt = ov::telemetry;

static_assert(static_cast<std::int32_t>(ovt::Status::Ok) == OV_TELEMETRY_STATUS_OK, "Ok");
static_assert(static_cast<std::int32_t>(ovt::Status::Disabled) == OV_TELEMETRY_STATUS_DISABLED, "Disabled");
static_assert(static_cast<std::int32_t>(ovt::Status::QueueFull) == OV_TELEMETRY_STATUS_QUEUE_FULL, "QueueFull");
static_assert(static_cast<std::int32_t>(ovt::Status::Timeout) == OV_TELEMETRY_STATUS_TIMEOUT, "Timeout");
static_assert(static_cast<std::int32_t>(ovt::Status::InvalidArgument) == OV_TELEMETRY_STATUS_INVALID_ARGUMENT, "InvalidArgument");
static_assert(static_cast<std::int32_t>(ovt::Status::ShutDown) == OV_TELEMETRY_STATUS_SHUT_DOWN, "ShutDown");
static_assert(static_cast<std::int32_t>(ovt::Status::IoError) == OV_TELEMETRY_STATUS_IO_ERROR, "IoError");
static_assert(static_cast<std::int32_t>(ovt::Status::InternalError) == OV_TELEMETRY_STATUS_INTERNAL_ERROR, "InternalError");
static_assert(static_cast<std::int32_t>(ovt::Consent::Undecided) == OV_TELEMETRY_CONSENT_UNDECIDED, "Undecided");
static_assert(static_cast<std::int32_t>(ovt::Consent::Declined) == OV_TELEMETRY_CONSENT_DECLINED, "Declined");
static_assert(static_cast<std::int32_t>(ovt::Consent::Accepted) == OV_TELEMETRY_CONSENT_ACCEPTED, "Accepted");

static_assert(!std::is_copy_constructible<ovt::Telemetry>::value, "Telemetry is move-only");
static_assert(!std::is_copy_assignable<ovt::Telemetry>::value, "Telemetry is move-only");
static_assert(std::is_nothrow_move_constructible<ovt::Telemetry>::value, "noexcept move");
static_assert(std::is_nothrow_move_assignable<ovt::Telemetry>::value, "noexcept move");
static_assert(!std::is_copy_constructible<ovt::Options>::value, "Options is move-only");
static_assert(std::is_nothrow_move_constructible<ovt::Options>::value, "noexcept move");
static_assert(std::is_base_of<std::runtime_error, ovt::Error>::value, "Error is a runtime_error");
static_assert(ovt::Telemetry::kDestructorShutdownTimeout == std::chrono::seconds(1), "1 s bound");

// Sends are noexcept; the setters chain.
static_assert(noexcept(std::declval<ovt::Telemetry&>().event("c", "a", "l", 1)), "event noexcept");
static_assert(noexcept(std::declval<ovt::Telemetry&>().error("c", "m")), "error noexcept");
static_assert(noexcept(std::declval<ovt::Telemetry&>().stack_trace("c", "t")), "stack_trace noexcept");
static_assert(noexcept(std::declval<ovt::Telemetry&>().start_session("c")), "start_session noexcept");
static_assert(noexcept(std::declval<ovt::Telemetry&>().end_session("c")), "end_session noexcept");
static_assert(noexcept(std::declval<ovt::Telemetry&>().flush(std::declval<const std::chrono::milliseconds&>())), "flush noexcept");
static_assert(noexcept(std::declval<ovt::Telemetry&>().shutdown(std::declval<const std::chrono::milliseconds&>())), "shutdown noexcept");
static_assert(std::is_same<decltype(std::declval<ovt::Options&>().app("a", "1")), ovt::Options&>::value, "chainable");
