// End-to-end tests of oauth::Service over a real LMDB store in a temporary directory, driven with hand-made Requests
// and a ManualClock: routing, request decoding, client authentication, the client_credentials grant, the access
// token's signature and claims, discovery, JWKS, and reloading when the store's config generation moves.
#include "oauth/service.h"

#include <cjson/cJSON.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::Basic;
using testing::ConfidentialClient;
using testing::HashedSecret;
using testing::HeaderOf;
using testing::Json;
using testing::kNow;
constexpr char kIssuer[] = "https://auth.example.com";

using token::Alg;
using token::SigningKey;

store::ApiScope Scope(std::string name, bool enabled = true, bool show = true) {
  store::ApiScope s;
  s.name = std::move(name);
  s.enabled = enabled;
  s.show_in_discovery_document = show;
  return s;
}

store::ApiResource Resource(std::string name, std::vector<std::string> scopes, std::vector<std::string> algs = {},
                            bool enabled = true) {
  store::ApiResource r;
  r.name = std::move(name);
  r.scopes = std::move(scopes);
  r.allowed_access_token_signing_algorithms = std::move(algs);
  r.enabled = enabled;
  return r;
}

class ServiceTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("service_test"));

    config_.issuer = kIssuer;
    config_.realm = "test realm";

    // Keys: one current RS256 and ES256 key; no PS256 or EdDSA key.
    rs256_ = AddKey(Alg::kRS256, store::KeyState::kCurrent);
    es256_ = AddKey(Alg::kES256, store::KeyState::kCurrent);

    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api1.read")));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api1.write")));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api2")));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("lonely")));                   // in no resource
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("off", /*enabled=*/false)));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("hidden", true, /*show=*/false)));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("es.only")));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("ps.only")));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("in.disabled.resource")));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("api1", {"api1.read", "api1.write"})));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("api2", {"api2"})));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("es-api", {"es.only"}, {"ES256", "EdDSA"})));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("es-rs-api", {"es.only"}, {"RS256", "ES256"})));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("ps-api", {"ps.only"}, {"PS256"})));
      TF_RETURN_IF_ERROR(t.PutApiResource(Resource("gone", {"in.disabled.resource"}, {}, /*enabled=*/false)));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("openid", {"sub"})));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("profile", {"name", "family_name"})));

      store::Client svc = ConfidentialClient(
          "svc", "s3cret", {"api1.read", "api1.write", "api2", "off", "openid", "lonely", "es.only", "ps.only",
                            "in.disabled.resource", "hidden"});
      svc.claims.push_back({"tenant", "acme", ""});
      TF_RETURN_IF_ERROR(t.PutClient(svc));

      store::Client narrow = ConfidentialClient("narrow", "n4rrow", {"api2"});
      narrow.client_secrets.push_back(HashedSecret("expired", kNow - 1));
      narrow.access_token_lifetime = 120;
      TF_RETURN_IF_ERROR(t.PutClient(narrow));

      store::Client disabled = ConfidentialClient("disabled", "d1sabled", {"api2"});
      disabled.enabled = false;
      TF_RETURN_IF_ERROR(t.PutClient(disabled));

      store::Client nogrant = ConfidentialClient("nogrant", "n0grant", {"api2"});
      nogrant.allowed_grant_types = {"authorization_code"};
      TF_RETURN_IF_ERROR(t.PutClient(nogrant));

      store::Client identity_only = ConfidentialClient("identityonly", "secret", {"openid", "profile", "off"});
      TF_RETURN_IF_ERROR(t.PutClient(identity_only));

      store::Client pub;
      pub.client_id = "public";
      pub.require_client_secret = false;
      pub.allowed_grant_types = {"client_credentials"};
      pub.allowed_scopes = {"api2"};
      TF_RETURN_IF_ERROR(t.PutClient(pub));

      store::Client with_colon = ConfidentialClient("my:client", "p@ss:w rd", {"api2"});
      TF_RETURN_IF_ERROR(t.PutClient(with_colon));
      return Status::OK();
    });
    NewService();
  }

  // Each key a second newer than the one before; remembered by kid to verify what the service signs.
  std::shared_ptr<const SigningKey> AddKey(Alg alg, store::KeyState state) {
    std::shared_ptr<const SigningKey> key = PutNewKey(alg, state, kNow - 100 + static_cast<int64_t>(keys_.size()));
    if (key != nullptr) keys_[key->kid()] = key;
    return key;
  }

  http::Response Post(const std::string& body, const std::string& authorization = "",
                      const std::string& content_type = testing::kFormUrlEncoded) {
    return Handle(testing::FormPost(config_.base_path + "/connect/token", body, authorization, content_type));
  }

  http::Response Request(const std::string& method, const std::string& path) {
    http::Request r;
    r.method = method;
    r.path = path;
    return service_->HandleAndWait(r, &log_);
  }

  // Posts a client_credentials request as "svc" with `extra` appended and returns the verified token's claims.
  struct Issued {
    http::Response response;
    std::string header_json;
    std::string payload_json;
  };
  Issued IssueFor(const std::string& extra, const std::string& auth = Basic("svc", "s3cret")) {
    Issued out;
    out.response = Post("grant_type=client_credentials" + extra, auth);
    EXPECT_EQ(out.response.status, 200) << out.response.body;
    Json body(out.response.body);
    if (!body.ok() || !body.Has("access_token")) return out;
    std::optional<token::JwsParts> parts = token::SplitJws(body.Str("access_token"));
    EXPECT_TRUE(parts.has_value());
    if (!parts) return out;
    Json header(parts->header_json);
    const auto it = keys_.find(header.Str("kid"));
    EXPECT_NE(it, keys_.end()) << "unknown kid " << header.Str("kid");
    if (it == keys_.end()) return out;
    EXPECT_EQ(header.Str("alg"), token::AlgName(it->second->alg()));
    EXPECT_TRUE(it->second->Verify(parts->signing_input, parts->signature));
    out.header_json = parts->header_json;
    out.payload_json = parts->payload_json;
    return out;
  }

  void ExpectError(const http::Response& r, int status, std::string_view error) {
    EXPECT_EQ(r.status, status) << r.body;
    Json body(r.body);
    ASSERT_TRUE(body.ok()) << r.body;
    EXPECT_EQ(body.Str("error"), error) << r.body;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
    EXPECT_EQ(HeaderOf(r, "Pragma"), "no-cache");
    EXPECT_EQ(log_.outcome, error);
  }

  std::map<std::string, std::shared_ptr<const SigningKey>> keys_;
  std::shared_ptr<const SigningKey> rs256_, es256_;
};

