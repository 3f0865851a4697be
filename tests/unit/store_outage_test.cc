// Every endpoint while the store's server is down, through oauth::Service over the PostgreSQL store on a private
// cluster (pg_cluster.h) that the tests stop: what needs the database answers 503 with Retry-After and
// Cache-Control: no-store (JSON endpoints: temporarily_unavailable; browser pages: a page saying the service is
// temporarily unavailable), never 500; a Service whose worker started while the server was down (StoreOptions::
// connect_later) answers 503 to everything that needs the configuration, and serves once the server is back; the
// device page's sign-in answers busy password checks with the authorize endpoint's 503 page.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "oauth/errors.h"
#include "oauth/service.h"
#include "oauth/session.h"
#include "password/password_hash.h"
#include "pg_cluster.h"
#include "store/pg_store.h"
#include "store/store.h"
#include "test_env.h"
#include "util/clock.h"

namespace tf::oauth {
namespace {

using testing::kNow;
using testing::PgCluster;

constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kCallback[] = "https://app.example/cb";
constexpr char kSecret[] = "s3cret";
// RFC 7636 Appendix B.
constexpr char kChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

std::string AuthorizeQuery() {
  return std::string("client_id=web&redirect_uri=") + "https%3A%2F%2Fapp.example%2Fcb" +
         "&response_type=code&scope=openid%20api1&state=st&code_challenge=" + kChallenge +
         "&code_challenge_method=S256";
}

// The hidden inputs of a page as a form body (their values are base64url or plain tokens: no escaping needed).
std::string HiddenFieldsBody(const std::string& html) {
  std::string out;
  static constexpr std::string_view kOpen = "<input type=\"hidden\" name=\"";
  for (size_t at = html.find(kOpen); at != std::string::npos; at = html.find(kOpen, at + 1)) {
    const size_t name_start = at + kOpen.size();
    const size_t name_end = html.find('"', name_start);
    const size_t value_start = html.find("value=\"", name_end) + 7;
    const size_t value_end = html.find('"', value_start);
    std::string value = html.substr(value_start, value_end - value_start);
    for (size_t amp = value.find("&amp;"); amp != std::string::npos; amp = value.find("&amp;", amp + 1)) {
      value.replace(amp, 5, "&");
    }
    std::string encoded;
    for (char c : value) {
      if (c == ' ') {
        encoded += "%20";
      } else if (c == ':' || c == '/' || c == '&' || c == '=' || c == '+' || c == '%') {
        static constexpr char kHex[] = "0123456789ABCDEF";
        encoded += '%';
        encoded += kHex[static_cast<unsigned char>(c) >> 4];
        encoded += kHex[static_cast<unsigned char>(c) & 0x0F];
      } else {
        encoded += c;
      }
    }
    if (!out.empty()) out += '&';
    out += html.substr(name_start, name_end - name_start) + "=" + encoded;
  }
  return out;
}

// "name=value" of the answer's Set-Cookie for `name` ("" if none).
std::string CookieFrom(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == "Set-Cookie" && v.rfind(std::string(name) + "=", 0) == 0) return v.substr(0, v.find(';'));
  }
  return "";
}

class StoreOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(cluster).value();
    store::StoreOptions o;
    o.path = cluster_->Uri();
    o.create = true;
    Result<std::unique_ptr<store::Store>> s = store::OpenStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();

    config_.issuer = kIssuer;
    testing::UseCheapPasswordHashing(&config_);
    config_.access_token_signing_alg = "ES256";
    config_.id_token_signing_alg = "ES256";
    std::shared_ptr<const token::SigningKey> key = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_NE(key, nullptr);
    const Status st = store_->Update([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key, kNow - 100)));
      TF_RETURN_IF_ERROR(t.PutApiScope(testing::Scope("api1")));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("openid", {"sub"})));
      store::Client web = testing::ConfidentialClient("web", kSecret, {"openid", "api1"});
      web.allowed_grant_types = {"authorization_code", "password", "refresh_token", "client_credentials",
                                 "urn:ietf:params:oauth:grant-type:device_code"};
      web.redirect_uris = {kCallback};
      web.allow_offline_access = true;
      TF_RETURN_IF_ERROR(t.PutClient(web));
      store::User alice;
      alice.subject_id = "sub-alice";
      alice.username = "alice";
      alice.password_hash = testing::CheapPasswordHash("Wonderland1");
      return t.PutUser(alice);
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  void TearDown() override {
    service_.reset();
    store_.reset();
  }

  http::Response Handle(const http::Request& r) { return service_->HandleAndWait(r, &log_); }

  http::Response Token(const std::string& body) {
    return Handle(testing::FormPost("/connect/token", body, testing::Basic("web", kSecret)));
  }

  // 503 with Retry-After and no-store; `html`: a page saying the service is temporarily unavailable, else the JSON
  // error temporarily_unavailable.
  void ExpectUnavailable(const std::string& what, const http::Response& r, bool html) {
    SCOPED_TRACE(what);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(testing::HeaderOf(r, "Retry-After"), std::to_string(kStoreUnavailableRetryAfterSeconds));
    EXPECT_EQ(testing::HeaderOf(r, "Cache-Control"), "no-store");
    if (html) {
      EXPECT_EQ(testing::HeaderOf(r, "Content-Type"), "text/html; charset=utf-8");
      EXPECT_NE(r.body.find("temporarily unavailable"), std::string::npos) << r.body;
    } else {
      EXPECT_EQ(ErrorCodeOf(r), "temporarily_unavailable") << r.body;
    }
  }

  std::unique_ptr<PgCluster> cluster_;
  std::unique_ptr<store::Store> store_;
  Config config_;
  ManualClock clock_{kNow};
  std::unique_ptr<Service> service_;
  RequestLog log_;
};

