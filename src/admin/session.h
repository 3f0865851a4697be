// Session-key administration: what `tokenctl session rotate-key` does.
//
// The session key (store meta "session_key", 32 random bytes; see store.h and oauth/session.h) signs every login
// session cookie and every CSRF token of the authorize endpoint's login form. Replacing it ends every login session
// at once and makes every login form that is open in a browser fail its CSRF check (the user reloads it); tokens
// already issued are not affected. The new key is written in one store Update, which moves the configuration
// generation, so every worker picks it up on its next request. The key itself is never returned or printed.
//
// Thread-compatible.
#pragma once

#include <cstdint>

#include "store/store.h"
#include "token/key_encryption.h"
#include "util/status.h"

namespace tf::admin {

struct SessionKeyRotation {
  uint64_t config_generation = 0;  // the configuration generation the new key belongs to
};

// Replaces the session key with 32 new random bytes, sealed with `kek` when it is not null (token/key_encryption.h).
Result<SessionKeyRotation> RotateSessionKey(store::Store& store, const token::KeyEncryptionKey* kek);

}  // namespace tf::admin
