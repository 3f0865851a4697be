// Extension-grant plug-ins: the validation of a plug-in's result (oauth/extension_grants.h), the extension_grant
// configuration key (config.h) and loading failures that must stop a worker.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "config/config.h"
#include "oauth/extension_grants.h"

namespace tf::oauth {
namespace {

tf_string S(const char* s) { return tf_string{s, std::strlen(s)}; }

const std::vector<std::string> kRequested = {"api1", "api2", "offline_access"};

tf_extension_grant_result Ok(const char* subject = "alice") {
  tf_extension_grant_result r{};
  r.status = TF_EXTENSION_GRANT_OK;
  r.subject = S(subject);
  return r;
}

tf_extension_grant_result Error(const char* code, const char* description = "") {
  tf_extension_grant_result r{};
  r.status = TF_EXTENSION_GRANT_ERROR;
  r.error = S(code);
  r.error_description = S(description);
  return r;
}

std::string Bad(const tf_extension_grant_result& r) {
  Result<ExtensionGrantOutcome> out = ValidateExtensionGrantResult(r, kRequested, 3600);
  EXPECT_FALSE(out.ok());
  return out.ok() ? "" : out.status().message();
}

TEST(ExtensionGrantResultTest, MinimalSuccessGetsTheRequestedScopes) {
  Result<ExtensionGrantOutcome> out = ValidateExtensionGrantResult(Ok(), kRequested, 3600);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->ok);
  EXPECT_EQ(out->subject, "alice");
  EXPECT_EQ(out->scopes, kRequested);
  EXPECT_EQ(out->lifetime, 0);
  EXPECT_TRUE(out->claims.empty());
}

TEST(ExtensionGrantResultTest, ClaimsScopesAndLifetimeAreCopied) {
  const tf_pair claims[] = {{S("partner"), S("example")}, {S("name"), S("\xC3\xA9va")}};
  const tf_string scopes[] = {S("api2"), S("api2")};
  tf_extension_grant_result r = Ok("2001");
  r.claims = claims;
  r.claim_count = 2;
  r.scopes = scopes;
  r.scope_count = 2;
  r.lifetime = 3600;
  Result<ExtensionGrantOutcome> out = ValidateExtensionGrantResult(r, kRequested, 3600);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->claims.size(), 2u);
  EXPECT_EQ(out->claims[1].type, "name");
  EXPECT_EQ(out->claims[1].value, "\xC3\xA9va");
  EXPECT_EQ(out->scopes, std::vector<std::string>{"api2"});  // duplicates dropped
  EXPECT_EQ(out->lifetime, 3600);
}

TEST(ExtensionGrantResultTest, KnownErrorsPassThrough) {
  for (const char* code : {"invalid_request", "invalid_grant", "unauthorized_client", "invalid_scope",
                           "invalid_target"}) {
    Result<ExtensionGrantOutcome> out = ValidateExtensionGrantResult(Error(code, "no such partner"), kRequested, 60);
    ASSERT_TRUE(out.ok()) << code << ": " << out.status().ToString();
    EXPECT_FALSE(out->ok);
    EXPECT_EQ(out->error, code);
    EXPECT_EQ(out->error_description, "no such partner");
  }
}

TEST(ExtensionGrantResultTest, UnknownOrServerOnlyErrorCodesAreBad) {
  for (const char* code : {"access_denied", "server_error", "invalid_client", "unsupported_grant_type", "",
                           "INVALID_GRANT", "invalid_grant "}) {
    EXPECT_NE(Bad(Error(code)).find("error code"), std::string::npos) << code;
  }
}

TEST(ExtensionGrantResultTest, ErrorDescriptionFollowsRfc6749) {
  EXPECT_NE(Bad(Error("invalid_grant", "a \"quoted\" word")).find("error_description"), std::string::npos);
  EXPECT_NE(Bad(Error("invalid_grant", "back\\slash")).find("error_description"), std::string::npos);
  EXPECT_NE(Bad(Error("invalid_grant", "new\nline")).find("error_description"), std::string::npos);
  EXPECT_NE(Bad(Error("invalid_grant", "caf\xC3\xA9")).find("error_description"), std::string::npos);
  const std::string long_text(TF_EXTENSION_GRANT_MAX_ERROR_DESCRIPTION + 1, 'x');
  EXPECT_NE(Bad(Error("invalid_grant", long_text.c_str())).find("too long"), std::string::npos);
}

