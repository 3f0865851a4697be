// Grant administration (admin/grants.h) over a real LMDB store in a temporary directory: list filters, revocation by
// family, client, subject and id prefix (ambiguous and unknown prefixes included), garbage collection in batches, and
// the `tokenctl grants ...` / `tokenctl gc` / `tokenctl stats` commands driven through RunTokenctl.
#include <gtest/gtest.h>

#include <cjson/cJSON.h>

#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "admin/cli.h"
#include "admin/grants.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::admin {
namespace {

using store::Grant;
using store::GrantKind;

constexpr int64_t kNow = 1700000000;

// A 32-byte handle hash: the SHA-256 of a made-up handle, as the token path stores it.
std::string HashOf(std::string_view handle) { return Sha256(handle); }

Grant MakeGrant(GrantKind kind, std::string client, std::string subject, std::string family, int64_t created,
                int64_t expires) {
  Grant g;
  g.kind = kind;
  g.client_id = std::move(client);
  g.subject = std::move(subject);
  g.scopes = {"api1", "offline_access"};
  g.created = created;
  g.expires = expires;
  g.family = std::move(family);
  return g;
}

store::Client MakeClient(std::string id, int64_t access_token_lifetime) {
  store::Client c;
  c.client_id = std::move(id);
  c.access_token_lifetime = access_token_lifetime;
  return c;
}

class GrantsAdminTest : public testing::StoreFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore("tf_grants_admin_test")); }

  void Put(const std::string& hash, const Grant& g) {
    ASSERT_TRUE(store_->Update([&](store::Txn& txn) { return txn.PutGrant(hash, g); }).ok());
  }
  void PutClient(const store::Client& c) {
    ASSERT_TRUE(store_->Update([&](store::Txn& txn) { return txn.PutClient(c); }).ok());
  }
  bool Exists(const std::string& hash) {
    bool found = false;
    Status s = store_->Read([&](store::Txn& txn) {
      auto g = txn.GetGrant(hash);
      if (g.ok()) {
        found = true;
        return Status::OK();
      }
      return g.status().code() == Status::Code::kNotFound ? Status::OK() : g.status();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return found;
  }
  std::optional<store::FamilyRevocation> Revocation(const std::string& family) {
    std::optional<store::FamilyRevocation> r;
    Status s = store_->Read([&](store::Txn& txn) {
      auto got = txn.GetFamilyRevocation(family);
      if (!got.ok()) return got.status();
      r = *got;
      return Status::OK();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return r;
  }
  std::vector<std::string> Ids(const GrantFilter& filter) {
    auto list = ListGrants(*store_, filter);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    std::vector<std::string> ids;
    if (list.ok()) {
      for (const auto& e : *list) ids.push_back(e.id);
    }
    return ids;
  }

  // Four families over two clients and three subjects:
  //   fam-a: app/alice, two refresh tokens (rotated: a1 consumed, a2 live)
  //   fam-b: app/bob, one refresh token
  //   fam-c: web/alice, one reference token
  //   fam-d: web/carol, one refresh token
  // plus `loner`, a client-only reference token of web (no subject), alone in fam-e.
  void Seed() {
    PutClient(MakeClient("app", 600));
    PutClient(MakeClient("web", 7200));
    Grant a1 = MakeGrant(GrantKind::kRefreshToken, "app", "alice", "fam-a", kNow - 50, kNow + 1000);
    a1.consumed_at = kNow - 10;
    a1.successor = a2_;
    Put(a1_, a1);
    Put(a2_, MakeGrant(GrantKind::kRefreshToken, "app", "alice", "fam-a", kNow - 10, kNow + 1000));
    Put(b_, MakeGrant(GrantKind::kRefreshToken, "app", "bob", "fam-b", kNow - 40, kNow + 1000));
    Put(c_, MakeGrant(GrantKind::kReferenceToken, "web", "alice", "fam-c", kNow - 30, kNow + 1000));
    Put(d_, MakeGrant(GrantKind::kRefreshToken, "web", "carol", "fam-d", kNow - 20, kNow + 1000));
    Put(loner_, MakeGrant(GrantKind::kReferenceToken, "web", "", "fam-e", kNow - 5, kNow + 1000));
  }

  const std::string a1_ = HashOf("a1"), a2_ = HashOf("a2"), b_ = HashOf("b"), c_ = HashOf("c"), d_ = HashOf("d"),
                    loner_ = HashOf("loner");
};

// ---- ids and kinds ---------------------------------------------------------------------------------------------

TEST(GrantIdTest, IsTheStartOfTheBase64UrlHash) {
  const std::string hash = Sha256("some-handle");
  EXPECT_EQ(GrantId(hash), Base64UrlEncode(hash).substr(0, 12));
  EXPECT_EQ(GrantId(hash).size(), kGrantIdLength);
  EXPECT_NE(GrantId(hash), GrantId(Sha256("other-handle")));
}

TEST(GrantIdTest, ParsesEveryKindByItsName) {
  for (GrantKind k : {GrantKind::kRefreshToken, GrantKind::kReferenceToken, GrantKind::kAuthorizationCode,
                      GrantKind::kDeviceCode}) {
    auto parsed = ParseGrantKind(store::GrantKindName(k));
    ASSERT_TRUE(parsed.has_value()) << store::GrantKindName(k);
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_FALSE(ParseGrantKind("refresh").has_value());
  EXPECT_FALSE(ParseGrantKind("Refresh_Token").has_value());
  EXPECT_FALSE(ParseGrantKind("").has_value());
}

// ---- list ------------------------------------------------------------------------------------------------------

TEST_F(GrantsAdminTest, ListIsEmptyWithoutGrants) {
  auto list = ListGrants(*store_, {});
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->empty());
}

TEST_F(GrantsAdminTest, ListsEveryGrantOldestFirst) {
  Seed();
  EXPECT_EQ(Ids({}), (std::vector<std::string>{GrantId(a1_), GrantId(b_), GrantId(c_), GrantId(d_), GrantId(a2_),
                                                GrantId(loner_)}));
  auto list = ListGrants(*store_, {});
  ASSERT_TRUE(list.ok());
  const GrantEntry& first = (*list)[0];
  EXPECT_EQ(first.handle_hash, a1_);
  EXPECT_EQ(first.grant.client_id, "app");
  EXPECT_EQ(first.grant.subject, "alice");
  EXPECT_EQ(first.grant.family, "fam-a");
  EXPECT_EQ(first.grant.consumed_at, kNow - 10);
  EXPECT_EQ(first.grant.successor, a2_);
}

TEST_F(GrantsAdminTest, ListFiltersByClientSubjectAndKind) {
  Seed();
  EXPECT_EQ(Ids({"app", "", std::nullopt}), (std::vector<std::string>{GrantId(a1_), GrantId(b_), GrantId(a2_)}));
  EXPECT_EQ(Ids({"", "alice", std::nullopt}), (std::vector<std::string>{GrantId(a1_), GrantId(c_), GrantId(a2_)}));
  EXPECT_EQ(Ids({"web", "alice", std::nullopt}), (std::vector<std::string>{GrantId(c_)}));
  EXPECT_EQ(Ids({"", "", GrantKind::kReferenceToken}), (std::vector<std::string>{GrantId(c_), GrantId(loner_)}));
  EXPECT_EQ(Ids({"web", "", GrantKind::kRefreshToken}), (std::vector<std::string>{GrantId(d_)}));
  EXPECT_TRUE(Ids({"", "", GrantKind::kAuthorizationCode}).empty());
  EXPECT_TRUE(Ids({"nobody", "", std::nullopt}).empty());
  EXPECT_TRUE(Ids({"app", "carol", std::nullopt}).empty());
}

// ---- revoke ----------------------------------------------------------------------------------------------------

TEST_F(GrantsAdminTest, RevokeFamilyDeletesEveryGrantOfItAndRecordsTheRevocation) {
  Seed();
  auto r = RevokeGrants(*store_, {.family = "fam-a"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 2u);
  EXPECT_EQ(r->families, std::vector<std::string>{"fam-a"});
  EXPECT_FALSE(Exists(a1_));
  EXPECT_FALSE(Exists(a2_));
  EXPECT_TRUE(Exists(b_));
  EXPECT_TRUE(Exists(c_));
  auto rec = Revocation("fam-a");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->revoked_at, kNow);
  // The longest AccessTokenLifetime among the clients is web's 7200 s, not app's own 600 s.
  EXPECT_EQ(rec->keep_until, kNow + 7200);
  EXPECT_FALSE(Revocation("fam-b").has_value());
}

TEST_F(GrantsAdminTest, RevocationRecordOutlivesTheClockSkewIntrospectionAllows) {
  Seed();
  ASSERT_TRUE(RevokeGrants(*store_, {.family = "fam-a"}, kNow, 300).ok());
  auto rec = Revocation("fam-a");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->keep_until, kNow + 7200 + 300);
}

TEST_F(GrantsAdminTest, RevokeUnknownFamilyIsNotFoundAndRecordsNothing) {
  Seed();
  auto r = RevokeGrants(*store_, {.family = "no-such-family"}, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(Revocation("no-such-family").has_value());
}

TEST_F(GrantsAdminTest, RevokingARevokedFamilyAgainChangesNothing) {
  Seed();
  ASSERT_TRUE(RevokeGrants(*store_, {.family = "fam-b"}, kNow).ok());
  auto again = RevokeGrants(*store_, {.family = "fam-b"}, kNow + 100);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->grants, 0u);
  EXPECT_TRUE(again->families.empty());
  auto rec = Revocation("fam-b");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->revoked_at, kNow);  // the first revocation stands
}

TEST_F(GrantsAdminTest, RevokeByClientTakesEveryFamilyOfThatClient) {
  Seed();
  auto r = RevokeGrants(*store_, {.client_id = "app"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 3u);
  EXPECT_EQ(r->families, (std::vector<std::string>{"fam-a", "fam-b"}));
  EXPECT_EQ(Ids({}), (std::vector<std::string>{GrantId(c_), GrantId(d_), GrantId(loner_)}));
  EXPECT_TRUE(Revocation("fam-a").has_value());
  EXPECT_TRUE(Revocation("fam-b").has_value());
  EXPECT_FALSE(Revocation("fam-c").has_value());
}

TEST_F(GrantsAdminTest, RevokeByClientIncludesClientOnlyGrants) {
  Seed();
  auto r = RevokeGrants(*store_, {.client_id = "web"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 3u);
  EXPECT_EQ(r->families, (std::vector<std::string>{"fam-c", "fam-d", "fam-e"}));
  EXPECT_FALSE(Exists(loner_));
  EXPECT_EQ(Ids({}), (std::vector<std::string>{GrantId(a1_), GrantId(b_), GrantId(a2_)}));
}

TEST_F(GrantsAdminTest, RevokeBySubjectSpansClients) {
  Seed();
  auto r = RevokeGrants(*store_, {.subject = "alice"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 3u);
  EXPECT_EQ(r->families, (std::vector<std::string>{"fam-a", "fam-c"}));
  EXPECT_EQ(Ids({}), (std::vector<std::string>{GrantId(b_), GrantId(d_), GrantId(loner_)}));
}

// A Store over another that measures every write transaction: the grants it deleted (Stats before and after), and
// a hook that runs between two of them (a worker's write while tokenctl revokes).
class WatchedStore final : public store::Store {
 public:
  explicit WatchedStore(store::Store* inner) : inner_(inner) {}
  std::vector<int64_t> deleted;  // per Update
  std::function<void(store::Store&)> between;

  Status Read(const std::function<Status(store::Txn&)>& fn) override { return inner_->Read(fn); }
  Status Update(const std::function<Status(store::Txn&)>& fn) override {
    const int64_t before = Grants();
    Status s = inner_->Update(fn);
    deleted.push_back(before - Grants());
    if (between) between(*inner_);
    return s;
  }
  Result<uint64_t> ConfigGeneration() override { return inner_->ConfigGeneration(); }
  Result<store::StoreStats> Stats() override { return inner_->Stats(); }
  Status Backup(const std::string& directory) override { return inner_->Backup(directory); }
  Status GrowMap(uint64_t bytes) override { return inner_->GrowMap(bytes); }

 private:
  int64_t Grants() {
    auto s = inner_->Stats();
    return s.ok() ? static_cast<int64_t>(s->grants) : -1;
  }
  store::Store* inner_;
};

TEST_F(GrantsAdminTest, RevocationHoldsTheWriterForOneBatchAtMostAndKillsTheFamilyFirst) {
  Seed();
  std::vector<std::string> big;
  for (int i = 0; i < 100; ++i) {
    big.push_back(HashOf("big-" + std::to_string(i)));
    Put(big.back(), MakeGrant(GrantKind::kRefreshToken, "app", "alice", "fam-big", kNow, kNow + 3600));
  }
  WatchedStore watched(store_.get());
  int unrelated = 0;
  watched.between = [&](store::Store& s) {
    // A worker's write gets in between two batches, and already finds every grant of the family dead.
    EXPECT_TRUE(s.Update([&](store::Txn& t) {
                   return t.PutGrant(HashOf("unrelated-" + std::to_string(unrelated++)),
                                     MakeGrant(GrantKind::kRefreshToken, "web", "bob", "fam-x", kNow, kNow + 60));
                 }).ok());
    EXPECT_TRUE(s.Read([&](store::Txn& t) {
                   EXPECT_TRUE(t.GetGrant(big.back()).status().IsNotFound());
                   return Status::OK();
                 }).ok());
  };
  auto r = RevokeGrants(watched, {.family = "fam-big"}, kNow, 0, 7);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 100u);
  ASSERT_EQ(watched.deleted.size(), 1u + (100 + 6) / 7);
  EXPECT_EQ(watched.deleted.front(), 0);  // the revocation record alone
  for (int64_t n : watched.deleted) EXPECT_LE(n, 7);
  EXPECT_EQ(unrelated, static_cast<int>(watched.deleted.size()));
  for (const std::string& h : big) EXPECT_FALSE(Exists(h));
  EXPECT_TRUE(Exists(b_));
  EXPECT_EQ(RevokeGrants(*store_, {.family = "fam-big"}, kNow, 0, 0).status().code(), Status::Code::kInvalidArgument);
}

TEST_F(GrantsAdminTest, RevokeByClientAndSubjectTakesOnlyTheirFamilies) {
  Seed();
  auto r = RevokeGrants(*store_, {.client_id = "web", .subject = "alice"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 1u);
  EXPECT_EQ(r->families, std::vector<std::string>{"fam-c"});
  EXPECT_TRUE(Exists(a1_));
  EXPECT_TRUE(Exists(a2_));
  EXPECT_FALSE(Exists(c_));
}

TEST_F(GrantsAdminTest, RevokeMatchingNothingIsNotAnError) {
  Seed();
  auto r = RevokeGrants(*store_, {.client_id = "app", .subject = "carol"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 0u);
  EXPECT_TRUE(r->families.empty());
  EXPECT_EQ(Ids({}).size(), 6u);
}

TEST_F(GrantsAdminTest, RevokeByIdRevokesTheWholeFamilyOfThatGrant) {
  Seed();
  // The id of the consumed token takes its live successor too: both belong to fam-a.
  auto r = RevokeGrants(*store_, {.id_prefix = GrantId(a1_)}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 2u);
  EXPECT_EQ(r->families, std::vector<std::string>{"fam-a"});
  EXPECT_FALSE(Exists(a2_));
  EXPECT_TRUE(Exists(b_));
}

TEST_F(GrantsAdminTest, RevokeByIdAcceptsAShorterOrTheFullHash) {
  Seed();
  auto full = RevokeGrants(*store_, {.id_prefix = Base64UrlEncode(b_)}, kNow);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->families, std::vector<std::string>{"fam-b"});
  auto shorter = RevokeGrants(*store_, {.id_prefix = GrantId(d_).substr(0, 8)}, kNow);
  ASSERT_TRUE(shorter.ok()) << shorter.status().ToString();
  EXPECT_EQ(shorter->families, std::vector<std::string>{"fam-d"});
}

TEST_F(GrantsAdminTest, AmbiguousIdRevokesNothingAndNamesNoGrant) {
  PutClient(MakeClient("app", 600));
  // Two hashes whose base64url forms share their first 40 characters.
  const std::string h1 = std::string(31, '\x11') + '\x01';
  const std::string h2 = std::string(31, '\x11') + '\x02';
  ASSERT_EQ(GrantId(h1), GrantId(h2));
  Put(h1, MakeGrant(GrantKind::kRefreshToken, "app", "alice", "fam-1", kNow, kNow + 100));
  Put(h2, MakeGrant(GrantKind::kRefreshToken, "app", "bob", "fam-2", kNow, kNow + 100));

  auto r = RevokeGrants(*store_, {.id_prefix = GrantId(h1)}, kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("matches 2 grants"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find(Base64UrlEncode(h1).substr(0, 20)), std::string::npos);
  EXPECT_TRUE(Exists(h1));
  EXPECT_TRUE(Exists(h2));
  EXPECT_FALSE(Revocation("fam-1").has_value());
  EXPECT_FALSE(Revocation("fam-2").has_value());

  // The full id tells them apart.
  auto one = RevokeGrants(*store_, {.id_prefix = Base64UrlEncode(h2)}, kNow);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->families, std::vector<std::string>{"fam-2"});
  EXPECT_TRUE(Exists(h1));
  EXPECT_FALSE(Exists(h2));
}

TEST_F(GrantsAdminTest, UnknownOrMalformedIdIsRefused) {
  Seed();
  // A base64url-looking id that no stored hash starts with.
  std::string unused = "zzzzzzzzzzzz";
  for (const std::string& h : {a1_, a2_, b_, c_, d_, loner_}) ASSERT_NE(GrantId(h), unused);
  auto none = RevokeGrants(*store_, {.id_prefix = unused}, kNow);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);

  for (const std::string& bad : {std::string("abc+def"), std::string("abc/def"), std::string("abc="),
                                std::string(44, 'A')}) {
    auto r = RevokeGrants(*store_, {.id_prefix = bad}, kNow);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(Ids({}).size(), 6u);
}

TEST_F(GrantsAdminTest, RevokeNeedsExactlyOneKindOfSelector) {
  Seed();
  for (const RevokeSelector& s : {RevokeSelector{}, RevokeSelector{.family = "fam-a", .id_prefix = GrantId(b_)},
                                  RevokeSelector{.family = "fam-a", .client_id = "app"},
                                  RevokeSelector{.id_prefix = GrantId(b_), .subject = "bob"}}) {
    auto r = RevokeGrants(*store_, s, kNow);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  }
  EXPECT_EQ(Ids({}).size(), 6u);
}

TEST_F(GrantsAdminTest, KeepUntilWithoutClientsIsNow) {
  Put(b_, MakeGrant(GrantKind::kRefreshToken, "gone", "bob", "fam-b", kNow, kNow + 100));
  ASSERT_TRUE(RevokeGrants(*store_, {.family = "fam-b"}, kNow).ok());
  auto rec = Revocation("fam-b");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->keep_until, kNow);
}

// ---- gc --------------------------------------------------------------------------------------------------------

TEST_F(GrantsAdminTest, GcDeletesExpiredGrantsAndRevocationsInBatches) {
  std::vector<std::string> expired, live;
  for (int i = 0; i < 7; ++i) {
    expired.push_back(HashOf("expired" + std::to_string(i)));
    // The last one expires exactly now: a grant is dead at its `expires` instant.
    Put(expired.back(), MakeGrant(GrantKind::kRefreshToken, "app", "u", "fam-x" + std::to_string(i), kNow - 100,
                                  i == 6 ? kNow : kNow - 1 - i));
  }
  for (int i = 0; i < 2; ++i) {
    live.push_back(HashOf("live" + std::to_string(i)));
    Put(live.back(), MakeGrant(GrantKind::kRefreshToken, "app", "u", "fam-live", kNow - 100, kNow + 1 + i));
  }
  // One revocation record already past keep_until, one still needed.
  ASSERT_TRUE(store_->Update([&](store::Txn& txn) -> Status {
                      auto a = txn.RevokeFamily("fam-old", kNow - 500, kNow - 1);
                      if (!a.ok()) return a.status();
                      auto b = txn.RevokeFamily("fam-new", kNow - 10, kNow + 3600);
                      return b.status();
                    }).ok());

  ManualClock clock(kNow);
  auto r = CollectGarbage(*store_, clock, 3);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 7u);
  EXPECT_EQ(r->revocations, 1u);
  EXPECT_GE(r->batches, 3u);  // 7 grants, at most 3 per transaction
  for (const auto& h : expired) EXPECT_FALSE(Exists(h));
  for (const auto& h : live) EXPECT_TRUE(Exists(h));
  EXPECT_FALSE(Revocation("fam-old").has_value());
  EXPECT_TRUE(Revocation("fam-new").has_value());

  // Nothing left to do: one transaction, nothing removed.
  auto again = CollectGarbage(*store_, clock, 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->grants, 0u);
  EXPECT_EQ(again->revocations, 0u);
  EXPECT_EQ(again->batches, 1u);

  // Time passes: the live ones expire too.
  clock.Advance(2);
  auto later = CollectGarbage(*store_, clock);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->grants, 2u);
  EXPECT_EQ(later->batches, 1u);
}

TEST_F(GrantsAdminTest, GcBatchOfOneStillFinishes) {
  for (int i = 0; i < 4; ++i) {
    Put(HashOf("e" + std::to_string(i)), MakeGrant(GrantKind::kReferenceToken, "app", "", "fam-e" + std::to_string(i), kNow - 10, kNow - 1));
  }
  ManualClock clock(kNow);
  auto r = CollectGarbage(*store_, clock, 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->grants, 4u);
  EXPECT_GE(r->batches, 4u);
  EXPECT_TRUE(Ids({}).empty());
}

TEST_F(GrantsAdminTest, GcRefusesABatchOutOfRange) {
  ManualClock clock(kNow);
  EXPECT_EQ(CollectGarbage(*store_, clock, 0).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(CollectGarbage(*store_, clock, kMaxGcBatch + 1).status().code(), Status::Code::kInvalidArgument);
}

// ---- through RunTokenctl ---------------------------------------------------------------------------------------

class GrantsCliTest : public testing::TokenctlFixture {
 protected:
  GrantsCliTest() : TokenctlFixture("", kNow) {}
  void SetUp() override {
    TokenctlFixture::SetUp();
    ASSERT_NO_FATAL_FAILURE(InitWithFixedKeys());
  }
  // Writes with a store opened only for this (never while RunTokenctl has one open).
  void WithStore(const std::function<Status(store::Txn&)>& fn) {
    std::unique_ptr<store::Store> opened = OpenStore();
    ASSERT_NE(opened, nullptr);
    Status s = opened->Update(fn);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::unique_ptr<cJSON, void (*)(cJSON*)> Json() { return {cJSON_Parse(out_.c_str()), cJSON_Delete}; }
  static int64_t Number(const cJSON* o, const char* name) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, name);
    EXPECT_TRUE(cJSON_IsNumber(v)) << name;
    return cJSON_IsNumber(v) ? static_cast<int64_t>(v->valuedouble) : -1;
  }
  static std::string String(const cJSON* o, const char* name) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, name);
    EXPECT_TRUE(cJSON_IsString(v)) << name;
    return cJSON_IsString(v) ? v->valuestring : "";
  }

  // Three grants: two in alice's family (one consumed), one expired for bob.
  void Seed() {
    WithStore([&](store::Txn& txn) -> Status {
      TF_RETURN_IF_ERROR(txn.PutClient(MakeClient("app", 900)));
      Grant a1 = MakeGrant(GrantKind::kRefreshToken, "app", "alice", "fam-alice", kNow - 20, kNow + 1000);
      a1.consumed_at = kNow - 5;
      TF_RETURN_IF_ERROR(txn.PutGrant(a1_, a1));
      TF_RETURN_IF_ERROR(
          txn.PutGrant(a2_, MakeGrant(GrantKind::kRefreshToken, "app", "alice", "fam-alice", kNow - 5, kNow + 1000)));
      return txn.PutGrant(b_, MakeGrant(GrantKind::kReferenceToken, "app", "bob", "fam-bob", kNow - 30, kNow - 1));
    });
  }

  const std::string a1_ = HashOf("cli-a1"), a2_ = HashOf("cli-a2"), b_ = HashOf("cli-b");
};

