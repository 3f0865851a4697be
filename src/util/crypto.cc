#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "util/base64.h"

namespace tf {
namespace {

std::string Digest(const EVP_MD* md, size_t size, std::string_view data) {
  std::string out(size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len, md, nullptr) != 1 ||
      len != size) {
    // A digest over memory cannot fail short of a broken library; refusing to continue is safer than an empty hash.
    std::fputs("tokenfcgi: fatal: EVP_Digest failed\n", stderr);
    std::abort();
  }
  return out;
}

// The digest implementation, fetched once per process: EVP_Digest with EVP_sha256() would look the provider's
// implementation up again on every call (OpenSSL 3's implicit fetch). A fetched EVP_MD is immutable and may be shared
// by threads; function-local statics are initialised once, thread-safely. Never freed (one per process).
const EVP_MD* FetchedMd(const char* name, const EVP_MD* fallback) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : fallback;
}

thread_local DigestWork thread_digests;

}  // namespace

std::string Sha256(std::string_view data) {
  static const EVP_MD* const md = FetchedMd("SHA256", EVP_sha256());
  ++thread_digests.sha256;
  return Digest(md, 32, data);
}

std::string Sha512(std::string_view data) {
  static const EVP_MD* const md = FetchedMd("SHA512", EVP_sha512());
  ++thread_digests.sha512;
  return Digest(md, 64, data);
}

DigestWork ThreadDigestWork() { return thread_digests; }

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (n > static_cast<size_t>(INT_MAX) ||
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::fputs("tokenfcgi: fatal: RAND_bytes failed; refusing to continue without a working CSPRNG\n", stderr);
    std::abort();
  }
  return out;
}

std::string RandomHandle(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  // The EVP_MAC object is fetched once per call: EVP_MAC_fetch is cached by the library, and a per-call context keeps
  // this free of shared mutable state (thread-safe without locks).
  std::string out(32, '\0');
  size_t len = 0;
  bool ok = false;
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
  if (ctx != nullptr) {
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    // An empty key is legal HMAC (RFC 2104 pads it with zeros); give OpenSSL a valid pointer for it.
    static const unsigned char kEmpty[1] = {0};
    const unsigned char* key_bytes =
        key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
    ok = EVP_MAC_init(ctx, key_bytes, key.size(), params) == 1 &&
         EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
         EVP_MAC_final(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) == 1 && len == 32;
  }
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  if (!ok) {
    // Like Digest: a MAC over memory cannot fail short of a broken library; an empty or partial MAC would be a
    // forgeable signature.
    std::fputs("tokenfcgi: fatal: HMAC-SHA-256 failed\n", stderr);
    std::abort();
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // With different lengths, still run a comparison of a's length (against itself) so the time depends on the
  // lengths only, then report false.
  const bool same_length = a.size() == b.size();
  const std::string_view other = same_length ? b : a;
  const int diff = CRYPTO_memcmp(a.data(), other.data(), a.size());
  return same_length & (diff == 0);
}

}  // namespace tf
