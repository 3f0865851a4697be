// Token revocation (RFC 7009, oauth/revocation.h) through oauth::Service over a real LMDB store and a ManualClock:
// the request checks and client authentication shared with the token endpoint, the one 200 answer, and what each
// kind of token does to the stored grants (refresh token: its family; reference token: itself; another client's
// token, codes, JWTs and unknown tokens: nothing). Grants are written directly with Txn::PutGrant.
#include "oauth/revocation.h"

#include <cjson/cJSON.h>

#include <gtest/gtest.h>

#include <memory>
#include <optional>
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
using testing::HeaderOf;
using testing::kNow;
constexpr char kIssuer[] = "https://auth.example.com";

std::string ErrorOf(const http::Response& r) {
  cJSON* root = cJSON_Parse(r.body.c_str());
  const cJSON* e = cJSON_GetObjectItemCaseSensitive(root, "error");
  std::string out = cJSON_IsString(e) ? e->valuestring : "<none>";
  cJSON_Delete(root);
  return out;
}

store::Client Confidential(std::string id, std::string_view secret) {
  return testing::ConfidentialClient(std::move(id), secret, {"api1"});
}

class RevocationTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("revocation_test"));
    config_.issuer = kIssuer;
    config_.realm = "test realm";

    std::shared_ptr<const token::SigningKey> key = testing::FixedSigningKey(token::Alg::kRS256, 0);
    ASSERT_NE(key, nullptr);
    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key, kNow - 100)));
      store::ApiScope scope;
      scope.name = "api1";
      TF_RETURN_IF_ERROR(t.PutApiScope(scope));
      store::ApiResource api;
      api.name = "api1";
      api.scopes = {"api1"};
      TF_RETURN_IF_ERROR(t.PutApiResource(api));
      store::Client svc = Confidential("svc", "s3cret");
      svc.access_token_lifetime = 900;
      TF_RETURN_IF_ERROR(t.PutClient(svc));
      store::Client other = Confidential("other", "0ther");
      other.access_token_lifetime = 7200;  // the longest: decides how long revocation records are kept
      TF_RETURN_IF_ERROR(t.PutClient(other));
      store::Client disabled = Confidential("disabled", "d1sabled");
      disabled.enabled = false;
      TF_RETURN_IF_ERROR(t.PutClient(disabled));
      store::Client pub;
      pub.client_id = "public";
      pub.require_client_secret = false;
      TF_RETURN_IF_ERROR(t.PutClient(pub));
      return Status::OK();
    });
    NewService();
  }

  http::Response PostTo(const std::string& path, const std::string& body, const std::string& authorization,
                        const std::string& content_type = testing::kFormUrlEncoded) {
    return Handle(testing::FormPost(path, body, authorization, content_type));
  }

  http::Response Revoke(const std::string& token, const std::string& authorization = Basic("svc", "s3cret"),
                        const std::string& extra = "") {
    return PostTo("/connect/revocation", "token=" + token + extra, authorization);
  }

  void ExpectRevocationOk(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "");
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store");
    EXPECT_EQ(HeaderOf(r, "Pragma"), "no-cache");
    EXPECT_EQ(log_.outcome, "ok");
  }

  static store::Grant MakeGrant(store::GrantKind kind, const std::string& client, const std::string& family) {
    store::Grant g;
    g.kind = kind;
    g.client_id = client;
    g.subject = "alice";
    g.scopes = {"api1", "offline_access"};
    g.created = kNow - 10;
    g.expires = kNow + 1000;
    g.family = family;
    if (kind == store::GrantKind::kReferenceToken) g.access_token_json = R"({"aud":"api1","client_id":")" + client + "\"}";
    return g;
  }

  std::string PutGrant(const store::Grant& grant) {
    std::string handle = RandomHandle(32);
    Put([&](store::Txn& t) { return t.PutGrant(Sha256(handle), grant); });
    return handle;
  }

  bool Exists(const std::string& handle) { return StoredGrant(handle).has_value(); }
};

TEST_F(RevocationTest, OnlyPost) {
  for (const char* method : {"GET", "HEAD", "PUT"}) {
    http::Request r;
    r.method = method;
    r.path = "/connect/revocation";
    http::Response resp = service_->HandleAndWait(r, &log_);
    EXPECT_EQ(resp.status, 405) << method;
    EXPECT_EQ(HeaderOf(resp, "Allow"), "POST");
  }
}

