// The authorization_code grant (RFC 6749 §4.1.3, RFC 7636, OIDC Core §3.1.3) end to end through oauth::Service over
// a real LMDB store in a temporary directory, with a ManualClock. Codes are made as the authorize endpoint makes them
// (NewAuthorizationCode + PutGrant). Covered: every error rule of grant_authorization_code.cc, success with and
// without offline_access and openid, the refresh token's family and session, the id_token's nonce/at_hash/sid,
// reuse (the family dies, JWTs introspect inactive), reference tokens, PKCE S256/plain/downgrade, and a parallel
// double redemption.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "oauth/authorization_codes.h"
#include "oauth/refresh_tokens.h"
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

using testing::Json;
using testing::kNow;
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kRedirect[] = "https://web.example/cb";
constexpr char kRedirectEncoded[] = "https%3A%2F%2Fweb.example%2Fcb";
// RFC 7636 Appendix B.
constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr char kChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

constexpr char kInvalidCode[] =
    R"({"error":"invalid_grant","error_description":"the authorization code is invalid"})";
constexpr char kRedirectMismatch[] =
    R"({"error":"invalid_grant","error_description":"redirect_uri does not match the authorization request"})";
constexpr char kInvalidVerifier[] =
    R"({"error":"invalid_grant","error_description":"the code_verifier is missing, malformed or does not match"})";
constexpr char kUnexpectedVerifier[] =
    R"({"error":"invalid_grant","error_description":"a code_verifier was sent for a code issued without a code_challenge"})";

// What the authorize endpoint would have stored; the defaults are a typical OIDC login with PKCE.
struct CodeSpec {
  std::string client = "web";
  std::vector<std::string> scopes = {"openid", "profile", "api1.read", "offline_access"};
  std::string redirect_uri = kRedirect;
  std::string challenge = kChallenge;
  std::string method = "S256";
  std::string nonce = "n-0S6_WzA2Mj";
  std::string session_id = "sess-1";
  std::string subject = "sub-alice";
};

class AuthorizationCodeGrantTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("authorization_code_grant_test"));

    config_.issuer = kIssuer;
    config_.access_token_signing_alg = "ES256";  // id_tokens: RS256 (config default)
    es256_ = testing::NewSigningKey(token::Alg::kES256);
    rs256_ = testing::FixedSigningKey(token::Alg::kRS256, 0);
    ASSERT_TRUE(es256_ != nullptr && rs256_ != nullptr);

    Put([&](store::Txn& t) -> Status {
      for (const auto& key : {es256_, rs256_}) TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key, kNow - 100)));
      store::ApiScope read;
      read.name = "api1.read";
      read.user_claims = {"email"};
      TF_RETURN_IF_ERROR(t.PutApiScope(read));
      store::ApiResource api;
      api.name = "api";
      api.scopes = {"api1.read"};
      api.api_secrets = {testing::HashedSecret("api-secret")};
      TF_RETURN_IF_ERROR(t.PutApiResource(api));
      store::IdentityResource openid;
      openid.name = "openid";
      openid.user_claims = {"sub"};
      TF_RETURN_IF_ERROR(t.PutIdentityResource(openid));
      store::IdentityResource profile;
      profile.name = "profile";
      profile.user_claims = {"name"};
      TF_RETURN_IF_ERROR(t.PutIdentityResource(profile));

      store::Client web;
      web.client_id = "web";
      web.client_secrets = {testing::HashedSecret("s3cret")};
      web.allowed_grant_types = {"authorization_code"};
      web.allowed_scopes = {"openid", "profile", "api1.read"};
      web.allow_offline_access = true;
      web.redirect_uris = {kRedirect};
      TF_RETURN_IF_ERROR(t.PutClient(web));

      store::Client other = web;
      other.client_id = "other";
      TF_RETURN_IF_ERROR(t.PutClient(other));

      store::Client ref = web;
      ref.client_id = "ref";
      ref.access_token_type = store::AccessTokenType::kReference;
      TF_RETURN_IF_ERROR(t.PutClient(ref));

      store::Client pw = web;
      pw.client_id = "pw";
      pw.allowed_grant_types = {"password"};
      TF_RETURN_IF_ERROR(t.PutClient(pw));

      store::Client claims = web;
      claims.client_id = "claims";
      claims.always_include_user_claims_in_id_token = true;
      TF_RETURN_IF_ERROR(t.PutClient(claims));

      store::Client pub = web;
      pub.client_id = "public";
      pub.require_client_secret = false;
      pub.client_secrets.clear();
      return t.PutClient(pub);
    });

    store::User alice;
    alice.subject_id = "sub-alice";
    alice.username = "alice";
    alice.claims = {{"email", "alice@example.com", ""}, {"name", "Alice", ""}};
    Put([&](store::Txn& t) { return t.PutUser(alice); });
    NewService();
  }

  store::Client ClientRecord(const std::string& id) {
    store::Client c;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      Result<store::Client> r = t.GetClient(id);
      if (!r.ok()) return r.status();
      c = *r;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return c;
  }

  // A stored code, as the authorize endpoint makes it; returns the handle.
  std::string Code(const CodeSpec& spec = CodeSpec(), std::string handle = "") {
    store::Grant g;
    g.client_id = spec.client;
    g.subject = spec.subject;
    g.scopes = spec.scopes;
    g.redirect_uri = spec.redirect_uri;
    g.nonce = spec.nonce;
    g.code_challenge = spec.challenge;
    g.code_challenge_method = spec.challenge.empty() ? "" : spec.method;
    g.auth_time = kNow - 30;
    g.idp = "local";
    g.amr = {"pwd"};
    g.session_id = spec.session_id;
    NewGrant code = NewAuthorizationCode(ClientRecord(spec.client), std::move(g), clock_.NowSeconds());
    if (!handle.empty()) {  // a chosen handle (to test the length limit)
      code.handle = std::move(handle);
      code.key = AuthorizationCodeKey(code.handle);
    }
    Put([&](store::Txn& t) { return t.PutGrant(code.key, code.grant); });
    return code.handle;
  }

  bool Revoked(const std::string& family) { return FamilyRevocation(family).has_value(); }

  void EditUser(const std::function<void(store::User&)>& edit) { ServiceFixture::EditUser("sub-alice", edit); }

  // A token request as `client` (Basic "s3cret"; the public client sends only its client_id).
  static http::Request TokenRequest(const std::string& body, const std::string& client) {
    if (client == "public") return testing::FormPost("/connect/token", body + "&client_id=public");
    return testing::FormPost("/connect/token", body, testing::Basic(client, "s3cret"));
  }

  http::Response Post(const std::string& body, const std::string& client = "web") {
    return Handle(TokenRequest(body, client));
  }

  // The usual redemption: the code with the registered redirect_uri and the RFC 7636 verifier.
  static std::string RedeemBody(const std::string& code, const std::string& extra = "",
                                bool redirect = true, bool verifier = true) {
    std::string body = "grant_type=authorization_code&code=" + code;
    if (redirect) body += std::string("&redirect_uri=") + kRedirectEncoded;
    if (verifier) body += std::string("&code_verifier=") + kVerifier;
    return body + extra;
  }

  http::Response Redeem(const std::string& code, const std::string& client = "web") {
    return Post(RedeemBody(code), client);
  }

  http::Response Introspect(const std::string& token) {
    RequestLog log;
    return service_->HandleAndWait(
        testing::FormPost("/connect/introspect", "token=" + token, testing::Basic("api", "api-secret")),
        &log);
  }

  bool Active(const std::string& token) {
    http::Response r = Introspect(token);
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r.body).True("active");
  }

  // The verified payload of a JWT signed by `key` with header typ `typ`.
  static std::string Payload(const std::string& jwt, const token::SigningKey& key, const std::string& typ) {
    std::string payload = testing::VerifiedJwsPayload(jwt, key);
    if (payload.empty()) return "";
    std::optional<std::string> header = Base64UrlDecode(jwt.substr(0, jwt.find('.')));
    EXPECT_TRUE(header.has_value());
    if (header) {
      Json h(*header);
      EXPECT_EQ(h.Str("typ"), typ);
      EXPECT_EQ(h.Str("kid"), key.kid());
    }
    return payload;
  }

  void ExpectError(const http::Response& r, const char* body) {
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, body);
    EXPECT_EQ(log_.grant_type, "authorization_code");
  }

  std::shared_ptr<const token::SigningKey> es256_, rs256_;
};