// A worker that has its configuration cached: every request that needs the database while it is down is a 503, the
// browser pages (a sign-in with a session, the login form's POST, the device page's POST) included. (Consent and the
// other steps of those pages answer through the same StoreFailurePage; with the whole server down the first store
// read of each page is the one that fails.)
TEST_F(StoreOutageTest, EveryEndpointThatNeedsTheDatabaseAnswers503WhileItIsDown) {
  service_ = std::make_unique<Service>(config_, store_.get(), &clock_);
  // Before: the configuration is loaded, a signed-in browser, a login form, a device page form and tokens.
  ASSERT_EQ(Handle(testing::GetRequest("/.well-known/openid-configuration")).status, 200);
  http::Response token = Token("grant_type=password&username=alice&password=Wonderland1&scope=openid%20api1");
  ASSERT_EQ(token.status, 200) << token.body;
  const std::string access_token = testing::Json(token.body).Str("access_token");
  http::Response form = Handle(testing::GetRequest("/connect/authorize", AuthorizeQuery()));
  ASSERT_EQ(form.status, 200) << form.body;
  const std::string csrf_cookie = CookieFrom(form, kCsrfCookie);
  const std::string login_body = HiddenFieldsBody(form.body) + "&username=alice&password=Wonderland1";
  http::Request login = testing::FormPost("/connect/authorize", login_body);
  login.cookie = csrf_cookie;
  http::Response signed_in = Handle(login);
  ASSERT_EQ(signed_in.status, 302) << signed_in.body;
  const std::string session_cookie = CookieFrom(signed_in, kSessionCookie);
  ASSERT_FALSE(session_cookie.empty());
  http::Response device_form = Handle(testing::GetRequest("/device"));
  ASSERT_EQ(device_form.status, 200) << device_form.body;

  ASSERT_TRUE(cluster_->StopServer().ok());

  ExpectUnavailable("password grant", Token("grant_type=password&username=alice&password=Wonderland1"), false);
  ExpectUnavailable("refresh_token grant", Token("grant_type=refresh_token&refresh_token=abc"), false);
  ExpectUnavailable("authorization_code grant",
                    Token(std::string("grant_type=authorization_code&code=abc&redirect_uri=") +
                          "https%3A%2F%2Fapp.example%2Fcb&code_verifier=" + std::string(43, 'v')),
                    false);
  ExpectUnavailable("device authorization",
                    Handle(testing::FormPost("/connect/deviceauthorization", "scope=api1",
                                             testing::Basic("web", kSecret))),
                    false);
  ExpectUnavailable("introspection",
                    Handle(testing::FormPost("/connect/introspect", "token=" + std::string(43, 'r'),
                                             testing::Basic("web", kSecret))),
                    false);
  ExpectUnavailable("revocation",
                    Handle(testing::FormPost("/connect/revocation", "token=" + std::string(43, 'r'),
                                             testing::Basic("web", kSecret))),
                    false);
  ExpectUnavailable("userinfo",
                    Handle(testing::GetRequest("/connect/userinfo", "", "Bearer " + access_token)), false);

  http::Request authorize = testing::GetRequest("/connect/authorize", AuthorizeQuery());
  authorize.cookie = session_cookie;
  ExpectUnavailable("authorize with a session", Handle(authorize), true);
  ExpectUnavailable("the login form's POST", Handle(login), true);
  http::Request device = testing::FormPost("/device", HiddenFieldsBody(device_form.body) + "&user_code=BCDFGHJK");
  device.cookie = CookieFrom(device_form, kCsrfCookie);
  ExpectUnavailable("the device page's POST", Handle(device), true);

  // What needs no database keeps working from the cached configuration.
  EXPECT_EQ(Handle(testing::GetRequest("/.well-known/openid-configuration/jwks")).status, 200);
  EXPECT_EQ(Token("grant_type=client_credentials&scope=api1").status, 200);
}

