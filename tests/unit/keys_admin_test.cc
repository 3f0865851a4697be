// Signing-key lifecycle (generate -> next -> rotate -> retired -> remove), PEM import, init, the client and user
// commands behind tokenctl, and the user commands driven through RunTokenctl.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "admin/cli.h"
#include "admin/clients.h"
#include "admin/keys.h"
#include "admin/names.h"
#include "admin/users.h"
#include "password/password_hash.h"
#include "store/lockout.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "util/timestamp.h"
#include "test_env.h"

namespace tf::admin {
namespace {

using store::KeyState;
using token::Alg;

class AdminTest : public testing::StoreFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore("tf_keys_admin_test")); }

  std::optional<store::KeyRecord> Key(std::string_view kid) {
    auto keys = ListKeys(*store_);
    EXPECT_TRUE(keys.ok());
    for (auto& k : *keys) {
      if (k.kid == kid) return k;
    }
    return std::nullopt;
  }

  ManualClock clock_{1700000000};
};

// ---- generate --------------------------------------------------------------------------------------------------

TEST_F(AdminTest, GenerateMakesCurrentThenNextThenRefuses) {
  auto first = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->state, KeyState::kCurrent);
  EXPECT_EQ(first->alg, "ES256");
  EXPECT_EQ(first->created, 1700000000);

  clock_.Advance(10);
  auto second = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->state, KeyState::kNext);
  EXPECT_NE(second->kid, first->kid);

  auto third = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), Status::Code::kConflict);
  EXPECT_NE(third.status().message().find("rotate or retire it first"), std::string::npos);
  EXPECT_EQ(ListKeys(*store_)->size(), 2u);
}

TEST_F(AdminTest, AlgorithmsAreIndependent) {
  ASSERT_TRUE(GenerateKey(*store_, Alg::kES256, clock_, nullptr).ok());
  auto ed = GenerateKey(*store_, Alg::kEdDSA, clock_, nullptr);
  ASSERT_TRUE(ed.ok());
  EXPECT_EQ(ed->state, KeyState::kCurrent) << "EdDSA had no current key even though ES256 had one";
}

TEST_F(AdminTest, StoredKidMatchesTheSigningKey) {
  for (Alg alg : {Alg::kRS256, Alg::kPS256, Alg::kES256, Alg::kEdDSA}) {
    auto record = GenerateKey(*store_, alg, clock_, nullptr);
    ASSERT_TRUE(record.ok()) << token::AlgName(alg);
    auto stored = Key(record->kid);
    ASSERT_TRUE(stored);
    auto key = token::SigningKey::FromPrivatePem(alg, stored->private_pem);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ((*key)->kid(), stored->kid) << token::AlgName(alg);
  }
}

// ---- rotate ----------------------------------------------------------------------------------------------------

TEST_F(AdminTest, RotateMakesNextCurrentAndRetiresTheOld) {
  auto a = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  auto b = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  auto rotation = RotateKeys(*store_, Alg::kES256);
  ASSERT_TRUE(rotation.ok()) << rotation.status().ToString();
  EXPECT_EQ(rotation->current.kid, b->kid);
  ASSERT_TRUE(rotation->retired);
  EXPECT_EQ(rotation->retired->kid, a->kid);
  EXPECT_EQ(Key(a->kid)->state, KeyState::kRetired);
  EXPECT_EQ(Key(b->kid)->state, KeyState::kCurrent);

  // A new key can now be the next one again.
  auto c = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->state, KeyState::kNext);
}

TEST_F(AdminTest, RotateWithoutNextKeyFails) {
  auto a = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(a.ok());
  auto rotation = RotateKeys(*store_, Alg::kES256);
  ASSERT_FALSE(rotation.ok());
  EXPECT_EQ(rotation.status().code(), Status::Code::kConflict);
  EXPECT_EQ(Key(a->kid)->state, KeyState::kCurrent) << "a failed rotation changes nothing";
  EXPECT_FALSE(RotateKeys(*store_, Alg::kRS256).ok());
}

TEST_F(AdminTest, RotateTouchesOnlyItsAlgorithm) {
  auto es = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  auto ed1 = GenerateKey(*store_, Alg::kEdDSA, clock_, nullptr);
  auto ed2 = GenerateKey(*store_, Alg::kEdDSA, clock_, nullptr);
  ASSERT_TRUE(es.ok() && ed1.ok() && ed2.ok());
  ASSERT_TRUE(RotateKeys(*store_, Alg::kEdDSA).ok());
  EXPECT_EQ(Key(es->kid)->state, KeyState::kCurrent);
}

// ---- retire ----------------------------------------------------------------------------------------------------

