#include "oauth/errors.h"

#include "util/json_writer.h"
#include "util/log.h"

namespace tf::oauth {

http::Response JsonResponse(int status, std::string body) {
  http::Response r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.SetHeader("Cache-Control", "no-store");
  r.SetHeader("Pragma", "no-cache");
  r.body = std::move(body);
  return r;
}

http::Response OAuthError(int status, std::string_view error, std::string_view description) {
  JsonWriter w;
  w.String("error", error);
  if (!description.empty()) w.String("error_description", description);
  return JsonResponse(status, std::move(w).Finish());
}

http::Response StoreFailureResponse(std::string_view what, const Status& st, std::string_view description) {
  const std::string w(what);
  if (st.code() == Status::Code::kResourceExhausted) {
    Logf(LogLevel::kError, "%s: the store is full, writes are refused until an operator acts (tokenctl stats, "
         "tokenctl map grow or a larger map_size, tokenctl gc): %s", w.c_str(), st.ToString().c_str());
    http::Response r = OAuthError(503, kTemporarilyUnavailable, description);
    r.SetHeader("Retry-After", std::to_string(kStoreFullRetryAfterSeconds));
    return r;
  }
  if (st.code() == Status::Code::kUnavailable) {
    Logf(LogLevel::kError, "%s: the store is unavailable, answering 503: %s", w.c_str(), st.ToString().c_str());
    http::Response r = OAuthError(503, kTemporarilyUnavailable, description);
    r.SetHeader("Retry-After", std::to_string(kStoreUnavailableRetryAfterSeconds));
    return r;
  }
  Logf(LogLevel::kError, "%s: the store failed: %s", w.c_str(), st.ToString().c_str());
  return OAuthError(500, kServerError, description);
}

http::Response InvalidClient(const Config& config) {
  http::Response r = OAuthError(401, kInvalidClient, kClientAuthenticationFailed);
  // realm is a quoted-string (RFC 9110 §5.6.4): escape '"' and '\'; drop control characters.
  std::string challenge = "Basic realm=\"";
  for (char c : config.realm) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) continue;
    if (c == '"' || c == '\\') challenge += '\\';
    challenge += c;
  }
  challenge += '"';
  r.SetHeader("WWW-Authenticate", std::move(challenge));
  return r;
}

std::string_view ErrorCodeOf(const http::Response& response) {
  static constexpr std::string_view kPrefix = "{\"error\":\"";
  const std::string_view body = response.body;
  if (body.substr(0, kPrefix.size()) != kPrefix) return {};
  const std::string_view rest = body.substr(kPrefix.size());
  const size_t end = rest.find('"');
  if (end == std::string_view::npos) return {};
  return rest.substr(0, end);
}

}  // namespace tf::oauth
