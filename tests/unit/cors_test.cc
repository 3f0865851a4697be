// CORS (oauth/cors.h) through the Service: which endpoints answer a browser origin, with which headers, and which
// never do; origins compared as origins; the preflight; discovery's completeness for browser and public clients.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "oauth/service.h"
#include "store/records.h"
#include "test_env.h"

namespace tf {
namespace {

using testing::HeaderOf;
using testing::Json;
using testing::kNow;

constexpr char kIssuer[] = "https://auth.example.com";

class CorsTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("cors_test"));
    config_.issuer = kIssuer;
    PutNewKey(token::Alg::kRS256, store::KeyState::kCurrent, kNow - 10);
    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutApiScope(testing::Scope("api")));
      store::Client spa;
      spa.client_id = "spa";
      spa.require_client_secret = false;
      spa.allowed_grant_types = {"authorization_code"};
      spa.allowed_scopes = {"api"};
      spa.redirect_uris = {"https://spa.example.com/cb"};
      spa.allowed_cors_origins = {"HTTPS://SPA.example.com:443", "http://localhost:3000", "https://bad.example/x"};
      TF_RETURN_IF_ERROR(t.PutClient(spa));
      store::Client off = testing::ConfidentialClient("off", "secret", {"api"});
      off.enabled = false;
      off.allowed_cors_origins = {"https://disabled.example.com"};
      return t.PutClient(off);
    });
    NewService();
  }

  http::Response Call(const std::string& method, const std::string& path, const std::string& origin) {
    http::Request r = method == "POST" ? testing::FormPost(path, "grant_type=client_credentials&client_id=spa")
                                       : http::Request();
    r.method = method;
    r.path = path;
    r.origin = origin;
    return Handle(r);
  }

  static bool HasCorsHeader(const http::Response& r) {
    for (const auto& [name, value] : r.headers) {
      if (name.rfind("Access-Control-", 0) == 0) return true;
    }
    return false;
  }
};

const std::vector<std::pair<std::string, std::string>> kCorsEndpoints = {
    {"POST", "/connect/token"},           {"POST", "/connect/revocation"},
    {"POST", "/connect/introspect"},      {"GET", "/connect/userinfo"},
    {"GET", "/.well-known/openid-configuration"}, {"GET", "/.well-known/openid-configuration/jwks"}};

TEST_F(CorsTest, AllowedOriginGetsItsExactOriginBackOnEveryCorsEndpoint) {
  for (const auto& [method, path] : kCorsEndpoints) {
    for (const std::string origin :
         {"https://spa.example.com", "http://localhost:3000", "https://SPA.example.com:443"}) {
      http::Response r = Call(method, path, origin);
      EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Origin", testing::RepeatedHeader::kMark), origin) << path;
      EXPECT_EQ(HeaderOf(r, "Vary", testing::RepeatedHeader::kMark), "Origin") << path;
      EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Credentials"), "<absent>") << path;
      EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Methods"), "<absent>") << path;  // preflight only
    }
  }
}

TEST_F(CorsTest, UnlistedOriginsGetNoCorsHeaders) {
  for (const auto& [method, path] : kCorsEndpoints) {
    for (const std::string origin : {"https://evil.example.com", "https://spa.example.com:8443",
                                     "http://spa.example.com", "https://disabled.example.com", "https://bad.example",
                                     "null", "https://spa.example.com/", ""}) {
      http::Response r = Call(method, path, origin);
      EXPECT_FALSE(HasCorsHeader(r)) << path << " " << origin;
      EXPECT_EQ(HeaderOf(r, "Vary"), "Origin") << path;
      r = Call("OPTIONS", path, origin);
      EXPECT_EQ(r.status, 204) << path;
      EXPECT_FALSE(HasCorsHeader(r)) << path << " " << origin;
    }
  }
}

