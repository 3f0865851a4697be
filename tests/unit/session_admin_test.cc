// `tokenctl session rotate-key` (admin/session.h): the store's session key is replaced, the configuration generation
// moves, every session cookie and CSRF token signed with the old key stops verifying, and the key is never printed.
#include "admin/session.h"

#include <gtest/gtest.h>

#include <cjson/cJSON.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "admin/cli.h"
#include "oauth/session.h"
#include "store/store.h"
#include "test_env.h"
#include "util/base64.h"

namespace tf::admin {
namespace {

class SessionAdminTest : public testing::TokenctlFixture {
 protected:
  std::string Key(store::Store& s) { return testing::StoredSessionKey(s); }
};

TEST_F(SessionAdminTest, RotateReplacesTheKeyAndInvalidatesSessionsAndLoginForms) {
  ASSERT_NO_FATAL_FAILURE(InitWithFixedKeys());
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_NE(s, nullptr);
  const std::string old_key = Key(*s);
  ASSERT_EQ(old_key.size(), 32u);
  const uint64_t g = *s->ConfigGeneration();

  oauth::Session session;
  session.subject = "alice";
  session.idp = "local";
  session.sid = "sid1";
  session.auth_time = clock_.NowSeconds();
  session.expires = clock_.NowSeconds() + 3600;
  const std::string cookie = oauth::EncodeSession(session, old_key);
  const std::string nonce = oauth::NewCsrfNonce();
  const std::string csrf = oauth::CsrfToken(old_key, nonce);
  ASSERT_TRUE(oauth::DecodeSession(cookie, old_key, clock_.NowSeconds()).has_value());
  ASSERT_TRUE(oauth::CheckCsrf(old_key, nonce, csrf));

  auto rotation = RotateSessionKey(*s, nullptr);
  ASSERT_TRUE(rotation.ok()) << rotation.status().ToString();
  const std::string new_key = Key(*s);
  EXPECT_EQ(new_key.size(), 32u);
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(rotation->config_generation, g + 1);
  EXPECT_EQ(*s->ConfigGeneration(), g + 1);  // every worker reloads its snapshot, and with it the key
  EXPECT_FALSE(oauth::DecodeSession(cookie, new_key, clock_.NowSeconds()).has_value());
  EXPECT_FALSE(oauth::CheckCsrf(new_key, nonce, csrf));

  // Each rotation draws new random bytes.
  auto again = RotateSessionKey(*s, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(Key(*s), new_key);
  EXPECT_EQ(again->config_generation, g + 2);
}

TEST_F(SessionAdminTest, CommandPrintsOneLineAndNeverTheKey) {
  ASSERT_NO_FATAL_FAILURE(InitWithFixedKeys());
  std::string before;
  {
    std::unique_ptr<store::Store> s = OpenStore();
    ASSERT_NE(s, nullptr);
    before = Key(*s);
  }
  ASSERT_EQ(Run({"session", "rotate-key"}), kExitOk) << err_;
  EXPECT_EQ(err_, "");
  EXPECT_EQ(std::count(out_.begin(), out_.end(), '\n'), 1) << out_;
  EXPECT_EQ(out_.rfind("session key replaced: every login session and open login form is now invalid", 0), 0u)
      << out_;
  std::string after;
  uint64_t generation = 0;
  {
    std::unique_ptr<store::Store> s = OpenStore();
    ASSERT_NE(s, nullptr);
    after = Key(*s);
    generation = *s->ConfigGeneration();
  }
  EXPECT_NE(after, before);
  EXPECT_TRUE(out_.find("(config generation " + std::to_string(generation) + ")") != std::string::npos) << out_;
  for (const std::string& secret : {after, Base64UrlEncode(after), Base64Encode(after)}) {
    EXPECT_EQ(out_.find(secret), std::string::npos);
  }
}

TEST_F(SessionAdminTest, CommandJson) {
  ASSERT_NO_FATAL_FAILURE(InitWithFixedKeys());
  ASSERT_EQ(Run({"--json", "session", "rotate-key"}), kExitOk) << err_;
  std::unique_ptr<cJSON, void (*)(cJSON*)> doc(cJSON_Parse(out_.c_str()), cJSON_Delete);
  ASSERT_NE(doc, nullptr) << out_;
  EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc.get(), "rotated")));
  const cJSON* g = cJSON_GetObjectItemCaseSensitive(doc.get(), "config_generation");
  ASSERT_TRUE(cJSON_IsNumber(g));
  std::unique_ptr<store::Store> s = OpenStore();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(static_cast<uint64_t>(g->valuedouble), *s->ConfigGeneration());
  EXPECT_EQ(cJSON_GetArraySize(doc.get()), 2);  // nothing else, the key least of all
}

