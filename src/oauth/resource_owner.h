// Checking a resource owner's username and password against the LMDB user store (the "local" login provider), with
// the brute-force protection of RFC 6749 §4.3.2 (store/lockout.h). IdentityServer calls this step the resource owner
// password validator.
//
// ValidateResourceOwnerPassword(store, config, clock, tenant, username, password):
//   1. one store Read(): the user by (tenant, username) through the usernames index (ASCII case-insensitive name);
//   2. OUTSIDE any transaction (Argon2id is slow on purpose; holding LMDB's single writer lock while hashing would
//      serialise every login of every worker): VerifyPasswordAtLeastAt against the stored hash (a hash cheaper than
//      the configured cost is topped up to it), or VerifyDummyPassword at the configured cost when the user is
//      unknown or has no password, so the Argon2id work is the same either way; the hashing runs in the worker's hashing
//      helper process at the lowest CPU priority (CheckPasswordInBackground, password/hash_helper.h), so that a flood
//      of logins yields the CPU to every cheaper request. The
//      password is checked even for a locked-out or disabled user (and the result ignored), for the same reason. A
//      matching password whose hash needs upgrading (ASP.NET Core Identity, other Argon2 parameters) is rehashed here
//      too;
//   3. for a known user, ONE store Update(): re-read the user by SubjectId and decide on that fresh record:
//        locked out (now < LockoutEnd)  -> invalid; nothing changes (failures while locked do not extend the lockout)
//        password did not match        -> invalid; RecordFailedLogin (at lockout_max_failures the user is locked for
//                                          lockout_seconds and the count restarts), written back
//        disabled (IsActive false)     -> invalid; nothing changes
//        otherwise                     -> valid; RecordSuccessfulLogin, the upgraded hash stored, written back only
//                                          when something changed
//      Because the read-decide-write is one LMDB write transaction, concurrent failures from any number of worker
//      processes all count; none is lost. If the user was removed, or their password, username or tenant changed,
//      between step 1 and step 3, the check is stale: invalid, and nothing is counted.
// Unknown user, no password, wrong password, locked out, disabled: all the same nullopt; the caller must answer them
// identically. Errors: ResourceExhausted when step 2 found every password check slot of this process busy for
// password_hash_wait_ms (password_hash.h's PasswordCheckSlots; the caller answers 503 with Retry-After), or a store
// failure.
//
// Thread-safety: safe from many threads (the store is thread-safe; everything else is on the stack).
#pragma once

#include <optional>
#include <string_view>

#include "config/config.h"
#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

// The message of the ResourceExhausted status that says every password check slot stayed busy; PasswordChecksBusy
// tells it from a full store (also ResourceExhausted, answered by StoreFailureResponse).
inline constexpr std::string_view kPasswordChecksBusy = "too many password checks at once";
bool PasswordChecksBusy(const Status& status);

// The user (as stored after this login) when the credentials are valid; nullopt when they are not.
Result<std::optional<store::User>> ValidateResourceOwnerPassword(store::Store& store, const Config& config,
                                                                 int64_t now, std::string_view tenant,
                                                                 std::string_view username,
                                                                 std::string_view password);

}  // namespace tf::oauth