TEST(ExtensionGrantResultTest, StatusMustBeSet) {
  tf_extension_grant_result r{};
  EXPECT_NE(Bad(r).find("status"), std::string::npos);
  r.status = 42;
  EXPECT_NE(Bad(r).find("status"), std::string::npos);
  tf_extension_grant_result both = Ok();
  both.error = S("invalid_grant");
  EXPECT_NE(Bad(both).find("error code"), std::string::npos);
}

TEST(ExtensionGrantResultTest, SubjectRules) {
  EXPECT_NE(Bad(Ok("")).find("subject is empty"), std::string::npos);
  EXPECT_NE(Bad(Ok("\xC3\x28")).find("UTF-8"), std::string::npos);
  tf_extension_grant_result nul = Ok();
  nul.subject = tf_string{"a\0b", 3};
  EXPECT_NE(Bad(nul).find("NUL"), std::string::npos);
  const std::string long_subject(TF_EXTENSION_GRANT_MAX_SUBJECT + 1, 's');
  EXPECT_NE(Bad(Ok(long_subject.c_str())).find("too long"), std::string::npos);
  const std::string longest(TF_EXTENSION_GRANT_MAX_SUBJECT, 's');
  EXPECT_TRUE(ValidateExtensionGrantResult(Ok(longest.c_str()), kRequested, 60).ok());
  tf_extension_grant_result dangling = Ok();
  dangling.subject = tf_string{nullptr, 5};
  EXPECT_NE(Bad(dangling).find("no data"), std::string::npos);
}

TEST(ExtensionGrantResultTest, ClaimRules) {
  tf_extension_grant_result r = Ok();
  const tf_pair protocol[] = {{S("sub"), S("mallory")}};
  r.claims = protocol;
  r.claim_count = 1;
  EXPECT_NE(Bad(r).find("protocol claim"), std::string::npos);
  const tf_pair act[] = {{S("act"), S("{}")}};
  r.claims = act;
  EXPECT_NE(Bad(r).find("protocol claim"), std::string::npos);
  const tf_pair empty_type[] = {{S(""), S("v")}};
  r.claims = empty_type;
  EXPECT_NE(Bad(r).find("claim type is empty"), std::string::npos);
  const tf_pair bad_value[] = {{S("x"), S("\xFF")}};
  r.claims = bad_value;
  EXPECT_NE(Bad(r).find("UTF-8"), std::string::npos);
  const std::string big(TF_EXTENSION_GRANT_MAX_CLAIM_VALUE + 1, 'v');
  const tf_pair big_value[] = {{S("x"), tf_string{big.data(), big.size()}}};
  r.claims = big_value;
  EXPECT_NE(Bad(r).find("too long"), std::string::npos);
  r.claims = nullptr;
  EXPECT_NE(Bad(r).find("no data"), std::string::npos);
  std::vector<tf_pair> many(TF_EXTENSION_GRANT_MAX_CLAIMS + 1, tf_pair{S("x"), S("y")});
  r.claims = many.data();
  r.claim_count = many.size();
  EXPECT_NE(Bad(r).find("too many claims"), std::string::npos);
}

TEST(ExtensionGrantResultTest, ScopesMustComeFromTheRequest) {
  tf_extension_grant_result r = Ok();
  const tf_string foreign[] = {S("api1"), S("admin")};
  r.scopes = foreign;
  r.scope_count = 2;
  EXPECT_NE(Bad(r).find("not one of the request's scopes"), std::string::npos);
  r.scopes = nullptr;
  EXPECT_NE(Bad(r).find("no data"), std::string::npos);
  std::vector<tf_string> many(TF_EXTENSION_GRANT_MAX_SCOPES + 1, S("api1"));
  r.scopes = many.data();
  r.scope_count = many.size();
  EXPECT_NE(Bad(r).find("too many scopes"), std::string::npos);
}

