// Refresh tokens (RFC 6749 §6) and reference access tokens end to end through oauth::Service over a real LMDB store
// in a temporary directory, with a ManualClock and cheap Argon2id parameters: issuing on offline_access, rotation,
// reuse detection (the family dies), the grace retry, ReUse, scope narrowing and escalation, sliding and absolute
// lifetimes, the client and user checks, UpdateAccessTokenClaimsOnRefresh, reference tokens for every grant, id_tokens
// on refresh of a grant with openid (OpenID Connect Core §12.2), and parallel redemption of one token.
#include <cjson/cJSON.h>

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "oauth/refresh_tokens.h"
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
using testing::kNow;
using testing::Scope;
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kInvalidRefreshToken[] =
    R"({"error":"invalid_grant","error_description":"the refresh token is invalid"})";

// What builds before chain keys made (version 1: 0x01 | family | generation, 8 bytes | secret, 24 | mac, 16), written
// out here as those builds did, so that a change of this build cannot change what "version 1" means.
std::string VersionOneHandle(std::string_view key, std::string_view family, uint64_t generation) {
  std::string body(1, '\x01');
  body += *Base64UrlDecode(family);
  for (int shift = 56; shift >= 0; shift -= 8) body.push_back(static_cast<char>((generation >> shift) & 0xff));
  body += RandomBytes(24);
  body += HmacSha256(key, body).substr(0, 16);
  return Base64UrlEncode(body);
}

class RefreshGrantTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("refresh_grant_test", map_size_));

    config_.issuer = kIssuer;
    testing::UseCheapPasswordHashing(&config_);
    config_.access_token_signing_alg = "ES256";
    config_.id_token_signing_alg = "ES256";  // the only key: id_tokens on refresh of an openid grant
    key_ = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_NE(key_, nullptr);

    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key_, kNow - 100)));
      // grant_id in UserClaims: a user claim of that name must still not forge the protocol claim.
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api1.read", {"email", "grant_id"})));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api2")));
      store::ApiResource api;
      api.name = "api";
      api.scopes = {"api1.read", "api2"};
      TF_RETURN_IF_ERROR(t.PutApiResource(api));
      store::IdentityResource openid;
      openid.name = "openid";
      TF_RETURN_IF_ERROR(t.PutIdentityResource(openid));

      store::Client app;
      app.client_id = "app";
      app.client_secrets = {testing::HashedSecret("s3cret")};
      app.allowed_grant_types = {"password"};  // no "refresh_token" entry needed: AllowOfflineAccess allows it
      app.allowed_scopes = {"openid", "api1.read", "api2"};
      app.allow_offline_access = true;
      TF_RETURN_IF_ERROR(t.PutClient(app));

      store::Client other = app;
      other.client_id = "other";
      other.access_token_lifetime = 7200;  // the longest lifetime: family revocations are kept this long
      TF_RETURN_IF_ERROR(t.PutClient(other));

      store::Client reuse = app;
      reuse.client_id = "reuse";
      reuse.refresh_token_usage = store::RefreshTokenUsage::kReUse;
      reuse.refresh_token_expiration = store::TokenExpiration::kSliding;
      reuse.sliding_refresh_token_lifetime = 100;
      reuse.absolute_refresh_token_lifetime = 250;
      TF_RETURN_IF_ERROR(t.PutClient(reuse));

      store::Client sliding = app;
      sliding.client_id = "sliding";
      sliding.refresh_token_expiration = store::TokenExpiration::kSliding;
      sliding.sliding_refresh_token_lifetime = 100;
      sliding.absolute_refresh_token_lifetime = 250;
      TF_RETURN_IF_ERROR(t.PutClient(sliding));

      store::Client uncapped = sliding;
      uncapped.client_id = "uncapped";
      uncapped.absolute_refresh_token_lifetime = 0;
      TF_RETURN_IF_ERROR(t.PutClient(uncapped));

      store::Client absolute = app;
      absolute.client_id = "absolute";
      absolute.absolute_refresh_token_lifetime = 100;
      TF_RETURN_IF_ERROR(t.PutClient(absolute));

      store::Client fresh = app;
      fresh.client_id = "fresh";
      fresh.update_access_token_claims_on_refresh = true;
      TF_RETURN_IF_ERROR(t.PutClient(fresh));

      store::Client ref = app;
      ref.client_id = "ref";
      ref.access_token_type = store::AccessTokenType::kReference;
      TF_RETURN_IF_ERROR(t.PutClient(ref));

      store::Client machine = app;
      machine.client_id = "machine";
      machine.allowed_grant_types = {"client_credentials"};
      machine.allow_offline_access = false;
      machine.access_token_type = store::AccessTokenType::kReference;
      TF_RETURN_IF_ERROR(t.PutClient(machine));

      store::Client offline_less = app;
      offline_less.client_id = "nooffline";
      offline_less.allow_offline_access = false;
      TF_RETURN_IF_ERROR(t.PutClient(offline_less));

      store::Client pub = app;
      pub.client_id = "public";
      pub.require_client_secret = false;
      pub.client_secrets.clear();
      return t.PutClient(pub);
    });

    store::User alice;
    alice.subject_id = "sub-alice";
    alice.username = "alice";
    alice.claims = {{"email", "alice@example.com", ""}, {"name", "Alice", ""}, {"grant_id", "forged", ""}};
    alice.password_hash = testing::CheapPasswordHash("Wonderland1");
    ASSERT_FALSE(alice.password_hash.empty());
    Put([&](store::Txn& t) { return t.PutUser(alice); });
    NewService();
  }

  void EditClient(const std::string& id, const std::function<void(store::Client&)>& edit) {
    Put([&](store::Txn& t) -> Status {
      Result<store::Client> c = t.GetClient(id);
      if (!c.ok()) return c.status();
      edit(*c);
      return t.PutClient(*c);
    });
  }

  void EditUser(const std::function<void(store::User&)>& edit) { ServiceFixture::EditUser("sub-alice", edit); }

  size_t GrantCount() {
    size_t n = 0;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      auto all = t.ListGrants("", "");
      if (!all.ok()) return all.status();
      n = all->size();
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return n;
  }

  // A token request as `client` (Basic "s3cret"; the public client sends only its client_id).
  http::Response Post(const std::string& body, const std::string& client = "app") {
    if (client == "public") return Handle(testing::FormPost("/connect/token", body + "&client_id=public"));
    return Handle(testing::FormPost("/connect/token", body, testing::Basic(client, "s3cret")));
  }

  http::Response Login(const std::string& client = "app", const std::string& scope = "api1.read offline_access") {
    std::string body = "grant_type=password&username=alice&password=Wonderland1";
    if (!scope.empty()) {
      std::string encoded = scope;
      for (char& c : encoded) {
        if (c == ' ') c = '+';
      }
      body += "&scope=" + encoded;
    }
    return Post(body, client);
  }

  // The refresh token of a successful response ("" and a test failure otherwise).
  std::string RefreshTokenOf(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    Json body(r.body);
    if (!body.Has("refresh_token")) {
      ADD_FAILURE() << "no refresh_token in " << r.body;
      return "";
    }
    return body.Str("refresh_token");
  }

  http::Response Refresh(const std::string& token, const std::string& client = "app", const std::string& extra = "") {
    return Post("grant_type=refresh_token&refresh_token=" + token + extra, client);
  }

  // The verified claims of a JWT access token in a 200 response.
  std::string Claims(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    Json body(r.body);
    if (!body.Has("access_token")) return "";
    return testing::VerifiedJwsPayload(body.Str("access_token"), *key_);
  }

  // The refresh token `issued` as an older build stored it: a 43-character handle (returned) with generation 0.
  std::string AsOlderBuildsHandle(const std::string& issued) {
    const std::string handle = RandomHandle(32);
    StoreUnderHandleHash(issued, handle, 0);
    return handle;
  }

  // Moves the record of the refresh token `issued` to Sha256(handle), with `generation` and no handle_check: how
  // builds before chain keys stored the token `handle`.
  void StoreUnderHandleHash(const std::string& issued, const std::string& handle, int64_t generation) {
    Put([&](store::Txn& t) -> Status {
      const std::string key = StoredGrantKey(t, issued);
      Result<store::Grant> g = t.GetGrant(key);
      if (!g.ok()) return g.status();
      g->generation = generation;
      g->handle_check.clear();
      TF_RETURN_IF_ERROR(t.RemoveGrant(key));
      return t.PutGrant(Sha256(handle), *g);
    });
  }

  void ExpectInvalidGrant(const http::Response& r) {
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, kInvalidRefreshToken);
    EXPECT_EQ(log_.outcome, "invalid_grant");
  }

  std::shared_ptr<const token::SigningKey> key_;
  size_t map_size_ = 16u << 20;  // the store's map (bytes)
};

