// Internal to the authorize endpoint (authorize.h): how its answers are built. An authorization response (code or
// error) goes back to the client's redirect URI either as a 302 whose Location carries the parameters in the query
// (response_mode=query) or as an auto-submitting form (response_mode=form_post); an error page is shown when the
// redirect URI cannot be trusted. Every answer carries Cache-Control: no-store and Pragma: no-cache.
//
// Redirect URIs: the parameters are percent-encoded with only RFC 3986's unreserved characters kept
// (ALPHA / DIGIT / "-" / "." / "_" / "~"), and appended with '?' when the URI has no query, with '&' when it has one
// (nothing when it already ends with '?' or '&'), so a registered "https://app/cb?tenant=a" keeps its own parameter.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"

namespace tf::oauth {

using Params = std::vector<std::pair<std::string, std::string>>;

enum class ResponseMode { kQuery, kFormPost };

// RFC 3986 percent-encoding of everything but the unreserved characters (upper-case hex digits).
std::string PercentEncode(std::string_view value);

// `uri` with `params` appended to its query, as described above.
std::string AppendQuery(std::string_view uri, const Params& params);

// The authorization response: 302 to AppendQuery(redirect_uri, params), or the form_post page. No-store headers.
http::Response AuthorizationResponse(ResponseMode mode, std::string_view redirect_uri, const Params& params);

// The error page of the authorize endpoint (html.h's ErrorPage with the no-store headers made sure of).
http::Response AuthorizeErrorPage(int status, std::string_view title, std::string_view message);

// Adds Cache-Control: no-store and Pragma: no-cache unless the response already has them.
void EnsureNoStore(http::Response* response);

}  // namespace tf::oauth
