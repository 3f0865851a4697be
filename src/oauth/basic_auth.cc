#include "oauth/basic_auth.h"

#include "oauth/form.h"
#include "util/ascii.h"
#include "util/base64.h"

namespace tf::oauth {
namespace {


bool IsOws(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Result<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  // A field value carries no leading or trailing whitespace (RFC 9110 §5.5); tolerate it if a server left some.
  while (!header.empty() && IsOws(header.front())) header.remove_prefix(1);
  while (!header.empty() && IsOws(header.back())) header.remove_suffix(1);
  if (header.empty()) return Status::NotFound("no Authorization header");

  const size_t space = header.find(' ');
  const std::string_view scheme = header.substr(0, space);
  if (!EqualsIgnoreAsciiCase(scheme, "Basic")) return Status::NotFound("the Authorization header is not Basic");
  if (space == std::string_view::npos) return Status::InvalidArgument("Basic credentials are missing");

  std::string_view token = header.substr(space);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) return Status::InvalidArgument("Basic credentials are missing");

  const std::optional<std::string> decoded = Base64Decode(token);
  if (!decoded.has_value()) return Status::InvalidArgument("Basic credentials are not valid base64");

  const std::string_view text = *decoded;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Status::InvalidArgument("Basic credentials have no ':'");

  Result<std::string> id = PercentDecode(text.substr(0, colon));
  if (!id.ok()) return Status::InvalidArgument("the Basic client_id " + id.status().message());
  if (id->empty()) return Status::InvalidArgument("the Basic client_id is empty");
  Result<std::string> secret = PercentDecode(text.substr(colon + 1));
  if (!secret.ok()) return Status::InvalidArgument("the Basic client_secret " + secret.status().message());

  return BasicCredentials{std::move(id).value(), std::move(secret).value()};
}

}  // namespace tf::oauth
