// Password hashing for resource owners: Argon2id (RFC 9106, Debian's libargon2) for every hash we write, and
// verification that also accepts hashes imported from ASP.NET Core Identity's PasswordHasher (v2 and v3, PBKDF2 via
// OpenSSL) so users migrating from IdentityServer keep their passwords; such a hash reports needs_rehash on a match
// and the caller stores a fresh Argon2id hash in its place.
//
// Every function is a pure function of its arguments and thread-safe. The only state is the lazily computed dummy
// hash behind VerifyDummyPassword (one per distinct Argon2Params, computed once per process, guarded by a mutex),
// PasswordCheckSlots (one per process) and the per-thread work counters of ThreadHashWork.
// RunAtBackgroundPriority's hashing threads (one pool per process, kept).
// Nothing here logs but one warning when the hashing threads cannot lower their priority, and no password, salt or
// hash ever appears in a returned message. The worker's hashing helper process is password/hash_helper.h.
//
// Stored forms accepted by VerifyPassword:
//
//   PHC string (what HashPassword writes):
//     $argon2id$v=19$m=<memory KiB>,t=<iterations>,p=<parallelism>$<salt, base64 no pad>$<tag, base64 no pad>
//     e.g. $argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3q2+7w...  (16-byte salt, 32-byte tag)
//
//   ASP.NET Core Identity PasswordHasher, base64 (with padding) of:
//     v2: 0x00 | salt (16) | subkey (32)                         PBKDF2-HMAC-SHA1, 1000 iterations
//     v3: 0x01 | prf (u32 BE: 0 SHA1, 1 SHA256, 2 SHA512) | iterations (u32 BE) | salt length (u32 BE)
//              | salt | subkey (the rest)                       PBKDF2-HMAC-<prf>
//
// Work is bounded even for a hostile stored value: Argon2id m <= kArgon2MaxMemoryKib, t <= kArgon2MaxIterations,
// p <= kArgon2MaxParallelism; PBKDF2 iterations <= kPbkdf2MaxIterations, salt 16..256 bytes, subkey 16..64 bytes;
// stored values longer than kMaxStoredHashLength and passwords longer than kMaxPasswordLength never match. Anything
// malformed is {match = false, needs_rehash = false}: never an exception, never a crash.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace tf {

// Input length limit of a password, as IdentityServer's InputLengthRestrictions.Password: the password grant and the
// login form reject longer values with invalid_request before any hashing. HashPassword refuses a longer password
// too, so no user can be given a password that could never be used to log in. (The username's is
// store::kMaxUsernameLength.)
constexpr size_t kMaxPasswordLength = 100;  // bytes (UTF-8)

// Bounds on Argon2id parameters, for HashPassword's params and for any stored PHC string (the config keys
// password_hash_* have the same ranges). Argon2 also needs memory_kib >= 8 x parallelism.
constexpr uint32_t kArgon2MinMemoryKib = 8;
constexpr uint32_t kArgon2MaxMemoryKib = 4u * 1024 * 1024;  // 4 GiB
constexpr uint32_t kArgon2MaxIterations = 100;
constexpr uint32_t kArgon2MaxParallelism = 64;

// Bounds on imported ASP.NET Core Identity v3 hashes.
constexpr uint32_t kPbkdf2MaxIterations = 10'000'000;
constexpr size_t kMaxStoredHashLength = 1024;  // characters of a stored hash string, either form

// Argon2id cost parameters. The defaults are OWASP's current minimum recommendation (Password Storage Cheat Sheet,
// https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html: "Use Argon2id with a minimum
// configuration of 19 MiB of memory, an iteration count of 2, and 1 degree of parallelism"), i.e. m=19456, t=2, p=1.
// The salt is always 16 random bytes and the tag 32 bytes.
struct Argon2Params {
  uint32_t memory_kib = 19456;  // m: memory in KiB
  uint32_t iterations = 2;      // t: passes over memory
  uint32_t parallelism = 1;     // p: lanes (and threads)

  bool operator==(const Argon2Params&) const = default;
};

// The configuration's password_hash_memory_kib, password_hash_iterations and password_hash_parallelism.
Argon2Params Argon2ParamsFromConfig(const Config& config);

