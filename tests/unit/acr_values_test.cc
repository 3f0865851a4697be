// acr_values parsing (oauth/acr_values.h) and login provider selection (oauth/login_provider.h): pure functions.
#include "oauth/acr_values.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"
#include "oauth/login_provider.h"
#include "store/records.h"

namespace tf::oauth {
namespace {

AcrValues Parse(std::string_view text) {
  Result<AcrValues> r = ParseAcrValues(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : AcrValues{};
}

std::string Error(std::string_view text) {
  Result<AcrValues> r = ParseAcrValues(text);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "<ok>";
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  return r.status().message();
}

TEST(AcrValuesTest, EmptyMeansNothingSelected) {
  for (std::string_view text : {"", " ", "     "}) {
    AcrValues a = Parse(text);
    EXPECT_EQ(a.tenant, "");
    EXPECT_EQ(a.idp, "");
    EXPECT_TRUE(a.acr.empty());
  }
}

TEST(AcrValuesTest, TenantIdpAndPassThroughValues) {
  AcrValues a = Parse("  urn:mfa tenant:acme   idp:local level2 ");
  EXPECT_EQ(a.tenant, "acme");
  EXPECT_EQ(a.idp, "local");
  EXPECT_EQ(a.acr, (std::vector<std::string>{"urn:mfa", "level2"}));
}

TEST(AcrValuesTest, SelectorNameMayContainColonsAndUtf8) {
  AcrValues a = Parse("tenant:a:b idp:x:y");
  EXPECT_EQ(a.tenant, "a:b");
  EXPECT_EQ(a.idp, "x:y");
  EXPECT_EQ(Parse("tenant:\xC3\xA9t\xC3\xA9").tenant, "\xC3\xA9t\xC3\xA9");
}

TEST(AcrValuesTest, PrefixesAreCaseSensitiveAndExact) {
  AcrValues a = Parse("Tenant:acme IDP:local tenant idp tenantx:y");
  EXPECT_EQ(a.tenant, "");
  EXPECT_EQ(a.idp, "");
  EXPECT_EQ(a.acr, (std::vector<std::string>{"Tenant:acme", "IDP:local", "tenant", "idp", "tenantx:y"}));
}

TEST(AcrValuesTest, UnknownPrefixesPassThrough) {
  EXPECT_EQ(Parse("foo:bar urn:x:y").acr, (std::vector<std::string>{"foo:bar", "urn:x:y"}));
}

TEST(AcrValuesTest, RepeatedPassThroughValuesAppearOnce) {
  EXPECT_EQ(Parse("a b a c b").acr, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(AcrValuesTest, AtMostOneTenantAndOneIdp) {
  EXPECT_EQ(Error("tenant:a tenant:b"), "acr_values names more than one tenant");
  EXPECT_EQ(Error("tenant:a tenant:a"), "acr_values names more than one tenant");
  EXPECT_EQ(Error("idp:local idp:other"), "acr_values names more than one identity provider");
  EXPECT_EQ(Error("idp:local x idp:local"), "acr_values names more than one identity provider");
}

TEST(AcrValuesTest, EmptyNamesAreRefused) {
  EXPECT_EQ(Error("tenant:"), "the tenant in acr_values is empty");
  EXPECT_EQ(Error("idp: local"), "the identity provider in acr_values is empty");
}

TEST(AcrValuesTest, NameLengthLimits) {
  const std::string hundred(100, 't');
  EXPECT_EQ(Parse("tenant:" + hundred).tenant, hundred);
  EXPECT_EQ(Parse("idp:" + hundred).idp, hundred);
  EXPECT_EQ(Error("tenant:" + hundred + "t"), "the tenant in acr_values is too long");
  EXPECT_EQ(Error("idp:" + hundred + "i"), "the identity provider in acr_values is too long");
}

TEST(AcrValuesTest, WholeParameterAtMost300Characters) {
  const std::string at_limit = "tenant:acme " + std::string(300 - 12, 'x');
  ASSERT_EQ(at_limit.size(), 300u);
  EXPECT_EQ(Parse(at_limit).tenant, "acme");
  EXPECT_EQ(Error(at_limit + "x"), "acr_values is too long");
  EXPECT_EQ(Error(std::string(301, ' ')), "acr_values is too long");
}

TEST(AcrValuesTest, ControlCharactersAreRefused) {
  EXPECT_EQ(Error("tenant:a\tb"), "acr_values contains a control character");
  EXPECT_EQ(Error("x\ny"), "acr_values contains a control character");
  EXPECT_EQ(Error("x\x7Fy"), "acr_values contains a control character");
  EXPECT_EQ(Error(std::string("x\0y", 3)), "acr_values contains a control character");
}

TEST(AcrValuesTest, MessagesNeverEchoTheValue) {
  for (std::string_view text : {"tenant:SECRETX tenant:SECRETY", "idp:SECRETX idp:SECRETY"}) {
    EXPECT_EQ(Error(text).find("SECRET"), std::string::npos);
  }
}

// ---- login providers -------------------------------------------------------------------------------------------

std::string ProviderError(const Config& config, const store::Client& client, std::string_view requested) {
  Result<std::string> r = SelectLoginProvider(config, client, requested);
  EXPECT_FALSE(r.ok()) << *r;
  return r.ok() ? "<ok>" : r.status().message();
}

TEST(LoginProviderTest, DefaultIsLocal) {
  Config config;
  store::Client client;
  Result<std::string> r = SelectLoginProvider(config, client, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "local");
  ASSERT_TRUE(SelectLoginProvider(config, client, "local").ok());
}

TEST(LoginProviderTest, ProviderMustBeEnabledInTheConfig) {
  Config config;  // login_providers = local
  store::Client client;
  EXPECT_EQ(ProviderError(config, client, "remote_user"), "the identity provider is not enabled");
  EXPECT_EQ(ProviderError(config, client, "unknown"), "the identity provider is not enabled");
  EXPECT_EQ(ProviderError(config, client, "LOCAL"), "the identity provider is not enabled");
  config.login_providers = {"remote_user"};
  EXPECT_EQ(ProviderError(config, client, ""), "the identity provider is not enabled");
  Result<std::string> r = SelectLoginProvider(config, client, "remote_user");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "remote_user");
}

TEST(LoginProviderTest, ClientRestrictionsLimitTheProviders) {
  Config config;
  config.login_providers = {"local", "remote_user"};
  store::Client client;
  client.identity_provider_restrictions = {"remote_user"};
  EXPECT_EQ(ProviderError(config, client, ""), "the client is not allowed the identity provider");
  EXPECT_EQ(ProviderError(config, client, "local"), "the client is not allowed the identity provider");
  EXPECT_TRUE(SelectLoginProvider(config, client, "remote_user").ok());
  client.identity_provider_restrictions = {"local"};
  EXPECT_TRUE(SelectLoginProvider(config, client, "").ok());
  EXPECT_EQ(ProviderError(config, client, "remote_user"), "the client is not allowed the identity provider");
  // A restriction cannot enable a provider the configuration does not.
  config.login_providers = {"remote_user"};
  EXPECT_EQ(ProviderError(config, client, "local"), "the identity provider is not enabled");
}

TEST(LoginProviderTest, LocalNeedsEnableLocalLogin) {
  Config config;
  store::Client client;
  client.enable_local_login = false;
  EXPECT_EQ(ProviderError(config, client, ""), "the client is not allowed the identity provider");
  EXPECT_EQ(ProviderError(config, client, "local"), "the client is not allowed the identity provider");
}

}  // namespace
}  // namespace tf::oauth
