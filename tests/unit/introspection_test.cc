// Token introspection (RFC 7662, oauth/introspection.h) through oauth::Service over a real LMDB store and a
// ManualClock: who may call (API resources with ApiSecrets, confidential clients), the one 401 for every failure, the
// request checks shared with the token endpoint, and when each kind of token (JWT and reference access tokens,
// refresh tokens) is active and what the answer says. JWTs come from the client_credentials grant or are signed here
// with the stored keys; stored grants are written directly with Txn::PutGrant.
#include "oauth/introspection.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "oauth/service.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::Basic;
using testing::ConfidentialClient;
using testing::HashedSecret;
using testing::HeaderOf;
using testing::Json;
using testing::kNow;
using testing::Scope;
constexpr char kIssuer[] = "https://auth.example.com";

using token::Alg;
using token::SigningKey;

store::ApiResource Resource(std::string name, std::vector<std::string> scopes, std::vector<store::Secret> secrets,
                            bool enabled = true) {
  store::ApiResource r;
  r.name = std::move(name);
  r.scopes = std::move(scopes);
  r.api_secrets = std::move(secrets);
  r.enabled = enabled;
  return r;
}

class IntrospectionTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("introspection_test"));

    config_.issuer = kIssuer;
    config_.realm = "test realm";
    config_.clock_skew_seconds = 60;

    rs256_ = AddKey(Alg::kRS256, store::KeyState::kCurrent);
    es256_ = AddKey(Alg::kES256, store::KeyState::kCurrent);

    Put([&](store::Txn& t) -> Status {
      for (const char* name : {"api1", "api2", "both", "gone"}) TF_RETURN_IF_ERROR(t.PutApiScope(Scope(name)));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("api1", {"api1", "both"}, {HashedSecret("api1-secret")})));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource(
          "api2", {"api2", "both"}, {HashedSecret("api2-old", kNow - 1), HashedSecret("api2-secret")})));
      TF_RETURN_IF_ERROR(
          t.PutApiResource(Resource("disabled-api", {"gone"}, {HashedSecret("disabled-secret")}, false)));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("nosecret-api", {"gone"}, {})));
      TF_RETURN_IF_ERROR(t.PutClient(ConfidentialClient("svc", "s3cret", {"api1", "api2", "both"})));
      TF_RETURN_IF_ERROR(t.PutClient(ConfidentialClient("other", "0ther", {"api1"})));
      // A client whose id is also an API resource's name, with a different secret.
      TF_RETURN_IF_ERROR(t.PutClient(ConfidentialClient("api1", "client-api1", {"api1"})));
      store::Client pub;
      pub.client_id = "public";
      pub.require_client_secret = false;
      pub.client_secrets.push_back(HashedSecret("pub-secret"));
      TF_RETURN_IF_ERROR(t.PutClient(pub));
      return Status::OK();
    });
    NewService();
  }

  // Each key a second newer than the one before.
  std::shared_ptr<const SigningKey> AddKey(Alg alg, store::KeyState state) {
    return PutNewKey(alg, state, kNow - 100 + static_cast<int64_t>(key_count_++));
  }

  http::Response PostTo(const std::string& path, const std::string& body, const std::string& authorization,
                        const std::string& content_type = testing::kFormUrlEncoded) {
    return Handle(testing::FormPost(config_.base_path + path, body, authorization, content_type));
  }

  http::Response Introspect(const std::string& token, const std::string& authorization = Basic("api1", "api1-secret"),
                            const std::string& extra = "") {
    return PostTo("/connect/introspect", "token=" + token + extra, authorization);
  }

  // The answer's JSON after checking status and headers.
  std::unique_ptr<Json> Answer(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
    EXPECT_EQ(HeaderOf(r, "Pragma"), "no-cache");
    auto j = std::make_unique<Json>(r.body);
    EXPECT_TRUE(j->ok()) << r.body;
    return j;
  }

  void ExpectActive(const http::Response& r) { EXPECT_TRUE(Answer(r)->True("active")) << r.body; }
  void ExpectInactive(const http::Response& r) {
    Answer(r);
    EXPECT_EQ(r.body, R"({"active":false})");
  }

  // A JWT access token from the client_credentials grant.
  std::string IssueJwt(const std::string& scope, const std::string& client = "svc",
                       const std::string& secret = "s3cret") {
    http::Response r = PostTo("/connect/token", "grant_type=client_credentials&scope=" + scope, Basic(client, secret));
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r.body).Str("access_token");
  }

  // A JWS signed with `key` and a hand-written header (for headers the service would never write).
  static std::string SignRaw(const SigningKey& key, const std::string& header_json, const std::string& payload_json) {
    const std::string input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
    Result<std::string> sig = key.Sign(input);
    EXPECT_TRUE(sig.ok());
    return input + "." + Base64UrlEncode(*sig);
  }
  static std::string Header(const SigningKey& key, const std::string& typ = "at+jwt") {
    return R"({"alg":")" + std::string(token::AlgName(key.alg())) + R"(","kid":")" + key.kid() + R"(","typ":")" +
           typ + R"("})";
  }
  // Claims of a token for api1 issued by "svc" at kNow, lifetime 3600, plus `extra` members (",\"x\":1").
  static std::string Claims(const std::string& extra = "") {
    return R"({"iss":")" + std::string(kIssuer) + R"(","nbf":)" + std::to_string(kNow) + R"(,"iat":)" +
           std::to_string(kNow) + R"(,"exp":)" + std::to_string(kNow + 3600) +
           R"(,"aud":"api1","scope":"api1","client_id":"svc","sub":"svc")" + extra + "}";
  }

  std::string PutGrant(const store::Grant& grant) {
    std::string handle = RandomHandle(32);
    Put([&](store::Txn& t) { return t.PutGrant(Sha256(handle), grant); });
    return handle;
  }

  static store::Grant ReferenceGrant(const std::string& client = "svc", const std::string& aud = R"("api1")") {
    store::Grant g;
    g.kind = store::GrantKind::kReferenceToken;
    g.client_id = client;
    g.subject = "alice";
    g.scopes = {"api1"};
    g.created = kNow;
    g.expires = kNow + 600;
    g.family = "ref-fam-" + client;
    g.access_token_json = R"({"iss":")" + std::string(kIssuer) + R"(","nbf":)" + std::to_string(kNow) +
                          R"(,"iat":)" + std::to_string(kNow) + R"(,"exp":)" + std::to_string(kNow + 600) +
                          R"(,"aud":)" + aud + R"(,"scope":"api1","client_id":")" + client +
                          R"(","sub":"alice","name":"Alice","jti":"ref-jti"})";
    return g;
  }

  static store::Grant RefreshGrant(const std::string& client = "svc") {
    store::Grant g;
    g.kind = store::GrantKind::kRefreshToken;
    g.client_id = client;
    g.subject = "alice";
    g.scopes = {"openid", "api1", "offline_access"};
    g.created = kNow - 10;
    g.expires = kNow + 1000;
    g.family = "fam-" + client;
    g.auth_time = kNow - 20;
    g.idp = "local";
    g.amr = {"pwd"};
    return g;
  }

  void RevokeFamilyInStore(const std::string& family) {
    Put([&](store::Txn& t) -> Status {
      Result<size_t> n = t.RevokeFamily(family, clock_.NowSeconds(), clock_.NowSeconds() + 3600);
      return n.ok() ? Status::OK() : n.status();
    });
  }

  size_t key_count_ = 0;
  std::shared_ptr<const SigningKey> rs256_, es256_;
};

