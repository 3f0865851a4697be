// Private keys at rest (token/key_encryption.h, admin/keys_at_rest.h): the envelope opens only with the KEK and the
// label it was sealed with; tokenctl init, key generate, session rotate-key, key encrypt and kek rotate store keys
// sealed; the Catalog and CheckKeysAtRest open them, and refuse without the right KEK.
#include "token/key_encryption.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "admin/keys_at_rest.h"
#include "oauth/catalog.h"
#include "store/store.h"
#include "test_env.h"
#include "token/jws.h"

namespace tf {
namespace {

using token::KeyEncryptionKey;

KeyEncryptionKey Kek(char fill) { return *KeyEncryptionKey::FromBytes(std::string(32, fill)); }

TEST(KeyEncryptionTest, SealedValueOpensWithTheSameKeyAndLabel) {
  const KeyEncryptionKey kek = KeyEncryptionKey::Generate();
  const std::string plaintext = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";
  const std::string sealed = kek.Seal(plaintext, "key/k1");
  // version | nonce | ciphertext | tag
  ASSERT_EQ(sealed.size(), 1 + 12 + plaintext.size() + 16);
  EXPECT_EQ(sealed[0], '\x01');
  EXPECT_EQ(sealed.find("secret"), std::string::npos);
  Result<std::string> opened = kek.Open(sealed, "key/k1");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, plaintext);
  // A fresh nonce every time: the same plaintext never seals to the same bytes.
  const std::string again = kek.Seal(plaintext, "key/k1");
  EXPECT_NE(again, sealed);
  EXPECT_NE(again.substr(1, 12), sealed.substr(1, 12));
}

TEST(KeyEncryptionTest, WrongKeyDoesNotOpen) {
  const std::string sealed = Kek('a').Seal("payload", "key/k1");
  Result<std::string> opened = Kek('b').Open(sealed, "key/k1");
  EXPECT_EQ(opened.status().code(), Status::Code::kCorruption);
  EXPECT_NE(opened.status().message().find("key-encryption key"), std::string::npos);
}

TEST(KeyEncryptionTest, EveryTamperedByteIsRefused) {
  const KeyEncryptionKey kek = Kek('a');
  const std::string sealed = kek.Seal("payload", "key/k1");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    EXPECT_FALSE(kek.Open(tampered, "key/k1").ok()) << "byte " << i;
  }
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(kek.Open(sealed.substr(0, n), "key/k1").ok()) << "truncated to " << n;
  }
  EXPECT_FALSE(kek.Open(sealed + "x", "key/k1").ok());
}

TEST(KeyEncryptionTest, ValueMovedToAnotherRecordDoesNotOpen) {
  const KeyEncryptionKey kek = Kek('a');
  const std::string pem = "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n";
  const std::string stored = token::SealPrivateKey(kek, "kid-1", pem);
  ASSERT_TRUE(token::IsSealedPrivateKey(stored));
  EXPECT_EQ(*token::OpenPrivateKey(&kek, "kid-1", stored), pem);
  EXPECT_FALSE(token::OpenPrivateKey(&kek, "kid-2", stored).ok());
  // Nor into the session key's place.
  const std::string sealed_session = token::SealSessionKey(kek, std::string(32, 's'));
  EXPECT_EQ(*token::OpenSessionKey(&kek, sealed_session), std::string(32, 's'));
  EXPECT_FALSE(kek.Open(sealed_session, token::SigningKeyLabel("kid-1")).ok());
}

