// The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, OpenID Connect Core §3.1.3): a client trades the
// code the authorize endpoint gave it (authorization_codes.h) for an access token, a refresh token (offline_access)
// and an id_token (openid). The dispatcher has already authenticated the client (a confidential client must; a public
// client names itself with client_id). Checks, in this order:
//
//   1. unauthorized_client  the client is not allowed "authorization_code" in AllowedGrantTypes
//   2. invalid_request      code missing
//   3. invalid_grant        code longer than kMaxAuthorizationCodeLength (no lookup); then, in ONE read transaction:
//                           unknown, not a code, issued to another client, expired. A code that was redeemed already
//                           skips 4-6 and goes straight to step 8, where its second use revokes everything issued from
//                           it if the request proves possession (ReplayProvesPossession: a confidential client that
//                           authenticated, or a code_verifier matching the code's challenge), and is only
//                           invalid_grant otherwise. "the authorization code is invalid"
//   4. invalid_grant        the code was issued with a redirect_uri and the request's is missing or not identical
//                           (byte for byte). Without one at authorize, the parameter is not checked (RFC 6749 §4.1.3).
//   5. invalid_grant        PKCE (RFC 7636): the code has a code_challenge and code_verifier is missing, is not 43-128
//                           characters of [A-Za-z0-9-._~], or does not match under the code's method (S256 or plain);
//                           or the code has no challenge but a code_verifier is sent (RFC 9700 §2.1.1: a PKCE
//                           downgrade attempt)
//   6. invalid_grant        the user (the code's subject) is gone or disabled (IsActive false)
//   7. (no transaction)     the tokens are built: the access token (access_token.h) with the code's auth_time, idp,
//                           amr, tenant, acr, the user's current claims and "grant_id": <the code's family>, always;
//                           with offline_access (and AllowOfflineAccess), a refresh token IN THE CODE'S FAMILY carrying
//                           the login data and session_id; with openid, an id_token (id_token.h) with the code's nonce,
//                           at_hash of the access token, sid = the code's session_id
//   8. ONE write transaction (RedeemAuthorizationCode): the code is checked again and consumed, and the refresh token
//                           and a reference access token (Reference clients) are stored with it. A code consumed by
//                           then (a second use, or a parallel request that won) is invalid_grant and, with proof of
//                           possession as in step 3, revokes its whole family: the first use's refresh token and
//                           reference token are deleted and its JWT access tokens introspect inactive (RFC 6749
//                           §4.1.2). The reuse is logged as a warning
//                           naming the client and the family, never the code; a replay without proof is logged as
//                           a warning too, and revokes nothing.
//   500 server_error        the store cannot be read or written, or no usable signing key (logged); nothing consumed
//   503 temporarily_unavailable  the store is full (Retry-After; errors.h StoreFailureResponse); nothing consumed
//   200                     {"access_token","token_type":"Bearer","expires_in","scope"[,"refresh_token"][,"id_token"]}
//
// Error descriptions are fixed text; no request value is ever echoed or logged.
//
// Thread-safety: as every grant handler (grant.h).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "oauth/access_token.h"
#include "oauth/answer_after_write.h"
#include "oauth/authorization_codes.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/grant_tokens.h"
#include "oauth/id_token.h"
#include "oauth/pkce.h"
#include "oauth/refresh_tokens.h"
#include "oauth/request_log.h"
#include "oauth/scopes.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kInvalidCode = "the authorization code is invalid";
constexpr std::string_view kRedirectUriMismatch = "redirect_uri does not match the authorization request";
constexpr std::string_view kInvalidVerifier = "the code_verifier is missing, malformed or does not match";
constexpr std::string_view kUnexpectedVerifier = "a code_verifier was sent for a code issued without a code_challenge";

http::Response InvalidGrant(std::string_view description) { return OAuthError(400, kInvalidGrant, description); }

http::Response StoreFailure(const Status& st) {
  return StoreFailureResponse("authorization_code grant", st,
                              "the server cannot redeem authorization codes at the moment");
}