TEST(ExtensionGrantResultTest, LifetimeWithinTheClients) {
  tf_extension_grant_result r = Ok();
  r.lifetime = -1;
  EXPECT_NE(Bad(r).find("lifetime"), std::string::npos);
  r.lifetime = 3601;
  EXPECT_NE(Bad(r).find("lifetime"), std::string::npos);
  r.lifetime = 1;
  EXPECT_TRUE(ValidateExtensionGrantResult(r, kRequested, 3600).ok());
}

// ---- configuration ----------------------------------------------------------------------------------------------

constexpr char kIssuer[] = "issuer = https://id.example.com\n";

TEST(ExtensionGrantConfigTest, SeveralLinesInOrder) {
  Result<Config> c = ParseConfig(std::string(kIssuer) +
                                     "extension_grant = urn:example:a /usr/lib/a.so /etc/a.conf with spaces\n"
                                     "extension_grant = urn:example:b   /usr/lib/b.so\n",
                                 "t");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->extension_grants.size(), 2u);
  EXPECT_EQ(c->extension_grants[0].grant_type, "urn:example:a");
  EXPECT_EQ(c->extension_grants[0].library, "/usr/lib/a.so");
  EXPECT_EQ(c->extension_grants[0].argument, "/etc/a.conf with spaces");
  EXPECT_EQ(c->extension_grants[1].grant_type, "urn:example:b");
  EXPECT_EQ(c->extension_grants[1].argument, "");
  EXPECT_TRUE(c->ExtensionGrantConfigured("urn:example:b"));
  EXPECT_FALSE(c->ExtensionGrantConfigured("urn:example:c"));
}

TEST(ExtensionGrantConfigTest, EmptyValueIsNone) {
  Result<Config> c = ParseConfig(std::string(kIssuer) + "extension_grant = \"\"\n", "t");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->extension_grants.empty());
}

TEST(ExtensionGrantConfigTest, BadLinesNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"extension_grant = urn:example:a", "GRANT_TYPE LIBRARY"},
      {"extension_grant = custom /usr/lib/a.so", "absolute URI"},
      {"extension_grant = password /usr/lib/a.so", "absolute URI"},
      {"extension_grant = urn:ietf:params:oauth:grant-type:token-exchange /usr/lib/a.so", "built in"},
      {"extension_grant = urn:example:a lib/a.so", "absolute path"},
      {"extension_grant = urn:example:a /a.so\nextension_grant = urn:example:a /b.so", "configured twice"},
  };
  for (const auto& [line, expected] : cases) {
    Result<Config> c = ParseConfig(std::string(kIssuer) + line + "\n", "t");
    ASSERT_FALSE(c.ok()) << line;
    EXPECT_NE(c.status().message().find(expected), std::string::npos) << line << ": " << c.status().message();
  }
}

TEST(ExtensionGrantConfigTest, OtherKeysStillMayNotRepeat) {
  Result<Config> c = ParseConfig(std::string(kIssuer) + "realm = a\nrealm = b\n", "t");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("repeated"), std::string::npos);
}

// ---- loading ----------------------------------------------------------------------------------------------------

TEST(ExtensionGrantLoadTest, NoneConfiguredLoadsNothing) {
  Config config;
  Result<std::unique_ptr<ExtensionGrantPlugins>> p = ExtensionGrantPlugins::Load(config);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE((*p)->grants().empty());
  EXPECT_EQ((*p)->Find("urn:example:a"), nullptr);
}

TEST(ExtensionGrantLoadTest, MissingLibraryIsOneClearError) {
  Config config;
  config.extension_grants.push_back({"urn:example:a", "/nonexistent/plugin.so", ""});
  Result<std::unique_ptr<ExtensionGrantPlugins>> p = ExtensionGrantPlugins::Load(config);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("extension grant urn:example:a: /nonexistent/plugin.so: cannot load"),
            std::string::npos)
      << p.status().message();
}

TEST(ExtensionGrantLoadTest, LibraryWithoutEntryPoint) {
  Config config;
  config.extension_grants.push_back({"urn:example:a", "libc.so.6", ""});  // loads, but is no plug-in
  Result<std::unique_ptr<ExtensionGrantPlugins>> p = ExtensionGrantPlugins::Load(config);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("has no tf_extension_grant_entry"), std::string::npos)
      << p.status().message();
}

}  // namespace
}  // namespace tf::oauth