TEST_F(RefreshGrantTest, PasswordGrantWithOfflineAccessIssuesARefreshToken) {
  http::Response r = Login();
  const std::string handle = RefreshTokenOf(r);
  Json body(r.body);
  EXPECT_EQ(body.Str("scope"), "api1.read offline_access");
  EXPECT_EQ(handle.size(), kRefreshHandleLength);
  EXPECT_EQ(handle.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);

  std::optional<store::Grant> g = StoredGrant(handle);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->kind, store::GrantKind::kRefreshToken);
  EXPECT_EQ(g->client_id, "app");
  EXPECT_EQ(g->subject, "sub-alice");
  EXPECT_EQ(g->scopes, (std::vector<std::string>{"api1.read", "offline_access"}));
  EXPECT_EQ(g->created, kNow);
  EXPECT_EQ(g->expires, kNow + 2592000);  // Absolute, 30 days
  EXPECT_FALSE(g->absolute_expires.has_value());
  EXPECT_EQ(g->auth_time, kNow);
  EXPECT_EQ(g->idp, "local");
  EXPECT_EQ(g->amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(g->family.size(), 22u);
  EXPECT_FALSE(g->consumed_at.has_value());
  EXPECT_EQ(g->generation, 1);
  EXPECT_TRUE(g->predecessor.empty());
  // The snapshot holds the user claims the access token carried: email (and the harmless grant_id), not name.
  ASSERT_EQ(g->claims.size(), 2u);
  EXPECT_EQ(g->claims[0].type, "email");

  Json claims(Claims(r));
  EXPECT_EQ(claims.Str("grant_id"), g->family);  // the protocol claim, not the user's forged one
  EXPECT_EQ(claims.Str("email"), "alice@example.com");

  // Without offline_access: no refresh token, no grant_id, nothing stored.
  const size_t before = GrantCount();
  http::Response plain = Login("app", "api1.read");
  EXPECT_FALSE(Json(plain.body).Has("refresh_token"));
  EXPECT_FALSE(Json(Claims(plain)).Has("grant_id"));
  EXPECT_EQ(GrantCount(), before);
}

TEST_F(RefreshGrantTest, OmittedScopeIncludesOfflineAccessLikeIdentityServer) {
  http::Response r = Login("app", "");
  EXPECT_EQ(Json(r.body).Str("scope"), "openid api1.read api2 offline_access");
  EXPECT_FALSE(RefreshTokenOf(r).empty());
  // A client without AllowOfflineAccess gets neither, and cannot ask for it.
  http::Response none = Login("nooffline", "");
  EXPECT_EQ(Json(none.body).Str("scope"), "openid api1.read api2");
  EXPECT_FALSE(Json(none.body).Has("refresh_token"));
  http::Response asked = Login("nooffline");
  EXPECT_EQ(asked.status, 400);
  EXPECT_EQ(Json(asked.body).Str("error"), "invalid_scope");
  EXPECT_EQ(Json(asked.body).Str("error_description"), "offline_access is not allowed for this client");
}

TEST_F(RefreshGrantTest, RotationReplacesTheTokenAndKeepsTheLogin) {
  const std::string first = RefreshTokenOf(Login());
  const std::string family = StoredGrant(first)->family;
  clock_.Advance(60);
  http::Response r = Refresh(first);
  const std::string second = RefreshTokenOf(r);
  EXPECT_NE(second, first);
  EXPECT_EQ(second.size(), kRefreshHandleLength);
  EXPECT_EQ(log_.grant_type, "refresh_token");
  EXPECT_EQ(log_.outcome, "ok");
  Json body(r.body);
  EXPECT_EQ(body.Str("scope"), "api1.read offline_access");
  EXPECT_EQ(body.Str("token_type"), "Bearer");
  EXPECT_EQ(body.Num("expires_in"), 3600);
  Json claims(Claims(r));
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Num("auth_time"), kNow);  // the original login
  EXPECT_EQ(claims.Num("iat"), kNow + 60);   // a fresh token
  EXPECT_EQ(claims.Num("exp"), kNow + 60 + 3600);
  EXPECT_EQ(claims.Str("idp"), "local");
  EXPECT_EQ(claims.Str("grant_id"), family);
  EXPECT_EQ(claims.Str("jti").size(), 22u);

  // The rotated handle leaves no record: its successor keeps its hash, for the grace retry.
  EXPECT_FALSE(StoredGrant(first).has_value());
  EXPECT_EQ(GrantCount(), 1u);
  std::optional<store::Grant> next = StoredGrant(second);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->family, family);
  EXPECT_EQ(next->generation, 2);
  EXPECT_EQ(next->predecessor, Sha256(first));
  // In place: the chain's one record, under the chain's key, now holds the new handle's hash.
  EXPECT_EQ(KeyOf(second), KeyOf(first));
  EXPECT_TRUE(store::IsChainKey(KeyOf(second), family));
  EXPECT_EQ(next->handle_check, Sha256(second).substr(0, 16));
  EXPECT_EQ(next->created, kNow + 60);
  EXPECT_EQ(next->expires, kNow + 2592000);  // Absolute: rotation keeps the login's expiry
  EXPECT_EQ(next->auth_time, kNow);
  EXPECT_FALSE(next->consumed_at.has_value());

  // The new one works in turn.
  EXPECT_FALSE(RefreshTokenOf(Refresh(second)).empty());
}