TEST_F(GrantsCliTest, ListPrintsOneLinePerGrantAndJsonForScripts) {
  ASSERT_EQ(Run({"grants", "list"}), kExitOk) << err_;
  EXPECT_EQ(out_, "no grants\n");
  Seed();

  ASSERT_EQ(Run({"grants", "list"}), kExitOk) << err_;
  std::istringstream lines(out_);
  std::string header, line;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("ID", 0), 0u) << header;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 4u) << out_;
  EXPECT_EQ(rows[0].rfind(GrantId(b_), 0), 0u) << rows[0];  // oldest first
  EXPECT_NE(rows[0].find("reference_token"), std::string::npos);
  EXPECT_NE(rows[0].find("fam-bob"), std::string::npos);
  EXPECT_NE(rows[1].find("2023-11-14T22:13:15Z"), std::string::npos) << rows[1];  // a1 consumed at kNow - 5
  EXPECT_EQ(rows[1].find("api1"), std::string::npos) << rows[1];  // a consumed grant is a tombstone: no scopes
  EXPECT_NE(rows[2].find("api1 offline_access"), std::string::npos) << rows[2];
  EXPECT_EQ(rows[3], "3 grants (1 expired: tokenctl gc deletes them)");
  // Only the 12-character id, never the whole hash.
  EXPECT_EQ(out_.find(Base64UrlEncode(a1_)), std::string::npos);

  ASSERT_EQ(Run({"--json", "grants", "list", "--subject", "alice"}), kExitOk) << err_;
  auto doc = Json();
  ASSERT_TRUE(cJSON_IsArray(doc.get())) << out_;
  ASSERT_EQ(cJSON_GetArraySize(doc.get()), 2);
  const cJSON* first = cJSON_GetArrayItem(doc.get(), 0);
  EXPECT_EQ(String(first, "id"), GrantId(a1_));
  EXPECT_EQ(String(first, "kind"), "refresh_token");
  EXPECT_EQ(String(first, "client_id"), "app");
  EXPECT_EQ(String(first, "subject"), "alice");
  EXPECT_EQ(String(first, "family"), "fam-alice");
  EXPECT_EQ(Number(first, "created"), kNow - 20);
  EXPECT_EQ(Number(first, "expires"), kNow + 1000);
  EXPECT_EQ(Number(first, "consumed_at"), kNow - 5);
  EXPECT_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(first, "expired")));
  const cJSON* second = cJSON_GetArrayItem(doc.get(), 1);
  EXPECT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(second, "consumed_at")));

  ASSERT_EQ(Run({"--json", "grants", "list", "--kind", "reference_token"}), kExitOk) << err_;
  doc = Json();
  ASSERT_EQ(cJSON_GetArraySize(doc.get()), 1);
  EXPECT_EQ(String(cJSON_GetArrayItem(doc.get(), 0), "id"), GrantId(b_));
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(doc.get(), 0), "expired")));

  ASSERT_EQ(Run({"--json", "grants", "list", "--client", "other"}), kExitOk) << err_;
  EXPECT_EQ(cJSON_GetArraySize(Json().get()), 0);
}

