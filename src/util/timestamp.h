// The one way tokenfcgi reads and writes a point in time as text: in stored records and imported configuration
// (ClientSecrets[].Expiration, LockoutEnd, Created) and in tokenctl's options and output. Thread-safe (pure
// functions).
//
// Accepted (ParseTimestamp):
//   1893456000                   Unix seconds: decimal digits only
//   2030-01-01                   a date: midnight UTC
//   2030-01-01T00:00:00Z         RFC 3339: date 'T' time, then 'Z' or an offset +hh:mm / -hh:mm;
//   2030-01-01T02:00:00+02:00    'T' and 'Z' in either case (RFC 3339 §5.6); a fraction of a second
//   2030-01-01T00:00:00.250Z     (".250") is accepted and dropped
// Refused: a time without 'Z' or an offset (local time to some tools, UTC to others), a day or time that does not
// exist (2023-02-29, 24:00:00, a leap second), anything before 1970-01-01T00:00:00Z, anything else.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tf {

// Unix seconds, or nullopt when `text` is not in the grammar above.
std::optional<int64_t> ParseTimestamp(std::string_view text);

// Unix seconds -> "2030-01-01T00:00:00Z", which ParseTimestamp reads back.
std::string FormatTimestamp(int64_t unix_seconds);

}  // namespace tf
