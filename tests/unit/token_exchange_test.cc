// Token exchange (RFC 8693, oauth/token_exchange.h) through oauth::Service over a real LMDB store with a ManualClock:
// the expiry boundary of a subject token, revoked families, tampered and foreign-signed tokens, act nesting and the
// rule that no stored claim can forge act, targets, scopes and the response members.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "oauth/grant_family.h"
#include "oauth/service.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::Json;
using testing::kNow;
using testing::Scope;

constexpr char kGrant[] = "urn:ietf:params:oauth:grant-type:token-exchange";
constexpr char kAccessTokenType[] = "urn:ietf:params:oauth:token-type:access_token";

class TokenExchangeTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("token_exchange_test"));
    config_.issuer = "https://auth.example.com";
    testing::UseCheapPasswordHashing(&config_);
    config_.access_token_signing_alg = "ES256";
    config_.id_token_signing_alg = "ES256";
    key_ = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_NE(key_, nullptr);
    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key_, kNow - 100)));
      // "act" in UserClaims: a user claim of that name must still not forge the protocol claim.
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api1", {"email", "act"})));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api2", {"email", "act"})));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("admin")));
      store::ApiResource a;
      a.name = "api-a";
      a.scopes = {"api1"};
      TF_RETURN_IF_ERROR(t.PutApiResource(a));
      store::ApiResource b;
      b.name = "api-b";
      b.scopes = {"api2"};
      TF_RETURN_IF_ERROR(t.PutApiResource(b));
      store::ApiResource admin;
      admin.name = "api-admin";
      admin.scopes = {"admin"};
      TF_RETURN_IF_ERROR(t.PutApiResource(admin));

      store::Client app = testing::ConfidentialClient("app", "s3cret", {"api1"});
      app.allowed_grant_types = {"password"};
      app.allow_offline_access = true;
      TF_RETURN_IF_ERROR(t.PutClient(app));
      store::Client exchanger = testing::ConfidentialClient("exchanger", "s3cret", {"api1", "api2"});
      exchanger.allowed_grant_types = {kGrant};
      exchanger.access_token_lifetime = 600;
      return t.PutClient(exchanger);
    });
    store::User alice;
    alice.subject_id = "sub-alice";
    alice.username = "alice";
    alice.claims = {{"email", "alice@example.com", ""}, {"act", "{\"sub\":\"mallory\"}", ""}};
    alice.password_hash = testing::CheapPasswordHash("Wonderland1");
    Put([&](store::Txn& t) { return t.PutUser(alice); });
    NewService();
  }

  http::Response Post(const std::string& body, const std::string& client) {
    return Handle(testing::FormPost("/connect/token", body, testing::Basic(client, "s3cret")));
  }

  // A password-grant response for alice.
  Json Login(const std::string& scope = "api1") {
    http::Response r = Post("grant_type=password&username=alice&password=Wonderland1&scope=" + scope, "app");
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r.body);
  }

  http::Response Exchange(const std::string& subject, const std::string& extra = "") {
    return Post(std::string("grant_type=") + kGrant + "&subject_token=" + subject +
                    "&subject_token_type=" + kAccessTokenType + extra,
                "exchanger");
  }

  Json Claims(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    Json body(r.body);
    return Json(testing::VerifiedJwsPayload(body.Str("access_token"), *key_));
  }

  void ExpectError(const http::Response& r, const std::string& error) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(Json(r.body).Str("error"), error) << r.body;
    EXPECT_EQ(testing::HeaderOf(r, "Cache-Control"), "no-store");
  }

  std::shared_ptr<const token::SigningKey> key_;
};

TEST_F(TokenExchangeTest, ResponseAndClaims) {
  const std::string subject = Login().Str("access_token");
  http::Response r = Exchange(subject, "&audience=api-b");
  ASSERT_EQ(r.status, 200) << r.body;
  Json body(r.body);
  EXPECT_EQ(body.Str("issued_token_type"), kAccessTokenType);
  EXPECT_EQ(body.Str("token_type"), "Bearer");
  EXPECT_EQ(body.Num("expires_in"), 600);
  EXPECT_EQ(body.Str("scope"), "api2");
  EXPECT_FALSE(body.Has("refresh_token"));
  Json claims = Claims(r);
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("client_id"), "exchanger");
  EXPECT_EQ(claims.Str("aud"), "api-b");
  EXPECT_EQ(claims.Str("email"), "alice@example.com");
  EXPECT_EQ(claims.Num("exp"), kNow + 600);
  EXPECT_FALSE(claims.Has("act"));  // the user's stored "act" claim never becomes one
  EXPECT_EQ(log_.outcome, "ok");
}