// ---- the endpoint: method, body, authentication ---------------------------------------------------------------

TEST_F(IntrospectionTest, OnlyPost) {
  for (const char* method : {"GET", "HEAD", "PUT", "DELETE"}) {
    http::Request r;
    r.method = method;
    r.path = "/connect/introspect";
    http::Response resp = service_->HandleAndWait(r, &log_);
    EXPECT_EQ(resp.status, 405) << method;
    EXPECT_EQ(HeaderOf(resp, "Allow"), "POST");
    EXPECT_EQ(log_.outcome, "method_not_allowed");
  }
}

TEST_F(IntrospectionTest, BodyChecksAreTheTokenEndpoints) {
  const std::string auth = Basic("api1", "api1-secret");
  for (const char* bad : {"", "application/json", "text/plain", "multipart/form-data; boundary=x"}) {
    http::Response r = PostTo("/connect/introspect", "token=x", auth, bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Json(r.body).Str("error"), "invalid_request");
  }
  EXPECT_EQ(PostTo("/connect/introspect", "token=x", auth, "Application/X-WWW-Form-Urlencoded; charset=utf-8").status,
            200);
  http::Response dup = PostTo("/connect/introspect", "token=a&token=b", auth);
  EXPECT_EQ(dup.status, 400);
  EXPECT_NE(dup.body.find("'token' is repeated"), std::string::npos) << dup.body;
  EXPECT_EQ(PostTo("/connect/introspect", "token=%zz", auth).status, 400);
  std::string many = "token=x";
  for (int i = 0; i < 64; ++i) many += "&p" + std::to_string(i) + "=1";
  EXPECT_EQ(PostTo("/connect/introspect", many, auth).status, 400);

  http::Request r;
  r.method = "POST";
  r.path = "/connect/introspect";
  r.content_type = "application/x-www-form-urlencoded";
  r.authorization = auth;
  r.body_state = http::BodyState::kTooLarge;
  http::Response big = service_->HandleAndWait(r, &log_);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Json(big.body).Str("error"), "invalid_request");
  r.body_state = http::BodyState::kIncomplete;
  EXPECT_EQ(service_->HandleAndWait(r, &log_).status, 400);
}