TEST_F(GrantsCliTest, ListUsageErrors) {
  EXPECT_EQ(Run({"grants", "list", "--kind", "refresh"}), kExitUsage);
  EXPECT_NE(err_.find("unknown grant kind"), std::string::npos) << err_;
  EXPECT_EQ(Run({"grants", "list", "--client", ""}), kExitUsage);
  EXPECT_EQ(Run({"grants", "list", "extra"}), kExitUsage);
  EXPECT_EQ(Run({"grants"}), kExitUsage);
  EXPECT_NE(err_.find("grants list"), std::string::npos) << err_;
}

TEST_F(GrantsCliTest, RevokeReportsGrantsAndFamilies) {
  Seed();
  ASSERT_EQ(Run({"grants", "revoke", "--subject", "alice"}), kExitOk) << err_;
  EXPECT_EQ(out_, "revoked 2 grants in 1 family\n");
  ASSERT_EQ(Run({"--json", "grants", "revoke", "--family", "fam-alice"}), kExitOk) << err_;
  auto doc = Json();
  EXPECT_EQ(Number(doc.get(), "grants"), 0);
  EXPECT_EQ(Number(doc.get(), "families"), 0);
  ASSERT_EQ(Run({"grants", "revoke", "--family", "fam-alice"}), kExitOk) << err_;
  EXPECT_EQ(out_, "family fam-alice was already revoked: nothing to do\n");

  ASSERT_EQ(Run({"--json", "grants", "revoke", "--id", GrantId(b_)}), kExitOk) << err_;
  doc = Json();
  EXPECT_EQ(Number(doc.get(), "grants"), 1);
  EXPECT_EQ(Number(doc.get(), "families"), 1);
  const cJSON* ids = cJSON_GetObjectItemCaseSensitive(doc.get(), "family_ids");
  ASSERT_EQ(cJSON_GetArraySize(ids), 1);
  EXPECT_STREQ(cJSON_GetArrayItem(ids, 0)->valuestring, "fam-bob");

  ASSERT_EQ(Run({"grants", "list"}), kExitOk);
  EXPECT_EQ(out_, "no grants\n");
  ASSERT_EQ(Run({"--json", "stats"}), kExitOk) << err_;
  doc = Json();
  EXPECT_EQ(Number(doc.get(), "grants"), 0);
  EXPECT_EQ(Number(doc.get(), "revoked_families"), 2);
}