TEST_F(AdminTest, RetireRules) {
  auto current = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  auto next = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(current.ok() && next.ok());

  auto r = RetireKey(*store_, next->kid, /*force=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Key(next->kid)->state, KeyState::kRetired);

  r = RetireKey(*store_, current->kid, /*force=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kConflict);
  EXPECT_NE(r.status().message().find("--force"), std::string::npos);
  EXPECT_EQ(Key(current->kid)->state, KeyState::kCurrent);

  r = RetireKey(*store_, current->kid, /*force=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Key(current->kid)->state, KeyState::kRetired);

  EXPECT_EQ(RetireKey(*store_, current->kid, true).status().code(), Status::Code::kConflict) << "already retired";
  EXPECT_TRUE(RetireKey(*store_, "no-such-kid", true).status().IsNotFound());

  // With no current key left, the next generated key signs at once.
  auto fresh = GenerateKey(*store_, Alg::kES256, clock_, nullptr);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->state, KeyState::kCurrent);
}

// ---- remove ----------------------------------------------------------------------------------------------------

TEST_F(AdminTest, RemoveOnlyRetiredKeys) {
  auto current = GenerateKey(*store_, Alg::kEdDSA, clock_, nullptr);
  auto next = GenerateKey(*store_, Alg::kEdDSA, clock_, nullptr);
  ASSERT_TRUE(current.ok() && next.ok());
  EXPECT_EQ(RemoveKey(*store_, current->kid).code(), Status::Code::kConflict);
  EXPECT_EQ(RemoveKey(*store_, next->kid).code(), Status::Code::kConflict);
  EXPECT_EQ(ListKeys(*store_)->size(), 2u);

  ASSERT_TRUE(RotateKeys(*store_, Alg::kEdDSA).ok());
  EXPECT_TRUE(RemoveKey(*store_, current->kid).ok());
  EXPECT_FALSE(Key(current->kid));
  EXPECT_TRUE(RemoveKey(*store_, current->kid).IsNotFound());
  EXPECT_EQ(ListKeys(*store_)->size(), 1u);
}

// ---- PEM import ------------------------------------------------------------------------------------------------

// A key made by OpenSSL directly (not by token/), as an operator's `openssl genpkey` would.
std::string OpenSslPem(Alg alg, bool traditional) {
  EVP_PKEY* pkey = nullptr;
  switch (alg) {
    case Alg::kRS256:
    case Alg::kPS256:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
      break;
    case Alg::kES256:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kEdDSA:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (pkey == nullptr) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  const int ok = traditional ? PEM_write_bio_PrivateKey_traditional(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr)
                             : PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::string pem;
  if (ok == 1) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}

TEST_F(AdminTest, ImportsPemOfEachAlgorithm) {
  for (Alg alg : {Alg::kRS256, Alg::kPS256, Alg::kES256, Alg::kEdDSA}) {
    const std::string pem = OpenSslPem(alg, /*traditional=*/false);
    ASSERT_FALSE(pem.empty());
    auto expected = token::SigningKey::FromPrivatePem(alg, pem);
    ASSERT_TRUE(expected.ok()) << token::AlgName(alg);
    auto record = ImportKeyPem(*store_, alg, pem, clock_, nullptr);
    ASSERT_TRUE(record.ok()) << token::AlgName(alg) << ": " << record.status().ToString();
    EXPECT_EQ(record->kid, (*expected)->kid());
    EXPECT_EQ(record->alg, token::AlgName(alg));
    EXPECT_EQ(record->state, KeyState::kCurrent);
    EXPECT_NE(record->private_pem.find("PRIVATE KEY"), std::string::npos);
  }
}

TEST_F(AdminTest, ImportFollowsTheGenerateRuleAndRejectsDuplicates) {
  ASSERT_TRUE(GenerateKey(*store_, Alg::kES256, clock_, nullptr).ok());
  const std::string pem = OpenSslPem(Alg::kES256, /*traditional=*/true);
  auto imported = ImportKeyPem(*store_, Alg::kES256, pem, clock_, nullptr);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->state, KeyState::kNext);

  auto again = ImportKeyPem(*store_, Alg::kES256, pem, clock_, nullptr);
  EXPECT_EQ(again.status().code(), Status::Code::kAlreadyExists);
  auto third = ImportKeyPem(*store_, Alg::kES256, OpenSslPem(Alg::kES256, false), clock_, nullptr);
  EXPECT_EQ(third.status().code(), Status::Code::kConflict);
}

TEST_F(AdminTest, ImportRejectsAKeyOfTheWrongType) {
  auto r = ImportKeyPem(*store_, Alg::kRS256, OpenSslPem(Alg::kES256, false), clock_, nullptr);
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(ImportKeyPem(*store_, Alg::kES256, "not a pem", clock_, nullptr).ok());
  EXPECT_TRUE(ListKeys(*store_)->empty());
}

TEST_F(AdminTest, EnsureCurrentKeyIsIdempotent) {
  auto first = EnsureCurrentKey(*store_, Alg::kEdDSA, clock_, nullptr);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->state, KeyState::kCurrent);
  auto second = EnsureCurrentKey(*store_, Alg::kEdDSA, clock_, nullptr);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->has_value());
  EXPECT_EQ(ListKeys(*store_)->size(), 1u);
}

TEST(InitTest, CreatesDatabaseAndKeyOnceOnly) {
  char tmpl[] = "/tmp/tf_init_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  Config config;
  config.issuer = "http://127.0.0.1:8080";
  config.database = std::string(tmpl) + "/db";
  config.map_size = 16 << 20;
  config.access_token_signing_alg = "ES256";
  ManualClock clock(1700000000);
  auto first = Init(config, clock);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created_database);
  ASSERT_TRUE(first->created_key);
  EXPECT_EQ(first->created_key->alg, "ES256");
  EXPECT_EQ(first->current_kid, first->created_key->kid);
  // id_token_signing_alg (RS256 by default) differs: init makes its key too, or OpenID logins would answer 500.
  ASSERT_TRUE(first->created_id_token_key);
  EXPECT_EQ(first->created_id_token_key->alg, "RS256");
  struct stat st;
  EXPECT_EQ(::stat((config.database + "/data.mdb").c_str(), &st), 0);

  auto second = Init(config, clock);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created_database);
  EXPECT_FALSE(second->created_key);
  EXPECT_FALSE(second->created_id_token_key);
  EXPECT_EQ(second->current_kid, first->current_kid);

  config.access_token_signing_alg = "HS256";
  EXPECT_FALSE(Init(config, clock).ok());
  config.access_token_signing_alg = "ES256";
  config.id_token_signing_alg = "HS256";
  EXPECT_FALSE(Init(config, clock).ok());
  std::filesystem::remove_all(tmpl);
}