TEST_F(IntrospectionTest, EveryAuthenticationFailureIsTheSame401) {
  const std::string jwt = IssueJwt("api1");
  const std::string t = "token=" + jwt;
  const std::vector<std::pair<std::string, http::Response>> cases = {
      {"no credentials", PostTo("/connect/introspect", t, "")},
      {"unknown name", PostTo("/connect/introspect", t, Basic("nobody", "api1-secret"))},
      {"wrong resource secret", PostTo("/connect/introspect", t, Basic("api1", "wrong"))},
      {"empty resource secret", PostTo("/connect/introspect", t, Basic("api1", ""))},
      {"disabled resource", PostTo("/connect/introspect", t, Basic("disabled-api", "disabled-secret"))},
      {"resource without secrets", PostTo("/connect/introspect", t, Basic("nosecret-api", ""))},
      {"expired resource secret", PostTo("/connect/introspect", t, Basic("api2", "api2-old"))},
      {"resource secret in body, wrong", PostTo("/connect/introspect", t + "&client_id=api1&client_secret=x", "")},
      {"wrong client secret", PostTo("/connect/introspect", t, Basic("svc", "wrong"))},
      {"client id without secret", PostTo("/connect/introspect", t + "&client_id=svc", "")},
      {"public client, id only", PostTo("/connect/introspect", t + "&client_id=public", "")},
      {"public client with its secret", PostTo("/connect/introspect", t, Basic("public", "pub-secret"))},
      {"two methods", PostTo("/connect/introspect", t + "&client_secret=api1-secret", Basic("api1", "api1-secret"))},
      {"two methods (client)", PostTo("/connect/introspect", t + "&client_secret=s3cret", Basic("svc", "s3cret"))},
      {"body id differs from Basic", PostTo("/connect/introspect", t + "&client_id=api2", Basic("api1", "api1-secret"))},
      {"malformed Basic", PostTo("/connect/introspect", t, "Basic !!!")},
      {"over-long secret", PostTo("/connect/introspect", t, Basic("api1", std::string(101, 'a')))},
      {"missing token too", PostTo("/connect/introspect", "", Basic("api1", "wrong"))},
  };
  const http::Response& first = cases[0].second;
  EXPECT_EQ(first.status, 401);
  EXPECT_EQ(first.body, R"({"error":"invalid_client","error_description":"client authentication failed"})");
  EXPECT_EQ(HeaderOf(first, "WWW-Authenticate"), R"(Basic realm="test realm")");
  EXPECT_EQ(HeaderOf(first, "Cache-Control"), "no-store");
  for (const auto& [name, r] : cases) {
    EXPECT_EQ(r.status, first.status) << name;
    EXPECT_EQ(r.headers, first.headers) << name;
    EXPECT_EQ(r.body, first.body) << name;
  }
}

