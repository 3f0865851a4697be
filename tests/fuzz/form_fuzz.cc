// libFuzzer target: any bytes through DecodeForm must not crash, and whatever it accepts obeys its rules (no
// duplicate names, no empty names or values, no NUL, valid UTF-8, at most max_params pairs).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oauth/form.h"
#include "util/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxParams = 16;
  tf::Result<tf::oauth::Form> form = tf::oauth::DecodeForm(body, kMaxParams);
  if (!form.ok()) return 0;
  const auto& params = form->params();
  if (params.size() > kMaxParams) abort();
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& [name, value] = params[i];
    if (name.empty() || value.empty()) abort();
    if (name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) abort();
    if (!tf::IsValidUtf8(name) || !tf::IsValidUtf8(value)) abort();
    for (size_t j = i + 1; j < params.size(); ++j) {
      if (params[j].first == name) abort();
    }
    if (form->Get(name) != value) abort();
  }
  return 0;
}
