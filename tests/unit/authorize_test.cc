// The authorize endpoint (oauth/authorize.h) end to end through oauth::Service over a real LMDB store in a temporary
// directory, with a ManualClock and cheap Argon2id parameters, driven as a browser would: the error pages (never a
// redirect), the redirected errors (state, iss), form_post, the login form and its CSRF protection, the session
// cookie (prompt, max_age, UserSsoLifetime, inactive users), the remote_user provider, PKCE, and the stored code.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oauth/form.h"
#include "oauth/service.h"
#include "oauth/session.h"
#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::kNow;
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kCallback[] = "https://app.example/cb";
constexpr char kCallbackWithQuery[] = "https://app.example/cb?tenant=a";
// RFC 7636 Appendix B.
constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr char kChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
constexpr char kInvalidCredentials[] = "invalid username or password";

using Params = std::vector<std::pair<std::string, std::string>>;

// Test-side encoding (independent of the code under test): everything but unreserved characters as %XX.
std::string Encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 0x0F];
    }
  }
  return out;
}

std::string Build(const Params& params) {
  std::string out;
  for (const auto& [n, v] : params) {
    if (!out.empty()) out += '&';
    out += Encode(n) + "=" + Encode(v);
  }
  return out;
}

Params With(Params p, const std::string& name, const std::string& value) {
  for (auto& [n, v] : p) {
    if (n == name) {
      v = value;
      return p;
    }
  }
  p.emplace_back(name, value);
  return p;
}

Params Without(Params p, const std::string& name) {
  p.erase(std::remove_if(p.begin(), p.end(), [&](const auto& kv) { return kv.first == name; }), p.end());
  return p;
}

std::string Header(const http::Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

int HeaderCount(const http::Response& r, std::string_view name) {
  return static_cast<int>(std::count_if(r.headers.begin(), r.headers.end(), [&](const auto& h) {
    return h.first == name;
  }));
}

// The Set-Cookie header for `cookie_name`, "" if none.
std::string SetCookieFor(const http::Response& r, std::string_view cookie_name) {
  for (const auto& [n, v] : r.headers) {
    if (n == "Set-Cookie" && v.substr(0, cookie_name.size() + 1) == std::string(cookie_name) + "=") return v;
  }
  return "";
}

// "name=value" of a Set-Cookie header (what a browser sends back).
std::string CookiePair(const std::string& set_cookie) { return set_cookie.substr(0, set_cookie.find(';')); }

std::string Unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
      {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  for (const auto& [from, to] : entities) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) {
      s.replace(at, std::string_view(from).size(), to);
    }
  }
  return s;
}

// The hidden inputs of an HTML page, in order, unescaped.
Params HiddenFields(const std::string& html) {
  Params out;
  static constexpr std::string_view kOpen = "<input type=\"hidden\" name=\"";
  for (size_t at = html.find(kOpen); at != std::string::npos; at = html.find(kOpen, at + 1)) {
    const size_t name_start = at + kOpen.size();
    const size_t name_end = html.find('"', name_start);
    const size_t value_start = html.find("value=\"", name_end) + 7;
    const size_t value_end = html.find('"', value_start);
    out.emplace_back(Unescape(html.substr(name_start, name_end - name_start)),
                     Unescape(html.substr(value_start, value_end - value_start)));
  }
  return out;
}

std::string Field(const Params& p, const std::string& name) {
  for (const auto& [n, v] : p) {
    if (n == name) return v;
  }
  return "<absent>";
}

class AuthorizeTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("authorize_test"));

    config_.issuer = kIssuer;
    testing::UseCheapPasswordHashing(&config_);
    config_.access_token_signing_alg = "ES256";
    config_.id_token_signing_alg = "ES256";
    std::shared_ptr<const token::SigningKey> key = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_NE(key, nullptr);

    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key, kNow - 100)));
      store::ApiScope api;
      api.name = "api1";
      TF_RETURN_IF_ERROR(t.PutApiScope(api));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(testing::Identity("openid", {"sub"})));

      store::Client web;
      web.client_id = "web";
      web.client_secrets = {testing::HashedSecret("s3cret")};
      web.allowed_grant_types = {"authorization_code", "password"};
      web.redirect_uris = {kCallback, kCallbackWithQuery, "https://app.example/frag#x",
                           "https://app.example/x\r\nSet-Cookie: a=b"};
      web.allowed_scopes = {"openid", "api1"};
      TF_RETURN_IF_ERROR(t.PutClient(web));

      store::Client plain = web;
      plain.client_id = "plain";
      plain.require_pkce = false;
      plain.allow_plain_text_pkce = true;
      TF_RETURN_IF_ERROR(t.PutClient(plain));

      store::Client nopkce = web;
      nopkce.client_id = "nopkce";
      nopkce.require_pkce = false;
      TF_RETURN_IF_ERROR(t.PutClient(nopkce));

      store::Client nocode = web;
      nocode.client_id = "nocode";
      nocode.allowed_grant_types = {"password"};
      TF_RETURN_IF_ERROR(t.PutClient(nocode));

      store::Client disabled = web;
      disabled.client_id = "disabled";
      disabled.enabled = false;
      TF_RETURN_IF_ERROR(t.PutClient(disabled));

      store::Client sso = web;
      sso.client_id = "sso";
      sso.user_sso_lifetime = 60;
      TF_RETURN_IF_ERROR(t.PutClient(sso));

      store::Client remote = web;
      remote.client_id = "remote";
      remote.client_name = "Remote <App>";
      remote.identity_provider_restrictions = {"remote_user"};
      TF_RETURN_IF_ERROR(t.PutClient(remote));

      store::Client nolocal = web;
      nolocal.client_id = "nolocal";
      nolocal.enable_local_login = false;
      TF_RETURN_IF_ERROR(t.PutClient(nolocal));

      Result<std::string> session_key = t.GetSessionKey();
      if (!session_key.ok()) return session_key.status();
      session_key_ = *session_key;
      return Status::OK();
    });
    AddUser("sub-alice", "alice", "", "Wonderland1");
    AddUser("sub-alice-acme", "alice", "acme", "Acme-pass");
    AddUser("sub-ruth", "ruth", "", "");
    NewService();
  }

  void AddUser(const std::string& subject, const std::string& username, const std::string& tenant,
               std::string_view password) {
    store::User u;
    u.subject_id = subject;
    u.username = username;
    u.tenant = tenant;
    if (!password.empty()) {
      u.password_hash = testing::CheapPasswordHash(password);
      ASSERT_FALSE(u.password_hash.empty());
    }
    Put([&](store::Txn& t) { return t.PutUser(u); });
  }

  void SetActive(const std::string& subject, bool active) {
    store::User u = StoredUser(subject);
    u.is_active = active;
    Put([&](store::Txn& t) { return t.PutUser(u); });
  }

  std::optional<store::Grant> StoredCode(const std::string& code) { return StoredGrant(code); }

  static Params Base(const std::string& client_id = "web") {
    return {{"client_id", client_id},   {"redirect_uri", kCallback},  {"response_type", "code"},
            {"scope", "openid api1"},   {"state", "st&te=1 x"},       {"nonce", "n-0S6"},
            {"code_challenge", kChallenge}, {"code_challenge_method", "S256"}};
  }

  http::Response Get(const Params& params, const std::string& cookie = "", const std::string& remote_user = "") {
    http::Request r = testing::GetRequest("/connect/authorize", Build(params));
    r.cookie = cookie;
    r.remote_user = remote_user;
    return Handle(r);
  }

  http::Response Post(const std::string& body, const std::string& cookie = "",
                      const std::string& content_type = testing::kFormUrlEncoded) {
    http::Request r = testing::FormPost("/connect/authorize", body, "", content_type);
    r.cookie = cookie;
    return Handle(r);
  }

  // A login form's POST as a browser would send it: its hidden fields plus the credentials, with its CSRF cookie
  // (and any other cookie).
  http::Response SubmitForm(const http::Response& form, const std::string& username, const std::string& password,
                            const std::string& extra_cookie = "", const std::string& tenant = "") {
    EXPECT_EQ(form.status, 200);
    Params fields = HiddenFields(form.body);
    fields.emplace_back("username", username);
    fields.emplace_back("password", password);
    if (!tenant.empty()) fields.emplace_back("tenant", tenant);
    std::string cookie = CookiePair(SetCookieFor(form, kCsrfCookie));
    if (!extra_cookie.empty()) cookie += "; " + extra_cookie;
    return Post(Build(fields), cookie);
  }

  // The parameters of a 302's Location after `redirect_uri` and its separator.
  std::map<std::string, std::string> Redirect(const http::Response& r, const std::string& redirect_uri = kCallback) {
    EXPECT_EQ(r.status, 302) << r.body;
    const std::string location = Header(r, "Location");
    EXPECT_EQ(location.substr(0, redirect_uri.size()), redirect_uri) << location;
    if (location.size() <= redirect_uri.size()) return {};
    Result<Form> form = DecodeForm(location.substr(redirect_uri.size() + 1), 64);
    EXPECT_TRUE(form.ok()) << location;
    std::map<std::string, std::string> out;
    if (form.ok()) {
      for (const auto& [n, v] : form->params()) out[n] = v;
    }
    return out;
  }

  void ExpectRedirectedError(const http::Response& r, const std::string& error, const std::string& description,
                             const std::string& state = "st&te=1 x") {
    std::map<std::string, std::string> p = Redirect(r);
    EXPECT_EQ(p["error"], error);
    EXPECT_EQ(p["error_description"], description);
    if (state.empty()) {
      EXPECT_EQ(p.count("state"), 0u);
    } else {
      EXPECT_EQ(p["state"], state);
    }
    EXPECT_EQ(p["iss"], kIssuer);
    EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
    EXPECT_EQ(log_.outcome, error);
  }

  void ExpectErrorPage(const http::Response& r, int status, const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(HeaderCount(r, "Location"), 0);
    EXPECT_EQ(Header(r, "Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
    EXPECT_NE(r.body.find(message), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("<form"), std::string::npos);
    EXPECT_EQ(log_.outcome, "error_page");
  }

  // A successful redirect's code (checked: state and iss come back too).
  std::string CodeOf(const http::Response& r, const std::string& redirect_uri = kCallback) {
    std::map<std::string, std::string> p = Redirect(r, redirect_uri);
    EXPECT_EQ(p.count("error"), 0u) << p["error"] << ": " << p["error_description"];
    EXPECT_EQ(p["iss"], kIssuer);
    EXPECT_EQ(log_.outcome, "ok");
    return p["code"];
  }

  // Signs alice in through the form; returns the redirect and stores the session cookie in `session_cookie_`.
  http::Response LoginAlice(const Params& params) {
    http::Response form = Get(params);
    EXPECT_EQ(log_.outcome, "login_form");
    http::Response r = SubmitForm(form, "alice", "Wonderland1");
    session_cookie_ = CookiePair(SetCookieFor(r, kSessionCookie));
    EXPECT_FALSE(session_cookie_.empty());
    return r;
  }

  std::optional<Session> SessionOf(const std::string& cookie_pair) {
    return DecodeSession(cookie_pair.substr(cookie_pair.find('=') + 1), session_key_, clock_.NowSeconds());
  }

  void EnableRemoteUser(bool provision = false) {
    config_.login_providers = {"local", "remote_user"};
    config_.remote_user_provision = provision;
    NewService();
  }

  std::string session_key_;
  std::string session_cookie_;
};

// ---- error pages: the client or the redirect URI cannot be trusted ----

TEST_F(AuthorizeTest, ErrorPagesNeverRedirectNorEcho) {
  ExpectErrorPage(Get(Without(Base(), "client_id")), 400, "client_id is missing");
  http::Response evil = Get(With(Base(), "client_id", "<evil>"));
  ExpectErrorPage(evil, 400, "client_id is not valid");
  EXPECT_EQ(evil.body.find("evil"), std::string::npos);
  EXPECT_EQ(log_.client_id, "<evil>");
  ExpectErrorPage(Get(With(Base(), "client_id", std::string(101, 'w'))), 400, "client_id is not valid");
  ExpectErrorPage(Get(Base("disabled")), 400, "client_id is not valid");
  ExpectErrorPage(Get(Without(Base(), "redirect_uri")), 400, "redirect_uri is missing");
  http::Response r = Get(With(Base(), "redirect_uri", "https://evil.example/cb"));
  ExpectErrorPage(r, 400, "redirect_uri is not valid");
  EXPECT_EQ(r.body.find("evil"), std::string::npos);
  // Byte for byte: case, a trailing slash, an added query are all different URIs.
  ExpectErrorPage(Get(With(Base(), "redirect_uri", "https://APP.example/cb")), 400, "redirect_uri is not valid");
  ExpectErrorPage(Get(With(Base(), "redirect_uri", "https://app.example/cb/")), 400, "redirect_uri is not valid");
  ExpectErrorPage(Get(With(Base(), "redirect_uri", "https://app.example/cb?x=1")), 400, "redirect_uri is not valid");
  // A fragment is refused even when the client registered it.
  ExpectErrorPage(Get(With(Base(), "redirect_uri", "https://app.example/frag#x")), 400, "redirect_uri is not valid");
  // A control character could split the Location header: refused even when registered.
  ExpectErrorPage(Get(With(Base(), "redirect_uri", "https://app.example/x\r\nSet-Cookie: a=b")), 400,
                  "redirect_uri is not valid");
  // Errors that would otherwise be redirected are pages while the redirect URI is not trusted.
  ExpectErrorPage(Get(With(Without(Base(), "redirect_uri"), "response_type", "token")), 400,
                  "redirect_uri is missing");
}

TEST_F(AuthorizeTest, UndecodableRequestsAreErrorPages) {
  http::Request r;
  r.method = "GET";
  r.path = "/connect/authorize";
  r.query = Build(Base()) + "&state=again";  // a repeated parameter
  ExpectErrorPage(service_->HandleAndWait(r, &log_), 400, "malformed");
  r.query = Build(Base()) + "&x=%zz";
  ExpectErrorPage(service_->HandleAndWait(r, &log_), 400, "malformed");
  ExpectErrorPage(Post(Build(Base()), "", "application/json"), 400, "application/x-www-form-urlencoded");
  r.method = "POST";
  r.query.clear();
  r.content_type = "application/x-www-form-urlencoded";
  r.body_state = http::BodyState::kTooLarge;
  ExpectErrorPage(service_->HandleAndWait(r, &log_), 413, "too large");
  r.body_state = http::BodyState::kIncomplete;
  ExpectErrorPage(service_->HandleAndWait(r, &log_), 400, "incomplete");
}

TEST_F(AuthorizeTest, PostWithFormBodyWorksAndIgnoresTheQuery) {
  http::Request r =
      testing::FormPost("/connect/authorize", Build(Base()), "", "application/x-www-form-urlencoded; charset=UTF-8");
  r.query = "client_id=disabled";
  http::Response form = Handle(r);
  EXPECT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(log_.outcome, "login_form");
}

TEST_F(AuthorizeTest, OtherMethodsAre405) {
  for (const char* method : {"HEAD", "PUT", "DELETE"}) {
    http::Request r;
    r.method = method;
    r.path = "/connect/authorize";
    http::Response resp = service_->HandleAndWait(r, &log_);
    EXPECT_EQ(resp.status, 405) << method;
    EXPECT_EQ(Header(resp, "Allow"), "GET, POST");
  }
  config_.base_path = "/auth";
  NewService();
  EXPECT_EQ(Handle(testing::GetRequest("/auth/connect/authorize", Build(Base()))).status, 200);
  EXPECT_EQ(log_.outcome, "login_form");
}

// ---- redirected errors ----

TEST_F(AuthorizeTest, RedirectedErrorsCarryStateAndIss) {
  ExpectRedirectedError(Get(With(Base(), "response_mode", "fragment")), "invalid_request",
                        "response_mode is not supported");
  ExpectRedirectedError(Get(With(Base(), "request", "eyJ...")), "request_not_supported",
                        "request objects are not supported");
  ExpectRedirectedError(Get(With(Base(), "request_uri", "https://x")), "request_uri_not_supported",
                        "request_uri is not supported");
  ExpectRedirectedError(Get(Without(Base(), "response_type")), "invalid_request", "response_type is missing");
  ExpectRedirectedError(Get(With(Base(), "response_type", "token")), "unsupported_response_type",
                        "only response_type=code is supported");
  ExpectRedirectedError(Get(With(Base(), "response_type", "code id_token")), "unsupported_response_type",
                        "only response_type=code is supported");
  ExpectRedirectedError(Get(Base("nocode")), "unauthorized_client",
                        "the client is not allowed the authorization_code grant");
  ExpectRedirectedError(Get(With(Base(), "state", std::string(2001, 's'))), "invalid_request", "state is too long",
                        /*state=*/"");
  EXPECT_EQ(Get(With(Base(), "state", std::string(2000, 's'))).status, 200);
  ExpectRedirectedError(Get(With(Base(), "nonce", std::string(301, 'n'))), "invalid_request", "nonce is too long");
  EXPECT_EQ(Get(With(Base(), "nonce", std::string(300, 'n'))).status, 200);
  ExpectRedirectedError(Get(With(Base(), "scope", "openid unknown")), "invalid_scope",
                        "a requested scope is unknown or not allowed for this client");
  ExpectRedirectedError(Get(With(Base(), "prompt", "sometimes")), "invalid_request",
                        "prompt has an unsupported value");
  ExpectRedirectedError(Get(With(Base(), "prompt", "none login")), "invalid_request",
                        "prompt=none cannot be combined with another value");
  for (const char* bad : {"-1", "abc", "1.5", "12345678901", " 5"}) {
    ExpectRedirectedError(Get(With(Base(), "max_age", bad)), "invalid_request",
                          "max_age must be a non-negative integer");
  }
  ExpectRedirectedError(Get(With(Base(), "acr_values", "tenant:a tenant:b")), "invalid_request",
                        "acr_values names more than one tenant");
  // Without state, no state comes back.
  ExpectRedirectedError(Get(Without(With(Base(), "response_type", "token"), "state")), "unsupported_response_type",
                        "only response_type=code is supported", /*state=*/"");
}

TEST_F(AuthorizeTest, LoginProviderSelection) {
  // idp:remote_user while only local is enabled.
  ExpectRedirectedError(Get(With(Base(), "acr_values", "idp:remote_user")), "invalid_request",
                        "the identity provider is not enabled");
  ExpectRedirectedError(Get(With(Base(), "acr_values", "idp:saml")), "invalid_request",
                        "the identity provider is not enabled");
  // A client restricted to remote_user while it is not enabled: nothing is left.
  ExpectRedirectedError(Get(Base("remote")), "invalid_request",
                        "the client is not allowed any enabled identity provider");
  ExpectRedirectedError(Get(Base("nolocal")), "invalid_request",
                        "the client is not allowed any enabled identity provider");
  EnableRemoteUser();
  // Now the restricted client gets remote_user by default, and local is refused to it.
  ExpectErrorPage(Get(Base("remote")), 401, "the web server did not authenticate you");
  ExpectRedirectedError(Get(With(Base("remote"), "acr_values", "idp:local")), "invalid_request",
                        "the client is not allowed the identity provider");
  // The default for an unrestricted client is the first enabled provider: local.
  Get(Base());
  EXPECT_EQ(log_.outcome, "login_form");
}

TEST_F(AuthorizeTest, QueryModeAppendsToAnExistingQuery) {
  http::Response r = Get(With(With(Base(), "redirect_uri", kCallbackWithQuery), "response_type", "token"));
  const std::string location = Header(r, "Location");
  EXPECT_EQ(location.rfind(std::string(kCallbackWithQuery) + "&error=unsupported_response_type&", 0), 0u)
      << location;
  // Values are percent-encoded: the state's '&', '=' and ' ' cannot break the query.
  EXPECT_NE(location.find("&state=st%26te%3D1%20x&iss=https%3A%2F%2Fauth.example.com"), std::string::npos)
      << location;

  r = LoginAlice(With(Base(), "redirect_uri", kCallbackWithQuery));
  const std::string code = CodeOf(r, kCallbackWithQuery);
  EXPECT_EQ(Header(r, "Location").rfind(std::string(kCallbackWithQuery) + "&code=", 0), 0u);
  ASSERT_TRUE(StoredCode(code).has_value());
  EXPECT_EQ(StoredCode(code)->redirect_uri, kCallbackWithQuery);
}

TEST_F(AuthorizeTest, FormPostMode) {
  // An error in form_post mode: a page that posts error, error_description, state and iss to the redirect URI.
  http::Response r = Get(With(With(Base(), "response_mode", "form_post"), "response_type", "token"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderCount(r, "Location"), 0);
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  EXPECT_NE(r.body.find("<form method=\"post\" action=\"https://app.example/cb\">"), std::string::npos) << r.body;
  Params fields = HiddenFields(r.body);
  EXPECT_EQ(fields, (Params{{"error", "unsupported_response_type"},
                            {"error_description", "only response_type=code is supported"},
                            {"state", "st&te=1 x"},
                            {"iss", kIssuer}}));
  EXPECT_EQ(log_.outcome, "unsupported_response_type");

  // Success in form_post mode.
  http::Response form = Get(With(Base(), "response_mode", "form_post"));
  r = SubmitForm(form, "alice", "Wonderland1");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(HeaderCount(r, "Location"), 0);
  EXPECT_FALSE(SetCookieFor(r, kSessionCookie).empty());
  fields = HiddenFields(r.body);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].first, "code");
  EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"state", "st&te=1 x"}));
  EXPECT_EQ(fields[2], (std::pair<std::string, std::string>{"iss", kIssuer}));
  EXPECT_TRUE(StoredCode(fields[0].second).has_value());
  EXPECT_EQ(log_.outcome, "ok");
}

