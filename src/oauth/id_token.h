// OpenID Connect id_tokens (OIDC Core §2, §3.1.3.6): issued by the authorization_code grant when `openid` was
// granted, and again by the refresh_token grant for a grant that has `openid` (§12.2).
//
//   header  {"alg":<alg>,"kid":<RFC 7638 thumbprint>,"typ":"JWT"}
//   claims  iss        config.issuer
//           sub        the user's SubjectId
//           aud        the client id (a string)
//           iat, nbf   now
//           exp        now + client.IdentityTokenLifetime
//           auth_time  when the user authenticated (always present)
//           nonce      the authorize request's nonce, when not "" (never on refresh)
//           at_hash    base64url of the left half of SHA-256(access_token) for RS256, PS256 and ES256 (OIDC Core
//                      §3.1.3.6); omitted when no access token is given, and for EdDSA, for which OpenID Connect names
//                      no hash (Authlib and go-oidc refuse SHA-512; at_hash is optional in the code flow)
//           sid        the login session id, when not ""
//           idp, amr   the login provider and authentication methods (each omitted when empty)
//           acr        when not ""
//           <Type>     with client.AlwaysIncludeUserClaimsInIdToken: each user claim whose Type is in the UserClaims of
//                      a granted enabled IdentityResource (IdentityClaimTypes); the same value rules as access tokens
//                      (ValueType boolean/integer emit JSON bool/number, repeated types become arrays, protocol claim
//                      names are never overwritten)
//
// Signing (SelectIdTokenSigningKey): the candidates are the client's AllowedIdentityTokenSigningAlgorithms in its
// order, or config.id_token_signing_alg when that list is empty; the first candidate with a current key signs. None
// is an Internal error (the endpoint answers 500 server_error and logs which algorithm lacks a key).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "oauth/catalog.h"
#include "store/records.h"
#include "token/jws.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::oauth {

inline constexpr std::string_view kOpenIdScope = "openid";

struct IdTokenRequest {
  const store::Client* client = nullptr;
  std::string subject;
  std::vector<std::string> scopes;          // granted scopes (identity scopes select the user claims)
  int64_t auth_time = 0;
  std::string idp;
  std::vector<std::string> amr;
  std::string acr;                          // "" = no claim
  std::string sid;                          // "" = no claim
  std::string nonce;                        // "" = no claim
  std::string access_token;                 // the access token issued alongside, for at_hash ("" = no at_hash)
  std::vector<store::ClaimValue> user_claims;  // all of the user's claims (selected as above)
};

// The user claim types of the granted enabled IdentityResources (their UserClaims, each once, in scope order). Used
// for id_tokens and by the userinfo endpoint.
std::vector<std::string> IdentityClaimTypes(const Snapshot& snapshot, const std::vector<std::string>& scopes);

// base64url(left half of SHA-256(access_token)) (the at_hash value) for RS256, PS256 and ES256; "" for EdDSA.
std::string AccessTokenHash(token::Alg alg, std::string_view access_token);

Result<std::shared_ptr<const token::SigningKey>> SelectIdTokenSigningKey(const Config& config,
                                                                         const Snapshot& snapshot,
                                                                         const store::Client& client);

// The signed id_token.
Result<std::string> IssueIdToken(const Config& config, const Snapshot& snapshot, const Clock& clock,
                                 const IdTokenRequest& request);

}  // namespace tf::oauth
