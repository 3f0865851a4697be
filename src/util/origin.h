// Web origins (RFC 6454) as CORS compares them: scheme, host and port, nothing else. Thread-safe (pure functions).
//
//   NormalizeOrigin("HTTPS://App.Example.com:443")  -> "https://app.example.com"
//   NormalizeOrigin("http://localhost:8080")        -> "http://localhost:8080"
//   NormalizeOrigin("https://app.example.com/")     -> nullopt (a path, even "/", is not part of an origin)
//
// Accepted: scheme "://" host [":" port], where the scheme is a URI scheme (RFC 3986 §3.1), the host a registered
// name or IPv4 address of letters, digits, '-', '.' (or an IPv6 literal in brackets) and the port 1..65535 digits.
// Scheme and host are lowercased; an explicit default port (80 for http, 443 for https) is dropped. Userinfo, a path,
// a query, a fragment, "null" (the opaque origin) and anything else are refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tf {

std::optional<std::string> NormalizeOrigin(std::string_view origin);

}  // namespace tf