// ---- PKCE ----

TEST_F(AuthorizeTest, PkceRules) {
  ExpectRedirectedError(Get(Without(Without(Base(), "code_challenge"), "code_challenge_method")), "invalid_request",
                        "code_challenge is required");
  ExpectRedirectedError(Get(With(Base(), "code_challenge", "short")), "invalid_request",
                        "code_challenge must be 43 to 128 unreserved characters");
  ExpectRedirectedError(Get(With(Base(), "code_challenge", std::string(129, 'a'))), "invalid_request",
                        "code_challenge must be 43 to 128 unreserved characters");
  ExpectRedirectedError(Get(With(Base(), "code_challenge", std::string(42, 'a') + "+")), "invalid_request",
                        "code_challenge must be 43 to 128 unreserved characters");
  ExpectRedirectedError(Get(With(Base(), "code_challenge_method", "s256")), "invalid_request",
                        "code_challenge_method is not supported");
  ExpectRedirectedError(Get(With(Base(), "code_challenge_method", "plain")), "invalid_request",
                        "the client must use code_challenge_method=S256");
  // An absent method means plain (RFC 7636 §4.3), refused to a client without AllowPlainTextPkce.
  ExpectRedirectedError(Get(Without(Base(), "code_challenge_method")), "invalid_request",
                        "the client must use code_challenge_method=S256");
  // A method without a challenge, for a client that does not require PKCE.
  ExpectRedirectedError(Get(Without(Base("nopkce"), "code_challenge")), "invalid_request",
                        "code_challenge_method was sent without a code_challenge");

  // Allowed: plain (explicit or implied) for the plain client, nothing at all for a client without RequirePkce.
  std::string code = CodeOf(LoginAlice(Without(Base("plain"), "code_challenge_method")));
  ASSERT_TRUE(StoredCode(code).has_value());
  EXPECT_EQ(StoredCode(code)->code_challenge, kChallenge);
  EXPECT_EQ(StoredCode(code)->code_challenge_method, "plain");
  code = CodeOf(Get(With(With(Base("plain"), "code_challenge", std::string(128, '~')), "code_challenge_method", "plain"),
                    session_cookie_));
  ASSERT_TRUE(StoredCode(code).has_value());
  EXPECT_EQ(StoredCode(code)->code_challenge, std::string(128, '~'));
  EXPECT_EQ(StoredCode(code)->code_challenge_method, "plain");
  code = CodeOf(Get(Without(Without(Base("nopkce"), "code_challenge"), "code_challenge_method"), session_cookie_));
  ASSERT_TRUE(StoredCode(code).has_value());
  EXPECT_EQ(StoredCode(code)->code_challenge, "");
  EXPECT_EQ(StoredCode(code)->code_challenge_method, "");
}