TEST_F(IntrospectionTest, ResourceAndClientCredentialsInEitherPlace) {
  const std::string jwt = IssueJwt("api1");
  ExpectActive(PostTo("/connect/introspect", "token=" + jwt, Basic("api1", "api1-secret")));
  EXPECT_EQ(log_.client_id, "api1");
  EXPECT_EQ(log_.outcome, "ok");
  ExpectActive(PostTo("/connect/introspect", "token=" + jwt + "&client_id=api1&client_secret=api1-secret", ""));
  ExpectActive(PostTo("/connect/introspect", "token=" + jwt + "&client_id=api1", Basic("api1", "api1-secret")));
  // api2's unexpired secret works although an expired one is listed first.
  ExpectInactive(PostTo("/connect/introspect", "token=" + jwt, Basic("api2", "api2-secret")));  // not its audience
  EXPECT_EQ(log_.client_id, "api2");
  // Clients, for their own tokens.
  ExpectActive(PostTo("/connect/introspect", "token=" + jwt, Basic("svc", "s3cret")));
  EXPECT_EQ(log_.client_id, "svc");
  ExpectActive(PostTo("/connect/introspect", "token=" + jwt + "&client_id=svc&client_secret=s3cret", ""));
}

TEST_F(IntrospectionTest, NameOfBothAResourceAndAClientAuthenticatesAsWhicheverSecretMatches) {
  // "api1" is an API resource (secret api1-secret) and a client (secret client-api1) at once.
  const std::string svc_token = IssueJwt("api1");
  ExpectActive(Introspect(svc_token, Basic("api1", "api1-secret")));    // as the resource: aud api1
  ExpectInactive(Introspect(svc_token, Basic("api1", "client-api1")));  // as the client: not its token
  const std::string own = IssueJwt("api1", "api1", "client-api1");
  ExpectActive(Introspect(own, Basic("api1", "client-api1")));
}

TEST_F(IntrospectionTest, TokenIsRequiredAfterAuthentication) {
  http::Response r = PostTo("/connect/introspect", "token_type_hint=access_token", Basic("api1", "api1-secret"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json(r.body).Str("error"), "invalid_request");
  EXPECT_EQ(log_.outcome, "invalid_request");
  EXPECT_EQ(PostTo("/connect/introspect", "token=", Basic("api1", "api1-secret")).status, 400);
}

// ---- JWT access tokens ------------------------------------------------------------------------------------------

TEST_F(IntrospectionTest, ActiveJwtAnswer) {
  const std::string jwt = IssueJwt("api1");
  const http::Response r = Introspect(jwt);
  std::unique_ptr<Json> a = Answer(r);
  EXPECT_TRUE(a->True("active"));
  EXPECT_EQ(a->Str("iss"), kIssuer);
  EXPECT_EQ(a->Str("client_id"), "svc");
  EXPECT_EQ(a->Str("sub"), "svc");
  EXPECT_EQ(a->Str("scope"), "api1");
  EXPECT_EQ(a->Str("aud"), "api1");
  EXPECT_EQ(a->Num("iat"), kNow);
  EXPECT_EQ(a->Num("nbf"), kNow);
  EXPECT_EQ(a->Num("exp"), kNow + 3600);
  EXPECT_EQ(a->Str("jti").size(), 22u);
  EXPECT_EQ(a->Str("token_type"), "Bearer");
  EXPECT_EQ(a->Size(), 11) << r.body;  // active + the 9 claims the token has + token_type: nothing else
}

TEST_F(IntrospectionTest, ResourceSeesOnlyTokensForItsAudience) {
  const std::string for_api1 = IssueJwt("api1");
  const std::string for_both = IssueJwt("both");
  ExpectActive(Introspect(for_api1, Basic("api1", "api1-secret")));
  ExpectInactive(Introspect(for_api1, Basic("api2", "api2-secret")));
  std::unique_ptr<Json> a = Answer(Introspect(for_both, Basic("api2", "api2-secret")));
  EXPECT_TRUE(a->True("active"));
  EXPECT_EQ(a->Strings("aud"), (std::vector<std::string>{"api1", "api2"}));
  ExpectActive(Introspect(for_both, Basic("api1", "api1-secret")));
}

TEST_F(IntrospectionTest, ClientSeesOnlyItsOwnTokens) {
  const std::string mine = IssueJwt("api1");
  ExpectActive(Introspect(mine, Basic("svc", "s3cret")));
  ExpectInactive(Introspect(mine, Basic("other", "0ther")));
  const std::string theirs = IssueJwt("api1", "other", "0ther");
  ExpectInactive(Introspect(theirs, Basic("svc", "s3cret")));
  ExpectActive(Introspect(theirs, Basic("other", "0ther")));
}

TEST_F(IntrospectionTest, JwtExpiryAllowsTheConfiguredClockSkew) {
  const std::string jwt = IssueJwt("api1");
  clock_.Set(kNow + 3600 + 59);  // exp + skew - 1
  ExpectActive(Introspect(jwt));
  clock_.Set(kNow + 3600 + 60);
  ExpectInactive(Introspect(jwt));

  config_.clock_skew_seconds = 0;
  NewService();
  clock_.Set(kNow + 3599);
  ExpectActive(Introspect(jwt));
  clock_.Set(kNow + 3600);
  ExpectInactive(Introspect(jwt));
}

TEST_F(IntrospectionTest, NotBeforeAllowsTheConfiguredClockSkew) {
  const std::string early = SignRaw(*rs256_, Header(*rs256_),
                                    R"({"iss":")" + std::string(kIssuer) + R"(","nbf":)" + std::to_string(kNow + 100) +
                                        R"(,"exp":)" + std::to_string(kNow + 3600) + R"(,"aud":"api1"})");
  ExpectInactive(Introspect(early));  // nbf 100 s ahead, skew 60
  clock_.Set(kNow + 40);
  ExpectActive(Introspect(early));    // now nbf is 60 s ahead
  // No nbf at all is fine; a non-numeric one is not.
  ExpectActive(Introspect(SignRaw(*rs256_, Header(*rs256_),
                                  R"({"iss":")" + std::string(kIssuer) + R"(","exp":)" + std::to_string(kNow + 3600) +
                                      R"(,"aud":"api1"})")));
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_),
                                    R"({"iss":")" + std::string(kIssuer) + R"(","nbf":"now","exp":)" +
                                        std::to_string(kNow + 3600) + R"(,"aud":"api1"})")));
}