TEST_F(RefreshGrantTest, ReuseRevokesTheWholeFamily) {
  config_.refresh_token_reuse_grace_seconds = 0;  // every reuse revokes (the default grace allows one retry)
  NewService();
  const std::string first = RefreshTokenOf(Login("ref"));  // reference access tokens die with the family too
  const std::string family = StoredGrant(first)->family;
  http::Response rotated = Refresh(first, "ref");
  const std::string second = RefreshTokenOf(rotated);
  const std::string access = Json(rotated.body).Str("access_token");
  ASSERT_TRUE(StoredGrant(access).has_value());
  const std::string unrelated = RefreshTokenOf(Login());  // another login's family is untouched

  clock_.Advance(5);
  ExpectInvalidGrant(Refresh(first, "ref"));  // reuse
  EXPECT_FALSE(StoredGrant(first).has_value());
  EXPECT_FALSE(StoredGrant(second).has_value());
  EXPECT_FALSE(StoredGrant(access).has_value());
  std::optional<store::FamilyRevocation> rev = FamilyRevocation(family);
  ASSERT_TRUE(rev.has_value());
  EXPECT_EQ(rev->revoked_at, kNow + 5);
  // the longest AccessTokenLifetime of any client, plus the skew introspection allows past exp
  EXPECT_EQ(rev->keep_until, kNow + 5 + 7200 + config_.clock_skew_seconds);
  ExpectInvalidGrant(Refresh(second, "ref"));   // the successor died with the family
  EXPECT_FALSE(RefreshTokenOf(Refresh(unrelated)).empty());
}

TEST_F(RefreshGrantTest, GraceAllowsOneRetry) {
  config_.refresh_token_reuse_grace_seconds = 10;
  NewService();
  const std::string first = RefreshTokenOf(Login());
  const std::string family = StoredGrant(first)->family;
  const std::string lost = RefreshTokenOf(Refresh(first));  // the client never saw this answer
  clock_.Advance(10);
  const std::string retried = RefreshTokenOf(Refresh(first));
  EXPECT_NE(retried, lost);
  EXPECT_FALSE(StoredGrant(lost).has_value());  // the unused successor is replaced
  EXPECT_FALSE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(lost));
  EXPECT_FALSE(FamilyRevocation(family).has_value());  // an unknown token revokes nothing
  // A second retry is reuse.
  ExpectInvalidGrant(Refresh(first));
  EXPECT_TRUE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(retried));
}

// A 43-character handle issued by an older build (its record has generation 0) keeps working through the tombstone
// path: rotating it keeps a tombstone, the grace retry issues the same grant again, and its reuse revokes the family,
// including the successors it got in the named format.
TEST_F(RefreshGrantTest, AHandleOfOlderBuildsIsRotatedThroughItsTombstone) {
  config_.refresh_token_reuse_grace_seconds = 10;
  NewService();
  const std::string first = AsOlderBuildsHandle(RefreshTokenOf(Login()));
  const std::string lost = RefreshTokenOf(Refresh(first));
  EXPECT_EQ(lost.size(), kRefreshHandleLength);  // its successor has a handle of the named format
  EXPECT_EQ(StoredGrant(lost)->generation, 1);
  EXPECT_TRUE(StoredGrant(lost)->predecessor.empty());  // the tombstone serves the retry
  // The consumed token keeps what reuse detection and the retry need, and nothing else.
  std::optional<store::Grant> consumed = StoredGrant(first);
  ASSERT_TRUE(consumed.has_value());
  EXPECT_EQ(consumed->consumed_at, std::optional<int64_t>(kNow));
  EXPECT_EQ(consumed->successor, KeyOf(lost));
  EXPECT_EQ(consumed->subject, "sub-alice");
  EXPECT_EQ(consumed->client_id, "app");
  EXPECT_EQ(consumed->family.size(), 22u);
  EXPECT_TRUE(consumed->scopes.empty());
  EXPECT_TRUE(consumed->claims.empty());
  EXPECT_TRUE(consumed->amr.empty());
  EXPECT_FALSE(consumed->auth_time.has_value());
  // The retry issues exactly what the lost answer carried, restored from the unused successor.
  clock_.Advance(5);
  const http::Response retried = Refresh(first);
  Json body(retried.body);
  EXPECT_EQ(body.Str("scope"), "api1.read offline_access");
  Json claims(Claims(retried));
  EXPECT_EQ(claims.Num("auth_time"), static_cast<double>(kNow));
  EXPECT_EQ(claims.Str("email"), "alice@example.com");
  const std::string again = RefreshTokenOf(retried);
  std::optional<store::Grant> next = StoredGrant(again);
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(StoredGrant(lost).has_value());
  EXPECT_EQ(next->scopes, (std::vector<std::string>{"api1.read", "offline_access"}));
  EXPECT_EQ(next->claims.size(), 2u);
  EXPECT_EQ(next->amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(next->auth_time, std::optional<int64_t>(kNow));
  EXPECT_EQ(next->expires, kNow + 2592000);  // Absolute: the family's expiry, as the lost successor had
  EXPECT_EQ(next->family, consumed->family);
  EXPECT_EQ(next->generation, 1);
  // A second use of the old handle is reuse: the family dies, with the successor of the named format.
  ExpectInvalidGrant(Refresh(first));
  EXPECT_TRUE(FamilyRevocation(consumed->family).has_value());
  ExpectInvalidGrant(Refresh(again));
}

// A family rotated many times takes the space of one rotated once: one record, whatever the number of rotations
// (test_refresh.py measures the map use through tokenctl stats).
TEST_F(RefreshGrantTest, RotationsLeaveNoRecordBehind) {
  std::string token = RefreshTokenOf(Login());
  const std::string family = StoredGrant(token)->family;
  token = RefreshTokenOf(Refresh(token));
  ASSERT_EQ(GrantCount(), 1u);
  for (int i = 0; i < 200; ++i) {
    clock_.Advance(1);
    token = RefreshTokenOf(Refresh(token));
    ASSERT_FALSE(token.empty());
  }
  EXPECT_EQ(GrantCount(), 1u);
  EXPECT_EQ(StoredGrant(token)->generation, 202);
  EXPECT_FALSE(FamilyRevocation(family).has_value());
}

// A handle of an older generation is reuse however many rotations ago it was: the family dies.
TEST_F(RefreshGrantTest, AHandleOfAnOlderGenerationIsReuse) {
  config_.refresh_token_reuse_grace_seconds = 0;
  NewService();
  const std::string t1 = RefreshTokenOf(Login());
  const std::string family = StoredGrant(t1)->family;
  const std::string t2 = RefreshTokenOf(Refresh(t1));
  const std::string t3 = RefreshTokenOf(Refresh(t2));
  const std::string t4 = RefreshTokenOf(Refresh(t3));
  EXPECT_EQ(GrantCount(), 1u);
  clock_.Advance(100);
  ExpectInvalidGrant(Refresh(t1));
  EXPECT_TRUE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(t4));
  // Another client presenting an old handle of a live family revokes nothing (as an unknown token).
  const std::string u1 = RefreshTokenOf(Login());
  const std::string u2 = RefreshTokenOf(Refresh(u1));
  ExpectInvalidGrant(Refresh(u1, "other"));
  EXPECT_FALSE(FamilyRevocation(StoredGrant(u2)->family).has_value());
  EXPECT_FALSE(RefreshTokenOf(Refresh(u2)).empty());
}

// RFC 7009 revocation of a rotated handle (which has no record any more) still revokes its family.
TEST_F(RefreshGrantTest, RevokingARotatedHandleRevokesItsFamily) {
  const std::string t1 = RefreshTokenOf(Login());
  const std::string family = StoredGrant(t1)->family;
  const std::string t2 = RefreshTokenOf(Refresh(t1));
  const http::Response other = Handle(testing::FormPost("/connect/revocation", "token=" + t1,
                                                        testing::Basic("other", "s3cret")));
  EXPECT_EQ(other.status, 200);
  EXPECT_FALSE(FamilyRevocation(family).has_value());  // another client's token is left alone
  const http::Response r = Handle(testing::FormPost("/connect/revocation", "token=" + t1,
                                                    testing::Basic("app", "s3cret")));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(t2));
}

