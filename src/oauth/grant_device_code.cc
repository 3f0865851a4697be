// The device_code grant (RFC 8628 §3.4, §3.5): a device polls with the device_code the device authorization endpoint
// gave it (device_authorization.h) until the user has decided on the verification page (device_page.h). The
// dispatcher has already authenticated the client. Checks, in this order:
//
//   1. unauthorized_client    the client does not list urn:ietf:params:oauth:grant-type:device_code
//   2. invalid_request        device_code missing
//   3. invalid_grant          device_code longer than kMaxDeviceCodeLength (no lookup); unknown, not a device code,
//                             issued to another client, or redeemed already
//   4. expired_token          past the client's DeviceCodeLifetime
//   5. access_denied          the user denied it
//   6. (approved)             the user (the approver) is gone or disabled -> invalid_grant; otherwise the tokens of
//                             the authorization code flow are built outside any transaction: the access token (with
//                             the approver's auth_time, idp, amr, tenant, claims and "grant_id": the device code's
//                             family), a refresh token in the same family with offline_access (and
//                             AllowOfflineAccess), an id_token with openid (no nonce; sid = the approving session)
//   7. slow_down              still pending, and polled sooner than the current interval after the previous accepted
//                             poll: the interval grows by 5 s (device_codes.h has the three polling rules)
//   8. authorization_pending  still pending
// Steps 3-8 are decided on a read transaction first: a settled code (3-5: unknown, another client's, redeemed,
// expired, denied; none of these ever changes back) is answered without a write. A pending or approved code is
// decided again in ONE write transaction (device_codes.h's PollDeviceCode), which also records the polling state
// and, on approval, consumes the device code and stores the refresh token and reference access token: of any number
// of parallel redemptions from any number of processes, exactly one gets tokens and the others get invalid_grant.
// That write and the answer that follows from it run on the thread that commits it (answer_after_write.h), so a
// worker thread does not wait for the commit. A code approved between the read and the write is answered
// authorization_pending with nothing written (its last_poll not moved), and the device's next poll gets the tokens.
//   500 server_error          the store cannot be read or written, or no usable signing key (logged); nothing consumed
//   200                       {"access_token","token_type":"Bearer","expires_in","scope"[,"refresh_token"]
//                             [,"id_token"]}
//
// Error descriptions are fixed text; no request value is ever echoed or logged.
//
// Thread-safety: as every grant handler (grant.h).
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oauth/access_token.h"
#include "oauth/answer_after_write.h"
#include "oauth/device_codes.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/id_token.h"
#include "oauth/refresh_tokens.h"
#include "oauth/scopes.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kInvalidDeviceCode = "the device code is invalid";

http::Response InvalidGrant() { return OAuthError(400, kInvalidGrant, kInvalidDeviceCode); }

http::Response StoreFailure(const Status& st) {
  return StoreFailureResponse("device_code grant", st, "the server cannot redeem device codes at the moment");
}

http::Response SigningFailure(const char* what, const Status& st) {
  Logf(LogLevel::kError, "device_code grant: cannot issue %s: %s", what, st.message().c_str());
  return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
}

bool Has(const std::vector<std::string>& scopes, std::string_view scope) {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

struct IssuedTokens {
  IssuedAccessToken access;
  std::optional<NewGrant> refresh;
};

// Step 6: the tokens for an approved device code `d` and its approver `user`.
Result<IssuedTokens> BuildTokens(const TokenRequest& request, const store::Grant& d, const store::User& user,
                                 int64_t now) {
  const store::Client& client = request.client;
  const std::vector<std::string>& granted = d.scopes;
  AccessTokenRequest token_request;
  token_request.client = &client;
  token_request.subject = d.subject;
  token_request.scopes = granted;
  token_request.include_client_claims = client.always_send_client_claims;
  token_request.grant_id = d.family;
  ResourceOwner& ro = token_request.resource_owner.emplace();
  ro.auth_time = d.auth_time.value_or(d.created);
  ro.idp = d.idp;
  ro.amr = d.amr;
  ro.tenant = d.tenant;
  ro.acr = d.acr;
  ro.claims = user.claims;
  Result<IssuedAccessToken> access = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
  if (!access.ok()) return access.status();
  IssuedTokens tokens;
  tokens.access = std::move(access).value();

  if (Has(granted, kOfflineAccess) && client.allow_offline_access) {
    store::Grant g = RefreshGrantFromResourceOwner(request.snapshot, client, d.subject, granted, ro);
    g.session_id = d.session_id;
    tokens.refresh = NewRefreshTokenInFamily(request.snapshot, client, std::move(g), d.family, now);
  }

  if (Has(granted, kOpenIdScope)) {
    IdTokenRequest id_request;
    id_request.client = &client;
    id_request.subject = d.subject;
    id_request.scopes = granted;
    id_request.auth_time = ro.auth_time;
    id_request.idp = ro.idp;
    id_request.amr = ro.amr;
    id_request.acr = ro.acr;
    id_request.sid = d.session_id;
    id_request.access_token = tokens.access.access_token;
    id_request.user_claims = user.claims;
    Result<std::string> id_token = IssueIdToken(request.config, request.snapshot, request.clock, id_request);
    if (!id_token.ok()) return Status::Internal("id_token: " + id_token.status().message());
    tokens.access.id_token = std::move(id_token).value();
  }
  return tokens;
}

// The answer to a poll's outcome; `tokens` are those stored when it is kRedeemed. kApproved is a code approved
// after the read that found it pending: nothing was written, and it is answered as the read saw it (the device's next
// poll gets the tokens).
http::Response PollAnswer(DevicePoll outcome, IssuedTokens* tokens) {
  switch (outcome) {
    case DevicePoll::kInvalid:
      return InvalidGrant();
    case DevicePoll::kExpired:
      return OAuthError(400, kExpiredToken, "the device code has expired");
    case DevicePoll::kDenied:
      return OAuthError(400, kAccessDenied, "the user denied the request");
    case DevicePoll::kTooFast:
      return OAuthError(400, kSlowDown, "the device is polling too fast");
    case DevicePoll::kApproved:
    case DevicePoll::kPending:
      return OAuthError(400, kAuthorizationPending, "the user has not decided yet");
    case DevicePoll::kRedeemed:
      break;
  }
  if (tokens == nullptr) return InvalidGrant();  // cannot happen: only a poll with tokens redeems
  if (tokens->refresh.has_value()) tokens->access.refresh_token = std::move(tokens->refresh->handle);
  return AccessTokenResponse(tokens->access);
}

}  // namespace