TEST_F(AuthorizationCodeGrantTest, RedeemsWithOfflineAccessAndOpenId) {
  const std::string code = Code();
  const std::string family = StoredGrant(code)->family;
  EXPECT_EQ(family.size(), 22u);
  EXPECT_EQ(StoredGrant(code)->expires, kNow + 300);  // AuthorizationCodeLifetime
  clock_.Advance(5);
  http::Response r = Redeem(code);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(log_.outcome, "ok");
  Json body(r.body);
  EXPECT_EQ(body.Str("token_type"), "Bearer");
  EXPECT_EQ(body.Num("expires_in"), 3600);
  EXPECT_EQ(body.Str("scope"), "openid profile api1.read offline_access");

  // The access token: the login of the code, the user's claims, grant_id = the code's family.
  const std::string access = body.Str("access_token");
  Json claims(Payload(access, *es256_, "at+jwt"));
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("client_id"), "web");
  EXPECT_EQ(claims.Num("auth_time"), kNow - 30);
  EXPECT_EQ(claims.Num("iat"), kNow + 5);
  EXPECT_EQ(claims.Str("idp"), "local");
  EXPECT_EQ(claims.Str("grant_id"), family);
  EXPECT_EQ(claims.Str("email"), "alice@example.com");
  EXPECT_FALSE(claims.Has("name"));  // identity claims stay out of access tokens

  // The refresh token: in the code's family, with the login's session.
  const std::string refresh = body.Str("refresh_token");
  EXPECT_EQ(refresh.size(), kRefreshHandleLength);
  std::optional<store::Grant> rt = StoredGrant(refresh);
  ASSERT_TRUE(rt.has_value());
  EXPECT_EQ(rt->kind, store::GrantKind::kRefreshToken);
  EXPECT_EQ(rt->client_id, "web");
  EXPECT_EQ(rt->subject, "sub-alice");
  EXPECT_EQ(rt->family, family);
  EXPECT_EQ(rt->session_id, "sess-1");
  EXPECT_EQ(rt->auth_time, kNow - 30);
  EXPECT_EQ(rt->idp, "local");
  EXPECT_EQ(rt->amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(rt->created, kNow + 5);
  EXPECT_EQ(rt->expires, kNow + 5 + 2592000);
  EXPECT_EQ(rt->scopes, (std::vector<std::string>{"openid", "profile", "api1.read", "offline_access"}));
  EXPECT_TRUE(rt->nonce.empty());
  EXPECT_TRUE(rt->code_challenge.empty());
  ASSERT_EQ(rt->claims.size(), 1u);  // the access token's user claims
  EXPECT_EQ(rt->claims[0].type, "email");

  // The id_token (RS256 by default): nonce, at_hash, sid, auth_time.
  Json id(Payload(body.Str("id_token"), *rs256_, "JWT"));
  EXPECT_EQ(id.Str("iss"), kIssuer);
  EXPECT_EQ(id.Str("sub"), "sub-alice");
  EXPECT_EQ(id.Str("aud"), "web");
  EXPECT_EQ(id.Str("nonce"), "n-0S6_WzA2Mj");
  EXPECT_EQ(id.Str("sid"), "sess-1");
  EXPECT_EQ(id.Num("auth_time"), kNow - 30);
  EXPECT_EQ(id.Num("exp"), kNow + 5 + 300);
  EXPECT_EQ(id.Str("at_hash"), Base64UrlEncode(Sha256(access).substr(0, 16)));
  EXPECT_FALSE(id.Has("name"));  // no AlwaysIncludeUserClaimsInIdToken

  // The code is consumed, not deleted (a second use must be detected).
  std::optional<store::Grant> consumed = StoredGrant(code);
  ASSERT_TRUE(consumed.has_value());
  EXPECT_EQ(consumed->consumed_at, kNow + 5);
  EXPECT_TRUE(Active(access));
}

TEST_F(AuthorizationCodeGrantTest, WithoutOfflineAccessOrOpenId) {
  CodeSpec spec;
  spec.scopes = {"api1.read"};
  spec.nonce = "";
  const std::string code = Code(spec);
  const std::string family = StoredGrant(code)->family;
  http::Response r = Redeem(code);
  ASSERT_EQ(r.status, 200) << r.body;
  Json body(r.body);
  EXPECT_EQ(body.Str("scope"), "api1.read");
  EXPECT_FALSE(body.Has("refresh_token"));
  EXPECT_FALSE(body.Has("id_token"));
  // grant_id is there all the same, so a second use of the code can make the token inactive.
  EXPECT_EQ(Json(Payload(body.Str("access_token"), *es256_, "at+jwt")).Str("grant_id"), family);

  // openid without offline_access: an id_token, no refresh token; no nonce when none was sent.
  spec.scopes = {"openid", "api1.read"};
  http::Response oidc = Redeem(Code(spec));
  ASSERT_EQ(oidc.status, 200) << oidc.body;
  Json ob(oidc.body);
  EXPECT_FALSE(ob.Has("refresh_token"));
  ASSERT_TRUE(ob.Has("id_token"));
  EXPECT_FALSE(Json(Payload(ob.Str("id_token"), *rs256_, "JWT")).Has("nonce"));

  // offline_access without openid.
  spec.scopes = {"api1.read", "offline_access"};
  http::Response offline = Redeem(Code(spec));
  ASSERT_EQ(offline.status, 200) << offline.body;
  EXPECT_TRUE(Json(offline.body).Has("refresh_token"));
  EXPECT_FALSE(Json(offline.body).Has("id_token"));
}

