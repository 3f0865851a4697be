// The stored form of a grant (store/grant_encoding.h): the binary encoding round-trips every member, leaves defaults
// out, is refused when malformed in any of the ways a newer build or a damaged value could make it, and the JSON
// records of older builds are still read. Through the LMDB store: what PutGrant writes, and that a JSON record written
// by an older build is read and replaced.
#include <lmdb.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/grant_encoding.h"
#include "store/records.h"
#include "store/store.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::store {
namespace {

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

Grant EveryMember() {
  Grant g;
  g.kind = GrantKind::kDeviceCode;
  g.client_id = "app";
  g.subject = "1001";
  g.scopes = {"openid", "api1.read", "offline_access"};
  g.created = 1700000000;
  g.expires = 1702592000;
  g.absolute_expires = 1705184000;
  g.family = "AAAAAAAAAAAAAAAAAAAAAA";
  g.consumed_at = 0;  // present, though 0
  g.successor = Sha256("next");
  g.auth_time = 1699999999;
  g.idp = "local";
  g.amr = {"pwd", "otp"};
  g.tenant = "acme";
  g.acr = "urn:acme:loa:2";
  g.session_id = "sid";
  g.claims = {{"email", "alice@example.com", ""}, {"age", "42", "integer"}};
  g.access_token_json = R"({"sub":"1001"})";
  g.redirect_uri = "https://app.example.com/cb";
  g.nonce = "n";
  g.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  g.code_challenge_method = "S256";
  g.device_code_hash = Sha256("device");
  g.decision = "approved";
  g.interval = 5;
  g.last_poll = 1700000005;
  g.failures = 3;
  g.locked_until = 1700000100;
  g.generation = (int64_t{1} << 53) - 1;
  g.predecessor = Sha256("before");
  return g;
}

Grant RefreshToken() {
  Grant g;
  g.kind = GrantKind::kRefreshToken;
  g.client_id = "app";
  g.subject = "1001";
  g.scopes = {"openid", "api1.read", "offline_access"};
  g.created = 1700000000;
  g.expires = 1702592000;
  g.family = "q0vC1nR2bWx0dXZ3eHl6AB";
  g.auth_time = 1700000000;
  g.idp = "local";
  g.amr = {"pwd"};
  g.claims = {{"email", "alice@example.com", ""}, {"name", "Alice", ""}};
  g.generation = 12;
  g.predecessor = Sha256("previous handle");
  return g;
}

TEST(GrantEncoding, EveryMemberRoundTrips) {
  const Grant g = EveryMember();
  ASSERT_TRUE(ValidateGrant(g).ok());
  const std::string bytes = EncodeGrant(g);
  EXPECT_EQ(bytes[0], kGrantRecordVersion);
  Result<Grant> back = DecodeGrant(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(g));
  EXPECT_EQ(back->consumed_at, std::optional<int64_t>(0));
  EXPECT_EQ(EncodeGrant(*back), bytes);
}

TEST(GrantEncoding, DefaultsAreLeftOutAndReadBackAsDefaults) {
  Grant g;
  g.kind = GrantKind::kUserCodeThrottle;  // the one kind whose client_id may be ""
  const std::string bytes = EncodeGrant(g);
  EXPECT_EQ(bytes, std::string("\x01\x01\x05\x05\x00\x06\x00", 7));
  Result<Grant> back = DecodeGrant(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(g));
  EXPECT_FALSE(back->consumed_at.has_value());
}

TEST(GrantEncoding, ARefreshTokenTakesAThirdOfItsJson) {
  const Grant g = RefreshToken();
  const std::string bytes = EncodeGrant(g);
  EXPECT_LE(bytes.size(), 200u) << bytes.size();
  EXPECT_LT(bytes.size() * 3, ToJson(g).size()) << bytes.size() << " against " << ToJson(g).size();
  Grant consumed = g;  // a tombstone: only a refresh token of the 43-character form (generation 0) leaves one
  consumed.generation = 0;
  consumed.predecessor.clear();
  consumed.consumed_at = 1700000100;
  consumed.successor = Sha256("next");
  EXPECT_LE(EncodeGrant(ConsumedGrantTombstone(consumed)).size(), 100u);
}

TEST(GrantEncoding, JsonRecordsOfOlderBuildsAreRead) {
  Grant g = EveryMember();
  g.generation = 0;
  g.predecessor.clear();
  Result<Grant> back = DecodeGrant(ToJson(g));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(g));
  Grant consumed = RefreshToken();
  consumed.consumed_at = 1700000100;
  back = DecodeGrant(ToTombstoneJson(consumed));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(ConsumedGrantTombstone(consumed)));
  // Exactly the grant JSON as an older build wrote it, without generation and predecessor.
  back = DecodeGrant(R"({"v":1,"kind":"refresh_token","client_id":"c","subject":"s","scopes":["a"],"created":1,)"
                     R"("expires":2,"absolute_expires":null,"family":"f","consumed_at":null,"successor":""})");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->family, "f");
  EXPECT_EQ(back->generation, 0);
  EXPECT_FALSE(DecodeGrant("{not json").ok());
  EXPECT_FALSE(DecodeGrant(R"({"v":1,"kind":"refresh_token"})").ok());  // client_id, created, expires missing
}

