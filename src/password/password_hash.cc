// Argon2id hashing in the PHC string format, and verification of our own PHC strings and of ASP.NET Core Identity
// PasswordHasher hashes. See password_hash.h for the formats and bounds.
//
// A stored PHC string is parsed here, strictly, rather than handed to libargon2's decoder: the parser enforces the
// bounds on m, t, p and on the salt and tag lengths before any memory is allocated, accepts only version 19 and the
// canonical "m=,t=,p=" order, and then the tag is recomputed with argon2id_hash_raw and compared in constant time.
#include "password/password_hash.h"

#include <argon2.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <mutex>
#include <system_error>
#include <optional>
#include <thread>
#include <tuple>

#include "util/base64.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf {
namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kTagBytes = 32;

// Bounds on what a stored PHC string may ask for (HashPassword always writes 16 and 32).
constexpr size_t kPhcMinSaltBytes = 8;   // libargon2's ARGON2_MIN_SALT_LENGTH
constexpr size_t kPhcMaxSaltBytes = 64;
constexpr size_t kPhcMinTagBytes = 16;
constexpr size_t kPhcMaxTagBytes = 64;

// ASP.NET Core Identity PasswordHasher (src/Identity/Extensions.Core/src/PasswordHasher.cs).
constexpr uint8_t kIdentityV2Marker = 0x00;
constexpr uint8_t kIdentityV3Marker = 0x01;
constexpr size_t kIdentityV2SaltBytes = 16;
constexpr size_t kIdentityV2SubkeyBytes = 32;
constexpr int kIdentityV2Iterations = 1000;
constexpr size_t kIdentityV3HeaderBytes = 13;  // marker + prf + iterations + salt length
constexpr size_t kIdentityV3MinSaltBytes = 16;  // Identity itself refuses less than 128 bits
constexpr size_t kIdentityV3MaxSaltBytes = 256;
constexpr size_t kIdentityV3MinSubkeyBytes = 16;  // Identity itself refuses less than 128 bits
constexpr size_t kIdentityV3MaxSubkeyBytes = 64;  // one SHA-512 block of PBKDF2 output; more only multiplies work

constexpr std::string_view kPhcPrefix = "$argon2id$v=19$";

bool ParamsInBounds(uint32_t m, uint32_t t, uint32_t p) {
  return m >= kArgon2MinMemoryKib && m <= kArgon2MaxMemoryKib && t >= 1 && t <= kArgon2MaxIterations && p >= 1 &&
         p <= kArgon2MaxParallelism && static_cast<uint64_t>(m) >= 8ull * p;
}

thread_local HashWork thread_work;
thread_local bool in_background = false;  // this thread runs RunAtBackgroundPriority's work

// A hashing thread's Argon2 memory, kept from one computation to the next (libargon2 wipes it after each): no
// allocation, page fault or unmapping per password check, which would take the process's memory map lock at the
// lowest priority, where every thread that needs that lock then waits for it.
thread_local std::unique_ptr<uint8_t[]> kept_memory;
thread_local size_t kept_memory_bytes = 0;

int AllocateKeptMemory(uint8_t** memory, size_t bytes) {
  if (bytes > kept_memory_bytes) {
    kept_memory.reset();
    kept_memory_bytes = 0;
    kept_memory.reset(new (std::nothrow) uint8_t[bytes]());  // zeroed: every page is touched now, not per check
    if (!kept_memory) return ARGON2_MEMORY_ALLOCATION_ERROR;
    kept_memory_bytes = bytes;
  }
  *memory = kept_memory.get();
  return ARGON2_OK;
}

void KeepMemory(uint8_t*, size_t) {}

