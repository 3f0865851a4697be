// Tests for admin/copy.h: CopyStore from every Store implementation into every one (store_contract.h's factories,
// in every pair), through the Store interface only: every kind of record arrives unchanged, what is dead stays
// behind, a store with records is refused unless forced, writes come in batches; and RunCopyCommand on LMDB
// directories (same location refused, a missing source, the printed report).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "admin/cli.h"
#include "admin/copy.h"
#include "store/records.h"
#include "store/store.h"
#include "store_contract.h"
#include "test_env.h"
#include "util/base64.h"
#include "util/crypto.h"

namespace tf::admin {
namespace {

using store::Grant;
using store::Store;
using store::Txn;
using testing::StoreFactory;

constexpr int64_t kNow = 1'800'000'000;

store::User MakeUser(const std::string& subject, const std::string& username) {
  store::User u;
  u.subject_id = subject;
  u.username = username;
  u.password_hash = testing::CheapPasswordHash("pw-" + username);
  u.access_failed_count = 2;
  u.claims = {store::ClaimValue{"email", username + "@example.com", ""}};
  return u;
}

Grant MakeGrant(store::GrantKind kind, const std::string& family, int64_t expires) {
  Grant g;
  g.kind = kind;
  g.client_id = "web";
  g.subject = kind == store::GrantKind::kReferenceToken ? "" : "alice";
  g.scopes = {"openid", "api"};
  g.created = kNow - 100;
  g.expires = expires;
  g.family = family;
  if (kind == store::GrantKind::kReferenceToken) g.access_token_json = R"({"scope":"api"})";
  return g;
}

std::string H(const std::string& handle) { return Sha256(handle); }

// The value of `r`, or a test failure and T().
template <typename T>
T Must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : T();
}

// Every record of a store as JSON text, one line each, by kind: what two stores must agree on after a copy.
std::vector<std::string> Dump(Store& s) {
  std::vector<std::string> out;
  Status st = s.Read([&](Txn& t) -> Status {
    for (const auto& r : Must(t.ListApiScopes())) out.push_back("scope " + store::ToJson(r));
    for (const auto& r : Must(t.ListApiResources())) out.push_back("api " + store::ToJson(r));
    for (const auto& r : Must(t.ListIdentityResources())) out.push_back("identity " + store::ToJson(r));
    for (const auto& r : Must(t.ListClients())) out.push_back("client " + store::ToJson(r));
    for (const auto& r : Must(t.ListKeys())) out.push_back("key " + store::ToJson(r));
    out.push_back("session_key " + Base64UrlEncode(Must(t.GetSessionKey())));
    for (const auto& r : Must(t.ListUsers())) out.push_back("user " + store::ToJson(r));
    for (const auto& [f, r] : Must(t.ListFamilyRevocations())) {
      out.push_back("revocation " + f + " " + store::ToJson(r));
    }
    for (const auto& [h, g] : Must(t.ListGrants("", ""))) {
      out.push_back("grant " + Base64UrlEncode(h) + " " + store::ToJson(g));
    }
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// (source, target) implementations.
using Pair = std::pair<StoreFactory, StoreFactory>;

std::vector<Pair> Pairs() {
  std::vector<Pair> out;
  for (const auto& a : testing::StoreFactories()) {
    for (const auto& b : testing::StoreFactories()) out.emplace_back(a, b);
  }
  return out;
}

class CopyTest : public ::testing::TestWithParam<Pair> {
 protected:
  void SetUp() override {
    auto a = GetParam().first.open(from_dir_.path(), true);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    from_ = std::move(a).value();
    auto b = GetParam().second.open(to_dir_.path(), true);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    to_ = std::move(b).value();
  }

  // One record of every kind, and what must stay behind: an expired grant, a grant of a revoked family, an expired
  // revocation record.
  void Fill() {
    Status st = from_->Update([&](Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutApiScope(testing::Scope("api")));
      store::ApiResource resource;
      resource.name = "orders";
      resource.scopes = {"api"};
      TF_RETURN_IF_ERROR(t.PutApiResource(resource));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("openid", {"sub"})));
      TF_RETURN_IF_ERROR(t.PutClient(testing::ConfidentialClient("web", "s3cret", {"openid", "api"})));
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*testing::FixedSigningKey(token::Alg::kRS256, 0), 10)));
      TF_RETURN_IF_ERROR(t.PutSessionKey(std::string(32, 'k')));
      TF_RETURN_IF_ERROR(t.PutUser(MakeUser("sub-alice", "alice")));
      TF_RETURN_IF_ERROR(t.PutUser(MakeUser("sub-bob", "bob")));
      TF_RETURN_IF_ERROR(t.PutGrant(H("refresh"), MakeGrant(store::GrantKind::kRefreshToken, "fam-live", kNow + 900)));
      Grant consumed = MakeGrant(store::GrantKind::kRefreshToken, "fam-live", kNow + 900);
      consumed.consumed_at = kNow - 10;
      consumed.successor = H("refresh");
      TF_RETURN_IF_ERROR(t.PutGrant(H("rotated"), consumed));
      TF_RETURN_IF_ERROR(t.PutGrant(H("reference"), MakeGrant(store::GrantKind::kReferenceToken, "", kNow + 60)));
      TF_RETURN_IF_ERROR(t.PutGrant(H("expired"), MakeGrant(store::GrantKind::kRefreshToken, "fam-old", kNow)));
      TF_RETURN_IF_ERROR(t.PutGrant(H("doomed"), MakeGrant(store::GrantKind::kRefreshToken, "fam-dead", kNow + 900)));
      TF_RETURN_IF_ERROR(t.RevokeFamily("fam-jwt", kNow - 50, kNow + 3600).status());
      return t.RevokeFamily("fam-gone", kNow - 5000, kNow - 1).status();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    // fam-dead revoked with its grant left in place, as an interrupted RevokeFamilyInBatches leaves it.
    st = from_->Update([&](Txn& t) { return t.RevokeFamilyPart("fam-dead", kNow - 5, kNow + 3600, 0).status(); });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  Status Copy(CopyReport* report, bool force = false, size_t batch = 500) {
    CopyOptions options;
    options.force = force;
    options.batch = batch;
    options.now = kNow;
    return CopyStore(*from_, *to_, options, report);
  }

  testing::TempDir from_dir_{"copy_test_from"}, to_dir_{"copy_test_to"};
  std::unique_ptr<Store> from_, to_;
};

TEST_P(CopyTest, EveryLiveRecordArrivesUnchangedAndTheDeadStayBehind) {
  Fill();
  CopyReport r;
  Status st = Copy(&r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(r.api_scopes, 1u);
  EXPECT_EQ(r.api_resources, 1u);
  EXPECT_EQ(r.identity_resources, 1u);
  EXPECT_EQ(r.clients, 1u);
  EXPECT_EQ(r.keys, 1u);
  EXPECT_TRUE(r.session_key);
  EXPECT_EQ(r.users, 2u);
  EXPECT_EQ(r.revocations, 2u);          // fam-jwt, fam-dead
  EXPECT_EQ(r.expired_revocations, 1u);  // fam-gone
  EXPECT_EQ(r.grants, 3u);               // refresh, rotated (its tombstone), reference
  EXPECT_EQ(r.dead_grants, 2u);          // expired, doomed
  EXPECT_EQ(r.transactions, 1u);

  std::vector<std::string> want;
  for (const std::string& line : Dump(*from_)) {
    const bool left_behind = line.rfind("revocation fam-gone ", 0) == 0 ||
                             line.rfind("grant " + Base64UrlEncode(H("expired")) + " ", 0) == 0 ||
                             line.rfind("grant " + Base64UrlEncode(H("doomed")) + " ", 0) == 0;
    if (!left_behind) want.push_back(line);
  }
  EXPECT_EQ(Dump(*to_), want);

  // What the target's readers see: the grants redeem as before, the rotated one is still a tombstone, revocations
  // hold, users are found by name, and the target has its own configuration generation moving from its own start.
  st = to_->Read([&](Txn& t) -> Status {
    EXPECT_EQ(t.GetGrant(H("refresh"))->family, "fam-live");
    EXPECT_TRUE(t.GetGrant(H("rotated"))->consumed_at.has_value());
    EXPECT_EQ(t.GetGrant(H("rotated"))->successor, H("refresh"));
    EXPECT_TRUE(t.GetGrant(H("expired")).status().IsNotFound());
    EXPECT_TRUE(t.GetGrant(H("doomed")).status().IsNotFound());
    EXPECT_EQ(t.GetFamilyRevocation("fam-jwt")->value().revoked_at, kNow - 50);
    EXPECT_EQ(t.GetFamilyRevocation("fam-jwt")->value().keep_until, kNow + 3600);
    EXPECT_EQ(t.FindUserByName("", "ALICE")->subject_id, "sub-alice");
    EXPECT_EQ(*t.GetSessionKey(), std::string(32, 'k'));
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The source is untouched.
  EXPECT_EQ(from_->Stats()->grants, 5u);
}

TEST_P(CopyTest, ATargetWithRecordsIsRefusedUnlessForcedThenMerged) {
  Fill();
  ASSERT_TRUE(to_->Update([](Txn& t) { return t.PutClient(testing::ConfidentialClient("other", "x", {"api"})); })
                  .ok());
  const uint64_t generation = *to_->ConfigGeneration();
  CopyReport r;
  Status st = Copy(&r);
  EXPECT_EQ(st.code(), Status::Code::kAlreadyExists) << st.ToString();
  EXPECT_EQ(r.transactions, 0u);
  EXPECT_EQ(*to_->ConfigGeneration(), generation);  // nothing written
  EXPECT_EQ(to_->Stats()->clients, 1u);

  st = Copy(&r, /*force=*/true);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(to_->Stats()->clients, 2u);  // its own client kept, the source's added
  // Forced again (an interrupted copy run again): the same records, replaced, nothing doubled.
  st = Copy(&r, /*force=*/true);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(to_->Stats()->clients, 2u);
  EXPECT_EQ(to_->Stats()->grants, 3u);
  EXPECT_EQ(to_->Stats()->users, 2u);
}

TEST_P(CopyTest, WritesInTransactionsOfAtMostBatchRecords) {
  Fill();
  CopyReport r;
  ASSERT_TRUE(Copy(&r, false, 0).code() == Status::Code::kInvalidArgument);
  // 1 + 1 + 1 + 1 + 1 + session key + 2 users + 2 revocations + 3 grants = 13 writes.
  Status st = Copy(&r, false, 4);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(r.transactions, 4u);
  EXPECT_EQ(r.grants, 3u);
}

TEST_P(CopyTest, AnEmptySourceCopiesItsSessionKeyOnly) {
  CopyReport r;
  Status st = Copy(&r);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(r.session_key);
  EXPECT_EQ(r.transactions, 1u);
  std::string a, b;
  ASSERT_TRUE(from_->Read([&](Txn& t) { a = *t.GetSessionKey(); return Status::OK(); }).ok());
  ASSERT_TRUE(to_->Read([&](Txn& t) { b = *t.GetSessionKey(); return Status::OK(); }).ok());
  EXPECT_EQ(a, b);
  EXPECT_FALSE(*StoreHasRecords(*to_));
}

INSTANTIATE_TEST_SUITE_P(, CopyTest, ::testing::ValuesIn(Pairs()),
                         [](const ::testing::TestParamInfo<Pair>& i) {
                           return i.param.first.name + "To" + i.param.second.name;
                         });

// RunCopyCommand, on LMDB directories.
class CopyCommandTest : public ::testing::Test {
 protected:
  int Run(const std::string& from, const std::string& to, bool json = false) {
    out_.str("");
    err_.str("");
    CopyOptions options;
    options.now = kNow;
    return RunCopyCommand(config_, from, to, options, json, out_, err_);
  }
  testing::TempDir tmp_{"copy_command_test"};
  Config config_;
  std::ostringstream out_, err_;
};

TEST_F(CopyCommandTest, CopiesIntoANewDirectoryAndReportsCounts) {
  const std::string from = tmp_.path() + "/a", to = tmp_.path() + "/b/c";
  {
    auto s = testing::OpenStoreOrNull(testing::NewStoreOptions(from));
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Update([](Txn& t) { return t.PutApiScope(testing::Scope("api")); }).ok());
  }
  ASSERT_EQ(Run(from, to), kExitOk) << err_.str();
  EXPECT_NE(out_.str().find("ApiScopes:          1\n"), std::string::npos) << out_.str();
  EXPECT_NE(out_.str().find("\nin 1 write transaction\n"), std::string::npos) << out_.str();
  auto copy = testing::OpenStoreOrNull(testing::NewStoreOptions(to, false));
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->Stats()->api_scopes, 1u);
  copy.reset();

  // Again: the target now has records.
  EXPECT_EQ(Run(from, to, /*json=*/true), kExitError);
  EXPECT_NE(err_.str().find("already holds records"), std::string::npos) << err_.str();
  EXPECT_NE(out_.str().find("\"ok\":\tfalse"), std::string::npos) << out_.str();
}

TEST_F(CopyCommandTest, RefusesTheSameDatabaseAndAMissingSource) {
  const std::string from = tmp_.path() + "/a";
  ASSERT_NE(testing::OpenStoreOrNull(testing::NewStoreOptions(from)), nullptr);
  EXPECT_EQ(Run(from, from + "/../a/"), kExitError);
  EXPECT_NE(err_.str().find("the same database"), std::string::npos) << err_.str();
  EXPECT_EQ(Run(tmp_.path() + "/missing", tmp_.path() + "/b"), kExitError);
  EXPECT_NE(err_.str().find("no database at"), std::string::npos) << err_.str();
}

}  // namespace
}  // namespace tf::admin