TEST_F(ServiceTest, ClientCredentialsHappyPath) {
  Issued t = IssueFor("&scope=api1.read");
  const http::Response& r = t.response;
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_EQ(HeaderOf(r, "Pragma"), "no-cache");
  Json body(r.body);
  EXPECT_EQ(body.Str("token_type"), "Bearer");
  EXPECT_EQ(body.Num("expires_in"), 3600);
  EXPECT_EQ(body.Str("scope"), "api1.read");
  EXPECT_FALSE(body.Has("refresh_token"));

  Json header(t.header_json);
  EXPECT_EQ(header.Str("typ"), "at+jwt");
  EXPECT_EQ(header.Str("alg"), "RS256");
  EXPECT_EQ(header.Str("kid"), rs256_->kid());

  Json claims(t.payload_json);
  ASSERT_TRUE(claims.ok()) << t.payload_json;
  EXPECT_EQ(claims.Str("iss"), kIssuer);
  EXPECT_EQ(claims.Str("sub"), "svc");
  EXPECT_EQ(claims.Str("client_id"), "svc");
  EXPECT_EQ(claims.Str("aud"), "api1");
  EXPECT_EQ(claims.Str("scope"), "api1.read");
  EXPECT_EQ(claims.Num("iat"), kNow);
  EXPECT_EQ(claims.Num("nbf"), kNow);
  EXPECT_EQ(claims.Num("exp"), kNow + 3600);
  EXPECT_EQ(claims.Str("jti").size(), 22u);  // 16 random bytes, base64url
  EXPECT_EQ(claims.Str("client_tenant"), "acme");
  EXPECT_EQ(cJSON_GetArraySize(claims.root()), 10);  // nothing else

  EXPECT_EQ(log_.client_id, "svc");
  EXPECT_EQ(log_.grant_type, "client_credentials");
  EXPECT_EQ(log_.outcome, "ok");
}

TEST_F(ServiceTest, JtiIsFreshEachTime) {
  Json a(IssueFor("&scope=api2").payload_json), b(IssueFor("&scope=api2").payload_json);
  EXPECT_NE(a.Str("jti"), b.Str("jti"));
}

TEST_F(ServiceTest, ClientSecretPostAndClockAndLifetime) {
  clock_.Advance(50);
  Issued t = IssueFor("&client_id=narrow&client_secret=n4rrow", "");
  Json body(t.response.body);
  EXPECT_EQ(body.Num("expires_in"), 120);
  Json claims(t.payload_json);
  EXPECT_EQ(claims.Num("iat"), kNow + 50);
  EXPECT_EQ(claims.Num("exp"), kNow + 50 + 120);
  EXPECT_EQ(claims.Str("client_id"), "narrow");
}

TEST_F(ServiceTest, BasicCredentialsAreFormUrlDecoded) {
  // id "my:client", secret "p@ss:w rd", each form-urlencoded before base64 (RFC 6749 §2.3.1).
  IssueFor("", "Basic " + Base64Encode("my%3Aclient:p%40ss%3Aw+rd"));
  EXPECT_EQ(log_.client_id, "my:client");
}