// The device page's sign-in shares the authorize endpoint's busy page: every password check slot busy is a 503 page
// with Retry-After: 1 (errors.h StoreFailurePage), not a 500, and counts no failure.
TEST_F(StoreOutageTest, BusyPasswordChecksOnTheDevicePageAreA503Page) {
  config_.password_hash_concurrency = 1;
  config_.password_hash_wait_ms = 0;
  service_ = std::make_unique<Service>(config_, store_.get(), &clock_);
  http::Response code = Handle(testing::FormPost("/connect/deviceauthorization", "scope=api1",
                                                 testing::Basic("web", kSecret)));
  ASSERT_EQ(code.status, 200) << code.body;
  http::Response form = Handle(testing::GetRequest("/device"));
  ASSERT_EQ(form.status, 200) << form.body;
  const std::string csrf = CookieFrom(form, kCsrfCookie);
  http::Request entered = testing::FormPost(
      "/device", HiddenFieldsBody(form.body) + "&user_code=" + testing::Json(code.body).Str("user_code"));
  entered.cookie = csrf;
  http::Response login = Handle(entered);
  ASSERT_EQ(login.status, 200) << login.body;
  ASSERT_NE(login.body.find("name=\"password\""), std::string::npos) << login.body;
  http::Request signin = testing::FormPost("/device", HiddenFieldsBody(login.body) +
                                                          "&username=alice&password=Wonderland1");
  signin.cookie = CookieFrom(login, kCsrfCookie).empty() ? csrf : CookieFrom(login, kCsrfCookie);
  PasswordCheckSlots& slots = PasswordCheckSlots::Process();
  ASSERT_TRUE(slots.Enter(1, std::chrono::milliseconds(0)));
  http::Response busy = Handle(signin);
  slots.Leave();
  EXPECT_EQ(busy.status, 503) << busy.body;
  EXPECT_EQ(testing::HeaderOf(busy, "Retry-After"), "1");
  EXPECT_EQ(testing::HeaderOf(busy, "Cache-Control"), "no-store");
  EXPECT_NE(busy.body.find("Too many sign-ins"), std::string::npos) << busy.body;
  const Status st = store_->Read([](store::Txn& t) -> Status {
    Result<store::User> u = t.GetUser("sub-alice");
    if (!u.ok()) return u.status();
    EXPECT_EQ(u->access_failed_count, 0);
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// A worker started while the server is down (StoreOptions::connect_later): it has no configuration, so everything
// that needs it answers 503, discovery and JWKS included; once the server is back, the same Service serves.
TEST_F(StoreOutageTest, AWorkerStartedWhileTheDatabaseIsDownAnswers503AndServesOnceItIsBack) {
  store_.reset();
  ASSERT_TRUE(cluster_->StopServer().ok());
  store::StoreOptions o;
  o.path = cluster_->Uri();
  Result<std::unique_ptr<store::Store>> refused = store::OpenStore(o);
  ASSERT_FALSE(refused.ok());  // tokenctl and --check-config: an unreachable server is an error
  EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable);
  o.connect_later = true;
  Result<std::unique_ptr<store::Store>> opened = store::OpenStore(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  store_ = std::move(opened).value();
  service_ = std::make_unique<Service>(config_, store_.get(), &clock_);

  ExpectUnavailable("discovery", Handle(testing::GetRequest("/.well-known/openid-configuration")), false);
  ExpectUnavailable("jwks", Handle(testing::GetRequest("/.well-known/openid-configuration/jwks")), false);
  ExpectUnavailable("client_credentials", Token("grant_type=client_credentials&scope=api1"), false);
  ExpectUnavailable("userinfo", Handle(testing::GetRequest("/connect/userinfo", "", "Bearer abc")), false);
  ExpectUnavailable("introspection",
                    Handle(testing::FormPost("/connect/introspect", "token=abc", testing::Basic("web", kSecret))),
                    false);
  ExpectUnavailable("authorize", Handle(testing::GetRequest("/connect/authorize", AuthorizeQuery())), true);
  ExpectUnavailable("device page", Handle(testing::GetRequest("/device")), true);
  ExpectUnavailable("end session", Handle(testing::GetRequest("/connect/endsession")), true);

  ASSERT_TRUE(cluster_->StartServer().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  http::Response r;
  do {
    r = Handle(testing::GetRequest("/.well-known/openid-configuration/jwks"));
    if (r.status == 200) break;
    EXPECT_EQ(r.status, 503);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Token("grant_type=client_credentials&scope=api1").status, 200);
  EXPECT_EQ(Token("grant_type=password&username=alice&password=Wonderland1&scope=api1").status, 200);
}

}  // namespace
}  // namespace tf::oauth
