// The device flow (RFC 8628) through oauth::Service over a real LMDB store with a ManualClock: user codes
// (user_code.h), the device authorization endpoint, the device_code grant with every error and the three polling
// rules (device_codes.h), redemption (tokens, one family, single use), and the user-code throttle arithmetic.

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "oauth/device_codes.h"
#include "oauth/device_page.h"
#include "oauth/service.h"
#include "oauth/user_code.h"
#include "store/records.h"
#include "store/store.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::Json;
using testing::kNow;

TEST(UserCodeTest, NormalisationIgnoresCaseSpacesAndDashes) {
  for (const char* typed : {"BCDF-GHJK", "bcdf-ghjk", "BCDFGHJK", " bcdf ghjk ", "b-c-d-f-g-h-j-k", "Bcdf\tGhjk"}) {
    EXPECT_EQ(NormalizeUserCode(typed).value_or("<none>"), "BCDFGHJK") << typed;
  }
  EXPECT_EQ(NormalizeUserCode("123-456-789").value_or("<none>"), "123456789");
  for (const char* typed : {"", "BCDF-GHJ", "BCDF-GHJKL", "ABCD-GHJK", "BCDF-GHJ0", "12345678", "1234567890",
                            "BCDF_GHJK", "BCDF-GHJ\xc3\x89"}) {
    EXPECT_FALSE(NormalizeUserCode(typed).has_value()) << typed;
  }
  EXPECT_FALSE(NormalizeUserCode(std::string(60, ' ') + "BCDFGHJK").has_value());  // longer than the input cap
}

TEST(UserCodeTest, NewCodesUseTheAlphabetAndFormat) {
  std::set<char> seen;
  for (int i = 0; i < 200; ++i) {
    const std::string code = NewUserCode(false);
    ASSERT_EQ(code.size(), kUserCodeLetterCount);
    for (char c : code) {
      ASSERT_NE(kUserCodeLetters.find(c), std::string_view::npos) << code;
      seen.insert(c);
    }
    EXPECT_EQ(NormalizeUserCode(FormatUserCode(code)).value_or(""), code);
  }
  EXPECT_EQ(seen.size(), kUserCodeLetters.size());  // 1600 draws reach every letter
  const std::string digits = NewUserCode(true);
  ASSERT_EQ(digits.size(), kUserCodeDigitCount);
  EXPECT_EQ(digits.find_first_not_of("0123456789"), std::string::npos);
  EXPECT_EQ(FormatUserCode("BCDFGHJK"), "BCDF-GHJK");
  EXPECT_EQ(FormatUserCode("123456789"), "123-456-789");
  EXPECT_TRUE(UserCodeIsNumeric("Numeric"));
  EXPECT_TRUE(UserCodeIsNumeric("NUMERIC"));
  EXPECT_FALSE(UserCodeIsNumeric(""));
  EXPECT_NE(UserCodeKey("BCDFGHJK"), Sha256("BCDFGHJK"));  // labelled: never another handle's key
}

TEST(UserCodeThrottleTest, LocksAfterTheLimitAndStartsAgain) {
  store::Grant g;
  RecordUserCodeFailure(&g, false, kNow);
  EXPECT_EQ(g.kind, store::GrantKind::kUserCodeThrottle);
  EXPECT_EQ(g.failures, 1);
  EXPECT_EQ(g.expires, kNow + kUserCodeFailureWindow);
  for (int i = 2; i < kMaxUserCodeFailures; ++i) RecordUserCodeFailure(&g, true, kNow + i);
  EXPECT_FALSE(g.locked_until.has_value());
  RecordUserCodeFailure(&g, true, kNow + 10);
  ASSERT_TRUE(g.locked_until.has_value());
  EXPECT_EQ(*g.locked_until, kNow + 10 + kUserCodeLockSeconds);
  EXPECT_EQ(g.failures, 0);
  EXPECT_TRUE(store::ValidateGrant(g).ok());  // no client: the one kind allowed without
  store::Grant fresh;
  RecordUserCodeFailure(&fresh, false, kNow + 5000);  // an expired record starts over
  EXPECT_EQ(fresh.failures, 1);
}

class DeviceFlowTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("device_flow_test"));
    config_.issuer = "https://auth.example.com";
    config_.access_token_signing_alg = "ES256";
    config_.id_token_signing_alg = "ES256";
    key_ = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_TRUE(key_ != nullptr);
    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key_, kNow - 100)));
      TF_RETURN_IF_ERROR(t.PutApiScope(testing::Scope("api1")));
      store::ApiResource api;
      api.name = "api";
      api.scopes = {"api1"};
      api.api_secrets = {testing::HashedSecret("api-secret")};
      TF_RETURN_IF_ERROR(t.PutApiResource(api));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("openid", {"sub"})));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("profile", {"name"})));
      store::Client tv;
      tv.client_id = "tv";
      tv.require_client_secret = false;
      tv.allowed_grant_types = {std::string(kDeviceCodeGrantType)};
      tv.allowed_scopes = {"openid", "profile", "api1"};
      tv.allow_offline_access = true;
      tv.device_code_lifetime = 60;
      tv.polling_interval = 5;
      TF_RETURN_IF_ERROR(t.PutClient(tv));
      store::Client tv2 = tv;
      tv2.client_id = "tv2";
      tv2.user_code_type = "Numeric";
      tv2.allow_offline_access = false;
      tv2.polling_interval.reset();
      TF_RETURN_IF_ERROR(t.PutClient(tv2));
      store::Client svc = testing::ConfidentialClient("svc", "s3cret", {"api1"});
      return t.PutClient(svc);
    });
    store::User alice;
    alice.subject_id = "sub-alice";
    alice.username = "alice";
    alice.claims = {{"name", "Alice", ""}};
    Put([&](store::Txn& t) { return t.PutUser(alice); });
    NewService();
  }

  http::Response Authorize(const std::string& body, const std::string& client = "tv") {
    return Handle(testing::FormPost("/connect/deviceauthorization", body + "&client_id=" + client));
  }

  // A fresh device code: {device_code, user_code (normal form)}.
  std::pair<std::string, std::string> NewCode(const std::string& scope = "openid profile api1 offline_access",
                                              const std::string& client = "tv") {
    http::Response r = Authorize("scope=" + scope, client);
    EXPECT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    return {j.Str("device_code"), NormalizeUserCode(j.Str("user_code")).value_or("")};
  }

  http::Response Poll(const std::string& device_code, const std::string& client = "tv") {
    return Handle(testing::FormPost("/connect/token",
                                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=" +
                                        device_code + "&client_id=" + client));
  }

  static std::string Error(const http::Response& r) { return Json(r.body).Str("error"); }

  void Decide(const std::string& user_code, bool approve) {
    std::optional<DeviceLogin> login;
    if (approve) login = DeviceLogin{"sub-alice", kNow - 10, "local", {"pwd"}, "", "sess-1"};
    DeviceDecision d = DeviceDecision::kGone;
    Put([&](store::Txn& t) -> Status {
      Result<DeviceDecision> r = DecideDeviceCode(t, user_code, clock_.NowSeconds(), login);
      if (!r.ok()) return r.status();
      d = *r;
      return Status::OK();
    });
    EXPECT_EQ(d, DeviceDecision::kRecorded);
  }

  store::Grant DeviceRecord(const std::string& device_code) {
    store::Grant g;
    const Status st = store_->Read([&](store::Txn& t) -> Status {
      Result<store::Grant> r = t.GetGrant(Sha256(device_code));
      if (!r.ok()) return r.status();
      g = *r;
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return g;
  }

  std::shared_ptr<const token::SigningKey> key_;
};

TEST_F(DeviceFlowTest, AuthorizationAnswersEverything) {
  http::Response r = Authorize("scope=openid%20api1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(testing::HeaderOf(r, "Cache-Control"), "no-store");
  Json j(r.body);
  EXPECT_EQ(j.Str("device_code").size(), 43u);
  const std::string user_code = j.Str("user_code");
  EXPECT_EQ(user_code.size(), 9u);
  EXPECT_EQ(user_code[4], '-');
  EXPECT_EQ(j.Str("verification_uri"), "https://auth.example.com/device");
  EXPECT_EQ(j.Str("verification_uri_complete"), "https://auth.example.com/device?user_code=" + user_code);
  EXPECT_EQ(j.Num("expires_in"), 60);
  EXPECT_EQ(j.Num("interval"), 5);
  // Stored under hashes only: the device code's record, and the user code's, pointing at it.
  const store::Grant d = DeviceRecord(j.Str("device_code"));
  EXPECT_EQ(d.kind, store::GrantKind::kDeviceCode);
  EXPECT_EQ(d.scopes, (std::vector<std::string>{"openid", "api1"}));
  EXPECT_EQ(d.interval, 5);
  std::vector<std::pair<std::string, store::Grant>> all;
  Put([&](store::Txn& t) -> Status {
    Result<std::vector<std::pair<std::string, store::Grant>>> g = t.ListGrants("", "");
    if (!g.ok()) return g.status();
    all = *g;
    return Status::OK();
  });
  ASSERT_EQ(all.size(), 2u);
  for (const auto& [hash, g] : all) {
    if (g.kind == store::GrantKind::kUserCode) {
      EXPECT_EQ(hash, UserCodeKey(*NormalizeUserCode(user_code)));
      EXPECT_EQ(g.device_code_hash, Sha256(j.Str("device_code")));
      EXPECT_EQ(g.family, d.family);
    }
    EXPECT_EQ(ToJson(g).find(j.Str("device_code")), std::string::npos);
    EXPECT_EQ(ToJson(g).find(*NormalizeUserCode(user_code)), std::string::npos);
  }
  // Digits for a Numeric client; the default interval.
  Json n(Authorize("scope=api1", "tv2").body);
  EXPECT_EQ(n.Str("user_code").size(), 11u);
  EXPECT_TRUE(NormalizeUserCode(n.Str("user_code")).has_value());
  EXPECT_EQ(n.Num("interval"), kDefaultPollingInterval);
}

TEST_F(DeviceFlowTest, AuthorizationErrors) {
  EXPECT_EQ(Handle(testing::GetRequest("/connect/deviceauthorization")).status, 405);
  http::Response r = Handle(testing::FormPost("/connect/deviceauthorization", "scope=api1",
                                              testing::Basic("svc", "wrong")));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(Error(r), "invalid_client");
  r = Handle(testing::FormPost("/connect/deviceauthorization", "scope=api1", testing::Basic("svc", "s3cret")));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r), "unauthorized_client");
  r = Authorize("scope=api1%20offline_access", "tv2");  // no AllowOfflineAccess
  EXPECT_EQ(Error(r), "invalid_scope");
  r = Authorize("scope=unknown");
  EXPECT_EQ(Error(r), "invalid_scope");
  r = Handle(testing::FormPost("/connect/deviceauthorization", "client_id=tv", "", "text/plain"));
  EXPECT_EQ(Error(r), "invalid_request");
}