TEST_F(ServiceTest, BasicSchemeIsCaseInsensitive) { IssueFor("&scope=api2", "bAsIc " + Base64Encode("svc:s3cret")); }

TEST_F(ServiceTest, InvalidClientAnswersAreByteIdentical) {
  const std::vector<std::pair<std::string, http::Response>> cases = {
      {"unknown client", Post("grant_type=client_credentials", Basic("nobody", "s3cret"))},
      {"disabled client", Post("grant_type=client_credentials", Basic("disabled", "d1sabled"))},
      {"wrong secret", Post("grant_type=client_credentials", Basic("svc", "wrong"))},
      {"expired secret", Post("grant_type=client_credentials", Basic("narrow", "expired"))},
      {"wrong secret (post)", Post("grant_type=client_credentials&client_id=svc&client_secret=x")},
      {"unknown client (post)", Post("grant_type=client_credentials&client_id=x&client_secret=x")},
      {"no credentials", Post("grant_type=client_credentials")},
      {"no secret for a confidential client", Post("grant_type=client_credentials&client_id=svc")},
      {"empty Basic secret", Post("grant_type=client_credentials", Basic("svc", ""))},
      {"malformed Basic", Post("grant_type=client_credentials", "Basic !!!")},
      {"over-long client_id", Post("grant_type=client_credentials", Basic(std::string(101, 'a'), "s3cret"))},
      {"over-long secret", Post("grant_type=client_credentials", Basic("svc", std::string(101, 'a')))},
      {"public client with a secret it lacks", Post("grant_type=client_credentials", Basic("public", "guess"))},
      {"public client, secret in body", Post("grant_type=client_credentials&client_id=public&client_secret=g")},
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

TEST_F(ServiceTest, FailedAuthenticationLogsTheClaimedClientId) {
  ExpectError(Post("grant_type=client_credentials", Basic("probe\x01id", "wrong")), 401, "invalid_client");
  EXPECT_EQ(log_.client_id, "probe?id");
  ExpectError(Post("grant_type=client_credentials&client_id=svc&client_secret=wrong"), 401, "invalid_client");
  EXPECT_EQ(log_.client_id, "svc");
  ExpectError(Post("grant_type=client_credentials"), 401, "invalid_client");
  EXPECT_EQ(log_.client_id, "-");
}

TEST_F(ServiceTest, ExpiredSecretStopsWorkingAtItsExpiration) {
  // "narrow" has a second secret expiring at kNow - 1; move the clock back so it is still valid.
  clock_.Set(kNow - 2);
  IssueFor("", Basic("narrow", "expired"));
  clock_.Set(kNow - 1);
  ExpectError(Post("grant_type=client_credentials", Basic("narrow", "expired")), 401, "invalid_client");
}

TEST_F(ServiceTest, TwoAuthenticationMethodsAreInvalidRequest) {
  ExpectError(Post("grant_type=client_credentials&client_secret=s3cret", Basic("svc", "s3cret")), 400,
              "invalid_request");
  EXPECT_EQ(log_.client_id, "-");
}

TEST_F(ServiceTest, BodyClientIdMustMatchBasic) {
  ExpectError(Post("grant_type=client_credentials&client_id=narrow", Basic("svc", "s3cret")), 400,
              "invalid_request");
  IssueFor("&client_id=svc&scope=api2");  // the same id in both places is fine
  IssueFor("&client_secret=&scope=api2");  // an empty body secret is absent, not a second method
}

TEST_F(ServiceTest, NonBasicAuthorizationIsIgnored) {
  IssueFor("&client_id=svc&client_secret=s3cret&scope=api2", "Bearer some.jwt.value");
  ExpectError(Post("grant_type=client_credentials", "Bearer x"), 401, "invalid_client");
}

TEST_F(ServiceTest, PublicClientAuthenticatesButCannotUseClientCredentials) {
  ExpectError(Post("grant_type=client_credentials&client_id=public"), 400, "unauthorized_client");
  EXPECT_EQ(log_.client_id, "public");
  ExpectError(Post("grant_type=client_credentials", Basic("public", "")), 400, "unauthorized_client");
  // A public client that does have a secret may present it.
  Put([&](store::Txn& t) {
    store::Client pub = ConfidentialClient("public2", "its-own", {"api2"});
    pub.require_client_secret = false;
    return t.PutClient(pub);
  });
  ExpectError(Post("grant_type=client_credentials", Basic("public2", "its-own")), 400, "unauthorized_client");
  ExpectError(Post("grant_type=client_credentials", Basic("public2", "other")), 401, "invalid_client");
}

TEST_F(ServiceTest, ClientMustBeAllowedTheGrant) {
  ExpectError(Post("grant_type=client_credentials", Basic("nogrant", "n0grant")), 400, "unauthorized_client");
}

TEST_F(ServiceTest, GrantTypeRules) {
  ExpectError(Post("scope=api2", Basic("svc", "s3cret")), 400, "invalid_request");
  ExpectError(Post("grant_type=implicit", Basic("svc", "s3cret")), 400, "unsupported_grant_type");
  EXPECT_EQ(log_.grant_type, "implicit");
  ExpectError(Post("grant_type=" + std::string(101, 'x'), Basic("svc", "s3cret")), 400, "invalid_request");
  ExpectError(Post("grant_type=" + std::string(100, 'x'), Basic("svc", "s3cret")), 400, "unsupported_grant_type");
  EXPECT_EQ(log_.grant_type, std::string(kMaxLoggedLength, 'x') + "...");  // sanitised and cut for the log
}

TEST_F(ServiceTest, ClientIsAuthenticatedBeforeGrantTypeIsChecked) {
  ExpectError(Post("grant_type=nonsense", Basic("svc", "bad")), 401, "invalid_client");
}

TEST_F(ServiceTest, OmittedScopeGrantsAllAllowedEnabledApiScopes) {
  Put([&](store::Txn& t) {
    return t.PutClient(ConfidentialClient("multi", "mu1ti", {"lonely", "off", "openid", "api2", "unknown", "api1.read"}));
  });
  Issued t = IssueFor("", Basic("multi", "mu1ti"));
  // Not "off" (disabled), "openid" (identity) or "unknown"; the client's order is kept.
  EXPECT_EQ(Json(t.response.body).Str("scope"), "lonely api2 api1.read");
  EXPECT_EQ(Json(t.payload_json).Str("scope"), "lonely api2 api1.read");
}

TEST_F(ServiceTest, ScopeRules) {
  const std::string auth = Basic("svc", "s3cret");
  struct Case {
    std::string scope;
    std::string error;  // "" = granted
  } cases[] = {
      {"api1.read api2", ""},
      {"  api1.read   api2 ", ""},  // runs of spaces are tolerated
      {"api1.read api1.read", ""},  // granted once
      {"unknown", "invalid_scope"},
      {"api1.read unknown", "invalid_scope"},  // no partial grants
      {"off", "invalid_scope"},                // disabled
      {"openid", "invalid_scope"},             // identity scope
      {"profile", "invalid_scope"},            // identity scope the client is not even allowed
      {"offline_access", "invalid_scope"},
      {"api1.read " + std::string(300, 'x'), "invalid_scope"},  // over 300 characters
      {"api1.read \"quoted\"", "invalid_scope"},                 // not NQCHAR
  };
  for (const Case& c : cases) {
    http::Response r = Post("grant_type=client_credentials&scope=" + c.scope, auth);
    if (c.error.empty()) {
      EXPECT_EQ(r.status, 200) << c.scope << ": " << r.body;
    } else {
      ExpectError(r, 400, c.error);
    }
  }
  Json dedup(Post("grant_type=client_credentials&scope=api1.read+api1.read", auth).body);
  EXPECT_EQ(dedup.Str("scope"), "api1.read");
  // A scope that exists but the client is not allowed.
  ExpectError(Post("grant_type=client_credentials&scope=api1.read", Basic("narrow", "n4rrow")), 400, "invalid_scope");
}

TEST_F(ServiceTest, ClientWithoutApiScopesGetsInvalidScope) {
  ExpectError(Post("grant_type=client_credentials", Basic("identityonly", "secret")), 400, "invalid_scope");
}

TEST_F(ServiceTest, AudienceRules) {
  EXPECT_EQ(Json(IssueFor("&scope=api2").payload_json).Str("aud"), "api2");
  EXPECT_EQ(Json(IssueFor("&scope=api1.read+api1.write").payload_json).Str("aud"), "api1");
  EXPECT_EQ(Json(IssueFor("&scope=api2+api1.read").payload_json).Strings("aud"),
            (std::vector<std::string>{"api1", "api2"}));
  EXPECT_EQ(Json(IssueFor("&scope=lonely").payload_json).Str("aud"), std::string(kIssuer) + "/resources");
  EXPECT_EQ(Json(IssueFor("&scope=in.disabled.resource").payload_json).Str("aud"),
            std::string(kIssuer) + "/resources");
}

TEST_F(ServiceTest, SigningAlgIsNarrowedByTheAudience) {
  // es.only belongs to es-api [ES256, EdDSA] and es-rs-api [RS256, ES256]: the intersection is ES256.
  Issued t = IssueFor("&scope=es.only");
  Json header(t.header_json);
  EXPECT_EQ(header.Str("alg"), "ES256");
  EXPECT_EQ(header.Str("kid"), es256_->kid());
  EXPECT_EQ(Json(t.payload_json).Strings("aud"), (std::vector<std::string>{"es-api", "es-rs-api"}));
  // Unrestricted resources keep the configured alg.
  EXPECT_EQ(Json(IssueFor("&scope=api1.read+es.only").header_json).Str("alg"), "ES256");
  EXPECT_EQ(Json(IssueFor("&scope=api2").header_json).Str("alg"), "RS256");
}

TEST_F(ServiceTest, ConfiguredAlgIsPreferredWhenAllowed) {
  config_.access_token_signing_alg = "ES256";
  NewService();
  EXPECT_EQ(Json(IssueFor("&scope=api2").header_json).Str("alg"), "ES256");
  // es-rs-api alone would allow RS256 first, but ES256 is configured and allowed.
  EXPECT_EQ(Json(IssueFor("&scope=es.only").header_json).Str("alg"), "ES256");
}

TEST_F(ServiceTest, FirstAllowedAlgWithAKeyWhenConfiguredIsNotAllowed) {
  config_.access_token_signing_alg = "EdDSA";  // no EdDSA key at all
  NewService();
  // es-api [ES256, EdDSA] ∩ es-rs-api [RS256, ES256] = [ES256]
  EXPECT_EQ(Json(IssueFor("&scope=es.only").header_json).Str("alg"), "ES256");
  // Unrestricted: only EdDSA is a candidate and it has no key.
  ExpectError(Post("grant_type=client_credentials&scope=api2", Basic("svc", "s3cret")), 500, "server_error");
}

TEST_F(ServiceTest, NoUsableKeyIsServerError) {
  http::Response r = Post("grant_type=client_credentials&scope=ps.only", Basic("svc", "s3cret"));
  ExpectError(r, 500, "server_error");
  EXPECT_EQ(r.body.find("PS256"), std::string::npos);  // the detail goes to the log only
  // Disjoint restrictions: ps-api [PS256] and es-api [ES256, EdDSA].
  ExpectError(Post("grant_type=client_credentials&scope=ps.only+es.only", Basic("svc", "s3cret")), 500,
              "server_error");
}

TEST_F(ServiceTest, ScopeClaimAsArray) {
  config_.scope_claim_as_array = true;
  NewService();
  Issued t = IssueFor("&scope=api2+api1.read");
  EXPECT_EQ(Json(t.payload_json).Strings("scope"), (std::vector<std::string>{"api2", "api1.read"}));
  EXPECT_EQ(Json(t.response.body).Str("scope"), "api2 api1.read");  // the response stays a string (RFC 6749)
}

TEST_F(ServiceTest, ClientClaimsPrefixTypesAndJwtId) {
  Put([&](store::Txn& t) -> Status {
    store::Client c = ConfidentialClient("claims", "c1aims", {"api2"});
    c.client_claims_prefix = "";
    c.include_jwt_id = false;
    c.claims = {{"role", "reader", ""},
                {"role", "writer", ""},
                {"level", "7", "http://www.w3.org/2001/XMLSchema#integer"},
                {"admin", "true", "http://www.w3.org/2001/XMLSchema#boolean"},
                {"note", "not \"a\" number", "http://www.w3.org/2001/XMLSchema#integer"},
                {"sub", "spoofed", ""}};
    return t.PutClient(c);
  });
  Json claims(IssueFor("", Basic("claims", "c1aims")).payload_json);
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims.Strings("role"), (std::vector<std::string>{"reader", "writer"}));
  EXPECT_EQ(claims.Num("level"), 7);
  EXPECT_TRUE(cJSON_IsTrue(claims.Get("admin")));
  EXPECT_EQ(claims.Str("note"), "not \"a\" number");
  EXPECT_EQ(claims.Str("sub"), "claims");  // a client claim cannot override a registered claim
  EXPECT_FALSE(claims.Has("jti"));
}

TEST_F(ServiceTest, ContentTypeVariants) {
  const std::string body = "grant_type=client_credentials&scope=api2";
  const std::string auth = Basic("svc", "s3cret");
  EXPECT_EQ(Post(body, auth, "application/x-www-form-urlencoded; charset=UTF-8").status, 200);
  EXPECT_EQ(Post(body, auth, "APPLICATION/X-WWW-Form-UrlEncoded").status, 200);
  EXPECT_EQ(Post(body, auth, "application/x-www-form-urlencoded;charset=utf-8").status, 200);
  for (const char* bad : {"", "application/json", "text/plain", "application/x-www-form-urlencodedx",
                          "multipart/form-data; boundary=x", "application/x-www-form-urlencoded-x; a=b"}) {
    ExpectError(Post(body, auth, bad), 400, "invalid_request");
  }
}

TEST_F(ServiceTest, FormErrorsAreInvalidRequest) {
  const std::string auth = Basic("svc", "s3cret");
  http::Response r = Post("grant_type=client_credentials&scope=api2&scope=api1.read", auth);
  ExpectError(r, 400, "invalid_request");
  EXPECT_NE(r.body.find("'scope' is repeated"), std::string::npos) << r.body;
  ExpectError(Post("grant_type=client_credentials&scope=%zz", auth), 400, "invalid_request");
  ExpectError(Post("grant_type=client_credentials&scope=%C0%AF", auth), 400, "invalid_request");
  std::string many = "grant_type=client_credentials";
  for (int i = 0; i < 64; ++i) many += "&p" + std::to_string(i) + "=1";
  ExpectError(Post(many, auth), 400, "invalid_request");
}

TEST_F(ServiceTest, QueryStringParametersAreIgnored) {
  http::Request r;
  r.method = "POST";
  r.path = "/connect/token";
  r.query = "grant_type=client_credentials&scope=api2";
  r.content_type = "application/x-www-form-urlencoded";
  r.authorization = Basic("svc", "s3cret");
  r.body = "scope=api2";
  ExpectError(service_->HandleAndWait(r, &log_), 400, "invalid_request");  // grant_type is missing from the body
}

TEST_F(ServiceTest, BodyStates) {
  http::Request r;
  r.method = "POST";
  r.path = "/connect/token";
  r.content_type = "application/x-www-form-urlencoded";
  r.body_state = http::BodyState::kTooLarge;
  ExpectError(service_->HandleAndWait(r, &log_), 413, "invalid_request");
  r.body_state = http::BodyState::kIncomplete;
  ExpectError(service_->HandleAndWait(r, &log_), 400, "invalid_request");
}

TEST_F(ServiceTest, NotFoundAndMethodNotAllowed) {
  http::Response r = Request("POST", "/connect/nope");
  ExpectError(r, 404, "not_found");
  EXPECT_EQ(r.body, R"({"error":"not_found","error_description":"no endpoint at this path"})");
  ExpectError(Request("GET", "/connect/token/"), 404, "not_found");
  ExpectError(Request("GET", "/"), 404, "not_found");

  r = Request("GET", "/connect/token");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(HeaderOf(r, "Allow"), "POST");
  EXPECT_EQ(r.body, R"({"error":"method_not_allowed","error_description":"this endpoint accepts POST"})");
  r = Request("POST", "/.well-known/openid-configuration");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
  r = Request("DELETE", "/.well-known/openid-configuration/jwks");
  ExpectError(r, 405, "method_not_allowed");
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD");
}

TEST_F(ServiceTest, BasePathPrefixesEveryEndpoint) {
  config_.base_path = "/auth";
  NewService();
  IssueFor("&scope=api2");
  EXPECT_EQ(Request("GET", "/auth/.well-known/openid-configuration").status, 200);
  ExpectError(Request("GET", "/.well-known/openid-configuration"), 404, "not_found");
  ExpectError(Request("GET", "/authx/.well-known/openid-configuration"), 404, "not_found");
  Json doc(Request("GET", "/auth/.well-known/openid-configuration").body);
  EXPECT_EQ(doc.Str("token_endpoint"), std::string(kIssuer) + "/auth/connect/token");
  EXPECT_EQ(doc.Str("jwks_uri"), std::string(kIssuer) + "/auth/.well-known/openid-configuration/jwks");
  EXPECT_EQ(doc.Str("authorization_endpoint"), std::string(kIssuer) + "/auth/connect/authorize");
  EXPECT_EQ(doc.Str("userinfo_endpoint"), std::string(kIssuer) + "/auth/connect/userinfo");
  EXPECT_EQ(doc.Str("end_session_endpoint"), std::string(kIssuer) + "/auth/connect/endsession");
}

TEST_F(ServiceTest, DiscoveryDocument) {
  http::Response r = Request("GET", "/.well-known/openid-configuration");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_EQ(log_.outcome, "ok");
  Json doc(r.body);
  ASSERT_TRUE(doc.ok()) << r.body;
  EXPECT_EQ(doc.Str("issuer"), kIssuer);
  EXPECT_EQ(doc.Str("token_endpoint"), std::string(kIssuer) + "/connect/token");
  EXPECT_EQ(doc.Str("jwks_uri"), std::string(kIssuer) + "/.well-known/openid-configuration/jwks");
  EXPECT_EQ(doc.Strings("grant_types_supported"),
            (std::vector<std::string>{"client_credentials", "password", "authorization_code", "refresh_token",
                                      "urn:ietf:params:oauth:grant-type:device_code",
                                      "urn:ietf:params:oauth:grant-type:token-exchange"}));
  EXPECT_EQ(doc.Str("device_authorization_endpoint"), std::string(kIssuer) + "/connect/deviceauthorization");
  // "none": the enabled public client "public".
  EXPECT_EQ(doc.Strings("token_endpoint_auth_methods_supported"),
            (std::vector<std::string>{"client_secret_basic", "client_secret_post", "none"}));
  // Identity resources then API scopes, sorted; not "off" (disabled) nor "hidden" (not shown).
  EXPECT_EQ(doc.Strings("scopes_supported"),
            (std::vector<std::string>{"openid", "profile", "api1.read", "api1.write", "api2", "es.only",
                                      "in.disabled.resource", "lonely", "ps.only"}));
  // The claims id_tokens carry, then the user claims of the resources shown.
  EXPECT_EQ(doc.Strings("claims_supported"),
            (std::vector<std::string>{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "idp",
                                      "amr", "acr", "name", "family_name"}));
  // OpenID Connect and the authorize endpoint.
  EXPECT_EQ(doc.Str("authorization_endpoint"), std::string(kIssuer) + "/connect/authorize");
  EXPECT_EQ(doc.Str("userinfo_endpoint"), std::string(kIssuer) + "/connect/userinfo");
  EXPECT_EQ(doc.Str("end_session_endpoint"), std::string(kIssuer) + "/connect/endsession");
  EXPECT_EQ(doc.Strings("response_types_supported"), (std::vector<std::string>{"code"}));
  EXPECT_EQ(doc.Strings("response_modes_supported"), (std::vector<std::string>{"query", "form_post"}));
  EXPECT_EQ(doc.Strings("code_challenge_methods_supported"), (std::vector<std::string>{"S256"}));
  EXPECT_EQ(doc.Strings("subject_types_supported"), (std::vector<std::string>{"public"}));
  EXPECT_EQ(doc.Strings("id_token_signing_alg_values_supported"), (std::vector<std::string>{"RS256"}));
  EXPECT_TRUE(cJSON_IsTrue(doc.Get("authorization_response_iss_parameter_supported")));

  // HEAD is the GET answer; the web server sends its headers, Content-Length included, and drops the body.
  http::Response head = Request("HEAD", "/.well-known/openid-configuration");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, r.body);
  EXPECT_EQ(head.headers, r.headers);
}

