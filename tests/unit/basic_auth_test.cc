// Basic client credential parsing (oauth/basic_auth.h).
#include "oauth/basic_auth.h"

#include <gtest/gtest.h>

#include "util/base64.h"

namespace tf::oauth {
namespace {

std::string Header(std::string_view scheme, std::string_view userpass) {
  return std::string(scheme) + " " + Base64Encode(userpass);
}

TEST(BasicAuthTest, ParsesIdAndSecret) {
  Result<BasicCredentials> c = ParseBasicAuthorization(Header("Basic", "client1:s3cret"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->client_id, "client1");
  EXPECT_EQ(c->client_secret, "s3cret");
}

TEST(BasicAuthTest, SchemeIsCaseInsensitive) {
  for (std::string_view scheme : {"basic", "BASIC", "bAsIc"}) {
    Result<BasicCredentials> c = ParseBasicAuthorization(Header(scheme, "a:b"));
    ASSERT_TRUE(c.ok()) << scheme;
    EXPECT_EQ(c->client_id, "a");
  }
}

TEST(BasicAuthTest, OneOrMoreSpacesAfterScheme) {
  EXPECT_TRUE(ParseBasicAuthorization("Basic    " + Base64Encode("a:b")).ok());
  EXPECT_FALSE(ParseBasicAuthorization("Basic").ok());
  EXPECT_FALSE(ParseBasicAuthorization("Basic    ").ok());
  EXPECT_FALSE(ParseBasicAuthorization("Basic").status().IsNotFound());
}

TEST(BasicAuthTest, IdAndSecretAreFormUrlDecoded) {
  Result<BasicCredentials> c = ParseBasicAuthorization(Header("Basic", "my%3Aclient:p%40ss+word%2B"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_id, "my:client");
  EXPECT_EQ(c->client_secret, "p@ss word+");
}

TEST(BasicAuthTest, SplitsAtFirstColonSoSecretMayContainColons) {
  Result<BasicCredentials> c = ParseBasicAuthorization(Header("Basic", "client:a:b:c"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_id, "client");
  EXPECT_EQ(c->client_secret, "a:b:c");
}

TEST(BasicAuthTest, EmptySecretIsAllowed) {
  Result<BasicCredentials> c = ParseBasicAuthorization(Header("Basic", "public:"));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->client_secret, "");
}

TEST(BasicAuthTest, RejectsMalformed) {
  const std::string cases[] = {
      "Basic not*base64",
      "Basic " + Base64UrlEncode("ab?>:c"),          // base64url alphabet / no padding
      "Basic YWJj",                                   // "abc": no colon
      Header("Basic", "noColon"),
      Header("Basic", ":secret"),                     // empty id
      Header("Basic", "a%zz:b"),
      Header("Basic", "a:b%4"),
      Header("Basic", "a%00:b"),
      Header("Basic", std::string("a:b\0c", 5)),
      Header("Basic", "a%C3%28:b"),
      Header("Basic", "a:\xC0\xAF"),
      "Basic " + Base64Encode("a:b") + "x",
  };
  for (const std::string& h : cases) {
    Result<BasicCredentials> c = ParseBasicAuthorization(h);
    EXPECT_FALSE(c.ok()) << h;
    EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << h;
  }
}

TEST(BasicAuthTest, NonBasicSchemeIsNotFound) {
  for (std::string_view h : {"", "   ", "Bearer abc.def.ghi", "Digest username=x", "Basically YTpi", "BasicYTpi"}) {
    Result<BasicCredentials> c = ParseBasicAuthorization(h);
    EXPECT_TRUE(c.status().IsNotFound()) << h;
  }
}

TEST(BasicAuthTest, ErrorMessagesNeverContainTheCredential) {
  Result<BasicCredentials> c = ParseBasicAuthorization(Header("Basic", "id:topsecret%zz"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("topsecret"), std::string::npos);
}

}  // namespace
}  // namespace tf::oauth
