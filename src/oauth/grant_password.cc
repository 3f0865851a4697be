// The resource owner password credentials grant (RFC 6749 §4.3): a client sends a user's username and password and
// gets an access token for that user. Checks, in this order (nothing is hashed before step 5):
//
//   1. unauthorized_client  the client is not allowed "password" in AllowedGrantTypes, or wants reference tokens
//                           (AccessTokenType = Reference: not supported yet). Public clients (RequireClientSecret =
//                           false) may use the grant, as in IdentityServer.
//   2. invalid_request      username or password missing, or longer than 100 bytes (kMaxUsernameLength,
//                           kMaxPasswordLength: IdentityServer's InputLengthRestrictions)
//   3. invalid_request      acr_values malformed (acr_values.h), or its identity provider not enabled, not allowed
//                           for the client (login_provider.h), or one that cannot check a password (anything but
//                           "local")
//   4. invalid_scope        scopes.h's ResolveUserScopes (identity and API scopes; offline_access refused for now)
//   5. invalid_grant        resource_owner.h: unknown user, wrong password, no password, disabled or locked-out user
//                           all give the same 400 {"error":"invalid_grant","error_description":"invalid username or
//                           password"}, byte for byte, in about the same time
//   500 server_error        the store cannot be read or written, or no usable signing key (logged)
//   200                     a JWT access token (access_token.h) with sub = the user's SubjectId, auth_time, idp,
//                           amr ["pwd"], tenant (with tenant:NAME), acr (passed-through acr_values, with config
//                           acr_claim), the user claims the granted API scopes and resources ask for, and the client's
//                           claims only with AlwaysSendClientClaims. No refresh token and no id_token yet.
//
// Thread-safety: as every grant handler (grant.h).
#include "oauth/access_token.h"
#include "oauth/acr_values.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/login_provider.h"
#include "oauth/resource_owner.h"
#include "oauth/scopes.h"
#include "password/password_hash.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

// The one description of every invalid_grant answer of this grant.
constexpr std::string_view kInvalidCredentials = "invalid username or password";

}  // namespace

http::Response HandlePassword(const TokenRequest& request) {
  const store::Client& client = request.client;
  if (!client.AllowsGrantType("password")) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed the password grant");
  }
  if (client.access_token_type != store::AccessTokenType::kJwt) {
    return OAuthError(400, kUnauthorizedClient, "reference access tokens are not supported");
  }

  const std::string_view username = request.form.Get("username");
  const std::string_view password = request.form.Get("password");
  if (username.empty()) return OAuthError(400, kInvalidRequest, "username is missing");
  if (password.empty()) return OAuthError(400, kInvalidRequest, "password is missing");
  if (username.size() > kMaxUsernameLength) return OAuthError(400, kInvalidRequest, "username is too long");
  if (password.size() > kMaxPasswordLength) return OAuthError(400, kInvalidRequest, "password is too long");

  Result<AcrValues> acr = ParseAcrValues(request.form.Get("acr_values"));
  if (!acr.ok()) return OAuthError(400, kInvalidRequest, acr.status().message());
  Result<std::string> provider = SelectLoginProvider(request.config, client, acr->idp);
  if (!provider.ok()) return OAuthError(400, kInvalidRequest, provider.status().message());
  if (*provider != kLocalProvider) {
    return OAuthError(400, kInvalidRequest, "the identity provider cannot check passwords");
  }

  Result<std::vector<std::string>> scopes = ResolveUserScopes(request.snapshot, client, request.form.Get("scope"));
  if (!scopes.ok()) return OAuthError(400, kInvalidScope, scopes.status().message());

  const int64_t now = request.clock.NowSeconds();
  Result<std::optional<store::User>> user =
      ValidateResourceOwnerPassword(*request.store, request.config, now, acr->tenant, username, password);
  if (!user.ok()) {
    Logf(LogLevel::kError, "password grant: the user store failed: %s", user.status().ToString().c_str());
    return OAuthError(500, kServerError, "the server cannot check credentials at the moment");
  }
  if (!user->has_value()) return OAuthError(400, kInvalidGrant, kInvalidCredentials);
  store::User& owner = **user;

  AccessTokenRequest token_request;
  token_request.client = &client;
  token_request.subject = owner.subject_id;
  token_request.scopes = std::move(scopes).value();
  token_request.include_client_claims = client.always_send_client_claims;
  ResourceOwner& ro = token_request.resource_owner.emplace();
  ro.auth_time = now;
  ro.idp = std::move(provider).value();
  ro.amr = {"pwd"};
  ro.tenant = acr->tenant;
  if (request.config.acr_claim) ro.acr = acr->AcrClaim();
  ro.claims = std::move(owner.claims);

  Result<IssuedAccessToken> token = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
  if (!token.ok()) {
    Logf(LogLevel::kError, "cannot issue an access token: %s", token.status().message().c_str());
    return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
  }
  return AccessTokenResponse(*token);
}

}  // namespace tf::oauth
