// The one place the authorization-code and refresh-token grants copy a stored grant into token requests.
#include "oauth/grant_tokens.h"

#include <gtest/gtest.h>

namespace tf::oauth {
namespace {

store::Grant UserGrant() {
  store::Grant g;
  g.kind = store::GrantKind::kRefreshToken;
  g.client_id = "web";
  g.subject = "alice";
  g.created = 1700000000;
  g.expires = 1700003600;
  g.family = "fam-1";
  g.scopes = {"openid", "api1"};
  g.auth_time = 1699999000;
  g.idp = "local";
  g.amr = {"pwd"};
  g.tenant = "acme";
  g.acr = "urn:acr:1";
  g.session_id = "sid-1";
  return g;
}

TEST(GrantTokensTest, AccessTokenRequestCarriesTheLoginAndTheFamily) {
  store::Client client;
  client.client_id = "web";
  client.always_send_client_claims = true;
  const std::vector<store::ClaimValue> claims = {{"email", "a@example.com"}};
  const AccessTokenRequest r = AccessTokenRequestFromGrant(client, UserGrant(), {"api1"}, claims);
  EXPECT_EQ(r.client, &client);
  EXPECT_EQ(r.subject, "alice");
  EXPECT_EQ(r.scopes, std::vector<std::string>{"api1"});
  EXPECT_TRUE(r.include_client_claims);
  EXPECT_EQ(r.grant_id, "fam-1");
  ASSERT_TRUE(r.resource_owner.has_value());
  EXPECT_EQ(r.resource_owner->auth_time, 1699999000);
  EXPECT_EQ(r.resource_owner->idp, "local");
  EXPECT_EQ(r.resource_owner->amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(r.resource_owner->tenant, "acme");
  EXPECT_EQ(r.resource_owner->acr, "urn:acr:1");
  ASSERT_EQ(r.resource_owner->claims.size(), 1u);
  EXPECT_EQ(r.resource_owner->claims[0].type, "email");
}

TEST(GrantTokensTest, IdTokenRequestCarriesTheLoginAndTheSession) {
  store::Client client;
  client.client_id = "web";
  const IdTokenRequest r = IdTokenRequestFromGrant(client, UserGrant(), {"openid"}, "at");
  EXPECT_EQ(r.client, &client);
  EXPECT_EQ(r.subject, "alice");
  EXPECT_EQ(r.scopes, std::vector<std::string>{"openid"});
  EXPECT_EQ(r.auth_time, 1699999000);
  EXPECT_EQ(r.idp, "local");
  EXPECT_EQ(r.amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(r.acr, "urn:acr:1");
  EXPECT_EQ(r.sid, "sid-1");
  EXPECT_EQ(r.access_token, "at");
  EXPECT_TRUE(r.nonce.empty()) << "the nonce is the authorization-code grant's own";
  EXPECT_TRUE(r.user_claims.empty()) << "which user claims go in is each grant's own rule";
}

TEST(GrantTokensTest, UnknownLoginTimeIsTheGrantsCreation) {
  store::Client client;
  store::Grant g = UserGrant();
  g.auth_time.reset();
  EXPECT_EQ(AccessTokenRequestFromGrant(client, g, {}, {}).resource_owner->auth_time, 1700000000);
  EXPECT_EQ(IdTokenRequestFromGrant(client, g, {}, "").auth_time, 1700000000);
}

}  // namespace
}  // namespace tf::oauth
