// Form decoding rules (oauth/form.h): each test fails if its rule is removed.
#include "oauth/form.h"

#include <gtest/gtest.h>

#include <string>

namespace tf::oauth {
namespace {

Form MustDecode(std::string_view body, size_t max_params = 64) {
  Result<Form> f = DecodeForm(body, max_params);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return f.ok() ? *f : Form();
}

std::string DecodeError(std::string_view body, size_t max_params = 64) {
  Result<Form> f = DecodeForm(body, max_params);
  EXPECT_FALSE(f.ok()) << "accepted: " << body;
  return f.ok() ? "" : f.status().message();
}

TEST(FormTest, DecodesPairsInOrder) {
  const Form f = MustDecode("grant_type=client_credentials&scope=api1");
  ASSERT_EQ(f.params().size(), 2u);
  EXPECT_EQ(f.params()[0].first, "grant_type");
  EXPECT_EQ(f.Get("grant_type"), "client_credentials");
  EXPECT_EQ(f.Get("scope"), "api1");
  EXPECT_EQ(f.Get("missing"), "");
  EXPECT_FALSE(f.Has("missing"));
}

TEST(FormTest, EmptyBodyIsEmptyForm) { EXPECT_TRUE(MustDecode("").params().empty()); }

TEST(FormTest, PlusIsSpaceAndPercent2BIsPlus) {
  const Form f = MustDecode("scope=api1+api2&secret=a%2Bb&n%61me=x");
  EXPECT_EQ(f.Get("scope"), "api1 api2");
  EXPECT_EQ(f.Get("secret"), "a+b");
  EXPECT_EQ(f.Get("name"), "x");
}

TEST(FormTest, PercentDecodesHexOfBothCases) {
  EXPECT_EQ(MustDecode("a=%3a%3A%c3%a9").Get("a"), ":" ":" "\xC3\xA9");
}

TEST(FormTest, RejectsBadPercentEncoding) {
  EXPECT_NE(DecodeError("scope=%zz").find("parameter 'scope' is not validly percent-encoded"), std::string::npos);
  DecodeError("scope=%4");
  DecodeError("scope=%");
  DecodeError("scope=ab%4g");
  DecodeError("sc%zope=x");
}

TEST(FormTest, RejectsNulRawAndEncoded) {
  EXPECT_NE(DecodeError("scope=a%00b").find("NUL"), std::string::npos);
  DecodeError(std::string_view("scope=a\0b", 9));
  DecodeError("sc%00ope=x");
}

TEST(FormTest, RejectsInvalidUtf8InValuesAndNames) {
  EXPECT_NE(DecodeError("scope=%C3%28").find("UTF-8"), std::string::npos);
  DecodeError("scope=%C0%AF");          // overlong '/'
  DecodeError("scope=%ED%A0%80");       // surrogate U+D800
  DecodeError("scope=%F4%90%80%80");    // above U+10FFFF
  DecodeError("scope=%E2%82");          // truncated
  DecodeError("scope=\xff");            // raw invalid byte
  DecodeError("%C3%28=x");
  EXPECT_EQ(MustDecode("s=%F0%9F%94%91").Get("s"), "\xF0\x9F\x94\x91");
}

TEST(FormTest, RejectsRepeatedParameter) {
  const std::string e = DecodeError("scope=a&grant_type=x&scope=b");
  EXPECT_NE(e.find("parameter 'scope' is repeated"), std::string::npos) << e;
  EXPECT_EQ(e.find("=b"), std::string::npos);
}

TEST(FormTest, RejectsRepeatedParameterEvenWhenOneIsEmpty) {
  DecodeError("scope=&scope=b");
  DecodeError("scope=a&scope=");
  DecodeError("scope&scope=b");
  DecodeError("sc%6fpe=a&scope=b");  // same name after decoding
}

TEST(FormTest, EmptyValuesAreAbsent) {
  const Form f = MustDecode("client_secret=&scope&grant_type=x");
  EXPECT_FALSE(f.Has("client_secret"));
  EXPECT_FALSE(f.Has("scope"));
  ASSERT_EQ(f.params().size(), 1u);
  EXPECT_EQ(f.params()[0].first, "grant_type");
}

TEST(FormTest, EmptySegmentsAreSkipped) {
  const Form f = MustDecode("&a=1&&b=2&");
  EXPECT_EQ(f.Get("a"), "1");
  EXPECT_EQ(f.Get("b"), "2");
}

TEST(FormTest, RejectsEmptyName) { DecodeError("=value"); }

TEST(FormTest, RejectsTooManyParameters) {
  MustDecode("a=1&b=2&c=3", 3);
  EXPECT_NE(DecodeError("a=1&b=2&c=3&d=4", 3).find("too many"), std::string::npos);
  DecodeError("a=1&b=2&c=3&d=", 3);  // empty values still count
}

TEST(FormTest, ValueAfterFirstEqualsKeepsEquals) { EXPECT_EQ(MustDecode("a=b=c").Get("a"), "b=c"); }

TEST(FormTest, ErrorsNeverEchoValuesOrOddNames) {
  const std::string e1 = DecodeError("scope=secretvalue%zz");
  EXPECT_EQ(e1.find("secretvalue"), std::string::npos);
  const std::string e2 = DecodeError("we%20ird=1&we%20ird=2");
  EXPECT_EQ(e2.find("we ird"), std::string::npos) << e2;
  EXPECT_NE(e2.find("a parameter is repeated"), std::string::npos) << e2;
}

TEST(PercentDecodeTest, Rules) {
  EXPECT_EQ(*PercentDecode("a+b%20c"), "a b c");
  EXPECT_FALSE(PercentDecode("%G0").ok());
  EXPECT_FALSE(PercentDecode("%00").ok());
  EXPECT_FALSE(PercentDecode("%C0%AF").ok());
}

}  // namespace
}  // namespace tf::oauth
