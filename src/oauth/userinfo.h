// The UserInfo endpoint, GET|POST {base_path}/connect/userinfo (OpenID Connect Core §5.3), with bearer tokens as
// RFC 6750:
//
//   1. the access token: `Authorization: Bearer <token>` (scheme case-insensitive, §2.1), or for POST an
//      application/x-www-form-urlencoded body with `access_token` (§2.2; decoded as form_post.h). Both at once, two
//      different Authorization schemes, or a malformed header -> 400 invalid_request. None ->
//      401 with `WWW-Authenticate: Bearer realm="<realm>"` and no error code (§3.1).
//   2. access_token_validation.h; not valid (unknown, expired, revoked, not ours) -> 401 invalid_token with
//      `WWW-Authenticate: Bearer realm="<realm>", error="invalid_token"`. Query-string tokens are ignored (§2.3 is
//      a MAY and leaks tokens into logs).
//   3. the token's scope lacks `openid` -> 403 insufficient_scope, WWW-Authenticate error="insufficient_scope",
//      scope="openid".
//   4. the user: the token's `sub` is read from the store now (so changes and deactivation are visible at once);
//      absent or IsActive false -> 401 invalid_token.
//   5. 200 application/json {"sub":..., <claims>}: the user's claims whose Type is in the UserClaims of the token's
//      granted enabled IdentityResources (id_token.h's IdentityClaimTypes), with the value rules of access tokens.
// Every answer carries Cache-Control: no-store and Pragma: no-cache; error bodies are {"error":...,
// "error_description":...}. The method (GET or POST, else 405 with Allow) is checked by the router.
//
// Thread-safety: as the Service.
#pragma once

#include <string_view>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/request_log.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

http::Response HandleUserinfoRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                     const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
