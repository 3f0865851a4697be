// Tests for oauth/html.h: HtmlEscape, and for each page its headers (CSP, framing, caching), its markup (labels,
// inputs, autocomplete, hidden fields) and that no request data reaches it unescaped.
#include "oauth/html.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace tf::oauth {
namespace {

constexpr char kHostile[] = "\"'><script>alert(1)</script>&amp;<img src=x onerror=alert(2)>";
constexpr char kHostileEscaped[] =
    "&quot;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;&lt;img src=x onerror=alert(2)&gt;";

std::string Header(const http::Response& r, std::string_view name) {
  std::string found;
  int count = 0;
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      found = v;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << name << " set twice";
  return found;
}

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

bool Has(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// The headers every page carries (html.h).
void ExpectSecurityHeaders(const http::Response& r) {
  EXPECT_EQ(Header(r, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(Header(r, "Pragma"), "no-cache");
  EXPECT_EQ(Header(r, "X-Frame-Options"), "DENY");
  EXPECT_EQ(Header(r, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(Header(r, "X-Content-Type-Options"), "nosniff");
  const std::string csp = Header(r, "Content-Security-Policy");
  EXPECT_EQ(csp.rfind("default-src 'none'; style-src 'unsafe-inline'; ", 0), 0u) << csp;
  EXPECT_TRUE(Has(csp, "; frame-ancestors 'none'; base-uri 'none'")) << csp;
  EXPECT_TRUE(Has(csp, "form-action ")) << csp;
  EXPECT_TRUE(Has(r.body, "<html lang=\"en\">"));
  EXPECT_TRUE(Has(r.body, "<meta charset=\"utf-8\">"));
  // No external resource of any kind.
  EXPECT_FALSE(Has(r.body, "http://")) << r.body;
  for (const char* tag : {"<img", "<link", "<iframe", "<object", "<embed", "<script src", "<base"}) {
    EXPECT_FALSE(Has(r.body, tag)) << tag << " in " << r.body;
  }
}

std::string FormAction(const http::Response& r) {
  const std::string csp = Header(r, "Content-Security-Policy");
  const size_t at = csp.find("form-action ");
  if (at == std::string::npos) return "";
  const size_t start = at + 12;
  return csp.substr(start, csp.find(';', start) - start);
}

TEST(HtmlEscapeTest, EscapesEverySpecialCharacter) {
  EXPECT_EQ(HtmlEscape("&"), "&amp;");
  EXPECT_EQ(HtmlEscape("<"), "&lt;");
  EXPECT_EQ(HtmlEscape(">"), "&gt;");
  EXPECT_EQ(HtmlEscape("\""), "&quot;");
  EXPECT_EQ(HtmlEscape("'"), "&#39;");
  EXPECT_EQ(HtmlEscape(kHostile), kHostileEscaped);
  EXPECT_EQ(HtmlEscape("&amp;"), "&amp;amp;");  // already-escaped text is escaped again, never trusted
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("plain text 123 \xc3\xa9"), "plain text 123 \xc3\xa9");
  EXPECT_EQ(HtmlEscape(std::string("a\0b", 3)), std::string("a\0b", 3));
}

LoginForm HostileForm() {
  LoginForm f;
  f.action = "https://id.example.com/connect/authorize";
  f.client_name = std::string("Evil ") + kHostile;
  f.hidden = {{"client_id", kHostile}, {std::string("n") + kHostile, "v"}, {"csrf", "tok"}};
  f.username = kHostile;
  f.ask_tenant = true;
  f.tenant = kHostile;
  f.error = kHostile;
  return f;
}

TEST(LoginPageTest, EscapesEveryField) {
  const http::Response r = LoginPage(HostileForm());
  EXPECT_FALSE(Has(r.body, "<script")) << r.body;
  EXPECT_FALSE(Has(r.body, "<img")) << r.body;
  EXPECT_FALSE(Has(r.body, "\"'>")) << r.body;
  // Heading and title, username, tenant, error, both hidden values: each shows up escaped.
  EXPECT_TRUE(Has(r.body, std::string("<h1>Sign in to Evil ") + kHostileEscaped + "</h1>"));
  EXPECT_TRUE(Has(r.body, std::string("<title>Sign in to Evil ") + kHostileEscaped + "</title>"));
  EXPECT_TRUE(Has(r.body, std::string("name=\"client_id\" value=\"") + kHostileEscaped + "\""));
  EXPECT_TRUE(Has(r.body, std::string("name=\"n") + kHostileEscaped + "\" value=\"v\""));
  EXPECT_TRUE(Has(r.body, std::string("role=\"alert\">") + kHostileEscaped + "</p>"));
  EXPECT_EQ(Count(r.body, kHostileEscaped), 7u);  // h1, title, 2 hidden, username, tenant, error
}

TEST(LoginPageTest, HeadersAndFormAction) {
  LoginForm f;
  f.action = "https://id.example.com/auth/connect/authorize";
  f.client_name = "App";
  const http::Response r = LoginPage(f);
  EXPECT_EQ(r.status, 200);
  ExpectSecurityHeaders(r);
  EXPECT_EQ(FormAction(r), "https://id.example.com");
  EXPECT_FALSE(Has(Header(r, "Content-Security-Policy"), "script-src"));  // no script at all
  EXPECT_TRUE(Has(r.body, "<form method=\"post\" action=\"https://id.example.com/auth/connect/authorize\">"));
  EXPECT_EQ(LoginPage(f, 400).status, 400);
  // A hostile action cannot add a source or a directive to the policy.
  f.action = "https://id.example.com; script-src *";
  EXPECT_EQ(FormAction(LoginPage(f)), "'none'");
  f.action = "https://id.example.com:8443/connect/authorize?x=1";
  EXPECT_EQ(FormAction(LoginPage(f)), "https://id.example.com:8443");
  f.action = "http://127.0.0.1:8080/connect/authorize";
  EXPECT_EQ(FormAction(LoginPage(f)), "http://127.0.0.1:8080");
}

// Chrome and Safari check the redirect that answers the form's POST against form-action too, so the client's origin
// must be allowed or a correct login would be stuck on the form.
TEST(LoginPageTest, FormActionAllowsTheRedirectOrigin) {
  LoginForm f;
  f.action = "https://id.example.com/connect/authorize";
  f.redirect_uri = "https://app.example/cb?from=tf";
  EXPECT_EQ(FormAction(LoginPage(f)), "https://id.example.com https://app.example");
  f.redirect_uri = "https://id.example.com/cb";  // same origin: listed once
  EXPECT_EQ(FormAction(LoginPage(f)), "https://id.example.com");
  f.redirect_uri = "com.example.app:/oauth";      // a native app's scheme
  EXPECT_EQ(FormAction(LoginPage(f)), "https://id.example.com com.example.app:");
  f.redirect_uri = "javascript:alert(1)";         // never a source
  EXPECT_EQ(FormAction(LoginPage(f)), "https://id.example.com");
}

TEST(LoginPageTest, InputsLabelsAndAutocomplete) {
  LoginForm f;
  f.action = "https://id.example.com/connect/authorize";
  f.client_name = "App";
  f.hidden = {{"client_id", "app"}, {"state", "s1"}, {"csrf_token", "t0k"}};
  http::Response r = LoginPage(f);
  const std::string& b = r.body;
  EXPECT_TRUE(Has(b, "<label for=\"username\">")) << b;
  EXPECT_TRUE(Has(b, "<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\"")) << b;
  EXPECT_TRUE(Has(b, "<label for=\"password\">")) << b;
  EXPECT_TRUE(Has(b, "<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\""))
      << b;
  EXPECT_TRUE(Has(b, "<button type=\"submit\">Sign in</button>"));
  EXPECT_EQ(Count(b, "type=\"password\""), 1u);
  EXPECT_FALSE(Has(b, "name=\"tenant\""));  // only when asked
  EXPECT_FALSE(Has(b, "role=\"alert\""));    // no error, no alert
  EXPECT_FALSE(Has(b, "aria-describedby"));
  // The password is never prefilled.
  const size_t pw = b.find("id=\"password\"");
  EXPECT_FALSE(Has(b.substr(pw, b.find('>', pw) - pw), "value="));
  // Hidden fields in order, inside the form.
  const size_t form = b.find("<form"), end = b.find("</form>");
  const size_t c = b.find("<input type=\"hidden\" name=\"client_id\" value=\"app\">");
  const size_t s = b.find("<input type=\"hidden\" name=\"state\" value=\"s1\">");
  const size_t t = b.find("<input type=\"hidden\" name=\"csrf_token\" value=\"t0k\">");
  ASSERT_NE(c, std::string::npos);
  ASSERT_NE(s, std::string::npos);
  ASSERT_NE(t, std::string::npos);
  EXPECT_TRUE(form < c && c < s && s < t && t < end);
  // Every input that is not hidden has a label bound to its id.
  for (const char* id : {"username", "password"}) {
    EXPECT_TRUE(Has(b, std::string("<label for=\"") + id + "\">"));
    EXPECT_TRUE(Has(b, std::string("<input id=\"") + id + "\""));
  }

  // With a tenant, a prefilled user name and an error.
  f.ask_tenant = true;
  f.tenant = "acme";
  f.username = "alice";
  f.error = "The user name or password is incorrect.";
  r = LoginPage(f, 400);
  EXPECT_TRUE(Has(r.body, "<label for=\"tenant\">"));
  EXPECT_TRUE(Has(r.body, "<input id=\"tenant\" name=\"tenant\" type=\"text\""));
  EXPECT_TRUE(Has(r.body, "value=\"acme\""));
  EXPECT_TRUE(Has(r.body, "value=\"alice\""));
  EXPECT_TRUE(Has(r.body,
                  "<p id=\"error\" class=\"error\" role=\"alert\">The user name or password is incorrect.</p>"));
  EXPECT_EQ(Count(r.body, "aria-describedby=\"error\""), 3u);  // tenant, username, password
  // Focus goes to the password once the user name is known, else to the user name.
  EXPECT_TRUE(Has(r.body, "autocomplete=\"current-password\" required autofocus"));
  EXPECT_EQ(Count(r.body, "autofocus"), 1u);
  f.username = "";
  r = LoginPage(f);
  EXPECT_TRUE(Has(r.body, "spellcheck=\"false\" required autofocus"));
  EXPECT_EQ(Count(r.body, "autofocus"), 1u);
}

TEST(ErrorPageTest, EscapesTitleAndMessageAndSetsHeaders) {
  const http::Response r = ErrorPage(400, kHostile, std::string("bad redirect_uri ") + kHostile);
  EXPECT_EQ(r.status, 400);
  ExpectSecurityHeaders(r);
  EXPECT_EQ(FormAction(r), "'none'");  // it has no form
  EXPECT_FALSE(Has(Header(r, "Content-Security-Policy"), "script-src"));
  EXPECT_FALSE(Has(r.body, "<script"));
  EXPECT_FALSE(Has(r.body, "<img"));
  EXPECT_TRUE(Has(r.body, std::string("<h1>") + kHostileEscaped + "</h1>"));
  EXPECT_TRUE(Has(r.body, std::string("bad redirect_uri ") + kHostileEscaped + "</p>"));
  EXPECT_FALSE(Has(r.body, "<form"));
  EXPECT_EQ(ErrorPage(500, "Server error", "Try again later.").status, 500);
}

std::string Nonce(const http::Response& r) {
  const std::string csp = Header(r, "Content-Security-Policy");
  const size_t at = csp.find("script-src 'nonce-");
  if (at == std::string::npos) return "";
  const size_t start = at + 18;
  return csp.substr(start, csp.find('\'', start) - start);
}

TEST(FormPostPageTest, PostsEveryParameterEscaped) {
  const std::string uri = "https://app.example.com/cb?x=1&y=\"2\"";
  const http::Response r = FormPostPage(uri, {{"code", "c0de"}, {"state", kHostile}, {"iss", "https://id"}});
  EXPECT_EQ(r.status, 200);
  ExpectSecurityHeaders(r);
  EXPECT_TRUE(Has(r.body, "<form method=\"post\" action=\"https://app.example.com/cb?x=1&amp;y=&quot;2&quot;\">"))
      << r.body;
  EXPECT_TRUE(Has(r.body, "<input type=\"hidden\" name=\"code\" value=\"c0de\">"));
  EXPECT_TRUE(Has(r.body, std::string("<input type=\"hidden\" name=\"state\" value=\"") + kHostileEscaped + "\">"));
  EXPECT_TRUE(Has(r.body, "<input type=\"hidden\" name=\"iss\" value=\"https://id\">"));
  EXPECT_FALSE(Has(r.body, "<img"));
  EXPECT_EQ(Count(r.body, "<script"), 1u);  // only our own
  // A noscript fallback button.
  EXPECT_TRUE(Has(r.body, "<noscript>"));
  EXPECT_TRUE(Has(r.body, "<button type=\"submit\">"));
  EXPECT_EQ(FormAction(r), "https://app.example.com");
}

TEST(FormPostPageTest, NonceInPolicyAndScriptDiffersPerCall) {
  std::set<std::string> nonces;
  for (int i = 0; i < 20; ++i) {
    const http::Response r = FormPostPage("https://app.example.com/cb", {{"code", "c"}});
    const std::string nonce = Nonce(r);
    ASSERT_GE(nonce.size(), 22u);  // at least 128 bits
    for (char c : nonce) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
    EXPECT_TRUE(Has(r.body, "<script nonce=\"" + nonce + "\">document.forms[0].submit();</script>")) << r.body;
    EXPECT_TRUE(Has(Header(r, "Content-Security-Policy"),
                    "default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-" + nonce +
                        "'; form-action https://app.example.com; frame-ancestors 'none'; base-uri 'none'"));
    nonces.insert(nonce);
  }
  EXPECT_EQ(nonces.size(), 20u);
}

TEST(FormPostPageTest, FormActionSourceOfRedirectUris) {
  const auto action = [](std::string_view uri) { return FormAction(FormPostPage(uri, {})); };
  EXPECT_EQ(action("https://app.example.com/cb"), "https://app.example.com");
  EXPECT_EQ(action("HTTPS://App.Example.com:8443/a/b?c#d"), "https://App.Example.com:8443");
  EXPECT_EQ(action("http://127.0.0.1:9000/cb"), "http://127.0.0.1:9000");
  EXPECT_EQ(action("http://[::1]:9000/cb"), "http://[::1]:9000");
  EXPECT_EQ(action("com.example.app:/oauth2redirect"), "com.example.app:");  // a native app's private-use scheme
  // Anything that could smuggle a source or a directive fails closed.
  EXPECT_EQ(action("https://app.example.com;script-src *"), "'none'");
  EXPECT_EQ(action("https://app.example.com ; x"), "'none'");
  EXPECT_EQ(action("https://user@app.example.com/cb"), "'none'");
  EXPECT_EQ(action("https://app.example.com:80x/cb"), "'none'");
  EXPECT_EQ(action("https://[::1/cb"), "'none'");
  EXPECT_EQ(action("https:app.example.com"), "'none'");
  EXPECT_EQ(action("javascript'x:alert(1)"), "'none'");
  EXPECT_EQ(action("javascript:alert(1)"), "'none'");
  EXPECT_EQ(action("JavaScript:alert(1)"), "'none'");
  EXPECT_EQ(action("data:text/html,x"), "'none'");
  EXPECT_EQ(action("/relative/path"), "'none'");
  EXPECT_EQ(action(""), "'none'");
}

}  // namespace
}  // namespace tf::oauth
