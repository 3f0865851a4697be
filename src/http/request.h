// The plain values that cross between the web-server adapter (http/fcgi_server) and the protocol (oauth/). Nothing
// here knows FastCGI or OAuth. A Request is built once per request by the adapter and is read-only afterwards.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tf::http {

// What the adapter found about the body before the protocol sees it. The adapter never reads more than the cap.
enum class BodyState {
  kComplete,   // body holds exactly CONTENT_LENGTH bytes (or none was sent)
  kTooLarge,   // CONTENT_LENGTH exceeded the cap: body is empty and was not read (answer 413)
  kIncomplete, // fewer bytes arrived than CONTENT_LENGTH said, or CONTENT_LENGTH was malformed (answer 400)
};

struct Request {
  std::string method;          // REQUEST_METHOD, e.g. "POST"
  std::string path;            // REQUEST_URI up to '?', else SCRIPT_NAME + PATH_INFO; not percent-decoded
  std::string query;           // QUERY_STRING, raw
  std::string content_type;    // CONTENT_TYPE, raw
  std::string authorization;   // HTTP_AUTHORIZATION, else REDIRECT_HTTP_AUTHORIZATION
  std::string remote_user;     // REMOTE_USER (trust depends on the web server's config; see ARCHITECTURE.md)
  std::string remote_addr;     // REMOTE_ADDR
  std::string host;            // HTTP_HOST (never used to build URLs; the configured issuer is)
  std::string cookie;          // HTTP_COOKIE
  std::string origin;          // HTTP_ORIGIN (CORS), raw
  bool https = false;          // HTTPS is "on" / "1"
  BodyState body_state = BodyState::kComplete;
  std::string body;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type included here
  std::string body;

  void SetHeader(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

}  // namespace tf::http
