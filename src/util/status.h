// Status and Result<T>: how every fallible operation in tokenfcgi reports failure.
//
// A Status is either OK (cheap: no allocation) or a code plus a message meant for an operator's log or a tokenctl
// error line. Messages never contain secrets or tokens. Result<T> holds a T or a non-OK Status (g++ 12 has no
// std::expected). Both are plain values: thread-compatible, not synchronised.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace tf {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,          // the record or file does not exist
    kInvalidArgument,   // the caller's input is malformed (bad config value, bad JSON, bad PEM, ...)
    kAlreadyExists,
    kConflict,          // a precondition failed (e.g. a grant already consumed)
    kResourceExhausted, // LMDB map full, readers full, body too large
    kIOError,           // the OS or LMDB failed
    kCorruption,        // a stored record could not be decoded
    kInternal,          // a bug or a library failure that should not happen
    kUnavailable,       // a server the store needs cannot be reached or timed out (PostgreSQL): try again later
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
  static Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
  static Status ResourceExhausted(std::string m) { return Status(Code::kResourceExhausted, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  const std::string& message() const { return message_; }
  std::string ToString() const;  // "NotFound: client 'x'" or "OK"

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {      // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tf

// Early return on failure: TF_RETURN_IF_ERROR(store.Put(...));
#define TF_RETURN_IF_ERROR(expr)              \
  do {                                        \
    ::tf::Status tf_status_ = (expr);         \
    if (!tf_status_.ok()) return tf_status_;  \
  } while (0)