// The retry of an older build's handle needs its successor unused: the successor's chain record, rotated on, is a
// later token under the same key, and presenting the old handle then is reuse.
TEST_F(RefreshGrantTest, AnOlderBuildsHandleIsNoRetryOnceItsSuccessorWasRotated) {
  config_.refresh_token_reuse_grace_seconds = 10;
  NewService();
  const std::string first = AsOlderBuildsHandle(RefreshTokenOf(Login()));
  const std::string family = StoredGrant(first)->family;
  const std::string second = RefreshTokenOf(Refresh(first));
  const std::string third = RefreshTokenOf(Refresh(second));
  ASSERT_FALSE(third.empty());
  ASSERT_EQ(KeyOf(third), KeyOf(second));
  clock_.Advance(1);
  ExpectInvalidGrant(Refresh(first));
  EXPECT_TRUE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(third));
}

// A handle of the build before chain keys (version 1, stored under its hash) keeps working: its rotation deletes its
// record and starts a chain, the grace retry finds the successor through the family, and a second use is reuse.
TEST_F(RefreshGrantTest, AVersionOneHandleIsRotatedIntoAChain) {
  config_.refresh_token_reuse_grace_seconds = 10;
  NewService();
  const std::string issued = RefreshTokenOf(Login());
  const std::string family = StoredGrant(issued)->family;
  const std::string first = VersionOneHandle(RefreshHandleKey(testing::StoredSessionKey(*store_)), family, 1);
  StoreUnderHandleHash(issued, first, 1);
  ASSERT_EQ(KeyOf(first), Sha256(first));
  ASSERT_TRUE(StoredGrant(first).has_value());

  clock_.Advance(60);
  const std::string lost = RefreshTokenOf(Refresh(first));
  ASSERT_FALSE(lost.empty());
  EXPECT_FALSE(StoredGrant(first).has_value());  // no tombstone
  EXPECT_TRUE(store::IsChainKey(KeyOf(lost), family));
  EXPECT_EQ(StoredGrant(lost)->generation, 2);
  EXPECT_EQ(StoredGrant(lost)->predecessor, Sha256(first));
  EXPECT_EQ(GrantCount(), 1u);
  // The retry within the grace period replaces the unused successor; a second retry is reuse.
  clock_.Advance(5);
  const std::string retried = RefreshTokenOf(Refresh(first));
  ASSERT_FALSE(retried.empty());
  EXPECT_FALSE(StoredGrant(lost).has_value());
  EXPECT_EQ(StoredGrant(retried)->generation, 2);
  EXPECT_EQ(GrantCount(), 1u);
  EXPECT_FALSE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(first));
  EXPECT_TRUE(FamilyRevocation(family).has_value());
  ExpectInvalidGrant(Refresh(retried));
}

// Only a handle this server made counts as reuse: one forged for a known family (its id is in every access token),
// or made under another key, is invalid_grant and the family lives on.
TEST_F(RefreshGrantTest, AForgedOldGenerationHandleRevokesNothing) {
  config_.refresh_token_reuse_grace_seconds = 0;
  NewService();
  const std::string t1 = RefreshTokenOf(Login());
  const std::string family = StoredGrant(t1)->family;
  const std::string t2 = RefreshTokenOf(Refresh(t1));
  std::optional<std::string> other_key =
      MakeRefreshHandle(RefreshHandleKey("another session key"), family, 1, std::string(kRefreshChainBytes, 'c'));
  ASSERT_TRUE(other_key.has_value());
  ExpectInvalidGrant(Refresh(*other_key));
  std::optional<std::string> bytes = Base64UrlDecode(t1);
  ASSERT_TRUE(bytes.has_value());
  (*bytes)[30] ^= 1;  // a bit of the secret: the MAC no longer matches
  ExpectInvalidGrant(Refresh(Base64UrlEncode(*bytes)));
  EXPECT_FALSE(FamilyRevocation(family).has_value());
  EXPECT_FALSE(RefreshTokenOf(Refresh(t2)).empty());
}

TEST(RefreshHandle, NamesItsFamilyChainAndGenerationUnderItsKey) {
  const std::string key = RefreshHandleKey(std::string(32, 'k'));
  ASSERT_EQ(key.size(), 32u);
  const std::string family = RandomHandle(16);
  const std::string chain = RandomBytes(kRefreshChainBytes);
  std::optional<std::string> h = MakeRefreshHandle(key, family, 7, chain);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->size(), kRefreshHandleLength);
  EXPECT_EQ(h->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
  EXPECT_LE(h->size(), kMaxRefreshTokenLength);
  std::optional<RefreshHandle> name = ParseRefreshHandle(key, *h);
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->family, family);
  EXPECT_EQ(name->generation, 7);
  EXPECT_EQ(name->chain, chain);
  EXPECT_NE(*MakeRefreshHandle(key, family, 7, chain), *h);  // a new secret every time
  const int64_t most = (int64_t{1} << 32) - 1;
  EXPECT_EQ(ParseRefreshHandle(key, *MakeRefreshHandle(key, family, most, chain))->generation, most);

  // Every bit counts; another key, length or version is not a handle.
  const std::string bytes = *Base64UrlDecode(*h);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string flipped = bytes;
    flipped[i] ^= 0x40;
    EXPECT_FALSE(ParseRefreshHandle(key, Base64UrlEncode(flipped)).has_value()) << i;
  }
  EXPECT_FALSE(ParseRefreshHandle(RefreshHandleKey(std::string(32, 'j')), *h).has_value());
  EXPECT_FALSE(ParseRefreshHandle("", *h).has_value());
  EXPECT_FALSE(ParseRefreshHandle(key, h->substr(1)).has_value());
  EXPECT_FALSE(ParseRefreshHandle(key, *h + "A").has_value());
  EXPECT_FALSE(ParseRefreshHandle(key, std::string(kRefreshHandleLength, '*')).has_value());
  EXPECT_FALSE(ParseRefreshHandle(key, RandomHandle(32)).has_value());

  // Only a family of RandomHandle(16)'s shape, a key, a chain of 8 bytes and a generation in 1 .. 2^32 - 1.
  EXPECT_FALSE(MakeRefreshHandle(key, "family", 1, chain).has_value());
  EXPECT_FALSE(MakeRefreshHandle(key, RandomHandle(17), 1, chain).has_value());
  EXPECT_FALSE(MakeRefreshHandle("", family, 1, chain).has_value());
  EXPECT_FALSE(MakeRefreshHandle(key, family, 0, chain).has_value());
  EXPECT_FALSE(MakeRefreshHandle(key, family, most + 1, chain).has_value());
  EXPECT_FALSE(MakeRefreshHandle(key, family, 1, "").has_value());
  EXPECT_FALSE(MakeRefreshHandle(key, family, 1, chain + "x").has_value());
  EXPECT_EQ(RefreshHandleKey(""), "");

  // The chain's key: a chain key of the family (store.h), the same for every handle of the chain.
  const std::string chain_key = RefreshChainKey(family, chain);
  EXPECT_EQ(chain_key.size(), 32u);
  EXPECT_TRUE(store::IsChainKey(chain_key, family));
  EXPECT_FALSE(store::IsChainKey(chain_key, RandomHandle(16)));
  EXPECT_NE(RefreshChainKey(family, RandomBytes(kRefreshChainBytes)), chain_key);
  EXPECT_EQ(RefreshChainKey(family, chain).substr(0, 16), RefreshChainKey(family, "other ch").substr(0, 16));
}

