// BuildRequest, SerializeResponse and the --listen syntax, driven with a fake parameter map and body reader (no
// sockets, no libfcgi state).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "http/fcgi_server.h"
#include "http/listen_address.h"
#include "http/param_index.h"

namespace tf::http {
namespace {

struct Fake {
  std::map<std::string, std::string> params;
  std::string body;
  size_t offset = 0;
  int calls = 0;
  int chunk = 1 << 30;     // the most one read returns (to exercise short reads)
  bool fail_at_end = false;  // return -1 instead of 0 when the body runs out

  ParamLookup Lookup() {
    return [this](const char* name) -> const char* {
      auto it = params.find(name);
      return it == params.end() ? nullptr : it->second.c_str();
    };
  }
  BodyReader Reader() {
    return [this](char* buf, int len) -> int {
      ++calls;
      size_t n = std::min<size_t>({static_cast<size_t>(len), body.size() - offset, static_cast<size_t>(chunk)});
      if (n == 0) return fail_at_end ? -1 : 0;
      std::memcpy(buf, body.data() + offset, n);
      offset += n;
      return static_cast<int>(n);
    };
  }
  Request Build(uint64_t max = 64 * 1024) { return BuildRequest(Lookup(), Reader(), max); }
};

TEST(BuildRequestTest, CopiesEveryField) {
  Fake f;
  f.params = {{"REQUEST_METHOD", "POST"},
              {"REQUEST_URI", "/auth/connect/token?x=1&y=2"},
              {"QUERY_STRING", "x=1&y=2"},
              {"CONTENT_TYPE", "application/x-www-form-urlencoded; charset=UTF-8"},
              {"HTTP_AUTHORIZATION", "Basic YTpi"},
              {"REDIRECT_HTTP_AUTHORIZATION", "Basic other"},
              {"REMOTE_USER", "alice"},
              {"REMOTE_ADDR", "192.0.2.7"},
              {"HTTP_HOST", "id.example.com"},
              {"HTTP_COOKIE", "a=b"},
              {"HTTPS", "on"},
              {"CONTENT_LENGTH", "18"}};
  f.body = "grant_type=foo&x=y";
  Request r = f.Build();
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/auth/connect/token");
  EXPECT_EQ(r.query, "x=1&y=2");
  EXPECT_EQ(r.content_type, "application/x-www-form-urlencoded; charset=UTF-8");
  EXPECT_EQ(r.authorization, "Basic YTpi");
  EXPECT_EQ(r.remote_user, "alice");
  EXPECT_EQ(r.remote_addr, "192.0.2.7");
  EXPECT_EQ(r.host, "id.example.com");
  EXPECT_EQ(r.cookie, "a=b");
  EXPECT_TRUE(r.https);
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, "grant_type=foo&x=y");
}

TEST(BuildRequestTest, MissingParamsAreEmpty) {
  Fake f;
  Request r = f.Build();
  EXPECT_EQ(r.method, "");
  EXPECT_EQ(r.path, "");
  EXPECT_EQ(r.authorization, "");
  EXPECT_FALSE(r.https);
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(f.calls, 0);
}

TEST(BuildRequestTest, RedirectAuthorizationFallback) {
  Fake f;
  f.params = {{"REDIRECT_HTTP_AUTHORIZATION", "Basic cmVk"}};
  EXPECT_EQ(f.Build().authorization, "Basic cmVk");
  f.params["HTTP_AUTHORIZATION"] = "";  // present but empty: still falls back
  EXPECT_EQ(f.Build().authorization, "Basic cmVk");
  f.params["HTTP_AUTHORIZATION"] = "Bearer direct";
  EXPECT_EQ(f.Build().authorization, "Bearer direct");
}

TEST(BuildRequestTest, HttpsValues) {
  for (const char* on : {"on", "ON", "On", "1"}) {
    Fake f;
    f.params = {{"HTTPS", on}};
    EXPECT_TRUE(f.Build().https) << on;
  }
  for (const char* off : {"off", "", "0", "yes", "true", "onn"}) {
    Fake f;
    f.params = {{"HTTPS", off}};
    EXPECT_FALSE(f.Build().https) << off;
  }
}

TEST(BuildRequestTest, PathFromRequestUri) {
  Fake f;
  f.params = {{"REQUEST_URI", "/.well-known/openid-configuration"}, {"SCRIPT_NAME", "/ignored"}};
  EXPECT_EQ(f.Build().path, "/.well-known/openid-configuration");
  f.params["REQUEST_URI"] = "/connect/token?grant_type=x?y";
  EXPECT_EQ(f.Build().path, "/connect/token");
  f.params["REQUEST_URI"] = "/a%2Fb";  // not percent-decoded
  EXPECT_EQ(f.Build().path, "/a%2Fb");
  f.params["REQUEST_URI"] = "?only=query";
  EXPECT_EQ(f.Build().path, "");
}

TEST(BuildRequestTest, PathFromScriptNameAndPathInfo) {
  Fake f;
  f.params = {{"SCRIPT_NAME", "/cgi-bin/tokenfcgi"}, {"PATH_INFO", "/connect/token"}};
  EXPECT_EQ(f.Build().path, "/cgi-bin/tokenfcgi/connect/token");
  f.params = {{"SCRIPT_NAME", "/connect/token"}};
  EXPECT_EQ(f.Build().path, "/connect/token");
  f.params = {{"PATH_INFO", "/connect/token"}, {"REQUEST_URI", ""}};
  EXPECT_EQ(f.Build().path, "/connect/token");
}

TEST(BuildRequestTest, ContentLengthMissingOrEmptyMeansNoBody) {
  Fake f;
  f.body = "unexpected";
  Request r = f.Build();
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, "");
  f.params["CONTENT_LENGTH"] = "";  // what nginx sends for a request without a body
  r = f.Build();
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(f.calls, 0);
}