TEST_F(RevocationTest, BodyChecksAreTheTokenEndpoints) {
  const std::string auth = Basic("svc", "s3cret");
  for (const char* bad : {"", "application/json", "text/plain"}) {
    http::Response r = PostTo("/connect/revocation", "token=x", auth, bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorOf(r), "invalid_request");
  }
  EXPECT_EQ(PostTo("/connect/revocation", "token=a&token=b", auth).status, 400);
  EXPECT_EQ(PostTo("/connect/revocation", "token=%zz", auth).status, 400);
  http::Request r;
  r.method = "POST";
  r.path = "/connect/revocation";
  r.content_type = "application/x-www-form-urlencoded";
  r.authorization = auth;
  r.body_state = http::BodyState::kTooLarge;
  EXPECT_EQ(service_->HandleAndWait(r, &log_).status, 413);
  r.body_state = http::BodyState::kIncomplete;
  EXPECT_EQ(service_->HandleAndWait(r, &log_).status, 400);
}

TEST_F(RevocationTest, ClientAuthenticationAsAtTheTokenEndpoint) {
  const std::string handle = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1"));
  for (const std::string& auth : {Basic("svc", "wrong"), Basic("nobody", "x"), Basic("disabled", "d1sabled"),
                                  std::string("Basic !!!"), std::string("")}) {
    http::Response r = Revoke(handle, auth);
    EXPECT_EQ(r.status, 401) << auth;
    EXPECT_EQ(r.body, R"({"error":"invalid_client","error_description":"client authentication failed"})");
    EXPECT_EQ(HeaderOf(r, "WWW-Authenticate"), R"(Basic realm="test realm")");
  }
  http::Response two = Revoke(handle, Basic("svc", "s3cret"), "&client_secret=s3cret");
  EXPECT_EQ(two.status, 400);
  EXPECT_EQ(ErrorOf(two), "invalid_request");
  EXPECT_TRUE(Exists(handle));  // nothing happened
  // client_secret_post works as well.
  ExpectRevocationOk(PostTo("/connect/revocation", "token=" + handle + "&client_id=svc&client_secret=s3cret", ""));
  EXPECT_EQ(log_.client_id, "svc");
  EXPECT_FALSE(Exists(handle));
}

TEST_F(RevocationTest, TokenIsRequired) {
  http::Response r = PostTo("/connect/revocation", "token_type_hint=refresh_token", Basic("svc", "s3cret"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrorOf(r), "invalid_request");
}

TEST_F(RevocationTest, RefreshTokenRevokesItsWholeFamily) {
  const std::string rt = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1"));
  store::Grant rotated = MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1");
  rotated.consumed_at = kNow - 5;
  const std::string old_rt = PutGrant(rotated);
  const std::string ref = PutGrant(MakeGrant(store::GrantKind::kReferenceToken, "svc", "fam1"));
  const std::string unrelated = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam2"));

  clock_.Advance(7);
  ExpectRevocationOk(Revoke(rt));
  EXPECT_FALSE(Exists(rt));
  EXPECT_FALSE(Exists(old_rt));
  EXPECT_FALSE(Exists(ref));
  EXPECT_TRUE(Exists(unrelated));
  std::optional<store::FamilyRevocation> rec = FamilyRevocation("fam1");
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->revoked_at, kNow + 7);
  // the longest AccessTokenLifetime of any client, plus the skew introspection allows past exp
  EXPECT_EQ(rec->keep_until, kNow + 7 + 7200 + config_.clock_skew_seconds);
  EXPECT_FALSE(FamilyRevocation("fam2").has_value());

  // Revoking it again is still 200.
  ExpectRevocationOk(Revoke(rt));
}

TEST_F(RevocationTest, ConsumedRefreshTokenStillNamesItsFamily) {
  store::Grant rotated = MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1");
  rotated.consumed_at = kNow - 5;
  const std::string old_rt = PutGrant(rotated);
  const std::string current = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1"));
  ExpectRevocationOk(Revoke(old_rt));
  EXPECT_FALSE(Exists(current));
  EXPECT_TRUE(FamilyRevocation("fam1").has_value());
}

