// util/origin.h: origins compared as CORS compares them.
#include "util/origin.h"

#include <gtest/gtest.h>

namespace tf {
namespace {

TEST(OriginTest, NormalisesSchemeHostAndDefaultPorts) {
  EXPECT_EQ(NormalizeOrigin("https://app.example.com"), "https://app.example.com");
  EXPECT_EQ(NormalizeOrigin("HTTPS://App.Example.COM"), "https://app.example.com");
  EXPECT_EQ(NormalizeOrigin("https://app.example.com:443"), "https://app.example.com");
  EXPECT_EQ(NormalizeOrigin("http://app.example.com:80"), "http://app.example.com");
  EXPECT_EQ(NormalizeOrigin("http://app.example.com:0080"), "http://app.example.com");
  EXPECT_EQ(NormalizeOrigin("http://app.example.com:443"), "http://app.example.com:443");
  EXPECT_EQ(NormalizeOrigin("https://app.example.com:80"), "https://app.example.com:80");
  EXPECT_EQ(NormalizeOrigin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(NormalizeOrigin("http://[::1]:3000"), "http://[::1]:3000");
  EXPECT_EQ(NormalizeOrigin("http://[::1]"), "http://[::1]");
  EXPECT_EQ(NormalizeOrigin("capacitor://localhost"), "capacitor://localhost");
}

TEST(OriginTest, RefusesWhatIsNotAnOrigin) {
  for (const char* bad : {"", "null", "app.example.com", "://app", "https://", "https://app.example.com/",
                          "https://app.example.com/path", "https://app.example.com?q", "https://app.example.com#f",
                          "https://user@app.example.com", "https://app.example.com:", "https://app.example.com:0",
                          "https://app.example.com:65536", "https://app.example.com:123456", "https://app:x",
                          "https://a pp.example.com", "1http://app", "https://[::1", "https://[]",
                          "https://*.example.com", "https://app.example.com:80:80"}) {
    EXPECT_EQ(NormalizeOrigin(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace tf
