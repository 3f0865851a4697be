// libFuzzer target: any bytes through ParseAcrValues must not crash, and whatever it accepts obeys its rules (at
// most 300 bytes, no control characters, tenant and idp within their limits and free of spaces, pass-through values
// non-empty, space-free, without the selector prefixes, and each once).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oauth/acr_values.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tf::oauth::AcrValues;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tf::Result<AcrValues> acr = tf::oauth::ParseAcrValues(text);
  if (!acr.ok()) {
    if (acr.status().message().empty()) abort();
    return 0;
  }
  if (text.size() > tf::oauth::kMaxAcrValuesLength) abort();
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) abort();
  }
  if (acr->tenant.size() > tf::store::kMaxTenantLength || acr->idp.size() > tf::oauth::kMaxIdpLength) abort();
  if (acr->tenant.find(' ') != std::string::npos || acr->idp.find(' ') != std::string::npos) abort();
  for (size_t i = 0; i < acr->acr.size(); ++i) {
    const std::string& v = acr->acr[i];
    if (v.empty() || v.find(' ') != std::string::npos) abort();
    if (v.starts_with(tf::oauth::kTenantPrefix) || v.starts_with(tf::oauth::kIdpPrefix)) abort();
    for (size_t j = i + 1; j < acr->acr.size(); ++j) {
      if (acr->acr[j] == v) abort();
    }
  }
  size_t total = 0;  // the values are distinct pieces of the text, separated by spaces
  for (const std::string& v : acr->acr) total += v.size() + 1;
  if (total > text.size() + 1) abort();
  return 0;
}