TEST(KeyEncryptionTest, ClearValuesPassAndSealedOnesNeedTheKey) {
  const std::string pem = "-----BEGIN PRIVATE KEY-----\nA\n-----END PRIVATE KEY-----\n";
  EXPECT_FALSE(token::IsSealedPrivateKey(pem));
  EXPECT_EQ(*token::OpenPrivateKey(nullptr, "k", pem), pem);
  EXPECT_EQ(*token::OpenSessionKey(nullptr, std::string(32, 'c')), std::string(32, 'c'));
  const KeyEncryptionKey kek = Kek('a');
  Result<std::string> no_kek = token::OpenPrivateKey(nullptr, "k", token::SealPrivateKey(kek, "k", pem));
  EXPECT_EQ(no_kek.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(no_kek.status().message().find("key_encryption_key_file is not set"), std::string::npos);
  EXPECT_FALSE(token::OpenSessionKey(nullptr, token::SealSessionKey(kek, std::string(32, 'c'))).ok());
  EXPECT_EQ(token::OpenSessionKey(&kek, std::string(40, 'c')).status().code(), Status::Code::kCorruption);
  EXPECT_FALSE(token::OpenPrivateKey(&kek, "k", "kek:not base64!").ok());
}

TEST(KeyEncryptionTest, KeysAreExactly32Bytes) {
  EXPECT_FALSE(KeyEncryptionKey::FromBytes(std::string(31, 'a')).ok());
  EXPECT_FALSE(KeyEncryptionKey::FromBytes(std::string(33, 'a')).ok());
  EXPECT_NE(KeyEncryptionKey::Generate().bytes(), KeyEncryptionKey::Generate().bytes());
}

TEST(KeyEncryptionFileTest, ReadsOnlyA32ByteFileOthersCannotRead) {
  testing::TempDir dir("tf_kek_file");
  const std::string path = dir.Sub("kek");
  EXPECT_TRUE(token::ReadKeyEncryptionKeyFile(path).status().IsNotFound());
  ASSERT_TRUE(admin::WriteKeyEncryptionKeyFile(path, Kek('k'), dir.path()).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  Result<KeyEncryptionKey> read = token::ReadKeyEncryptionKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->bytes(), std::string(32, 'k'));
  // Never overwritten.
  EXPECT_EQ(admin::WriteKeyEncryptionKeyFile(path, Kek('x'), dir.path()).code(), Status::Code::kAlreadyExists);

  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  Result<KeyEncryptionKey> world = token::ReadKeyEncryptionKeyFile(path);
  EXPECT_EQ(world.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(world.status().message().find("chmod 0400"), std::string::npos);

  const std::string short_file = dir.Sub("short");
  std::ofstream(short_file) << std::string(31, 'k');
  ASSERT_EQ(::chmod(short_file.c_str(), 0400), 0);
  Result<KeyEncryptionKey> wrong = token::ReadKeyEncryptionKeyFile(short_file);
  EXPECT_EQ(wrong.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(wrong.status().message().find("kkkk"), std::string::npos) << "the content must never be echoed";
}

// tokenctl with key_encryption_key_file set.
class KeysAtRestTest : public testing::TokenctlFixture {
 protected:
  void SetUp() override {
    TokenctlFixture::SetUp();
    kek_path_ = dir_->Sub("kek");
    std::ofstream(config_, std::ios::app) << "key_encryption_key_file = " << kek_path_ << "\n";
  }

  Config LoadedConfig() {
    Result<Config> c = LoadConfig(config_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : Config();
  }

  std::vector<store::KeyRecord> StoredKeys(store::Store& s) {
    std::vector<store::KeyRecord> keys;
    EXPECT_TRUE(s.Read([&](store::Txn& t) -> Status {
                   auto k = t.ListKeys();
                   if (!k.ok()) return k.status();
                   keys = *k;
                   return Status::OK();
                 }).ok());
    return keys;
  }

  KeyEncryptionKey FileKek() {
    Result<KeyEncryptionKey> k = token::ReadKeyEncryptionKeyFile(kek_path_);
    EXPECT_TRUE(k.ok()) << k.status().ToString();
    return k.ok() ? *k : Kek('0');
  }

  std::string kek_path_;
};

TEST_F(KeysAtRestTest, InitCreatesTheKekAndStoresEveryKeySealed) {
  ASSERT_EQ(Run({"init"}), 0) << err_;
  EXPECT_NE(out_.find("created key_encryption_key_file " + kek_path_), std::string::npos) << out_;
  struct stat st;
  ASSERT_EQ(::stat(kek_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(Run({"key", "generate", "--alg", "EdDSA"}), 0) << err_;
  ASSERT_EQ(Run({"session", "rotate-key"}), 0) << err_;

  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_NE(s, nullptr);
  const std::vector<store::KeyRecord> keys = StoredKeys(*s);
  ASSERT_EQ(keys.size(), 3u);  // ES256 and RS256 (init), EdDSA
  for (const store::KeyRecord& k : keys) {
    EXPECT_TRUE(token::IsSealedPrivateKey(k.private_pem)) << k.kid;
    EXPECT_EQ(k.private_pem.find("BEGIN"), std::string::npos) << k.kid;
  }
  EXPECT_TRUE(token::IsSealedSessionKey(testing::StoredSessionKey(*s)));

  // The Catalog opens them with the KEK ...
  const KeyEncryptionKey kek = FileKek();
  const Config config = LoadedConfig();
  oauth::Catalog catalog(config, s.get(), &kek);
  auto snapshot = catalog.Current();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_NE((*snapshot)->CurrentKey(token::Alg::kES256), nullptr);
  EXPECT_NE((*snapshot)->CurrentKey(token::Alg::kRS256), nullptr);
  EXPECT_EQ((*snapshot)->session_key.size(), 32u);
  Result<oauth::KeysAtRest> at_rest = oauth::CheckKeysAtRest(*s, &kek, "");
  ASSERT_TRUE(at_rest.ok()) << at_rest.status().ToString();
  EXPECT_EQ(at_rest->sealed, 4u);
  EXPECT_EQ(at_rest->clear, 0u);

  // ... and without it, or with another, nothing signs and the worker's check refuses, naming a kid.
  oauth::Catalog blind(config, s.get(), nullptr);
  auto none = blind.Current();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->CurrentKey(token::Alg::kES256), nullptr);
  EXPECT_TRUE((*none)->session_key.empty());
  Result<oauth::KeysAtRest> missing = oauth::CheckKeysAtRest(*s, nullptr, "key_encryption_key_file /x: missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("is encrypted at rest and key_encryption_key_file /x: missing"),
            std::string::npos) << missing.status().message();
  const KeyEncryptionKey other = Kek('o');
  Result<oauth::KeysAtRest> wrong = oauth::CheckKeysAtRest(*s, &other, "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("signing key " + keys[0].kid + " does not decrypt"), std::string::npos)
      << wrong.status().message();
}

TEST_F(KeysAtRestTest, InitNeverReplacesALostKekOfASealedDatabase) {
  ASSERT_EQ(Run({"init"}), 0) << err_;
  ASSERT_EQ(::unlink(kek_path_.c_str()), 0);
  EXPECT_EQ(Run({"init"}), 1);
  EXPECT_NE(err_.find("restore the file from your copy"), std::string::npos) << err_;
  struct stat st;
  EXPECT_NE(::stat(kek_path_.c_str(), &st), 0);
  // Commands that write keys need it too.
  EXPECT_EQ(Run({"key", "generate", "--alg", "EdDSA"}), 1);
  EXPECT_NE(err_.find("key_encryption_key_file " + kek_path_), std::string::npos) << err_;
}

TEST_F(KeysAtRestTest, KeyEncryptSealsAClearDatabaseInPlaceAndKeepsTheSessionKey) {
  // A database made without a KEK.
  {
    std::ofstream(config_) << "issuer = http://127.0.0.1:8080\ndatabase = " << dir_->Sub("db")
                           << "\nmap_size = 16M\naccess_token_signing_alg = ES256\nid_token_signing_alg = ES256\n";
  }
  ASSERT_EQ(Run({"init"}), 0) << err_;
  std::string clear_session_key;
  std::vector<store::KeyRecord> clear_keys;
  {
    std::unique_ptr<store::Store> s = OpenStore();
    ASSERT_NE(s, nullptr);
    clear_keys = StoredKeys(*s);
    clear_session_key = testing::StoredSessionKey(*s);
  }
  ASSERT_EQ(clear_keys.size(), 1u);
  ASSERT_EQ(clear_session_key.size(), 32u);
  EXPECT_EQ(Run({"key", "encrypt"}), 1);
  EXPECT_NE(err_.find("key_encryption_key_file is not set"), std::string::npos) << err_;

  std::ofstream(config_, std::ios::app) << "key_encryption_key_file = " << kek_path_ << "\n";
  ASSERT_EQ(Run({"init"}), 0) << err_;  // creates the KEK, leaves the keys alone and says so
  EXPECT_NE(err_.find("tokenctl key encrypt"), std::string::npos) << err_;
  ASSERT_EQ(Run({"key", "encrypt"}), 0) << err_;
  EXPECT_EQ(out_, "encrypted 1 signing key and the session key\n");
  ASSERT_EQ(Run({"key", "encrypt"}), 0) << err_;
  EXPECT_EQ(out_, "nothing to do: every key is encrypted already\n");

  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_NE(s, nullptr);
  const KeyEncryptionKey kek = FileKek();
  const std::vector<store::KeyRecord> keys = StoredKeys(*s);
  ASSERT_EQ(keys.size(), 1u);
  ASSERT_TRUE(token::IsSealedPrivateKey(keys[0].private_pem));
  EXPECT_EQ(*token::OpenPrivateKey(&kek, keys[0].kid, keys[0].private_pem), clear_keys[0].private_pem);
  EXPECT_EQ(*token::OpenSessionKey(&kek, testing::StoredSessionKey(*s)), clear_session_key);  // sessions survive
}

TEST_F(KeysAtRestTest, KekRotateReSealsEveryKeyWithANewKek) {
  ASSERT_EQ(Run({"init"}), 0) << err_;
  const KeyEncryptionKey old_kek = FileKek();
  std::string session_key;
  {
    std::unique_ptr<store::Store> s = OpenStore();
    ASSERT_NE(s, nullptr);
    session_key = *token::OpenSessionKey(&old_kek, testing::StoredSessionKey(*s));
  }
  ASSERT_EQ(Run({"kek", "rotate"}), 0) << err_;
  EXPECT_NE(out_.find("re-encrypted 2 signing keys and the session key"), std::string::npos) << out_;
  const KeyEncryptionKey new_kek = FileKek();
  EXPECT_NE(new_kek.bytes(), old_kek.bytes());
  struct stat st;
  EXPECT_NE(::stat((kek_path_ + ".new").c_str(), &st), 0);
  ASSERT_EQ(::stat(kek_path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);

  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(oauth::CheckKeysAtRest(*s, &new_kek, "").ok());
  EXPECT_FALSE(oauth::CheckKeysAtRest(*s, &old_kek, "").ok());
  EXPECT_EQ(*token::OpenSessionKey(&new_kek, testing::StoredSessionKey(*s)), session_key);

  // A sealed database never takes a KEK that does not open it: nothing is written.
  const KeyEncryptionKey other = Kek('z');
  Result<admin::SealReport> refused = admin::SealKeysInClear(*s, other);
  EXPECT_EQ(refused.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(oauth::CheckKeysAtRest(*s, &new_kek, "").ok());
}

// A worker that read the old KEK keeps the signing keys it holds (same kid: the same key) when they are sealed again
// under a KEK it has not read; a session key it cannot open is left empty (the authorize endpoint answers 500 until
// the worker restarts).
TEST_F(KeysAtRestTest, ARunningCatalogKeepsItsKeysAcrossAKekRotation) {
  ASSERT_EQ(Run({"init"}), 0) << err_;
  const KeyEncryptionKey old_kek = FileKek();
  const Config config = LoadedConfig();
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_NE(s, nullptr);
  oauth::Catalog catalog(config, s.get(), &old_kek);
  auto before = catalog.Current();
  ASSERT_TRUE(before.ok());
  ASSERT_NE((*before)->CurrentKey(token::Alg::kES256), nullptr);
  const std::string kid = (*before)->CurrentKey(token::Alg::kES256)->kid();

  ASSERT_EQ(Run({"kek", "rotate"}), 0) << err_;
  auto after = catalog.Current();
  ASSERT_TRUE(after.ok());
  ASSERT_NE((*after)->generation, (*before)->generation);
  ASSERT_NE((*after)->CurrentKey(token::Alg::kES256), nullptr);
  EXPECT_EQ((*after)->CurrentKey(token::Alg::kES256)->kid(), kid);
  EXPECT_TRUE((*after)->session_key.empty());

  // A fresh Catalog with the old KEK has nothing to fall back on.
  oauth::Catalog fresh(config, s.get(), &old_kek);
  auto cold = fresh.Current();
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ((*cold)->CurrentKey(token::Alg::kES256), nullptr);
}

}  // namespace
}  // namespace tf
