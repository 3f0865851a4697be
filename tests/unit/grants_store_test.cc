// Tests for the grants part of store/: the Grant and FamilyRevocation records (JSON round trip, invariants), and,
// as TEST_P(GrantsStoreTest, ...) run on every Store implementation (store_contract.h), the
// `grants` / `family_index` / `families` / `revocations` databases (put, get, remove, the family index behind
// RevokeFamily, listing), garbage collection in batches (CollectExpired), one-time redemption across processes, gc
// running beside traffic; and the LMDB store's own: what its files hold, the upgrade of a database made before grants
// existed, and one whose families an older build indexed.
#include <lmdb.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "store/records.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "store_contract.h"
#include "test_env.h"

namespace tf::store {
namespace {

// A fresh /tmp/grants_store_test.XXXXXX, removed on destruction.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("grants_store_test") {}
};

StoreOptions Options(const std::string& path, bool create = true) {
  return testing::NewStoreOptions(path, create, 32u << 20);
}

std::unique_ptr<Store> MustOpen(const StoreOptions& o) { return testing::OpenStoreOrNull(o); }

Grant MakeGrant(const std::string& client, const std::string& subject, const std::string& family, int64_t expires) {
  Grant g;
  g.kind = GrantKind::kRefreshToken;
  g.client_id = client;
  g.subject = subject;
  g.scopes = {"api", "offline_access"};
  g.created = 1000;
  g.expires = expires;
  g.family = family;
  return g;
}

// The key a caller uses: SHA-256 of the handle.
std::string H(const std::string& handle) { return Sha256(handle); }

Result<Grant> ParseJson(const std::string& json) {
  cJSON* j = cJSON_Parse(json.c_str());
  if (j == nullptr) return Status::InvalidArgument("not JSON");
  Result<Grant> g = GrantFromJson(j, "");
  cJSON_Delete(j);
  return g;
}

Status::Code Code(Store& s, const std::string& hash) {
  Status::Code code = Status::Code::kInternal;
  EXPECT_TRUE(s.Read([&](Txn& t) {
                 code = t.GetGrant(hash).status().code();
                 return Status::OK();
               }).ok());
  return code;
}

size_t Revoke(Store& s, const std::string& family, int64_t now, int64_t keep_until) {
  size_t n = 999;
  Status st = s.Update([&](Txn& t) -> Status {
    Result<size_t> r = t.RevokeFamily(family, now, keep_until);
    if (!r.ok()) return r.status();
    n = *r;
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

std::optional<FamilyRevocation> Revocation(Store& s, const std::string& family) {
  std::optional<FamilyRevocation> out;
  Status st = s.Read([&](Txn& t) -> Status {
    Result<std::optional<FamilyRevocation>> r = t.GetFamilyRevocation(family);
    if (!r.ok()) return r.status();
    out = *r;
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

Status Put(Store& s, const std::string& hash, const Grant& g) {
  return s.Update([&](Txn& t) { return t.PutGrant(hash, g); });
}

// A chain key of a family (store.h "Chain keys"): FamilyKeyPrefix(family), then 16 bytes of the chain's own.
std::string ChainKey(const std::string& family, const std::string& chain) {
  return FamilyKeyPrefix(family) + Sha256(chain).substr(0, 16);
}

size_t FamilyCount(Store& s, const std::string& family) {
  size_t n = 999;
  EXPECT_TRUE(s.Read([&](Txn& t) -> Status {
                 Result<size_t> c = t.CountFamilyGrants(family);
                 if (!c.ok()) return c.status();
                 n = *c;
                 return Status::OK();
               }).ok());
  return n;
}

// ---- Records ---------------------------------------------------------------------------------------------------------

TEST(GrantJson, RoundTripOfEveryField) {
  Grant g;
  g.kind = GrantKind::kReferenceToken;
  g.client_id = "web";
  g.subject = "alice";
  g.scopes = {"openid", "api", "offline_access"};
  g.created = 1700000000;
  g.expires = 1702592000;
  g.absolute_expires = 1705000000;
  g.family = "fam-1";
  g.consumed_at = 1700000100;
  g.successor = H("next-handle");
  g.auth_time = 1699999999;
  g.idp = "local";
  g.amr = {"pwd", "mfa"};
  g.tenant = "acme";
  g.acr = "urn:acr:1";
  g.session_id = "sid-9";
  g.claims = {{"name", "Alice", ""}, {"age", "42", "http://www.w3.org/2001/XMLSchema#integer"}};
  g.access_token_json = R"({"sub":"alice","scope":"api"})";
  g.redirect_uri = "https://app.example/cb";
  g.nonce = "n-0S6";
  g.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  g.code_challenge_method = "S256";

  const std::string json = ToJson(g);
  EXPECT_EQ(json.rfind("{\"v\":1,\"kind\":\"reference_token\",", 0), 0u) << json;
  // The successor hash is stored as base64url text, never as raw bytes.
  EXPECT_NE(json.find("\"successor\":\"" + Base64UrlEncode(g.successor) + "\""), std::string::npos) << json;
  EXPECT_EQ(json.find(g.successor), std::string::npos);

  Result<Grant> back = ParseJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->kind, g.kind);
  EXPECT_EQ(back->client_id, g.client_id);
  EXPECT_EQ(back->subject, g.subject);
  EXPECT_EQ(back->scopes, g.scopes);
  EXPECT_EQ(back->created, g.created);
  EXPECT_EQ(back->expires, g.expires);
  EXPECT_EQ(back->absolute_expires, g.absolute_expires);
  EXPECT_EQ(back->family, g.family);
  EXPECT_EQ(back->consumed_at, g.consumed_at);
  EXPECT_EQ(back->successor, g.successor);
  EXPECT_EQ(back->auth_time, g.auth_time);
  EXPECT_EQ(back->idp, g.idp);
  EXPECT_EQ(back->amr, g.amr);
  EXPECT_EQ(back->tenant, g.tenant);
  EXPECT_EQ(back->acr, g.acr);
  EXPECT_EQ(back->session_id, g.session_id);
  ASSERT_EQ(back->claims.size(), 2u);
  EXPECT_EQ(back->claims[1].type, "age");
  EXPECT_EQ(back->claims[1].value, "42");
  EXPECT_EQ(back->claims[1].value_type, "http://www.w3.org/2001/XMLSchema#integer");
  EXPECT_EQ(back->access_token_json, g.access_token_json);
  EXPECT_EQ(back->redirect_uri, g.redirect_uri);
  EXPECT_EQ(back->nonce, g.nonce);
  EXPECT_EQ(back->code_challenge, g.code_challenge);
  EXPECT_EQ(back->code_challenge_method, g.code_challenge_method);
  EXPECT_EQ(ToJson(*back), json);
}

TEST(GrantJson, AbsentOptionalsStayAbsentAndEveryKindHasItsName) {
  for (GrantKind k : {GrantKind::kAuthorizationCode, GrantKind::kRefreshToken, GrantKind::kReferenceToken,
                      GrantKind::kDeviceCode}) {
    Grant g = MakeGrant("c", "", "f", 5);
    g.kind = k;
    const std::string json = ToJson(g);
    EXPECT_NE(json.find("\"kind\":\"" + std::string(GrantKindName(k)) + "\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"consumed_at\":null"), std::string::npos) << json;
    EXPECT_NE(json.find("\"successor\":\"\""), std::string::npos) << json;
    Result<Grant> back = ParseJson(json);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->kind, k);
    EXPECT_FALSE(back->consumed_at.has_value());
    EXPECT_FALSE(back->absolute_expires.has_value());
    EXPECT_FALSE(back->auth_time.has_value());
    EXPECT_TRUE(back->successor.empty());
  }
  EXPECT_EQ(GrantKindName(GrantKind::kAuthorizationCode), "authorization_code");
  EXPECT_EQ(GrantKindName(GrantKind::kRefreshToken), "refresh_token");
  EXPECT_EQ(GrantKindName(GrantKind::kReferenceToken), "reference_token");
  EXPECT_EQ(GrantKindName(GrantKind::kDeviceCode), "device_code");
}

TEST(GrantJson, BadRecordsAreRefusedNamingTheProperty) {
  const std::string ok = R"("kind":"refresh_token","client_id":"c","family":"f","created":1,"expires":2)";
  ASSERT_TRUE(ParseJson("{\"v\":1," + ok + "}").ok());
  struct Case {
    std::string json, message;
  } cases[] = {
      {R"({"client_id":"c","family":"f","created":1,"expires":2})", "kind: required"},
      {R"({"kind":"refresh_token","family":"f","created":1,"expires":2})", "client_id: required"},
      {R"({"kind":"refresh_token","client_id":"c","family":")" + std::string(201, 'f') + R"(","created":1,"expires":2})",
       "family: longer than 200"},
      {R"({"kind":"refresh_token","client_id":"c","family":"f","expires":2})", "created: required"},
      {R"({"kind":"refresh_token","client_id":"c","family":"f","created":1})", "expires: required"},
      {"{" + ok + R"(,"kind2":1})", "kind2: unknown property"},
      {R"({"kind":"RefreshToken","client_id":"c","family":"f","created":1,"expires":2})", "kind: expected"},
      {"{" + ok + R"(,"successor":"abc"})", "successor: expected"},
      {"{" + ok + R"(,"successor":")" + Base64Encode(H("x")) + "\"}", "successor: expected"},
      {"{" + ok + R"(,"consumed_at":-1})", "consumed_at: expected a non-negative integer"},
      {"{\"v\":2," + ok + "}", "v: unsupported record version"},
  };
  for (const Case& c : cases) {
    Result<Grant> g = ParseJson(c.json);
    ASSERT_FALSE(g.ok()) << c.json;
    EXPECT_NE(g.status().message().find(c.message), std::string::npos) << c.json << " -> " << g.status().message();
  }
}

TEST(GrantJson, FamilyRevocationRoundTrip) {
  const std::string json = ToJson(FamilyRevocation{100, 3700});
  EXPECT_EQ(json, R"({"v":1,"revoked_at":100,"keep_until":3700})");
  cJSON* j = cJSON_Parse(json.c_str());
  Result<FamilyRevocation> r = FamilyRevocationFromJson(j, "");
  cJSON_Delete(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revoked_at, 100);
  EXPECT_EQ(r->keep_until, 3700);
  j = cJSON_Parse(R"({"v":1,"revoked_at":100})");
  EXPECT_FALSE(FamilyRevocationFromJson(j, "").ok());
  cJSON_Delete(j);
}

// ---- Store -----------------------------------------------------------------------------------------------------------

// The grants part of the Store contract (store.h), run once per implementation (store_contract.h).
class GrantsStoreTest : public testing::StoreContract {
 protected:
  uint64_t Generation() {
    Result<uint64_t> g = store_->ConfigGeneration();
    EXPECT_TRUE(g.ok());
    return g.ok() ? *g : ~0ull;
  }
  std::vector<std::pair<std::string, Grant>> List(const std::string& client, const std::string& subject) {
    std::vector<std::pair<std::string, Grant>> out;
    Status st = store_->Read([&](Txn& t) -> Status {
      auto r = t.ListGrants(client, subject);
      if (!r.ok()) return r.status();
      out = std::move(r).value();
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  StoreStats Stats() {
    Result<StoreStats> s = store_->Stats();
    EXPECT_TRUE(s.ok());
    return s.ok() ? *s : StoreStats{};
  }
};
TF_STORE_CONTRACT_SUITE(GrantsStoreTest);

// The LMDB store's own: what its files hold.
class LmdbGrantsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(Options(tmp_.path()));
    ASSERT_NE(store_, nullptr);
  }
  TempDir tmp_;
  std::unique_ptr<Store> store_;
};

TEST_P(GrantsStoreTest, PutGetRemoveWithoutMovingTheConfigGeneration) {
  const uint64_t gen = Generation();
  const std::string h = H("handle-1");
  EXPECT_EQ(Code(*store_, h), Status::Code::kNotFound);
  Grant g = MakeGrant("c1", "alice", "fam", 5000);
  ASSERT_TRUE(Put(*store_, h, g).ok());
  ASSERT_TRUE(store_->Read([&](Txn& t) -> Status {
                      Result<Grant> got = t.GetGrant(h);
                      EXPECT_TRUE(got.ok()) << got.status().ToString();
                      if (got.ok()) {
                        EXPECT_EQ(got->client_id, "c1");
                        EXPECT_EQ(got->scopes, g.scopes);
                      }
                      return Status::OK();
                    }).ok());
  // Replace (a redeemed one-time grant).
  g.consumed_at = 1234;
  ASSERT_TRUE(Put(*store_, h, g).ok());
  ASSERT_TRUE(store_->Read([&](Txn& t) -> Status {
                      EXPECT_EQ(t.GetGrant(h)->consumed_at, std::optional<int64_t>(1234));
                      return Status::OK();
                    }).ok());
  EXPECT_EQ(Stats().grants, 1u);
  ASSERT_TRUE(store_->Update([&](Txn& t) { return t.RemoveGrant(h); }).ok());
  EXPECT_EQ(Code(*store_, h), Status::Code::kNotFound);
  EXPECT_EQ(store_->Update([&](Txn& t) { return t.RemoveGrant(h); }).code(), Status::Code::kNotFound);
  EXPECT_EQ(Generation(), gen);
  EXPECT_EQ(Stats().grants, 0u);
}

TEST_P(GrantsStoreTest, BadKeysAndBadGrantsAreRefusedAndWriteNothing) {
  EXPECT_EQ(Put(*store_, "short", MakeGrant("c", "", "f", 1)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Code(*store_, "short"), Status::Code::kInvalidArgument);
  EXPECT_EQ(Put(*store_, H("a"), MakeGrant("", "", "f", 1)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Put(*store_, H("a"), MakeGrant("c", "", std::string("f\0g", 3), 1)).code(),
            Status::Code::kInvalidArgument);
  Grant bad = MakeGrant("c", "", "f", 1);
  bad.successor = "not 32 bytes";
  EXPECT_EQ(Put(*store_, H("a"), bad).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Code(*store_, H("a")), Status::Code::kNotFound);
  EXPECT_EQ(Stats().grants, 0u);
  // Writes inside Read() are refused.
  EXPECT_FALSE(store_->Read([&](Txn& t) { return t.PutGrant(H("a"), MakeGrant("c", "", "f", 1)); }).ok());
  EXPECT_FALSE(store_->Read([&](Txn& t) { return t.CollectExpired(10, 10).status(); }).ok());
  EXPECT_EQ(store_->CollectExpired(10, 0).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(LmdbGrantsStoreTest, TheHandleItselfNeverReachesTheDatabaseFile) {
  const std::string handle = RandomHandle(32);
  ASSERT_TRUE(Put(*store_, H(handle), MakeGrant("c", "s", "fam", 99)).ok());
  store_.reset();
  std::ifstream f(tmp_.path() + "/data.mdb", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(bytes.find(handle), std::string::npos);
  EXPECT_NE(bytes.find(H(handle)), std::string::npos);  // the key is the hash
}

TEST_P(GrantsStoreTest, RevokeFamilyDeletesExactlyTheFamilyAndIsIdempotent) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Put(*store_, H("a" + std::to_string(i)), MakeGrant("c", "s", "A", 9e3)).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Put(*store_, H("b" + std::to_string(i)), MakeGrant("c", "s", "B", 9e3)).ok());
  // A grant moved from family A to family C no longer belongs to A.
  ASSERT_TRUE(Put(*store_, H("moved"), MakeGrant("c", "s", "A", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("moved"), MakeGrant("c", "s", "C", 9e3)).ok());
  // A removed grant is not counted.
  ASSERT_TRUE(Put(*store_, H("gone"), MakeGrant("c", "s", "A", 9e3)).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveGrant(H("gone")); }).ok());
  const uint64_t gen = Generation();

  EXPECT_FALSE(Revocation(*store_, "A").has_value());
  EXPECT_EQ(Revoke(*store_, "A", 100, 3700), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Code(*store_, H("a" + std::to_string(i))), Status::Code::kNotFound);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Code(*store_, H("b" + std::to_string(i))), Status::Code::kOk);
  EXPECT_EQ(Code(*store_, H("moved")), Status::Code::kOk);
  std::optional<FamilyRevocation> r = Revocation(*store_, "A");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->revoked_at, 100);
  EXPECT_EQ(r->keep_until, 3700);

  // Again: nothing more to delete; the first revocation time stays, the later keep_until wins.
  EXPECT_EQ(Revoke(*store_, "A", 200, 3000), 0u);
  r = Revocation(*store_, "A");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->revoked_at, 100);
  EXPECT_EQ(r->keep_until, 3700);
  EXPECT_EQ(Revoke(*store_, "A", 300, 9000), 0u);
  EXPECT_EQ(Revocation(*store_, "A")->keep_until, 9000);

  EXPECT_EQ(Revoke(*store_, "C", 100, 200), 1u);
  EXPECT_EQ(Code(*store_, H("moved")), Status::Code::kNotFound);
  // A family that never had grants can be revoked too (a JWT-only family).
  EXPECT_EQ(Revoke(*store_, "never", 100, 200), 0u);
  EXPECT_TRUE(Revocation(*store_, "never").has_value());
  EXPECT_FALSE(Revocation(*store_, "B").has_value());
  EXPECT_FALSE(Revocation(*store_, "").has_value());
  EXPECT_EQ(Stats().grants, 2u);
  EXPECT_EQ(Stats().revoked_families, 3u);
  EXPECT_EQ(Generation(), gen);
  // A failed revocation inside an aborted Update leaves everything as it was.
  EXPECT_FALSE(store_->Update([](Txn& t) -> Status {
                       EXPECT_EQ(*t.RevokeFamily("B", 1, 2), 2u);
                       return Status::Conflict("abort");
                     }).ok());
  EXPECT_EQ(Code(*store_, H("b0")), Status::Code::kOk);
  EXPECT_FALSE(Revocation(*store_, "B").has_value());
}

TEST_P(GrantsStoreTest, AGrantWithoutFamilyIsStoredButNotIndexed) {
  // A client_credentials reference token: no family.
  Grant g = MakeGrant("svc", "", "", 50);
  g.kind = GrantKind::kReferenceToken;
  ASSERT_TRUE(Put(*store_, H("ref"), g).ok());
  ASSERT_TRUE(Put(*store_, H("other"), MakeGrant("c", "s", "F", 50)).ok());
  EXPECT_EQ(Revoke(*store_, "F", 1, 2), 1u);
  EXPECT_EQ(Code(*store_, H("ref")), Status::Code::kOk);
  // Moving it into a family and out again keeps the index right.
  g.family = "G";
  ASSERT_TRUE(Put(*store_, H("ref"), g).ok());
  g.family = "";
  ASSERT_TRUE(Put(*store_, H("ref"), g).ok());
  EXPECT_EQ(Revoke(*store_, "G", 1, 2), 0u);
  EXPECT_EQ(Code(*store_, H("ref")), Status::Code::kOk);
  Result<CollectResult> r = store_->CollectExpired(50, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 1u);
  EXPECT_EQ(Code(*store_, H("ref")), Status::Code::kNotFound);
}

TEST_P(GrantsStoreTest, ListGrantsFiltersByClientAndSubject) {
  ASSERT_TRUE(Put(*store_, H("1"), MakeGrant("web", "alice", "f1", 9)).ok());
  ASSERT_TRUE(Put(*store_, H("2"), MakeGrant("web", "bob", "f2", 9)).ok());
  ASSERT_TRUE(Put(*store_, H("3"), MakeGrant("cli", "alice", "f3", 9)).ok());
  ASSERT_TRUE(Put(*store_, H("4"), MakeGrant("cli", "", "f4", 9)).ok());
  auto hashes = [](const std::vector<std::pair<std::string, Grant>>& v) {
    std::set<std::string> out;
    for (const auto& [h, g] : v) out.insert(h);
    return out;
  };
  EXPECT_EQ(hashes(List("", "")), (std::set<std::string>{H("1"), H("2"), H("3"), H("4")}));
  EXPECT_EQ(hashes(List("web", "")), (std::set<std::string>{H("1"), H("2")}));
  EXPECT_EQ(hashes(List("", "alice")), (std::set<std::string>{H("1"), H("3")}));
  EXPECT_EQ(hashes(List("cli", "alice")), (std::set<std::string>{H("3")}));
  EXPECT_TRUE(List("nobody", "").empty());
  auto all = List("", "");
  for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].first, all[i].first);  // ordered by hash
  for (const auto& [h, g] : all) {
    if (h == H("2")) {
      EXPECT_EQ(g.subject, "bob");
    }
  }
}

TEST_P(GrantsStoreTest, ListFamilyRevocationsReturnsEveryRecordOrderedByFamily) {
  auto list = [&] {
    std::vector<std::pair<std::string, FamilyRevocation>> out;
    Status st = store_->Read([&](Txn& t) -> Status {
      auto r = t.ListFamilyRevocations();
      if (!r.ok()) return r.status();
      out = std::move(r).value();
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  };
  EXPECT_TRUE(list().empty());
  ASSERT_TRUE(Put(*store_, H("1"), MakeGrant("c", "s", "mid", 9e3)).ok());
  EXPECT_EQ(Revoke(*store_, "mid", 100, 3700), 1u);
  EXPECT_EQ(Revoke(*store_, "zeta", 200, 300), 0u);   // a JWT-only family, already past keep_until
  EXPECT_EQ(Revoke(*store_, "alpha", 50, 9000), 0u);
  const auto all = list();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].first, "alpha");
  EXPECT_EQ(all[0].second.revoked_at, 50);
  EXPECT_EQ(all[0].second.keep_until, 9000);
  EXPECT_EQ(all[1].first, "mid");
  EXPECT_EQ(all[1].second.revoked_at, 100);
  EXPECT_EQ(all[1].second.keep_until, 3700);
  EXPECT_EQ(all[2].first, "zeta");
  // Collected records leave the list.
  Result<CollectResult> r = store_->CollectExpired(4000, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revocations, 2u);
  const auto left = list();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].first, "alpha");
}