TEST(BuildRequestTest, ContentLengthZero) {
  Fake f;
  f.params["CONTENT_LENGTH"] = "0";
  Request r = f.Build();
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, "");
}

TEST(BuildRequestTest, ContentLengthMalformed) {
  for (const char* cl : {"abc", "-1", "-0", "+5", " 5", "5 ", "1e3", "0x10", "5.0"}) {
    Fake f;
    f.params["CONTENT_LENGTH"] = cl;
    f.body = "hello";
    Request r = f.Build();
    EXPECT_EQ(r.body_state, BodyState::kIncomplete) << cl;
    EXPECT_EQ(r.body, "") << cl;
    EXPECT_EQ(f.calls, 0) << cl;
  }
}

TEST(BuildRequestTest, ContentLengthOverCapIsNotRead) {
  Fake f;
  f.body = std::string(2000, 'a');
  f.params["CONTENT_LENGTH"] = "1025";
  Request r = f.Build(1024);
  EXPECT_EQ(r.body_state, BodyState::kTooLarge);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(f.calls, 0);
  for (const char* huge : {"18446744073709551616", "99999999999999999999999999999999999999999999"}) {
    Fake g;
    g.params["CONTENT_LENGTH"] = huge;
    Request h = g.Build(1024);
    EXPECT_EQ(h.body_state, BodyState::kTooLarge) << huge;
    EXPECT_EQ(g.calls, 0);
  }
}

TEST(BuildRequestTest, ContentLengthAtCapIsRead) {
  Fake f;
  f.body = std::string(1024, 'b');
  f.params["CONTENT_LENGTH"] = "1024";
  Request r = f.Build(1024);
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, f.body);
  f.params["CONTENT_LENGTH"] = "0001024";  // leading zeros are still digits
  f.offset = 0;
  EXPECT_EQ(f.Build(1024).body_state, BodyState::kComplete);
  f.params["CONTENT_LENGTH"] = std::string(40, '0') + "5";
  f.offset = 0;
  Request z = f.Build(1024);
  EXPECT_EQ(z.body_state, BodyState::kComplete);
  EXPECT_EQ(z.body, "bbbbb");
  f.params["CONTENT_LENGTH"] = std::string(16 * 1024, '0');  // absurdly long: malformed, not read
  f.offset = 0;
  f.calls = 0;
  EXPECT_EQ(f.Build(1024).body_state, BodyState::kIncomplete);
  EXPECT_EQ(f.calls, 0);
}

TEST(BuildRequestTest, ShortBodyIsIncomplete) {
  Fake f;
  f.body = "grant_type=client";
  f.params["CONTENT_LENGTH"] = "100";
  Request r = f.Build();
  EXPECT_EQ(r.body_state, BodyState::kIncomplete);
  EXPECT_EQ(r.body, "");

  Fake e;  // the reader reports an error instead of end of input
  e.body = "abc";
  e.fail_at_end = true;
  e.params["CONTENT_LENGTH"] = "10";
  EXPECT_EQ(e.Build().body_state, BodyState::kIncomplete);
}

