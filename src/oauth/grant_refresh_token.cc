// The refresh_token grant (RFC 6749 §6): a client trades a refresh token for a new access token (and, with
// rotation, a new refresh token). The dispatcher has already authenticated the client (a confidential client must;
// a public client names itself with client_id). As in IdentityServer, the grant needs no AllowedGrantTypes entry:
// AllowOfflineAccess is what allows it. Checks, in this order:
//
//   1. invalid_request   refresh_token missing
//   2. invalid_grant     longer than kMaxRefreshTokenLength, unknown, not a refresh token, issued to another client,
//                        expired, revoked (its family deleted), the client no longer has AllowOfflineAccess, the user
//                        is gone or disabled (IsActive false); one description for all: "the refresh token is
//                        invalid". A consumed token presented again is reuse: the same answer, and the whole family
//                        is revoked (refresh_tokens.h), unless it is the one retry the grace period allows.
//   3. invalid_scope     `scope` is malformed, too long, or names a scope the refresh token was not granted; nothing
//                        is consumed. An omitted scope means the grant's scopes.
//   500 server_error     the store cannot be read or written, or no usable signing key (logged); nothing consumed
//   503 temporarily_unavailable  the store is full (Retry-After; errors.h StoreFailureResponse); nothing consumed
//   200                  an access token for the granted (possibly narrowed) scope, with the original auth_time, idp,
//                        amr, tenant and acr, "grant_id": <family>, a fresh iat/exp/jti, and the user claims either
//                        read again (UpdateAccessTokenClaimsOnRefresh) or the snapshot taken at login; "scope" says
//                        what was granted; "refresh_token" is the new handle (OneTimeOnly) or the same (ReUse), and
//                        always keeps the original scope. Scopes the client has lost since the login (no longer in
//                        AllowedScopes, or disabled) are left out of the access token.
//                        When those scopes include openid: "id_token", a new id_token (id_token.h) for the same login
//                        (OpenID Connect Core §12.2): the grant's sub, auth_time, idp, amr, acr and sid (session_id),
//                        no nonce, at_hash of the new access token, and with AlwaysIncludeUserClaimsInIdToken the
//                        identity claims of the user record as it is now. Signed before the write transaction.
//
// Thread-safety: as every grant handler (grant.h).
#include <algorithm>

#include "oauth/access_token.h"
#include "oauth/answer_after_write.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/grant_tokens.h"
#include "oauth/id_token.h"
#include "oauth/refresh_tokens.h"
#include "oauth/scopes.h"
#include "oauth/request_log.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

// The one description of every invalid_grant answer of this grant.
constexpr std::string_view kInvalidRefreshToken = "the refresh token is invalid";

http::Response InvalidGrant() { return OAuthError(400, kInvalidGrant, kInvalidRefreshToken); }

http::Response StoreFailure(const Status& st) {
  return StoreFailureResponse("refresh_token grant", st, "the server cannot use refresh tokens at the moment");
}

// Whether `scope` may still go into an access token for `client`.
bool StillAllowed(const Snapshot& snapshot, const store::Client& client, const std::string& scope) {
  if (scope == kOfflineAccess) return client.allow_offline_access;
  if (std::find(client.allowed_scopes.begin(), client.allowed_scopes.end(), scope) == client.allowed_scopes.end()) {
    return false;
  }
  const store::IdentityResource* identity = snapshot.FindIdentityResource(scope);
  if (identity != nullptr && identity->enabled) return true;
  const store::ApiScope* api = snapshot.FindApiScope(scope);
  return api != nullptr && api->enabled;
}

}  // namespace

