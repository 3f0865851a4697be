// CORS (the Fetch standard's CORS protocol) for the endpoints a browser application calls from its own origin: token,
// revocation, introspection, userinfo, discovery and JWKS. The authorize endpoint and its login page never answer
// with CORS headers: they are navigated to, not fetched.
//
//   allowed    the request's Origin, normalised (util/origin.h: scheme, host, port; default ports dropped; a path is
//              never part of an origin), is in Snapshot::cors_origins: the AllowedCorsOrigins of every enabled client,
//              as IdentityServer's default policy. For every CORS endpoint, discovery and JWKS included, any
//              configured origin is allowed; an origin nobody lists gets no CORS header at all.
//   answer     Access-Control-Allow-Origin: the Origin exactly as the browser sent it (never "*"; no credentials mode).
//              Every answer of a CORS endpoint carries Vary: Origin, whoever asked.
//   preflight  OPTIONS on a CORS endpoint answers 204 with Allow; for an allowed Origin also
//              Access-Control-Allow-Methods (the endpoint's methods), Access-Control-Allow-Headers (Authorization,
//              Content-Type) and Access-Control-Max-Age (600 s).
//
// The origin set lives in the configuration snapshot: no store read per request beyond the snapshot's own check.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "http/request.h"
#include "oauth/catalog.h"

namespace tf::oauth {

// The methods of a CORS endpoint ("POST", "GET, HEAD", ...), for Allow and Access-Control-Allow-Methods; "" when
// `path` (below the base path) is not one.
std::string_view CorsEndpointMethods(std::string_view path);

// The 204 answer to OPTIONS on a CORS endpoint (CORS headers come from AddCorsHeaders).
http::Response PreflightResponse(std::string_view methods);

// Adds Vary: Origin and, when request.origin is allowed by `snapshot` (may be null: no origin is), the CORS headers
// above to `response`, the answer of the CORS endpoint with `methods`.
void AddCorsHeaders(const http::Request& request, const Snapshot* snapshot, std::string_view methods,
                    http::Response* response);

}  // namespace tf::oauth
