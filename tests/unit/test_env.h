// Shared fixture pieces for the unit tests (namespace tf::testing). Stores: TempDir, StoreFixture (a gtest fixture
// owning an LMDB store in a fresh temporary directory) and ServiceFixture (that plus a Config, a ManualClock at kNow
// and an oauth::Service), and RacingStore (a hook between a read and a write transaction). Builders for the records
// the tests seed (hashed secrets, API scopes, identity resources, clients, signing keys, cheap Argon2id hashes); the
// http::Request values they send (form POSTs, GETs, Basic credentials); a small JSON reader (Json); the verified
// payload of a JWS; raw-OpenSSL key generation and signature checks that share no code with token/jws.cc; and
// TokenctlFixture, which drives `tokenctl` in-process against a configuration file in a temporary directory.
//
// Header-only, test-only. Nothing here is global mutable state; each fixture instance owns its store, directory and
// clock, so tests stay independent. A fixture is used by one test thread at a time, except what the test itself
// shares on purpose (the store and Service are thread-safe; the ManualClock and RequestLog are not).
#ifndef TF_TESTS_UNIT_TEST_ENV_H_
#define TF_TESTS_UNIT_TEST_ENV_H_

#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fstream>
#include <sstream>

#include "admin/cli.h"
#include "config/config.h"
#include "http/request.h"
#include "oauth/authorization_codes.h"
#include "oauth/refresh_tokens.h"
#include "oauth/service.h"
#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "test_paths.h"
#include "util/status.h"

namespace tf::testing {

// The instant every fixture's ManualClock starts at (2027-01-15T08:00:00Z).
inline constexpr int64_t kNow = 1'800'000'000;
inline constexpr char kFormUrlEncoded[] = "application/x-www-form-urlencoded";
// Argon2id parameters cheap enough for unit tests (1 MiB, 1 pass, 1 lane).
inline constexpr Argon2Params kCheapArgon2{1024, 1, 1};

// ---- JSON -------------------------------------------------------------------------------------------------------

// A parsed JSON text (cJSON), read by member name. Absent or mistyped members read as sentinels, so a test compares
// them with EXPECT_EQ and sees what came instead.
class Json {
 public:
  explicit Json(const std::string& text) : root_(cJSON_Parse(text.c_str())) {}
  ~Json() { cJSON_Delete(root_); }
  Json(const Json&) = delete;
  Json& operator=(const Json&) = delete;

  bool ok() const { return root_ != nullptr; }  // the text parsed
  bool IsObject() const { return cJSON_IsObject(root_); }
  const cJSON* root() const { return root_; }
  const cJSON* Get(const char* name) const { return cJSON_GetObjectItemCaseSensitive(root_, name); }
  bool Has(const char* name) const { return Get(name) != nullptr; }
  std::string Str(const char* name) const {
    const cJSON* v = Get(name);
    return cJSON_IsString(v) ? v->valuestring : "<not a string>";
  }
  double Num(const char* name) const {
    const cJSON* v = Get(name);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
  }
  bool True(const char* name) const { return cJSON_IsTrue(Get(name)); }
  // The member as compact JSON text, "<absent>" if missing.
  std::string Raw(const char* name) const {
    char* text = cJSON_PrintUnformatted(Get(name));
    std::string out = text != nullptr ? text : "<absent>";
    cJSON_free(text);
    return out;
  }
  // The strings of an array member ("<not a string>" for a non-string element).
  std::vector<std::string> Strings(const char* name) const {
    std::vector<std::string> out;
    const cJSON* item;
    cJSON_ArrayForEach(item, Get(name)) { out.push_back(cJSON_IsString(item) ? item->valuestring : "<not a string>"); }
    return out;
  }
  // The member names of the root object, in order.
  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    const cJSON* item;
    cJSON_ArrayForEach(item, root_) out.emplace_back(item->string);
    return out;
  }
  int Size() const { return cJSON_GetArraySize(root_); }

 private:
  cJSON* root_;
};

