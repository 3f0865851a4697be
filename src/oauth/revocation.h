// Token revocation, POST {base_path}/connect/revocation (RFC 7009). A client tells the server it no longer needs a
// token it was issued.
//
//   1-3. the body, its media type and the form, with the token endpoint's answers (form_post.h): 413/400
//        invalid_request. The method (POST only, else 405 with Allow: POST) is checked by the router (service.cc).
//   4.   client authentication exactly as at the token endpoint (client_authentication.h): 400 invalid_request or
//        401 invalid_client. Public clients revoke with their client_id alone (RFC 7009 §5 expects that).
//   5.   `token` missing -> 400 invalid_request. `token_type_hint` is only a hint (§2.1): any value, known
//        (refresh_token, access_token) or not, is accepted and ignored, because one hashed lookup finds every kind.
//   6.   the token is looked up by SHA-256 in the grants (a read transaction; only a token this request revokes
//        takes a write transaction, which looks again and acts in one commit):
//          a refresh token of this client        its whole family is revoked (grant_family.h RevokeGrantFamily:
//                                                every refresh and reference token of the original grant, plus a
//                                                revocation record so introspection reports the family's JWT access
//                                                tokens inactive). A consumed (rotated) or expired but not yet
//                                                collected refresh token still names its family (a rotated handle
//                                                that has no record any more through refresh_tokens.h
//                                                ReadRefreshToken: its own family and generation, under its MAC).
//          a reference access token of this client  that token is deleted; its family (if any) lives on: revoking
//                                                an access token must not end the user's session (RFC 7009 §2.1
//                                                makes the converse optional, not this)
//          another client's token                nothing is changed (§2.1: the token must have been issued to the
//                                                requesting client)
//          an authorization or device code       nothing (not a token this endpoint revokes)
//          a JWT access token, or anything else  nothing: a JWT is not stored and cannot be revoked on its own; it
//                                                expires on its own (and is reported inactive by introspection once
//                                                its family is revoked)
//   7.   200 with an empty body and Cache-Control: no-store, Pragma: no-cache, whatever step 6 found (§2.2), so the
//        answer never tells whether a token exists or whose it is. A store failure is 500 server_error (logged).
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

http::Response HandleRevocationRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                       const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