TEST_F(DeviceFlowTest, GrantErrors) {
  auto [device, user] = NewCode();
  http::Response r = Handle(testing::FormPost(
      "/connect/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=tv"));
  EXPECT_EQ(Error(r), "invalid_request");
  EXPECT_EQ(Error(Poll("unknown")), "invalid_grant");
  EXPECT_EQ(Error(Poll(std::string(101, 'a'))), "invalid_grant");
  EXPECT_EQ(Error(Poll(device, "tv2")), "invalid_grant");  // another client's
  r = Handle(testing::FormPost("/connect/token",
                               "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=" + device,
                               testing::Basic("svc", "s3cret")));
  EXPECT_EQ(Error(r), "unauthorized_client");
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
}

TEST_F(DeviceFlowTest, FirstPollIsNeverTooFast) {
  auto [device, user] = NewCode();
  const http::Response r = Poll(device);  // at the instant of issuance
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Error(r), "authorization_pending");
  EXPECT_EQ(testing::HeaderOf(r, "Cache-Control"), "no-store");
}

TEST_F(DeviceFlowTest, TooFastIsSlowDownAndTheIntervalGrows) {
  auto [device, user] = NewCode();
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
  clock_.Advance(2);
  EXPECT_EQ(Error(Poll(device)), "slow_down");
  EXPECT_EQ(DeviceRecord(device).interval, 10);
  EXPECT_EQ(DeviceRecord(device).last_poll.value_or(-1), kNow);  // the rejected poll did not move the window
  clock_.Advance(2);
  EXPECT_EQ(Error(Poll(device)), "slow_down");
  EXPECT_EQ(DeviceRecord(device).interval, 15);
}