TEST(GrantEncoding, MalformedRecordsAreRefused) {
  const std::string good = EncodeGrant(RefreshToken());
  ASSERT_TRUE(DecodeGrant(good).ok());
  struct Case {
    std::string bytes;
    const char* message;
  };
  const std::string head("\x01\x01\x01\x02\x03" "app" "\x05\x01\x06\x02", 12);  // kind, client_id, created, expires
  ASSERT_TRUE(DecodeGrant(head).ok()) << DecodeGrant(head).status().ToString();
  const std::vector<Case> cases = {
      {"", "empty"},
      {std::string("\x02") + good.substr(1), "unknown record format"},
      {"[]", "unknown record format"},
      {good.substr(0, good.size() - 1), "truncated"},
      {head + "\x1f\x00", "unknown field 31"},
      {head + std::string("\x03\x01", 2) + "s", "out of order"},
      {head + std::string("\x08\x01" "f" "\x08\x01" "g", 6), "out of order"},
      {head + std::string("\x09\x80\x00", 3), "shortest form"},
      {head + std::string("\x09\x80\x80\x80\x80\x80\x80\x80\x80\x01", 10), "larger than"},
      {head + std::string("\x09\xff\xff\xff\xff\xff\xff\xff\x10", 9), "larger than"},
      {head + std::string("\x09\x80", 2), "truncated"},
      {head + std::string("\x08\x05" "ab", 4), "truncated"},
      {head + std::string("\x0d\x7f\x01" "a", 4), "truncated"},
      {head + std::string("\x11\x02\x00\x00\x00", 5), "truncated"},
      {head + std::string("\x0a\x03" "abc", 5), "successor"},
      {std::string("\x01\x01\x07\x05\x01\x06\x02", 7), "unknown grant kind"},
      {std::string("\x01\x01\x01\x05\x01", 5), "missing"},
      {std::string("\x01\x05\x01\x06\x01", 5), "missing"},
      {std::string("\x01\x01\x01\x05\x01\x06\x01", 7), "client_id"},  // required but for user_code_throttle
  };
  for (const Case& c : cases) {
    Result<Grant> g = DecodeGrant(c.bytes);
    ASSERT_FALSE(g.ok()) << Hex(c.bytes);
    EXPECT_NE(g.status().message().find(c.message), std::string::npos)
        << Hex(c.bytes) << " -> " << g.status().message();
  }
  // Every cut inside the record is refused or reads as a shorter, valid record: never out of bounds (the fuzzer,
  // grant_record_fuzz, tries much more).
  for (size_t n = 0; n < good.size(); ++n) (void)DecodeGrant(good.substr(0, n));
}

// What the LMDB store writes (the binary form), and a JSON record an older build wrote is read, listed, replaced and
// removed with its family index entry.
TEST(GrantEncoding, TheStoreWritesTheBinaryFormAndReadsJsonOfOlderBuilds) {
  testing::TempDir tmp("grant_encoding_test");
  std::unique_ptr<Store> store = testing::OpenStoreOrNull(testing::NewStoreOptions(tmp.path()));
  ASSERT_NE(store, nullptr);
  const Grant g = RefreshToken();
  ASSERT_TRUE(store->Update([&](Txn& t) { return t.PutGrant(Sha256("binary"), g); }).ok());
  store.reset();  // LMDB: never the same environment open twice in one process
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 16), 0);
    ASSERT_EQ(mdb_env_open(env, tmp.path().c_str(), 0, 0660), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi grants, families;
    ASSERT_EQ(mdb_dbi_open(txn, "grants", 0, &grants), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "families", MDB_DUPSORT, &families), 0);
    std::string key = Sha256("binary");
    MDB_val k{key.size(), key.data()}, v;
    ASSERT_EQ(mdb_get(txn, grants, &k, &v), 0);
    EXPECT_EQ(std::string(static_cast<const char*>(v.mv_data), v.mv_size), EncodeGrant(g));
    // A record as an older build wrote it, with its family index entry.
    Grant old = g;
    old.generation = 0;
    old.predecessor.clear();
    std::string json = ToJson(old), old_key = Sha256("json"), family = old.family;
    MDB_val ok{old_key.size(), old_key.data()}, ov{json.size(), json.data()};
    ASSERT_EQ(mdb_put(txn, grants, &ok, &ov, 0), 0);
    MDB_val fk{family.size(), family.data()}, fv{old_key.size(), old_key.data()};
    ASSERT_EQ(mdb_put(txn, families, &fk, &fv, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  store = testing::OpenStoreOrNull(testing::NewStoreOptions(tmp.path()));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Read([&](Txn& t) -> Status {
                      Result<Grant> got = t.GetGrant(Sha256("json"));
                      EXPECT_TRUE(got.ok()) << got.status().ToString();
                      if (got.ok()) {
                        EXPECT_EQ(got->family, g.family);
                      }
                      EXPECT_EQ(t.ListFamilyGrants(g.family)->size(), 2u);
                      EXPECT_EQ(t.ListGrants("app", "")->size(), 2u);
                      return Status::OK();
                    }).ok());
  ASSERT_TRUE(store->Update([&](Txn& t) { return t.RemoveGrant(Sha256("json")); }).ok());
  ASSERT_TRUE(store->Read([&](Txn& t) -> Status {
                      EXPECT_EQ(t.ListFamilyGrants(g.family)->size(), 1u);
                      return Status::OK();
                    }).ok());
}

}  // namespace
}  // namespace tf::store
