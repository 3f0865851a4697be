// The clock, behind an interface so tests can move time (expiry, lockout, sliding lifetimes). Thread-safe.
#pragma once

#include <cstdint>

namespace tf {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowSeconds() const = 0;  // Unix time, seconds
};

class SystemClock final : public Clock {
 public:
  int64_t NowSeconds() const override;
  static SystemClock* Default();
};

// For tests: time stands still until Set/Advance.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now) : now_(now) {}
  int64_t NowSeconds() const override { return now_; }
  void Set(int64_t now) { now_ = now; }
  void Advance(int64_t seconds) { now_ += seconds; }

 private:
  int64_t now_;
};

}  // namespace tf