TEST_F(AuthorizationCodeGrantTest, IdTokenCarriesUserClaimsWhenTheClientAsks) {
  CodeSpec spec;
  spec.client = "claims";
  http::Response r = Redeem(Code(spec), "claims");
  ASSERT_EQ(r.status, 200) << r.body;
  Json id(Payload(Json(r.body).Str("id_token"), *rs256_, "JWT"));
  EXPECT_EQ(id.Str("name"), "Alice");      // profile's claim
  EXPECT_FALSE(id.Has("email"));           // no identity scope asks for it
  EXPECT_EQ(id.Str("aud"), "claims");
}

TEST_F(AuthorizationCodeGrantTest, TheRefreshTokenFromACodeRefreshesInItsFamily) {
  const std::string code = Code();
  const std::string family = StoredGrant(code)->family;
  const std::string refresh = Json(Redeem(code).body).Str("refresh_token");
  clock_.Advance(60);
  http::Response r = Post("grant_type=refresh_token&refresh_token=" + refresh);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string next = Json(r.body).Str("refresh_token");
  ASSERT_FALSE(next.empty());
  EXPECT_NE(next, refresh);
  std::optional<store::Grant> g = StoredGrant(next);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->family, family);
  EXPECT_EQ(g->session_id, "sess-1");  // rotation keeps the session (the id_token's sid on refresh)
  EXPECT_EQ(g->auth_time, kNow - 30);
  EXPECT_EQ(Json(Payload(Json(r.body).Str("access_token"), *es256_, "at+jwt")).Str("grant_id"), family);
}

TEST_F(AuthorizationCodeGrantTest, SecondUseRevokesEverythingIssuedFromTheCode) {
  const std::string code = Code();
  const std::string family = StoredGrant(code)->family;
  const std::string unrelated_code = Code();
  http::Response first = Redeem(code);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string access = Json(first.body).Str("access_token");
  const std::string refresh = Json(first.body).Str("refresh_token");
  http::Response unrelated = Redeem(unrelated_code);
  ASSERT_EQ(unrelated.status, 200);
  EXPECT_TRUE(Active(access));

  clock_.Advance(10);
  ::testing::internal::CaptureStderr();
  http::Response second = Redeem(code);
  const std::string logged = ::testing::internal::GetCapturedStderr();
  ExpectError(second, kInvalidCode);
  EXPECT_EQ(log_.outcome, "invalid_grant");
  EXPECT_NE(logged.find("authorization code reuse by client web"), std::string::npos) << logged;
  EXPECT_NE(logged.find(family), std::string::npos) << logged;
  EXPECT_EQ(logged.find(code), std::string::npos) << logged;  // never the code

  EXPECT_TRUE(Revoked(family));
  EXPECT_FALSE(StoredGrant(refresh).has_value());
  EXPECT_FALSE(StoredGrant(code).has_value());
  EXPECT_FALSE(Active(access));  // the JWT carries grant_id = the family
  http::Response refreshed = Post("grant_type=refresh_token&refresh_token=" + refresh);
  EXPECT_EQ(refreshed.status, 400);
  EXPECT_EQ(Json(refreshed.body).Str("error"), "invalid_grant");
  ExpectError(Redeem(code), kInvalidCode);  // a third use: unknown by now

  // Another code's tokens are untouched.
  EXPECT_TRUE(Active(Json(unrelated.body).Str("access_token")));
  EXPECT_TRUE(StoredGrant(Json(unrelated.body).Str("refresh_token")).has_value());
}