// ---- clients ---------------------------------------------------------------------------------------------------

TEST_F(AdminTest, AddClientStoresWhatWasAsked) {
  NewClient spec;
  spec.client_id = "svc";
  spec.client_name = "Service";
  spec.grant_types = {"client_credentials"};
  spec.scopes = {"api1"};
  spec.access_token_lifetime = 120;
  std::vector<std::string> warnings;
  auto added = AddClient(*store_, spec, &warnings);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  auto c = GetClient(*store_, "svc");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_name, "Service");
  EXPECT_FALSE(c->IsPublic());
  EXPECT_EQ(c->access_token_lifetime, 120);
  EXPECT_EQ(c->allowed_grant_types, std::vector<std::string>{"client_credentials"});
  // api1 is not in the store and the client has no secret yet: both are warnings, not errors.
  EXPECT_EQ(warnings.size(), 2u);

  EXPECT_EQ(AddClient(*store_, spec, nullptr).status().code(), Status::Code::kAlreadyExists);
}

TEST_F(AdminTest, AddClientValidates) {
  NewClient spec;
  EXPECT_EQ(AddClient(*store_, spec, nullptr).status().code(), Status::Code::kInvalidArgument) << "empty id";
  spec.client_id = std::string(101, 'a');
  EXPECT_FALSE(AddClient(*store_, spec, nullptr).ok()) << "longer than InputLengthRestrictions allows";
  spec.client_id = "a\nb";
  EXPECT_FALSE(AddClient(*store_, spec, nullptr).ok());
  spec.client_id = "ok";
  spec.access_token_lifetime = 0;
  EXPECT_FALSE(AddClient(*store_, spec, nullptr).ok());
  spec.access_token_lifetime.reset();
  spec.is_public = true;
  spec.secrets.push_back(store::Secret{"SharedSecret", store::HashSecret("x"), "", std::nullopt});
  EXPECT_FALSE(AddClient(*store_, spec, nullptr).ok()) << "a public client with a secret";
  EXPECT_TRUE(ListClients(*store_)->empty());
}

