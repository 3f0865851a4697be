#include "util/origin.h"

#include "util/ascii.h"

namespace tf {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::string> NormalizeOrigin(std::string_view origin) {
  const size_t sep = origin.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < sep; ++i) {
    const char c = origin[i];
    const bool ok = IsAlpha(c) || (i > 0 && (IsDigit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok) return std::nullopt;
    out += AsciiLower(c);
  }
  const std::string scheme = out;
  out += "://";
  std::string_view rest = origin.substr(sep + 3);
  std::string_view host, port;
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close < 3) return std::nullopt;
    host = rest.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2)) {
      if (!IsDigit(c) && !IsAlpha(c) && c != ':' && c != '.') return std::nullopt;
    }
    rest.remove_prefix(close + 1);
    if (!rest.empty() && rest[0] != ':') return std::nullopt;
  } else {
    host = rest.substr(0, rest.find(':'));
    if (host.empty()) return std::nullopt;
    for (char c : host) {
      if (!IsAlpha(c) && !IsDigit(c) && c != '-' && c != '.') return std::nullopt;
    }
    rest.remove_prefix(host.size());
  }
  if (!rest.empty()) {  // ":" port
    port = rest.substr(1);
    if (port.empty() || port.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : port) {
      if (!IsDigit(c)) return std::nullopt;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    while (port.size() > 1 && port[0] == '0') port.remove_prefix(1);
    if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port = {};
  }
  for (char c : host) out += AsciiLower(c);
  if (!port.empty()) {
    out += ':';
    out += port;
  }
  return out;
}

}  // namespace tf