// Argon2id raw tag, or nullopt if libargon2 refuses the inputs.
std::optional<std::string> Argon2idRaw(std::string_view password, std::string_view salt, uint32_t m, uint32_t t,
                                       uint32_t p, size_t tag_bytes) {
  ++thread_work.argon2_calls;
  if (in_background) ++thread_work.argon2_background_calls;
  thread_work.argon2_kib_passes += static_cast<uint64_t>(m) * t;
  std::string tag(tag_bytes, '\0');
  int rc = ARGON2_OK;
  if (in_background) {
    // argon2id_hash_raw's computation, with the thread's kept memory; libargon2 neither writes to the password nor
    // keeps any pointer after the call (ARGON2_DEFAULT_FLAGS).
    argon2_context ctx{};
    ctx.out = reinterpret_cast<uint8_t*>(tag.data());
    ctx.outlen = static_cast<uint32_t>(tag.size());
    ctx.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(password.data()));
    ctx.pwdlen = static_cast<uint32_t>(password.size());
    ctx.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(salt.data()));
    ctx.saltlen = static_cast<uint32_t>(salt.size());
    ctx.t_cost = t;
    ctx.m_cost = m;
    ctx.lanes = p;
    ctx.threads = p;
    ctx.version = ARGON2_VERSION_NUMBER;
    ctx.allocate_cbk = AllocateKeptMemory;
    ctx.free_cbk = KeepMemory;
    ctx.flags = ARGON2_DEFAULT_FLAGS;
    rc = argon2_ctx(&ctx, Argon2_id);
  } else {
    rc = argon2id_hash_raw(t, m, p, password.data(), password.size(), salt.data(), salt.size(), tag.data(),
                           tag.size());
  }
  if (rc != ARGON2_OK) return std::nullopt;
  return tag;
}

// Base64 (standard alphabet) without padding, as PHC strings use it; strict (no '=', no stray bits).
std::optional<std::string> DecodeBase64NoPad(std::string_view text) {
  if (text.empty() || text.find('=') != std::string_view::npos) return std::nullopt;
  std::string padded(text);
  switch (padded.size() % 4) {
    case 0: break;
    case 2: padded += "=="; break;
    case 3: padded += "="; break;
    default: return std::nullopt;
  }
  return Base64Decode(padded);
}

std::string EncodeBase64NoPad(std::string_view bytes) {
  std::string s = Base64Encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

// Decimal uint32 without sign or leading zeros. Consumes digits from the front of *s.
bool ConsumeU32(std::string_view* s, uint32_t* out) {
  size_t n = 0;
  uint64_t v = 0;
  while (n < s->size() && (*s)[n] >= '0' && (*s)[n] <= '9') {
    v = v * 10 + static_cast<uint64_t>((*s)[n] - '0');
    if (v > UINT32_MAX) return false;
    ++n;
  }
  if (n == 0 || (n > 1 && (*s)[0] == '0')) return false;
  s->remove_prefix(n);
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ConsumeLiteral(std::string_view* s, std::string_view lit) {
  if (s->substr(0, lit.size()) != lit) return false;
  s->remove_prefix(lit.size());
  return true;
}

struct PhcHash {
  uint32_t m = 0, t = 0, p = 0;
  std::string salt;
  std::string tag;
};

std::optional<PhcHash> ParsePhc(std::string_view s) {
  PhcHash h;
  if (!ConsumeLiteral(&s, kPhcPrefix) || !ConsumeLiteral(&s, "m=") || !ConsumeU32(&s, &h.m) ||
      !ConsumeLiteral(&s, ",t=") || !ConsumeU32(&s, &h.t) || !ConsumeLiteral(&s, ",p=") || !ConsumeU32(&s, &h.p) ||
      !ConsumeLiteral(&s, "$")) {
    return std::nullopt;
  }
  if (!ParamsInBounds(h.m, h.t, h.p)) return std::nullopt;
  size_t dollar = s.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  std::optional<std::string> salt = DecodeBase64NoPad(s.substr(0, dollar));
  std::optional<std::string> tag = DecodeBase64NoPad(s.substr(dollar + 1));  // a further '$' fails the alphabet
  if (!salt || !tag) return std::nullopt;
  if (salt->size() < kPhcMinSaltBytes || salt->size() > kPhcMaxSaltBytes) return std::nullopt;
  if (tag->size() < kPhcMinTagBytes || tag->size() > kPhcMaxTagBytes) return std::nullopt;
  h.salt = std::move(*salt);
  h.tag = std::move(*tag);
  return h;
}

PasswordCheck VerifyPhc(std::string_view stored, std::string_view password, const Argon2Params& current) {
  std::optional<PhcHash> h = ParsePhc(stored);
  if (!h) return {};
  std::optional<std::string> tag = Argon2idRaw(password, h->salt, h->m, h->t, h->p, h->tag.size());
  if (!tag || !ConstantTimeEquals(*tag, h->tag)) return {};
  bool stale = h->m != current.memory_kib || h->t != current.iterations || h->p != current.parallelism ||
               h->salt.size() != kSaltBytes || h->tag.size() != kTagBytes;
  return {true, stale};
}

uint32_t ReadU32BigEndian(std::string_view b, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3]));
}