// Argon2id over `password` with a fresh 16-byte salt from RandomBytes, 32-byte tag, as a PHC string (above).
// InvalidArgument when the password is empty or longer than kMaxPasswordLength, or the params are out of bounds;
// Internal if libargon2 fails.
Result<std::string> HashPassword(std::string_view password, const Argon2Params& params);

struct PasswordCheck {
  bool match = false;
  // Only meaningful when match: the stored hash should be replaced by HashPassword(password, current). True for
  // every ASP.NET Core Identity hash, and for a PHC string whose m, t or p differ from `current` or whose salt is
  // not 16 or tag not 32 bytes.
  bool needs_rehash = false;
};

// Checks `password` against a stored hash in either accepted form; comparisons are constant-time.
PasswordCheck VerifyPassword(std::string_view stored, std::string_view password, const Argon2Params& current);

// VerifyPassword for a login: when the stored hash costs less Argon2id work than `current` (a smaller m x t, or not
// an Argon2id hash at all: ASP.NET Core Identity, malformed), the difference is spent on further Argon2id work over a
// throw-away salt, so that a login does at least the Argon2id work of `current`, which is what VerifyDummyPassword
// does for an unknown user. Raising the configured cost therefore does not make existing users (still holding
// cheaper hashes until their next login) answer faster than unknown ones. A stored hash dearer than `current` is
// verified at its own cost (lowering the cost is visible until such users log in again).
PasswordCheck VerifyPasswordAtLeastAt(std::string_view stored, std::string_view password,
                                      const Argon2Params& current);

// The bound on password checks (Argon2id work) running at once in this process, shared by every thread: a counting
// semaphore, so that a flood of password requests cannot take every CPU from cheap requests. The limit is passed on
// each Enter (it comes from the configuration); a waiter is woken by Leave or gives up after `wait`.
class PasswordCheckSlots {
 public:
  static PasswordCheckSlots& Process();

  // True once fewer than `limit` checks are inside (the caller must Leave); false after `wait` without a slot.
  bool Enter(unsigned limit, std::chrono::milliseconds wait);
  void Leave();

 private:
  std::mutex mu_;
  std::condition_variable freed_;
  unsigned inside_ = 0;  // guarded by mu_
};

// The configured password_hash_concurrency as a limit: 0 = half the CPUs this process may use, at least 1.
unsigned PasswordCheckConcurrency(unsigned configured);

// Runs `work` on a hashing thread at the lowest CPU priority an unprivileged process can set (nice 19) and waits for
// it, so that while a password is hashed every other thread of the host (signatures, nginx) takes the CPU first: a
// flood of password requests then slows password requests, not the cheap ones beside them. On a host whose CPUs are
// saturated by other work the hashing waits for it. The hashing threads are started as needed (one per call running
// at once) and kept, each with the Argon2 memory of its largest computation, so that a check allocates and maps
// nothing. The hashing work `work` does counts in this thread's ThreadHashWork, as if it had run here. If no thread
// can be started and none is idle, `work` runs here, at this thread's priority.
void RunAtBackgroundPriority(const std::function<void()>& work);

// The hashing work this thread has done so far: what tests compare to show that the work for a request does not
// depend on whether a user exists. Argon2id work is counted in KiB-passes (m x t of each computation, whatever p).
struct HashWork {
  uint64_t argon2_calls = 0;
  uint64_t argon2_background_calls = 0;  // those of argon2_calls made inside RunAtBackgroundPriority
  uint64_t argon2_kib_passes = 0;
  uint64_t pbkdf2_iterations = 0;
};
HashWork ThreadHashWork();
// Adds work done elsewhere (the hashing helper process) on this thread's behalf to its ThreadHashWork.
void CountHashWork(const HashWork& done);

// For an unknown user: spends about as long as VerifyPassword on an Argon2id hash made with `params`, so the answer
// time does not reveal whether the user exists. Verifies against a hash of a random password computed once per
// process per distinct params (lazily; the first call spends that time computing it instead).
void VerifyDummyPassword(std::string_view password, const Argon2Params& params);

}  // namespace tf