TEST_F(AdminTest, SecretsAreStoredHashedOnly) {
  NewClient spec;
  spec.client_id = "svc";
  ASSERT_TRUE(AddClient(*store_, spec, nullptr).ok());
  const std::string secret = GenerateClientSecret();
  EXPECT_EQ(secret.size(), 43u);
  EXPECT_EQ(secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  EXPECT_NE(GenerateClientSecret(), secret);

  NewSecret s;
  s.secret = secret;
  s.description = "ci";
  s.expiration = clock_.NowSeconds() + 3600;
  ASSERT_TRUE(AddClientSecret(*store_, "svc", s, clock_, nullptr).ok());
  auto c = GetClient(*store_, "svc");
  ASSERT_EQ(c->client_secrets.size(), 1u);
  EXPECT_EQ(c->client_secrets[0].value, store::HashSecret(secret));
  EXPECT_EQ(c->client_secrets[0].description, "ci");
  EXPECT_EQ(c->client_secrets[0].expiration, clock_.NowSeconds() + 3600);
  EXPECT_EQ(store::ToJson(*c).find(secret), std::string::npos);
  EXPECT_TRUE(store::MatchesAnySecret(c->client_secrets, secret, clock_.NowSeconds()));

  EXPECT_EQ(AddClientSecret(*store_, "svc", s, clock_, nullptr).code(), Status::Code::kAlreadyExists);
}

TEST_F(AdminTest, SecretRules) {
  NewClient confidential;
  confidential.client_id = "c";
  NewClient pub;
  pub.client_id = "p";
  pub.is_public = true;
  ASSERT_TRUE(AddClient(*store_, confidential, nullptr).ok());
  ASSERT_TRUE(AddClient(*store_, pub, nullptr).ok());

  NewSecret s;
  s.secret = "a-perfectly-long-secret-value";
  EXPECT_TRUE(AddClientSecret(*store_, "nobody", s, clock_, nullptr).IsNotFound());
  EXPECT_EQ(AddClientSecret(*store_, "p", s, clock_, nullptr).code(), Status::Code::kConflict);
  NewSecret expired = s;
  expired.expiration = clock_.NowSeconds();
  EXPECT_EQ(AddClientSecret(*store_, "c", expired, clock_, nullptr).code(), Status::Code::kInvalidArgument);
  NewSecret empty;
  EXPECT_EQ(AddClientSecret(*store_, "c", empty, clock_, nullptr).code(), Status::Code::kInvalidArgument);
  NewSecret too_long;
  too_long.secret = std::string(101, 'x');
  EXPECT_EQ(AddClientSecret(*store_, "c", too_long, clock_, nullptr).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(GetClient(*store_, "c")->client_secrets.empty());

  std::vector<std::string> warnings;
  NewSecret short_secret;
  short_secret.secret = "abc";
  EXPECT_TRUE(AddClientSecret(*store_, "c", short_secret, clock_, &warnings).ok());
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(AdminTest, RemoveClient) {
  NewClient spec;
  spec.client_id = "gone";
  ASSERT_TRUE(AddClient(*store_, spec, nullptr).ok());
  EXPECT_TRUE(RemoveClient(*store_, "gone").ok());
  EXPECT_TRUE(GetClient(*store_, "gone").status().IsNotFound());
  EXPECT_TRUE(RemoveClient(*store_, "gone").IsNotFound());
}

// ---- users (library) -------------------------------------------------------------------------------------------

const Argon2Params kFast{256, 1, 1};  // small, to keep the tests fast

NewUser Alice() {
  NewUser spec;
  spec.username = "alice";
  spec.claims = {store::ClaimValue{"email", "alice@example.com", ""}};
  spec.password = "alice-Secret-42";
  return spec;
}

TEST_F(AdminTest, AddUserHashesThePasswordAndMakesASubjectId) {
  auto added = AddUser(*store_, Alice(), kFast, clock_);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->subject_id.size(), 22u) << "RandomHandle(16)";
  EXPECT_EQ(added->created, 1700000000);
  auto u = GetUser(*store_, UserRef::BySubject(added->subject_id));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(PasswordScheme(u->password_hash), "argon2id");
  EXPECT_TRUE(VerifyPassword(u->password_hash, "alice-Secret-42", kFast).match);
  EXPECT_EQ(store::ToJson(*u).find("alice-Secret-42"), std::string::npos);
  EXPECT_EQ(u->claims.size(), 1u);
  EXPECT_TRUE(u->is_active);
  EXPECT_EQ(AddUser(*store_, Alice(), kFast, clock_).status().code(), Status::Code::kAlreadyExists)
      << "alice is taken (a new random subject does not make a second alice)";
}

TEST_F(AdminTest, AddUserRefusesTakenNamesAndSubjects) {
  NewUser spec = Alice();
  spec.subject_id = "s1";
  ASSERT_TRUE(AddUser(*store_, spec, kFast, clock_).ok());
  NewUser same_name = Alice();
  same_name.username = "ALICE";
  EXPECT_EQ(AddUser(*store_, same_name, kFast, clock_).status().code(), Status::Code::kAlreadyExists)
      << "user names ignore ASCII case";
  same_name.tenant = "acme";
  EXPECT_TRUE(AddUser(*store_, same_name, kFast, clock_).ok()) << "one username per tenant";
  NewUser same_subject = Alice();
  same_subject.username = "other";
  same_subject.subject_id = "s1";
  EXPECT_EQ(AddUser(*store_, same_subject, kFast, clock_).status().code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(GetUser(*store_, UserRef::BySubject("s1"))->username, "alice") << "not replaced";
  EXPECT_EQ(ListUsers(*store_, std::nullopt)->size(), 2u);
}

TEST_F(AdminTest, AddUserValidates) {
  NewUser spec = Alice();
  spec.password = "";
  EXPECT_EQ(AddUser(*store_, spec, kFast, clock_).status().code(), Status::Code::kInvalidArgument);
  spec.password = std::string(101, 'p');
  auto too_long = AddUser(*store_, spec, kFast, clock_);
  EXPECT_EQ(too_long.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(too_long.status().message().find("ppp"), std::string::npos) << "never repeats the password";
  spec = Alice();
  spec.username = std::string(101, 'u');
  EXPECT_FALSE(AddUser(*store_, spec, kFast, clock_).ok());
  spec.username = "";
  EXPECT_FALSE(AddUser(*store_, spec, kFast, clock_).ok());
  spec.username = std::string("a\0b", 3);
  EXPECT_FALSE(AddUser(*store_, spec, kFast, clock_).ok());
  EXPECT_TRUE(ListUsers(*store_, std::nullopt)->empty());
  spec = Alice();
  spec.password.reset();
  auto no_password = AddUser(*store_, spec, kFast, clock_);
  ASSERT_TRUE(no_password.ok());
  EXPECT_EQ(PasswordScheme(no_password->password_hash), "none");
}

TEST_F(AdminTest, UsersAreFoundBySubjectOrByNameInATenant) {
  NewUser a = Alice();
  a.subject_id = "s1";
  NewUser b = Alice();
  b.subject_id = "s2";
  b.tenant = "acme";
  ASSERT_TRUE(AddUser(*store_, a, kFast, clock_).ok());
  ASSERT_TRUE(AddUser(*store_, b, kFast, clock_).ok());
  EXPECT_EQ(GetUser(*store_, UserRef::ByName("", "Alice"))->subject_id, "s1");
  EXPECT_EQ(GetUser(*store_, UserRef::ByName("acme", "alice"))->subject_id, "s2");
  auto missing = GetUser(*store_, UserRef::ByName("other", "alice"));
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_EQ(missing.status().message(), "no user 'alice' in tenant 'other'");
  EXPECT_EQ(GetUser(*store_, UserRef::BySubject("s9")).status().message(), "no subject 's9'");
  EXPECT_EQ(ListUsers(*store_, std::string("acme"))->size(), 1u);
  EXPECT_EQ(ListUsers(*store_, std::string(""))->front().subject_id, "s1") << "'' = users without a tenant";
  EXPECT_EQ(ListUsers(*store_, std::nullopt)->size(), 2u);
}

TEST_F(AdminTest, SetPasswordClearsLockout) {
  NewUser spec = Alice();
  spec.subject_id = "s1";
  ASSERT_TRUE(AddUser(*store_, spec, kFast, clock_).ok());
  ASSERT_TRUE(store_->Update([](store::Txn& txn) {
                      auto u = txn.GetUser("s1");
                      store::RecordFailedLogin(&*u, 1700000000, 1, 300);
                      u->access_failed_count = 3;
                      return txn.PutUser(*u);
                    }).ok());
  ASSERT_TRUE(store::IsLockedOut(*GetUser(*store_, UserRef::BySubject("s1")), 1700000000));
  auto changed = SetPassword(*store_, UserRef::ByName("", "alice"), std::string("new-Secret-43"), kFast);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  auto u = GetUser(*store_, UserRef::BySubject("s1"));
  EXPECT_TRUE(VerifyPassword(u->password_hash, "new-Secret-43", kFast).match);
  EXPECT_FALSE(VerifyPassword(u->password_hash, "alice-Secret-42", kFast).match);
  EXPECT_EQ(u->access_failed_count, 0);
  EXPECT_FALSE(u->lockout_end);

  ASSERT_TRUE(SetPassword(*store_, UserRef::BySubject("s1"), std::nullopt, kFast).ok());
  EXPECT_EQ(GetUser(*store_, UserRef::BySubject("s1"))->password_hash, "") << "nullopt removes the password";
  EXPECT_TRUE(
      SetPassword(*store_, UserRef::BySubject("nobody"), std::string("pw-123456"), kFast).status().IsNotFound());
  EXPECT_EQ(SetPassword(*store_, UserRef::BySubject("s1"), std::string(""), kFast).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(AdminTest, DisableEnableUnlockRemove) {
  NewUser spec = Alice();
  spec.subject_id = "s1";
  ASSERT_TRUE(AddUser(*store_, spec, kFast, clock_).ok());
  EXPECT_FALSE(SetActive(*store_, UserRef::BySubject("s1"), false)->is_active);
  EXPECT_FALSE(GetUser(*store_, UserRef::BySubject("s1"))->is_active);
  EXPECT_TRUE(SetActive(*store_, UserRef::ByName("", "alice"), true)->is_active);
  ASSERT_TRUE(store_->Update([](store::Txn& txn) {
                      auto u = txn.GetUser("s1");
                      u->access_failed_count = 2;
                      u->lockout_end = 1800000000;
                      return txn.PutUser(*u);
                    }).ok());
  auto unlocked = UnlockUser(*store_, UserRef::BySubject("s1"));
  ASSERT_TRUE(unlocked.ok());
  EXPECT_EQ(unlocked->access_failed_count, 0);
  EXPECT_FALSE(GetUser(*store_, UserRef::BySubject("s1"))->lockout_end);
  EXPECT_TRUE(VerifyPassword(unlocked->password_hash, "alice-Secret-42", kFast).match) << "password untouched";
  EXPECT_TRUE(SetActive(*store_, UserRef::BySubject("x"), false).status().IsNotFound());

  EXPECT_EQ(RemoveUser(*store_, UserRef::ByName("", "alice"))->subject_id, "s1");
  EXPECT_TRUE(GetUser(*store_, UserRef::BySubject("s1")).status().IsNotFound());
  EXPECT_TRUE(GetUser(*store_, UserRef::ByName("", "alice")).status().IsNotFound()) << "index entry removed too";
  EXPECT_TRUE(RemoveUser(*store_, UserRef::BySubject("s1")).status().IsNotFound());
  EXPECT_TRUE(AddUser(*store_, spec, kFast, clock_).ok()) << "the name is free again";
}

TEST(PasswordSchemeTest, NamesTheSchemeOnly) {
  EXPECT_EQ(PasswordScheme(""), "none");
  EXPECT_EQ(PasswordScheme("$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaA"), "argon2id");
  EXPECT_EQ(PasswordScheme("AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw+GN2LDK6Da6EHX9EHqyiEU6w=="),
            "aspnet-identity-v3");
  EXPECT_EQ(PasswordScheme(Base64Encode(std::string(49, '\0'))), "aspnet-identity-v2");
  EXPECT_EQ(PasswordScheme("hunter2"), "unrecognised");
}

// ---- keys through RunTokenctl --------------------------------------------------------------------------------

// An operator moving from IdentityServer keeps its signing keys: `init --no-key`, then `key import`.
class KeyCliTest : public testing::TokenctlFixture {
 protected:
  static std::string KeyFile(const std::string& name) { return std::string(test_paths::KeysDir()) + "/" + name; }
  // The stored keys, read with a store opened only for this.
  std::vector<store::KeyRecord> StoredKeys() {
    std::unique_ptr<store::Store> opened = OpenStore();
    if (opened == nullptr) return {};
    auto keys = ListKeys(*opened);
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? *keys : std::vector<store::KeyRecord>();
  }
};

TEST_F(KeyCliTest, InitNoKeyThenImportKeepsAnExistingKey) {
  // The fixture's access_token_signing_alg is ES256; id_token_signing_alg is RS256 (the default).
  ASSERT_EQ(Run({"init", "--no-key"}), kExitOk) << err_;
  EXPECT_NE(out_.find("created database"), std::string::npos) << out_;
  EXPECT_NE(out_.find("no ES256 key is current (add one: tokenctl key import --alg ES256"), std::string::npos)
      << out_;
  EXPECT_TRUE(StoredKeys().empty());
  ASSERT_EQ(Run({"init", "--no-key"}), kExitOk) << err_;
  EXPECT_NE(out_.find("nothing to do"), std::string::npos) << out_;
  EXPECT_TRUE(StoredKeys().empty());

  ASSERT_EQ(Run({"--json", "key", "import", KeyFile("rsa-2048-0.pem"), "--alg", "RS256"}), kExitOk) << err_;
  testing::Json imported(out_);
  const std::shared_ptr<const token::SigningKey> expected = testing::FixedSigningKey(Alg::kRS256, 0);
  ASSERT_NE(expected, nullptr);
  EXPECT_EQ(imported.Str("kid"), expected->kid());
  EXPECT_EQ(imported.Str("alg"), "RS256");
  EXPECT_EQ(imported.Str("state"), "current");

  // A plain init now makes the ES256 key only: the imported RS256 key signs id_tokens.
  ASSERT_EQ(Run({"--json", "init"}), kExitOk) << err_;
  testing::Json init(out_);
  EXPECT_TRUE(init.True("changed"));
  EXPECT_EQ(init.Raw("created_id_token_key"), "null");
  std::vector<store::KeyRecord> keys = StoredKeys();
  ASSERT_EQ(keys.size(), 2u);
  if (keys[0].alg != "RS256") std::swap(keys[0], keys[1]);
  EXPECT_EQ(keys[0].kid, expected->kid());
  EXPECT_EQ(keys[0].state, KeyState::kCurrent);
  EXPECT_EQ(keys[1].alg, "ES256");
  EXPECT_EQ(keys[1].state, KeyState::kCurrent);
}

TEST_F(KeyCliTest, ImportRefusesWhatCannotSign) {
  ASSERT_EQ(Run({"init", "--no-key"}), kExitOk) << err_;
  const std::string garbage = dir_->Sub("garbage.pem");
  std::ofstream(garbage) << "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
  const std::vector<std::vector<std::string>> refused = {
      {"key", "import", KeyFile("rsa-2048-0.pub.pem"), "--alg", "RS256"},  // a public key only
      {"key", "import", KeyFile("ec-p384.pem"), "--alg", "ES256"},         // P-384: not ES256's curve
      {"key", "import", KeyFile("rsa-2048-0.pem"), "--alg", "ES256"},      // an RSA key for ES256
      {"key", "import", KeyFile("ec-p384.pem"), "--alg", "RS256"},         // an EC key for RS256
      {"key", "import", garbage, "--alg", "RS256"},                        // not a key at all
      {"key", "import", dir_->Sub("missing.pem"), "--alg", "RS256"},       // no such file
  };
  for (const std::vector<std::string>& args : refused) {
    EXPECT_EQ(Run(args), kExitError) << args[2] << " " << args[4] << ": " << out_;
    EXPECT_FALSE(err_.empty()) << args[2];
    EXPECT_EQ(err_.find("PRIVATE KEY"), std::string::npos) << "no key material in the message: " << err_;
  }
  EXPECT_EQ(Run({"key", "import", KeyFile("rsa-2048-0.pem"), "--alg", "HS256"}), kExitUsage) << err_;
  EXPECT_TRUE(StoredKeys().empty());
}

// ---- users through RunTokenctl -------------------------------------------------------------------------------

class UserCliTest : public testing::TokenctlFixture {
 protected:
  UserCliTest() : TokenctlFixture("password_hash_memory_kib = 1024\npassword_hash_iterations = 1\n", 1700000000) {}
  void SetUp() override {
    TokenctlFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(InitWithFixedKeys());
  }
  // `tokenctl --json user show ...` as a cJSON tree.
  std::unique_ptr<cJSON, void (*)(cJSON*)> ShowJson(std::vector<std::string> ref) {
    ref.insert(ref.begin(), {"--json", "user", "show"});
    EXPECT_EQ(Run(ref), kExitOk) << err_;
    return {cJSON_Parse(out_.c_str()), cJSON_Delete};
  }
  // The stored record, read with a store opened only for this (never while RunTokenctl has one open).
  store::User Stored(std::string_view subject) {
    std::unique_ptr<store::Store> opened = OpenStore();
    if (opened == nullptr) return store::User();
    auto u = GetUser(*opened, UserRef::BySubject(std::string(subject)));
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    return u.ok() ? *u : store::User();
  }
  void Lock(std::string_view subject) {
    std::unique_ptr<store::Store> opened = OpenStore();
    ASSERT_NE(opened, nullptr);
    ASSERT_TRUE(opened->Update([&](store::Txn& txn) {
                           auto u = txn.GetUser(subject);
                           if (!u.ok()) return u.status();
                           u->access_failed_count = 1;
                           u->lockout_end = clock_.NowSeconds() + 300;
                           return txn.PutUser(*u);
                         }).ok());
  }
};

TEST_F(UserCliTest, AddReadsThePasswordFromStdinAndNeverShowsIt) {
  ASSERT_EQ(Run({"user", "add", "alice", "--subject", "s1", "--claim", "email=alice@example.com", "--claim",
                 "name=Alice A=B"},
                "alice-Secret-42\n"),
            kExitOk)
      << err_;
  EXPECT_NE(out_.find("added"), std::string::npos);
  EXPECT_EQ(out_.find("alice-Secret-42"), std::string::npos);
  EXPECT_EQ(err_.find("alice-Secret-42"), std::string::npos);
  const store::User u = Stored("s1");
  EXPECT_EQ(u.password_hash.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u) << "the config's Argon2 parameters";
  EXPECT_TRUE(VerifyPassword(u.password_hash, "alice-Secret-42", Argon2Params{1024, 1, 1}).match);
  ASSERT_EQ(u.claims.size(), 2u);
  EXPECT_EQ(u.claims[1].type, "name");
  EXPECT_EQ(u.claims[1].value, "Alice A=B") << "split at the first '='";

  for (const std::vector<std::string>& show : {std::vector<std::string>{"user", "show", "s1"},
                                               {"--json", "user", "show", "s1"},
                                               {"user", "list"},
                                               {"--json", "user", "list"}}) {
    ASSERT_EQ(Run(show), kExitOk) << err_;
    EXPECT_EQ(out_.find("alice-Secret-42"), std::string::npos);
    EXPECT_EQ(out_.find("$argon2id$"), std::string::npos) << "only the scheme, never the hash";
    EXPECT_EQ(out_.find(u.password_hash.substr(u.password_hash.rfind('$') + 1)), std::string::npos);
    EXPECT_NE(out_.find("argon2id"), std::string::npos) << "the scheme is shown";
  }
  auto json = ShowJson({"--username", "ALICE"});
  ASSERT_TRUE(json);
  EXPECT_STREQ(cJSON_GetObjectItem(json.get(), "SubjectId")->valuestring, "s1");
  EXPECT_STREQ(cJSON_GetObjectItem(json.get(), "PasswordScheme")->valuestring, "argon2id");
  EXPECT_EQ(cJSON_GetObjectItem(json.get(), "PasswordHash"), nullptr);
  EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(json.get(), "Claims")), 2);
}

TEST_F(UserCliTest, AddNeedsAPasswordOrNoPassword) {
  EXPECT_EQ(Run({"user", "add", "alice"}, "\n"), kExitError);
  EXPECT_NE(err_.find("--no-password"), std::string::npos) << err_;
  EXPECT_EQ(Run({"user", "add", "alice"}, ""), kExitError) << "nothing on stdin";
  EXPECT_EQ(Run({"user", "add", "alice"}, std::string(101, 'p') + "\n"), kExitError);
  EXPECT_EQ(Run({"user", "add", "alice"}, "seven77\n"), kExitError) << "shorter than password_min_length (8)";
  EXPECT_NE(err_.find("shorter than password_min_length (8 bytes)"), std::string::npos) << err_;
  EXPECT_EQ(err_.find("seven77"), std::string::npos) << "the message never repeats the password";
  ASSERT_EQ(Run({"--json", "user", "list"}), kExitOk);
  EXPECT_EQ(out_, "[]\n") << "no user added";
  ASSERT_EQ(Run({"user", "add", "alice", "--no-password", "--inactive", "--subject", "s1"}, "ignored\n"), kExitOk)
      << err_;
  EXPECT_NE(err_.find("warning"), std::string::npos);
  EXPECT_EQ(Stored("s1").password_hash, "");
  EXPECT_FALSE(Stored("s1").is_active);
  EXPECT_EQ(Run({"user", "add", "Alice"}, "pw-123456\n"), kExitError) << "taken, ignoring case";
  EXPECT_NE(err_.find("exists"), std::string::npos);
}

TEST_F(UserCliTest, TerminalAsksTwiceAndPromptsOnStderr) {
  ASSERT_EQ(Run({"user", "add", "alice", "--subject", "s1"}, "pw-one-1\npw-two-2\n", /*terminal=*/true),
            kExitError);
  EXPECT_NE(err_.find("differ"), std::string::npos) << err_;
  EXPECT_NE(err_.find("new password for 'alice': "), std::string::npos) << err_;
  EXPECT_EQ(err_.find("pw-one-1"), std::string::npos);
  ASSERT_EQ(Run({"user", "add", "alice", "--subject", "s1"}, "pw-one-1\npw-one-1\n", true), kExitOk) << err_;
  EXPECT_NE(err_.find("repeat the new password: "), std::string::npos);
  EXPECT_TRUE(VerifyPassword(Stored("s1").password_hash, "pw-one-1", Argon2Params{1024, 1, 1}).match);
}

TEST_F(UserCliTest, PasswdReplacesThePasswordAndClearsLockout) {
  ASSERT_EQ(Run({"user", "add", "bob", "--tenant", "acme", "--subject", "s2"}, "old-Password-1\n"), kExitOk);
  Lock("s2");
  ASSERT_EQ(Run({"user", "show", "s2"}), kExitOk);
  EXPECT_NE(out_.find("locked until " + FormatTimestamp(1700000300)), std::string::npos) << out_;
  EXPECT_EQ(Run({"user", "passwd", "--username", "bob"}, "new-Password-2\n"), kExitError) << "bob is in acme";
  EXPECT_NE(err_.find("no user 'bob' with no tenant"), std::string::npos) << err_;
  ASSERT_EQ(Run({"user", "passwd", "--username", "BOB", "--tenant", "acme"}, "new-Password-2\n"), kExitOk) << err_;
  EXPECT_NE(out_.find("lockout cleared"), std::string::npos);
  const store::User u = Stored("s2");
  EXPECT_TRUE(VerifyPassword(u.password_hash, "new-Password-2", Argon2Params{1024, 1, 1}).match);
  EXPECT_FALSE(VerifyPassword(u.password_hash, "old-Password-1", Argon2Params{1024, 1, 1}).match);
  EXPECT_EQ(u.access_failed_count, 0);
  EXPECT_FALSE(u.lockout_end);
  EXPECT_EQ(Run({"user", "passwd", "s2"}, "\n"), kExitError) << "empty password";
  EXPECT_EQ(Stored("s2").password_hash, u.password_hash);
  ASSERT_EQ(Run({"user", "passwd", "s2", "--no-password"}), kExitOk);
  EXPECT_EQ(Stored("s2").password_hash, "");
  EXPECT_EQ(Run({"user", "passwd", "nobody"}, "pw-123456\n"), kExitError);
}

TEST_F(UserCliTest, DisableEnableUnlockRemove) {
  ASSERT_EQ(Run({"user", "add", "carol", "--tenant", "t", "--subject", "s3", "--no-password"}), kExitOk);
  ASSERT_EQ(Run({"user", "disable", "--username", "carol", "--tenant", "t"}), kExitOk) << err_;
  EXPECT_FALSE(Stored("s3").is_active);
  auto json = ShowJson({"s3"});
  EXPECT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(json.get(), "IsActive")));
  ASSERT_EQ(Run({"user", "enable", "s3"}), kExitOk);
  EXPECT_TRUE(Stored("s3").is_active);
  Lock("s3");
  json = ShowJson({"s3"});
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(json.get(), "LockedOut")));
  EXPECT_EQ(cJSON_GetObjectItem(json.get(), "AccessFailedCount")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(json.get(), "LockoutEnd")->valuedouble, 1700000300);
  ASSERT_EQ(Run({"user", "unlock", "s3"}), kExitOk);
  EXPECT_FALSE(Stored("s3").lockout_end);
  EXPECT_EQ(Stored("s3").access_failed_count, 0);
  ASSERT_EQ(Run({"user", "list", "--tenant", "t"}), kExitOk);
  EXPECT_NE(out_.find("carol"), std::string::npos);
  ASSERT_EQ(Run({"user", "list", "--tenant", ""}), kExitOk);
  EXPECT_EQ(out_.find("carol"), std::string::npos) << "'' lists users without a tenant";
  ASSERT_EQ(Run({"user", "remove", "--username", "carol", "--tenant", "t"}), kExitOk);
  EXPECT_EQ(Run({"user", "show", "s3"}), kExitError);
  EXPECT_EQ(Run({"user", "remove", "s3"}), kExitError);
}

