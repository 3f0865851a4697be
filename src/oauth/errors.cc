#include "oauth/errors.h"

#include "oauth/html.h"
#include "oauth/resource_owner.h"
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

namespace {

// Logs a failed store operation as StoreFailureResponse and StoreFailurePage do; the Retry-After seconds of the 503
// it calls for, or 0 for a 500.
int LogStoreFailure(std::string_view what, const Status& st) {
  const std::string w(what);
  if (st.code() == Status::Code::kResourceExhausted) {
    Logf(LogLevel::kError, "%s: the store is full, writes are refused until an operator acts (tokenctl stats, "
         "tokenctl map grow or a larger map_size, tokenctl gc): %s", w.c_str(), st.ToString().c_str());
    return kStoreFullRetryAfterSeconds;
  }
  if (st.code() == Status::Code::kUnavailable) {
    Logf(LogLevel::kError, "%s: the store is unavailable, answering 503: %s", w.c_str(), st.ToString().c_str());
    return kStoreUnavailableRetryAfterSeconds;
  }
  Logf(LogLevel::kError, "%s: the store failed: %s", w.c_str(), st.ToString().c_str());
  return 0;
}

}  // namespace

http::Response StoreFailureResponse(std::string_view what, const Status& st, std::string_view description) {
  const int retry_after = LogStoreFailure(what, st);
  if (retry_after == 0) return OAuthError(500, kServerError, description);
  http::Response r = OAuthError(503, kTemporarilyUnavailable, description);
  r.SetHeader("Retry-After", std::to_string(retry_after));
  return r;
}

http::Response UnavailablePage(std::string_view title, std::string_view message, int retry_after_seconds) {
  http::Response r = ErrorPage(503, title, message);
  r.SetHeader("Retry-After", std::to_string(retry_after_seconds));
  return r;
}

http::Response StoreFailurePage(std::string_view what, const Status& st, std::string_view title,
                                std::string_view message) {
  if (PasswordChecksBusy(st)) {
    return UnavailablePage(title, "Too many sign-ins at this moment. Please try again in a few seconds.", 1);
  }
  const int retry_after = LogStoreFailure(what, st);
  if (retry_after == 0) return ErrorPage(500, title, message);
  return UnavailablePage(title, "The service is temporarily unavailable. Please try again in a few seconds.",
                         retry_after);
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
