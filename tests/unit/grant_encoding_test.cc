// The stored form of a grant (store/grant_encoding.h): the binary encoding round-trips every member, leaves defaults
// out, is refused when malformed in any of the ways a newer build or a damaged value could make it, and the JSON
// records of older builds are still read. Through the LMDB store: what PutGrant writes, and that a JSON record written
// by an older build is read and replaced; and the space a typical refresh token takes of the map.
#include <lmdb.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
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
  EXPECT_EQ(bytes, std::string("\x02\x05\x00\x00\x00", 5));  // version, kind, no fields, created 0, expires + 0
  Result<Grant> back = DecodeGrant(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(ToJson(*back), ToJson(g));
  EXPECT_FALSE(back->consumed_at.has_value());
}

TEST(GrantEncoding, ARefreshTokenTakesAFifthOfItsJson) {
  const Grant g = RefreshToken();
  const std::string bytes = EncodeGrant(g);
  EXPECT_LE(bytes.size(), 130u) << bytes.size();
  EXPECT_LT(bytes.size() * 5, ToJson(g).size()) << bytes.size() << " against " << ToJson(g).size();
  Grant consumed = g;  // a tombstone: only a refresh token of the 43-character form (generation 0) leaves one
  consumed.generation = 0;
  consumed.predecessor.clear();
  consumed.consumed_at = 1700000100;
  consumed.successor = Sha256("next");
  EXPECT_LE(EncodeGrant(ConsumedGrantTombstone(consumed)).size(), 80u);
}

// The spellings that take less room read back exactly as they were: a family id of the form RandomHandle(16) is kept
// as its 16 bytes, any other (a non-canonical spelling of the same bytes too) as written; atoms and literals alike;
// times before `created` as well as after.
TEST(GrantEncoding, CompactFormsReadBackExactly) {
  Grant g = RefreshToken();
  for (const char* family : {"q0vC1nR2bWx0dXZ3eHl6AA", "q0vC1nR2bWx0dXZ3eHl6AB", "fam", "AAAAAAAAAAAAAAAAAAAAAA",
                             "q0vC1nR2bWx0dXZ3eHl6A", "q0vC1nR2bWx0dXZ3eHl6A=", "openid", "x"}) {
    g.family = family;
    g.scopes = {"openid", "", "api1", std::string(200, 's'), "offline_access"};
    g.claims = {{"email", "", ""}, {"role", "admin", "json"}, {"x", "1", "http://www.w3.org/2001/XMLSchema#integer"}};
    g.auth_time = g.created + 10;
    g.absolute_expires = 0;
    g.consumed_at = (int64_t{1} << 53) - 1;
    const std::string bytes = EncodeGrant(g);
    Result<Grant> back = DecodeGrant(bytes);
    ASSERT_TRUE(back.ok()) << family << ": " << back.status().ToString();
    EXPECT_EQ(ToJson(*back), ToJson(g)) << family;
    EXPECT_EQ(EncodeGrant(*back), bytes) << family;
  }
  g.family = "q0vC1nR2bWx0dXZ3eHl6AA";  // canonical: 16 bytes
  const size_t raw = EncodeGrant(g).size();
  g.family = "q0vC1nR2bWx0dXZ3eHl6AB";  // the same bytes, spelt otherwise: kept as text
  EXPECT_EQ(EncodeGrant(g).size(), raw + 6);
}

