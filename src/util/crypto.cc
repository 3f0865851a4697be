#include "util/crypto.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

namespace {

void RandBytesOrAbort(unsigned char* out, size_t n) {
  if (n > static_cast<size_t>(INT_MAX) || RAND_bytes(out, static_cast<int>(n)) != 1) {
    std::fputs("tokenfcgi: fatal: RAND_bytes failed; refusing to continue without a working CSPRNG\n", stderr);
    std::abort();
  }
}

// Counts the forks this process came out of (pthread_atfork, child side), so that a child never hands out bytes that
// its parent drew ahead too.
std::atomic<uint64_t> fork_epoch{0};

// This thread's random bytes, drawn from RAND_bytes kSize at a time. Each RAND_bytes call costs about as much as a
// small token's whole share of the DRBG: OpenSSL 3.0 takes a global write lock to find the RAND method and reads the
// process id for its fork check on every call, whatever the length; under client_credentials load the jti's call
// alone was 5% of a worker's CPU. Bytes are handed out once, in order, and wiped from the buffer as they are. A request
// for more than kSize / 4 bytes goes to RAND_bytes directly.
class ThreadRandom {
 public:
  ThreadRandom() {
    static const bool registered = [] {
      pthread_atfork(nullptr, nullptr, [] { fork_epoch.fetch_add(1, std::memory_order_relaxed); });
      return true;
    }();
    (void)registered;
  }
  ThreadRandom(const ThreadRandom&) = delete;
  ThreadRandom& operator=(const ThreadRandom&) = delete;
  ~ThreadRandom() { OPENSSL_cleanse(buffer_, sizeof buffer_); }

  void Fill(unsigned char* out, size_t n) {
    if (n > kSize / 4) {
      RandBytesOrAbort(out, n);
      return;
    }
    const uint64_t epoch = fork_epoch.load(std::memory_order_relaxed);
    if (kSize - used_ < n || epoch != epoch_) {
      RandBytesOrAbort(buffer_, kSize);
      used_ = 0;
      epoch_ = epoch;
    }
    std::memcpy(out, buffer_ + used_, n);
    OPENSSL_cleanse(buffer_ + used_, n);
    used_ += n;
  }

 private:
  static constexpr size_t kSize = 512;
  unsigned char buffer_[kSize];
  size_t used_ = kSize;  // nothing drawn yet
  uint64_t epoch_ = 0;
};

}  // namespace

std::string RandomBytes(size_t n) {
  thread_local ThreadRandom random;
  std::string out(n, '\0');
  random.Fill(reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

std::string RandomHandle(size_t bytes) { return Base64UrlEncode(RandomBytes(bytes)); }

namespace {

// This thread's HMAC-SHA-256 context: the HMAC implementation fetched once per process, and its digest set once per
// thread. Fetching both on every call (EVP_MAC_fetch, and the digest that EVP_MAC_init's parameters name) takes
// OpenSSL's global lookup locks twice per MAC, which the threads of a worker then queue for. EVP_MAC_init with a new
// key and no parameters restarts the context with the digest it has. Per thread, so no state is shared.
class ThreadHmac {
 public:
  ThreadHmac() {
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // never freed (one per process)
    ctx_ = mac != nullptr ? EVP_MAC_CTX_new(mac) : nullptr;
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (ctx_ != nullptr && EVP_MAC_CTX_set_params(ctx_, params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      ctx_ = nullptr;
    }
  }
  ~ThreadHmac() { EVP_MAC_CTX_free(ctx_); }
  ThreadHmac(const ThreadHmac&) = delete;
  ThreadHmac& operator=(const ThreadHmac&) = delete;

  // HMAC-SHA-256 of `data` under `key` into out[32]; false if the library failed.
  bool Mac(std::string_view key, std::string_view data, unsigned char* out) {
    if (ctx_ == nullptr) return false;
    // An empty key is legal HMAC (RFC 2104 pads it with zeros); give OpenSSL a valid pointer for it.
    static const unsigned char kEmpty[1] = {0};
    const unsigned char* key_bytes = key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
    size_t len = 0;
    return EVP_MAC_init(ctx_, key_bytes, key.size(), nullptr) == 1 &&
           EVP_MAC_update(ctx_, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
           EVP_MAC_final(ctx_, out, &len, 32) == 1 && len == 32;
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
};

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  thread_local ThreadHmac hmac;
  std::string out(32, '\0');
  if (!hmac.Mac(key, data, reinterpret_cast<unsigned char*>(out.data()))) {
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