TEST_F(IntrospectionTest, HandSignedTokenIsActiveWhenEverythingHolds) {
  // The control for the negative cases below: the same construction with nothing wrong.
  std::unique_ptr<Json> a = Answer(Introspect(SignRaw(*rs256_, Header(*rs256_), Claims())));
  EXPECT_TRUE(a->True("active"));
  EXPECT_FALSE(a->Has("jti"));  // only what the token has
  ExpectActive(Introspect(SignRaw(*es256_, Header(*es256_, "application/AT+JWT"), Claims())));
}

TEST_F(IntrospectionTest, InvalidJwtsAreInactive) {
  const std::string good = SignRaw(*rs256_, Header(*rs256_), Claims());
  // Signature: one flipped bit in the payload.
  std::string tampered = good;
  const size_t dot = tampered.find('.');
  tampered[dot + 5] = tampered[dot + 5] == 'A' ? 'B' : 'A';
  ExpectInactive(Introspect(tampered));
  // A signature from another key with the kid of ours.
  // (The last fixed RSA key: SetUp stored the first.)
  std::shared_ptr<const SigningKey> stranger = testing::FixedSigningKey(Alg::kRS256, testing::kFixedRsaKeys - 1);
  ASSERT_NE(stranger, nullptr);
  ASSERT_NE(stranger->kid(), rs256_->kid());
  ExpectInactive(Introspect(SignRaw(*stranger, Header(*rs256_), Claims())));
  // A key that is not published.
  ExpectInactive(Introspect(SignRaw(*stranger, Header(*stranger), Claims())));
  // alg that does not match the key's.
  ExpectInactive(Introspect(SignRaw(*rs256_, R"({"alg":"PS256","kid":")" + rs256_->kid() + R"(","typ":"at+jwt"})",
                                    Claims())));
  ExpectInactive(Introspect(SignRaw(*rs256_, R"({"alg":"none","kid":")" + rs256_->kid() + R"(","typ":"at+jwt"})",
                                    Claims())));
  // typ: an id_token or a plain JWT is not an access token; typ is required.
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_, "JWT"), Claims())));
  ExpectInactive(Introspect(SignRaw(
      *rs256_, R"({"alg":"RS256","kid":")" + rs256_->kid() + R"("})", Claims())));
  // Issuer.
  std::string claims = Claims();
  claims.replace(claims.find(kIssuer), std::string(kIssuer).size(), "https://evil.example.com");
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_), claims)));
  // exp missing or not a number.
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_),
                                    R"({"iss":")" + std::string(kIssuer) + R"(","aud":"api1"})")));
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_),
                                    R"({"iss":")" + std::string(kIssuer) + R"(","exp":"soon","aud":"api1"})")));
  // Not JSON, not an object, not a JWS.
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_), "[1,2]")));
  ExpectInactive(Introspect(SignRaw(*rs256_, "not json", Claims())));
  ExpectInactive(Introspect("a.b.c"));
  ExpectInactive(Introspect("..."));
  ExpectInactive(Introspect("only.two"));
}