TEST(BuildRequestTest, ReadsExactlyContentLength) {
  Fake f;
  f.body = "grant_type=x&extra-bytes-beyond-the-length";
  f.params["CONTENT_LENGTH"] = "12";
  Request r = f.Build();
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, "grant_type=x");
  EXPECT_EQ(f.offset, 12u);
}

TEST(BuildRequestTest, ShortReadsAreReassembled) {
  Fake f;
  f.chunk = 3;
  f.body = std::string(200000, 'z');  // also larger than one internal read chunk
  f.body[199999] = '!';
  f.params["CONTENT_LENGTH"] = "200000";
  Request r = f.Build(1 << 20);
  EXPECT_EQ(r.body_state, BodyState::kComplete);
  EXPECT_EQ(r.body, f.body);
  EXPECT_GT(f.calls, 60000);
}

TEST(BuildRequestTest, LongParamsAreCapped) {
  Fake f;
  f.params = {{"HTTP_AUTHORIZATION", std::string(100000, 'A')},
              {"HTTP_COOKIE", std::string(20000, 'c')},
              {"REQUEST_URI", "/" + std::string(50000, 'p')}};
  Request r = f.Build();
  EXPECT_EQ(r.authorization.size(), 16u * 1024);
  EXPECT_EQ(r.cookie.size(), 16u * 1024);
  EXPECT_EQ(r.path.size(), 16u * 1024);
}

// ---- ParamIndex: the one-pass parameter lookup the FastCGI adapter feeds to BuildRequest ----

// FCGX_GetParam's rule, written out: the first "NAME=" entry.
const char* Naive(char** envp, const char* name) {
  const size_t len = std::strlen(name);
  for (char** p = envp; *p != nullptr; ++p) {
    if (std::strncmp(name, *p, len) == 0 && (*p)[len] == '=') return *p + len + 1;
  }
  return nullptr;
}

struct Env {
  std::vector<std::string> entries;
  std::vector<char*> ptrs;
  char** Get() {
    ptrs.clear();
    for (std::string& e : entries) ptrs.push_back(e.data());
    ptrs.push_back(nullptr);
    return ptrs.data();
  }
};

TEST(ParamIndexTest, FindsWhatFcgxGetParamFinds) {
  Env env{{"HTTP_HOSTX=wrong", "HTTP_HOS=wrong", "REQUEST_METHOD=POST", "HTTP_HOST=a.example", "HTTP_HOST=second",
           "CONTENT_LENGTH=", "HTTP_AUTHORIZATION=Basic a=b=", "SERVER_NAME=srv", "NOEQUALS", "QUERY_STRING=x=1&y"},
          {}};
  char** envp = env.Get();
  internal::ParamIndex index(envp);
  EXPECT_STREQ(index.Get("HTTP_HOST"), "a.example");  // the first occurrence, not a prefix match
  EXPECT_STREQ(index.Get("REQUEST_METHOD"), "POST");
  EXPECT_STREQ(index.Get("CONTENT_LENGTH"), "");       // present but empty is not absent
  EXPECT_STREQ(index.Get("HTTP_AUTHORIZATION"), "Basic a=b=");
  EXPECT_STREQ(index.Get("QUERY_STRING"), "x=1&y");
  EXPECT_EQ(index.Get("REMOTE_USER"), nullptr);
  EXPECT_STREQ(index.Get("SERVER_NAME"), "srv");       // outside the indexed names: the full scan
  EXPECT_EQ(index.Get("NOT_THERE"), nullptr);
  for (std::string_view name : internal::ParamIndex::kNames) {
    const std::string n(name);
    EXPECT_EQ(index.Get(n.c_str()), Naive(envp, n.c_str())) << n;
  }
}

