// What request data may reach the per-request log line: the RequestLog an endpoint fills in, and SanitizeForLog
// for every value taken from the request. Values are cut to 64 bytes and every byte outside printable ASCII
// (0x20-0x7E) becomes '?', so a log line cannot be forged or split by a client. Thread-safe (pure function; a
// RequestLog belongs to one request).
#pragma once

#include <string>
#include <string_view>

namespace tf::oauth {

// What the per-request log line says besides method, path, status and time. Never a secret, code or token.
struct RequestLog {
  std::string client_id;   // as authenticated or claimed ("-" if none); truncated and sanitised for the log
  std::string grant_type;  // "-" if none
  std::string outcome;     // "ok" or the OAuth error code ("invalid_client", ...), or "not_found", ...; an endpoint
                           // may set it (authorize does), else Service::Handle derives it from the JSON error body
};

inline constexpr size_t kMaxLoggedLength = 64;

std::string SanitizeForLog(std::string_view value);

}  // namespace tf::oauth