bool Pbkdf2Equals(std::string_view password, std::string_view salt, int iterations, const EVP_MD* md,
                  std::string_view expected) {
  thread_work.pbkdf2_iterations += static_cast<uint64_t>(iterations);
  std::string out(expected.size(), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()), iterations,
                        md, static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data())) != 1) {
    return false;
  }
  return ConstantTimeEquals(out, expected);
}

PasswordCheck VerifyIdentity(std::string_view stored, std::string_view password) {
  std::optional<std::string> decoded = Base64Decode(stored);
  if (!decoded || decoded->empty()) return {};
  std::string_view b = *decoded;
  const uint8_t marker = static_cast<uint8_t>(b[0]);
  bool match = false;
  if (marker == kIdentityV2Marker) {
    if (b.size() != 1 + kIdentityV2SaltBytes + kIdentityV2SubkeyBytes) return {};
    match = Pbkdf2Equals(password, b.substr(1, kIdentityV2SaltBytes), kIdentityV2Iterations, EVP_sha1(),
                         b.substr(1 + kIdentityV2SaltBytes));
  } else if (marker == kIdentityV3Marker) {
    if (b.size() < kIdentityV3HeaderBytes) return {};
    const uint32_t prf = ReadU32BigEndian(b, 1);
    const uint32_t iterations = ReadU32BigEndian(b, 5);
    const uint32_t salt_len = ReadU32BigEndian(b, 9);
    const EVP_MD* md = prf == 0 ? EVP_sha1() : prf == 1 ? EVP_sha256() : prf == 2 ? EVP_sha512() : nullptr;
    if (md == nullptr) return {};
    if (iterations < 1 || iterations > kPbkdf2MaxIterations) return {};
    if (salt_len < kIdentityV3MinSaltBytes || salt_len > kIdentityV3MaxSaltBytes) return {};
    if (b.size() < kIdentityV3HeaderBytes + salt_len) return {};
    const size_t subkey_len = b.size() - kIdentityV3HeaderBytes - salt_len;
    if (subkey_len < kIdentityV3MinSubkeyBytes || subkey_len > kIdentityV3MaxSubkeyBytes) return {};
    match = Pbkdf2Equals(password, b.substr(kIdentityV3HeaderBytes, salt_len), static_cast<int>(iterations), md,
                         b.substr(kIdentityV3HeaderBytes + salt_len));
  } else {
    return {};
  }
  return {match, match};  // an Identity hash is always upgraded to Argon2id after a successful login
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, const Argon2Params& params) {
  if (password.empty()) return Status::InvalidArgument("password must not be empty");
  if (password.size() > kMaxPasswordLength) {
    return Status::InvalidArgument("password is longer than " + std::to_string(kMaxPasswordLength) + " bytes");
  }
  if (!ParamsInBounds(params.memory_kib, params.iterations, params.parallelism)) {
    return Status::InvalidArgument(
        "Argon2id parameters out of bounds: memory 8 KiB to 4 GiB and at least 8 x parallelism, iterations 1 to " +
        std::to_string(kArgon2MaxIterations) + ", parallelism 1 to " + std::to_string(kArgon2MaxParallelism));
  }
  const std::string salt = RandomBytes(kSaltBytes);
  std::optional<std::string> tag =
      Argon2idRaw(password, salt, params.memory_kib, params.iterations, params.parallelism, kTagBytes);
  if (!tag) return Status::Internal("argon2id_hash_raw failed");
  std::string phc(kPhcPrefix);
  phc += "m=" + std::to_string(params.memory_kib) + ",t=" + std::to_string(params.iterations) +
         ",p=" + std::to_string(params.parallelism) + "$" + EncodeBase64NoPad(salt) + "$" + EncodeBase64NoPad(*tag);
  return phc;
}