TEST_P(GrantsStoreTest, CollectExpiredRemovesOnlyExpiredInBatchesAndKeepsTheFamilyIndex) {
  const int64_t now = 5000;
  // Family F: 3 expired (one exactly at now: dead at `expires`), 2 live. Family G: 4 expired.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Put(*store_, H("fx" + std::to_string(i)), MakeGrant("c", "s", "F", now - i)).ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Put(*store_, H("fl" + std::to_string(i)), MakeGrant("c", "s", "F", now + 1)).ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Put(*store_, H("gx" + std::to_string(i)), MakeGrant("c", "s", "G", 10)).ok());
  // Revocations: two expired (one exactly at now), one kept.
  Revoke(*store_, "R1", 1, now);
  Revoke(*store_, "R2", 1, now - 100);
  Revoke(*store_, "R3", 1, now + 1);
  const uint64_t gen = Generation();
  ASSERT_EQ(Stats().grants, 9u);
  ASSERT_EQ(Stats().revoked_families, 3u);

  size_t grants = 0, revocations = 0, calls = 0;
  for (;;) {
    Result<CollectResult> r = store_->CollectExpired(now, 3);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ++calls;
    EXPECT_LE(r->grants + r->revocations, 3u);
    EXPECT_EQ(r->more, r->grants + r->revocations == 3u);
    grants += r->grants;
    revocations += r->revocations;
    if (!r->more) break;
    ASSERT_LT(calls, 10u);
  }
  EXPECT_EQ(grants, 7u);
  EXPECT_EQ(revocations, 2u);
  EXPECT_EQ(calls, 4u);  // 3 + 3 + 3 deletions, then an empty call says there is no more
  EXPECT_EQ(Stats().grants, 2u);
  EXPECT_EQ(Stats().revoked_families, 1u);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(Code(*store_, H("fl" + std::to_string(i))), Status::Code::kOk);
  EXPECT_TRUE(Revocation(*store_, "R3").has_value());
  EXPECT_FALSE(Revocation(*store_, "R1").has_value());
  EXPECT_EQ(Generation(), gen);

  // The family index lost the collected members: revoking F deletes (and counts) exactly the two live ones, G none.
  EXPECT_EQ(Revoke(*store_, "G", now, now), 0u);
  EXPECT_EQ(Revoke(*store_, "F", now, now), 2u);
  EXPECT_EQ(Stats().grants, 0u);
  // With nothing expired, a call deletes nothing and says so.
  Result<CollectResult> r = store_->CollectExpired(now - 1, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->grants + r->revocations, 0u);
  EXPECT_FALSE(r->more);
}