TEST_F(AuthorizationCodeGrantTest, SecondUseRevokesEvenWithWrongParameters) {
  // A consumed code goes straight to the transaction: reuse is detected before redirect_uri and PKCE are looked at.
  const std::string code = Code();
  const std::string refresh = Json(Redeem(code).body).Str("refresh_token");
  ASSERT_FALSE(refresh.empty());
  ExpectError(Post(RedeemBody(code, "", false, false)), kInvalidCode);
  EXPECT_FALSE(StoredGrant(refresh).has_value());
}

TEST_F(AuthorizationCodeGrantTest, ReferenceTokenClient) {
  CodeSpec spec;
  spec.client = "ref";
  const std::string code = Code(spec);
  const std::string family = StoredGrant(code)->family;
  http::Response r = Redeem(code, "ref");
  ASSERT_EQ(r.status, 200) << r.body;
  Json body(r.body);
  const std::string access = body.Str("access_token");
  EXPECT_EQ(access.size(), 43u);
  EXPECT_FALSE(token::SplitJws(access).has_value());
  std::optional<store::Grant> g = StoredGrant(access);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->kind, store::GrantKind::kReferenceToken);
  EXPECT_EQ(g->family, family);
  EXPECT_EQ(g->subject, "sub-alice");
  EXPECT_EQ(Json(g->access_token_json).Str("grant_id"), family);
  EXPECT_TRUE(Active(access));
  // at_hash of the handle
  Json id(Payload(body.Str("id_token"), *rs256_, "JWT"));
  EXPECT_EQ(id.Str("at_hash"), Base64UrlEncode(Sha256(access).substr(0, 16)));

  ExpectError(Redeem(code, "ref"), kInvalidCode);
  EXPECT_FALSE(StoredGrant(access).has_value());
  EXPECT_FALSE(StoredGrant(body.Str("refresh_token")).has_value());
  EXPECT_FALSE(Active(access));
}

TEST_F(AuthorizationCodeGrantTest, ClientMustBeAllowedTheGrant) {
  CodeSpec spec;
  spec.client = "pw";
  const std::string code = Code(spec);
  http::Response r = Redeem(code, "pw");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"error":"unauthorized_client","error_description":"the client is not allowed the authorization_code grant"})");
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
}

TEST_F(AuthorizationCodeGrantTest, CodeMissingOrTooLong) {
  http::Response missing = Post("grant_type=authorization_code&redirect_uri=" + std::string(kRedirectEncoded));
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.body, R"({"error":"invalid_request","error_description":"code is missing"})");
  ExpectError(Post("grant_type=authorization_code&code="), R"({"error":"invalid_request","error_description":"code is missing"})");

  // A stored code whose handle is one byte over the limit is refused without a lookup; at the limit it works.
  const std::string too_long = Code(CodeSpec(), std::string(kMaxAuthorizationCodeLength + 1, 'a'));
  ExpectError(Redeem(too_long), kInvalidCode);
  EXPECT_FALSE(StoredGrant(too_long)->consumed_at.has_value());
  const std::string at_limit = Code(CodeSpec(), std::string(kMaxAuthorizationCodeLength, 'b'));
  EXPECT_EQ(Redeem(at_limit).status, 200);
}

TEST_F(AuthorizationCodeGrantTest, UnknownOrNotACode) {
  ExpectError(Redeem(RandomHandle(32)), kInvalidCode);
  // A refresh token presented as a code.
  const std::string refresh = Json(Redeem(Code()).body).Str("refresh_token");
  ASSERT_FALSE(refresh.empty());
  ExpectError(Redeem(refresh), kInvalidCode);
  EXPECT_FALSE(StoredGrant(refresh)->consumed_at.has_value());
}

TEST_F(AuthorizationCodeGrantTest, ACodeOfOlderBuildsIsStillRedeemedAndItsReuseRevokes) {
  // Builds before chain keys for codes issued RandomHandle(32) under Sha256(handle).
  const std::string code = Code(CodeSpec(), RandomHandle(32));
  EXPECT_EQ(KeyOf(code), Sha256(code));
  http::Response first = Redeem(code);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string refresh = Json(first.body).Str("refresh_token");
  EXPECT_TRUE(StoredGrant(code)->consumed_at.has_value());
  ExpectError(Redeem(code), kInvalidCode);
  EXPECT_FALSE(StoredGrant(refresh).has_value());
  EXPECT_FALSE(StoredGrant(code).has_value());
}

