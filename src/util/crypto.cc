#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
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

}  // namespace

std::string Sha256(std::string_view data) { return Digest(EVP_sha256(), 32, data); }

std::string Sha512(std::string_view data) { return Digest(EVP_sha512(), 64, data); }

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

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // With different lengths, still run a comparison of a's length (against itself) so the time depends on the
  // lengths only, then report false.
  const bool same_length = a.size() == b.size();
  const std::string_view other = same_length ? b : a;
  const int diff = CRYPTO_memcmp(a.data(), other.data(), a.size());
  return same_length & (diff == 0);
}

}  // namespace tf
