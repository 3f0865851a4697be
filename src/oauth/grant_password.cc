// The resource owner password credentials grant (RFC 6749 §4.3): a client sends a user's username and password and
// gets an access token for that user. Checks, in this order (nothing is hashed before step 5):
//
//   1. unauthorized_client  the client is not allowed "password" in AllowedGrantTypes. Public clients
//                           (RequireClientSecret = false) may use the grant, as in IdentityServer.
//   2. invalid_request      username or password missing, or longer than 100 bytes (store::kMaxUsernameLength,
//                           kMaxPasswordLength: IdentityServer's InputLengthRestrictions)
//   3. invalid_request      acr_values malformed (acr_values.h), or its identity provider not enabled, not allowed
//                           for the client (login_provider.h), or one that cannot check a password (anything but
//                           "local")
//   4. invalid_scope        scopes.h's ResolveUserScopes (identity and API scopes; offline_access needs the client's
//                           AllowOfflineAccess; an omitted scope includes it when the client has it)
//   5. invalid_grant        resource_owner.h: unknown user, wrong password, no password, disabled or locked-out user
//                           all give the same 400 {"error":"invalid_grant","error_description":"invalid username or
//                           password"}, byte for byte, in about the same time
//   500 server_error        the store cannot be read or written, or no usable signing key (logged)
//   503 temporarily_unavailable  the store is full (Retry-After; errors.h StoreFailureResponse)
//   200                     a JWT access token (access_token.h) with sub = the user's SubjectId, auth_time, idp,
//                           amr ["pwd"], tenant (with tenant:NAME), acr (with config acr_claim: local_acr, what
//                           the password login met; requested acr_values never become the claim), the user claims
//                           the granted API scopes and resources ask for, and the client's claims only with
//                           AlwaysSendClientClaims; a reference handle instead of the JWT for an
//                           AccessTokenType = Reference client (reference_tokens.h). With offline_access granted, a
//                           refresh_token too (refresh_tokens.h): a new grant family, whose id the access token
//                           carries as "grant_id", holding the login's auth_time, idp, amr, tenant, acr and a snapshot
//                           of the user claims the access token carried. New grants are stored in one write
//                           transaction before the answer. No id_token yet.
//
// Thread-safety: as every grant handler (grant.h).
#include <algorithm>

#include "oauth/access_token.h"
#include "oauth/acr_values.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/login_provider.h"
#include "oauth/refresh_tokens.h"
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
  const std::string_view username = request.form.Get("username");
  const std::string_view password = request.form.Get("password");
  if (username.empty()) return OAuthError(400, kInvalidRequest, "username is missing");
  if (password.empty()) return OAuthError(400, kInvalidRequest, "password is missing");
  if (username.size() > store::kMaxUsernameLength) return OAuthError(400, kInvalidRequest, "username is too long");
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
  if (!user.ok() && PasswordChecksBusy(user.status())) {
    // Every password check slot stayed busy (a flood of passwords): come back shortly.
    http::Response busy = OAuthError(503, kTemporarilyUnavailable, "too many password checks at once; retry shortly");
    busy.SetHeader("Retry-After", "1");
    return busy;
  }
  if (!user.ok()) {
    return StoreFailureResponse("password grant: the user store", user.status(),
                                "the server cannot check credentials at the moment");
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
  ro.acr = LoginAcr(request.config, ro.idp);  // the level the password login met, never the requested values
  ro.claims = std::move(owner.claims);

  // offline_access: a refresh token, the first of a new grant family.
  std::optional<NewGrant> refresh;
  const std::vector<std::string>& granted = token_request.scopes;
  if (std::find(granted.begin(), granted.end(), kOfflineAccess) != granted.end()) {
    store::Grant g = RefreshGrantFromResourceOwner(request.snapshot, client, token_request.subject, granted, ro);
    refresh = NewRefreshToken(request.snapshot, client, std::move(g), now);
    token_request.grant_id = refresh->grant.family;
  }

  Result<IssuedAccessToken> token = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
  if (!token.ok()) {
    Logf(LogLevel::kError, "cannot issue an access token: %s", token.status().message().c_str());
    return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
  }
  return StoreNewGrantsAndRespond(*request.store, std::move(refresh), std::move(token).value(), "password grant");
}

}  // namespace tf::oauth