TEST_P(GrantsStoreTest, ResumedScansStillReachGrantsThatExpireBehindThem) {
  // 20 expired grants; one batch of 5 leaves the scan's resume point somewhere in the middle of the key order.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put(*store_, H("e" + std::to_string(i)), MakeGrant("c", "s", "F", 1)).ok());
  Result<CollectResult> first = store_->CollectExpired(10, 5);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(first->more);
  // New dead grants land on both sides of the resume point (their keys are random); the loop still gets them all.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put(*store_, H("n" + std::to_string(i)), MakeGrant("c", "s", "G", 2)).ok());
  ASSERT_TRUE(Put(*store_, H("live"), MakeGrant("c", "s", "G", 11)).ok());
  size_t total = first->grants;
  for (int calls = 0;; ++calls) {
    ASSERT_LT(calls, 20);
    Result<CollectResult> r = store_->CollectExpired(10, 5);
    ASSERT_TRUE(r.ok());
    total += r->grants;
    if (!r->more) break;
  }
  EXPECT_EQ(total, 40u);
  EXPECT_EQ(Stats().grants, 1u);
  EXPECT_EQ(Code(*store_, H("live")), Status::Code::kOk);
}

TEST_P(GrantsStoreTest, TxnCollectExpiredWorksInsideTheCallersTransaction) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Put(*store_, H("e" + std::to_string(i)), MakeGrant("c", "s", "F", 1)).ok());
  ASSERT_TRUE(Put(*store_, H("live"), MakeGrant("c", "s", "F", 99)).ok());
  CollectResult got;
  ASSERT_TRUE(store_->Update([&](Txn& t) -> Status {
                      Result<CollectResult> r = t.CollectExpired(10, 3);
                      if (!r.ok()) return r.status();
                      got = *r;
                      return Status::OK();
                    }).ok());
  EXPECT_EQ(got.grants, 3u);
  EXPECT_TRUE(got.more);
  EXPECT_EQ(Stats().grants, 2u);
  EXPECT_EQ(Revoke(*store_, "F", 1, 2), 2u);  // the index lost the three collected members
}