TEST_F(IntrospectionTest, NextAndRetiredKeysStillVerifyRemovedKeysDoNot) {
  std::shared_ptr<const SigningKey> next = AddKey(Alg::kEdDSA, store::KeyState::kNext);
  std::shared_ptr<const SigningKey> retired = AddKey(Alg::kPS256, store::KeyState::kRetired);
  ExpectActive(Introspect(SignRaw(*next, Header(*next), Claims())));
  const std::string old = SignRaw(*retired, Header(*retired), Claims());
  ExpectActive(Introspect(old));
  Put([&](store::Txn& t) { return t.RemoveKey(retired->kid()); });
  ExpectInactive(Introspect(old));
}

TEST_F(IntrospectionTest, JwtOfARevokedFamilyIsInactive) {
  const std::string in_family = SignRaw(*rs256_, Header(*rs256_), Claims(R"(,"grant_id":"fam1")"));
  const std::string other_family = SignRaw(*rs256_, Header(*rs256_), Claims(R"(,"grant_id":"fam2")"));
  std::unique_ptr<Json> a = Answer(Introspect(in_family));
  EXPECT_TRUE(a->True("active"));
  EXPECT_FALSE(a->Has("grant_id"));  // internal: not shown
  RevokeFamilyInStore("fam1");
  ExpectInactive(Introspect(in_family));
  ExpectInactive(Introspect(in_family, Basic("svc", "s3cret")));
  ExpectActive(Introspect(other_family));
  // A grant_id that is not a non-empty string is not ours.
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_), Claims(R"(,"grant_id":7)"))));
  ExpectInactive(Introspect(SignRaw(*rs256_, Header(*rs256_), Claims(R"(,"grant_id":"")"))));
}

TEST_F(IntrospectionTest, ScopeIsAlwaysASpaceDelimitedString) {
  config_.scope_claim_as_array = true;
  NewService();
  const std::string jwt = IssueJwt("api1 both");
  std::unique_ptr<Json> a = Answer(Introspect(jwt));
  EXPECT_TRUE(a->True("active"));
  EXPECT_EQ(a->Str("scope"), "api1 both");
}

TEST_F(IntrospectionTest, UserAndClientClaimsAreIncludedReservedNamesAreNot) {
  const std::string jwt = SignRaw(*rs256_, Header(*rs256_),
                                  Claims(R"(,"name":"Alice","amr":["pwd"],"active":false,"token_type":"x")"));
  std::unique_ptr<Json> a = Answer(Introspect(jwt));
  EXPECT_TRUE(a->True("active"));
  EXPECT_EQ(a->Str("name"), "Alice");
  EXPECT_EQ(a->Strings("amr"), (std::vector<std::string>{"pwd"}));
  EXPECT_EQ(a->Str("token_type"), "Bearer");
}

TEST_F(IntrospectionTest, TokenTypeHintIsOnlyAHint) {
  const std::string jwt = IssueJwt("api1");
  ExpectActive(Introspect(jwt, Basic("api1", "api1-secret"), "&token_type_hint=refresh_token"));
  ExpectActive(Introspect(jwt, Basic("api1", "api1-secret"), "&token_type_hint=something_else"));
  const std::string refresh = PutGrant(RefreshGrant());
  ExpectActive(Introspect(refresh, Basic("svc", "s3cret"), "&token_type_hint=access_token"));
}