TEST_F(AuthorizationCodeGrantTest, AForgedCodeNamingARealFamilyFindsNothing) {
  // The family is public (every access token's grant_id); a handle that names it with another secret is looked up
  // beside the real code and finds nothing, and a handle of another version byte is only hashed.
  const std::string code = Code();
  std::optional<std::string> bytes = Base64UrlDecode(code);
  ASSERT_TRUE(bytes.has_value());
  std::string forged = *bytes;
  forged.back() ^= 1;
  const std::string forged_handle = Base64UrlEncode(forged);
  EXPECT_EQ(AuthorizationCodeKey(forged_handle).substr(0, 16), KeyOf(code).substr(0, 16));
  ExpectError(Redeem(forged_handle), kInvalidCode);
  std::string other_version = *bytes;
  other_version[0] = 0x02;
  EXPECT_EQ(AuthorizationCodeKey(Base64UrlEncode(other_version)), Sha256(Base64UrlEncode(other_version)));
  ExpectError(Redeem(Base64UrlEncode(other_version)), kInvalidCode);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EXPECT_EQ(Redeem(code).status, 200);
}

TEST_F(AuthorizationCodeGrantTest, AnotherClientsCode) {
  const std::string code = Code();  // issued to "web"
  ExpectError(Redeem(code, "other"), kInvalidCode);
  ExpectError(Redeem(code, "public"), kInvalidCode);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());  // nothing written, nothing revoked
  EXPECT_EQ(Redeem(code).status, 200);
}

TEST_F(AuthorizationCodeGrantTest, PublicClientRedeemsItsOwnCode) {
  CodeSpec spec;
  spec.client = "public";
  http::Response r = Redeem(Code(spec), "public");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(Payload(Json(r.body).Str("access_token"), *es256_, "at+jwt")).Str("client_id"), "public");
}

TEST_F(AuthorizationCodeGrantTest, ExpiredCode) {
  const std::string live = Code();
  const std::string dead = Code();
  clock_.Advance(299);
  EXPECT_EQ(Redeem(live).status, 200);  // the last second of its lifetime
  clock_.Advance(1);
  ExpectError(Redeem(dead), kInvalidCode);  // now == expires
  EXPECT_FALSE(StoredGrant(dead)->consumed_at.has_value());
}

TEST_F(AuthorizationCodeGrantTest, RedirectUriMustBeIdentical) {
  const std::string code = Code();
  ExpectError(Post(RedeemBody(code, "", false)), kRedirectMismatch);
  for (const char* wrong : {"https%3A%2F%2Fweb.example%2Fcb%2F", "https%3A%2F%2FWEB.example%2Fcb",
                            "http%3A%2F%2Fweb.example%2Fcb", "https%3A%2F%2Fweb.example%2Fcb%3Fx%3D1"}) {
    std::string body = "grant_type=authorization_code&code=" + code + "&redirect_uri=" + wrong +
                       "&code_verifier=" + kVerifier;
    ExpectError(Post(body), kRedirectMismatch);
  }
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EXPECT_EQ(Redeem(code).status, 200);

  // No redirect_uri at authorize: none needed here.
  CodeSpec spec;
  spec.redirect_uri = "";
  EXPECT_EQ(Post(RedeemBody(Code(spec), "", false)).status, 200);
}

TEST_F(AuthorizationCodeGrantTest, PkceS256) {
  const std::string code = Code();
  ExpectError(Post(RedeemBody(code, "", true, false)), kInvalidVerifier);  // missing
  std::string wrong = kVerifier;
  wrong[0] = 'e';
  ExpectError(Post(RedeemBody(code, "&code_verifier=" + wrong, true, false)), kInvalidVerifier);
  ExpectError(Post(RedeemBody(code, "&code_verifier=" + std::string(kVerifier).substr(0, 42), true, false)),
              kInvalidVerifier);  // too short
  ExpectError(Post(RedeemBody(code, "&code_verifier=" + std::string(129, 'a'), true, false)), kInvalidVerifier);
  std::string bad_char = kVerifier;
  bad_char[5] = '+';  // '+' decodes to a space
  ExpectError(Post(RedeemBody(code, "&code_verifier=" + bad_char, true, false)), kInvalidVerifier);
  // The challenge itself is not the verifier.
  ExpectError(Post(RedeemBody(code, std::string("&code_verifier=") + kChallenge, true, false)), kInvalidVerifier);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EXPECT_EQ(Redeem(code).status, 200);
}