// Entries of `families` and `family_index` as a raw LMDB transaction sees them (-1: the database does not exist).
std::pair<long, long> IndexEntries(const std::string& path) {
  long counts[2] = {-1, -1};
  testing::RawLmdb(path, false, [&](MDB_txn* txn) {
    const char* names[2] = {"families", "family_index"};
    for (int i = 0; i < 2; ++i) {
      MDB_dbi dbi;
      MDB_stat st;
      if (mdb_dbi_open(txn, names[i], 0, &dbi) == 0 && mdb_stat(txn, dbi, &st) == 0) counts[i] = st.ms_entries;
    }
  });
  return {counts[0], counts[1]};
}

TEST_F(LmdbGrantsStoreTest, FamilyIndexHasNoLeftoversAfterGc) {
  // Every collected grant's index entry is gone: a raw count of `family_index` duplicates (and of `families`, which
  // builds before it wrote) matches the live grants.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Put(*store_, H("x" + std::to_string(i)), MakeGrant("c", "s", "fam" + std::to_string(i % 3), i < 15 ? 1 : 99)).ok());
  }
  ASSERT_TRUE(store_->CollectExpired(50, 100).ok());
  store_.reset();
  EXPECT_EQ(IndexEntries(tmp_.path()), std::make_pair(0L, 5L));
}

TEST_F(LmdbGrantsStoreTest, GrantsUnderChainKeysTakeNoFamilyIndexEntry) {
  ASSERT_TRUE(Put(*store_, ChainKey("F", "c1"), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, ChainKey("F", "c1"), MakeGrant("c", "s", "F", 9e3)).ok());  // replaced in place
  ASSERT_TRUE(Put(*store_, ChainKey("F", "c2"), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("f-code"), MakeGrant("c", "s", "F", 9e3)).ok());
  // A chain key of another family is an ordinary key for this grant's family: indexed.
  ASSERT_TRUE(Put(*store_, ChainKey("G", "c1"), MakeGrant("c", "s", "F", 9e3)).ok());
  EXPECT_EQ(FamilyCount(*store_, "F"), 4u);
  store_.reset();
  EXPECT_EQ(IndexEntries(tmp_.path()), std::make_pair(0L, 2L));
  // That record goes with G, whose key it holds (so every round of a revocation in batches makes progress), and its
  // entry in F's index with it.
  store_ = MustOpen(Options(tmp_.path(), false));
  ASSERT_NE(store_, nullptr);
  Result<size_t> n = store_->RevokeFamilyInBatches("G", 1, 2, 1);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(FamilyCount(*store_, "F"), 3u);
  store_.reset();
  EXPECT_EQ(IndexEntries(tmp_.path()), std::make_pair(0L, 1L));
}

