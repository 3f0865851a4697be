// The client credentials grant (RFC 6749 §4.4): a confidential client asks for a token for itself.
//
//   unauthorized_client  the client is public (RequireClientSecret = false), is not allowed "client_credentials" in
//                        AllowedGrantTypes, or wants reference tokens (AccessTokenType = Reference: not supported yet)
//   invalid_scope        see scopes.h
//   500 server_error     no usable signing key (access_token.h); logged with the algorithms tried
//   200                  a JWT access token (access_token.h) whose sub is the client id, with the client's claims;
//                        no refresh token (RFC 6749 §4.4.3)
#include "oauth/access_token.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/scopes.h"
#include "util/log.h"

namespace tf::oauth {

http::Response HandleClientCredentials(const TokenRequest& request) {
  const store::Client& client = request.client;
  if (client.IsPublic()) {
    return OAuthError(400, kUnauthorizedClient, "a public client cannot use the client_credentials grant");
  }
  if (!client.AllowsGrantType("client_credentials")) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed the client_credentials grant");
  }
  if (client.access_token_type != store::AccessTokenType::kJwt) {
    return OAuthError(400, kUnauthorizedClient, "reference access tokens are not supported");
  }

  Result<std::vector<std::string>> scopes = ResolveApiScopes(request.snapshot, client, request.form.Get("scope"));
  if (!scopes.ok()) return OAuthError(400, kInvalidScope, scopes.status().message());

  AccessTokenRequest token_request;
  token_request.client = &client;
  token_request.subject = client.client_id;
  token_request.scopes = std::move(scopes).value();
  token_request.include_client_claims = true;  // the client is the subject: its claims always apply
  Result<IssuedAccessToken> token =
      IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
  if (!token.ok()) {
    Logf(LogLevel::kError, "cannot issue an access token: %s", token.status().message().c_str());
    return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
  }
  return AccessTokenResponse(*token);
}

}  // namespace tf::oauth