TEST_F(RevocationTest, ReferenceTokenIsDeletedAloneItsFamilyLivesOn) {
  const std::string rt = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1"));
  const std::string ref = PutGrant(MakeGrant(store::GrantKind::kReferenceToken, "svc", "fam1"));
  const std::string ref2 = PutGrant(MakeGrant(store::GrantKind::kReferenceToken, "svc", "fam1"));
  ExpectRevocationOk(Revoke(ref));
  EXPECT_FALSE(Exists(ref));
  EXPECT_TRUE(Exists(ref2));
  EXPECT_TRUE(Exists(rt));
  EXPECT_FALSE(FamilyRevocation("fam1").has_value());
}

TEST_F(RevocationTest, AnotherClientsTokenIsLeftAlone) {
  const std::string rt = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "other", "fam1"));
  const std::string ref = PutGrant(MakeGrant(store::GrantKind::kReferenceToken, "other", "fam2"));
  ExpectRevocationOk(Revoke(rt));
  ExpectRevocationOk(Revoke(ref));
  EXPECT_TRUE(Exists(rt));
  EXPECT_TRUE(Exists(ref));
  EXPECT_FALSE(FamilyRevocation("fam1").has_value());
  // Its owner can.
  ExpectRevocationOk(Revoke(rt, Basic("other", "0ther")));
  EXPECT_FALSE(Exists(rt));
}

TEST_F(RevocationTest, UnknownTokensAnswerLikeSuccess) {
  const http::Response known = Revoke(PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1")));
  const http::Response unknown = Revoke(RandomHandle(32));
  ExpectRevocationOk(unknown);
  EXPECT_EQ(known.status, unknown.status);
  EXPECT_EQ(known.headers, unknown.headers);
  EXPECT_EQ(known.body, unknown.body);
  ExpectRevocationOk(Revoke("not-even-a-handle"));
}

TEST_F(RevocationTest, CodesAreNotRevokedHere) {
  const std::string code = PutGrant(MakeGrant(store::GrantKind::kAuthorizationCode, "svc", "fam1"));
  const std::string device = PutGrant(MakeGrant(store::GrantKind::kDeviceCode, "svc", "fam2"));
  ExpectRevocationOk(Revoke(code));
  ExpectRevocationOk(Revoke(device));
  EXPECT_TRUE(Exists(code));
  EXPECT_TRUE(Exists(device));
  EXPECT_FALSE(FamilyRevocation("fam1").has_value());
}

TEST_F(RevocationTest, JwtAccessTokenIsAcceptedAndChangesNothing) {
  const std::string unrelated = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1"));
  http::Response t = PostTo("/connect/token", "grant_type=client_credentials&scope=api1", Basic("svc", "s3cret"));
  ASSERT_EQ(t.status, 200) << t.body;
  cJSON* body = cJSON_Parse(t.body.c_str());
  const std::string jwt = cJSON_GetObjectItemCaseSensitive(body, "access_token")->valuestring;
  cJSON_Delete(body);
  ExpectRevocationOk(Revoke(jwt, Basic("svc", "s3cret"), "&token_type_hint=access_token"));
  EXPECT_TRUE(Exists(unrelated));
}

TEST_F(RevocationTest, TokenTypeHintIsOnlyAHint) {
  const std::string rt = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "svc", "fam1"));
  ExpectRevocationOk(Revoke(rt, Basic("svc", "s3cret"), "&token_type_hint=access_token"));
  EXPECT_FALSE(Exists(rt));
  const std::string ref = PutGrant(MakeGrant(store::GrantKind::kReferenceToken, "svc", "fam2"));
  ExpectRevocationOk(Revoke(ref, Basic("svc", "s3cret"), "&token_type_hint=no_such_type"));
  EXPECT_FALSE(Exists(ref));
}

TEST_F(RevocationTest, PublicClientRevokesWithItsIdAlone) {
  const std::string rt = PutGrant(MakeGrant(store::GrantKind::kRefreshToken, "public", "famP"));
  ExpectRevocationOk(PostTo("/connect/revocation", "token=" + rt + "&client_id=public", ""));
  EXPECT_FALSE(Exists(rt));
  EXPECT_EQ(log_.client_id, "public");
}

}  // namespace
}  // namespace tf::oauth
