// What request data may reach the per-request log line: the RequestLog an endpoint fills in, every value taken from
// the request passed through SanitizeForLog (util/log.h), so a client can neither forge nor split a log line.
// A RequestLog belongs to one request (one thread).
#pragma once

#include <string>

#include "util/log.h"

namespace tf::oauth {

// What the per-request log line says besides method, path, status and time. Never a secret, code or token.
struct RequestLog {
  std::string client_id;   // as authenticated or claimed ("-" if none); truncated and sanitised for the log
  std::string grant_type;  // "-" if none
  std::string outcome;     // "ok" or the OAuth error code ("invalid_client", ...), or "not_found", ...; an endpoint
                           // may set it (authorize does), else Service::Handle derives it from the JSON error body
};

}  // namespace tf::oauth