TEST_F(TokenExchangeTest, SubjectTokenExpiresAtExpPlusSkew) {
  const std::string subject = Login().Str("access_token");  // AccessTokenLifetime 3600
  clock_.Set(kNow + 3600 + config_.clock_skew_seconds - 1);
  EXPECT_EQ(Exchange(subject).status, 200);
  clock_.Set(kNow + 3600 + config_.clock_skew_seconds);
  http::Response r = Exchange(subject);
  ExpectError(r, "invalid_request");
  EXPECT_EQ(Json(r.body).Str("error_description"), "the subject_token is not valid");
}

TEST_F(TokenExchangeTest, RevokedFamilyKillsSubjectAndExchangedToken) {
  const std::string subject = Login("api1+offline_access").Str("access_token");
  http::Response r = Exchange(subject, "&scope=api2");
  const std::string family = Claims(r).Str("grant_id");
  EXPECT_EQ(Json(testing::VerifiedJwsPayload(subject, *key_)).Str("grant_id"), family);
  Put([&](store::Txn& t) {
    Result<std::shared_ptr<const Snapshot>> snap = Catalog(config_, store_.get()).Current();
    if (!snap.ok()) return snap.status();
    return RevokeGrantFamily(t, **snap, family, kNow);
  });
  ExpectError(Exchange(subject), "invalid_request");
  // the exchanged token itself cannot be exchanged any more either
  ExpectError(Exchange(Json(r.body).Str("access_token")), "invalid_request");
}

TEST_F(TokenExchangeTest, TamperedAndForeignSignedTokens) {
  const std::string subject = Login().Str("access_token");
  // another sub in the payload, the original signature
  const size_t dot1 = subject.find('.'), dot2 = subject.rfind('.');
  std::string payload = testing::VerifiedJwsPayload(subject, *key_);
  const size_t at = payload.find("sub-alice");
  ASSERT_NE(at, std::string::npos);
  payload.replace(at, 9, "sub-mallo");
  const std::string tampered = subject.substr(0, dot1 + 1) + Base64UrlEncode(payload) + subject.substr(dot2);
  ExpectError(Exchange(tampered), "invalid_request");
  // a well-formed token signed by a key that is not published
  std::shared_ptr<const token::SigningKey> foreign = testing::NewSigningKey(token::Alg::kES256);
  Result<std::string> forged = token::SignJws(*foreign, "at+jwt", testing::VerifiedJwsPayload(subject, *key_));
  ASSERT_TRUE(forged.ok());
  ExpectError(Exchange(*forged), "invalid_request");
  EXPECT_EQ(Exchange(subject).status, 200);
}

TEST_F(TokenExchangeTest, ActorsNestOutermostFirst) {
  const std::string subject = Login().Str("access_token");
  const std::string actor = Login("api1").Str("access_token");
  http::Response first = Exchange(subject, std::string("&scope=api1&actor_token=") + actor +
                                               "&actor_token_type=" + kAccessTokenType);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string delegated = Json(first.body).Str("access_token");
  EXPECT_NE(testing::VerifiedJwsPayload(delegated, *key_).find(R"("act":{"sub":"sub-alice"})"), std::string::npos);
  http::Response second = Exchange(delegated, std::string("&scope=api1&actor_token=") + actor +
                                                  "&actor_token_type=" + kAccessTokenType);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_NE(testing::VerifiedJwsPayload(Json(second.body).Str("access_token"), *key_)
                .find(R"("act":{"sub":"sub-alice","act":{"sub":"sub-alice"}})"),
            std::string::npos);
}

TEST_F(TokenExchangeTest, TargetsAndScopes) {
  const std::string subject = Login().Str("access_token");
  ExpectError(Exchange(subject, "&audience=api-admin"), "invalid_target");
  ExpectError(Exchange(subject, "&resource=api-unknown"), "invalid_target");
  ExpectError(Exchange(subject, "&scope=admin"), "invalid_scope");
  ExpectError(Exchange(subject, "&audience=api-a&scope=api2"), "invalid_scope");
  ExpectError(Exchange(subject, "&scope=api1+offline_access"), "invalid_scope");  // no AllowOfflineAccess
  EXPECT_EQ(Json(Exchange(subject).body).Str("scope"), "api1");  // the subject's, within the allowance
  EXPECT_EQ(Json(Exchange(subject, "&audience=api-a&resource=api-b").body).Str("scope"), "api1 api2");
}

TEST_F(TokenExchangeTest, ClientMustListTheGrant) {
  const std::string subject = Login().Str("access_token");
  http::Response r = Post(std::string("grant_type=") + kGrant + "&subject_token=" + subject +
                              "&subject_token_type=" + kAccessTokenType,
                          "app");
  ExpectError(r, "unauthorized_client");
}

}  // namespace
}  // namespace tf::oauth
