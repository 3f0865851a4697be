// RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0), GET|POST {base_path}/connect/endsession: a relying
// party sends the browser here to end the user's login session at this provider.
//
// Parameters come from the query string (GET) or an application/x-www-form-urlencoded body (POST), decoded strictly
// as the authorize endpoint's (form.h). In order:
//   1. unreadable parameters (repeated, badly encoded, too many; a POST of another media type, too large or
//      incomplete)                                                          -> 400 error page
//   2. id_token_hint (optional, at most kMaxIdTokenHintLength bytes): an id_token this service issued: a compact
//      JWS whose header alg and kid name a published key (current, next or retired) whose signature verifies, and
//      whose iss is config.issuer. Its exp is NOT checked: §2 of the specification lets an expired hint through,
//      since a relying party often logs out long after its id_token expired. Its aud (a string, or an array of
//      exactly one) names the client. A hint that fails any of this        -> 400 error page
//   3. client_id (optional): must name the hint's client when both are sent; an unknown or disabled client, or a
//      disagreement                                                         -> 400 error page
// Then the login session ends: the answer always clears the session cookie (session.h, Max-Age=0). The security
// stamp is not moved, so this signs out this browser only (`tokenctl session revoke` ends every session of a user).
//   4. post_logout_redirect_uri (optional): followed only when the client is known (from the hint or client_id) and
//      the URI is exactly (byte for byte) one of its PostLogoutRedirectUris (and has no control character):
//      302 to it with `state` appended when sent (authorize_response.h's AppendQuery).
//      Otherwise (no URI, no client, or no exact match)                     -> 200 signed-out page
// Every answer carries Cache-Control: no-store. The request log names the client (when known) and the outcome:
// "redirect", "signed_out", or "error_page".
//
// Thread-safety: as the Service.
#pragma once

#include <cstddef>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/paths.h"
#include "oauth/request_log.h"

namespace tf::oauth {

inline constexpr size_t kMaxIdTokenHintLength = 8192;  // bytes

http::Response HandleEndSessionRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                       RequestLog* log);

}  // namespace tf::oauth
