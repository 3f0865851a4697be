// The JSON writer behind every response and token (util/json_writer.h) and the invalid_client challenge header
// (oauth/errors.h): output must always be valid JSON / a valid quoted-string, whatever the configuration holds.
#include <cjson/cJSON.h>

#include <gtest/gtest.h>

#include "oauth/errors.h"
#include "util/json_writer.h"

namespace tf::oauth {
namespace {

TEST(JsonWriterTest, WritesMembersInOrder) {
  JsonWriter w;
  w.String("a", "x");
  w.Int("b", -1800000000000);
  w.Bool("c", true);
  w.StringArray("d", std::vector<std::string>{"p", "q"});
  w.Raw("e", "{\"k\":1}");
  EXPECT_EQ(std::move(w).Finish(), R"({"a":"x","b":-1800000000000,"c":true,"d":["p","q"],"e":{"k":1}})");
  EXPECT_EQ(JsonWriter().Finish(), "{}");
}

TEST(JsonWriterTest, EscapesQuotesBackslashesAndControlCharacters) {
  std::string out;
  AppendJsonString(out, std::string("q\"b\\n\n\r\t\b\f\x01\x1f\x7f", 13));
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\n\\r\\t\\b\\f\\u0001\\u001f\x7f\"");
}

TEST(JsonWriterTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  std::string out;
  AppendJsonString(out, "\xC3\xA9\xF0\x9F\x94\x91");
  EXPECT_EQ(out, "\"\xC3\xA9\xF0\x9F\x94\x91\"");
  out.clear();
  AppendJsonString(out, "a\xC0\xAF" "b\xED\xA0\x80" "c\xE2\x82");
  EXPECT_EQ(out, "\"a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriterTest, OutputParsesBack) {
  JsonWriter w;
  w.String("weird", std::string("\"\\\x00\x01\xff", 5));
  const std::string text = std::move(w).Finish();
  cJSON* root = cJSON_Parse(text.c_str());
  ASSERT_NE(root, nullptr) << text;
  cJSON_Delete(root);
}

TEST(ErrorsTest, OAuthErrorShapeAndHeaders) {
  http::Response r = OAuthError(400, kInvalidScope, "bad \"scope\"");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":"invalid_scope","error_description":"bad \"scope\""})");
  EXPECT_EQ(ErrorCodeOf(r), "invalid_scope");
  EXPECT_EQ(OAuthError(404, kNotFound, "").body, R"({"error":"not_found"})");
  EXPECT_EQ(ErrorCodeOf(JsonResponse(200, R"({"access_token":"x"})")), "");
  const std::vector<std::pair<std::string, std::string>> want = {
      {"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"}};
  EXPECT_EQ(r.headers, want);
}

TEST(ErrorsTest, InvalidClientRealmIsAQuotedString) {
  Config config;
  config.realm = "a \"b\" \\c\r\nX-Injected: 1";
  http::Response r = InvalidClient(config);
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 4u);
  EXPECT_EQ(r.headers[3].first, "WWW-Authenticate");
  EXPECT_EQ(r.headers[3].second, R"(Basic realm="a \"b\" \\cX-Injected: 1")");
}

}  // namespace
}  // namespace tf::oauth
