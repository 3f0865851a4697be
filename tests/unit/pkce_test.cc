// PKCE (RFC 7636, oauth/pkce.h): the syntax of verifiers and challenges, and matching under S256 and plain.
#include "oauth/pkce.h"

#include <gtest/gtest.h>

#include <string>

namespace tf::oauth {
namespace {

// RFC 7636 Appendix B (also: openssl dgst -sha256 -binary of the verifier, base64url).
constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr char kChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(PkceTest, Rfc7636AppendixB) {
  EXPECT_TRUE(IsValidPkceString(kVerifier));
  EXPECT_TRUE(IsValidPkceString(kChallenge));
  EXPECT_TRUE(PkceVerifierMatches(kVerifier, kChallenge, kPkceS256));
  EXPECT_TRUE(PkceVerifierMatches(kVerifier, kChallenge, "S256"));
}

TEST(PkceTest, S256Mismatches) {
  std::string other = kVerifier;
  other.back() = 'j';
  EXPECT_FALSE(PkceVerifierMatches(other, kChallenge, kPkceS256));
  // The verifier sent where its S256 challenge was expected (a plain challenge stored as S256) never matches.
  EXPECT_FALSE(PkceVerifierMatches(kVerifier, kVerifier, kPkceS256));
  // The challenge presented as its own verifier.
  EXPECT_FALSE(PkceVerifierMatches(kChallenge, kChallenge, kPkceS256));
  // A truncated or padded challenge.
  EXPECT_FALSE(PkceVerifierMatches(kVerifier, std::string(kChallenge).substr(0, 42), kPkceS256));
  EXPECT_FALSE(PkceVerifierMatches(kVerifier, std::string(kChallenge) + "=", kPkceS256));
  EXPECT_FALSE(PkceVerifierMatches(kVerifier, "", kPkceS256));
}

TEST(PkceTest, Lengths) {
  EXPECT_FALSE(IsValidPkceString(""));
  EXPECT_FALSE(IsValidPkceString(std::string(42, 'a')));
  EXPECT_TRUE(IsValidPkceString(std::string(43, 'a')));
  EXPECT_TRUE(IsValidPkceString(std::string(128, 'a')));
  EXPECT_FALSE(IsValidPkceString(std::string(129, 'a')));
  EXPECT_FALSE(IsValidPkceString(std::string(1000, 'a')));
}

TEST(PkceTest, Characters) {
  const std::string all_unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  EXPECT_TRUE(IsValidPkceString(all_unreserved));
  for (const char bad : std::string("+/= %!*'()#&?:@[]\"\\\t\n\x7f")) {
    std::string s(43, 'a');
    s[20] = bad;
    EXPECT_FALSE(IsValidPkceString(s)) << "character " << static_cast<int>(bad);
  }
  std::string nul(43, 'a');
  nul[0] = '\0';
  EXPECT_FALSE(IsValidPkceString(nul));
  std::string utf8(41, 'a');
  utf8 += "\xc3\xa9";  // é: 43 bytes, not unreserved
  EXPECT_FALSE(IsValidPkceString(utf8));
  std::string high(43, 'a');
  high[42] = static_cast<char>(0xff);
  EXPECT_FALSE(IsValidPkceString(high));
}

TEST(PkceTest, Plain) {
  EXPECT_TRUE(PkceVerifierMatches(kVerifier, kVerifier, kPkcePlain));
  EXPECT_TRUE(PkceVerifierMatches(kVerifier, kVerifier, "plain"));
  std::string other = kVerifier;
  other[0] = 'e';
  EXPECT_FALSE(PkceVerifierMatches(other, kVerifier, kPkcePlain));
  EXPECT_FALSE(PkceVerifierMatches(kVerifier, kChallenge, kPkcePlain));  // an S256 challenge is not plain
  EXPECT_FALSE(PkceVerifierMatches(kVerifier, std::string(kVerifier) + "a", kPkcePlain));
}

TEST(PkceTest, UnknownMethodsNeverMatch) {
  for (const char* method : {"", "s256", "S256 ", "PLAIN", "Plain", "S512", "none"}) {
    EXPECT_FALSE(PkceVerifierMatches(kVerifier, kChallenge, method)) << method;
    EXPECT_FALSE(PkceVerifierMatches(kVerifier, kVerifier, method)) << method;
  }
}

}  // namespace
}  // namespace tf::oauth