http::Response HandleRefreshToken(const TokenRequest& request) {
  const store::Client& client = request.client;
  const std::string_view handle = request.form.Get("refresh_token");
  if (handle.empty()) return OAuthError(400, kInvalidRequest, "refresh_token is missing");
  if (handle.size() > kMaxRefreshTokenLength) return InvalidGrant();
  const int64_t now = request.clock.NowSeconds();

  // Everything that needs no write is decided on a read transaction first; the Update below decides again on fresh
  // data, which is what counts. The user record is read here only when the tokens carry its claims as they are now
  // (UpdateAccessTokenClaimsOnRefresh, AlwaysIncludeUserClaimsInIdToken); whether the user still exists and is
  // active is decided in the Update alone, which reads it anyway (a token signed for a user who is not is discarded).
  const std::string handle_key = RefreshHandleKey(request.snapshot.session_key);
  RefreshTokenLocation where = LocateRefreshToken(handle, handle_key);
  const bool user_claims =
      client.update_access_token_claims_on_refresh || client.always_include_user_claims_in_id_token;
  std::optional<store::Grant> grant;
  std::optional<store::User> user;
  Status st = request.store->Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = ReadRefreshToken(txn, where);
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    grant = std::move(g).value();
    if (grant->subject.empty() || !user_claims) return Status::OK();
    Result<store::User> u = txn.GetUser(grant->subject);
    if (!u.ok()) return u.status().IsNotFound() ? Status::OK() : u.status();
    user = std::move(u).value();
    return Status::OK();
  });
  if (!st.ok()) return StoreFailure(st);
  if (!grant.has_value() || !IsLiveRefreshTokenOf(*grant, client.client_id, now)) return InvalidGrant();
  if (!client.allow_offline_access) {
    Logf(LogLevel::kDebug, "refresh_token grant: client %s no longer has AllowOfflineAccess",
         SanitizeForLog(client.client_id).c_str());
    return InvalidGrant();
  }

  // The scope asked for: a subset of the grant's (checked again in the Update, after reuse detection).
  const std::string_view scope_param = request.form.Get("scope");
  if (scope_param.size() > kMaxScopeLength) return OAuthError(400, kInvalidScope, "the scope parameter is too long");
  Result<std::vector<std::string>> requested = SplitScopes(scope_param);
  if (!requested.ok()) return OAuthError(400, kInvalidScope, requested.status().message());
  std::vector<std::string> scopes;
  if (requested->empty()) {
    scopes = grant->scopes;
  } else {
    for (const std::string& s : grant->scopes) {  // the grant's order
      if (std::find(requested->begin(), requested->end(), s) != requested->end()) scopes.push_back(s);
    }
  }
  const bool within = ScopesWithin(*requested, grant->scopes);

  // The access token, built outside the write transaction (signing is slow; the writer lock is shared by every
  // process). Only when the request can succeed; a reuse or an error discards nothing of value.
  std::optional<IssuedAccessToken> token;
  if (within && (!user_claims || (user.has_value() && user->is_active))) {
    std::vector<std::string> allowed;
    for (const std::string& s : scopes) {
      if (StillAllowed(request.snapshot, client, s)) allowed.push_back(s);
    }
    const AccessTokenRequest token_request = AccessTokenRequestFromGrant(
        client, *grant, std::move(allowed),
        client.update_access_token_claims_on_refresh ? user->claims : grant->claims);
    Result<IssuedAccessToken> issued = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
    if (!issued.ok()) {
      Logf(LogLevel::kError, "cannot issue an access token: %s", issued.status().message().c_str());
      return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
    }
    token = std::move(issued).value();
    // OpenID Connect Core §12.2: a new id_token for the same login, without nonce, bound to the new access token.
    if (std::find(token_request.scopes.begin(), token_request.scopes.end(), kOpenIdScope) !=
        token_request.scopes.end()) {
      IdTokenRequest id = IdTokenRequestFromGrant(client, *grant, token_request.scopes, token->access_token);
      if (client.always_include_user_claims_in_id_token) id.user_claims = user->claims;
      Result<std::string> id_token = IssueIdToken(request.config, request.snapshot, request.clock, id);
      if (!id_token.ok()) {
        Logf(LogLevel::kError, "cannot issue an id_token: %s", id_token.status().message().c_str());
        return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
      }
      token->id_token = std::move(id_token).value();
    }
  }

  // The write and the answer run on the thread that commits the write (answer_after_write.h) and own what they use;
  // the token endpoint keeps the form (the handle), the snapshot and the client in it alive for them.
  struct Rotation {
    RefreshTokenLocation where;
    std::optional<PreparedRefreshHandle> successor;
    std::optional<IssuedAccessToken> token;
    RefreshRedeemRequest redeem;
    RefreshRedemption result;
  };
  auto w = std::make_shared<Rotation>();
  // The successor's handle too, for the generation read (the write transaction makes another if that has changed).
  if (token.has_value() && client.refresh_token_usage == store::RefreshTokenUsage::kOneTimeOnly) {
    w->successor = PrepareSuccessorHandle(handle_key, where, *grant);
  }
  w->where = std::move(where);
  w->token = std::move(token);
  RefreshRedeemRequest& redeem = w->redeem;
  redeem.handle = handle;
  redeem.where = &w->where;
  redeem.successor = w->successor.has_value() ? &*w->successor : nullptr;
  redeem.client = &client;
  redeem.snapshot = &request.snapshot;
  redeem.scopes = *requested;  // checked against the fresh grant
  redeem.now = now;
  redeem.reuse_grace_seconds = request.config.refresh_token_reuse_grace_seconds;
  redeem.reference = w->token.has_value() && w->token->reference.has_value() ? &*w->token->reference : nullptr;
  const auto write = [w](store::Txn& txn) -> Status {
    Result<RefreshRedemption> r = RedeemRefreshToken(txn, w->redeem);
    if (!r.ok()) return r.status();
    w->result = std::move(r).value();
    // Succeeding without a token built means the read above saw a state that changed since (a user re-enabled
    // meanwhile): write nothing and answer as the read decided.
    if (w->result.outcome == RefreshRedemption::Outcome::kIssued && !w->token.has_value()) {
      return Status::Conflict("the grant changed during the request");
    }
    return Status::OK();
  };
  const auto answer = [w, client_id = std::string_view(client.client_id)](const Status& written) -> http::Response {
    if (!written.ok()) {
      if (written.code() == Status::Code::kConflict) return InvalidGrant();
      return StoreFailure(written);
    }
    switch (w->result.outcome) {
      case RefreshRedemption::Outcome::kIssued:
        break;
      case RefreshRedemption::Outcome::kScopeExceeded:
        return OAuthError(400, kInvalidScope, "the requested scope exceeds the scope of the refresh token");
      case RefreshRedemption::Outcome::kRejected:
      case RefreshRedemption::Outcome::kReuseDetected:
        return InvalidGrant();
    }
    if (w->result.retry) {
      Logf(LogLevel::kInfo, "refresh_token grant: client %s retried within the reuse grace period",
           SanitizeForLog(client_id).c_str());
    }
    w->token->refresh_token = std::move(w->result.refresh_token);
    return AccessTokenResponse(*w->token);
  };
  return AnswerAfterWrite(request.store, write, answer);
}

}  // namespace tf::oauth