TEST_F(AuthorizationCodeGrantTest, PkcePlain) {
  CodeSpec spec;
  spec.method = "plain";
  spec.challenge = kVerifier;  // plain: the challenge is the verifier
  const std::string code = Code(spec);
  // The S256 form of the verifier is no plain verifier.
  ExpectError(Post(RedeemBody(code, std::string("&code_verifier=") + kChallenge, true, false)), kInvalidVerifier);
  EXPECT_EQ(Redeem(code).status, 200);

  // An unknown stored method never matches.
  spec.method = "S512";
  ExpectError(Redeem(Code(spec)), kInvalidVerifier);

  // The verifier's syntax is checked even when it equals the stored plain challenge (42 characters here).
  spec.method = "plain";
  spec.challenge = std::string(42, 'a');
  ExpectError(Post(RedeemBody(Code(spec), "&code_verifier=" + std::string(42, 'a'), true, false)), kInvalidVerifier);
}

TEST_F(AuthorizationCodeGrantTest, VerifierWithoutChallengeIsADowngrade) {
  CodeSpec spec;
  spec.challenge = "";
  const std::string code = Code(spec);
  ExpectError(Redeem(code), kUnexpectedVerifier);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EXPECT_EQ(Post(RedeemBody(code, "", true, false)).status, 200);
}

TEST_F(AuthorizationCodeGrantTest, UserMustStillBeActive) {
  const std::string code = Code();
  EditUser([](store::User& u) { u.is_active = false; });
  ExpectError(Redeem(code), kInvalidCode);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EditUser([](store::User& u) { u.is_active = true; });
  EXPECT_EQ(Redeem(code).status, 200);

  CodeSpec spec;
  spec.subject = "sub-nobody";
  ExpectError(Redeem(Code(spec)), kInvalidCode);
  const std::string removed = Code();
  Put([](store::Txn& t) { return t.RemoveUser("sub-alice"); });
  ExpectError(Redeem(removed), kInvalidCode);
}

TEST_F(AuthorizationCodeGrantTest, TheUsersCurrentClaimsGoIntoTheTokens) {
  const std::string code = Code();
  EditUser([](store::User& u) { u.claims = {{"email", "new@example.com", ""}}; });
  http::Response r = Redeem(code);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(Payload(Json(r.body).Str("access_token"), *es256_, "at+jwt")).Str("email"), "new@example.com");
}

TEST_F(AuthorizationCodeGrantTest, ClientThatLostOfflineAccessGetsNoRefreshToken) {
  const std::string code = Code();
  Put([&](store::Txn& t) -> Status {
    store::Client c = ClientRecord("web");
    c.allow_offline_access = false;
    return t.PutClient(c);
  });
  http::Response r = Redeem(code);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Json(r.body).Has("refresh_token"));
}