http::Response SigningFailure(const char* what, const Status& st) {
  Logf(LogLevel::kError, "authorization_code grant: cannot issue %s: %s", what, st.message().c_str());
  return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
}

bool Has(const std::vector<std::string>& scopes, std::string_view scope) {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

// Steps 4-6: what the request must match in an unconsumed code. nullopt = all good.
std::optional<std::string_view> CheckCodeRequest(const Form& form, const store::Grant& code,
                                                 const std::optional<store::User>& user) {
  if (!code.redirect_uri.empty() && form.Get("redirect_uri") != code.redirect_uri) return kRedirectUriMismatch;
  const std::string_view verifier = form.Get("code_verifier");
  if (!code.code_challenge.empty()) {
    if (!IsValidPkceString(verifier) ||
        !PkceVerifierMatches(verifier, code.code_challenge, code.code_challenge_method)) {
      return kInvalidVerifier;
    }
  } else if (form.Has("code_verifier")) {
    return kUnexpectedVerifier;
  }
  if (!user.has_value() || !user->is_active) return kInvalidCode;
  return std::nullopt;
}

// Whether a request presenting a used code proves it comes from the code's client: a confidential client has
// authenticated (the dispatcher refuses it otherwise); for a public client only a code_verifier that matches the
// code's challenge does. A public client's code without PKCE can never be proven, so its replay revokes nothing.
bool ReplayProvesPossession(const store::Client& client, const Form& form, const store::Grant& code) {
  if (!client.IsPublic()) return true;
  if (code.code_challenge.empty()) return false;
  const std::string_view verifier = form.Get("code_verifier");
  return IsValidPkceString(verifier) && PkceVerifierMatches(verifier, code.code_challenge, code.code_challenge_method);
}

// The tokens of a successful redemption, built before the write transaction.
struct IssuedTokens {
  IssuedAccessToken access;
  std::optional<NewGrant> refresh;
};

}  // namespace

