// Small cryptographic helpers shared by every concern: digests, secure random bytes and handles, and constant-time
// comparison. All are thin wrappers over OpenSSL 3 (EVP_Digest, RAND_bytes, CRYPTO_memcmp). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace tf {

std::string Sha256(std::string_view data);   // 32 raw bytes
std::string Sha512(std::string_view data);   // 64 raw bytes

// How many digests this thread has computed so far: what tests compare to show that the work for a request does not
// depend on whether a client exists or how its secrets are stored.
struct DigestWork {
  unsigned long long sha256 = 0;
  unsigned long long sha512 = 0;
};
DigestWork ThreadDigestWork();

// Cryptographically secure random bytes (RAND_bytes, drawn ahead a few hundred bytes at a time per thread; a forked
// child draws its own). Aborts the process if the CSPRNG fails: issuing a token from a broken generator is worse
// than not answering.
std::string RandomBytes(size_t n);

// An opaque handle: `bytes` random bytes, base64url without padding, so only unreserved characters
// (A-Z a-z 0-9 - _). 32 bytes gives 256 bits and 43 characters.
//
//   handle = base64url( RAND_bytes(32) )   e.g. "q0vC1n...Zx4"  (43 chars)
std::string RandomHandle(size_t bytes = 32);

// HMAC-SHA-256 (RFC 2104) of `data` under `key`: 32 raw bytes (EVP_MAC "HMAC" with digest SHA256).
std::string HmacSha256(std::string_view key, std::string_view data);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace tf
