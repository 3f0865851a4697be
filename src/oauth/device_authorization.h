// The device authorization endpoint, POST {base_path}/connect/deviceauthorization (RFC 8628 §3.1, §3.2). Checks, in
// order, with the token endpoint's answers (JSON, Cache-Control: no-store):
//   1. the body, its media type and the form exactly as at the token endpoint (form_post.h) -> 400/413 invalid_request
//   2. client authentication as at the token endpoint (client_authentication.h) -> 400 invalid_request or
//      401 invalid_client
//   3. the client does not list urn:ietf:params:oauth:grant-type:device_code in AllowedGrantTypes
//      -> 400 unauthorized_client
//   4. scope: ResolveUserScopes (scopes.h: openid, identity scopes, API scopes, offline_access with
//      AllowOfflineAccess) -> 400 invalid_scope
//   5. the device code and its user code are stored in one write transaction (device_codes.h) -> 500 server_error
//      when the store fails (logged)
//   200 {"device_code","user_code","verification_uri":"<issuer><base_path>/device",
//        "verification_uri_complete":"<verification_uri>?user_code=<user_code>","expires_in":DeviceCodeLifetime,
//        "interval":PollingInterval}
// The method (POST only; GET is 405) is checked by the router (service.cc).
//
// Thread-safety: as the Service.
#pragma once

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/request_log.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

http::Response HandleDeviceAuthorizationRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                                const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