TEST_F(IntrospectionTest, UnknownTokensAreInactive) {
  ExpectInactive(Introspect(RandomHandle(32)));
  ExpectInactive(Introspect(RandomHandle(32), Basic("svc", "s3cret")));
  ExpectInactive(Introspect("%E2%82%AC"));
}

// ---- reference access tokens ------------------------------------------------------------------------------------

TEST_F(IntrospectionTest, ReferenceTokenAnswersItsStoredClaims) {
  const std::string handle = PutGrant(ReferenceGrant());
  std::unique_ptr<Json> a = Answer(Introspect(handle));
  EXPECT_TRUE(a->True("active"));
  EXPECT_EQ(a->Str("sub"), "alice");
  EXPECT_EQ(a->Str("client_id"), "svc");
  EXPECT_EQ(a->Str("aud"), "api1");
  EXPECT_EQ(a->Str("scope"), "api1");
  EXPECT_EQ(a->Str("name"), "Alice");
  EXPECT_EQ(a->Str("jti"), "ref-jti");
  EXPECT_EQ(a->Num("exp"), kNow + 600);
  EXPECT_EQ(a->Num("iat"), kNow);
  EXPECT_EQ(a->Str("iss"), kIssuer);
  EXPECT_EQ(a->Str("token_type"), "Bearer");
}

TEST_F(IntrospectionTest, ReferenceTokenVisibility) {
  const std::string handle = PutGrant(ReferenceGrant());
  ExpectActive(Introspect(handle, Basic("api1", "api1-secret")));
  ExpectInactive(Introspect(handle, Basic("api2", "api2-secret")));
  ExpectActive(Introspect(handle, Basic("svc", "s3cret")));
  ExpectInactive(Introspect(handle, Basic("other", "0ther")));
  // The grant's client decides for clients, not a client_id claim in the stored JSON.
  store::Grant forged = ReferenceGrant("other");
  forged.access_token_json.replace(forged.access_token_json.find("\"client_id\":\"other\""), 20,
                                   "\"client_id\":\"svc\"");
  const std::string h2 = PutGrant(forged);
  ExpectInactive(Introspect(h2, Basic("svc", "s3cret")));
  ExpectInactive(Introspect(h2, Basic("other", "0ther")));  // and the claim must agree too
  // An array audience.
  const std::string both = PutGrant(ReferenceGrant("svc", R"(["api1","api2"])"));
  ExpectActive(Introspect(both, Basic("api2", "api2-secret")));
}

TEST_F(IntrospectionTest, ReferenceTokenExpiresAtItsGrantsExpiry) {
  const std::string handle = PutGrant(ReferenceGrant());
  clock_.Set(kNow + 599);
  ExpectActive(Introspect(handle));
  clock_.Set(kNow + 600);
  ExpectInactive(Introspect(handle));
}

TEST_F(IntrospectionTest, ReferenceTokenRemovedOrOfARevokedFamilyIsInactive) {
  store::Grant g = ReferenceGrant();
  const std::string handle = PutGrant(g);
  ExpectActive(Introspect(handle));
  Put([&](store::Txn& t) { return t.RemoveGrant(Sha256(handle)); });
  ExpectInactive(Introspect(handle));
  // A family revoked while (say) a concurrent rotation wrote a new member after the revocation.
  RevokeFamilyInStore("famX");
  g.family = "famX";
  const std::string late = PutGrant(g);
  ExpectInactive(Introspect(late));
  g.family = "famY";
  ExpectActive(Introspect(PutGrant(g)));
}

TEST_F(IntrospectionTest, ReferenceTokenWithUnreadableClaimsIsInactive) {
  store::Grant g = ReferenceGrant();
  g.access_token_json = "{broken";
  ExpectInactive(Introspect(PutGrant(g)));
}

// ---- refresh tokens ---------------------------------------------------------------------------------------------

