#include "oauth/request_log.h"

namespace tf::oauth {

std::string SanitizeForLog(std::string_view value) {
  if (value.empty()) return "-";
  std::string out;
  const size_t n = value.size() < kMaxLoggedLength ? value.size() : kMaxLoggedLength;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    out += (c >= 0x20 && c <= 0x7E) ? static_cast<char>(c) : '?';
  }
  return out;
}

}  // namespace tf::oauth