TEST_F(ServiceTest, DiscoveryPlainPkceOnlyWhenAnEnabledClientAllowsIt) {
  Put([&](store::Txn& t) -> Status {
    store::Client c = ConfidentialClient("plain-but-disabled", "secret", {"openid"});
    c.allow_plain_text_pkce = true;
    c.enabled = false;
    return t.PutClient(c);
  });
  Json doc(Request("GET", "/.well-known/openid-configuration").body);
  EXPECT_EQ(doc.Strings("code_challenge_methods_supported"), (std::vector<std::string>{"S256"}));
  Put([&](store::Txn& t) -> Status {
    store::Client c = ConfidentialClient("plain", "secret", {"openid"});
    c.allow_plain_text_pkce = true;
    return t.PutClient(c);
  });
  Json after(Request("GET", "/.well-known/openid-configuration").body);
  EXPECT_EQ(after.Strings("code_challenge_methods_supported"), (std::vector<std::string>{"S256", "plain"}));
}

TEST_F(ServiceTest, DiscoveryIdTokenAlgorithmsAreThoseWithACurrentKey) {
  const auto algs = [&] {
    return Json(Request("GET", "/.well-known/openid-configuration").body)
        .Strings("id_token_signing_alg_values_supported");
  };
  const auto put_client = [&](const std::string& id, std::vector<std::string> allowed, bool enabled) {
    Put([&](store::Txn& t) -> Status {
      store::Client c = ConfidentialClient(id, "secret", {"openid"});
      c.allowed_identity_token_signing_algorithms = allowed;
      c.enabled = enabled;
      return t.PutClient(c);
    });
  };
  // Keys: RS256 and ES256 current, EdDSA only next (next keys never sign); no PS256 key.
  AddKey(Alg::kEdDSA, store::KeyState::kNext);
  put_client("oidc", {"PS256", "ES256", "ES256", "EdDSA"}, true);
  EXPECT_EQ(algs(), (std::vector<std::string>{"RS256", "ES256"}));

  // A current EdDSA key, allowed only by a disabled client: still not listed.
  AddKey(Alg::kEdDSA, store::KeyState::kCurrent);
  put_client("oidc", {"PS256", "ES256"}, true);
  put_client("oidc-off", {"EdDSA"}, false);
  EXPECT_EQ(algs(), (std::vector<std::string>{"RS256", "ES256"}));

  // The configured alg first, then the clients' (by client id), and RS256 ahead of all.
  config_.id_token_signing_alg = "ES256";
  put_client("oidc", {"EdDSA", "RS256"}, true);
  NewService();
  EXPECT_EQ(algs(), (std::vector<std::string>{"RS256", "ES256", "EdDSA"}));
}

