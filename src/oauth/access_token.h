// JWT access tokens (RFC 9068) and the RFC 6749 §5.1 response that carries them. Shared by every grant that issues
// an access token.
//
//   header  {"alg":<alg>,"kid":<RFC 7638 thumbprint>,"typ":"at+jwt"}
//   claims  iss        config.issuer
//           nbf, iat   now (tf::Clock)
//           exp        now + client.AccessTokenLifetime (or AccessTokenRequest.lifetime when set; never longer)
//           aud        names of the enabled ApiResources whose Scopes contain a granted scope: a string when one,
//                      an array when several, "<issuer>/resources" when none
//           scope      the granted scopes, space-delimited (a JSON array when config.scope_claim_as_array)
//           client_id  the client
//           sub        the subject (for client_credentials: the client id; for a user: the SubjectId)
//           act        RFC 8693 §4.1 actor (AccessTokenRequest.act_json; token exchange with an actor_token)
//         for a resource owner (AccessTokenRequest.resource_owner, e.g. the password grant):
//           auth_time  when the user authenticated (now)
//           idp        the login provider that checked the credentials ("local")
//           amr        the authentication methods, e.g. ["pwd"]
//           tenant     the tenant the user was found in, when not ""
//           acr        the passed-through acr_values, when not ""
//           <Type>     each user claim whose Type is in the UserClaims of a granted enabled ApiScope or of an
//                      audience ApiResource (IdentityServer's access-token claims; identity resources do not add
//                      claims to access tokens); a type given several times becomes an array
//         grant_id   the grant family (AccessTokenRequest.grant_id, RandomHandle(16)) when the token is issued from
//                      one (password with offline_access, refresh_token): introspection reports the token inactive
//                      once the family is revoked (grant_family.h)
//           jti        RandomHandle(16): 128 random bits, base64url, 22 chars; only when client.IncludeJwtId
//           <Type>     each of AccessTokenRequest.extra_claims, unfiltered (an extension grant's claims)
//           <ClientClaimsPrefix><Type>  each client Claim when requested (client_credentials always; user grants
//                      only with AlwaysSendClientClaims, as IdentityServer); a claim type given several times becomes
//                      an array
//         Claim values: ValueType boolean/integer (IdentityServer's ClaimValueTypes) emits a JSON bool/number, else a
//         string. A user or client claim whose final name is a protocol claim (iss nbf iat exp aud scope client_id
//         sub jti auth_time idp amr acr tenant nonce sid cnf at_hash c_hash grant_id act may_act) or was already
//         written is skipped, so a stored claim can never forge one of those or produce a duplicate name.
//
// Token format per client (AccessTokenType): Jwt signs the claims (below); Reference returns an opaque handle and
// IssuedAccessToken.reference holds the grant (reference_tokens.h) the caller must store, in the same write
// transaction as anything else the response names, before answering. A reference token needs no signing key.
//
// Signing algorithm (SelectSigningKey): the candidates are config.access_token_signing_alg, narrowed by the
// AllowedAccessTokenSigningAlgorithms of the audience resources (intersection of every non-empty list, in the order
// of the first such list). Prefer the configured alg if it is a candidate and has a current key, else the first
// candidate with a current key. No candidate or no current key is an Internal error (the endpoint answers 500).
//
// Thread-safety: pure functions of their arguments (key signing is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/reference_tokens.h"
#include "store/records.h"
#include "token/jws.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::oauth {

// The private claim that ties a JWT access token to its grant's refresh family: introspection and UserInfo look the
// family up to refuse a token whose family was revoked, and introspection leaves the claim out of its answer.
inline constexpr std::string_view kGrantIdClaim = "grant_id";

// The user a token is issued for (grants with a resource owner). Everything here is already validated.
struct ResourceOwner {
  int64_t auth_time = 0;                  // Unix seconds
  std::string idp;                        // login provider name
  std::vector<std::string> amr;           // e.g. {"pwd"}
  std::string tenant;                     // "" = none (no claim)
  std::string acr;                        // "" = none (no claim)
  std::vector<store::ClaimValue> claims;  // all of the user's claims; IssueAccessToken selects (see above)
};

struct AccessTokenRequest {
  const store::Client* client = nullptr;
  std::string subject;
  std::vector<std::string> scopes;    // granted, already validated (identity scopes too, for user grants)
  bool include_client_claims = false;
  std::optional<ResourceOwner> resource_owner;  // absent for client_credentials
  std::string grant_id;               // the grant family, "" = none (no grant_id claim)
  std::string act_json;               // RFC 8693 §4.1 "act": a JSON object naming the actor, "" = no act claim
  int64_t lifetime = 0;               // seconds, 1..client.AccessTokenLifetime; 0 = client.AccessTokenLifetime
  std::vector<store::ClaimValue> extra_claims;  // written as they are (an extension grant plug-in's claims)
};

struct IssuedAccessToken {
  std::string access_token;           // the JWT, or the reference handle
  int64_t expires_in = 0;
  int64_t expires_at = 0;             // the exp claim
  std::string scope;                  // space-delimited granted scopes
  std::string claims_json;            // the claims (the JWT payload; a reference token's access_token_json)
  std::optional<NewGrant> reference;  // Reference clients: the grant to store before answering
  std::string refresh_token;          // set by the grant handler; "" = none in the response
  std::string id_token;               // set by the grant handler (OpenID Connect, id_token.h); "" = none
  std::string issued_token_type;      // RFC 8693 §2.2.1 issued_token_type (token exchange); "" = none
};

// The claim types a token for `scopes` carries from the user: the UserClaims of the granted enabled ApiScopes and
// of the audience ApiResources, each once, in that order.
std::vector<std::string> AccessTokenUserClaimTypes(const Snapshot& snapshot, const std::vector<std::string>& scopes,
                                                   const std::vector<size_t>& audience);

// The enabled API resources (indices into snapshot.api_resources, ascending) whose scopes include a granted one.
std::vector<size_t> AudienceResources(const Snapshot& snapshot, const std::vector<std::string>& scopes);

Result<std::shared_ptr<const token::SigningKey>> SelectSigningKey(const Config& config, const Snapshot& snapshot,
                                                                  const std::vector<size_t>& audience);

Result<IssuedAccessToken> IssueAccessToken(const Config& config, const Snapshot& snapshot, const Clock& clock,
                                           const AccessTokenRequest& request);

// 200 {"access_token":...,["issued_token_type":...,]"token_type":"Bearer","expires_in":...,"scope":...
//      [,"refresh_token":...][,"id_token":...]}
// with the no-store headers.
http::Response AccessTokenResponse(const IssuedAccessToken& token);

}  // namespace tf::oauth
