// Token introspection, POST {base_path}/connect/introspect (RFC 7662): a resource server (or a client) asks whether a
// token is active and what it says.
//
//   1-3. the body, its media type and the form, with the token endpoint's answers (form_post.h): 413/400
//        invalid_request. The method (POST only, else 405 with Allow: POST) is checked by the router (service.cc).
//   4.   the caller authenticates (Basic or client_id/client_secret in the body), as either
//          an API resource   its Name and one of its ApiSecrets (api_resource_authentication.h), resource enabled
//          a client          a confidential client, exactly as at the token endpoint (client_authentication.h).
//                            Public clients cannot introspect: their client_id proves nothing.
//        The resource is tried first, then the client. Every failure (no or malformed credentials, unknown or
//        disabled caller, wrong or expired secret, two methods at once, a public client) is the same 401
//        invalid_client with WWW-Authenticate (errors.h), byte for byte.
//   5.   `token` missing -> 400 invalid_request. `token_type_hint` is accepted and ignored (§2.1 makes it a hint;
//        the token's shape and one hashed lookup tell the kinds apart).
//   6.   200 {"active":false} for anything invalid, unknown, expired, revoked or not visible to the caller, so the
//        answer never tells which; else 200 {"active":true, ...}. Both carry Cache-Control: no-store. A store
//        failure is 500 server_error (logged).
//
// Which tokens are active (now = the Clock, skew = config.clock_skew_seconds):
//   JWT access token (has '.')  compact JWS; header alg and kid name a published key (current, next or retired)
//                               of that alg and the signature verifies with it; typ at+jwt (or application/at+jwt,
//                               any case); iss = config.issuer; exp present and now < exp + skew; nbf absent or
//                               nbf <= now + skew; if it carries grant_id (issued from a grant with a refresh
//                               family), no revocation record for that family.
//   reference access token      SHA-256 of the handle is a reference_token grant, now < its expiry, its family
//                               (if any) not revoked; the answer is its stored access_token_json.
//   refresh token               SHA-256 of the handle is a refresh_token grant, not consumed (rotated away), now <
//                               its expiry (and its absolute cap), family not revoked. Client callers only.
// Visibility: an API resource sees access tokens whose aud names it (IdentityServer's rule) and never refresh tokens;
// a client sees only tokens whose client_id is its own. Anything else is {"active":false}.
//
// The active answer is the token's claims (JWT payload, or the reference token's stored claims), every one of them
// as IdentityServer answers, with: "active":true first; scope always as a space-delimited string (RFC 7662 §2.2),
// also when config.scope_claim_as_array made it an array in the token; token_type "Bearer"; the internal grant_id
// left out. For a refresh token: iss, client_id, sub (when the grant has a user), scope, iat (creation), exp,
// auth_time (when known), token_type "refresh_token".
//
// Thread-safety: as the Service; everything per request lives on the stack.
#pragma once

#include <string_view>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/request_log.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

http::Response HandleIntrospectionRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                          const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
