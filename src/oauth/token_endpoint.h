// The token endpoint, POST {base_path}/connect/token (RFC 6749 §3.2), up to the grant handler:
//
//   1. the body as the adapter found it: too large -> 413 invalid_request; shorter than CONTENT_LENGTH (or a
//      malformed CONTENT_LENGTH) -> 400 invalid_request
//   2. Content-Type must be application/x-www-form-urlencoded (case-insensitive; parameters such as charset allowed)
//      -> else 400 invalid_request
//   3. the form (form.h; at most config.max_form_params parameters) -> 400 invalid_request naming the parameter.
//      Query-string parameters are ignored.
//   4. client authentication (client_authentication.h) -> 400 invalid_request or 401 invalid_client
//   5. grant_type: missing -> 400 invalid_request; longer than 100 characters -> 400 invalid_request; not in the
//      grant table (grant.h) nor served by an installed plug-in (extension_grants.h) -> 400 unsupported_grant_type
//   6. the grant handler
// The client is authenticated before grant_type is looked at, so an unauthenticated caller learns nothing about the
// grants. The method (POST only) is checked by the router (service.cc).
//
// Thread-safety: as the Service; everything per request lives on the stack.
#pragma once

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/request_log.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

inline constexpr size_t kMaxGrantTypeLength = 100;

http::Response HandleTokenRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                  const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
