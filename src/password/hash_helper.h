// Password checks away from the requests: a login's Argon2id work runs in a helper process of the worker's, started
// as `tokenfcgi --hash-helper N`, in a session of its own at nice 19 and, where the kernel groups processes by
// session for scheduling (autogroup, the default on Debian when no cgroup CPU controller is in use), in a scheduling
// group of nice 19. Nice 19 alone orders threads only within one scheduling group: a hashing thread inside the
// worker keeps the worker's group runnable, and that group then takes a full share of the CPU beside nginx's, so
// a flood of passwords still delayed cheap requests by tens of milliseconds (docs/benchmark.md). In a group of its
// own at nice 19, the hashing takes only the CPU that nothing else wants.
//
// The worker talks to the helper over N SOCK_SEQPACKET socket pairs (fds 3 .. 3+N-1 in the helper), one check at a
// time per pair, N = password_hash_concurrency's limit; PasswordCheckSlots already bounds the checks in flight, so a
// check never waits for a pair. The helper says "ready" on the first pair once it has its session and priority, and
// no check is sent to it before. It exits when the worker closes the pairs or dies (PR_SET_PDEATHSIG). A supervisor
// thread in the worker starts it, reaps it, and starts it again when it dies (after 1 s, doubling up to 60 s while
// it keeps dying young); while none runs, checks run on the worker's own hashing threads (RunAtBackgroundPriority),
// and every start, death and failed start is logged. tokenctl, --check-config, CGI and the unit tests that do not
// start it hash on their own threads.
#pragma once

#include <string>

#include "password/password_hash.h"
#include "util/status.h"

namespace tf {

// One login's password check.
struct PasswordCheckJob {
  bool user_found = false;    // false: no such user (or no hash): a dummy verification of the same cost
  std::string stored;         // the user's stored hash
  std::string password;
  Argon2Params params;        // the configured cost
  bool rehash_if_needed = false;  // on a match below `params`, make the upgraded hash
};

struct PasswordCheckResult {
  PasswordCheck check;
  std::string upgraded_hash;  // made when asked and needed; "" otherwise or when it failed
  std::string rehash_error;   // why the upgraded hash could not be made ("" = no failure)
};

// The check, on this thread (what the helper and the fallback run).
PasswordCheckResult RunPasswordCheck(const PasswordCheckJob& job);

// The check in the helper when it runs, else on RunAtBackgroundPriority's threads; either way the hashing work
// counts in this thread's ThreadHashWork (as argon2_background_calls too).
PasswordCheckResult CheckPasswordInBackground(const PasswordCheckJob& job);

// Starts the supervisor, which starts the helper from `exe` (the worker's own binary) with `channels` socket pairs,
// and waits for that first start; call once, before the worker serves. An error (already logged) means checks run
// on the worker's threads until a later start succeeds.
Status StartHashHelper(const std::string& exe, unsigned channels);

// The helper's pid while it serves, 0 otherwise (for tests and the start-up log line).
long HashHelperPid();

// `tokenfcgi --hash-helper N`: serves the pairs on fds 3 .. 3+N-1 until the worker closes them; returns the exit
// status.
int HashHelperMain(unsigned channels);

}  // namespace tf
