// The remote_user login provider's user lookup and provisioning (oauth/remote_user.h) over a real LMDB store in a
// temporary directory: usable names, case-insensitive lookup per tenant, inactive users, provisioning on and off, a
// user created by another worker between the read and the write, and concurrent first logins.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "oauth/remote_user.h"
#include "store/records.h"
#include "store/store.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::kNow;
using testing::RacingStore;

class RemoteUserTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("remote_user_test"));
    config_.issuer = "https://auth.example.com";
  }

  void AddUser(const std::string& subject, const std::string& name, const std::string& tenant, bool active = true) {
    store::User u;
    u.subject_id = subject;
    u.username = name;
    u.tenant = tenant;
    u.is_active = active;
    Put([&](store::Txn& t) { return t.PutUser(u); });
  }

  std::vector<store::User> Users() {
    std::vector<store::User> out;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      Result<std::vector<store::User>> u = t.ListUsers();
      if (!u.ok()) return u.status();
      out = *u;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  Result<std::optional<store::User>> Find(std::string_view tenant, std::string_view name) {
    return FindOrProvisionRemoteUser(*store_, config_, RemoteUserName{std::string(tenant), std::string(name)}, kNow);
  }

  // What a REMOTE_USER logs in as: mapped by the configuration, then found or provisioned.
  Result<std::optional<store::User>> Login(std::string_view remote_user) {
    Result<RemoteUserName> name = MapRemoteUser(config_, remote_user);
    if (!name.ok()) return name.status();
    return FindOrProvisionRemoteUser(*store_, config_, *name, kNow);
  }

  Config config_;
};

TEST_F(RemoteUserTest, UnusableNamesAreInvalidArgument) {
  config_.remote_user_provision = true;
  for (const std::string& bad : {std::string(), std::string(101, 'a'), std::string("al\x01ice"),
                                 std::string("alice\x7f"), std::string("tab\tbed"), std::string("bad\xc3(utf8"),
                                 std::string("nul\0byte", 8)}) {
    Result<std::optional<store::User>> r = Login(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "the web server passed an unusable REMOTE_USER");
  }
  EXPECT_TRUE(Users().empty());  // nothing provisioned
  // 100 bytes and UTF-8 are fine.
  Result<std::optional<store::User>> ok = Login(std::string(100, 'b'));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->has_value());
  ok = Login("\xc3\xa9ric@EXAMPLE.ORG");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->has_value());
}

TEST_F(RemoteUserTest, FindsExistingUserIgnoringAsciiCasePerTenant) {
  AddUser("sub-alice", "Alice", "");
  AddUser("sub-alice-acme", "alice", "acme");
  Result<std::optional<store::User>> r = Find("", "ALICE");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->subject_id, "sub-alice");
  r = Find("acme", "Alice");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->subject_id, "sub-alice-acme");
  // Another tenant, provisioning off: nobody.
  r = Find("other", "alice");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(Users().size(), 2u);
}

TEST_F(RemoteUserTest, InactiveUserIsRefusedEvenWithProvisioning) {
  config_.remote_user_provision = true;
  AddUser("sub-bob", "bob", "", /*active=*/false);
  Result<std::optional<store::User>> r = Find("", "bob");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_EQ(Users().size(), 1u);  // no second "bob" was provisioned
}

TEST_F(RemoteUserTest, UnknownUserWithoutProvisioningIsNullopt) {
  Result<std::optional<store::User>> r = Find("", "carol");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_TRUE(Users().empty());
}

TEST_F(RemoteUserTest, ProvisionsOnceWithEveryField) {
  config_.remote_user_provision = true;
  Result<std::optional<store::User>> r = Find("acme", "Carol@Example.org");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->has_value());
  const store::User u = **r;
  EXPECT_EQ(u.subject_id.size(), 22u);  // RandomHandle(16)
  EXPECT_EQ(u.username, "Carol@Example.org");
  EXPECT_EQ(u.tenant, "acme");
  EXPECT_TRUE(u.is_active);
  EXPECT_TRUE(u.password_hash.empty());
  EXPECT_EQ(u.created, kNow);
  std::vector<store::User> users = Users();
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].subject_id, u.subject_id);
  EXPECT_EQ(users[0].username, "Carol@Example.org");

  // The next login (any ASCII case) finds the same user.
  r = Find("acme", "carol@example.org");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->subject_id, u.subject_id);
  // The same name without the tenant is another user.
  r = Find("", "carol@example.org");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_NE((*r)->subject_id, u.subject_id);
  EXPECT_EQ(Users().size(), 2u);
}

TEST_F(RemoteUserTest, UserCreatedByAnotherWorkerMeanwhileIsReturned) {
  config_.remote_user_provision = true;
  RacingStore racing(store_.get());
  racing.BeforeNextUpdate([](store::Store& s) {
    store::User u;
    u.subject_id = "sub-dave-first";
    u.username = "dave";
    ASSERT_TRUE(s.Update([&](store::Txn& t) { return t.PutUser(u); }).ok());
  });
  Result<std::optional<store::User>> r = FindOrProvisionRemoteUser(racing, config_, RemoteUserName{"", "dave"}, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->subject_id, "sub-dave-first");
  EXPECT_EQ(racing.updates, 1);
  EXPECT_EQ(Users().size(), 1u);
}

TEST_F(RemoteUserTest, ConcurrentFirstLoginsProvisionOneUser) {
  config_.remote_user_provision = true;
  std::vector<std::string> subjects(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < subjects.size(); ++i) {
    threads.emplace_back([&, i] {
      Result<std::optional<store::User>> r = Find("", "erin");
      if (r.ok() && r->has_value()) subjects[i] = (*r)->subject_id;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& s : subjects) EXPECT_EQ(s, subjects[0]);
  EXPECT_FALSE(subjects[0].empty());
  EXPECT_EQ(Users().size(), 1u);
}

TEST_F(RemoteUserTest, FixedMappingPutsEveryNameInTheConfiguredTenant) {
  config_.remote_user_provision = true;
  config_.remote_user_tenant = "acme";
  Result<RemoteUserName> n = MapRemoteUser(config_, "bob@example.org");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->tenant, "acme");
  EXPECT_EQ(n->username, "bob@example.org");
  Result<std::optional<store::User>> r = Login("mallory");
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ((*r)->tenant, "acme");  // provisioning creates users in the configured tenant only
  config_.remote_user_tenant.clear();
  n = MapRemoteUser(config_, "bob");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->tenant, "");
}

TEST_F(RemoteUserTest, UserAtTenantMappingSplitsAtTheLastAt) {
  config_.remote_user_tenant_mapping = RemoteUserTenantMapping::kUserAtTenant;
  config_.remote_user_tenant = "default";
  struct Case {
    std::string remote_user, tenant, username;
  };
  for (const Case& c : {Case{"bob@acme", "acme", "bob"}, Case{"bob@example.com@acme", "acme", "bob@example.com"},
                        Case{"carol", "default", "carol"}}) {
    Result<RemoteUserName> n = MapRemoteUser(config_, c.remote_user);
    ASSERT_TRUE(n.ok()) << c.remote_user;
    EXPECT_EQ(n->tenant, c.tenant);
    EXPECT_EQ(n->username, c.username);
  }
  for (const std::string& bad : {std::string("@acme"), std::string("bob@"), "bob@" + std::string(101, 't')}) {
    Result<RemoteUserName> n = MapRemoteUser(config_, bad);
    ASSERT_FALSE(n.ok()) << bad;
    EXPECT_EQ(n.status().message(), "the web server passed an unusable REMOTE_USER");
  }
}

}  // namespace
}  // namespace tf::oauth