PasswordCheck VerifyPassword(std::string_view stored, std::string_view password, const Argon2Params& current) {
  if (password.size() > kMaxPasswordLength) return {};
  if (stored.empty() || stored.size() > kMaxStoredHashLength) return {};
  if (stored.front() == '$') return VerifyPhc(stored, password, current);
  return VerifyIdentity(stored, password);
}

PasswordCheck VerifyPasswordAtLeastAt(std::string_view stored, std::string_view password,
                                      const Argon2Params& current) {
  const uint64_t before = thread_work.argon2_kib_passes;
  const PasswordCheck check = VerifyPassword(stored, password, current);
  if (password.size() > kMaxPasswordLength) return check;  // VerifyDummyPassword does no work for these either
  const uint64_t spent = thread_work.argon2_kib_passes - before;
  const uint64_t wanted = static_cast<uint64_t>(current.memory_kib) * current.iterations;
  if (spent >= wanted || !ParamsInBounds(current.memory_kib, current.iterations, current.parallelism)) return check;
  // The difference: whole passes over current's memory, then one pass over what remains (if Argon2id accepts that
  // little memory; a remainder under 8 KiB is below any cost worth measuring).
  uint64_t remaining = wanted - spent;
  const std::string salt = RandomBytes(kSaltBytes);
  const uint64_t passes = remaining / current.memory_kib;
  if (passes > 0) {
    (void)Argon2idRaw(password, salt, current.memory_kib, static_cast<uint32_t>(passes), current.parallelism,
                      kTagBytes);
    remaining -= passes * current.memory_kib;
  }
  if (remaining >= kArgon2MinMemoryKib) {
    const uint32_t lanes = remaining >= 8ull * current.parallelism ? current.parallelism : 1;
    (void)Argon2idRaw(password, salt, static_cast<uint32_t>(remaining), 1, lanes, kTagBytes);
  }
  return check;
}

HashWork ThreadHashWork() { return thread_work; }

void CountHashWork(const HashWork& done) {
  thread_work.argon2_calls += done.argon2_calls;
  thread_work.argon2_background_calls += done.argon2_background_calls;
  thread_work.argon2_kib_passes += done.argon2_kib_passes;
  thread_work.pbkdf2_iterations += done.pbkdf2_iterations;
}

namespace {

// One call of RunAtBackgroundPriority, handed from the caller to a hashing thread; guarded by BackgroundPool::mu.
struct BackgroundJob {
  const std::function<void()>* work = nullptr;
  HashWork done;
  std::exception_ptr thrown;
  bool finished = false;
};

// The hashing threads: started when a job finds none idle, then kept for the life of the process (there are never
// more than the most calls that overlapped, which PasswordCheckSlots bounds), each at nice 19 and each keeping its
// Argon2 memory. Never destroyed, so that no thread waits on a destroyed mutex when the process exits.
struct BackgroundPool {
  std::mutex mu;
  std::condition_variable job_ready;
  std::condition_variable job_finished;
  std::deque<BackgroundJob*> jobs;
  size_t idle = 0;