TEST(RefreshHandle, AVersionOneHandleStillParsesWithoutAChain) {
  const std::string key = RefreshHandleKey(std::string(32, 'k'));
  const std::string family = RandomHandle(16);
  const std::string h = VersionOneHandle(key, family, 9);
  EXPECT_EQ(h.size(), kRefreshHandleLength);
  std::optional<RefreshHandle> name = ParseRefreshHandle(key, h);
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->family, family);
  EXPECT_EQ(name->generation, 9);
  EXPECT_EQ(name->chain, "");
  EXPECT_FALSE(ParseRefreshHandle(RefreshHandleKey(std::string(32, 'j')), h).has_value());
}

// Without a session key (a database no writable open has upgraded) a login still gets a refresh token: the handle of
// older builds, generation 0, redeemed through the tombstone path.
TEST(RefreshHandle, WithoutASessionKeyTheHandleOfOlderBuilds) {
  Snapshot snapshot;
  store::Client client;
  client.client_id = "app";
  store::Grant g;
  g.client_id = "app";
  NewGrant t = NewRefreshToken(snapshot, client, g, 1000);
  EXPECT_EQ(t.handle.size(), 43u);
  EXPECT_EQ(t.grant.generation, 0);
  EXPECT_EQ(t.key, Sha256(t.handle));
  EXPECT_EQ(t.grant.handle_check, "");
  snapshot.session_key = std::string(32, 'k');
  t = NewRefreshToken(snapshot, client, g, 1000);
  EXPECT_EQ(t.handle.size(), kRefreshHandleLength);
  EXPECT_EQ(t.grant.generation, 1);
  std::optional<RefreshHandle> name = ParseRefreshHandle(RefreshHandleKey(snapshot.session_key), t.handle);
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->family, t.grant.family);
  EXPECT_EQ(t.key, RefreshChainKey(t.grant.family, name->chain));
  EXPECT_EQ(t.grant.handle_check, Sha256(t.handle).substr(0, 16));
}

// The successor's handle made before the write transaction is the one a rotation stores and hands out when the token
// the transaction finds is still of the generation read; when it is not (another rotation came between), the
// rotation makes its own handle of the right generation instead.
TEST(RefreshHandle, APreparedSuccessorIsUsedOnlyForTheGenerationItWasMadeFor) {
  const std::string key = RefreshHandleKey(std::string(32, 'k'));
  store::Client client;
  client.client_id = "app";
  store::Grant read;
  read.kind = store::GrantKind::kRefreshToken;
  read.client_id = "app";
  read.family = RandomHandle(16);
  read.generation = 4;
  const std::string chain = RandomBytes(kRefreshChainBytes);
  const std::string presented = *MakeRefreshHandle(key, read.family, 4, chain);
  const RefreshTokenLocation where = LocateRefreshToken(presented, key);
  ASSERT_TRUE(where.name.has_value());
  EXPECT_EQ(where.key, RefreshChainKey(read.family, chain));
  EXPECT_EQ(where.hash, Sha256(presented));

  std::optional<PreparedRefreshHandle> prepared = PrepareSuccessorHandle(key, where, read);
  ASSERT_TRUE(prepared.has_value());
  EXPECT_EQ(ParseRefreshHandle(key, prepared->handle)->generation, 5);
  NewGrant next = SuccessorRefreshToken(key, client, read, 2000, where.chain(), &*prepared);
  EXPECT_EQ(next.handle, prepared->handle);
  EXPECT_EQ(next.key, where.key);
  EXPECT_EQ(next.grant.generation, 5);
  EXPECT_EQ(next.grant.handle_check, Sha256(next.handle).substr(0, store::kHandleCheckSize));

  store::Grant moved_on = read;
  moved_on.generation = 5;
  next = SuccessorRefreshToken(key, client, moved_on, 2000, where.chain(), &*prepared);
  EXPECT_NE(next.handle, prepared->handle);
  EXPECT_EQ(ParseRefreshHandle(key, next.handle)->generation, 6);
  EXPECT_EQ(next.grant.generation, 6);
  EXPECT_EQ(next.key, where.key);
  EXPECT_EQ(next.grant.handle_check, Sha256(next.handle).substr(0, store::kHandleCheckSize));

  // A handle that names no chain (version 1, older builds) gets none prepared: its rotation starts a chain.
  EXPECT_FALSE(PrepareSuccessorHandle(key, LocateRefreshToken(VersionOneHandle(key, read.family, 4), key), read));
  EXPECT_FALSE(PrepareSuccessorHandle(key, LocateRefreshToken(RandomHandle(32), key), read));
}

// A store whose map is full: writes answer 503 temporarily_unavailable with Retry-After, nothing is consumed, and a
// client_credentials JWT (no write) is still issued.
class FullStoreRefreshTest : public RefreshGrantTest {
 protected:
  FullStoreRefreshTest() { map_size_ = 1u << 20; }

  // Fills the map with committed grants until a write is refused, with smaller ones after larger ones, so that not
  // even a write that replaces a record in place (a rotation, which needs a few pages) finds room.
  void Fill() {
    store::Grant filler;
    filler.kind = store::GrantKind::kReferenceToken;
    filler.client_id = "machine";
    filler.expires = kNow + 3600;
    int n = 0;
    for (size_t size : {3000, 300, 30}) {
      filler.access_token_json = std::string(size, 'x');
      for (int i = 0;; ++i) {
        ASSERT_LT(i, 20000) << "a 1 MiB map never filled up";
        const Status st = store_->Update([&](store::Txn& t) {
          return t.PutGrant(Sha256("filler-" + std::to_string(n++)), filler);
        });
        if (st.code() == Status::Code::kResourceExhausted) break;
        ASSERT_TRUE(st.ok()) << st.ToString();
      }
    }
  }
};

// Pages that earlier commits freed come back once no reader holds them, so a small write may still fit now and then
// in a full map (a rotation, which replaces its chain's record in place, often does): each kind of write is repeated
// until the map refuses one, and the refusal is what is checked.
TEST_F(FullStoreRefreshTest, WritesAnswer503AndReadsKeepWorking) {
  EditClient("machine", [](store::Client& c) { c.access_token_type = store::AccessTokenType::kJwt; });
  NewService();
  std::string token = RefreshTokenOf(Login("ref"));
  ASSERT_NO_FATAL_FAILURE(Fill());
  http::Response r;
  for (int i = 0; i < 100; ++i) {
    r = Refresh(token, "ref");
    if (r.status != 200) break;
    token = RefreshTokenOf(r);
  }
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Json(r.body).Str("error"), "temporarily_unavailable");
  EXPECT_EQ(testing::HeaderOf(r, "Retry-After"), "60");
  EXPECT_EQ(testing::HeaderOf(r, "Cache-Control"), "no-store");
  std::optional<store::Grant> g = StoredGrant(token);
  ASSERT_TRUE(g.has_value());
  EXPECT_FALSE(g->consumed_at.has_value());  // nothing consumed: the refused token is still the chain's
  http::Response jwt = Post("grant_type=client_credentials", "machine");
  EXPECT_EQ(jwt.status, 200) << jwt.body;
  // A login that issues a refresh token (StoreNewGrantsAndRespond, shared by the password, token exchange and
  // extension grants) is refused the same way, and hands out no token.
  http::Response login;
  for (int i = 0; i < 100 && login.status != 503; ++i) login = Login();
  EXPECT_EQ(login.status, 503) << login.body;
  EXPECT_EQ(Json(login.body).Str("error"), "temporarily_unavailable");
  EXPECT_EQ(testing::HeaderOf(login, "Retry-After"), "60");
  EXPECT_FALSE(Json(login.body).Has("access_token"));
}