TEST_F(ServiceTest, DiscoveryIgnoresTheHostHeader) {
  http::Request req;
  req.method = "GET";
  req.path = "/.well-known/openid-configuration";
  req.host = "evil.example";
  http::Response r = service_->HandleAndWait(req, &log_);
  EXPECT_EQ(r.body.find("evil"), std::string::npos);
}

TEST_F(ServiceTest, JwksListsCurrentNextAndRetiredKeys) {
  std::shared_ptr<const SigningKey> next = AddKey(Alg::kES256, store::KeyState::kNext);
  std::shared_ptr<const SigningKey> retired = AddKey(Alg::kEdDSA, store::KeyState::kRetired);
  http::Response r = Request("GET", "/.well-known/openid-configuration/jwks");
  EXPECT_EQ(r.status, 200);
  Json jwks(r.body);
  ASSERT_TRUE(jwks.ok()) << r.body;
  std::vector<std::string> kids;
  const cJSON* key;
  cJSON_ArrayForEach(key, jwks.Get("keys")) {
    kids.push_back(cJSON_GetObjectItemCaseSensitive(key, "kid")->valuestring);
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(key, "d"), nullptr);  // never a private member
  }
  EXPECT_EQ(kids, (std::vector<std::string>{rs256_->kid(), es256_->kid(), next->kid(), retired->kid()}));
  // Next and retired keys never sign.
  EXPECT_EQ(Json(IssueFor("&scope=es.only").header_json).Str("kid"), es256_->kid());
}

