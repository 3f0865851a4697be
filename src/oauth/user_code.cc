#include "oauth/user_code.h"

#include "util/crypto.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kDigits = "0123456789";
constexpr std::string_view kKeyLabel{"user_code\0", 10};

// `count` characters drawn uniformly from `alphabet` (at most 256 characters): bytes at or above the largest
// multiple of the alphabet's size are thrown away, so no character is more likely than another.
std::string RandomString(std::string_view alphabet, size_t count) {
  const unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  while (out.size() < count) {
    for (unsigned char b : RandomBytes(count * 2)) {
      if (b >= limit) continue;
      out += alphabet[b % alphabet.size()];
      if (out.size() == count) break;
    }
  }
  return out;
}

bool AllIn(std::string_view s, std::string_view alphabet) {
  for (char c : s) {
    if (alphabet.find(c) == std::string_view::npos) return false;
  }
  return true;
}

}  // namespace

bool UserCodeIsNumeric(std::string_view user_code_type) {
  constexpr std::string_view kNumeric = "numeric";
  if (user_code_type.size() != kNumeric.size()) return false;
  for (size_t i = 0; i < kNumeric.size(); ++i) {
    char c = user_code_type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kNumeric[i]) return false;
  }
  return true;
}

std::string NewUserCode(bool numeric) {
  return numeric ? RandomString(kDigits, kUserCodeDigitCount) : RandomString(kUserCodeLetters, kUserCodeLetterCount);
}

std::optional<std::string> NormalizeUserCode(std::string_view typed) {
  if (typed.size() > kMaxUserCodeInput) return std::nullopt;
  std::string out;
  for (char c : typed) {
    if (c == ' ' || c == '\t' || c == '-') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    out += c;
  }
  if (out.size() == kUserCodeLetterCount && AllIn(out, kUserCodeLetters)) return out;
  if (out.size() == kUserCodeDigitCount && AllIn(out, kDigits)) return out;
  return std::nullopt;
}

std::string FormatUserCode(std::string_view normal) {
  const size_t group = normal.size() == kUserCodeDigitCount ? 3 : 4;
  std::string out;
  for (size_t i = 0; i < normal.size(); ++i) {
    if (i != 0 && i % group == 0) out += '-';
    out += normal[i];
  }
  return out;
}

std::string UserCodeKey(std::string_view normal) {
  std::string data(kKeyLabel);
  data += normal;
  return Sha256(data);
}

}  // namespace tf::oauth
