#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>

namespace tf {
namespace {

// The one piece of process-wide mutable state the header documents: the current level (default info).
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

constexpr size_t kMaxLine = 4096;

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
  }
  return "?";
}

}  // namespace

std::string SanitizeForLog(std::string_view text, size_t max, Blanks blanks) {
  if (text.empty()) return "-";
  const size_t n = text.size() < max ? text.size() : max;
  std::string out;
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool keep = (c > 0x20 && c < 0x7F) || (c == 0x20 && blanks == Blanks::kKeep);
    out += keep ? static_cast<char>(c) : '?';
  }
  if (text.size() > max) out += "...";
  return out;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  if (name == "error") return LogLevel::kError;
  if (name == "warn") return LogLevel::kWarn;
  if (name == "info") return LogLevel::kInfo;
  if (name == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void Logf(LogLevel level, const char* fmt, ...) {
  if (!LogEnabled(level)) return;
  const int saved_errno = errno;
  char buf[kMaxLine + 1];  // +1 for the newline
  int n = std::snprintf(buf, kMaxLine, "tokenfcgi[%ld]: %s: ", static_cast<long>(getpid()), LevelName(level));
  if (n < 0) n = 0;
  size_t len = static_cast<size_t>(n) < kMaxLine ? static_cast<size_t>(n) : kMaxLine - 1;
  va_list ap;
  va_start(ap, fmt);
  const int m = std::vsnprintf(buf + len, kMaxLine - len, fmt, ap);
  va_end(ap);
  if (m > 0) {
    // vsnprintf truncates and NUL-terminates; keep what fitted.
    len += static_cast<size_t>(m) < kMaxLine - len ? static_cast<size_t>(m) : kMaxLine - len - 1;
  }
  // One line per call: a newline inside the message would let a caller forge log lines.
  for (size_t i = 0; i < len; ++i) {
    if (buf[i] == '\n' || buf[i] == '\r') buf[i] = ' ';
  }
  buf[len++] = '\n';
  ssize_t w;
  do {
    w = ::write(2, buf, len);
  } while (w < 0 && errno == EINTR);
  errno = saved_errno;
}

}  // namespace tf
