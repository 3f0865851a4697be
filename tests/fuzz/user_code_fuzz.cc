// libFuzzer target: any bytes through NormalizeUserCode must not crash, and whatever it accepts is a user code in
// normal form (8 letters of the alphabet or 9 digits) that formatting and normalising again give back unchanged,
// and that differs from the input only by case, spaces, tabs and dashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "oauth/user_code.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view typed(reinterpret_cast<const char*>(data), size);
  const std::optional<std::string> code = tf::oauth::NormalizeUserCode(typed);
  if (!code.has_value()) return 0;
  if (typed.size() > tf::oauth::kMaxUserCodeInput) abort();
  const bool letters = code->size() == tf::oauth::kUserCodeLetterCount &&
                       code->find_first_not_of(tf::oauth::kUserCodeLetters) == std::string::npos;
  const bool digits = code->size() == tf::oauth::kUserCodeDigitCount &&
                      code->find_first_not_of("0123456789") == std::string::npos;
  if (!letters && !digits) abort();
  if (tf::oauth::NormalizeUserCode(tf::oauth::FormatUserCode(*code)) != code) abort();
  if (tf::oauth::NormalizeUserCode(*code) != code) abort();
  std::string kept;
  for (char c : typed) {
    if (c == ' ' || c == '\t' || c == '-') continue;
    kept += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  if (kept != *code) abort();
  return 0;
}