// ---- the login form ----

TEST_F(AuthorizeTest, LoginFormThenCodeWithEveryFieldStored) {
  http::Response form = Get(With(Base(), "extra", "kept"));
  EXPECT_EQ(form.status, 200);
  EXPECT_EQ(log_.outcome, "login_form");
  EXPECT_EQ(log_.client_id, "web");
  EXPECT_EQ(Header(form, "Cache-Control"), "no-store");
  const std::string csrf_cookie = SetCookieFor(form, kCsrfCookie);
  ASSERT_FALSE(csrf_cookie.empty());
  EXPECT_TRUE(SetCookieFor(form, kSessionCookie).empty());
  EXPECT_NE(form.body.find("action=\"https://auth.example.com/connect/authorize\""), std::string::npos);
  EXPECT_NE(form.body.find("Sign in to web"), std::string::npos);
  Params hidden = HiddenFields(form.body);
  // Every parameter received, in order, then tf_login and csrf.
  Params expected = With(Base(), "extra", "kept");
  expected.emplace_back("tf_login", "1");
  expected.emplace_back("csrf", Field(hidden, "csrf"));
  EXPECT_EQ(hidden, expected);
  EXPECT_TRUE(CheckCsrf(session_key_, CookiePair(csrf_cookie).substr(std::string(kCsrfCookie).size() + 1),
                        Field(hidden, "csrf")));

  http::Response r = SubmitForm(form, "ALICE", "Wonderland1");
  const std::string code = CodeOf(r);
  EXPECT_EQ(code.size(), 66u);
  EXPECT_EQ(Redirect(r)["state"], "st&te=1 x");
  const std::string session_set_cookie = SetCookieFor(r, kSessionCookie);
  EXPECT_NE(session_set_cookie.find("HttpOnly"), std::string::npos);
  std::optional<Session> session = SessionOf(CookiePair(session_set_cookie));
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->subject, "sub-alice");
  EXPECT_EQ(session->idp, "local");
  EXPECT_EQ(session->amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(session->auth_time, kNow);
  EXPECT_EQ(session->expires, kNow + config_.session_lifetime_seconds);
  EXPECT_EQ(session->sid.size(), 22u);

  // The code is stored only as its SHA-256.
  std::optional<store::Grant> g = StoredCode(code);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->kind, store::GrantKind::kAuthorizationCode);
  EXPECT_EQ(g->client_id, "web");
  EXPECT_EQ(g->subject, "sub-alice");
  EXPECT_EQ(g->scopes, (std::vector<std::string>{"openid", "api1"}));
  EXPECT_EQ(g->created, kNow);
  EXPECT_EQ(g->expires, kNow + 300);
  EXPECT_FALSE(g->family.empty());
  EXPECT_FALSE(g->consumed_at.has_value());
  EXPECT_EQ(g->redirect_uri, kCallback);
  EXPECT_EQ(g->nonce, "n-0S6");
  EXPECT_EQ(g->code_challenge, kChallenge);
  EXPECT_EQ(g->code_challenge_method, "S256");
  EXPECT_EQ(g->auth_time, kNow);
  EXPECT_EQ(g->idp, "local");
  EXPECT_EQ(g->amr, std::vector<std::string>{"pwd"});
  EXPECT_EQ(g->tenant, "");
  EXPECT_EQ(g->acr, "");
  EXPECT_EQ(g->session_id, session->sid);
  EXPECT_TRUE(g->claims.empty());

  // The code is redeemable at the token endpoint with the verifier.
  http::Response t = Handle(testing::FormPost("/connect/token",
                                              Build({{"grant_type", "authorization_code"},
                                                     {"code", code},
                                                     {"redirect_uri", kCallback},
                                                     {"code_verifier", kVerifier}}),
                                              testing::Basic("web", "s3cret")));
  EXPECT_EQ(t.status, 200) << t.body;
}

