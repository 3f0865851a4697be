// The UserInfo endpoint (OpenID Connect Core §5.3, oauth/userinfo.h) through oauth::Service over a real LMDB store
// and a ManualClock: where the bearer token may come from (RFC 6750 §2.1, §2.2, never §2.3) and every error that
// follows from it, which tokens are accepted (access_token_validation.h: JWT and reference, expired, revoked), the
// openid scope check, the user as stored now, and which claims the answer carries. Tokens come from the password
// grant.
#include "oauth/userinfo.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oauth/service.h"
#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::Json;
using testing::Identity;
using testing::kNow;
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kRealm[] = "test \"realm\"";
constexpr char kChallenge[] = R"(Bearer realm="test \"realm\"")";
constexpr char kInvalidTokenChallenge[] = R"(Bearer realm="test \"realm\"", error="invalid_token")";

// Every header the endpoint writes must stand once.
std::string HeaderOf(const http::Response& r, std::string_view name) {
  return testing::HeaderOf(r, name, testing::RepeatedHeader::kMark);
}

class UserinfoTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("userinfo_test"));

    config_.issuer = kIssuer;
    config_.realm = kRealm;
    testing::UseCheapPasswordHashing(&config_);
    config_.access_token_signing_alg = "ES256";
    key_ = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_NE(key_, nullptr);

    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key_, kNow - 100)));
      store::ApiScope api;
      api.name = "api";
      api.user_claims = {"department"};
      TF_RETURN_IF_ERROR(t.PutApiScope(api));
      store::ApiResource resource;
      resource.name = "api";
      resource.scopes = {"api"};
      TF_RETURN_IF_ERROR(t.PutApiResource(resource));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(Identity("openid", {"sub"})));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(
          Identity("profile", {"name", "email_verified", "age", "role", "iss", "sub", "tenant"})));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(Identity("email", {"email"})));

      store::Client app;
      app.client_id = "app";
      app.client_secrets = {testing::HashedSecret("s3cret")};
      app.allowed_grant_types = {"password"};
      app.allowed_scopes = {"openid", "profile", "email", "api"};
      app.allow_offline_access = true;
      TF_RETURN_IF_ERROR(t.PutClient(app));

      store::Client ref = app;
      ref.client_id = "ref";
      ref.access_token_type = store::AccessTokenType::kReference;
      return t.PutClient(ref);
    });

    store::User alice;
    alice.subject_id = "sub-alice";
    alice.username = "alice";
    alice.claims = {{"name", "Alice", ""},
                    {"email", "alice@example.com", ""},
                    {"email_verified", "True", "http://www.w3.org/2001/XMLSchema#boolean"},
                    {"age", "42", "http://www.w3.org/2001/XMLSchema#integer64"},
                    {"role", "admin", ""},
                    {"role", "user", ""},
                    {"department", "R&D", ""},
                    {"iss", "https://evil.example", ""},
                    {"sub", "someone-else", ""}};
    alice.password_hash = testing::CheapPasswordHash("Wonderland1");
    ASSERT_FALSE(alice.password_hash.empty());
    Put([&](store::Txn& t) { return t.PutUser(alice); });
    NewService();
  }

  void EditUser(const std::function<void(store::User&)>& edit) { ServiceFixture::EditUser("sub-alice", edit); }

  // A password-grant token response for `scope` ('+' for spaces).
  Json Login(const std::string& scope, const std::string& client = "app") {
    http::Response resp = Handle(testing::FormPost(
        "/connect/token", "grant_type=password&username=alice&password=Wonderland1&scope=" + scope,
        testing::Basic(client, "s3cret")));
    EXPECT_EQ(resp.status, 200) << resp.body;
    return Json(resp.body);
  }

  std::string AccessToken(const std::string& scope = "openid+profile", const std::string& client = "app") {
    return Login(scope, client).Str("access_token");
  }

  http::Response Get(const std::string& authorization, const std::string& query = "") {
    return Handle(testing::GetRequest("/connect/userinfo", query, authorization));
  }

  http::Response PostForm(const std::string& body, const std::string& authorization = "",
                          const std::string& content_type = testing::kFormUrlEncoded) {
    return Handle(testing::FormPost("/connect/userinfo", body, authorization, content_type));
  }

  // Every answer: no caching.
  static void ExpectNoStore(const http::Response& r) {
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
    EXPECT_EQ(HeaderOf(r, "Pragma"), "no-cache");
  }

  void ExpectError(const http::Response& r, int status, const std::string& error,
                   const std::string& challenge = "<absent>") {
    EXPECT_EQ(r.status, status) << r.body;
    Json body(r.body);
    EXPECT_EQ(body.Str("error"), error) << r.body;
    EXPECT_TRUE(body.Has("error_description")) << r.body;
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), challenge);
    EXPECT_EQ(log_.outcome, error);
    ExpectNoStore(r);
  }

  void ExpectInvalidToken(const http::Response& r) { ExpectError(r, 401, "invalid_token", kInvalidTokenChallenge); }

  void ExpectNoToken(const http::Response& r) {
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), kChallenge);  // no error code (RFC 6750 §3.1)
    EXPECT_EQ(r.body.find("error"), std::string::npos) << r.body;
    ExpectNoStore(r);
  }

  // The claims of a 200 answer.
  std::string Claims(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
    ExpectNoStore(r);
    EXPECT_EQ(log_.outcome, "ok");
    return r.body;
  }

  std::shared_ptr<const token::SigningKey> key_;
};