TEST_F(SessionAdminTest, StampMovesOnPasswdDisableRevokeAndSessionRevoke) {
  ASSERT_EQ(Run({"init"}), kExitOk) << err_;
  ASSERT_EQ(Run({"user", "add", "alice", "--subject", "1001"}, "Alice-pass-1\n"), kExitOk) << err_;
  auto stamp = [&] {
    std::unique_ptr<store::Store> s = OpenStore();
    std::string out = "(none)";
    EXPECT_TRUE(s->Read([&](store::Txn& t) -> Status {
                   auto u = t.GetUser("1001");
                   if (!u.ok()) return u.status();
                   out = u->security_stamp;
                   return Status::OK();
                 }).ok());
    return out;
  };
  std::string last = stamp();
  const std::vector<std::vector<std::string>> commands = {
      {"user", "passwd", "1001"}, {"user", "disable", "1001"}, {"grants", "revoke", "--subject", "1001"},
      {"session", "revoke", "--subject", "1001"}};
  for (const std::vector<std::string>& command : commands) {
    ASSERT_EQ(Run(command, "New-pass-2\n"), kExitOk) << command[0] << " " << command[1] << ": " << err_;
    const std::string now = stamp();
    EXPECT_EQ(now.size(), 22u) << command[1];
    EXPECT_NE(now, last) << command[1];
    last = now;
  }
  ASSERT_EQ(Run({"user", "enable", "1001"}), kExitOk) << err_;
  EXPECT_EQ(stamp(), last);  // enabling does not revive old sessions
  ASSERT_EQ(Run({"user", "unlock", "1001"}), kExitOk) << err_;
  EXPECT_EQ(stamp(), last);
  EXPECT_EQ(Run({"session", "revoke", "--subject", "nobody"}), kExitError);
  EXPECT_NE(err_.find("no subject 'nobody'"), std::string::npos) << err_;
  EXPECT_EQ(Run({"session", "revoke"}), kExitUsage);
  // grants revoke of a subject without a user record is not an error.
  EXPECT_EQ(Run({"grants", "revoke", "--subject", "nobody"}), kExitOk) << err_;
}

TEST_F(SessionAdminTest, CommandErrors) {
  // No database yet: an error, not a new database.
  EXPECT_EQ(Run({"session", "rotate-key"}), kExitError);
  EXPECT_NE(err_.find("tokenctl init"), std::string::npos) << err_;
  EXPECT_FALSE(std::filesystem::exists(dir_->Sub("db/data.mdb")));
  ASSERT_NO_FATAL_FAILURE(InitWithFixedKeys());
  EXPECT_EQ(Run({"session", "rotate-key", "extra"}), kExitUsage) << err_;
  EXPECT_EQ(Run({"session", "rotate-key", "--force"}), kExitUsage) << err_;
  EXPECT_EQ(Run({"session"}), kExitUsage) << err_;
  // Listed in the help.
  ASSERT_EQ(Run({"--help"}), kExitOk);
  EXPECT_NE(out_.find("session rotate-key"), std::string::npos);
  ASSERT_EQ(Run({"session", "rotate-key", "--help"}), kExitOk) << err_;
  EXPECT_NE(out_.find("usage: tokenctl [--config FILE] [--json] session rotate-key"), std::string::npos) << out_;
}

}  // namespace
}  // namespace tf::admin