TEST_F(GrantsCliTest, RevokeErrors) {
  Seed();
  EXPECT_EQ(Run({"grants", "revoke"}), kExitUsage);
  EXPECT_EQ(Run({"grants", "revoke", "--family", "fam-alice", "--client", "app"}), kExitUsage);
  EXPECT_EQ(Run({"grants", "revoke", "--id", GrantId(a1_), "--subject", "alice"}), kExitUsage);
  EXPECT_EQ(Run({"grants", "revoke", "--subject", ""}), kExitUsage);
  EXPECT_EQ(Run({"grants", "revoke", "--family", "nope"}), kExitError);
  EXPECT_NE(err_.find("no grants in family nope"), std::string::npos) << err_;
  EXPECT_EQ(Run({"grants", "revoke", "--id", "a+b"}), kExitError);
  ASSERT_EQ(Run({"--json", "grants", "list"}), kExitOk);
  EXPECT_EQ(cJSON_GetArraySize(Json().get()), 3);
}

TEST_F(GrantsCliTest, AmbiguousIdListsNoGrant) {
  const std::string h1 = std::string(31, '\x22') + '\x01', h2 = std::string(31, '\x22') + '\x02';
  WithStore([&](store::Txn& txn) -> Status {
    TF_RETURN_IF_ERROR(txn.PutGrant(h1, MakeGrant(GrantKind::kRefreshToken, "app", "a", "f1", kNow, kNow + 9)));
    return txn.PutGrant(h2, MakeGrant(GrantKind::kRefreshToken, "app", "b", "f2", kNow, kNow + 9));
  });
  EXPECT_EQ(Run({"grants", "revoke", "--id", GrantId(h1)}), kExitError);
  EXPECT_NE(err_.find("matches 2 grants"), std::string::npos) << err_;
  EXPECT_EQ(out_, "");
  EXPECT_EQ(err_.find("f1"), std::string::npos) << err_;
  EXPECT_EQ(err_.find("f2"), std::string::npos) << err_;
  ASSERT_EQ(Run({"--json", "grants", "list"}), kExitOk);
  EXPECT_EQ(cJSON_GetArraySize(Json().get()), 2);
}

