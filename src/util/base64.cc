// Base64 and base64url (RFC 4648 §4, §5). Hand-written so that the decoders can be strict: every character must be
// in the alphabet, padding must be exactly right (required for base64, forbidden for base64url), and the unused
// low bits of the last character must be zero, so each byte string has exactly one accepted text.
#include "util/base64.h"

#include <array>
#include <cstdint>

namespace tf {
namespace {

constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr uint8_t kBad = 0xFF;

constexpr std::array<uint8_t, 256> MakeDecodeTable(const char* alphabet) {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kBad;
  for (uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}

constexpr std::array<uint8_t, 256> kStdDecode = MakeDecodeTable(kStd);
constexpr std::array<uint8_t, 256> kUrlDecode = MakeDecodeTable(kUrl);

std::string Encode(std::string_view in, const char* alphabet, bool pad) {
  const size_t full = in.size() / 3;
  const size_t rest = in.size() % 3;
  size_t out_len = full * 4;
  if (rest != 0) out_len += pad ? 4 : rest + 1;
  std::string out(out_len, '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  char* o = out.data();
  for (size_t i = 0; i < full; ++i, p += 3) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    *o++ = alphabet[v & 63];
  }
  if (rest == 1) {
    const uint32_t v = uint32_t{p[0]} << 16;
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    if (pad) {
      *o++ = '=';
      *o++ = '=';
    }
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8);
    *o++ = alphabet[(v >> 18) & 63];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    if (pad) *o++ = '=';
  }
  return out;
}

// Decodes unpadded text (length % 4 != 1) with `table`; nullopt on a bad character or non-zero trailing bits.
std::optional<std::string> DecodeUnpadded(std::string_view in, const std::array<uint8_t, 256>& table) {
  const size_t full = in.size() / 4;
  const size_t rest = in.size() % 4;
  if (rest == 1) return std::nullopt;
  std::string out(full * 3 + (rest == 0 ? 0 : rest - 1), '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  char* o = out.data();
  for (size_t i = 0; i < full; ++i, p += 4) {
    const uint8_t a = table[p[0]], b = table[p[1]], c = table[p[2]], d = table[p[3]];
    if ((a | b | c | d) & 0xC0) return std::nullopt;  // kBad has the top bits set; valid values are < 64
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>(v >> 8);
    *o++ = static_cast<char>(v);
  }
  if (rest == 2) {
    const uint8_t a = table[p[0]], b = table[p[1]];
    if ((a | b) & 0xC0) return std::nullopt;
    if (b & 0x0F) return std::nullopt;  // 4 unused bits must be zero
    *o++ = static_cast<char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    const uint8_t a = table[p[0]], b = table[p[1]], c = table[p[2]];
    if ((a | b | c) & 0xC0) return std::nullopt;
    if (c & 0x03) return std::nullopt;  // 2 unused bits must be zero
    const uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6);
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>(v >> 8);
  }
  return out;
}

}  // namespace

std::string Base64Encode(std::string_view bytes) { return Encode(bytes, kStd, /*pad=*/true); }

std::string Base64UrlEncode(std::string_view bytes) { return Encode(bytes, kUrl, /*pad=*/false); }

std::optional<std::string> Base64Decode(std::string_view text) {
  // Padding required: the length is a multiple of 4 and there are 0, 1 or 2 '=' only at the very end.
  if (text.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = 1;
    if (text.size() >= 2 && text[text.size() - 2] == '=') pad = 2;
  }
  // Any other '=' is outside the alphabet and rejected by the table below.
  return DecodeUnpadded(text.substr(0, text.size() - pad), kStdDecode);
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  // '=' is not in the table, so any padding is rejected.
  return DecodeUnpadded(text, kUrlDecode);
}

}  // namespace tf