TEST_F(RefreshGrantTest, GraceEndsAndNeedsAnUnusedSuccessor) {
  config_.refresh_token_reuse_grace_seconds = 10;
  NewService();
  // Too late: reuse.
  const std::string a = RefreshTokenOf(Login());
  const std::string a2 = RefreshTokenOf(Refresh(a));
  clock_.Advance(11);
  ExpectInvalidGrant(Refresh(a));
  ExpectInvalidGrant(Refresh(a2));
  // In time, but the successor was used: the client did get the answer, so this is reuse.
  const std::string b = RefreshTokenOf(Login());
  const std::string b2 = RefreshTokenOf(Refresh(b));
  const std::string b3 = RefreshTokenOf(Refresh(b2));
  ExpectInvalidGrant(Refresh(b));
  ExpectInvalidGrant(Refresh(b3));
}

TEST_F(RefreshGrantTest, WithoutGraceEveryReuseRevokes) {
  config_.refresh_token_reuse_grace_seconds = 0;
  NewService();
  const std::string first = RefreshTokenOf(Login());
  const std::string second = RefreshTokenOf(Refresh(first));
  ExpectInvalidGrant(Refresh(first));  // same second, grace 0
  ExpectInvalidGrant(Refresh(second));
}

TEST_F(RefreshGrantTest, ReUseKeepsTheHandleAndSlides) {
  const std::string handle = RefreshTokenOf(Login("reuse"));
  EXPECT_EQ(StoredGrant(handle)->expires, kNow + 100);
  EXPECT_EQ(StoredGrant(handle)->absolute_expires, kNow + 250);
  clock_.Advance(90);
  EXPECT_EQ(RefreshTokenOf(Refresh(handle, "reuse")), handle);
  EXPECT_EQ(StoredGrant(handle)->expires, kNow + 190);
  EXPECT_FALSE(StoredGrant(handle)->consumed_at.has_value());
  clock_.Advance(90);
  EXPECT_EQ(RefreshTokenOf(Refresh(handle, "reuse")), handle);
  EXPECT_EQ(StoredGrant(handle)->expires, kNow + 250);  // capped
  clock_.Advance(70);
  ExpectInvalidGrant(Refresh(handle, "reuse"));
}

TEST_F(RefreshGrantTest, ScopeNarrowing) {
  const std::string first = RefreshTokenOf(Login("app", "openid api1.read api2 offline_access"));
  http::Response r = Refresh(first, "app", "&scope=api2");
  const std::string second = RefreshTokenOf(r);
  EXPECT_EQ(Json(r.body).Str("scope"), "api2");
  Json claims(Claims(r));
  EXPECT_EQ(claims.Str("scope"), "api2");
  EXPECT_FALSE(claims.Has("email"));  // api1.read's user claim went with it
  // The refresh token keeps the original scope.
  EXPECT_EQ(StoredGrant(second)->scopes, (std::vector<std::string>{"openid", "api1.read", "api2", "offline_access"}));
  http::Response full = Refresh(second);
  EXPECT_EQ(Json(full.body).Str("scope"), "openid api1.read api2 offline_access");
  EXPECT_EQ(Json(Claims(full)).Str("email"), "alice@example.com");
}

TEST_F(RefreshGrantTest, EscalationIsInvalidScopeAndConsumesNothing) {
  const std::string first = RefreshTokenOf(Login());  // api1.read offline_access
  for (const char* scope : {"api2", "api1.read+api2", "openid", "nope", "bad%22char"}) {
    http::Response r = Refresh(first, "app", std::string("&scope=") + scope);
    EXPECT_EQ(r.status, 400) << scope;
    EXPECT_EQ(Json(r.body).Str("error"), "invalid_scope") << scope;
    EXPECT_FALSE(StoredGrant(first)->consumed_at.has_value()) << scope;
  }
  http::Response r = Refresh(first, "app", "&scope=api2");
  EXPECT_EQ(Json(r.body).Str("error_description"), "the requested scope exceeds the scope of the refresh token");
  EXPECT_FALSE(RefreshTokenOf(Refresh(first)).empty());
}

TEST_F(RefreshGrantTest, ScopesTheClientLostAreLeftOutOfTheAccessToken) {
  const std::string first = RefreshTokenOf(Login("app", "api1.read api2 offline_access"));
  EditClient("app", [](store::Client& c) { c.allowed_scopes = {"openid", "api1.read"}; });
  Put([](store::Txn& t) {
    store::ApiScope off = Scope("api1.read", {"email"});
    off.enabled = false;
    return t.PutApiScope(off);
  });
  http::Response r = Refresh(first);
  EXPECT_EQ(Json(r.body).Str("scope"), "offline_access");
  EXPECT_EQ(Json(Claims(r)).Str("scope"), "offline_access");
  // The refresh token itself keeps what the login granted.
  EXPECT_EQ(StoredGrant(RefreshTokenOf(r))->scopes,
            (std::vector<std::string>{"api1.read", "api2", "offline_access"}));
}

TEST_F(RefreshGrantTest, SlidingExpiry) {
  const std::string a = RefreshTokenOf(Login("sliding"));
  std::optional<store::Grant> g = StoredGrant(a);
  EXPECT_EQ(g->expires, kNow + 100);
  EXPECT_EQ(g->absolute_expires, kNow + 250);
  clock_.Advance(90);
  const std::string b = RefreshTokenOf(Refresh(a, "sliding"));
  EXPECT_EQ(StoredGrant(b)->expires, kNow + 190);
  EXPECT_EQ(StoredGrant(b)->absolute_expires, kNow + 250);
  clock_.Advance(90);
  const std::string c = RefreshTokenOf(Refresh(b, "sliding"));
  EXPECT_EQ(StoredGrant(c)->expires, kNow + 250);  // capped by the login's absolute lifetime
  clock_.Advance(70);                               // kNow + 250
  ExpectInvalidGrant(Refresh(c, "sliding"));

  // Unused for the sliding lifetime: dead.
  const std::string d = RefreshTokenOf(Login("sliding"));
  clock_.Advance(100);
  ExpectInvalidGrant(Refresh(d, "sliding"));

  // AbsoluteRefreshTokenLifetime 0: no cap.
  const std::string e = RefreshTokenOf(Login("uncapped"));
  EXPECT_FALSE(StoredGrant(e)->absolute_expires.has_value());
  std::string current = e;
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(99);
    current = RefreshTokenOf(Refresh(current, "uncapped"));
  }
  EXPECT_EQ(StoredGrant(current)->expires, clock_.NowSeconds() + 100);
}