TEST_F(DeviceFlowTest, PollingAtTheIntervalIsNeverLockedIn) {
  auto [device, user] = NewCode();
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
  // Jitter: a poll that arrives in the second before the interval is up is still accepted (the leeway).
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(4);
    EXPECT_EQ(Error(Poll(device)), "authorization_pending") << i;
  }
  // Too fast once: slow_down, and the window stays at the last accepted poll, so a client that waits the new
  // interval from its last good poll gets through, however many rejected polls came in between.
  const int64_t last = clock_.NowSeconds();
  clock_.Advance(1);
  EXPECT_EQ(Error(Poll(device)), "slow_down");
  EXPECT_EQ(DeviceRecord(device).last_poll.value_or(-1), last);
  clock_.Set(last + 9);  // interval 10, less the leeway
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
  EXPECT_EQ(DeviceRecord(device).interval, 10);
}

TEST_F(DeviceFlowTest, DecisionIsAnsweredAtOnce) {
  auto [device, user] = NewCode();
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
  Decide(user, true);
  const http::Response r = Poll(device);  // the same second as the last poll
  ASSERT_EQ(r.status, 200) << r.body;
  auto [denied, denied_user] = NewCode();
  EXPECT_EQ(Error(Poll(denied)), "authorization_pending");
  Decide(denied_user, false);
  EXPECT_EQ(Error(Poll(denied)), "access_denied");
  EXPECT_EQ(Error(Poll(denied)), "access_denied");
}

TEST_F(DeviceFlowTest, ApprovedCodeGivesTheCodeFlowsTokensOnce) {
  auto [device, user] = NewCode();
  Decide(user, true);
  const http::Response r = Poll(device);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j(r.body);
  EXPECT_EQ(j.Str("token_type"), "Bearer");
  EXPECT_EQ(j.Str("scope"), "openid profile api1 offline_access");
  ASSERT_TRUE(j.Has("refresh_token"));
  ASSERT_TRUE(j.Has("id_token"));
  Json at(testing::VerifiedJwsPayload(j.Str("access_token"), *key_));
  EXPECT_EQ(at.Str("sub"), "sub-alice");
  EXPECT_EQ(at.Str("client_id"), "tv");
  EXPECT_EQ(at.Str("grant_id"), DeviceRecord(device).family);
  Json id(testing::VerifiedJwsPayload(j.Str("id_token"), *key_));
  EXPECT_EQ(id.Str("aud"), "tv");
  EXPECT_EQ(id.Str("sid"), "sess-1");
  EXPECT_FALSE(id.Has("nonce"));
  EXPECT_EQ(id.Num("auth_time"), kNow - 10);
  // Single use.
  EXPECT_EQ(Error(Poll(device)), "invalid_grant");
  // One family: revoking the refresh token kills the access token too.
  http::Response rev = Handle(testing::FormPost("/connect/revocation",
                                                "token=" + j.Str("refresh_token") + "&client_id=tv"));
  EXPECT_EQ(rev.status, 200) << rev.body;
  http::Response intro = Handle(testing::FormPost("/connect/introspect", "token=" + j.Str("access_token"),
                                                  testing::Basic("api", "api-secret")));
  EXPECT_EQ(Json(intro.body).Get("active") != nullptr && cJSON_IsFalse(Json(intro.body).Get("active")), true)
      << intro.body;
}

TEST_F(DeviceFlowTest, ACodeApprovedBetweenTheReadAndTheWriteIsPendingOnceThenRedeemed) {
  auto [device, user] = NewCode();
  testing::RacingStore racing(store_.get());
  service_ = std::make_unique<Service>(config_, &racing, &clock_);
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
  const std::optional<int64_t> first_poll = DeviceRecord(device).last_poll;
  ASSERT_TRUE(first_poll.has_value());
  clock_.Advance(5);
  // The user approves after the poll's read found the code pending, before its write.
  racing.BeforeNextUpdate([&, user_code = user](store::Store& s) {
    EXPECT_TRUE(s.Update([&](store::Txn& t) -> Status {
                   return DecideDeviceCode(t, user_code, clock_.NowSeconds(),
                                           DeviceLogin{"sub-alice", kNow, "local", {"pwd"}, "", "sess-1"})
                       .status();
                 }).ok());
  });
  EXPECT_EQ(Error(Poll(device)), "authorization_pending");
  const store::Grant after = DeviceRecord(device);
  EXPECT_EQ(after.decision, kDecisionApproved);
  EXPECT_EQ(after.last_poll, first_poll);  // nothing written by that poll
  EXPECT_FALSE(after.consumed_at.has_value());
  const http::Response r = Poll(device);  // the same second: a decided code is answered at once
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Json(r.body).Has("refresh_token"));
  EXPECT_EQ(Error(Poll(device)), "invalid_grant");
}