// Records of the first binary version, as builds before this one wrote them (the exact bytes), are still read.
TEST(GrantEncoding, RecordsOfTheFirstBinaryVersionAreRead) {
  const auto bytes = [](std::string_view hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    return out;
  };
  const std::pair<Grant, std::string> cases[] = {
      {RefreshToken(), bytes("01010102036170700304313030310403066f70656e696409617069312e726561640e6f66666c696e655f6163636573730580e2cfaa060680fcedab06081671307643316e52326257783064585a3365486c3641420b80e2cfaa060c056c6f63616c0d0103707764110205656d61696c11616c696365406578616d706c652e636f6d00046e616d6505416c696365001d0c1e2011e9ef4143b51da39e06cc4bc272dd8d2d72dac50d43417f3c498a1136a8a24b")},
      {EveryMember(), bytes("01010302036170700304313030310403066f70656e696409617069312e726561640e6f66666c696e655f6163636573730580e2cfaa060680fcedab060780968cad0608164141414141414141414141414141414141414141414109000a20c6c1c9a9c8543f1e4cd980064cf1625eeb61a90703b2464fff039f21682508b30bffe1cfaa060c056c6f63616c0d0203707764036f74700e0461636d650f0e75726e3a61636d653a6c6f613a321003736964110205656d61696c11616c696365406578616d706c652e636f6d000361676502343207696e7465676572120e7b22737562223a2231303031227d131a68747470733a2f2f6170702e6578616d706c652e636f6d2f636214016e152b45394d656c686f61324f77764672454d544a67754348616f654b3174385552576275474a537374772d634d1604533235361720263a4dbe41488fb87214b0032339dbb9f0c8da14c16dfcf13084bf3c2552eca51808617070726f76656419051a85e2cfaa061b031ce4e2cfaa061dffffffffffffff0f1e206db7d803e74f1ffa7d8f5adc0bf95b3e15bf4c8373fffadf546227cc6c6742cb")},
  };
  for (const auto& [grant, stored] : cases) {
    ASSERT_EQ(stored[0], '\x01');
    Result<Grant> back = DecodeGrant(stored);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(ToJson(*back), ToJson(grant));
    EXPECT_LT(EncodeGrant(*back).size(), stored.size());  // rewritten in the current form when next stored
  }
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
      {std::string("\x03") + good.substr(1), "unknown record format"},
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
  // Version 2: version, kind, field set, created, expires - created (zigzag), then the fields.
  const std::string head2("\x02\x00\x01\x02\x04" "\x30", 6);  // refresh token, client_id = atom 0 ("")
  const std::vector<Case> cases2 = {
      {good.substr(0, good.size() - 1), "truncated"},
      {good + "x", "trailing bytes"},
      {std::string("\x02\x09\x00\x02\x04", 5), "unknown grant kind"},
      {std::string("\x02\x05\x80\x80\x80\x80\x01\x02\x04", 9), "newer build"},
      {std::string("\x02\x05\x00\x02\x07", 5), "non-negative"},  // expires = created - 4
      {std::string("\x02\x05\x00\x02", 4), "truncated"},
      {std::string("\x02\x05\x00\x02\x80\x80\x80\x80\x80\x80\x80\x80\x01", 13), "out of range"},
      {std::string("\x02\x00\x01\x02\x04\x2f", 6), "unknown atom 47"},
      {std::string("\x02\x00\x01\x02\x04\x1f", 6), "unknown atom 31"},
      {std::string("\x02\x00\x01\x02\x04\x35" "ab", 8), "truncated"},
      {head2, "client_id"},
      {std::string("\x02\x00\x09\x02\x04\x33" "app" "\x00" "0123456789abcde", 25), "truncated"},  // raw family
      {std::string("\x02\x00\x81\x04\x02\x04\x33" "app" "0123456789", 20), "truncated"},  // predecessor
  };
  for (const Case& c : cases2) {
    Result<Grant> g = DecodeGrant(c.bytes);
    ASSERT_FALSE(g.ok()) << Hex(c.bytes);
    EXPECT_NE(g.status().message().find(c.message), std::string::npos)
        << Hex(c.bytes) << " -> " << g.status().message();
  }
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
  testing::RawLmdb(tmp.path(), true, [&](MDB_txn* txn) {
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
  });
  ASSERT_FALSE(HasFatalFailure());
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


// ---- Space per grant ---------------------------------------------------------------------------------------------

// A refresh token as a login through the password or code grant stores it after a few rotations: its own family
// (RandomHandle(16), as NewRefreshToken makes it), generation and predecessor, authentication data and a claims
// snapshot. `i` makes each one different.
Grant TypicalRefreshToken(int i) {
  Grant g = RefreshToken();
  g.subject = std::to_string(100000 + i);
  g.family = RandomHandle(16);
  g.created = 1700000000 + i;
  g.expires = g.created + 30 * 86400;
  g.auth_time = g.created - 3 * 86400;
  g.generation = 4;
  g.predecessor = Sha256("previous " + std::to_string(i));
  g.handle_check = Sha256("handle " + std::to_string(i)).substr(0, kHandleCheckSize);
  return g;
}

struct MapUse {
  uint64_t grants_bytes = 0;    // pages of `grants` x page size
  uint64_t families_bytes = 0;  // pages of `families` x page size (the family index of older builds)
  uint64_t used_bytes = 0;      // the map's high-water mark (me_last_pgno + 1) x page size
  uint64_t free_bytes = 0;      // pages on the free list (reused before the map grows)
};

MapUse MeasureMap(const std::string& path) {
  MapUse use;
  testing::RawLmdb(path, false, [&](MDB_txn* txn) {
    MDB_env* env = mdb_txn_env(txn);
    MDB_envinfo info;
    MDB_stat st;
    EXPECT_EQ(mdb_env_info(env, &info), 0);
    EXPECT_EQ(mdb_env_stat(env, &st), 0);
    const uint64_t psize = st.ms_psize;
    use.used_bytes = (info.me_last_pgno + 1) * psize;
    for (const auto& [name, out] :
         {std::pair{"grants", &use.grants_bytes}, std::pair{"families", &use.families_bytes}}) {
      MDB_dbi dbi;
      EXPECT_EQ(mdb_dbi_open(txn, name, 0, &dbi), 0);
      EXPECT_EQ(mdb_stat(txn, dbi, &st), 0);
      *out = (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * psize;
    }
    // The free list (database 0): each value is a count followed by that many page numbers.
    MDB_cursor* cursor = nullptr;
    EXPECT_EQ(mdb_cursor_open(txn, 0, &cursor), 0);
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      use.free_bytes += *static_cast<const size_t*>(v.mv_data) * psize;
    }
    mdb_cursor_close(cursor);
  });
  return use;
}

// 20,000 typical refresh tokens written into a fresh LMDB as this build stores them (under their chain's key, store.h,
// so with no family index entry), 64 per commit as group commit batches them: the pages of the map in use (its
// high-water mark less the free list, whose pages are reused before the map grows) per token are at most 300 bytes
// (keyed by handle hash with a family index entry, before chain keys: 284 = 250 + 34; with the first binary version
// and the `families` index, 436: 339 + 97).
TEST(GrantEncoding, SpacePerRefreshToken) {
  constexpr int kGrants = 20000;
  constexpr int kPerCommit = 64;
  testing::TempDir tmp("grant_size_test");
  {
    std::unique_ptr<Store> store = testing::OpenStoreOrNull(testing::NewStoreOptions(tmp.path(), true, 256u << 20));
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < kGrants; i += kPerCommit) {
      ASSERT_TRUE(store->Update([&](Txn& t) -> Status {
                         for (int j = i; j < std::min(i + kPerCommit, kGrants); ++j) {
                           const Grant g = TypicalRefreshToken(j);
                           const std::string key = FamilyKeyPrefix(g.family) + Sha256(g.family).substr(0, 16);
                           TF_RETURN_IF_ERROR(t.PutGrant(key, g));
                         }
                         return Status::OK();
                       }).ok());
    }
  }
  const MapUse use = MeasureMap(tmp.path());
  const uint64_t in_use = use.used_bytes - use.free_bytes;
  const size_t record = EncodeGrant(TypicalRefreshToken(0)).size();
  // `grants` alone; the pages of `family_index` are in a nested tree that mdb_stat does not count, so the index is
  // what is in use besides `grants` (with the few pages of the other databases and the two meta pages).
  std::printf("record %zu B; per grant: %.1f B of the map in use (grants %.1f, family index and the rest %.1f); "
              "high-water mark %.1f (%.1f on the free list)\n",
              record, double(in_use) / kGrants, double(use.grants_bytes) / kGrants,
              double(in_use - use.grants_bytes) / kGrants, double(use.used_bytes) / kGrants,
              double(use.free_bytes) / kGrants);
  EXPECT_LE(record, 160u);
  EXPECT_EQ(use.families_bytes, 0u);  // nothing in the index of older builds
  EXPECT_LE(in_use, 300u * kGrants);
}

}  // namespace
}  // namespace tf::store
