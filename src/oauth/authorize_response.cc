#include "oauth/authorize_response.h"

#include "oauth/html.h"
#include "util/ascii.h"

namespace tf::oauth {
namespace {

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

bool HasHeader(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (EqualsIgnoreAsciiCase(n, name)) return true;
  }
  return false;
}

}  // namespace

std::string PercentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const unsigned char u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0F];
    }
  }
  return out;
}

std::string AppendQuery(std::string_view uri, const Params& params) {
  std::string out(uri);
  if (params.empty()) return out;
  if (uri.find('?') == std::string_view::npos) {
    out += '?';
  } else if (uri.back() != '?' && uri.back() != '&') {
    out += '&';
  }
  bool first = true;
  for (const auto& [name, value] : params) {
    if (!first) out += '&';
    first = false;
    out += PercentEncode(name);
    out += '=';
    out += PercentEncode(value);
  }
  return out;
}

void EnsureNoStore(http::Response* response) {
  if (!HasHeader(*response, "Cache-Control")) response->SetHeader("Cache-Control", "no-store");
  if (!HasHeader(*response, "Pragma")) response->SetHeader("Pragma", "no-cache");
}

http::Response AuthorizationResponse(ResponseMode mode, std::string_view redirect_uri, const Params& params) {
  http::Response r;
  if (mode == ResponseMode::kFormPost) {
    r = FormPostPage(redirect_uri, params);
  } else {
    r.status = 302;
    r.SetHeader("Location", AppendQuery(redirect_uri, params));
    r.SetHeader("Referrer-Policy", "no-referrer");
  }
  EnsureNoStore(&r);
  return r;
}

http::Response AuthorizeErrorPage(int status, std::string_view title, std::string_view message) {
  http::Response r = ErrorPage(status, title, message);
  EnsureNoStore(&r);
  return r;
}

}  // namespace tf::oauth