http::Response HandleAuthorizationCode(const TokenRequest& request) {
  const store::Client& client = request.client;
  if (!client.AllowsGrantType("authorization_code")) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed the authorization_code grant");
  }
  const std::string_view code_param = request.form.Get("code");
  if (code_param.empty()) return OAuthError(400, kInvalidRequest, "code is missing");
  if (code_param.size() > kMaxAuthorizationCodeLength) return InvalidGrant(kInvalidCode);
  const int64_t now = request.clock.NowSeconds();
  const std::string hash = AuthorizationCodeKey(code_param);

  // The code and its user, in one read transaction. The write transaction below decides again on fresh data.
  std::optional<store::Grant> code;
  std::optional<store::User> user;
  Status st = request.store->Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = txn.GetGrant(hash);
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    code = std::move(g).value();
    if (code->subject.empty()) return Status::OK();
    Result<store::User> u = txn.GetUser(code->subject);
    if (!u.ok()) return u.status().IsNotFound() ? Status::OK() : u.status();
    user = std::move(u).value();
    return Status::OK();
  });
  if (!st.ok()) return StoreFailure(st);
  if (!code.has_value() || !IsLiveAuthorizationCodeOf(*code, client.client_id, now)) return InvalidGrant(kInvalidCode);

  // A consumed code builds nothing: its second use is detected (and its family revoked) in the transaction.
  std::optional<IssuedTokens> tokens;
  if (!code->consumed_at.has_value()) {
    if (std::optional<std::string_view> error = CheckCodeRequest(request.form, *code, user)) {
      return InvalidGrant(*error);
    }
    const std::vector<std::string>& granted = code->scopes;

    // grant_id is always the code's family: a second use of the code makes these tokens inactive.
    const AccessTokenRequest token_request = AccessTokenRequestFromGrant(client, *code, granted, user->claims);
    const ResourceOwner& ro = *token_request.resource_owner;
    Result<IssuedAccessToken> access = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
    if (!access.ok()) return SigningFailure("an access token", access.status());
    tokens.emplace();
    tokens->access = std::move(access).value();

    if (Has(granted, kOfflineAccess) && client.allow_offline_access) {
      store::Grant g = RefreshGrantFromResourceOwner(request.snapshot, client, code->subject, granted, ro);
      g.session_id = code->session_id;
      tokens->refresh = NewRefreshTokenInFamily(request.snapshot, client, std::move(g), code->family, now);
    }

    if (Has(granted, kOpenIdScope)) {
      IdTokenRequest id_request = IdTokenRequestFromGrant(client, *code, granted, tokens->access.access_token);
      id_request.nonce = code->nonce;
      id_request.user_claims = user->claims;
      Result<std::string> id_token = IssueIdToken(request.config, request.snapshot, request.clock, id_request);
      if (!id_token.ok()) return SigningFailure("an id_token", id_token.status());
      tokens->access.id_token = std::move(id_token).value();
    }
  }

  // The write and the answer run on the thread that commits the write (answer_after_write.h) and own what they use;
  // the token endpoint keeps the snapshot and the client in it alive for them.
  struct Redemption {
    std::string hash;
    std::optional<IssuedTokens> tokens;
    std::vector<const NewGrant*> issued;  // into tokens
    std::string family;
    CodeRedemption outcome = CodeRedemption::kRejected;
  };
  auto w = std::make_shared<Redemption>();
  w->hash = hash;
  w->tokens = std::move(tokens);
  w->family = code->family;
  if (w->tokens.has_value()) {
    if (w->tokens->refresh.has_value()) w->issued.push_back(&*w->tokens->refresh);
    if (w->tokens->access.reference.has_value()) w->issued.push_back(&*w->tokens->access.reference);
  }
  // With tokens built, steps 4-6 passed (a PKCE code's verifier matched), so a race lost to a parallel request counts
  // as proven reuse, as the double redemption it is.
  const bool proof = ReplayProvesPossession(client, request.form, *code);
  const auto write = [w, snapshot = &request.snapshot, client_id = std::string_view(client.client_id), now,
                      proof](store::Txn& txn) -> Status {
    Result<CodeRedemption> r = RedeemAuthorizationCode(txn, *snapshot, w->hash, client_id, now, w->issued, proof);
    if (!r.ok()) return r.status();
    w->outcome = *r;
    // Redeeming without tokens built cannot happen (a consumed code never becomes unconsumed); if the store says
    // otherwise, write nothing rather than consume the code for an empty answer.
    if (w->outcome == CodeRedemption::kRedeemed && !w->tokens.has_value()) {
      return Status::Conflict("the authorization code changed during the request");
    }
    return Status::OK();  // kReuseDetected must commit: the revocation is the point
  };
  const auto answer = [w, client_id = std::string_view(client.client_id)](const Status& written) -> http::Response {
    if (!written.ok()) {
      if (written.code() == Status::Code::kConflict) return InvalidGrant(kInvalidCode);
      return StoreFailure(written);
    }
    switch (w->outcome) {
      case CodeRedemption::kRedeemed:
        break;
      case CodeRedemption::kRejected:
        return InvalidGrant(kInvalidCode);
      case CodeRedemption::kReuseDetected:
        Logf(LogLevel::kWarn, "authorization code reuse by client %s: its grant family %s is revoked",
             SanitizeForLog(client_id).c_str(), w->family.c_str());
        return InvalidGrant(kInvalidCode);
      case CodeRedemption::kReplayWithoutProof:
        Logf(LogLevel::kWarn,
             "authorization code replay for public client %s without a matching code_verifier: its grant family %s "
             "is kept",
             SanitizeForLog(client_id).c_str(), w->family.c_str());
        return InvalidGrant(kInvalidCode);
    }
    IssuedTokens& issued = *w->tokens;
    if (issued.refresh.has_value()) issued.access.refresh_token = std::move(issued.refresh->handle);
    return AccessTokenResponse(issued.access);
  };
  return AnswerAfterWrite(request.store, write, answer);
}

}  // namespace tf::oauth
