// Errors as values. A Status is either OK or carries a code and a
// "context: cause" message. Result<T> is a value or a non-OK Status.
// Thread-safety: plain values; copy freely.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mailstack {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,  // bad config or bad input
    kNotFound,         // missing file, socket, unit
    kPermissionDenied,
    kDeadlineExceeded,  // the run's deadline passed
    kUnavailable,       // peer refused, closed, stopped
    kInternal,          // a bug (e.g. an exception escaped a collector)
    kIOError,           // any other OS error
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status DeadlineExceeded(std::string msg) { return {Code::kDeadlineExceeded, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  // Converts an errno into a Status in one place: "context: strerror(err)".
  static Status FromErrno(std::string_view context, int err);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "context: " + message, keeping the code. Used where an error passes a layer.
  Status WithContext(std::string_view context) const;
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                                              // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok()
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  const T* operator->() const { return &value(); }
  // OK when ok().
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

namespace status_internal {
inline Status AsStatus(Status s) { return s; }
template <typename T>
Status AsStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace status_internal

}  // namespace mailstack

#define MS_STATUS_CONCAT_INNER(a, b) a##b
#define MS_STATUS_CONCAT(a, b) MS_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` (a Status or a Result) from the enclosing
// function if it is not OK.
#define MS_RETURN_IF_ERROR(expr)                                                                           \
  do {                                                                                                     \
    if (::mailstack::Status ms_status_ = ::mailstack::status_internal::AsStatus(expr); !ms_status_.ok()) { \
      return ms_status_;                                                                                   \
    }                                                                                                      \
  } while (0)

// `lhs = value of expr` (a Result), or returns its Status. `lhs` may declare
// a variable: MS_ASSIGN_OR_RETURN(auto name, item["name"].AsString());
#define MS_ASSIGN_OR_RETURN(lhs, expr) MS_ASSIGN_OR_RETURN_IMPL(MS_STATUS_CONCAT(ms_result_, __LINE__), lhs, expr)
#define MS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