TEST_F(ServiceTest, StoreChangesAreSeenOnTheNextRequest) {
  Json before(Request("GET", "/.well-known/openid-configuration/jwks").body);
  EXPECT_EQ(cJSON_GetArraySize(before.Get("keys")), 2);
  std::shared_ptr<const SigningKey> added = AddKey(Alg::kEdDSA, store::KeyState::kCurrent);
  http::Response r = Request("GET", "/.well-known/openid-configuration/jwks");
  EXPECT_NE(r.body.find(added->kid()), std::string::npos);
  config_.access_token_signing_alg = "EdDSA";
  NewService();
  EXPECT_EQ(Json(IssueFor("&scope=api2").header_json).Str("kid"), added->kid());

  // A client removed from the store stops authenticating without a restart.
  IssueFor("&scope=api2", Basic("narrow", "n4rrow"));
  Put([&](store::Txn& t) { return t.RemoveClient("narrow"); });
  ExpectError(Post("grant_type=client_credentials", Basic("narrow", "n4rrow")), 401, "invalid_client");
}

TEST_F(ServiceTest, UnloadableKeyIsSkipped) {
  Put([&](store::Txn& t) {
    store::KeyRecord rec;
    rec.kid = "broken";
    rec.alg = "ES256";
    rec.state = store::KeyState::kCurrent;
    rec.created = kNow;
    rec.private_pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    return t.PutKey(rec);
  });
  http::Response r = Request("GET", "/.well-known/openid-configuration/jwks");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("broken"), std::string::npos);
  EXPECT_EQ(Json(IssueFor("&scope=es.only").header_json).Str("kid"), es256_->kid());
}

