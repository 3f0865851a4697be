// The lockout arithmetic (see lockout.h for the rules and why they are ASP.NET Core Identity's).
#include "store/lockout.h"

#include <limits>

namespace tf::store {

bool IsLockedOut(const User& user, int64_t now) { return user.lockout_end.has_value() && *user.lockout_end > now; }

void RecordFailedLogin(User* user, int64_t now, int max_failures, int64_t lockout_seconds) {
  if (max_failures <= 0 || IsLockedOut(*user, now)) return;
  if (user->access_failed_count < std::numeric_limits<int64_t>::max()) ++user->access_failed_count;
  if (user->access_failed_count < max_failures) return;
  if (lockout_seconds < 0) lockout_seconds = 0;
  // Saturate at 2^53 - 1, the largest time a stored record can hold exactly (JSON numbers are doubles).
  constexpr int64_t kLatest = 9007199254740991;
  int64_t end = 0;
  if (__builtin_add_overflow(now, lockout_seconds, &end) || end > kLatest) end = kLatest;
  user->lockout_end = end;
  user->access_failed_count = 0;
}

void RecordSuccessfulLogin(User* user) {
  user->access_failed_count = 0;
  user->lockout_end.reset();
}

}  // namespace tf::store
