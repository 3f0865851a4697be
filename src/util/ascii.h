// ASCII-only case handling for protocol tokens (HTTP schemes and header names, media types, enum names). Locale
// independent on purpose: "Basic" must match "BASIC" whatever the process locale is. Thread-safe (pure functions).
#pragma once

#include <string_view>

namespace tf {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace tf
