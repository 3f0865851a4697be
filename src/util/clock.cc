#include "util/clock.h"

#include <ctime>

namespace tf {

int64_t SystemClock::NowSeconds() const { return static_cast<int64_t>(std::time(nullptr)); }

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

}  // namespace tf