TEST_F(UserinfoTest, BearerHeaderReturnsTheClaimsOfTheGrantedIdentityScopes) {
  const std::string token = AccessToken("openid+profile+api");
  Json claims(Claims(Get("Bearer " + token)));
  ASSERT_TRUE(claims.IsObject());
  // sub first; profile's claims with their value types; never email (scope not granted) nor department (an API
  // scope's claim); a stored iss or sub cannot forge the protocol claims; tenant is a protocol name too.
  EXPECT_EQ(claims.Names(), (std::vector<std::string>{"sub", "name", "email_verified", "age", "role"}));
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("name"), "Alice");
  EXPECT_EQ(claims.Raw("email_verified"), "true");
  EXPECT_EQ(claims.Raw("age"), "42");
  EXPECT_EQ(claims.Raw("role"), R"(["admin","user"])");
  EXPECT_EQ(log_.client_id, "app");

  Json with_email(Claims(Get("Bearer " + AccessToken("openid+email"))));
  EXPECT_EQ(with_email.Names(), (std::vector<std::string>{"sub", "email"}));
  EXPECT_EQ(with_email.Str("email"), "alice@example.com");

  Json only_openid(Claims(Get("Bearer " + AccessToken("openid"))));
  EXPECT_EQ(only_openid.Names(), (std::vector<std::string>{"sub"}));
}

TEST_F(UserinfoTest, SchemeIsCaseInsensitiveAndSpacesMayRepeat) {
  const std::string token = AccessToken();
  Claims(Get("bearer " + token));
  Claims(Get("BEARER   " + token));
}

TEST_F(UserinfoTest, PostWithTheTokenInTheBodyOrTheHeader) {
  const std::string token = AccessToken();
  Json body(Claims(PostForm("access_token=" + token)));
  EXPECT_EQ(body.Str("sub"), "sub-alice");
  Claims(PostForm("", "Bearer " + token, ""));                       // header only, no body
  Claims(PostForm("{}", "Bearer " + token, "application/json"));     // a body that is not a form is not read
  Claims(PostForm("other=1", "Bearer " + token));                    // a form without access_token
}

TEST_F(UserinfoTest, NoTokenIsAChallengeWithoutErrorCode) {
  ExpectNoToken(Get(""));
  EXPECT_EQ(log_.outcome, "no_token");
  ExpectNoToken(PostForm(""));
  ExpectNoToken(PostForm("other=1"));
  // Another scheme is not a bearer token (an unsupported method, RFC 6750 §3.1).
  ExpectNoToken(Get("Basic " + Base64Encode("app:s3cret")));
  // The query string is never read (§2.3 leaks tokens into logs).
  ExpectNoToken(Get("", "access_token=" + AccessToken()));
  // A token in a body that is not a form.
  ExpectNoToken(PostForm("access_token=" + AccessToken(), "", "text/plain"));
}