TEST_F(UserCliTest, UsageErrors) {
  EXPECT_EQ(Run({"user"}), kExitUsage);
  EXPECT_EQ(Run({"user", "show"}), kExitUsage) << "needs USER or --username";
  EXPECT_EQ(Run({"user", "show", "s1", "--username", "a"}), kExitUsage) << "not both";
  EXPECT_EQ(Run({"user", "show", "--subject", "s1", "--tenant", "t"}), kExitUsage) << "--tenant not with --subject";
  EXPECT_EQ(Run({"user", "add", "a", "--claim", "novalue"}), kExitUsage);
  EXPECT_EQ(Run({"user", "add", "a", "--claim", "=v"}), kExitUsage);
  EXPECT_EQ(Run({"user", "add", "a", "--subject", ""}), kExitUsage);
  EXPECT_EQ(Run({"user", "add", "a", "--password", "x"}), kExitUsage) << "no password on the command line";
  ASSERT_EQ(Run({"user", "add", "--help"}), kExitOk);
  EXPECT_NE(out_.find("examples:"), std::string::npos);
  ASSERT_EQ(Run({"--help"}), kExitOk);
  EXPECT_NE(out_.find("user passwd"), std::string::npos);
}

TEST_F(UserCliTest, ImportUsesTheConfiguredArgon2Parameters) {
  const std::string file = dir_->Sub("users.json");
  std::ofstream(file) << R"({"Users": [{"SubjectId": "u1", "Username": "dave", "Password": "dave-Secret-1"}]})";
  ASSERT_EQ(Run({"--json", "import", file}), kExitOk) << err_;
  EXPECT_NE(out_.find("\"Users\""), std::string::npos) << out_;
  EXPECT_EQ(Stored("u1").password_hash.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u);
  EXPECT_EQ(Stored("u1").created, 1700000000);
  ASSERT_EQ(Run({"import", file}), kExitOk) << err_;
  EXPECT_NE(out_.find("Users:             0 new, 0 updated, 1 unchanged"), std::string::npos) << out_;
  ASSERT_EQ(Run({"--json", "stats"}), kExitOk);
  EXPECT_NE(out_.find("\"users\":\t1"), std::string::npos) << out_;
}