TEST_F(ServiceTest, ConcurrentRequestsWhileTheStoreChanges) {
  // Many threads share one Service while the configuration generation moves under them (run under ASan in
  // `make test`): every answer is a valid token signed by a key the JWKS of that moment could publish.
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 25; ++j) {
        http::Request r;
        r.method = "POST";
        r.path = "/connect/token";
        r.content_type = "application/x-www-form-urlencoded";
        r.authorization = Basic("svc", "s3cret");
        r.body = "grant_type=client_credentials&scope=es.only";
        RequestLog log;
        if (service_->HandleAndWait(r, &log).status == 200) ++ok;
      }
    });
  }
  for (int i = 0; i < 5; ++i) AddKey(Alg::kEdDSA, store::KeyState::kRetired);
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
  Json jwks(Request("GET", "/.well-known/openid-configuration/jwks").body);
  EXPECT_EQ(cJSON_GetArraySize(jwks.Get("keys")), 7);
}

TEST_F(ServiceTest, LogNeverCarriesControlCharacters) {
  Post("grant_type=a%0Ab", Basic("svc", "s3cret"));
  EXPECT_EQ(log_.grant_type, "a?b");
  Request("GET", "/nope");
  EXPECT_EQ(log_.client_id, "-");
  EXPECT_EQ(log_.grant_type, "-");
  EXPECT_EQ(log_.outcome, "not_found");
}

}  // namespace
}  // namespace tf::oauth