TEST_F(AuthorizeTest, AcrAndTenantAreStoredWithAcrClaim) {
  config_.acr_claim = true;
  NewService();
  http::Response form = Get(With(Base(), "acr_values", "urn:mfa tenant:acme"));
  // The tenant comes from acr_values: no tenant input.
  EXPECT_EQ(form.body.find("name=\"tenant\""), std::string::npos);
  http::Response r = SubmitForm(form, "alice", "Acme-pass");
  std::optional<store::Grant> g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice-acme");
  EXPECT_EQ(g->tenant, "acme");
  EXPECT_EQ(g->acr, "1");  // local_acr: what the login met, never the requested urn:mfa

  // Without acr_claim the acr is not stored.
  config_.acr_claim = false;
  NewService();
  r = Get(With(Base(), "acr_values", "urn:mfa tenant:acme"), CookiePair(SetCookieFor(r, kSessionCookie)));
  g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice-acme");
  EXPECT_EQ(g->acr, "");
}

TEST_F(AuthorizeTest, LoginFormAsksForTheTenantWhenConfigured) {
  config_.login_form_tenant = true;
  NewService();
  http::Response form = Get(Base());
  EXPECT_NE(form.body.find("name=\"tenant\""), std::string::npos);
  std::optional<store::Grant> g = StoredCode(CodeOf(SubmitForm(form, "alice", "Acme-pass", "", "acme")));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice-acme");
  EXPECT_EQ(g->tenant, "acme");
  // A tenant typed into the form does not override acr_values' tenant:NAME.
  form = Get(With(Base(), "acr_values", "tenant:acme"));
  EXPECT_EQ(form.body.find("name=\"tenant\""), std::string::npos);
  http::Response r = SubmitForm(form, "alice", "Wonderland1", "", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(log_.outcome, "invalid_credentials");
}

TEST_F(AuthorizeTest, WrongCsrfIsAnErrorPage) {
  http::Response form = Get(Base());
  Params fields = HiddenFields(form.body);
  fields.emplace_back("username", "alice");
  fields.emplace_back("password", "Wonderland1");
  const std::string cookie = CookiePair(SetCookieFor(form, kCsrfCookie));
  // No cookie, another nonce's cookie, a tampered token, no token.
  ExpectErrorPage(Post(Build(fields)), 400, "the form has expired; go back and try again");
  ExpectErrorPage(Post(Build(fields), std::string(kCsrfCookie) + "=" + NewCsrfNonce()), 400,
                  "the form has expired; go back and try again");
  ExpectErrorPage(Post(Build(With(fields, "csrf", CsrfToken(session_key_, "other"))), cookie), 400,
                  "the form has expired; go back and try again");
  ExpectErrorPage(Post(Build(Without(fields, "csrf")), cookie), 400, "the form has expired; go back and try again");
  // A GET carrying tf_login is not a login: the form is shown, nobody is signed in.
  http::Response g = Get(With(With(With(Base(), "tf_login", "1"), "username", "alice"), "password", "Wonderland1"));
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(log_.outcome, "login_form");
  EXPECT_EQ(Field(HiddenFields(g.body), "password"), "<absent>");
  EXPECT_EQ(Field(HiddenFields(g.body), "username"), "<absent>");
  // A POST without tf_login=1 is a plain authorize request, not a login, whatever else it carries.
  http::Response plain = Post(Build(Without(fields, "tf_login")), cookie);
  EXPECT_EQ(log_.outcome, "login_form");
  EXPECT_TRUE(SetCookieFor(plain, kSessionCookie).empty());
  Post(Build(With(fields, "tf_login", "yes")), cookie);
  EXPECT_EQ(log_.outcome, "login_form");
  // The right cookie still works afterwards.
  EXPECT_FALSE(CodeOf(Post(Build(fields), cookie)).empty());
}

TEST_F(AuthorizeTest, TheLoginPostIsValidatedAgain) {
  http::Response form = Get(Base());
  Params fields = HiddenFields(form.body);
  fields.emplace_back("username", "alice");
  fields.emplace_back("password", "Wonderland1");
  const std::string cookie = CookiePair(SetCookieFor(form, kCsrfCookie));
  ExpectErrorPage(Post(Build(With(fields, "redirect_uri", "https://evil.example/")), cookie), 400,
                  "redirect_uri is not valid");
  ExpectRedirectedError(Post(Build(With(fields, "code_challenge_method", "plain")), cookie), "invalid_request",
                        "the client must use code_challenge_method=S256");
  ExpectRedirectedError(Post(Build(With(fields, "scope", "api2")), cookie), "invalid_scope",
                        "a requested scope is unknown or not allowed for this client");
}

TEST_F(AuthorizeTest, WrongPasswordAndUnknownUserLookAlike) {
  http::Response form = Get(Base());
  http::Response wrong = SubmitForm(form, "alice", "nope");
  EXPECT_EQ(wrong.status, 200);
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  EXPECT_NE(wrong.body.find(kInvalidCredentials), std::string::npos);
  EXPECT_TRUE(SetCookieFor(wrong, kSessionCookie).empty());
  EXPECT_FALSE(SetCookieFor(wrong, kCsrfCookie).empty());  // a fresh CSRF nonce for the next try
  http::Response unknown = SubmitForm(form, "alicf", "Wonderland1");
  EXPECT_EQ(unknown.status, 200);
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  http::Response no_password = SubmitForm(form, "ruth", "anything");
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  http::Response empty = SubmitForm(form, "alice", "");
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  // Identical but for the prefilled username and the CSRF token.
  auto normalise = [](const http::Response& r, const std::string& username) {
    std::string body = r.body;
    const std::string csrf = Field(HiddenFields(body), "csrf");
    body.replace(body.find(csrf), csrf.size(), "CSRF");
    const std::string prefill = "value=\"" + username + "\"";
    const size_t at = body.find(prefill);
    if (at != std::string::npos) body.replace(at, prefill.size(), "value=\"USER\"");
    return body;
  };
  EXPECT_EQ(normalise(wrong, "alice"), normalise(unknown, "alicf"));
  EXPECT_EQ(normalise(wrong, "alice"), normalise(no_password, "ruth"));
  EXPECT_EQ(normalise(wrong, "alice"), normalise(empty, "alice"));
  // The re-shown form still signs in.
  EXPECT_FALSE(CodeOf(SubmitForm(wrong, "alice", "Wonderland1")).empty());
}

// Every password check slot of the process busy: the login form's POST is a 503 page with Retry-After, no failure is
// counted, and the same form signs in once a slot is free.
TEST_F(AuthorizeTest, BusyPasswordChecksAreA503Page) {
  config_.password_hash_concurrency = 1;
  config_.password_hash_wait_ms = 0;
  NewService();
  http::Response form = Get(Base());
  PasswordCheckSlots& slots = PasswordCheckSlots::Process();
  ASSERT_TRUE(slots.Enter(1, std::chrono::milliseconds(0)));
  http::Response busy = SubmitForm(form, "alice", "Wonderland1");
  slots.Leave();
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(testing::HeaderOf(busy, "Retry-After"), "1");
  EXPECT_EQ(testing::HeaderOf(busy, "Cache-Control"), "no-store");
  EXPECT_TRUE(SetCookieFor(busy, kSessionCookie).empty());
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
  EXPECT_FALSE(CodeOf(SubmitForm(form, "alice", "Wonderland1")).empty());
}

TEST_F(AuthorizeTest, OverlongCredentialsFailWithoutCounting) {
  config_.login_form_tenant = true;
  NewService();
  http::Response form = Get(Base());
  SubmitForm(form, "alice", std::string(101, 'p'));
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  SubmitForm(form, std::string(101, 'a'), "Wonderland1");
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  SubmitForm(form, "alice", "Wonderland1", "", std::string(101, 't'));
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
  SubmitForm(form, "alice", "wrong");
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 1);  // a real attempt counts
}

