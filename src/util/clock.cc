#include "util/clock.h"

#include <time.h>

namespace tf {

// clock_gettime(CLOCK_REALTIME), not time(): glibc's time() reads the coarse clock, which can lag the real one by a
// scheduler tick (up to 4 ms), so just after a second boundary the worker would still see the previous second while
// the client, and every other process that asks the precise clock, already sees the next. Expiry decisions made at
// a boundary would then disagree with the clocks of the callers.
int64_t SystemClock::NowSeconds() const {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

SystemClock* SystemClock::Default() {
  static SystemClock clock;
  return &clock;
}

}  // namespace tf