// The family index stands for a grant by the first 8 bytes of its key: grants whose keys share them (made here; of
// random hashes, practically never) keep their families apart, and removing one leaves the other indexed.
std::string Shared(char tail) { return std::string(8, 'p') + std::string(24, tail); }

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> FamilyKeys(Store& s, const std::string& family) {
  std::vector<std::string> keys;
  EXPECT_TRUE(s.Read([&](Txn& t) -> Status {
                 Result<std::vector<std::pair<std::string, Grant>>> f = t.ListFamilyGrants(family);
                 if (!f.ok()) return f.status();
                 for (const auto& [hash, grant] : *f) keys.push_back(hash);
                 return Status::OK();
               }).ok());
  std::sort(keys.begin(), keys.end());
  return keys;
}

TEST_F(LmdbGrantsStoreTest, GrantsWhoseKeysShareAPrefixKeepTheirFamiliesApart) {
  ASSERT_TRUE(Put(*store_, Shared('1'), MakeGrant("c", "s", "A", 9000)).ok());
  ASSERT_TRUE(Put(*store_, Shared('2'), MakeGrant("c", "s", "A", 9000)).ok());
  ASSERT_TRUE(Put(*store_, Shared('3'), MakeGrant("c", "s", "B", 9000)).ok());
  EXPECT_EQ(FamilyKeys(*store_, "A"), (std::vector<std::string>{Shared('1'), Shared('2')}));
  EXPECT_EQ(FamilyKeys(*store_, "B"), std::vector<std::string>{Shared('3')});
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveGrant(Shared('1')); }).ok());
  EXPECT_EQ(FamilyKeys(*store_, "A"), std::vector<std::string>{Shared('2')});  // still indexed
  EXPECT_EQ(Revoke(*store_, "B", 1, 2), 1u);
  EXPECT_EQ(Code(*store_, Shared('2')), Status::Code::kOk);
  // A grant moved to another family leaves its old one.
  ASSERT_TRUE(Put(*store_, Shared('2'), MakeGrant("c", "s", "C", 9000)).ok());
  EXPECT_TRUE(FamilyKeys(*store_, "A").empty());
  EXPECT_EQ(Revoke(*store_, "A", 1, 2), 0u);
  ASSERT_TRUE(Put(*store_, Shared('4'), MakeGrant("c", "s", "C", 9000)).ok());
  ASSERT_TRUE(Put(*store_, Shared('5'), MakeGrant("c", "s", "D", 9000)).ok());
  Result<size_t> revoked = store_->RevokeFamilyInBatches("C", 1, 2, 1);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 2u);
  EXPECT_EQ(Code(*store_, Shared('5')), Status::Code::kOk);
  EXPECT_EQ(store_->Stats()->grants, 1u);
}

// A database as the build before `family_index` left it (its families indexed in `families` by their whole keys, no
// `family_index`) keeps working with no migration: read-only, then writable, where the family index takes the
// entries of rewritten grants, and revocation in batches and gc empty both.
TEST(LmdbGrantsStore, ADatabaseIndexedByTheBuildBeforeKeepsWorking) {
  TempDir tmp;
  std::unique_ptr<Store> store = MustOpen(Options(tmp.path()));
  ASSERT_NE(store, nullptr);
  store.reset();
  testing::RawLmdb(tmp.path(), true, [&](MDB_txn* txn) {
    MDB_dbi grants, families, index;
    ASSERT_EQ(mdb_dbi_open(txn, "grants", 0, &grants), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "families", MDB_DUPSORT, &families), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "family_index", 0, &index), 0);
    ASSERT_EQ(mdb_drop(txn, index, 1), 0);
    for (const auto& [handle, family, expires] : {std::tuple{"o1", "OLD", 9000}, std::tuple{"o2", "OLD", 9000},
                                                  std::tuple{"o3", "OLD", 9000}, std::tuple{"x1", "X", 50}}) {
      std::string key = H(handle), value = ToJson(MakeGrant("c", "s", family, expires)), fam = family;
      MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
      ASSERT_EQ(mdb_put(txn, grants, &k, &v, 0), 0);
      MDB_val fk{fam.size(), fam.data()}, fv{key.size(), key.data()};
      ASSERT_EQ(mdb_put(txn, families, &fk, &fv, 0), 0);
    }
  });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_EQ(IndexEntries(tmp.path()), std::make_pair(4L, -1L));
  StoreOptions read_only = Options(tmp.path(), false);
  read_only.read_only = true;
  store = MustOpen(read_only);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(FamilyKeys(*store, "OLD"), Sorted({H("o1"), H("o2"), H("o3")}));
  ASSERT_TRUE(store->Read([](Txn& t) -> Status {
                      EXPECT_EQ(*t.CountFamilyGrants("OLD"), 3u);
                      return Status::OK();
                    }).ok());
  store = MustOpen(Options(tmp.path(), false));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Put(*store, H("n1"), MakeGrant("c", "s", "OLD", 9000)).ok());
  ASSERT_TRUE(Put(*store, H("o1"), MakeGrant("c", "s2", "OLD", 9000)).ok());  // rewritten: indexed anew
  ASSERT_TRUE(store->Update([](Txn& t) { return t.RemoveGrant(H("o2")); }).ok());
  EXPECT_EQ(IndexEntries(tmp.path()), std::make_pair(2L, 2L));  // o3 and x1; n1 and o1
  ASSERT_TRUE(store->Read([](Txn& t) -> Status {
                      EXPECT_EQ(*t.CountFamilyGrants("OLD"), 3u);
                      return Status::OK();
                    }).ok());
  EXPECT_EQ(FamilyKeys(*store, "OLD"), Sorted({H("n1"), H("o1"), H("o3")}));
  Result<size_t> revoked = store->RevokeFamilyInBatches("OLD", 100, 200, 1);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_EQ(*revoked, 3u);
  EXPECT_EQ(IndexEntries(tmp.path()), std::make_pair(1L, 0L));
  Result<CollectResult> gc = store->CollectExpired(100, 10);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->grants, 1u);
  EXPECT_EQ(IndexEntries(tmp.path()), std::make_pair(0L, 0L));
}

// ---- Tombstones --------------------------------------------------------------------------------------------------

// A refresh token as the password grant stores it: scopes, authentication data and a claims snapshot.
Grant FullGrant(const std::string& family) {
  Grant g = MakeGrant("app", "1001", family, 1 << 30);
  g.scopes = {"openid", "profile", "api1.read", "api1.write", "offline_access"};
  g.auth_time = 1000;
  g.idp = "local";
  g.amr = {"pwd"};
  g.tenant = "acme";
  g.acr = "urn:acme:loa:2";
  g.session_id = "session-0123456789abcdef";
  g.claims = {{"email", "alice@example.com", ""}, {"name", "Alice Example", ""}, {"role", "admin", ""}};
  g.redirect_uri = "https://app.example.com/callback";
  g.nonce = "n-0S6_WzA2Mj";
  g.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  g.code_challenge_method = "S256";
  return g;
}

