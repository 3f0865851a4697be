// Logging to stderr, which reaches the web server's error log or the journal. One line per call, written with a
// single write(2) so lines from threads and processes do not interleave. Never pass a secret, password, code or
// token to these functions. Thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tf {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view name);  // "error", "warn", "info", "debug"
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// printf-style; the line is prefixed with "tokenfcgi[pid]: level: " and ends with '\n'.
void Logf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

inline constexpr size_t kMaxLoggedLength = 64;

// Text from outside (a request, a configuration file, a database key, a library's error) made safe for a log line or
// an error message: every byte outside printable ASCII (0x21-0x7E) becomes '?', so a value can neither split nor
// forge a line; the blank too, unless `blanks` is kKeep, so a value cannot run into the next field of the request
// log line; text longer than `max` bytes is cut there and ends in "..."; an empty value is "-", so a field never
// disappears. Never pass a secret: this hides nothing.
enum class Blanks { kReplace, kKeep };
std::string SanitizeForLog(std::string_view text, size_t max = kMaxLoggedLength, Blanks blanks = Blanks::kReplace);

}  // namespace tf
