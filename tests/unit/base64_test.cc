#include "util/base64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace tf {
namespace {

struct Vector {
  const char* bytes;
  const char* base64;
  const char* base64url;
};

// RFC 4648 §10; base64url is the same text without padding (JOSE).
constexpr Vector kRfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

TEST(Base64Test, Rfc4648Vectors) {
  for (const auto& v : kRfc4648) {
    EXPECT_EQ(Base64Encode(v.bytes), v.base64) << v.bytes;
    EXPECT_EQ(Base64UrlEncode(v.bytes), v.base64url) << v.bytes;
    EXPECT_EQ(Base64Decode(v.base64), std::optional<std::string>(v.bytes)) << v.base64;
    EXPECT_EQ(Base64UrlDecode(v.base64url), std::optional<std::string>(v.bytes)) << v.base64url;
  }
}

TEST(Base64Test, AlphabetsDifferInTheLastTwoCharacters) {
  const std::string bytes("\xfb\xef\xff", 3);  // 111110 111110 111111 111111
  EXPECT_EQ(Base64Encode(bytes), "++//");
  EXPECT_EQ(Base64UrlEncode(bytes), "--__");
  EXPECT_EQ(Base64Decode("++//"), bytes);
  EXPECT_EQ(Base64UrlDecode("--__"), bytes);
  // Each decoder rejects the other alphabet's characters.
  EXPECT_FALSE(Base64Decode("--__"));
  EXPECT_FALSE(Base64UrlDecode("++//"));
}

TEST(Base64Test, RoundTripsEveryLengthAndByte) {
  std::mt19937 rng(42);
  for (size_t len = 0; len < 300; ++len) {
    std::string bytes(len, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    if (len == 256) {
      for (size_t i = 0; i < len; ++i) bytes[i] = static_cast<char>(i);
    }
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes) << len;
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(bytes)), bytes) << len;
    EXPECT_EQ(Base64UrlEncode(bytes).size(), (len * 4 + 2) / 3);
  }
}

TEST(Base64Test, RejectsCharactersOutsideTheAlphabet) {
  for (const char* bad : {"Zm9v!A==", "Zm9*", "Zm 9v", "Zm9v\n", " Zm9v", "Zm9\tv", "Zm.v", "Zm\xc3\xa9",
                          "Zm9v\xff\xff\xff\xff"}) {
    EXPECT_FALSE(Base64Decode(bad)) << bad;
    EXPECT_FALSE(Base64UrlDecode(bad)) << bad;
  }
  EXPECT_FALSE(Base64Decode(std::string("Zm9\0", 4)));
  EXPECT_FALSE(Base64UrlDecode(std::string("Zm9\0", 4)));
  EXPECT_FALSE(Base64UrlDecode(std::string("Zm\0", 3)));
}

TEST(Base64Test, RejectsBadPadding) {
  EXPECT_FALSE(Base64Decode("Zg"));        // padding required
  EXPECT_FALSE(Base64Decode("Zg="));       // not a multiple of 4
  EXPECT_FALSE(Base64Decode("Zm8"));
  EXPECT_FALSE(Base64Decode("Z==="));      // three '='
  EXPECT_FALSE(Base64Decode("===="));
  EXPECT_FALSE(Base64Decode("Zg==Zg=="));  // padding in the middle
  EXPECT_FALSE(Base64Decode("Z=g="));
  EXPECT_FALSE(Base64Decode("=Zm9"));
  EXPECT_FALSE(Base64Decode("Zm9vY"));     // length % 4 == 1 can never be valid
  EXPECT_TRUE(Base64Decode("Zg=="));
  EXPECT_TRUE(Base64Decode("Zm8="));
}

TEST(Base64Test, UrlRejectsPaddingAndImpossibleLengths) {
  EXPECT_FALSE(Base64UrlDecode("Zg=="));
  EXPECT_FALSE(Base64UrlDecode("Zm8="));
  EXPECT_FALSE(Base64UrlDecode("Zg="));
  EXPECT_FALSE(Base64UrlDecode("Z"));
  EXPECT_FALSE(Base64UrlDecode("Zm9vY"));
}

TEST(Base64Test, RejectsNonZeroTrailingBits) {
  // "f" is Zg; Zh..Zv carry the same first byte with non-zero unused low bits.
  EXPECT_FALSE(Base64Decode("Zh=="));
  EXPECT_FALSE(Base64Decode("Zv=="));
  EXPECT_FALSE(Base64UrlDecode("Zh"));
  // "fo" is Zm8; Zm9 has the two unused bits set to 01.
  EXPECT_FALSE(Base64Decode("Zm9="));
  EXPECT_FALSE(Base64UrlDecode("Zm9"));
  EXPECT_FALSE(Base64UrlDecode("Zm_"));
}

}  // namespace
}  // namespace tf
