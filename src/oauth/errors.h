// JSON responses of the OAuth endpoints: RFC 6749 §5.2 error bodies and the headers every JSON answer carries
// (Content-Type: application/json, Cache-Control: no-store, Pragma: no-cache).
//
// error_description values are fixed strings chosen by the code (or a decoder message that names a parameter but
// never echoes a value); request data never reaches them. invalid_client is always 401 with
// `WWW-Authenticate: Basic realm="<realm>"`, and one fixed description, so that an unknown client, a disabled client,
// a wrong secret and an expired secret give byte-identical answers.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "http/request.h"

namespace tf::oauth {

// RFC 6749 §5.2 error codes, plus the two this service uses outside OAuth (not_found, method_not_allowed).
inline constexpr std::string_view kInvalidRequest = "invalid_request";
inline constexpr std::string_view kInvalidClient = "invalid_client";
inline constexpr std::string_view kInvalidGrant = "invalid_grant";
inline constexpr std::string_view kUnauthorizedClient = "unauthorized_client";
inline constexpr std::string_view kUnsupportedGrantType = "unsupported_grant_type";
inline constexpr std::string_view kInvalidScope = "invalid_scope";
inline constexpr std::string_view kInvalidTarget = "invalid_target";  // RFC 8693 §2.2.2, RFC 8707 §2
inline constexpr std::string_view kServerError = "server_error";
inline constexpr std::string_view kTemporarilyUnavailable = "temporarily_unavailable";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";

// The one description of every invalid_client answer.
inline constexpr std::string_view kClientAuthenticationFailed = "client authentication failed";

// A JSON body with the no-store headers.
http::Response JsonResponse(int status, std::string body);

// {"error":..., "error_description":...} (description omitted when empty).
http::Response OAuthError(int status, std::string_view error, std::string_view description);

// How long a client is asked to wait (Retry-After, seconds) when the store is full.
inline constexpr int kStoreFullRetryAfterSeconds = 60;
// ... and when the store's server cannot be reached (Status Unavailable: PostgreSQL down or failing over, a statement
// timeout, a transaction that kept failing to serialise).
inline constexpr int kStoreUnavailableRetryAfterSeconds = 5;

// The answer to a request whose store operation failed with `st`, after one error log line naming `what` and the
// status. A full store (Status ResourceExhausted: LMDB's map or reader table, whose message names the configuration
// key to raise, map_size or max_readers) is 503 temporarily_unavailable with Retry-After: the condition passes when an
// operator grows the map or gc frees space, and nothing was written. An unreachable store (Status Unavailable) is 503
// temporarily_unavailable with Retry-After kStoreUnavailableRetryAfterSeconds: nothing was committed, and the worker
// reconnects by itself. Anything else is 500 server_error.
// `description` is the error_description of both.
http::Response StoreFailureResponse(std::string_view what, const Status& st, std::string_view description);

// The HTML counterparts, for the browser pages (authorize with its login form and consent, the device page, end
// session). UnavailablePage: 503 with Retry-After: `retry_after_seconds`, the no-store headers of every page (html.h)
// and `message` under `title`. StoreFailurePage: the page answering a browser request whose store operation (or
// configuration load) failed with `st`: busy password checks (resource_owner.h PasswordChecksBusy) are an
// UnavailablePage asking to retry in a second; an unreachable store (Unavailable) or a full one (ResourceExhausted)
// is logged as StoreFailureResponse logs it and is an UnavailablePage saying the service is temporarily unavailable,
// with the Retry-After of the JSON answer; anything else is logged and a 500 page with `message`.
http::Response UnavailablePage(std::string_view title, std::string_view message, int retry_after_seconds);
http::Response StoreFailurePage(std::string_view what, const Status& st, std::string_view title,
                                std::string_view message);

// 401 invalid_client with WWW-Authenticate: Basic realm="<config.realm>".
http::Response InvalidClient(const Config& config);

// The error code of a response built by OAuthError, for the request log ("" if none).
std::string_view ErrorCodeOf(const http::Response& response);

}  // namespace tf::oauth