TEST(GrantJson, TombstoneKeepsWhatReuseDetectionNeedsAndRestoresFromTheSuccessor) {
  Grant consumed = FullGrant("fam");
  consumed.consumed_at = 2000;
  consumed.successor = H("next");
  consumed.absolute_expires = 5000;
  const std::string json = ToTombstoneJson(consumed);
  Result<Grant> t = ParseJson(json);
  ASSERT_TRUE(t.ok()) << t.status().ToString() << " " << json;
  EXPECT_EQ(t->kind, GrantKind::kRefreshToken);
  EXPECT_EQ(t->client_id, "app");
  EXPECT_EQ(t->subject, "1001");
  EXPECT_EQ(t->created, 1000);
  EXPECT_EQ(t->expires, 1 << 30);
  EXPECT_EQ(t->absolute_expires, std::optional<int64_t>(5000));
  EXPECT_EQ(t->family, "fam");
  EXPECT_EQ(t->consumed_at, std::optional<int64_t>(2000));
  EXPECT_EQ(t->successor, H("next"));
  EXPECT_EQ(t->code_challenge, consumed.code_challenge);  // a code replay can still be checked for proof
  EXPECT_EQ(t->code_challenge_method, "S256");
  EXPECT_TRUE(t->scopes.empty());
  EXPECT_TRUE(t->claims.empty());
  EXPECT_TRUE(t->amr.empty());
  EXPECT_FALSE(t->auth_time.has_value());
  EXPECT_EQ(t->idp, "");
  EXPECT_EQ(t->tenant, "");
  EXPECT_EQ(t->acr, "");
  EXPECT_EQ(t->session_id, "");
  EXPECT_EQ(t->redirect_uri, "");
  EXPECT_EQ(t->nonce, "");
  EXPECT_EQ(json.find("\"scopes\""), std::string::npos) << json;  // empty properties are not written
  EXPECT_LT(json.size() * 2, ToJson(consumed).size()) << json;
  // The successor of a rotation is the consumed grant with new times and no links: restoring gives it back.
  Grant successor = consumed;
  successor.created = 2000;
  successor.consumed_at.reset();
  successor.successor.clear();
  const Grant restored = RestoredFromSuccessor(*t, successor);
  EXPECT_EQ(ToJson(restored), ToJson(consumed));
}

TEST_P(GrantsStoreTest, AConsumedGrantIsStoredAsItsTombstone) {
  Grant g = FullGrant("fam");
  ASSERT_TRUE(Put(*store_, H("live"), g).ok());
  g.consumed_at = 2000;
  g.successor = H("next");
  ASSERT_TRUE(Put(*store_, H("live"), g).ok());
  ASSERT_TRUE(store_->Read([&](Txn& t) -> Status {
                      Result<Grant> got = t.GetGrant(H("live"));
                      if (!got.ok()) return got.status();
                      EXPECT_EQ(ToJson(*got), ToJson(ConsumedGrantTombstone(g)));
                      return Status::OK();
                    }).ok());
  // Still in its family: revoking the family deletes it.
  EXPECT_EQ(Revoke(*store_, "fam", 1, 2), 1u);
}

// A family rotated many times grows by a tombstone per rotation, not by a record: measured in the pages of the
// `grants` database after 300 rotations, against the same rotations keeping every consumed grant whole.
size_t GrantsPages(const std::string& path) {
  size_t pages = 0;
  testing::RawLmdb(path, false, [&](MDB_txn* txn) {
    MDB_dbi dbi;
    if (mdb_dbi_open(txn, "grants", 0, &dbi) == 0) {
      MDB_stat st;
      EXPECT_EQ(mdb_stat(txn, dbi, &st), 0);
      pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
  });
  return pages;
}

size_t PagesAfterRotations(bool keep_whole) {
  constexpr int kRotations = 300;
  TempDir tmp;
  {
    std::unique_ptr<Store> store = MustOpen(Options(tmp.path()));
    EXPECT_NE(store, nullptr);
    if (store == nullptr) return 0;
    std::string current = H("rotation-0");
    EXPECT_TRUE(Put(*store, current, FullGrant("fam")).ok());
    for (int i = 1; i <= kRotations; ++i) {
      const std::string next = H("rotation-" + std::to_string(i));
      Status st = store->Update([&](Txn& t) -> Status {
        Result<Grant> g = t.GetGrant(current);
        if (!g.ok()) return g.status();
        Grant successor = *g;
        g->consumed_at = 5000 + i;
        g->successor = next;
        if (keep_whole) {  // what the store kept before tombstones: the consumed record, unchanged
          Grant kept = *g;
          kept.consumed_at.reset();
          TF_RETURN_IF_ERROR(t.PutGrant(H("whole-" + std::to_string(i)), kept));
          TF_RETURN_IF_ERROR(t.RemoveGrant(current));
        } else {
          TF_RETURN_IF_ERROR(t.PutGrant(current, *g));
        }
        return t.PutGrant(next, successor);
      });
      EXPECT_TRUE(st.ok()) << st.ToString();
      current = next;
    }
  }
  return GrantsPages(tmp.path());
}

TEST(LmdbGrantsStore, RotationsCostATombstoneEachNotARecord) {
  const size_t tombstones = PagesAfterRotations(false);
  const size_t whole = PagesAfterRotations(true);
  EXPECT_GT(tombstones, 0u);
  EXPECT_LT(tombstones * 2, whole) << "tombstones " << tombstones << " pages, whole records " << whole;
}

// ---- Revocation in batches ---------------------------------------------------------------------------------------

TEST_P(GrantsStoreTest, ARevokedFamilyIsDeadAtOnceWhileItsGrantsAreStillThere) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Put(*store_, H("f" + std::to_string(i)), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("g"), MakeGrant("c", "s", "G", 9e3)).ok());
  // Only the record (limit 0): the grants are still stored, and none can be read.
  ASSERT_TRUE(store_->Update([](Txn& t) -> Status {
                       Result<RevokeProgress> p = t.RevokeFamilyPart("F", 100, 200, 0);
                       if (!p.ok()) return p.status();
                       EXPECT_EQ(p->grants, 0u);
                       EXPECT_TRUE(p->more);
                       return Status::OK();
                     }).ok());
  EXPECT_EQ(Stats().grants, 4u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Code(*store_, H("f" + std::to_string(i))), Status::Code::kNotFound);
  EXPECT_EQ(Code(*store_, H("g")), Status::Code::kOk);
  ASSERT_TRUE(Revocation(*store_, "F").has_value());
  EXPECT_EQ(Revocation(*store_, "F")->revoked_at, 100);
  // Two per call: two calls delete them, the second says none are left.
  std::vector<RevokeProgress> parts;
  for (int call = 0; call < 2; ++call) {
    ASSERT_TRUE(store_->Update([&](Txn& t) -> Status {
                         EXPECT_EQ(*t.CountFamilyGrants("F"), call == 0 ? 3u : 1u);
                         Result<RevokeProgress> p = t.RevokeFamilyPart("F", 300, 400, 2);
                         if (!p.ok()) return p.status();
                         parts.push_back(*p);
                         return Status::OK();
                       }).ok());
  }
  EXPECT_EQ(parts[0].grants, 2u);
  EXPECT_TRUE(parts[0].more);
  EXPECT_EQ(parts[1].grants, 1u);
  EXPECT_FALSE(parts[1].more);
  EXPECT_EQ(Stats().grants, 1u);
  EXPECT_EQ(Revocation(*store_, "F")->revoked_at, 100);  // merged as RevokeFamily merges
  EXPECT_EQ(Revocation(*store_, "F")->keep_until, 400);
  ASSERT_TRUE(store_->Read([](Txn& t) -> Status {
                      EXPECT_EQ(*t.CountFamilyGrants("F"), 0u);
                      EXPECT_EQ(*t.CountFamilyGrants("G"), 1u);
                      EXPECT_EQ(*t.CountFamilyGrants(""), 0u);
                      return Status::OK();
                    }).ok());
}

