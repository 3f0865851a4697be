#include "oauth/cors.h"

#include <optional>
#include <string>

#include "oauth/paths.h"
#include "util/origin.h"

namespace tf::oauth {

std::string_view CorsEndpointMethods(std::string_view path) {
  if (path == kTokenPath || path == kRevocationPath || path == kIntrospectionPath) return "POST";
  if (path == kUserinfoPath) return "GET, POST";
  if (path == kDiscoveryPath || path == kJwksPath) return "GET, HEAD";
  return "";
}

http::Response PreflightResponse(std::string_view methods) {
  http::Response r;
  r.status = 204;
  r.SetHeader("Allow", std::string(methods) + ", OPTIONS");
  return r;
}

void AddCorsHeaders(const http::Request& request, const Snapshot* snapshot, std::string_view methods,
                    http::Response* response) {
  response->SetHeader("Vary", "Origin");
  if (request.origin.empty() || snapshot == nullptr) return;
  const std::optional<std::string> origin = NormalizeOrigin(request.origin);
  if (!origin.has_value() || snapshot->cors_origins.count(*origin) == 0) return;
  response->SetHeader("Access-Control-Allow-Origin", request.origin);
  if (request.method == "OPTIONS") {
    response->SetHeader("Access-Control-Allow-Methods", std::string(methods));
    response->SetHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
    response->SetHeader("Access-Control-Max-Age", "600");
  }
}

}  // namespace tf::oauth