TEST_F(CorsTest, Preflight) {
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"/connect/token", "POST"},           {"/connect/revocation", "POST"},
      {"/connect/introspect", "POST"},      {"/connect/userinfo", "GET, POST"},
      {"/.well-known/openid-configuration", "GET, HEAD"}, {"/.well-known/openid-configuration/jwks", "GET, HEAD"}};
  for (const auto& [path, allowed] : methods) {
    http::Response r = Call("OPTIONS", path, "http://localhost:3000");
    EXPECT_EQ(r.status, 204) << path;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(HeaderOf(r, "Allow"), allowed + ", OPTIONS");
    EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Origin"), "http://localhost:3000");
    EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Methods"), allowed);
    EXPECT_EQ(HeaderOf(r, "Access-Control-Allow-Headers"), "Authorization, Content-Type");
    EXPECT_EQ(HeaderOf(r, "Access-Control-Max-Age"), "600");
    EXPECT_EQ(log_.outcome, "ok");
  }
}

TEST_F(CorsTest, AuthorizeAndUnknownPathsNeverSendCorsHeaders) {
  for (const std::string method : {"GET", "POST", "OPTIONS"}) {
    for (const std::string path : {"/connect/authorize", "/connect/nope", "/"}) {
      http::Response r = Call(method, path, "https://spa.example.com");
      EXPECT_FALSE(HasCorsHeader(r)) << method << " " << path;
      EXPECT_EQ(HeaderOf(r, "Vary"), "<absent>") << method << " " << path;
    }
  }
  EXPECT_EQ(Call("OPTIONS", "/connect/authorize", "https://spa.example.com").status, 405);
}

TEST_F(CorsTest, AnOriginAddedToAClientIsAllowedAfterTheNextSnapshot) {
  EXPECT_FALSE(HasCorsHeader(Call("GET", "/.well-known/openid-configuration", "https://new.example.com")));
  Put([&](store::Txn& t) -> Status {
    store::Client c = testing::ConfidentialClient("web", "secret", {"api"});
    c.allowed_cors_origins = {"https://new.example.com"};
    return t.PutClient(c);
  });
  EXPECT_EQ(HeaderOf(Call("GET", "/.well-known/openid-configuration", "https://new.example.com"),
                     "Access-Control-Allow-Origin"),
            "https://new.example.com");
}

TEST_F(CorsTest, DiscoveryListsNoneAndOfflineAccessOnlyWhenAClientNeedsThem) {
  Json doc(Call("GET", "/.well-known/openid-configuration", "").body);
  ASSERT_TRUE(doc.ok());
  // "spa" is public: token and revocation accept client_id alone; introspection callers always authenticate.
  EXPECT_EQ(doc.Strings("token_endpoint_auth_methods_supported"),
            (std::vector<std::string>{"client_secret_basic", "client_secret_post", "none"}));
  EXPECT_EQ(doc.Strings("revocation_endpoint_auth_methods_supported"),
            (std::vector<std::string>{"client_secret_basic", "client_secret_post", "none"}));
  EXPECT_EQ(doc.Strings("introspection_endpoint_auth_methods_supported"),
            (std::vector<std::string>{"client_secret_basic", "client_secret_post"}));
  EXPECT_EQ(doc.Strings("scopes_supported"), (std::vector<std::string>{"api"}));
  EXPECT_EQ(doc.Raw("request_parameter_supported"), "false");
  EXPECT_EQ(doc.Raw("request_uri_parameter_supported"), "false");

  Put([&](store::Txn& t) -> Status {
    Result<store::Client> spa = t.GetClient("spa");
    TF_RETURN_IF_ERROR(spa.status());
    spa->require_client_secret = true;
    spa->allow_offline_access = true;
    return t.PutClient(*spa);
  });
  Json after(Call("GET", "/.well-known/openid-configuration", "").body);
  EXPECT_EQ(after.Strings("token_endpoint_auth_methods_supported"),
            (std::vector<std::string>{"client_secret_basic", "client_secret_post"}));
  EXPECT_EQ(after.Strings("scopes_supported"), (std::vector<std::string>{"api", "offline_access"}));
}

}  // namespace
}  // namespace tf