// ListFamilyGrants (what an old-generation refresh handle is checked against): the family's grants through its
// index, none of another family, none once the family is revoked; the base class's scan gives the same answer.
TEST_P(GrantsStoreTest, ListFamilyGrantsListsExactlyTheFamily) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Put(*store_, H("f" + std::to_string(i)), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("g"), MakeGrant("c", "s", "G", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("none"), MakeGrant("c", "s", "", 9e3)).ok());
  ASSERT_TRUE(store_->Read([&](Txn& t) -> Status {
                      for (bool indexed : {true, false}) {
                        Result<std::vector<std::pair<std::string, Grant>>> f =
                            indexed ? t.ListFamilyGrants("F") : t.Txn::ListFamilyGrants("F");
                        if (!f.ok()) return f.status();
                        std::vector<std::string> hashes;
                        for (const auto& [hash, grant] : *f) {
                          EXPECT_EQ(grant.family, "F");
                          hashes.push_back(hash);
                        }
                        std::sort(hashes.begin(), hashes.end());
                        std::vector<std::string> want = {H("f0"), H("f1"), H("f2")};
                        std::sort(want.begin(), want.end());
                        EXPECT_EQ(hashes, want) << (indexed ? "indexed" : "scan");
                        EXPECT_TRUE(t.ListFamilyGrants("")->empty());
                        EXPECT_TRUE(t.ListFamilyGrants("nobody")->empty());
                      }
                      return Status::OK();
                    }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RevokeFamily("F", 10, 20).status(); }).ok());
  ASSERT_TRUE(store_->Read([](Txn& t) -> Status {
                      EXPECT_TRUE(t.ListFamilyGrants("F")->empty());
                      EXPECT_EQ(t.ListFamilyGrants("G")->size(), 1u);
                      return Status::OK();
                    }).ok());
}

TEST_P(GrantsStoreTest, RevokeFamilyInBatchesDeletesEveryGrantAndIsIdempotent) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(Put(*store_, H("b" + std::to_string(i)), MakeGrant("c", "s", "B", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("other"), MakeGrant("c", "s", "O", 9e3)).ok());
  EXPECT_EQ(store_->RevokeFamilyInBatches("B", 10, 20, 0).status().code(), Status::Code::kInvalidArgument);
  Result<size_t> n = store_->RevokeFamilyInBatches("B", 10, 20, 4);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 25u);
  EXPECT_EQ(Stats().grants, 1u);
  EXPECT_EQ(Code(*store_, H("other")), Status::Code::kOk);
  EXPECT_EQ(Revocation(*store_, "B")->keep_until, 20);
  n = store_->RevokeFamilyInBatches("B", 30, 40, 4);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  EXPECT_EQ(Revocation(*store_, "B")->revoked_at, 10);
  EXPECT_EQ(Revocation(*store_, "B")->keep_until, 40);
}

// Grants under chain keys belong to their family for every family operation, beside the family's other grants,
// and a chain's record replaced in place stays one grant.
TEST_P(GrantsStoreTest, GrantsUnderChainKeysBelongToTheirFamily) {
  ASSERT_TRUE(Put(*store_, ChainKey("F", "c1"), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, ChainKey("F", "c2"), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("f-code"), MakeGrant("c", "s", "F", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, ChainKey("G", "c1"), MakeGrant("c", "s", "G", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("g"), MakeGrant("c", "s", "G", 9e3)).ok());
  EXPECT_EQ(FamilyCount(*store_, "F"), 3u);
  EXPECT_EQ(FamilyKeys(*store_, "F"), Sorted({ChainKey("F", "c1"), ChainKey("F", "c2"), H("f-code")}));
  Grant next = MakeGrant("c", "s", "F", 9e3);
  next.generation = 2;
  next.handle_check = H("handle 2").substr(0, 16);
  ASSERT_TRUE(Put(*store_, ChainKey("F", "c1"), next).ok());
  EXPECT_EQ(Stats().grants, 5u);
  EXPECT_EQ(FamilyCount(*store_, "F"), 3u);
  ASSERT_TRUE(store_->Read([&](Txn& t) -> Status {
                      Result<Grant> g = t.GetGrant(ChainKey("F", "c1"));
                      if (!g.ok()) return g.status();
                      EXPECT_EQ(g->generation, 2);
                      EXPECT_EQ(g->handle_check, H("handle 2").substr(0, 16));
                      return Status::OK();
                    }).ok());
  Result<size_t> n = store_->RevokeFamilyInBatches("F", 10, 20, 1);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 3u);
  EXPECT_EQ(Stats().grants, 2u);
  EXPECT_EQ(FamilyCount(*store_, "F"), 0u);
  EXPECT_EQ(FamilyCount(*store_, "G"), 2u);
  EXPECT_EQ(Code(*store_, ChainKey("G", "c1")), Status::Code::kOk);
  // gc keeps a revocation record while its family has a grant under a chain key, then collects it.
  ASSERT_TRUE(Put(*store_, ChainKey("R", "c1"), MakeGrant("c", "s", "R", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, ChainKey("R", "c2"), MakeGrant("c", "s", "R", 9e3)).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RevokeFamilyPart("R", 10, 50, 1).status(); }).ok());
  EXPECT_EQ(Code(*store_, ChainKey("R", "c2")), Status::Code::kNotFound);  // dead with its family
  Result<CollectResult> r = store_->CollectExpired(100, 100);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 1u);  // the one RevokeFamilyPart left; F's revocation record went in the same call
  EXPECT_TRUE(Revocation(*store_, "R").has_value());
  r = store_->CollectExpired(100, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revocations, 1u);
  EXPECT_FALSE(Revocation(*store_, "R").has_value());
  EXPECT_EQ(Stats().grants, 2u);
}

// What an interrupted RevokeFamilyInBatches leaves (the record and some grants) is finished by gc: the grants go
// although they have not expired, and the record stays until its keep_until has passed and no grant is left.
TEST_P(GrantsStoreTest, CollectExpiredFinishesAnInterruptedRevocation) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put(*store_, H("r" + std::to_string(i)), MakeGrant("c", "s", "R", 9e3)).ok());
  ASSERT_TRUE(Put(*store_, H("live"), MakeGrant("c", "s", "L", 9e3)).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RevokeFamilyPart("R", 10, 50, 1).status(); }).ok());
  EXPECT_EQ(Stats().grants, 5u);
  Result<CollectResult> r = store_->CollectExpired(100, 100);  // keep_until 50 has passed, but grants are left
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 4u);
  EXPECT_EQ(r->revocations, 0u);
  EXPECT_TRUE(Revocation(*store_, "R").has_value());
  r = store_->CollectExpired(100, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->grants, 0u);
  EXPECT_EQ(r->revocations, 1u);
  EXPECT_FALSE(Revocation(*store_, "R").has_value());
  EXPECT_EQ(Code(*store_, H("live")), Status::Code::kOk);
  EXPECT_EQ(Stats().grants, 1u);
}

// ---- Processes -------------------------------------------------------------------------------------------------------