TEST(ParamIndexTest, IndexesEveryNameBuildRequestReads) {
  // Each parameter BuildRequest asks for, given once; the request built through the index must see all of them.
  Env env;
  std::vector<std::string> asked;
  BuildRequest(
      [&asked](const char* name) -> const char* {
        asked.emplace_back(name);
        return nullptr;
      },
      [](char*, int) { return 0; }, 1024);
  BuildRequest(
      [&asked](const char* name) -> const char* {
        asked.emplace_back(name);
        return std::string_view(name) == "CONTENT_LENGTH" ? "0" : "";
      },
      [](char*, int) { return 0; }, 1024);
  for (const std::string& name : asked) {
    EXPECT_NE(std::find(internal::ParamIndex::kNames.begin(), internal::ParamIndex::kNames.end(), name),
              internal::ParamIndex::kNames.end())
        << name << " is read by BuildRequest but not indexed (it would take the slow full scan)";
  }
  EXPECT_GE(asked.size(), 13u);
  for (std::string_view name : internal::ParamIndex::kNames) env.entries.push_back(std::string(name) + "=v");
  char** envp = env.Get();
  internal::ParamIndex index(envp);
  for (std::string_view name : internal::ParamIndex::kNames) {
    EXPECT_STREQ(index.Get(std::string(name).c_str()), "v") << name;
  }
  EXPECT_EQ(internal::ParamIndex(nullptr).Get("HTTP_HOST"), nullptr);
}

TEST(SerializeResponseTest, Format) {
  Response resp;
  resp.status = 200;
  resp.SetHeader("Content-Type", "application/json");
  resp.SetHeader("Cache-Control", "no-store");
  resp.body = "{\"a\":1}";
  EXPECT_EQ(SerializeResponse(resp),
            "Status: 200 OK\r\n"
            "Content-Type: application/json\r\n"
            "Cache-Control: no-store\r\n"
            "Content-Length: 7\r\n"
            "\r\n"
            "{\"a\":1}");
}

TEST(SerializeResponseTest, ReasonPhrases) {
  auto status_line = [](int code) {
    Response r;
    r.status = code;
    std::string s = SerializeResponse(r);
    return s.substr(0, s.find("\r\n"));
  };
  EXPECT_EQ(status_line(400), "Status: 400 Bad Request");
  EXPECT_EQ(status_line(401), "Status: 401 Unauthorized");
  EXPECT_EQ(status_line(404), "Status: 404 Not Found");
  EXPECT_EQ(status_line(405), "Status: 405 Method Not Allowed");
  EXPECT_EQ(status_line(413), "Status: 413 Content Too Large");
  EXPECT_EQ(status_line(500), "Status: 500 Internal Server Error");
  EXPECT_EQ(status_line(299), "Status: 299 Unknown");
}

TEST(SerializeResponseTest, EmptyBodyHasContentLengthZero) {
  Response r;
  r.status = 204;
  EXPECT_EQ(SerializeResponse(r), "Status: 204 No Content\r\nContent-Length: 0\r\n\r\n");
}

TEST(SerializeResponseTest, AdapterOwnsFramingHeaders) {
  Response r;
  r.SetHeader("content-length", "999");
  r.SetHeader("Status", "302 Found");
  r.SetHeader("Allow", "POST");
  r.body = "abc";
  EXPECT_EQ(SerializeResponse(r), "Status: 200 OK\r\nAllow: POST\r\nContent-Length: 3\r\n\r\nabc");
}

TEST(SerializeResponseTest, NoHeaderInjection) {
  Response r;
  r.SetHeader("X-Test", "a\r\nSet-Cookie: evil=1");
  std::string s = SerializeResponse(r);
  EXPECT_EQ(s.find("\r\nSet-Cookie"), std::string::npos) << s;
  EXPECT_NE(s.find("X-Test: a  Set-Cookie: evil=1\r\n"), std::string::npos) << s;
}

TEST(ListenAddressTest, Valid) {
  Result<ListenAddress> a = ParseListenAddress("");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, ListenAddress::Kind::kInherited);

  a = ParseListenAddress("unix:/run/tokenfcgi/s.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, ListenAddress::Kind::kUnix);
  EXPECT_EQ(a->path, "/run/tokenfcgi/s.sock");

  a = ParseListenAddress("127.0.0.1:9000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, ListenAddress::Kind::kTcp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, "9000");

  a = ParseListenAddress("[::1]:9001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, "9001");

  a = ParseListenAddress("localhost:65535");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "localhost");
}

TEST(ListenAddressTest, Invalid) {
  for (const char* bad : {":9000", "9000", "unix:", "unix:relative.sock", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:http", "::1:9000", "[::1]9000", "[::1]", "a b:80",
                          "127.0.0.1:123456"}) {
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
  EXPECT_NE(ParseListenAddress(":9000").status().message().find("needs a host"), std::string::npos);
}

}  // namespace
}  // namespace tf::http