TEST_F(IntrospectionTest, RefreshTokenForItsOwnClientOnly) {
  const std::string handle = PutGrant(RefreshGrant());
  std::unique_ptr<Json> a = Answer(Introspect(handle, Basic("svc", "s3cret")));
  EXPECT_TRUE(a->True("active"));
  EXPECT_EQ(a->Str("token_type"), "refresh_token");
  EXPECT_EQ(a->Str("client_id"), "svc");
  EXPECT_EQ(a->Str("sub"), "alice");
  EXPECT_EQ(a->Str("scope"), "openid api1 offline_access");
  EXPECT_EQ(a->Str("iss"), kIssuer);
  EXPECT_EQ(a->Num("iat"), kNow - 10);
  EXPECT_EQ(a->Num("exp"), kNow + 1000);
  EXPECT_EQ(a->Num("auth_time"), kNow - 20);
  EXPECT_EQ(a->Size(), 9);

  ExpectInactive(Introspect(handle, Basic("other", "0ther")));
  ExpectInactive(Introspect(handle, Basic("api1", "api1-secret")));  // resources never see refresh tokens
}

TEST_F(IntrospectionTest, RefreshTokenExpiryConsumptionAndRevocation) {
  store::Grant g = RefreshGrant();
  const std::string handle = PutGrant(g);
  clock_.Set(kNow + 999);
  ExpectActive(Introspect(handle, Basic("svc", "s3cret")));
  clock_.Set(kNow + 1000);
  ExpectInactive(Introspect(handle, Basic("svc", "s3cret")));
  clock_.Set(kNow);

  store::Grant consumed = g;
  consumed.consumed_at = kNow - 1;
  ExpectInactive(Introspect(PutGrant(consumed), Basic("svc", "s3cret")));

  store::Grant capped = g;
  capped.absolute_expires = kNow;
  ExpectInactive(Introspect(PutGrant(capped), Basic("svc", "s3cret")));
  capped.absolute_expires = kNow + 1;
  ExpectActive(Introspect(PutGrant(capped), Basic("svc", "s3cret")));

  RevokeFamilyInStore(g.family);
  ExpectInactive(Introspect(handle, Basic("svc", "s3cret")));
}

TEST_F(IntrospectionTest, CodesAreNotTokens) {
  store::Grant code = RefreshGrant();
  code.kind = store::GrantKind::kAuthorizationCode;
  ExpectInactive(Introspect(PutGrant(code), Basic("svc", "s3cret")));
  code.kind = store::GrantKind::kDeviceCode;
  ExpectInactive(Introspect(PutGrant(code), Basic("svc", "s3cret")));
}

TEST_F(IntrospectionTest, RefreshTokenWithoutUserHasNoSub) {
  store::Grant g = RefreshGrant();
  g.subject = "";
  g.auth_time.reset();
  std::unique_ptr<Json> a = Answer(Introspect(PutGrant(g), Basic("svc", "s3cret")));
  EXPECT_TRUE(a->True("active"));
  EXPECT_FALSE(a->Has("sub"));
  EXPECT_FALSE(a->Has("auth_time"));
}

// ---- discovery --------------------------------------------------------------------------------------------------

TEST_F(IntrospectionTest, DiscoveryAdvertisesBothEndpoints) {
  config_.base_path = "/auth";
  NewService();
  Json doc(Handle(testing::GetRequest("/auth/.well-known/openid-configuration")).body);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc.Str("revocation_endpoint"), std::string(kIssuer) + "/auth/connect/revocation");
  EXPECT_EQ(doc.Str("introspection_endpoint"), std::string(kIssuer) + "/auth/connect/introspect");
  // Public clients revoke with their client_id alone ("none"); introspection callers always authenticate.
  const std::vector<std::string> methods{"client_secret_basic", "client_secret_post"};
  EXPECT_EQ(doc.Strings("revocation_endpoint_auth_methods_supported"),
            (std::vector<std::string>{"client_secret_basic", "client_secret_post", "none"}));
  EXPECT_EQ(doc.Strings("introspection_endpoint_auth_methods_supported"), methods);
  // And the endpoint lives under the base path too.
  ExpectActive(Introspect(IssueJwt("api1")));
  http::Request bare;
  bare.method = "POST";
  bare.path = "/connect/introspect";
  EXPECT_EQ(service_->HandleAndWait(bare, &log_).status, 404);
}

}  // namespace
}  // namespace tf::oauth
