// Logging to stderr, which reaches the web server's error log or the journal. One line per call, written with a
// single write(2) so lines from threads and processes do not interleave. Never pass a secret, password, code or
// token to these functions. Thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace tf {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

std::optional<LogLevel> ParseLogLevel(std::string_view name);  // "error", "warn", "info", "debug"
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// printf-style; the line is prefixed with "tokenfcgi[pid]: level: " and ends with '\n'.
void Logf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace tf
