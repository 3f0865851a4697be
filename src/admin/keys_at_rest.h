// Keys at rest: the key-encryption key file (key_encryption_key_file) and what `tokenctl init`, `tokenctl key
// encrypt` and `tokenctl kek rotate` do with it. The sealing itself is token/key_encryption.h.
//
//   init          creates the KEK file when it is configured and missing (never when the database already holds
//                 sealed keys: those need the KEK they were sealed with), and seals the keys of a database it creates
//   key encrypt   seals every key stored in clear (signing keys and the session key), in one write transaction
//   kek rotate    writes a new KEK to FILE.new, re-seals every key with it in one write transaction, then renames
//                 FILE.new over FILE; workers hold the KEK they read at start, so they are restarted afterwards
//
// The KEK file is 32 random bytes, mode 0400; when tokenctl runs as root and the database directory belongs to
// another user (the service user), the file is given to that user and group, as admin/database_owner.h does for the
// database files. Nothing here prints or logs key material. Thread-compatible; meant for the tokenctl process.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "config/config.h"
#include "store/store.h"
#include "token/key_encryption.h"
#include "util/status.h"

namespace tf::admin {

// The configured key-encryption key: nullopt when key_encryption_key_file is empty, else the file's key or its error
// (token::ReadKeyEncryptionKeyFile).
Result<std::optional<token::KeyEncryptionKey>> LoadKeyEncryptionKey(const Config& config);

// Writes a new random key to `path` (which must not exist: AlreadyExists), mode 0400, given to the owner of
// `database_dir` as described above. The file is complete (written and synced) before this returns OK.
Status WriteKeyEncryptionKeyFile(const std::string& path, const token::KeyEncryptionKey& kek,
                                 const std::string& database_dir);

struct SealReport {
  size_t keys = 0;           // signing keys sealed (key encrypt) or re-sealed (kek rotate)
  bool session_key = false;  // the session key too
};

// True when a stored signing key or the session key is sealed.
Result<bool> HoldsSealedKeys(store::Store& store);

// Seals every signing key and the session key stored in clear, in one write transaction; keys already sealed are
// checked to open with `kek` first (InvalidArgument naming the kid otherwise, and nothing is written). Running it
// again seals nothing. The session key keeps its value, so login sessions survive; the configuration generation
// moves, so workers reload.
Result<SealReport> SealKeysInClear(store::Store& store, const token::KeyEncryptionKey& kek);

// Re-seals every key (and seals those in clear) with a new KEK, as described above. `old_kek` opens the sealed keys
// (InvalidArgument naming the first that does not open, before anything is written). Leaves `path` with the new KEK
// and returns what was re-sealed; on an error before the transaction committed, `path` keeps the old KEK and
// FILE.new is removed.
Result<SealReport> RotateKeyEncryptionKey(store::Store& store, const std::string& path,
                                          const token::KeyEncryptionKey& old_kek, const std::string& database_dir);

}  // namespace tf::admin