TEST_F(AuthorizeTest, LockoutIsSharedWithThePasswordGrant) {
  config_.lockout_max_failures = 2;
  config_.lockout_seconds = 300;
  NewService();
  http::Response form = Get(Base());
  SubmitForm(form, "alice", "bad-1");
  SubmitForm(form, "alice", "bad-2");
  EXPECT_EQ(StoredUser("sub-alice").lockout_end, kNow + 300);
  // Locked: the right password fails both in the form and at the token endpoint.
  SubmitForm(form, "alice", "Wonderland1");
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  http::Request token = testing::FormPost("/connect/token", "grant_type=password&username=alice&password=Wonderland1",
                                          testing::Basic("web", "s3cret"));
  EXPECT_EQ(service_->HandleAndWait(token, &log_).status, 400);
  EXPECT_EQ(log_.outcome, "invalid_grant");
  // Failures at the token endpoint count for the form too.
  clock_.Advance(300);
  token.body = "grant_type=password&username=alice&password=bad";
  service_->HandleAndWait(token, &log_);
  service_->HandleAndWait(token, &log_);
  SubmitForm(Get(Base()), "alice", "Wonderland1");
  EXPECT_EQ(log_.outcome, "invalid_credentials");
  EXPECT_EQ(StoredUser("sub-alice").lockout_end, kNow + 600);
}

// ---- the session cookie ----

TEST_F(AuthorizeTest, ExistingSessionGivesACodeWithoutTheForm) {
  LoginAlice(Base());
  const std::string sid = SessionOf(session_cookie_)->sid;
  clock_.Advance(120);
  http::Response r = Get(With(Base(), "nonce", "second"), session_cookie_);
  std::optional<store::Grant> g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice");
  EXPECT_EQ(g->auth_time, kNow);  // the original login
  EXPECT_EQ(g->session_id, sid);
  EXPECT_EQ(g->nonce, "second");
  EXPECT_EQ(g->created, kNow + 120);
  EXPECT_TRUE(SetCookieFor(r, kSessionCookie).empty());  // nothing new to set
  // prompt=none with a session: a code.
  EXPECT_FALSE(CodeOf(Get(With(Base(), "prompt", "none"), session_cookie_)).empty());
  // prompt=consent shows the consent page (consent.h) instead of a code.
  const http::Response consent = Get(With(Base(), "prompt", "consent"), session_cookie_);
  EXPECT_EQ(consent.status, 200);
  EXPECT_EQ(HeaderCount(consent, "Location"), 0);
  EXPECT_EQ(log_.outcome, "consent_form");
  EXPECT_NE(consent.body.find("name=\"tf_consent\" value=\"approve\""), std::string::npos);
  // A tampered cookie is no session.
  std::string tampered = session_cookie_;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  Get(Base(), tampered);
  EXPECT_EQ(log_.outcome, "login_form");
}

TEST_F(AuthorizeTest, PromptNoneWithoutSessionIsLoginRequired) {
  ExpectRedirectedError(Get(With(Base(), "prompt", "none")), "login_required", "the user is not signed in");
  LoginAlice(Base());
  clock_.Advance(100);
  ExpectRedirectedError(Get(With(With(Base(), "prompt", "none"), "max_age", "50"), session_cookie_),
                        "login_required", "the user is not signed in");
}

TEST_F(AuthorizeTest, PromptLoginAndSelectAccountForceTheForm) {
  LoginAlice(Base());
  for (const char* prompt : {"login", "select_account", "consent login"}) {
    http::Response form = Get(With(Base(), "prompt", prompt), session_cookie_);
    EXPECT_EQ(log_.outcome, "login_form") << prompt;
    EXPECT_EQ(Field(HiddenFields(form.body), "prompt"), prompt);
  }
  // The form login itself is fresh: the kept prompt=login does not loop.
  clock_.Advance(10);
  http::Response form = Get(With(Base(), "prompt", "login"), session_cookie_);
  http::Response r = SubmitForm(form, "alice", "Wonderland1", session_cookie_);
  std::optional<store::Grant> g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->auth_time, kNow + 10);
  EXPECT_NE(g->session_id, SessionOf(session_cookie_)->sid);  // a new session
}