TEST_F(AuthorizationCodeGrantTest, ParallelDoubleRedemptionSucceedsOnce) {
  const std::string code = Code();
  const std::string family = StoredGrant(code)->family;
  constexpr int kThreads = 8;
  std::atomic<int> ok{0}, invalid{0}, other{0};
  std::vector<std::string> winners(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      RequestLog log;
      const http::Response resp = service_->HandleAndWait(TokenRequest(RedeemBody(code), "web"), &log);
      if (resp.status == 200) {
        ++ok;
        winners[i] = Json(resp.body).Str("refresh_token");
      } else if (resp.body == kInvalidCode) {
        ++invalid;
      } else {
        ++other;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(invalid.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
  // Every loser that reached the transaction saw a consumed code: the winner's tokens are revoked.
  EXPECT_TRUE(Revoked(family));
  for (const std::string& w : winners) {
    if (!w.empty()) {
      EXPECT_FALSE(StoredGrant(w).has_value());
    }
  }
}

TEST_F(AuthorizationCodeGrantTest, RedeemAuthorizationCodeKeepsIssuedGrantsInTheFamily) {
  const std::string code = Code();
  NewGrant stray = NewHandle();
  stray.grant.kind = store::GrantKind::kRefreshToken;
  stray.grant.client_id = "web";
  stray.grant.subject = "sub-alice";
  stray.grant.created = kNow;
  stray.grant.expires = kNow + 100;
  stray.grant.family = RandomHandle(16);  // not the code's
  std::shared_ptr<const Snapshot> snapshot = BuildSnapshot(config_, 1, {}, {}, {}, {}, {});
  Result<CodeRedemption> r = Status::Internal("not run");
  const Status aborted = store_->Update([&](store::Txn& t) -> Status {
    r = RedeemAuthorizationCode(t, *snapshot, AuthorizationCodeKey(code), "web", kNow, {&stray}, true);
    return r.ok() ? Status::OK() : r.status();
  });
  EXPECT_EQ(aborted.code(), Status::Code::kInvalidArgument);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EXPECT_FALSE(StoredGrant(stray.handle).has_value());
}

TEST_F(AuthorizationCodeGrantTest, NewAuthorizationCodeSetsKindLifetimeAndFamily) {
  store::Client client = ClientRecord("web");
  client.authorization_code_lifetime = 60;
  store::Grant g;
  g.client_id = "web";
  g.subject = "sub-alice";
  g.family = "caller's";     // replaced
  g.consumed_at = kNow;      // cleared
  g.kind = store::GrantKind::kRefreshToken;
  NewGrant code = NewAuthorizationCode(client, g, kNow);
  EXPECT_EQ(code.handle.size(), 66u);
  EXPECT_EQ(code.handle.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  // A chain key of the code's family (authorization_codes.h), so the refresh token issued from it is its neighbour.
  EXPECT_EQ(code.key, AuthorizationCodeKey(code.handle));
  EXPECT_EQ(code.key.size(), 32u);
  EXPECT_TRUE(store::IsChainKey(code.key, code.grant.family));
  EXPECT_EQ(code.key.substr(16), Sha256(code.handle).substr(0, 16));
  EXPECT_EQ(code.grant.kind, store::GrantKind::kAuthorizationCode);
  EXPECT_EQ(code.grant.created, kNow);
  EXPECT_EQ(code.grant.expires, kNow + 60);
  EXPECT_EQ(code.grant.family.size(), 22u);
  EXPECT_FALSE(code.grant.consumed_at.has_value());
  EXPECT_EQ(code.grant.subject, "sub-alice");
  EXPECT_NE(NewAuthorizationCode(client, g, kNow).grant.family, code.grant.family);
}

TEST_F(AuthorizationCodeGrantTest, RedeemAuthorizationCodeOutcomes) {
  std::shared_ptr<const Snapshot> snapshot = BuildSnapshot(config_, 1, {}, {}, {}, {}, {});
  auto redeem = [&](const std::string& handle, const std::string& client, int64_t now, bool proof = true) {
    CodeRedemption out = CodeRedemption::kRejected;
    const Status st = store_->Update([&](store::Txn& t) -> Status {
      Result<CodeRedemption> r =
          RedeemAuthorizationCode(t, *snapshot, AuthorizationCodeKey(handle), client, now, {}, proof);
      if (!r.ok()) return r.status();
      out = *r;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  };
  const std::string code = Code();
  EXPECT_EQ(redeem(RandomHandle(32), "web", kNow), CodeRedemption::kRejected);
  EXPECT_EQ(redeem(code, "other", kNow), CodeRedemption::kRejected);
  EXPECT_EQ(redeem(code, "web", kNow + 300), CodeRedemption::kRejected);
  EXPECT_FALSE(StoredGrant(code)->consumed_at.has_value());
  EXPECT_EQ(redeem(code, "web", kNow + 1), CodeRedemption::kRedeemed);
  EXPECT_EQ(StoredGrant(code)->consumed_at, kNow + 1);
  const std::string family = StoredGrant(code)->family;
  EXPECT_EQ(redeem(code, "other", kNow + 2), CodeRedemption::kRejected);  // not its code: no revocation
  EXPECT_FALSE(Revoked(family));
  EXPECT_EQ(redeem(code, "web", kNow + 2, false), CodeRedemption::kReplayWithoutProof);  // nothing written
  EXPECT_FALSE(Revoked(family));
  EXPECT_EQ(StoredGrant(code)->consumed_at, kNow + 1);
  EXPECT_EQ(redeem(code, "web", kNow + 2), CodeRedemption::kReuseDetected);
  EXPECT_TRUE(Revoked(family));
  EXPECT_EQ(redeem(code, "web", kNow + 3), CodeRedemption::kRejected);
}

TEST_F(AuthorizationCodeGrantTest, DiscoveryListsTheGrant) {
  const std::string body = Handle(testing::GetRequest("/.well-known/openid-configuration")).body;
  EXPECT_NE(body.find(R"("grant_types_supported":["client_credentials","password","authorization_code","refresh_token")"),
            std::string::npos)
      << body;
}

}  // namespace
}  // namespace tf::oauth
