// OAuth 2.0 Token Exchange (RFC 8693), the grant urn:ietf:params:oauth:grant-type:token-exchange
// (grant_token_exchange.cc): a client trades a token this service issued (the subject token) for a new access token,
// for itself, usually for another API, optionally acting for someone else (delegation with an actor token).
//
// Checks, in this order:
//   1. unauthorized_client  the client does not list the grant type in AllowedGrantTypes
//   2. invalid_request      subject_token or subject_token_type missing; actor_token without actor_token_type or
//                           the other way round; a token type other than ...:access_token or ...:id_token; a
//                           requested_token_type other than ...:access_token or ...:jwt (and ...:jwt for a client
//                           whose AccessTokenType is Reference); a token longer than kMaxExchangedTokenLength
//   3. invalid_request      the subject (or actor) token is not valid (RFC 8693 §2.2.2 names invalid_request for
//                           this): an access token is checked by ValidateAccessToken (access_token_validation.h:
//                           signature with a published key, iss, exp/nbf with clock skew, a revoked grant family, a
//                           live reference token), exactly as introspection and userinfo do; an id_token must be a
//                           compact JWS with typ JWT signed by a published key, iss = issuer, exp/nbf within the
//                           clock skew, and a sub. Expired, revoked, foreign-signed and garbage tokens get the same
//                           description ("the subject_token is not valid").
//   4. invalid_target       `audience` or `resource` (one of each at most: the form refuses repeated parameters)
//                           names no enabled ApiResource, or one none of whose enabled scopes is in the client's
//                           AllowedScopes; both are matched against ApiResource Name
//   5. invalid_scope        `scope` malformed or too long (scopes.h); a scope the client is not allowed; an identity
//                           scope for a subject that is not a user; an API scope outside the requested targets;
//                           offline_access without AllowOfflineAccess, for a subject that is not a user, or for a token
//                           that carries `act` (a refreshed token could not carry it); nothing grantable at all
//   500 server_error        no signing key, the store cannot be read or written (logged)
//   503 temporarily_unavailable  the store is full when the new grants are written (Retry-After; errors.h
//                           StoreFailureResponse)
//   200                     {"access_token", "issued_token_type", "token_type":"Bearer", "expires_in", "scope"
//                           [, "refresh_token"]}
//
// Scopes granted: the requested ones; without `scope`, the client-allowed scopes of the targets; without either, the
// subject token's scopes that the client may have (never offline_access). offline_access is granted only when asked
// for. The token's `aud` follows the granted scopes as for every access token (access_token.h).
//
// The new token: sub = the subject token's sub; client_id = the exchanging client; auth_time, idp, amr, tenant, acr
// and user claims are carried over from the subject token (never read afresh from the user store, so a token never
// says more about the user than the subject token did; the claims are filtered by the granted scopes as usual).
// Delegation: with an actor token the new token has act = {"sub": <actor's sub>} and, when the subject token had an
// act claim, that claim nested inside (RFC 8693 §4.1: the outermost act is the current actor). Without an actor
// token the subject token's act, if any, is kept as it is.
//
// Grant family: the new token joins the subject token's family (a JWT's grant_id, a reference token's family), so
// revoking that family (refresh-token reuse, the revocation endpoint for a refresh token, tokenctl grants revoke)
// makes the exchanged token introspect inactive as well. A subject token without a family (a client_credentials
// JWT, an id_token) gives a token without one, unless a refresh token is issued, which starts a new family. The
// actor token's family is not linked.
//
// Thread-safety: as every grant handler (grant.h).
#pragma once

#include <cstddef>
#include <string_view>

namespace tf::oauth {

inline constexpr std::string_view kTokenExchangeGrantType = "urn:ietf:params:oauth:grant-type:token-exchange";
inline constexpr std::string_view kAccessTokenType = "urn:ietf:params:oauth:token-type:access_token";
inline constexpr std::string_view kIdTokenType = "urn:ietf:params:oauth:token-type:id_token";
inline constexpr std::string_view kJwtTokenType = "urn:ietf:params:oauth:token-type:jwt";

// The longest subject_token or actor_token looked at (a JWT with many claims stays well below).
inline constexpr size_t kMaxExchangedTokenLength = 16384;

}  // namespace tf::oauth