// ---- HTTP requests ----------------------------------------------------------------------------------------------

// The Authorization header value for RFC 7617 Basic credentials: "Basic base64(id:secret)".
inline std::string Basic(std::string_view id, std::string_view secret) {
  return "Basic " + Base64Encode(std::string(id) + ":" + std::string(secret));
}

// A POST of `body` to `path`.
inline http::Request FormPost(const std::string& path, const std::string& body, const std::string& authorization = "",
                              const std::string& content_type = kFormUrlEncoded) {
  http::Request r;
  r.method = "POST";
  r.path = path;
  r.content_type = content_type;
  r.authorization = authorization;
  r.body = body;
  return r;
}

// A GET of `path`?`query`.
inline http::Request GetRequest(const std::string& path, const std::string& query = "",
                                const std::string& authorization = "") {
  http::Request r;
  r.method = "GET";
  r.path = path;
  r.query = query;
  r.authorization = authorization;
  return r;
}

// How HeaderOf answers for a header that stands more than once.
enum class RepeatedHeader { kFirst, kMark };

// The value of response header `name`: "<absent>" if missing; if repeated, the first value (kFirst) or "<repeated>"
// (kMark, for headers that must stand once).
inline std::string HeaderOf(const http::Response& r, std::string_view name,
                            RepeatedHeader repeated = RepeatedHeader::kFirst) {
  std::string out = "<absent>";
  int count = 0;
  for (const auto& [n, v] : r.headers) {
    if (n != name) continue;
    if (count++ == 0) out = v;
  }
  return count > 1 && repeated == RepeatedHeader::kMark ? "<repeated>" : out;
}

// ---- records ----------------------------------------------------------------------------------------------------

// A client or API secret as the store keeps it (hashed), with an optional expiration.
inline store::Secret HashedSecret(std::string_view plain, std::optional<int64_t> expiration = std::nullopt) {
  store::Secret s;
  s.value = store::HashSecret(plain);
  s.expiration = expiration;
  return s;
}

inline store::ApiScope Scope(std::string name, std::vector<std::string> user_claims = {}, bool enabled = true) {
  store::ApiScope s;
  s.name = std::move(name);
  s.user_claims = std::move(user_claims);
  s.enabled = enabled;
  return s;
}

inline store::IdentityResource Identity(std::string name, std::vector<std::string> user_claims = {},
                                        bool enabled = true) {
  store::IdentityResource r;
  r.name = std::move(name);
  r.user_claims = std::move(user_claims);
  r.enabled = enabled;
  return r;
}

// A confidential client for the client_credentials grant with one (hashed) secret and `scopes`.
inline store::Client ConfidentialClient(std::string id, std::string_view secret, std::vector<std::string> scopes) {
  store::Client c;
  c.client_id = std::move(id);
  c.client_secrets.push_back(HashedSecret(secret));
  c.allowed_grant_types = {"client_credentials"};
  c.allowed_scopes = std::move(scopes);
  return c;
}

// A freshly generated signing key (nullptr and a test failure if generation fails).
inline std::shared_ptr<const token::SigningKey> NewSigningKey(token::Alg alg) {
  Result<std::shared_ptr<const token::SigningKey>> key = token::SigningKey::Generate(alg);
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return key.ok() ? *key : nullptr;
}

// The fixed RSA-2048 test keys tests/keys/rsa-2048-<n>.pem, for tests that need an RSA key but do not test key
// generation (generating one takes about as long as the rest of such a test). jws_test and keys_admin_test generate
// keys of every type for real.
inline constexpr int kFixedRsaKeys = 4;

// The PKCS#8 PEM of fixed RSA key `n` (0 <= n < kFixedRsaKeys; "" and a test failure if it cannot be read).
inline std::string FixedRsaPem(int n) {
  EXPECT_TRUE(n >= 0 && n < kFixedRsaKeys) << n;
  const std::string path = std::string(test_paths::KeysDir()) + "/rsa-2048-" + std::to_string(n) + ".pem";
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return text.str();
}