http::Response HandleDeviceCode(const TokenRequest& request) {
  const store::Client& client = request.client;
  if (!client.AllowsGrantType(kDeviceCodeGrantType)) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed the device_code grant");
  }
  const std::string_view device_code = request.form.Get("device_code");
  if (device_code.empty()) return OAuthError(400, kInvalidRequest, "device_code is missing");
  if (device_code.size() > kMaxDeviceCodeLength) return InvalidGrant();
  const int64_t now = request.clock.NowSeconds();

  // The write and the answer run on the thread that commits the write (answer_after_write.h) and own what they use.
  struct Poll {
    std::string hash;
    std::string client_id;
    int64_t now = 0;
    std::optional<IssuedTokens> tokens;
    std::vector<const NewGrant*> issued;
    DevicePoll outcome = DevicePoll::kInvalid;
  };
  auto p = std::make_shared<Poll>();
  p->hash = Sha256(device_code);
  p->client_id = client.client_id;
  p->now = now;

  // The code as it is now, and its approver when it is approved.
  std::optional<store::Grant> d;
  std::optional<store::User> user;
  Status st = request.store->Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = txn.GetGrant(p->hash);
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    d = std::move(g).value();
    if (d->decision != kDecisionApproved || d->subject.empty()) return Status::OK();
    Result<store::User> u = txn.GetUser(d->subject);
    if (!u.ok()) return u.status().IsNotFound() ? Status::OK() : u.status();
    user = std::move(u).value();
    return Status::OK();
  });
  if (!st.ok()) return StoreFailure(st);
  // A code that is settled (unknown, another client's, redeemed, expired, denied) stays so: answered without a write.
  const DevicePoll seen = d.has_value() ? DeviceCodeState(*d, client.client_id, now) : DevicePoll::kInvalid;
  if (seen != DevicePoll::kApproved && seen != DevicePoll::kPending) return PollAnswer(seen, nullptr);
  if (seen == DevicePoll::kApproved) {
    if (!user.has_value() || !user->is_active) return InvalidGrant();
    Result<IssuedTokens> built = BuildTokens(request, *d, *user, now);
    if (!built.ok()) return SigningFailure("tokens", built.status());
    p->tokens = std::move(built).value();
    if (p->tokens->refresh.has_value()) p->issued.push_back(&*p->tokens->refresh);
    if (p->tokens->access.reference.has_value()) p->issued.push_back(&*p->tokens->access.reference);
  }
  const auto write = [p](store::Txn& txn) -> Status {
    const std::vector<const NewGrant*>* issued = p->tokens.has_value() ? &p->issued : nullptr;
    Result<DevicePoll> r = PollDeviceCode(txn, p->hash, p->client_id, p->now, issued);
    if (!r.ok()) return r.status();
    p->outcome = *r;
    return Status::OK();
  };
  const auto answer = [p](const Status& written) -> http::Response {
    if (!written.ok()) return StoreFailure(written);
    return PollAnswer(p->outcome, p->tokens.has_value() ? &*p->tokens : nullptr);
  };
  return AnswerAfterWrite(request.store, write, answer);
}

}  // namespace tf::oauth