  static BackgroundPool& Process() {
    static BackgroundPool* pool = new BackgroundPool;
    return *pool;
  }

  void Serve() {
    // A thread's own nice value (Linux: setpriority on its thread id). Lowering it needs no privilege; raising it
    // back would, which is why the hashing has threads of its own.
    if (setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19) != 0) {
      // A sandbox that denies setpriority (systemd's @resources: the shipped unit allows it again) leaves the hashing
      // at the priority of every other request; said once per process.
      static std::once_flag said;
      const int error = errno;
      std::call_once(said, [error] {
        Logf(LogLevel::kWarn, "cannot lower the priority of the password hashing threads (setpriority: %s); password "
             "checks compete with every other request for the CPU", std::strerror(error));
      });
    }
    in_background = true;
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      ++idle;
      job_ready.wait(lock, [&] { return !jobs.empty(); });
      --idle;
      BackgroundJob* job = jobs.front();
      jobs.pop_front();
      lock.unlock();
      thread_work = HashWork{};
      try {
        (*job->work)();
      } catch (...) {
        job->thrown = std::current_exception();
      }
      const HashWork done = thread_work;
      lock.lock();
      job->done = done;
      job->finished = true;
      job_finished.notify_all();
    }
  }
};

}  // namespace

void RunAtBackgroundPriority(const std::function<void()>& work) {
  BackgroundPool& pool = BackgroundPool::Process();
  BackgroundJob job;
  job.work = &work;
  {
    std::unique_lock<std::mutex> lock(pool.mu);
    pool.jobs.push_back(&job);
    if (pool.jobs.size() > pool.idle) {
      try {
        std::thread(&BackgroundPool::Serve, &pool).detach();
      } catch (const std::system_error&) {  // no thread to be had (EAGAIN)
        if (pool.idle == 0) {  // and none to wait for: hash here rather than fail the login
          pool.jobs.erase(std::find(pool.jobs.begin(), pool.jobs.end(), &job));
          lock.unlock();
          work();
          return;
        }
      }
    }
    pool.job_ready.notify_one();
    pool.job_finished.wait(lock, [&] { return job.finished; });
  }
  CountHashWork(job.done);
  if (job.thrown) std::rethrow_exception(job.thrown);
}

PasswordCheckSlots& PasswordCheckSlots::Process() {
  static PasswordCheckSlots slots;
  return slots;
}

bool PasswordCheckSlots::Enter(unsigned limit, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!freed_.wait_for(lock, wait, [&] { return inside_ < limit; })) return false;
  ++inside_;
  return true;
}

void PasswordCheckSlots::Leave() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --inside_;
  }
  freed_.notify_one();
}

unsigned PasswordCheckConcurrency(unsigned configured) {
  if (configured > 0) return configured;
  const unsigned cpus = std::thread::hardware_concurrency();
  return cpus >= 2 ? cpus / 2 : 1;
}

void VerifyDummyPassword(std::string_view password, const Argon2Params& params) {
  if (password.size() > kMaxPasswordLength) return;  // VerifyPassword does no work for these either
  // The one piece of process state in this concern: a dummy hash per distinct params, made on first use.
  static std::mutex mu;
  static std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::string> dummies;
  std::string stored;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto key = std::make_tuple(params.memory_kib, params.iterations, params.parallelism);
    auto it = dummies.find(key);
    if (it == dummies.end()) {
      // Making the hash costs what a verification costs, so the first caller is not faster than the rest.
      Result<std::string> h = HashPassword(RandomHandle(24), params);
      if (h.ok()) dummies.emplace(key, *h);
      return;
    }
    stored = it->second;
  }
  (void)VerifyPassword(stored, password, params);
}

Argon2Params Argon2ParamsFromConfig(const Config& config) {
  Argon2Params params;
  params.memory_kib = config.password_hash_memory_kib;
  params.iterations = config.password_hash_iterations;
  params.parallelism = config.password_hash_parallelism;
  return params;
}

}  // namespace tf
