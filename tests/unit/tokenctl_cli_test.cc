// tokenctl's command line driven through RunTokenctl: arguments that begin with '-'.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "admin/cli.h"
#include "admin/keys.h"
#include "token/jws.h"
#include "test_env.h"

namespace tf::admin {
namespace {

class TokenctlCliTest : public testing::TokenctlFixture {
 protected:
  TokenctlCliTest()
      : TokenctlFixture("password_hash_memory_kib = 1024\npassword_hash_iterations = 1\n") {}
  void SetUp() override {
    TokenctlFixture::SetUp();
    ASSERT_EQ(Run({"init", "--no-key"}), kExitOk) << err_;
  }
};

// ---- arguments that begin with '-' -----------------------------------------------------------------------------

// A kid is base64url: about one in 64 generated ones would begin with '-' and be read as an option.
TEST(GenerateSigningKeyTest, KidNeverBeginsWithADash) {
  for (int i = 0; i < 1000; ++i) {
    auto key = GenerateSigningKey(token::Alg::kEdDSA);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    ASSERT_FALSE((*key)->kid().empty());
    ASSERT_NE((*key)->kid()[0], '-') << (*key)->kid();
  }
}

// A generated subject id is base64url too; tokenctl's never begin with '-' either.
TEST_F(TokenctlCliTest, GeneratedSubjectIdsNeverBeginWithADash) {
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(Run({"--json", "user", "add", "u" + std::to_string(i), "--no-password"}), kExitOk) << err_;
    const std::string subject = testing::Json(out_).Str("SubjectId");
    ASSERT_EQ(subject.size(), 22u) << out_;
    ASSERT_NE(subject[0], '-') << subject;
  }
}

TEST_F(TokenctlCliTest, AnArgumentThatBeginsWithADashIsAnArgumentWhereOneIsExpected) {
  ASSERT_EQ(Run({"client", "add", "--grant", "client_credentials", "--", "-web"}), kExitOk) << err_;
  ASSERT_EQ(Run({"client", "show", "-web"}), kExitOk) << err_;
  EXPECT_NE(out_.find("-web"), std::string::npos) << out_;
  ASSERT_EQ(Run({"--json", "client", "show", "--", "-web"}), kExitOk) << err_;
  ASSERT_EQ(Run({"client", "remove", "-web"}), kExitOk) << err_;
  EXPECT_EQ(Run({"key", "remove", "-Xk9"}), kExitError) << "a kid, not an option";
  EXPECT_NE(err_.find("no key with kid '-Xk9'"), std::string::npos) << err_;
  EXPECT_EQ(Run({"key", "retire", "-Xk9", "--force"}), kExitError) << err_;
  EXPECT_NE(err_.find("no key with kid '-Xk9'"), std::string::npos) << err_;

  // Where no argument is expected, or for a word that begins with "--", it is still an unknown option.
  EXPECT_EQ(Run({"key", "list", "-x"}), kExitUsage);
  EXPECT_NE(err_.find("unknown option '-x'"), std::string::npos) << err_;
  EXPECT_EQ(Run({"key", "remove", "--forse"}), kExitUsage);
  EXPECT_NE(err_.find("unknown option '--forse' (an argument that begins with '-' goes after --"), std::string::npos)
      << err_;
  EXPECT_EQ(Run({"key", "remove", "--", "--Xk9"}), kExitError) << err_;
  EXPECT_NE(err_.find("no key with kid '--Xk9'"), std::string::npos) << err_;
  EXPECT_EQ(Run({"key", "remove", "-a", "-b"}), kExitUsage) << "one argument only";
}

}  // namespace
}  // namespace tf::admin
