// The router: Service::Handle maps {base_path}{path} and the method to an endpoint and fills the RequestLog.
//
//   POST      {base_path}/connect/token                          token_endpoint.h
//   POST      {base_path}/connect/revocation                     revocation.h (RFC 7009)
//   POST      {base_path}/connect/introspect                     introspection.h (RFC 7662)
//   GET|POST  {base_path}/connect/authorize                      authorize.h (RFC 6749 §4.1.1, OIDC Core §3.1.2)
//   GET|POST  {base_path}/connect/userinfo                       userinfo.h (OpenID Connect Core §5.3)
//   POST      {base_path}/connect/deviceauthorization            device_authorization.h (RFC 8628 §3.1)
//   GET|POST  {base_path}/device                                 device_page.h (RFC 8628 §3.3)
//   GET|POST  {base_path}/connect/endsession                     end_session.h (OIDC RP-Initiated Logout 1.0)
//   GET|HEAD  {base_path}/.well-known/openid-configuration       discovery.h (rendered per snapshot)
//   GET|HEAD  {base_path}/.well-known/openid-configuration/jwks  discovery.h
//   anything else under any path                                 404 {"error":"not_found",...}
//   a known path with another method                             405 {"error":"method_not_allowed",...} + Allow
//   OPTIONS   token, revocation, introspect, userinfo, discovery, JWKS: 204 + Allow (CORS preflight, cors.h)
// The answers of those six endpoints carry Vary: Origin and, for an Origin a client lists, the CORS headers (cors.h).
// Paths match exactly (no trailing slash, no percent-decoding). Every JSON answer, discovery and JWKS included,
// carries Cache-Control: no-store and Pragma: no-cache, so a key rotation is visible at once. HEAD answers are the GET
// answer, body and Content-Length included: the web server sends the headers and drops the body (RFC 9110 §9.3.2,
// §8.6: a HEAD answer carries the length the GET would have).
#include "oauth/service.h"

#include <string>
#include <string_view>

#include "oauth/authorize.h"
#include "oauth/catalog.h"
#include "oauth/cors.h"
#include "oauth/device_authorization.h"
#include "oauth/device_page.h"
#include "oauth/discovery.h"
#include "oauth/end_session.h"
#include "oauth/errors.h"
#include "oauth/introspection.h"
#include "oauth/paths.h"
#include "oauth/request_log.h"
#include "oauth/revocation.h"
#include "oauth/token_endpoint.h"
#include "oauth/userinfo.h"
#include "util/log.h"

namespace tf::oauth {

struct Service::Impl {
  Impl(const Config& c, store::Store* s, const Clock* k, const token::KeyEncryptionKey* kek)
      : config(c), store(s), clock(k), catalog(config, s, kek) {}

  http::Response Route(const http::Request& request, RequestLog* log);
  http::Response Document(bool jwks);
  void Cors(const http::Request& request, http::Response* response);

  const Config config;
  store::Store* store;
  const Clock* clock;
  Catalog catalog;
};

namespace {

http::Response MethodNotAllowed(std::string_view allow) {
  http::Response r = OAuthError(405, kMethodNotAllowed, "this endpoint accepts " + std::string(allow));
  r.SetHeader("Allow", std::string(allow));
  return r;
}

http::Response NotFound() { return OAuthError(404, kNotFound, "no endpoint at this path"); }

}  // namespace

http::Response Service::Impl::Document(bool jwks) {
  Result<std::shared_ptr<const Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) {
    return StoreFailureResponse(jwks ? "jwks: cannot load the configuration" : "discovery: cannot load the configuration",
                                snapshot.status(), "the server cannot read its configuration");
  }
  return JsonResponse(200, jwks ? (*snapshot)->jwks_json : (*snapshot)->discovery_json);
}