TEST_F(UserinfoTest, MalformedRequestsAreInvalidRequest) {
  const std::string token = AccessToken();
  // Both methods at once.
  ExpectError(PostForm("access_token=" + token, "Bearer " + token), 400, "invalid_request");
  // Malformed Bearer credentials.
  const std::vector<std::string> malformed = {"Bearer",     "Bearer ",      "Bearer a b",
                                             "Bearer " + token + ", Basic eA==", "Bearer " + token + " ",
                                             "Bearer =abc", "Bearer a=b", "Bearer \"x\""};
  for (const std::string& h : malformed) {
    ExpectError(Get(h), 400, "invalid_request");
  }
  // A form that does not decode, or names access_token twice.
  ExpectError(PostForm("access_token=%zz"), 400, "invalid_request");
  ExpectError(PostForm("access_token=" + token + "&access_token=" + token), 400, "invalid_request");
  // Body checks of form posts.
  http::Request r;
  r.method = "POST";
  r.path = "/connect/userinfo";
  r.content_type = "application/x-www-form-urlencoded";
  r.body_state = http::BodyState::kTooLarge;
  ExpectError(service_->HandleAndWait(r, &log_), 413, "invalid_request");
  r.body_state = http::BodyState::kIncomplete;
  ExpectError(service_->HandleAndWait(r, &log_), 400, "invalid_request");
}

TEST_F(UserinfoTest, B64TokenCharactersAreAccepted) {
  // Well-formed credentials that are not our tokens: invalid_token, not invalid_request.
  ExpectInvalidToken(Get("Bearer aZ09-._~+/=="));
  ExpectInvalidToken(Get("Bearer abc"));
}

TEST_F(UserinfoTest, InvalidTokens) {
  const std::string token = AccessToken();
  ExpectInvalidToken(Get("Bearer not-a-token"));
  ExpectInvalidToken(Get("Bearer a.b.c"));
  // A tampered payload breaks the signature.
  std::optional<token::JwsParts> parts = token::SplitJws(token);
  ASSERT_TRUE(parts.has_value());
  std::string payload = parts->payload_json;
  payload.replace(payload.find("sub-alice"), 9, "sub-mallo");
  const std::string tampered = token.substr(0, token.find('.')) + "." + Base64UrlEncode(payload) +
                               token.substr(token.rfind('.'));
  ExpectInvalidToken(Get("Bearer " + tampered));
  // A JWT signed with our key but not an access token (typ JWT, like an id_token).
  Result<std::string> other = token::SignJws(*key_, "JWT", parts->payload_json);
  ASSERT_TRUE(other.ok());
  ExpectInvalidToken(Get("Bearer " + *other));
  // Refresh tokens are not access tokens.
  Json login = Login("openid+offline_access");
  ASSERT_TRUE(login.Has("refresh_token"));
  ExpectInvalidToken(Get("Bearer " + login.Str("refresh_token")));
  ExpectInvalidToken(PostForm("access_token=" + login.Str("refresh_token")));
}

TEST_F(UserinfoTest, ExpiredTokenAfterTheClockSkew) {
  const std::string token = AccessToken();  // exp = now + 3600
  clock_.Set(kNow + 3600 + config_.clock_skew_seconds - 1);
  Claims(Get("Bearer " + token));
  clock_.Set(kNow + 3600 + config_.clock_skew_seconds);
  ExpectInvalidToken(Get("Bearer " + token));
}

TEST_F(UserinfoTest, TokenOfARevokedFamily) {
  Json login = Login("openid+offline_access");
  const std::string token = login.Str("access_token");
  Claims(Get("Bearer " + token));
  std::optional<token::JwsParts> parts = token::SplitJws(token);
  ASSERT_TRUE(parts.has_value());
  Json claims(parts->payload_json);
  const std::string family = claims.Str("grant_id");
  Put([&](store::Txn& t) -> Status {
    Result<size_t> n = t.RevokeFamily(family, kNow, kNow + 7200);
    return n.ok() ? Status::OK() : n.status();
  });
  ExpectInvalidToken(Get("Bearer " + token));
}