TEST_F(AuthorizeTest, MaxAgeBoundsTheSession) {
  LoginAlice(Base());
  clock_.Advance(100);
  EXPECT_FALSE(CodeOf(Get(With(Base(), "max_age", "100"), session_cookie_)).empty());
  Get(With(Base(), "max_age", "99"), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  Get(With(Base(), "max_age", "0"), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  // max_age=0 right after the login still asks again (OIDC: equivalent to prompt=login).
  clock_.Set(kNow);
  Get(With(Base(), "max_age", "0"), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  EXPECT_FALSE(CodeOf(Get(With(Base(), "max_age", "9999999999"), session_cookie_)).empty());
}

TEST_F(AuthorizeTest, UserSsoLifetimeBoundsTheSession) {
  LoginAlice(Base());
  clock_.Advance(60);
  EXPECT_FALSE(CodeOf(Get(Base("sso"), session_cookie_)).empty());
  clock_.Advance(1);
  Get(Base("sso"), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  // Other clients keep the session.
  EXPECT_FALSE(CodeOf(Get(Base(), session_cookie_)).empty());
}

TEST_F(AuthorizeTest, SessionLifetimeBoundsTheSession) {
  LoginAlice(Base());
  clock_.Advance(1000);
  EXPECT_FALSE(CodeOf(Get(Base(), session_cookie_)).empty());
  config_.session_lifetime_seconds = 999;  // shortened after the cookie was set
  NewService();
  Get(Base(), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  config_.session_lifetime_seconds = 36000;
  NewService();
  clock_.Set(kNow + 36000);  // the cookie's own expiry
  Get(Base(), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
}

TEST_F(AuthorizeTest, InactiveOrRemovedUserWithAValidCookieGetsTheForm) {
  LoginAlice(Base());
  SetActive("sub-alice", false);
  Get(Base(), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  ExpectRedirectedError(Get(With(Base(), "prompt", "none"), session_cookie_), "login_required",
                        "the user is not signed in");
  SetActive("sub-alice", true);
  EXPECT_FALSE(CodeOf(Get(Base(), session_cookie_)).empty());
  // The user moved to another tenant: the session (of no tenant) no longer names them.
  store::User moved = StoredUser("sub-alice");
  moved.tenant = "elsewhere";
  Put([&](store::Txn& t) { return t.PutUser(moved); });
  Get(Base(), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  Put([&](store::Txn& t) { return t.RemoveUser("sub-alice"); });
  Get(Base(), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
}

TEST_F(AuthorizeTest, SessionEndsWhenTheSecurityStampMoves) {
  LoginAlice(Base());
  EXPECT_FALSE(CodeOf(Get(Base(), session_cookie_)).empty());
  store::User u = StoredUser("sub-alice");
  u.security_stamp = "moved";
  Put([&](store::Txn& t) { return t.PutUser(u); });
  Get(Base(), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  ExpectRedirectedError(Get(With(Base(), "prompt", "none"), session_cookie_), "login_required",
                        "the user is not signed in");
  // A new login carries the new stamp.
  LoginAlice(Base());
  EXPECT_FALSE(CodeOf(Get(With(Base(), "prompt", "none"), session_cookie_)).empty());
}

TEST_F(AuthorizeTest, SessionOfAnotherTenantOrProviderIsNotUsed) {
  LoginAlice(Base());
  Get(With(Base(), "acr_values", "tenant:acme"), session_cookie_);
  EXPECT_EQ(log_.outcome, "login_form");
  // Without tenant:NAME the session's tenant is accepted.
  EXPECT_FALSE(CodeOf(Get(Base(), session_cookie_)).empty());
  // A remote_user session is not a local one.
  EnableRemoteUser();
  http::Response r = Get(With(Base(), "acr_values", "idp:remote_user"), "", "alice");
  const std::string remote_cookie = CookiePair(SetCookieFor(r, kSessionCookie));
  ASSERT_FALSE(remote_cookie.empty());
  Get(Base(), remote_cookie);
  EXPECT_EQ(log_.outcome, "login_form");
}

// ---- remote_user ----

TEST_F(AuthorizeTest, RemoteUserFoundIssuesACode) {
  EnableRemoteUser();
  clock_.Advance(5);
  http::Response r = Get(Base("remote"), "", "ruth");
  std::optional<store::Grant> g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-ruth");
  EXPECT_EQ(g->idp, "remote_user");
  EXPECT_EQ(g->amr, std::vector<std::string>{"external"});
  EXPECT_EQ(g->auth_time, kNow + 5);
  EXPECT_EQ(g->tenant, "");
  const std::string cookie = CookiePair(SetCookieFor(r, kSessionCookie));
  std::optional<Session> session = SessionOf(cookie);
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->subject, "sub-ruth");
  EXPECT_EQ(session->idp, "remote_user");
  EXPECT_EQ(session->sid, g->session_id);

  // The next request keeps the sid, and auth_time is this request's.
  clock_.Advance(50);
  r = Get(With(Base("remote"), "prompt", "login"), cookie, "RUTH");
  g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->session_id, session->sid);
  EXPECT_EQ(g->auth_time, kNow + 55);
  // Another user behind the same browser gets a new sid.
  r = Get(Base("remote"), cookie, "alice");
  g = StoredCode(CodeOf(r));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice");
  EXPECT_NE(g->session_id, session->sid);
  // The Authorization header is never a user login.
  const http::Request basic =
      testing::GetRequest("/connect/authorize", Build(Base("remote")), testing::Basic("ruth", "x"));
  ExpectErrorPage(Handle(basic), 401, "the web server did not authenticate you");
}

TEST_F(AuthorizeTest, RemoteUserProvisioning) {
  EnableRemoteUser(/*provision=*/false);
  ExpectRedirectedError(Get(Base("remote"), "", "newbie"), "access_denied", "the user is unknown or disabled");
  SetActive("sub-ruth", false);
  ExpectRedirectedError(Get(Base("remote"), "", "ruth"), "access_denied", "the user is unknown or disabled");

  EnableRemoteUser(/*provision=*/true);
  std::optional<store::Grant> g = StoredCode(CodeOf(Get(Base("remote"), "", "newbie")));
  ASSERT_TRUE(g.has_value());
  store::User created;
  ASSERT_TRUE(store_->Read([&](store::Txn& t) -> Status {
    Result<store::User> u = t.FindUserByName("", "newbie");
    if (!u.ok()) return u.status();
    created = *u;
    return Status::OK();
  }).ok());
  EXPECT_EQ(g->subject, created.subject_id);
  EXPECT_TRUE(created.is_active);
  // An inactive user is still refused with provisioning on.
  ExpectRedirectedError(Get(Base("remote"), "", "ruth"), "access_denied", "the user is unknown or disabled");
  // An unusable name is an error page.
  ExpectErrorPage(Get(Base("remote"), "", "bad\x01name"), 400, "unusable");
}

TEST_F(AuthorizeTest, RemoteUserWithoutRemoteUser) {
  EnableRemoteUser();
  ExpectErrorPage(Get(Base("remote")), 401, "the web server did not authenticate you");
  ExpectRedirectedError(Get(With(Base("remote"), "prompt", "none")), "login_required", "the user is not signed in");
  // A login POST to a remote_user request is not a password login.
  http::Response form = Get(Base());
  Params fields = HiddenFields(form.body);
  fields = With(fields, "client_id", "remote");
  fields.emplace_back("username", "alice");
  fields.emplace_back("password", "Wonderland1");
  ExpectErrorPage(Post(Build(fields), CookiePair(SetCookieFor(form, kCsrfCookie))), 401,
                  "the web server did not authenticate you");
}

TEST_F(AuthorizeTest, RemoteUserTenantFromConfigurationNeverFromTheRequest) {
  EnableRemoteUser();
  // remote_user_tenant "" (the default): acme's alice cannot be reached by asking for tenant:acme.
  ExpectRedirectedError(Get(With(Base(), "acr_values", "idp:remote_user tenant:acme"), "", "Alice"),
                        "access_denied", "the requested tenant is not the tenant of the authenticated user");
  config_.remote_user_tenant = "acme";
  NewService();
  std::optional<store::Grant> g =
      StoredCode(CodeOf(Get(With(Base(), "acr_values", "idp:remote_user tenant:acme"), "", "Alice")));
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice-acme");
  EXPECT_EQ(g->tenant, "acme");
  EXPECT_EQ(g->idp, "remote_user");
  g = StoredCode(CodeOf(Get(With(Base(), "acr_values", "idp:remote_user"), "", "Alice")));  // no tenant: asked
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->subject, "sub-alice-acme");
  ExpectRedirectedError(Get(With(Base(), "acr_values", "idp:remote_user tenant:other"), "", "alice"),
                        "access_denied", "the requested tenant is not the tenant of the authenticated user");
}

TEST_F(AuthorizeTest, MissingSessionKeyIsA500Page) {
  // A store whose snapshot has no session key: wrap the store and hide it from the catalog.
  class NoKeyTxn final : public store::Txn {
   public:
    explicit NoKeyTxn(store::Txn& t) : t_(t) {}
    Result<uint64_t> ConfigGeneration() override { return t_.ConfigGeneration(); }
    Result<store::Client> GetClient(std::string_view id) override { return t_.GetClient(id); }
    Result<std::vector<store::Client>> ListClients() override { return t_.ListClients(); }
    Status PutClient(const store::Client& c) override { return t_.PutClient(c); }
    Status RemoveClient(std::string_view id) override { return t_.RemoveClient(id); }
    Result<std::vector<store::ApiScope>> ListApiScopes() override { return t_.ListApiScopes(); }
    Status PutApiScope(const store::ApiScope& s) override { return t_.PutApiScope(s); }
    Status RemoveApiScope(std::string_view n) override { return t_.RemoveApiScope(n); }
    Result<std::vector<store::ApiResource>> ListApiResources() override { return t_.ListApiResources(); }
    Status PutApiResource(const store::ApiResource& r) override { return t_.PutApiResource(r); }
    Status RemoveApiResource(std::string_view n) override { return t_.RemoveApiResource(n); }
    Result<std::vector<store::IdentityResource>> ListIdentityResources() override {
      return t_.ListIdentityResources();
    }
    Status PutIdentityResource(const store::IdentityResource& r) override { return t_.PutIdentityResource(r); }
    Status RemoveIdentityResource(std::string_view n) override { return t_.RemoveIdentityResource(n); }
    Result<std::vector<store::KeyRecord>> ListKeys() override { return t_.ListKeys(); }
    Status PutKey(const store::KeyRecord& k) override { return t_.PutKey(k); }
    Status RemoveKey(std::string_view kid) override { return t_.RemoveKey(kid); }
    Result<std::string> GetSessionKey() override { return Status::NotFound("meta 'session_key' not found"); }
    Status PutSessionKey(std::string_view k) override { return t_.PutSessionKey(k); }
    Result<store::User> GetUser(std::string_view s) override { return t_.GetUser(s); }
    Result<store::User> FindUserByName(std::string_view t, std::string_view u) override {
      return t_.FindUserByName(t, u);
    }
    Result<std::vector<store::User>> ListUsers() override { return t_.ListUsers(); }
    Status PutUser(const store::User& u) override { return t_.PutUser(u); }
    Status RemoveUser(std::string_view s) override { return t_.RemoveUser(s); }
    Result<store::Grant> GetGrant(std::string_view h) override { return t_.GetGrant(h); }
    Status PutGrant(std::string_view h, const store::Grant& g) override { return t_.PutGrant(h, g); }
    Status RemoveGrant(std::string_view h) override { return t_.RemoveGrant(h); }
    Result<size_t> RevokeFamily(std::string_view f, int64_t now, int64_t keep) override {
      return t_.RevokeFamily(f, now, keep);
    }
    Result<std::optional<store::FamilyRevocation>> GetFamilyRevocation(std::string_view f) override {
      return t_.GetFamilyRevocation(f);
    }
    Result<std::vector<std::pair<std::string, store::FamilyRevocation>>> ListFamilyRevocations() override {
      return t_.ListFamilyRevocations();
    }
    Result<store::RevokeProgress> RevokeFamilyPart(std::string_view f, int64_t now, int64_t keep,
                                                   size_t batch) override {
      return t_.RevokeFamilyPart(f, now, keep, batch);
    }
    Result<size_t> CountFamilyGrants(std::string_view f) override { return t_.CountFamilyGrants(f); }
    Result<std::vector<std::pair<std::string, store::Grant>>> ListGrants(std::string_view c,
                                                                         std::string_view s) override {
      return t_.ListGrants(c, s);
    }
    Result<store::CollectResult> CollectExpired(int64_t now, size_t batch) override {
      return t_.CollectExpired(now, batch);
    }

   private:
    store::Txn& t_;
  };
  class NoKeyStore final : public store::Store {
   public:
    explicit NoKeyStore(store::Store* inner) : inner_(inner) {}
    Status Read(const std::function<Status(store::Txn&)>& fn) override {
      return inner_->Read([&](store::Txn& t) {
        NoKeyTxn wrapped(t);
        return fn(wrapped);
      });
    }
    Status Update(const std::function<Status(store::Txn&)>& fn) override {
      return inner_->Update([&](store::Txn& t) {
        NoKeyTxn wrapped(t);
        return fn(wrapped);
      });
    }
    Result<uint64_t> ConfigGeneration() override { return inner_->ConfigGeneration(); }
    Result<store::StoreStats> Stats() override { return inner_->Stats(); }
    Status Backup(const std::string& directory) override { return inner_->Backup(directory); }
    Status GrowMap(uint64_t bytes) override { return inner_->GrowMap(bytes); }

   private:
    store::Store* inner_;
  };
  NoKeyStore no_key(store_.get());
  service_ = std::make_unique<Service>(config_, &no_key, &clock_);
  ExpectErrorPage(Get(Base()), 500, "not ready");
  // The checks before it still answer as usual.
  ExpectRedirectedError(Get(With(Base(), "response_type", "token")), "unsupported_response_type",
                        "only response_type=code is supported");
  service_.reset();
}

}  // namespace
}  // namespace tf::oauth
