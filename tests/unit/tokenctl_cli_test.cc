// tokenctl's command line driven through RunTokenctl: arguments that begin with '-', grant types it refuses, the
// client add options for browser and refresh clients, users named by username or subject id, and tables whose
// columns line up whatever their content.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "admin/cli.h"
#include "admin/command.h"
#include "admin/keys.h"
#include "token/jws.h"
#include "test_env.h"

namespace tf::admin {
namespace {

class TokenctlCliTest : public testing::TokenctlFixture {
 protected:
  TokenctlCliTest()
      : TokenctlFixture("password_hash_memory_kib = 1024\npassword_hash_iterations = 1\n"
                        "extension_grant = urn:example:grant-type:partner /usr/lib/tokenfcgi/partner.so\n") {}
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

// ---- client add ------------------------------------------------------------------------------------------------

TEST_F(TokenctlCliTest, ClientAddRefusesAnUnknownGrantTypeListingTheKnownOnes) {
  EXPECT_EQ(Run({"client", "add", "svc", "--grant", "client_credentials", "--grant", "pasword"}), kExitError);
  EXPECT_NE(err_.find("unknown grant type 'pasword' (known: authorization_code, client_credentials"),
            std::string::npos)
      << err_;
  EXPECT_NE(err_.find("password"), std::string::npos) << err_;
  EXPECT_NE(err_.find("urn:example:grant-type:partner (extension_grant)"), std::string::npos) << err_;
  EXPECT_EQ(Run({"client", "show", "svc"}), kExitError) << "nothing was added";

  ASSERT_EQ(Run({"client", "add", "partner", "--grant", "urn:example:grant-type:partner"}), kExitOk) << err_;
  EXPECT_EQ(err_.find("unknown grant type"), std::string::npos) << err_;
  EXPECT_EQ(Run({"client", "add", "other", "--grant", "urn:example:grant-type:other"}), kExitError) << err_;
}

TEST_F(TokenctlCliTest, ClientAddSetsBrowserAndRefreshClientProperties) {
  ASSERT_EQ(Run({"client", "add", "web", "--public", "--grant", "authorization_code", "--scope", "openid",
                 "--scope", "offline_access", "--redirect-uri", "https://app.example/callback", "--redirect-uri",
                 "com.example.app:/cb", "--post-logout-redirect-uri", "https://app.example/", "--cors-origin",
                 "HTTPS://App.Example:443", "--offline-access"}),
            kExitOk)
      << err_;
  ASSERT_EQ(Run({"--json", "client", "show", "web"}), kExitOk) << err_;
  testing::Json shown(out_);
  EXPECT_EQ(shown.Raw("RedirectUris"), R"(["https://app.example/callback","com.example.app:/cb"])") << out_;
  EXPECT_EQ(shown.Raw("PostLogoutRedirectUris"), R"(["https://app.example/"])") << out_;
  EXPECT_EQ(shown.Raw("AllowedCorsOrigins"), R"(["https://app.example"])") << out_;
  EXPECT_TRUE(shown.True("AllowOfflineAccess")) << out_;

  ASSERT_EQ(Run({"--json", "client", "show", "partnerless"}), kExitError);
  const std::vector<std::vector<std::string>> refused = {
      {"--redirect-uri", "https://app.example/cb#fragment"},
      {"--redirect-uri", "/relative/cb"},
      {"--redirect-uri", "https://app.example/a b"},
      {"--post-logout-redirect-uri", "app.example"},
      {"--cors-origin", "https://app.example/"},
      {"--cors-origin", "null"},
  };
  for (const auto& option : refused) {
    EXPECT_EQ(Run({"client", "add", "bad", "--public", "--grant", "authorization_code", option[0], option[1]}),
              kExitError)
        << option[0] << " " << option[1];
    EXPECT_FALSE(err_.empty());
  }
  EXPECT_EQ(Run({"client", "show", "bad"}), kExitError) << "nothing was added";
}

// ---- users by username or subject id -------------------------------------------------------------------------

TEST_F(TokenctlCliTest, UserCommandsTakeAUsernameOrASubjectId) {
  ASSERT_EQ(Run({"user", "add", "alice", "--subject", "s1", "--no-password"}), kExitOk) << err_;
  ASSERT_EQ(Run({"user", "add", "dave", "--tenant", "acme", "--subject", "s4", "--no-password"}), kExitOk) << err_;

  ASSERT_EQ(Run({"--json", "user", "show", "alice"}), kExitOk) << err_;
  EXPECT_EQ(testing::Json(out_).Str("SubjectId"), "s1");
  ASSERT_EQ(Run({"--json", "user", "show", "s1"}), kExitOk) << err_;
  EXPECT_EQ(testing::Json(out_).Str("Username"), "alice");
  ASSERT_EQ(Run({"--json", "user", "show", "dave", "--tenant", "acme"}), kExitOk) << err_;
  EXPECT_EQ(testing::Json(out_).Str("SubjectId"), "s4");
  ASSERT_EQ(Run({"user", "disable", "alice"}), kExitOk) << err_;
  ASSERT_EQ(Run({"user", "passwd", "alice"}, "a-new-password-1\n"), kExitOk) << err_;
  ASSERT_EQ(Run({"user", "unlock", "dave", "--tenant", "acme"}), kExitOk) << err_;

  // dave is in tenant acme only: the default tenant has no dave, and the message says where one is.
  EXPECT_EQ(Run({"user", "show", "dave"}), kExitError);
  EXPECT_NE(err_.find("no user or subject 'dave' with no tenant; users of that name: 'dave' (subject s4, tenant "
                      "acme) (use --tenant)"),
            std::string::npos)
      << err_;

  // "alice" is alice's username and carol's subject id: ambiguous, both named; --username / --subject decide.
  ASSERT_EQ(Run({"user", "add", "carol", "--subject", "alice", "--no-password"}), kExitOk) << err_;
  EXPECT_EQ(Run({"user", "show", "alice"}), kExitError);
  EXPECT_NE(err_.find("'alice' is ambiguous: the username of 'alice' (subject s1) and the subject id of 'carol' "
                      "(subject alice)"),
            std::string::npos)
      << err_;
  EXPECT_EQ(Run({"user", "remove", "alice"}), kExitError) << "an ambiguous name changes nothing";
  ASSERT_EQ(Run({"--json", "user", "show", "--username", "alice"}), kExitOk) << err_;
  EXPECT_EQ(testing::Json(out_).Str("SubjectId"), "s1");
  ASSERT_EQ(Run({"--json", "user", "show", "--subject", "alice"}), kExitOk) << err_;
  EXPECT_EQ(testing::Json(out_).Str("Username"), "carol");
  // A user whose subject id is its own username is not ambiguous.
  ASSERT_EQ(Run({"user", "add", "erin", "--subject", "erin", "--no-password"}), kExitOk) << err_;
  ASSERT_EQ(Run({"user", "remove", "erin"}), kExitOk) << err_;

  EXPECT_EQ(Run({"user", "show", "alice", "--username", "alice"}), kExitUsage) << "named twice";
  EXPECT_EQ(Run({"user", "show", "--subject", "s1", "--tenant", "acme"}), kExitUsage);
  EXPECT_EQ(Run({"user", "show"}), kExitUsage);
}

// ---- tables --------------------------------------------------------------------------------------------------

// The column each header word starts at, and the same for a row's cells (cells hold no spaces here).
std::vector<size_t> ColumnStarts(const std::string& line) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != ' ' && (i == 0 || line[i - 1] == ' ')) starts.push_back(i);
  }
  return starts;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(TableTest, ColumnsAreAsWideAsTheirWidestCell) {
  cli::Table table({"A", "B", "C"});
  table.AddRow({"x", "a-much-longer-cell-than-any-fixed-width-would-allow,and,more,grants", "last"});
  table.AddRow({"wörter", "", "tab\there"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "A       B                                                                    C\n"
            "x       a-much-longer-cell-than-any-fixed-width-would-allow,and,more,grants  last\n"
            "wörter  -                                                                    tab?here\n");
}

TEST_F(TokenctlCliTest, ClientListGrantsNeverRunIntoTheScopes) {
  ASSERT_EQ(Run({"client", "add", "all", "--grant", "authorization_code", "--grant", "client_credentials", "--grant",
                 "refresh_token", "--grant", "urn:ietf:params:oauth:grant-type:device_code", "--scope", "api1"}),
            kExitOk)
      << err_;
  ASSERT_EQ(Run({"client", "add", "b", "--grant", "password", "--scope", "api2"}), kExitOk) << err_;
  ASSERT_EQ(Run({"client", "list"}), kExitOk) << err_;
  const std::vector<std::string> lines = Lines(out_);
  ASSERT_EQ(lines.size(), 3u) << out_;
  const std::vector<size_t> header = ColumnStarts(lines[0]);
  ASSERT_EQ(header.size(), 5u) << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) EXPECT_EQ(ColumnStarts(lines[i]), header) << out_;
}

}  // namespace
}  // namespace tf::admin
