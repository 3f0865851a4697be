// The plain values that cross between the web-server adapter (http/fcgi_server) and the protocol (oauth/). Nothing
// here knows FastCGI or OAuth. A Request is built once per request by the adapter and is read-only afterwards.
#pragma once

#include <functional>
#include <future>
#include <memory>
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

struct Response;

// Takes the final answer to a request; called once, from any thread.
using Answer = std::function<void(Response)>;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // Content-Type included here
  std::string body;
  // Set when the answer waits on a write that another thread commits (store::Store::UpdateAsync): the adapter calls
  // it once with an Answer, which whoever completes the write calls with the real response; status, headers and
  // body are then unused. The Request it answers stays valid until the Answer has been called, so a handler's
  // continuation may refer to it; anything else it uses it must own. An Answer that is destroyed without being
  // called answers 500 (the adapter's guard), so a continuation that throws still closes its request.
  std::function<void(Answer)> deferred;

  void SetHeader(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
};

// `then` (a copyable callable taking and returning a Response) applied to the final response: at once if `response`
// is not deferred, else when its answer comes (in the thread that completes it). How every layer between a handler
// and the adapter adds its headers or logs; a template, so that the common answer that is not deferred costs no
// std::function.
template <typename Fn>
Response Then(Response response, Fn then) {
  if (!response.deferred) return then(std::move(response));
  Response later;
  later.deferred = [start = std::move(response.deferred), then = std::move(then)](Answer answer) {
    start([then, answer = std::move(answer)](Response r) { answer(then(std::move(r))); });
  };
  return later;
}

// Waits on this thread for the answer to a deferred response (CGI mode, a kept-alive connection, tests); any other
// response is returned as it is. Throws std::future_error if the answer is dropped unanswered, or what starting it
// threw.
inline Response Await(Response response) {
  if (!response.deferred) return response;
  auto promise = std::make_shared<std::promise<Response>>();
  std::future<Response> answer = promise->get_future();
  response.deferred([promise](Response r) { promise->set_value(std::move(r)); });
  return answer.get();
}

}  // namespace tf::http
