// The client credentials grant (RFC 6749 §4.4): a confidential client asks for a token for itself.
//
//   unauthorized_client  the client is public (RequireClientSecret = false), or is not allowed "client_credentials"
//                        in AllowedGrantTypes
//   invalid_scope        see scopes.h
//   500 server_error     no usable signing key (access_token.h); logged with the algorithms tried
//   500 server_error     the store cannot be written (reference tokens only; logged)
//   503 temporarily_unavailable  the store is full (reference tokens only; Retry-After); a JWT needs no write
//   200                  a JWT access token (access_token.h) whose sub is the client id, with the client's claims, or
//                        for an AccessTokenType = Reference client an opaque handle whose claims are stored
//                        (reference_tokens.h; subject ""); no refresh token (RFC 6749 §4.4.3)
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
  if (token->reference.has_value()) {
    const Status st = request.store->Update(
        [&](store::Txn& txn) { return txn.PutGrant(token->reference->key, token->reference->grant); });
    if (!st.ok()) {
      return StoreFailureResponse("client_credentials grant: storing a reference access token", st,
                                  "the server cannot issue tokens at the moment");
    }
  }
  return AccessTokenResponse(*token);
}

}  // namespace tf::oauth