// Fixed RSA key `n` as a signing key for `alg` (RS256 or PS256; nullptr and a test failure if it cannot be loaded).
inline std::shared_ptr<const token::SigningKey> FixedSigningKey(token::Alg alg, int n) {
  Result<std::shared_ptr<const token::SigningKey>> key = token::SigningKey::FromPrivatePem(alg, FixedRsaPem(n));
  EXPECT_TRUE(key.ok()) << key.status().ToString();
  return key.ok() ? *key : nullptr;
}

// The stored form of `key`.
inline store::KeyRecord KeyRecordOf(const token::SigningKey& key, int64_t created,
                                    store::KeyState state = store::KeyState::kCurrent) {
  store::KeyRecord rec;
  rec.kid = key.kid();
  rec.alg = std::string(token::AlgName(key.alg()));
  rec.state = state;
  rec.created = created;
  rec.private_pem = key.PrivatePem();
  return rec;
}

// Makes the service hash new passwords with kCheapArgon2.
inline void UseCheapPasswordHashing(Config* config) {
  config->password_hash_memory_kib = kCheapArgon2.memory_kib;
  config->password_hash_iterations = kCheapArgon2.iterations;
  config->password_hash_parallelism = kCheapArgon2.parallelism;
}

// The stored hash of `password` with kCheapArgon2 ("" and a test failure on error).
inline std::string CheapPasswordHash(std::string_view password) {
  Result<std::string> h = HashPassword(password, kCheapArgon2);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : "";
}

// ---- Raw LMDB ---------------------------------------------------------------------------------------------------

// A raw LMDB transaction on the database in `path`, outside the store (no Store may have it open in this process):
// to write what an older build wrote, or to look at what the store left. A writable one is committed when `fn`
// returns without a fatal failure, otherwise aborted; the environment is closed either way.
inline void RawLmdb(const std::string& path, bool write, const std::function<void(MDB_txn*)>& fn) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  MDB_txn* txn = nullptr;
  const unsigned flags = write ? 0 : MDB_RDONLY;
  if (mdb_env_set_maxdbs(env, 16) != 0 || mdb_env_open(env, path.c_str(), flags, 0660) != 0 ||
      mdb_txn_begin(env, nullptr, flags, &txn) != 0) {
    mdb_env_close(env);
    FAIL() << "cannot open " << path << " with raw LMDB";
  }
  fn(txn);
  if (write && !::testing::Test::HasFatalFailure()) {
    EXPECT_EQ(mdb_txn_commit(txn), 0);
  } else {
    mdb_txn_abort(txn);
  }
  mdb_env_close(env);
}

// ---- JWS --------------------------------------------------------------------------------------------------------

// The payload JSON of a compact JWS whose signature `key` verifies ("" and a test failure otherwise).
inline std::string VerifiedJwsPayload(const std::string& jws, const token::SigningKey& key) {
  std::optional<token::JwsParts> parts = token::SplitJws(jws);
  EXPECT_TRUE(parts.has_value()) << jws;
  if (!parts) return "";
  EXPECT_TRUE(key.Verify(parts->signing_input, parts->signature));
  return parts->payload_json;
}

// ---- raw OpenSSL: keys and signature checks independent of token/jws.cc ------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Fixed RSA key `n` (see FixedRsaPem) as an EVP_PKEY (nullptr and a test failure if it cannot be loaded).
inline PkeyPtr FixedRsaPkey(int n) {
  const std::string pem = FixedRsaPem(n);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  EXPECT_NE(key, nullptr) << "fixed RSA key " << n;
  return key;
}

// A new key for `alg`: RSA-2048 (RS256, PS256), P-256 (ES256) or Ed25519 (EdDSA).
inline PkeyPtr NewPkey(token::Alg alg) {
  switch (alg) {
    case token::Alg::kRS256:
    case token::Alg::kPS256:
      return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    case token::Alg::kES256:
      return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    case token::Alg::kEdDSA:
      return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  }
  return nullptr;
}