TEST_F(GrantsCliTest, GcReportsWhatItRemoved) {
  Seed();
  WithStore([&](store::Txn& txn) { return txn.RevokeFamily("fam-old", kNow - 100, kNow - 50).status(); });
  ASSERT_EQ(Run({"gc"}), kExitOk) << err_;
  EXPECT_EQ(out_, "removed 1 grant and 1 revocation record\n");
  ASSERT_EQ(Run({"--json", "gc", "--batch", "10"}), kExitOk) << err_;
  auto doc = Json();
  EXPECT_EQ(Number(doc.get(), "grants"), 0);
  EXPECT_EQ(Number(doc.get(), "revocations"), 0);
  EXPECT_EQ(Number(doc.get(), "batches"), 1);

  clock_.Advance(2000);
  ASSERT_EQ(Run({"gc", "--batch", "1"}), kExitOk) << err_;
  EXPECT_EQ(out_, "removed 2 grants and 0 revocation records\n");

  for (const char* bad : {"0", "-1", "x", "100001", "5x"}) {
    EXPECT_EQ(Run({"gc", "--batch", bad}), kExitUsage) << bad;
  }
}

TEST_F(GrantsCliTest, StatsCountsGrants) {
  Seed();
  ASSERT_EQ(Run({"stats"}), kExitOk) << err_;
  EXPECT_NE(out_.find("grants              3\n"), std::string::npos) << out_;
  EXPECT_NE(out_.find("revoked families    0\n"), std::string::npos) << out_;
}

}  // namespace
}  // namespace tf::admin
