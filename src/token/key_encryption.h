// Private keys at rest: the signing keys' private PEM (store::KeyRecord::private_pem) and the session key (store meta
// "session_key") are sealed with a key-encryption key (KEK) before they reach the store, and opened after they are
// read, so a copy of the database (data.mdb, `tokenctl backup`) holds no usable private key without the KEK file.
// This happens above the store interface (admin/keys, admin/session, oauth/catalog), so every Store implementation
// stores the sealed values as the opaque strings they are.
//
// The KEK is 32 random bytes in a file only the service can read (`key_encryption_key_file`, mode 0400). Sealing is
// AES-256-GCM (OpenSSL 3 EVP) with a fresh random 96-bit nonce per call:
//
//   envelope = version (1 byte, 0x01) | nonce (12 bytes) | ciphertext (as long as the plaintext) | tag (16 bytes)
//   AAD      = version (1 byte) | "tokenfcgi-kek" | 0x00 | label
//
// The label names the record the value belongs to ("key/" kid, or "meta/session_key"), so a sealed value moved to
// another record (another kid) does not open. Opening fails, with one message that never includes key material, for
// a wrong KEK, a tampered or truncated envelope, an unknown version and a value moved to another label.
//
// Stored forms:
//   KeyRecord::private_pem  "-----BEGIN ..." (in clear), or kSealedPemPrefix + base64(envelope)
//   meta "session_key"      32 raw bytes (in clear), or the 61-byte envelope of them
//
// Thread-safety: a KeyEncryptionKey is immutable after construction; Seal and Open may be called from many threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/status.h"

namespace tf::token {

inline constexpr size_t kKeyEncryptionKeySize = 32;
inline constexpr unsigned char kEnvelopeVersion = 1;
inline constexpr size_t kEnvelopeNonceSize = 12;
inline constexpr size_t kEnvelopeTagSize = 16;
inline constexpr size_t kEnvelopeOverhead = 1 + kEnvelopeNonceSize + kEnvelopeTagSize;
inline constexpr std::string_view kSealedPemPrefix = "kek:";
inline constexpr size_t kSessionKeySize = 32;
inline constexpr std::string_view kSessionKeyLabel = "meta/session_key";

class KeyEncryptionKey {
 public:
  // InvalidArgument unless exactly 32 bytes.
  static Result<KeyEncryptionKey> FromBytes(std::string_view bytes);
  static KeyEncryptionKey Generate();  // 32 bytes from RAND_bytes

  KeyEncryptionKey(const KeyEncryptionKey& other) = default;
  KeyEncryptionKey& operator=(const KeyEncryptionKey& other) = default;
  ~KeyEncryptionKey();

  std::string Seal(std::string_view plaintext, std::string_view label) const;
  // Corruption (never naming key material) when the envelope does not open under this KEK and label.
  Result<std::string> Open(std::string_view envelope, std::string_view label) const;

  // The raw key, for writing the KEK file only.
  const std::string& bytes() const { return key_; }

 private:
  explicit KeyEncryptionKey(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

// Reads a KEK file: NotFound if it does not exist, IOError if it cannot be read, InvalidArgument if it is not exactly
// 32 bytes or other users may read or write it (mode & 0007). Messages name the path, never the content.
Result<KeyEncryptionKey> ReadKeyEncryptionKeyFile(const std::string& path);

// The label of a signing key's private PEM.
std::string SigningKeyLabel(std::string_view kid);

// KeyRecord::private_pem forms.
bool IsSealedPrivateKey(std::string_view stored);
std::string SealPrivateKey(const KeyEncryptionKey& kek, std::string_view kid, std::string_view pem);
// The PEM of a stored value: a clear PEM is returned as it is; a sealed one needs `kek` (InvalidArgument when it is
// null, Corruption when it does not open).
Result<std::string> OpenPrivateKey(const KeyEncryptionKey* kek, std::string_view kid, std::string_view stored);

// meta "session_key" forms.
bool IsSealedSessionKey(std::string_view stored);
std::string SealSessionKey(const KeyEncryptionKey& kek, std::string_view key);
// The 32-byte session key of a stored value (clear or sealed, as OpenPrivateKey); Corruption for any other size.
Result<std::string> OpenSessionKey(const KeyEncryptionKey* kek, std::string_view stored);

}  // namespace tf::token