// ---- names -----------------------------------------------------------------------------------------------------

// `client secret add --expires` reads the same grammar as stored records (util/timestamp.h): a date alone, a time
// with Z or an offset, or Unix seconds; a time without a zone is refused as a usage error.
TEST_F(UserCliTest, SecretExpiryTakesTheRecordsDateGrammar) {
  ASSERT_EQ(Run({"client", "add", "svc", "--grant", "client_credentials"}), kExitOk) << err_;
  const std::vector<std::string> accepted = {"2030-01-01", "2030-01-01T00:00:00Z", "2030-01-01T02:00:00+02:00",
                                             "1893456000"};
  for (const std::string& when : accepted) {
    ASSERT_EQ(Run({"client", "secret", "add", "svc", "--generate", "--expires", when}), kExitOk) << when << ": " << err_;
    EXPECT_NE(out_.find("(expires 2030-01-01T00:00:00Z)"), std::string::npos) << when << ": " << out_;
  }
  for (const std::string when : {"2030-01-01T00:00:00", "2030-02-30", "tomorrow", "-5"}) {
    EXPECT_EQ(Run({"client", "secret", "add", "svc", "--generate", "--expires", when}), kExitUsage) << when;
    EXPECT_NE(err_.find("--expires: not a time like 2030-01-01"), std::string::npos) << when << ": " << err_;
  }
  std::unique_ptr<store::Store> opened = OpenStore();
  ASSERT_NE(opened, nullptr);
  Result<store::Client> client = store::Client();
  ASSERT_TRUE(opened->Read([&](store::Txn& txn) {
                      client = txn.GetClient("svc");
                      return client.status();
                    }).ok());
  ASSERT_EQ(client->client_secrets.size(), accepted.size());
  for (const store::Secret& s : client->client_secrets) EXPECT_EQ(s.expiration, 1893456000);
}

TEST(NamesTest, KnownGrantTypes) {
  EXPECT_TRUE(IsKnownGrantType("client_credentials"));
  EXPECT_TRUE(IsKnownGrantType("urn:ietf:params:oauth:grant-type:device_code"));
  EXPECT_FALSE(IsKnownGrantType("client_credential"));
  EXPECT_FALSE(IsKnownGrantType("Client_Credentials"));
}

}  // namespace
}  // namespace tf::admin