TEST_F(UserinfoTest, ReferenceTokens) {
  Json login = Login("openid+profile+offline_access", "ref");
  const std::string token = login.Str("access_token");
  ASSERT_EQ(token.find('.'), std::string::npos);  // a handle
  Json claims(Claims(Get("Bearer " + token)));
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("name"), "Alice");
  EXPECT_EQ(log_.client_id, "ref");
  Claims(PostForm("access_token=" + token));

  // Expired.
  clock_.Set(kNow + 3600);
  ExpectInvalidToken(Get("Bearer " + token));
  clock_.Set(kNow);
  // Revoked with its family.
  Put([&](store::Txn& t) -> Status {
    Result<store::Grant> g = t.GetGrant(Sha256(token));
    if (!g.ok()) return g.status();
    Result<size_t> n = t.RevokeFamily(g->family, kNow, kNow + 7200);
    return n.ok() ? Status::OK() : n.status();
  });
  ExpectInvalidToken(Get("Bearer " + token));
}

TEST_F(UserinfoTest, WithoutOpenidIsInsufficientScope) {
  const std::string token = AccessToken("profile+api");
  ExpectError(Get("Bearer " + token), 403, "insufficient_scope",
              R"(Bearer realm="test \"realm\"", error="insufficient_scope", scope="openid")");
}

TEST_F(UserinfoTest, ScopeClaimAsArray) {
  config_.scope_claim_as_array = true;
  NewService();
  Json claims(Claims(Get("Bearer " + AccessToken("openid+email"))));
  EXPECT_EQ(claims.Str("email"), "alice@example.com");
  ExpectError(Get("Bearer " + AccessToken("email")), 403, "insufficient_scope",
              R"(Bearer realm="test \"realm\"", error="insufficient_scope", scope="openid")");
}

TEST_F(UserinfoTest, TheUserAsStoredNow) {
  const std::string token = AccessToken();
  EditUser([](store::User& u) { u.claims = {{"name", "Alice Liddell", ""}}; });
  Json claims(Claims(Get("Bearer " + token)));
  EXPECT_EQ(claims.Str("name"), "Alice Liddell");
  EXPECT_FALSE(claims.Has("role"));

  EditUser([](store::User& u) { u.is_active = false; });
  ExpectInvalidToken(Get("Bearer " + token));
  EditUser([](store::User& u) { u.is_active = true; });
  Claims(Get("Bearer " + token));

  Put([&](store::Txn& t) { return t.RemoveUser("sub-alice"); });
  ExpectInvalidToken(Get("Bearer " + token));
}

TEST_F(UserinfoTest, DisabledIdentityResourceAddsNoClaims) {
  const std::string token = AccessToken("openid+profile");
  Put([&](store::Txn& t) -> Status {
    store::IdentityResource profile = Identity("profile", {"name"});
    profile.enabled = false;
    return t.PutIdentityResource(profile);
  });
  Json claims(Claims(Get("Bearer " + token)));
  EXPECT_EQ(claims.Names(), (std::vector<std::string>{"sub"}));
}

TEST_F(UserinfoTest, MethodsAndBasePath) {
  http::Request r;
  r.method = "PUT";
  r.path = "/connect/userinfo";
  http::Response resp = service_->HandleAndWait(r, &log_);
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(HeaderOf(resp, "Allow"), "GET, POST");
  r.method = "HEAD";
  EXPECT_EQ(service_->HandleAndWait(r, &log_).status, 405);

  config_.base_path = "/auth";
  NewService();
  const std::string token = [&] {
    http::Request login;
    login.method = "POST";
    login.path = "/auth/connect/token";
    login.content_type = "application/x-www-form-urlencoded";
    login.authorization = "Basic " + Base64Encode("app:s3cret");
    login.body = "grant_type=password&username=alice&password=Wonderland1&scope=openid";
    return Json(service_->HandleAndWait(login, &log_).body).Str("access_token");
  }();
  http::Request get;
  get.method = "GET";
  get.path = "/auth/connect/userinfo";
  get.authorization = "Bearer " + token;
  EXPECT_EQ(service_->HandleAndWait(get, &log_).status, 200);
  get.path = "/connect/userinfo";
  EXPECT_EQ(service_->HandleAndWait(get, &log_).status, 404);
}

}  // namespace
}  // namespace tf::oauth
