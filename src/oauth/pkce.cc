#include "oauth/pkce.h"

#include "util/base64.h"
#include "util/crypto.h"

namespace tf::oauth {
namespace {

// RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~".
bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

}  // namespace

bool IsValidPkceString(std::string_view value) {
  if (value.size() < 43 || value.size() > 128) return false;
  for (char c : value) {
    if (!IsUnreserved(c)) return false;
  }
  return true;
}

bool PkceVerifierMatches(std::string_view verifier, std::string_view challenge, std::string_view method) {
  if (method == kPkceS256) return ConstantTimeEquals(Base64UrlEncode(Sha256(verifier)), challenge);
  if (method == kPkcePlain) return ConstantTimeEquals(verifier, challenge);
  return false;
}

}  // namespace tf::oauth
