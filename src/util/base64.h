// Base64 (RFC 4648 §4) and base64url without padding (§5, as JOSE uses it). Decoders are strict: they reject
// characters outside the alphabet, bad padding and non-zero trailing bits, and return nullopt rather than guess.
// Thread-safe (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tf {

std::string Base64Encode(std::string_view bytes);                       // with '=' padding
std::optional<std::string> Base64Decode(std::string_view text);         // padding required
std::string Base64UrlEncode(std::string_view bytes);                    // no padding
std::optional<std::string> Base64UrlDecode(std::string_view text);      // padding rejected

}  // namespace tf