// The unencrypted PKCS#8 PEM of a private key.
inline std::string PrivatePemOf(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

// A DER INTEGER of a big-endian unsigned value (leading zeros dropped, a zero added before a high bit).
inline std::string DerInteger(std::string_view be) {
  size_t i = 0;
  while (i + 1 < be.size() && be[i] == 0) ++i;
  std::string v(be.substr(i));
  if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(v.begin(), '\0');
  return std::string("\x02", 1) + static_cast<char>(v.size()) + v;
}

// RFC 7518 §3.4: r||s to the DER ECDSA-Sig-Value OpenSSL verifies.
inline std::string EcdsaRsToDer(std::string_view rs) {
  const std::string body = DerInteger(rs.substr(0, 32)) + DerInteger(rs.substr(32));
  return std::string("\x30", 1) + static_cast<char>(body.size()) + body;
}

// Verifies a JWS signature (RFC 7518 form) over `input` with EVP calls only.
inline bool IndependentVerify(token::Alg alg, EVP_PKEY* pkey, std::string_view input, std::string_view sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok =
      EVP_DigestVerifyInit(ctx, &pctx, alg == token::Alg::kEdDSA ? nullptr : EVP_sha256(), nullptr, pkey) == 1;
  if (ok && alg == token::Alg::kPS256) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
  }
  std::string der;
  if (alg == token::Alg::kES256) {
    ok = ok && sig.size() == 64;
    if (ok) der = EcdsaRsToDer(sig);
    sig = der;
  }
  ok = ok && EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                              reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// ---- stores in temporary directories ----------------------------------------------------------------------------

// A fresh directory /tmp/<name>.XXXXXX, removed with everything in it on destruction ("" and a test failure if it
// cannot be made).
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::string tmpl = "/tmp/" + name + ".XXXXXX";
    const char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = p != nullptr ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Options that open (and with `create`, create) a store at `path` with a `map_size` map.
inline store::StoreOptions NewStoreOptions(const std::string& path, bool create = true, size_t map_size = 16u << 20) {
  store::StoreOptions o;
  o.path = path;
  o.create = create;
  o.map_size = map_size;
  return o;
}

// The store `o` opens (nullptr and a test failure if it does not).
inline std::unique_ptr<store::Store> OpenStoreOrNull(const store::StoreOptions& o) {
  Result<std::unique_ptr<store::Store>> s = store::Store::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// The stored meta "session_key" value as it is, clear or sealed ("" and a test failure if it cannot be read).
inline std::string StoredSessionKey(store::Store& s) {
  std::string key;
  EXPECT_TRUE(s.Read([&](store::Txn& t) -> Status {
                 Result<std::string> k = t.GetSessionKey();
                 if (!k.ok()) return k.status();
                 key = *k;
                 return Status::OK();
               }).ok());
  return key;
}

// A Store over `inner` that runs a hook (once) just before the next Update: another worker (or tokenctl) acting
// between the code under test's read and write transactions. Counts the Update calls.
class RacingStore final : public store::Store {
 public:
  explicit RacingStore(store::Store* inner) : inner_(inner) {}
  void BeforeNextUpdate(std::function<void(store::Store&)> hook) { hook_ = std::move(hook); }
  int updates = 0;  // Update calls so far

  Status Read(const std::function<Status(store::Txn&)>& fn) override { return inner_->Read(fn); }
  Status Update(const std::function<Status(store::Txn&)>& fn) override {
    ++updates;
    if (hook_) {
      auto hook = std::move(hook_);
      hook_ = nullptr;
      hook(*inner_);
    }
    return inner_->Update(fn);
  }
  Result<uint64_t> ConfigGeneration() override { return inner_->ConfigGeneration(); }
  Result<store::StoreStats> Stats() override { return inner_->Stats(); }
  Status Backup(const std::string& directory) override { return inner_->Backup(directory); }
  Status GrowMap(uint64_t bytes) override { return inner_->GrowMap(bytes); }

 private:
  store::Store* inner_;
  std::function<void(store::Store&)> hook_;
};

// A gtest fixture with an LMDB store at /tmp/<name>.XXXXXX/db, closed and removed in TearDown. A derived SetUp calls
// ASSERT_NO_FATAL_FAILURE(OpenStore("<name>")) and seeds with Put().
class StoreFixture : public ::testing::Test {
 protected:
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  // Creates /tmp/<name>.XXXXXX and opens a new store at <dir>/db with a `map_size` map.
  void OpenStore(const std::string& name, size_t map_size = 16u << 20) {
    std::string tmpl = "/tmp/" + name + ".XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    Result<std::unique_ptr<store::Store>> s = store::Store::Open(NewStoreOptions(dir_ + "/db", true, map_size));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  // Stores a key for `alg` with `state` and `created` (nullptr and a test failure if there is none): generated for
  // ES256 and EdDSA, the next unused fixed RSA key (FixedSigningKey) for RS256 and PS256, so kids never repeat.
  std::shared_ptr<const token::SigningKey> PutNewKey(token::Alg alg, store::KeyState state, int64_t created) {
    const bool rsa = alg == token::Alg::kRS256 || alg == token::Alg::kPS256;
    std::shared_ptr<const token::SigningKey> key =
        rsa ? FixedSigningKey(alg, fixed_rsa_keys_used_++) : NewSigningKey(alg);
    if (key == nullptr) return nullptr;
    const store::KeyRecord rec = KeyRecordOf(*key, created, state);
    Put([&](store::Txn& t) { return t.PutKey(rec); });
    return key;
  }

  // Runs `fn` in a write transaction; a fatal test failure if it fails.
  void Put(const std::function<Status(store::Txn&)>& fn) {
    const Status st = store_->Update(fn);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // The grant stored under Sha256(handle), or the refresh token `handle` is now under its chain key (nothing for a
  // rotated handle, whose chain's record holds its successor), if any.
  std::optional<store::Grant> StoredGrant(const std::string& handle) {
    std::optional<store::Grant> out;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      Result<store::Grant> g = t.GetGrant(StoredGrantKey(t, handle));
      const std::string check = Sha256(handle).substr(0, store::kHandleCheckSize);
      if (g.ok() && (g->handle_check.empty() || g->handle_check == check)) out = *g;
      return g.ok() || g.status().IsNotFound() ? Status::OK() : g.status();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  // StoredGrantKey in a read transaction of its own.
  std::string KeyOf(const std::string& handle) {
    std::string key;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      key = StoredGrantKey(t, handle);
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return key;
  }

  // Where `handle` is stored: its chain key for a refresh handle that names its chain, else where an authorization
  // code of that form would be (authorization_codes.h: Sha256(handle) for any other string).
  static std::string StoredGrantKey(store::Txn& t, const std::string& handle) {
    Result<std::string> session_key = t.GetSessionKey();
    if (session_key.ok()) {
      std::optional<oauth::RefreshHandle> name =
          oauth::ParseRefreshHandle(oauth::RefreshHandleKey(*session_key), handle);
      if (name.has_value() && !name->chain.empty()) return oauth::RefreshChainKey(name->family, name->chain);
    }
    return oauth::AuthorizationCodeKey(handle);
  }

  // The user `subject` as stored now (a default User and a test failure if it cannot be read).
  store::User StoredUser(const std::string& subject) {
    store::User out;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      Result<store::User> u = t.GetUser(subject);
      if (!u.ok()) return u.status();
      out = *u;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  // Reads, edits and writes back the user `subject` in one transaction.
  void EditUser(const std::string& subject, const std::function<void(store::User&)>& edit) {
    Put([&](store::Txn& t) -> Status {
      Result<store::User> u = t.GetUser(subject);
      if (!u.ok()) return u.status();
      edit(*u);
      return t.PutUser(*u);
    });
  }

  // The family revocation record of `family`, if any.
  std::optional<store::FamilyRevocation> FamilyRevocation(const std::string& family) {
    std::optional<store::FamilyRevocation> out;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      Result<std::optional<store::FamilyRevocation>> r = t.GetFamilyRevocation(family);
      if (!r.ok()) return r.status();
      out = *r;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  int fixed_rsa_keys_used_ = 0;  // by PutNewKey
};

// A StoreFixture with a Config, a ManualClock at kNow, the Service NewService() builds over them, and the
// RequestLog of the last Handle(). A derived SetUp opens the store, seeds it, sets config_ and calls NewService().
class ServiceFixture : public StoreFixture {
 protected:
  void TearDown() override {
    service_.reset();
    StoreFixture::TearDown();
  }

  void NewService() { service_ = std::make_unique<oauth::Service>(config_, store_.get(), &clock_); }

  http::Response Handle(const http::Request& r) { return service_->HandleAndWait(r, &log_); }

  Config config_;
  ManualClock clock_{kNow};
  std::unique_ptr<oauth::Service> service_;
  oauth::RequestLog log_;
};

// `tokenctl` run in-process (admin::RunTokenctl) against <dir>/tokenfcgi.conf and a database at <dir>/db, in a fresh
// temporary directory. The database is not created: a derived SetUp runs {"init"} when its tests need one. A store
// may be opened with OpenStore() only between runs (one LMDB environment per process at a time).
class TokenctlFixture : public ::testing::Test {
 protected:
  // `extra_config`: more `key = value` lines for the configuration file; `now`: where the clock starts.
  explicit TokenctlFixture(std::string extra_config = "", int64_t now = kNow)
      : extra_config_(std::move(extra_config)), clock_(now) {}

  void SetUp() override {
    dir_ = std::make_unique<TempDir>("tf_tokenctl_test");
    config_ = dir_->Sub("tokenfcgi.conf");
    std::ofstream(config_) << "issuer = http://127.0.0.1:8080\ndatabase = " << dir_->Sub("db")
                           << "\nmap_size = 16M\naccess_token_signing_alg = ES256\n" << extra_config_;
  }

  // Runs `tokenctl --config <config> args...` with `input` on stdin; keeps stdout and stderr in out_ and err_.
  // `terminal`: behave as on a terminal (prompts, confirmations), without touching the test's real terminal.
  int Run(std::vector<std::string> args, const std::string& input = "", bool terminal = false) {
    args.insert(args.begin(), {"--config", config_});
    std::istringstream in(input);
    std::ostringstream out, err;
    admin::CliIo io{&in, &out, &err, &clock_};
    io.stdin_is_terminal = terminal;
    io.terminal_fd = -1;
    const int code = admin::RunTokenctl(args, io);
    out_ = out.str();
    err_ = err.str();
    return code;
  }

  // What {"init"} makes (current keys for access_token_signing_alg, ES256, and id_token_signing_alg, RS256), with
  // the RS256 key imported from fixed RSA key 0 instead of generated: `init --no-key`, `key import`, `init`.
  void InitWithFixedKeys() {
    ASSERT_EQ(Run({"init", "--no-key"}), 0) << err_;
    const std::string pem = dir_->Sub("rs256.pem");
    std::ofstream(pem) << FixedRsaPem(0);
    ASSERT_EQ(Run({"key", "import", pem, "--alg", "RS256"}), 0) << err_;
    ASSERT_EQ(Run({"init"}), 0) << err_;
  }

  // The database, opened for a check between runs (nullptr and a test failure if it cannot be opened).
  std::unique_ptr<store::Store> OpenStore() { return OpenStoreOrNull(NewStoreOptions(dir_->Sub("db"), false)); }

  std::string extra_config_;
  ManualClock clock_;
  std::unique_ptr<TempDir> dir_;
  std::string config_, out_, err_;
};

}  // namespace tf::testing

#endif  // TF_TESTS_UNIT_TEST_ENV_H_
