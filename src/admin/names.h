// Small helpers shared by the admin commands: the grant types and scopes tokenctl knows by name. `client add` refuses
// a grant type that is neither known nor served by a configured extension grant; `import` warns (IdentityServer
// allows extension grants). Timestamps are read and printed by util/timestamp.h. Thread-safe (pure functions).
#pragma once

#include <span>
#include <string_view>

namespace tf::admin {

// The grant types IdentityServer defines (GrantType constants) plus refresh_token and the RFC 8693 token exchange.
// Anything else is an extension grant: allowed, but worth a warning because it is usually a typo.
bool IsKnownGrantType(std::string_view grant_type);
// The same grant types, in a fixed order, for messages that list them.
std::span<const std::string_view> KnownGrantTypes();

// The scope that needs no resource: RFC 6749 refresh tokens are requested with "offline_access".
inline constexpr std::string_view kOfflineAccessScope = "offline_access";

}  // namespace tf::admin