template <typename Fn>
pid_t Spawn(Fn fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

constexpr int kWin = 10, kLoss = 11;

TEST_P(GrantsStoreTest, OneTimeRedemptionFromFourProcessesHasExactlyOneWinner) {
  store_.reset();
  for (int round = 0; round < 5; ++round) {
    const std::string hash = H("once-" + std::to_string(round));
    {
      Result<std::unique_ptr<Store>> s = OpenAnother();
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      ASSERT_TRUE(Put(**s, hash, MakeGrant("c", "s", "f", 1 << 30)).ok());
    }  // closed before fork: each child opens its own handle
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    std::vector<pid_t> kids;
    for (int i = 0; i < 4; ++i) {
      kids.push_back(Spawn([&, i]() -> int {
        close(pipefd[1]);
        Result<std::unique_ptr<Store>> s = OpenAnother();
        if (!s.ok()) return 1;
        char c;
        if (read(pipefd[0], &c, 1) != 0) return 2;  // start together: wait until the parent closes the pipe
        bool won = false;
        Status st = (*s)->Update([&](Txn& t) -> Status {
          Result<Grant> g = t.GetGrant(hash);
          if (!g.ok()) return g.status();
          if (g->consumed_at.has_value()) return Status::OK();
          g->consumed_at = 100 + i;
          won = true;
          return t.PutGrant(hash, *g);
        });
        if (!st.ok()) return 3;
        return won ? kWin : kLoss;
      }));
    }
    close(pipefd[0]);
    close(pipefd[1]);
    int wins = 0, losses = 0;
    for (pid_t pid : kids) {
      const int rc = Wait(pid);
      if (rc == kWin) ++wins;
      if (rc == kLoss) ++losses;
      EXPECT_TRUE(rc == kWin || rc == kLoss) << "child exit " << rc;
    }
    EXPECT_EQ(wins, 1);
    EXPECT_EQ(losses, 3);
  }
}

TEST_P(GrantsStoreTest, GcLoopBesideTrafficNeverFailsAnOperation) {
  store_.reset();  // closed before fork: each process opens its own handle
  // Both run for 1.5 s and, on a busy machine, on until each has done its minimum share (at most 60 s).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  const auto hard_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  auto go_on = [&](bool enough) {
    const auto t = std::chrono::steady_clock::now();
    return t < hard_deadline && (t < deadline || !enough);
  };
  const int64_t now = 1000000;
  // The collector: CollectExpired in small batches, again and again.
  const pid_t gc = Spawn([&]() -> int {
    Result<std::unique_ptr<Store>> s = OpenAnother();
    if (!s.ok()) return 1;
    size_t collected = 0;
    while (go_on(collected > 0)) {
      Result<CollectResult> r = (*s)->CollectExpired(now, 5);
      if (!r.ok()) return 2;
      collected += r->grants;
    }
    return collected > 0 ? 0 : 3;  // it did collect the traffic's dead grants
  });
  // The traffic: issue a live grant and an already dead one, redeem the live one (rotate), revoke now and then.
  const pid_t traffic = Spawn([&]() -> int {
    Result<std::unique_ptr<Store>> s = OpenAnother();
    if (!s.ok()) return 1;
    int i = 0;
    while (go_on(i > 10)) {
      const std::string live = H("live" + std::to_string(i)), dead = H("dead" + std::to_string(i));
      const std::string family = "fam" + std::to_string(i / 10);
      if (!Put(**s, live, MakeGrant("c", "s", family, now + 100)).ok()) return 2;
      if (!Put(**s, dead, MakeGrant("c", "s", family, now - 1)).ok()) return 3;
      Status st = (*s)->Update([&](Txn& t) -> Status {
        Result<Grant> g = t.GetGrant(live);
        if (!g.ok()) return g.status();  // a live grant must never be collected
        if (g->consumed_at.has_value()) return Status::Conflict("already consumed");
        g->consumed_at = now;
        g->successor = H("live" + std::to_string(i + 1));
        return t.PutGrant(live, *g);
      });
      if (!st.ok()) return 4;
      if (i % 10 == 9) {
        Status rv = (*s)->Update([&](Txn& t) { return t.RevokeFamily(family, now, now - 1).status(); });
        if (!rv.ok()) return 5;
      }
      ++i;
    }
    return i > 10 ? 0 : 6;
  });
  EXPECT_EQ(Wait(traffic), 0);
  EXPECT_EQ(Wait(gc), 0);
  // Afterwards everything dead goes, and every surviving grant is live with its index entry.
  Result<std::unique_ptr<Store>> reopened = OpenAnother();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  std::unique_ptr<Store> s = std::move(reopened).value();
  for (;;) {
    Result<CollectResult> r = s->CollectExpired(now, 1000);
    ASSERT_TRUE(r.ok());
    if (!r->more) break;
  }
  Status st = s->Read([&](Txn& t) -> Status {
    auto all = t.ListGrants("", "");
    EXPECT_TRUE(all.ok());
    for (const auto& [h, g] : *all) EXPECT_GT(g.expires, now);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(s->Stats()->revoked_families, 0u);  // their keep_until had passed
}

// ---- Upgrade ---------------------------------------------------------------------------------------------------------

void RawCreate(const std::string& path, std::initializer_list<const char*> dbs) {
  testing::RawLmdb(path, true, [&](MDB_txn* txn) {
    MDB_dbi meta = 0;
    for (const char* db : dbs) {
      MDB_dbi dbi;
      ASSERT_EQ(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
      if (std::string(db) == "meta") meta = dbi;
    }
    for (auto [key, value] : {std::pair{"schema_version", "1"}, std::pair{"config_generation", "4"}}) {
      MDB_val k{strlen(key), const_cast<char*>(key)}, v{strlen(value), const_cast<char*>(value)};
      ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    }
  });
}

TEST(GrantsUpgrade, DatabaseWithoutGrantDatabasesOpensAndGetsThem) {
  TempDir tmp;
  RawCreate(tmp.path(), {"meta", "clients", "resources", "keys", "users", "usernames"});
  StoreOptions ro = Options(tmp.path(), false);
  ro.read_only = true;
  {
    std::unique_ptr<Store> s = MustOpen(ro);
    ASSERT_NE(s, nullptr);
    Status st = s->Read([](Txn& t) -> Status {
      EXPECT_EQ(t.GetGrant(H("x")).status().code(), Status::Code::kNotFound);
      auto list = t.ListGrants("", "");
      EXPECT_TRUE(list.ok() && list->empty());
      auto r = t.GetFamilyRevocation("f");
      EXPECT_TRUE(r.ok() && !r->has_value());
      return Status::OK();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(s->Stats()->grants, 0u);
  }
  {
    std::unique_ptr<Store> s = MustOpen(Options(tmp.path(), false));
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(Put(*s, H("x"), MakeGrant("c", "s", "f", 9)).ok());
    EXPECT_EQ(Revoke(*s, "g", 1, 2), 0u);
    EXPECT_EQ(*s->ConfigGeneration(), 4u);
  }
  std::unique_ptr<Store> s = MustOpen(ro);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Code(*s, H("x")), Status::Code::kOk);
  EXPECT_TRUE(Revocation(*s, "g").has_value());
  EXPECT_EQ(s->Stats()->grants, 1u);
  EXPECT_EQ(s->Stats()->revoked_families, 1u);
}

}  // namespace
}  // namespace tf::store
