// Internal to oauth/: what request data may reach the per-request log line (service.h's RequestLog). Values are cut
// to 64 bytes and every byte outside printable ASCII (0x20-0x7E) becomes '?', so a log line cannot be forged or
// split by a client. Thread-safe (pure function).
#pragma once

#include <string>
#include <string_view>

namespace tf::oauth {

inline constexpr size_t kMaxLoggedLength = 64;

std::string SanitizeForLog(std::string_view value);

}  // namespace tf::oauth