TEST_F(RefreshGrantTest, AbsoluteExpiry) {
  const std::string a = RefreshTokenOf(Login("absolute"));
  EXPECT_EQ(StoredGrant(a)->expires, kNow + 100);
  clock_.Advance(50);
  const std::string b = RefreshTokenOf(Refresh(a, "absolute"));
  EXPECT_EQ(StoredGrant(b)->expires, kNow + 100);  // rotation does not extend
  clock_.Advance(49);
  const std::string c = RefreshTokenOf(Refresh(b, "absolute"));
  clock_.Advance(1);  // kNow + 100: dead at that instant
  ExpectInvalidGrant(Refresh(c, "absolute"));
}

TEST_F(RefreshGrantTest, AnotherClientsTokenIsInvalidAndNotConsumed) {
  const std::string a = RefreshTokenOf(Login());
  ExpectInvalidGrant(Refresh(a, "other"));
  ExpectInvalidGrant(Refresh(a, "public"));
  EXPECT_FALSE(StoredGrant(a)->consumed_at.has_value());
  EXPECT_FALSE(RefreshTokenOf(Refresh(a)).empty());
}

TEST_F(RefreshGrantTest, PublicClientRefreshesWithItsClientId) {
  const std::string a = RefreshTokenOf(Login("public"));
  EXPECT_FALSE(RefreshTokenOf(Refresh(a, "public")).empty());
}

TEST_F(RefreshGrantTest, ClientThatLostOfflineAccess) {
  const std::string a = RefreshTokenOf(Login());
  EditClient("app", [](store::Client& c) { c.allow_offline_access = false; });
  ExpectInvalidGrant(Refresh(a));
  EXPECT_FALSE(StoredGrant(a)->consumed_at.has_value());
}

TEST_F(RefreshGrantTest, InactiveOrRemovedUser) {
  const std::string a = RefreshTokenOf(Login());
  EditUser([](store::User& u) { u.is_active = false; });
  ExpectInvalidGrant(Refresh(a));
  EXPECT_FALSE(StoredGrant(a)->consumed_at.has_value());
  EditUser([](store::User& u) { u.is_active = true; });
  const std::string b = RefreshTokenOf(Refresh(a));
  Put([](store::Txn& t) { return t.RemoveUser("sub-alice"); });
  ExpectInvalidGrant(Refresh(b));
}

// The same with a client whose tokens carry the user's claims as they are now (the user is read before signing too).
TEST_F(RefreshGrantTest, InactiveOrRemovedUserWithClaimsReadAgain) {
  const std::string a = RefreshTokenOf(Login("fresh"));
  EditUser([](store::User& u) { u.is_active = false; });
  ExpectInvalidGrant(Refresh(a, "fresh"));
  EXPECT_FALSE(StoredGrant(a)->consumed_at.has_value());
  EditUser([](store::User& u) { u.is_active = true; });
  const std::string b = RefreshTokenOf(Refresh(a, "fresh"));
  Put([](store::Txn& t) { return t.RemoveUser("sub-alice"); });
  ExpectInvalidGrant(Refresh(b, "fresh"));
}

TEST_F(RefreshGrantTest, UpdateAccessTokenClaimsOnRefresh) {
  const std::string snapshot = RefreshTokenOf(Login("app"));
  const std::string reread = RefreshTokenOf(Login("fresh"));
  EditUser([](store::User& u) { u.claims = {{"email", "new@example.com", ""}}; });
  EXPECT_EQ(Json(Claims(Refresh(snapshot))).Str("email"), "alice@example.com");      // the login's snapshot
  EXPECT_EQ(Json(Claims(Refresh(reread, "fresh"))).Str("email"), "new@example.com");  // read again
}

TEST_F(RefreshGrantTest, RequestErrors) {
  http::Response missing = Post("grant_type=refresh_token");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(Json(missing.body).Str("error"), "invalid_request");
  EXPECT_EQ(Json(missing.body).Str("error_description"), "refresh_token is missing");
  ExpectInvalidGrant(Refresh("unknown-token"));
  ExpectInvalidGrant(Refresh(std::string(101, 'a')));
  // An access token is not a refresh token.
  ExpectInvalidGrant(Refresh(Json(Login("ref").body).Str("access_token"), "ref"));
  // Wrong client secret: the dispatcher's invalid_client.
  const std::string body = "grant_type=refresh_token&refresh_token=" + RefreshTokenOf(Login());
  EXPECT_EQ(Handle(testing::FormPost("/connect/token", body, testing::Basic("app", "wrong"))).status, 401);
}

TEST_F(RefreshGrantTest, ReferenceTokensForEveryGrant) {
  // client_credentials
  http::Response cc = Post("grant_type=client_credentials&scope=api2", "machine");
  ASSERT_EQ(cc.status, 200) << cc.body;
  const std::string cc_token = Json(cc.body).Str("access_token");
  EXPECT_EQ(cc_token.size(), 43u);
  EXPECT_FALSE(token::SplitJws(cc_token).has_value());
  std::optional<store::Grant> g = StoredGrant(cc_token);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->kind, store::GrantKind::kReferenceToken);
  EXPECT_EQ(g->client_id, "machine");
  EXPECT_EQ(g->subject, "");
  EXPECT_EQ(g->scopes, std::vector<std::string>{"api2"});
  EXPECT_EQ(g->created, kNow);
  EXPECT_EQ(g->expires, kNow + 3600);
  EXPECT_FALSE(g->family.empty());
  Json cc_claims(g->access_token_json);
  EXPECT_EQ(cc_claims.Str("sub"), "machine");
  EXPECT_EQ(cc_claims.Str("client_id"), "machine");
  EXPECT_EQ(cc_claims.Str("scope"), "api2");
  EXPECT_EQ(cc_claims.Num("exp"), kNow + 3600);
  EXPECT_FALSE(cc_claims.Has("grant_id"));

  // password, with a refresh token: the reference token belongs to the refresh token's family
  http::Response pw = Login("ref");
  const std::string pw_token = Json(pw.body).Str("access_token");
  const std::string refresh = RefreshTokenOf(pw);
  std::optional<store::Grant> pg = StoredGrant(pw_token);
  ASSERT_TRUE(pg.has_value());
  EXPECT_EQ(pg->kind, store::GrantKind::kReferenceToken);
  EXPECT_EQ(pg->subject, "sub-alice");
  EXPECT_EQ(pg->family, StoredGrant(refresh)->family);
  EXPECT_EQ(pg->auth_time, kNow);
  Json pw_claims(pg->access_token_json);
  EXPECT_EQ(pw_claims.Str("sub"), "sub-alice");
  EXPECT_EQ(pw_claims.Str("grant_id"), pg->family);
  EXPECT_EQ(pw_claims.Str("email"), "alice@example.com");

  // refresh
  clock_.Advance(30);
  http::Response rf = Refresh(refresh, "ref", "&scope=api1.read");
  const std::string rf_token = Json(rf.body).Str("access_token");
  EXPECT_FALSE(token::SplitJws(rf_token).has_value());
  std::optional<store::Grant> rg = StoredGrant(rf_token);
  ASSERT_TRUE(rg.has_value());
  EXPECT_EQ(rg->family, pg->family);
  EXPECT_EQ(rg->scopes, std::vector<std::string>{"api1.read"});
  EXPECT_EQ(rg->expires, kNow + 30 + 3600);
  EXPECT_EQ(Json(rg->access_token_json).Num("iat"), kNow + 30);
}

