// Signing-key administration: the lifecycle behind `tokenctl key ...` and `tokenctl init`.
//
//   generate/import ──▶ current   (when the algorithm has no current key: it signs at once)
//                   └─▶ next      (otherwise: published in the JWKS, not yet signing)
//   rotate --alg A:     next ──▶ current,  old current ──▶ retired
//                       (retired keys stay in the JWKS, so tokens they signed still verify until they expire)
//   retire KID:         next | current ──▶ retired   (current only with force: A then has no key to sign with)
//   remove KID:         retired ──▶ gone (leaves the JWKS)
//
// Invariant kept here: at most one current and one next key per algorithm. Every change is decided and written in
// one store Update, so two tokenctl runs at once cannot break it. Keys are generated before the transaction (RSA
// generation takes a while and must not hold LMDB's single writer lock).
//
// Keys at rest: with a key-encryption key (`kek` not null) the private PEM is stored sealed (token/key_encryption.h);
// with none it is stored in clear. Returned KeyRecords carry the private PEM as stored; callers print only kid, alg,
// state and created. Thread-compatible.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "token/key_encryption.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::admin {

// A fresh key pair for `alg` whose kid (RFC 7638 thumbprint, base64url) does not begin with '-', so that a kid can
// always be typed as a command-line argument (about one key in 64 is drawn again).
Result<std::shared_ptr<const token::SigningKey>> GenerateSigningKey(token::Alg alg);

// A fresh key for `alg`: current if the algorithm has no current key, else next; Conflict ("rotate or retire it
// first") if it already has a next key.
Result<store::KeyRecord> GenerateKey(store::Store& store, token::Alg alg, const Clock& clock,
                                     const token::KeyEncryptionKey* kek);

// A PKCS#8 or traditional PEM private key, placed by the same rule as GenerateKey. InvalidArgument if the PEM does
// not hold a key suitable for `alg`; AlreadyExists if a key with the same kid is in the store.
Result<store::KeyRecord> ImportKeyPem(store::Store& store, token::Alg alg, std::string_view pem, const Clock& clock,
                                      const token::KeyEncryptionKey* kek);

// `tokenctl init`'s key: creates a current key for `alg` unless one exists. nullopt when nothing was created.
Result<std::optional<store::KeyRecord>> EnsureCurrentKey(store::Store& store, token::Alg alg, const Clock& clock,
                                                         const token::KeyEncryptionKey* kek);

// Ordered by created, then kid.
Result<std::vector<store::KeyRecord>> ListKeys(store::Store& store);

struct Rotation {
  store::KeyRecord current;                 // the former next key
  std::optional<store::KeyRecord> retired;  // the former current key, if there was one
};
// next -> current, current -> retired. Conflict if `alg` has no next key.
Result<Rotation> RotateKeys(store::Store& store, token::Alg alg);

// next or current -> retired. Retiring a current key needs `force`; Conflict otherwise, and for a key already retired.
Result<store::KeyRecord> RetireKey(store::Store& store, std::string_view kid, bool force);

// Deletes a retired key. Conflict for a current or next key; NotFound for an unknown kid.
Status RemoveKey(store::Store& store, std::string_view kid);

}  // namespace tf::admin