TEST_F(DeviceFlowTest, SettledCodesAreAnsweredWithoutAWrite) {
  auto [redeemed, redeemed_user] = NewCode();
  Decide(redeemed_user, true);
  ASSERT_EQ(Poll(redeemed).status, 200);
  auto [denied, denied_user] = NewCode();
  Decide(denied_user, false);
  auto [expired, expired_user] = NewCode();
  auto [other, other_user] = NewCode("api1", "tv2");
  testing::RacingStore racing(store_.get());
  service_ = std::make_unique<Service>(config_, &racing, &clock_);
  EXPECT_EQ(Error(Poll("unknown-device-code")), "invalid_grant");
  EXPECT_EQ(Error(Poll(redeemed)), "invalid_grant");
  EXPECT_EQ(Error(Poll(other)), "invalid_grant");  // another client's
  EXPECT_EQ(Error(Poll(denied)), "access_denied");
  clock_.Advance(60);
  EXPECT_EQ(Error(Poll(expired)), "expired_token");
  EXPECT_EQ(racing.updates, 0);
  auto [pending, pending_user] = NewCode();
  EXPECT_EQ(Error(Poll(pending)), "authorization_pending");  // a pending code's poll records last_poll
  EXPECT_EQ(racing.updates, 2);                                // the device authorization and that poll
}

TEST_F(DeviceFlowTest, NoRefreshTokenWithoutOfflineAccess) {
  auto [device, user] = NewCode("api1");
  Decide(user, true);
  Json j(Poll(device).body);
  EXPECT_TRUE(j.Has("access_token"));
  EXPECT_FALSE(j.Has("refresh_token"));
  EXPECT_FALSE(j.Has("id_token"));
}

TEST_F(DeviceFlowTest, ExpiredCodeIsExpiredToken) {
  auto [device, user] = NewCode();
  clock_.Advance(60);
  EXPECT_EQ(Error(Poll(device)), "expired_token");
  auto [approved, approved_user] = NewCode();
  Decide(approved_user, true);
  clock_.Advance(60);
  EXPECT_EQ(Error(Poll(approved)), "expired_token");
}

TEST_F(DeviceFlowTest, DecisionNeedsALivePendingCode) {
  auto [device, user] = NewCode();
  Decide(user, false);
  DeviceDecision d = DeviceDecision::kRecorded;
  Put([&, user_code = user](store::Txn& t) -> Status {  // clang 14 cannot capture a structured binding
    Result<DeviceDecision> r =
        DecideDeviceCode(t, user_code, kNow, DeviceLogin{"sub-alice", kNow, "local", {}, "", ""});
    if (!r.ok()) return r.status();
    d = *r;
    return Status::OK();
  });
  EXPECT_EQ(d, DeviceDecision::kGone);  // decided already
  EXPECT_EQ(Error(Poll(device)), "access_denied");
  auto [late, late_user] = NewCode();
  clock_.Advance(60);
  Put([&, late_code = late_user](store::Txn& t) -> Status {
    Result<DeviceDecision> r = DecideDeviceCode(t, late_code, clock_.NowSeconds(), std::nullopt);
    if (!r.ok()) return r.status();
    d = *r;
    return Status::OK();
  });
  EXPECT_EQ(d, DeviceDecision::kGone);  // expired
}

TEST_F(DeviceFlowTest, DiscoveryListsTheEndpointAndTheGrant) {
  Json doc(Handle(testing::GetRequest("/.well-known/openid-configuration")).body);
  EXPECT_EQ(doc.Str("device_authorization_endpoint"), "https://auth.example.com/connect/deviceauthorization");
  EXPECT_NE(Handle(testing::GetRequest("/.well-known/openid-configuration")).body.find(
                "urn:ietf:params:oauth:grant-type:device_code"),
            std::string::npos);
}

}  // namespace
}  // namespace tf::oauth