TEST_F(RefreshGrantTest, ParallelRedemptionSucceedsOnce) {
  config_.refresh_token_reuse_grace_seconds = 0;  // with the default grace one loser would be the allowed retry
  NewService();
  const std::string token = RefreshTokenOf(Login());
  constexpr int kThreads = 8;
  std::atomic<int> ok{0}, invalid{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      RequestLog log;
      const http::Response resp =
          service_->HandleAndWait(testing::FormPost("/connect/token", "grant_type=refresh_token&refresh_token=" + token,
                                             testing::Basic("app", "s3cret")),
                           &log);
      if (resp.status == 200) {
        ++ok;
      } else if (resp.body == kInvalidRefreshToken) {
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
}

TEST_F(RefreshGrantTest, DiscoveryListsTheGrant) {
  const std::string body = Handle(testing::GetRequest("/.well-known/openid-configuration")).body;
  EXPECT_NE(body.find(R"("grant_types_supported":["client_credentials","password","authorization_code",)"
                      R"("refresh_token")"),
            std::string::npos)
      << body;
}

// ---- id_tokens on refresh (OpenID Connect Core §12.2) ----

// The verified claims of the id_token in a 200 response ("" and a failure when there is none).
std::string IdTokenClaims(const http::Response& r, const token::SigningKey& key) {
  EXPECT_EQ(r.status, 200) << r.body;
  Json body(r.body);
  if (!body.Has("id_token")) {
    ADD_FAILURE() << "no id_token in " << r.body;
    return "";
  }
  std::optional<token::JwsParts> parts = token::SplitJws(body.Str("id_token"));
  EXPECT_TRUE(parts.has_value());
  if (!parts) return "";
  Json header(parts->header_json);
  EXPECT_EQ(header.Str("typ"), "JWT");
  EXPECT_EQ(header.Str("alg"), "ES256");
  EXPECT_EQ(header.Str("kid"), key.kid());
  EXPECT_TRUE(key.Verify(parts->signing_input, parts->signature));
  return parts->payload_json;
}

// at_hash computed here: base64url of the left 16 bytes of SHA-256 (ES256).
std::string ExpectedAtHash(const std::string& access_token) {
  return Base64UrlEncode(Sha256(access_token).substr(0, 16));
}

TEST_F(RefreshGrantTest, RefreshOfAnOpenidGrantReturnsANewIdToken) {
  const std::string first = RefreshTokenOf(Login("app", "openid api1.read offline_access"));
  // The login's session and acr, as the authorization_code grant stores them.
  Put([&](store::Txn& t) -> Status {
    const std::string key = StoredGrantKey(t, first);
    Result<store::Grant> g = t.GetGrant(key);
    if (!g.ok()) return g.status();
    g->session_id = "session-1";
    g->acr = "urn:example:loa:2";
    g->nonce = "n-0S6_WzA2Mj";  // the authorize request's nonce is never repeated on refresh
    return t.PutGrant(key, *g);
  });
  clock_.Advance(60);
  http::Response r = Refresh(first);
  const std::string second = RefreshTokenOf(r);
  Json claims(IdTokenClaims(r, *key_));
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims.Str("iss"), kIssuer);
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("aud"), "app");
  EXPECT_EQ(claims.Num("iat"), kNow + 60);
  EXPECT_EQ(claims.Num("exp"), kNow + 60 + 300);  // IdentityTokenLifetime
  EXPECT_EQ(claims.Num("auth_time"), kNow);       // the original login
  EXPECT_EQ(claims.Str("sid"), "session-1");
  EXPECT_EQ(claims.Str("acr"), "urn:example:loa:2");
  EXPECT_EQ(claims.Str("idp"), "local");
  EXPECT_TRUE(cJSON_IsArray(claims.Get("amr")));
  EXPECT_EQ(cJSON_GetArrayItem(claims.Get("amr"), 0)->valuestring, std::string("pwd"));
  EXPECT_FALSE(claims.Has("nonce"));
  EXPECT_EQ(claims.Str("at_hash"), ExpectedAtHash(Json(r.body).Str("access_token")));
  EXPECT_FALSE(claims.Has("email"));  // AlwaysIncludeUserClaimsInIdToken is off

  // The rotated token carries the session on: the next id_token has the same sid and auth_time.
  clock_.Advance(60);
  http::Response again = Refresh(second);
  Json next(IdTokenClaims(again, *key_));
  EXPECT_EQ(next.Str("sid"), "session-1");
  EXPECT_EQ(next.Num("auth_time"), kNow);
  EXPECT_EQ(next.Num("iat"), kNow + 120);
  EXPECT_EQ(next.Str("at_hash"), ExpectedAtHash(Json(again.body).Str("access_token")));
  EXPECT_NE(next.Str("at_hash"), claims.Str("at_hash"));
}

TEST_F(RefreshGrantTest, NoIdTokenWithoutOpenid) {
  http::Response r = Refresh(RefreshTokenOf(Login()));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(Json(r.body).Has("id_token")) << r.body;
  // Narrowing the scope to leave openid out leaves the id_token out.
  const std::string handle = RefreshTokenOf(Login("app", "openid api1.read offline_access"));
  http::Response narrowed = Refresh(handle, "app", "&scope=api1.read");
  EXPECT_EQ(narrowed.status, 200) << narrowed.body;
  EXPECT_FALSE(Json(narrowed.body).Has("id_token")) << narrowed.body;
  // A client that lost openid from its AllowedScopes gets no id_token either.
  const std::string lost = RefreshTokenOf(Login("app", "openid api1.read offline_access"));
  EditClient("app", [](store::Client& c) { c.allowed_scopes = {"api1.read", "api2"}; });
  http::Response without = Refresh(lost);
  EXPECT_EQ(without.status, 200) << without.body;
  EXPECT_FALSE(Json(without.body).Has("id_token")) << without.body;
}

TEST_F(RefreshGrantTest, IdTokenUserClaimsComeFromTheUserRecordAsItIsNow) {
  Put([&](store::Txn& t) -> Status {
    store::IdentityResource profile;
    profile.name = "profile";
    profile.user_claims = {"name"};
    return t.PutIdentityResource(profile);
  });
  EditClient("app", [](store::Client& c) {
    c.allowed_scopes.push_back("profile");
    c.always_include_user_claims_in_id_token = true;
  });
  const std::string handle = RefreshTokenOf(Login("app", "openid profile api1.read offline_access"));
  EditUser([](store::User& u) { u.claims = {{"name", "Alice Liddell", ""}, {"email", "alice@example.com", ""}}; });
  http::Response r = Refresh(handle);
  Json claims(IdTokenClaims(r, *key_));
  EXPECT_EQ(claims.Str("name"), "Alice Liddell");
  EXPECT_FALSE(claims.Has("email"));  // not a claim of a granted identity resource
}

TEST_F(RefreshGrantTest, NoIdTokenSigningKeyIsServerErrorAndConsumesNothing) {
  const std::string handle = RefreshTokenOf(Login("app", "openid api1.read offline_access"));
  config_.id_token_signing_alg = "PS256";  // no PS256 key
  NewService();
  http::Response r = Refresh(handle);
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(Json(r.body).Str("error"), "server_error");
  EXPECT_FALSE(StoredGrant(handle)->consumed_at.has_value());
  config_.id_token_signing_alg = "ES256";
  NewService();
  EXPECT_FALSE(IdTokenClaims(Refresh(handle), *key_).empty());
}

}  // namespace
}  // namespace tf::oauth
