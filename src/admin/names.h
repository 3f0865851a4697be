// Small helpers shared by the admin commands: the grant types and scopes tokenctl knows by name (for warnings, never
// for rejection: IdentityServer allows extension grants), and the one timestamp format tokenctl accepts and prints.
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tf::admin {

// The grant types IdentityServer defines (GrantType constants) plus refresh_token and the RFC 8693 token exchange.
// Anything else is an extension grant: allowed, but worth a warning because it is usually a typo.
bool IsKnownGrantType(std::string_view grant_type);

// The scope that needs no resource: RFC 6749 refresh tokens are requested with "offline_access".
inline constexpr std::string_view kOfflineAccessScope = "offline_access";

// "2030-01-01T00:00:00Z" (ISO-8601, UTC, seconds precision, optional fraction ignored) or a decimal Unix time.
// nullopt if the text is neither or the date does not exist.
std::optional<int64_t> ParseTimestamp(std::string_view text);
// The inverse: Unix seconds -> "2030-01-01T00:00:00Z".
std::string FormatTimestamp(int64_t unix_seconds);

}  // namespace tf::admin
