// Brute-force protection for the password grant (RFC 6749 §4.3.2): the lockout arithmetic on a User record, as pure
// functions. They follow ASP.NET Core Identity's UserManager/SignInManager, so users migrated from IdentityServer
// keep the behaviour they know:
//   - Every failed password check adds one to AccessFailedCount. When the count reaches max_failures the user is
//     locked: LockoutEnd = now + lockout_seconds and AccessFailedCount goes back to 0, so after the lockout ends the
//     user again has max_failures attempts. A count already above max_failures (the limit was lowered) locks at the
//     next failure.
//   - While locked (now < LockoutEnd) the password is not even checked: the grant fails as for a wrong password, and
//     RecordFailedLogin changes nothing, so failures during a lockout neither extend it nor count toward the next one.
//   - A successful sign-in resets AccessFailedCount to 0 and clears LockoutEnd. Failures are counted only when they
//     are consecutive.
//   - max_failures == 0 (or negative) disables counting. A lockout already recorded still runs out on its own
//     (`tokenctl user unlock` ends it at once).
// The state lives in the user's LMDB record. The password grant reads the user, checks, applies one of these
// functions and writes the record back inside one Store::Update, so failures from every worker process count toward
// the same lockout and none is lost (LMDB serialises writers across processes).
//
// Thread-safety: pure functions of their arguments; a User is a plain value.
#pragma once

#include <cstdint>

#include "store/records.h"

namespace tf::store {

// True while the user is locked out: LockoutEnd is set and later than `now` (Unix seconds).
bool IsLockedOut(const User& user, int64_t now);

// Counts one failed password check at `now` (see above). Does nothing when max_failures <= 0 or the user is locked
// out. lockout_seconds < 0 is taken as 0; now + lockout_seconds saturates at 2^53 - 1 (the latest time a stored
// record holds exactly) instead of overflowing.
void RecordFailedLogin(User* user, int64_t now, int max_failures, int64_t lockout_seconds);

// A successful sign-in: AccessFailedCount = 0 and LockoutEnd cleared.
void RecordSuccessfulLogin(User* user);

}  // namespace tf::store