void Service::Impl::Cors(const http::Request& request, http::Response* response) {
  std::string_view path = request.path;
  if (path.substr(0, config.base_path.size()) != config.base_path) return;
  path.remove_prefix(config.base_path.size());
  const std::string_view methods = CorsEndpointMethods(path);
  if (methods.empty()) return;
  std::shared_ptr<const Snapshot> snapshot;
  if (!request.origin.empty()) {  // browsers only: other callers cost no snapshot lookup
    Result<std::shared_ptr<const Snapshot>> current = catalog.Current();
    if (current.ok()) snapshot = *current;
  }
  AddCorsHeaders(request, snapshot.get(), methods, response);
}

http::Response Service::Impl::Route(const http::Request& request, RequestLog* log) {
  std::string_view path = request.path;
  if (path.substr(0, config.base_path.size()) != config.base_path) return NotFound();
  path.remove_prefix(config.base_path.size());

  if (request.method == "OPTIONS" && !CorsEndpointMethods(path).empty()) {
    return PreflightResponse(CorsEndpointMethods(path));
  }
  if (path == kTokenPath) {
    if (request.method != "POST") return MethodNotAllowed("POST");
    return HandleTokenRequest(request, catalog, config, *clock, store, log);
  }
  if (path == kRevocationPath) {
    if (request.method != "POST") return MethodNotAllowed("POST");
    return HandleRevocationRequest(request, catalog, config, *clock, store, log);
  }
  if (path == kIntrospectionPath) {
    if (request.method != "POST") return MethodNotAllowed("POST");
    return HandleIntrospectionRequest(request, catalog, config, *clock, store, log);
  }
  if (path == kAuthorizePath) {
    if (request.method != "GET" && request.method != "POST") return MethodNotAllowed("GET, POST");
    return HandleAuthorizeRequest(request, catalog, config, *clock, store, log);
  }
  if (path == kUserinfoPath) {
    if (request.method != "GET" && request.method != "POST") return MethodNotAllowed("GET, POST");
    return HandleUserinfoRequest(request, catalog, config, *clock, store, log);
  }
  if (path == kDeviceAuthorizationPath) {
    if (request.method != "POST") return MethodNotAllowed("POST");
    return HandleDeviceAuthorizationRequest(request, catalog, config, *clock, store, log);
  }
  if (path == kDevicePath) {
    if (request.method != "GET" && request.method != "POST") return MethodNotAllowed("GET, POST");
    return HandleDevicePage(request, catalog, config, *clock, store, log);
  }
  if (path == kEndSessionPath) {
    if (request.method != "GET" && request.method != "POST") return MethodNotAllowed("GET, POST");
    return HandleEndSessionRequest(request, catalog, config, log);
  }
  if (path == kDiscoveryPath || path == kJwksPath) {
    if (request.method != "GET" && request.method != "HEAD") return MethodNotAllowed("GET, HEAD");
    return Document(path == kJwksPath);
  }
  return NotFound();
}

Service::Service(const Config& config, store::Store* store, const Clock* clock, const token::KeyEncryptionKey* kek)
    : impl_(std::make_unique<Impl>(config, store, clock, kek)) {}

Service::~Service() = default;

void Service::StartReloadThread() { impl_->catalog.StartReloadThread(); }

http::Response Service::Handle(const http::Request& request, RequestLog* log) {
  std::shared_ptr<RequestLog> scratch;  // kept until a deferred answer comes
  if (log == nullptr) {
    scratch = std::make_shared<RequestLog>();
    log = scratch.get();
  }
  log->client_id = "-";
  log->grant_type = "-";
  log->outcome.clear();
  return http::Then(impl_->Route(request, log), [this, &request, log, scratch](http::Response response) {
    impl_->Cors(request, &response);
    if (log->outcome.empty()) {  // endpoints that answer HTML or redirects (authorize) set it themselves
      const std::string_view error = ErrorCodeOf(response);
      log->outcome = error.empty() ? "ok" : std::string(error);
    }
    return response;
  });
}

}  // namespace tf::oauth
