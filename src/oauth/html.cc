// The authorize endpoint's HTML pages (the contract, headers included, is in html.h).
//
// Every byte of request or configuration data reaches the page through HtmlEscape, in text and in double-quoted
// attribute values alike. The Content-Security-Policy allows no script except the form_post page's one nonce'd
// script, no external resource of any kind, and form submission only to the origin the page posts to.
#include "oauth/html.h"

#include <string>

#include "util/crypto.h"

namespace tf::oauth {
namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The CSP source expression (CSP Level 3 §2.3.1) for the origin of `url`: "https://host[:port]" for a hierarchical
// URL, "scheme:" for a non-http(s) URL without an authority (a native app's private-use scheme). The path is left
// out on purpose: CSP matches paths after percent-decoding and ignores the query, so a redirect URI's path could
// fail to match itself and block the very form the page exists to send; the origin is the boundary that matters.
// Anything that is not a plain scheme, host and port gives "'none'" (the browser then refuses to post: fail closed),
// so no character of `url` can add a source or a directive to the policy.
std::string FormActionSource(std::string_view url) {
  size_t i = 0;
  while (i < url.size() && (IsAlpha(url[i]) || (i > 0 && (IsDigit(url[i]) || url[i] == '+' || url[i] == '-' ||
                                                          url[i] == '.')))) {
    ++i;
  }
  if (i == 0 || i >= url.size() || url[i] != ':') return "'none'";
  std::string scheme(url.substr(0, i));
  for (char& c : scheme) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  // Schemes that run or embed content instead of naming a receiver are never a form's target.
  for (std::string_view bad : {"javascript", "data", "vbscript", "blob", "filesystem", "file", "about"}) {
    if (scheme == bad) return "'none'";
  }
  const bool web = scheme == "https" || scheme == "http";
  std::string_view rest = url.substr(i + 1);
  if (rest.substr(0, 2) != "//") return web ? "'none'" : scheme + ":";
  rest.remove_prefix(2);
  const size_t end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  if (authority.empty()) return web ? "'none'" : scheme + ":";
  size_t host_end = authority.size();
  if (authority.front() == '[') {
    host_end = authority.find(']');
    if (host_end == std::string_view::npos) return "'none'";
    for (char c : authority.substr(1, host_end - 1)) {
      if (!(IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')) return "'none'";
    }
    ++host_end;
  } else {
    host_end = authority.find(':');
    if (host_end == std::string_view::npos) host_end = authority.size();
    if (host_end == 0) return "'none'";
    for (char c : authority.substr(0, host_end)) {
      if (!(IsAlpha(c) || IsDigit(c) || c == '-' || c == '.')) return "'none'";
    }
  }
  const std::string_view port = authority.substr(host_end);
  if (!port.empty()) {
    if (port.size() < 2 || port.size() > 6 || port.front() != ':') return "'none'";
    for (char c : port.substr(1)) {
      if (!IsDigit(c)) return "'none'";
    }
  }
  return scheme + "://" + std::string(authority);
}

http::Response Page(int status, std::string_view form_action, std::string_view script_nonce, std::string body) {
  http::Response r;
  r.status = status;
  std::string csp = "default-src 'none'; style-src 'unsafe-inline'; ";
  if (!script_nonce.empty()) {
    csp += "script-src 'nonce-";
    csp += script_nonce;
    csp += "'; ";
  }
  csp += "form-action ";
  csp += form_action;
  csp += "; frame-ancestors 'none'; base-uri 'none'";
  r.SetHeader("Content-Type", "text/html; charset=utf-8");
  r.SetHeader("Cache-Control", "no-store");
  r.SetHeader("Pragma", "no-cache");
  r.SetHeader("Content-Security-Policy", std::move(csp));
  r.SetHeader("X-Frame-Options", "DENY");
  r.SetHeader("Referrer-Policy", "no-referrer");
  r.SetHeader("X-Content-Type-Options", "nosniff");
  r.body = std::move(body);
  return r;
}

constexpr std::string_view kStyle =
    "<style>"
    "body{font-family:system-ui,sans-serif;margin:0;padding:2rem 1rem;background:#f4f4f4;color:#1a1a1a}"
    "main{max-width:22rem;margin:0 auto;background:#fff;padding:1.5rem;border-radius:6px}"
    "h1{font-size:1.3rem;margin:0 0 1rem}"
    "label{display:block;margin:.8rem 0 .2rem;font-weight:600}"
    "input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #767676;border-radius:4px}"
    "button{margin-top:1.2rem;width:100%;padding:.6rem;font-size:1rem;border:0;border-radius:4px;"
    "background:#0b57d0;color:#fff}"
    ".error{color:#a50e0e;background:#fce8e6;padding:.6rem;border-radius:4px}"
    "</style>";

// The document around `main_content`, which is already escaped markup.
std::string Document(std::string_view title, std::string_view main_content) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  out += HtmlEscape(title);
  out += "</title>\n";
  out += kStyle;
  out += "\n</head>\n<body>\n<main>\n";
  out += main_content;
  out += "</main>\n</body>\n</html>\n";
  return out;
}

void AppendHidden(std::string& out, const std::vector<std::pair<std::string, std::string>>& fields) {
  for (const auto& [name, value] : fields) {
    out += "<input type=\"hidden\" name=\"";
    out += HtmlEscape(name);
    out += "\" value=\"";
    out += HtmlEscape(value);
    out += "\">\n";
  }
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c; break;
    }
  }
  return out;
}

http::Response LoginPage(const LoginForm& form, int status) {
  const bool has_error = !form.error.empty();
  // With an error, every input points at it (aria-describedby) and a screen reader announces it (role=alert).
  const std::string described = has_error ? " aria-describedby=\"error\" aria-invalid=\"true\"" : "";
  const std::string heading = "Sign in to " + form.client_name;
  std::string m = "<h1>";
  m += HtmlEscape(heading);
  m += "</h1>\n";
  if (has_error) {
    m += "<p id=\"error\" class=\"error\" role=\"alert\">";
    m += HtmlEscape(form.error);
    m += "</p>\n";
  }
  m += "<form method=\"post\" action=\"";
  m += HtmlEscape(form.action);
  m += "\">\n";
  AppendHidden(m, form.hidden);
  if (form.ask_tenant) {
    m += "<label for=\"tenant\">Tenant</label>\n<input id=\"tenant\" name=\"tenant\" type=\"text\" "
         "autocomplete=\"organization\" autocapitalize=\"none\" spellcheck=\"false\" value=\"";
    m += HtmlEscape(form.tenant);
    m += "\"" + described + ">\n";
  }
  m += "<label for=\"username\">User name</label>\n<input id=\"username\" name=\"username\" type=\"text\" "
       "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required";
  // The cursor goes where the user types next: the password after a failed attempt with a known user name.
  if (form.username.empty()) m += " autofocus";
  m += " value=\"";
  m += HtmlEscape(form.username);
  m += "\"" + described + ">\n";
  m += "<label for=\"password\">Password</label>\n<input id=\"password\" name=\"password\" type=\"password\" "
       "autocomplete=\"current-password\" required";
  if (!form.username.empty()) m += " autofocus";
  m += described + ">\n";
  m += "<button type=\"submit\">Sign in</button>\n</form>\n";
  std::string form_action = FormActionSource(form.action);
  if (!form.redirect_uri.empty()) {
    const std::string redirect = FormActionSource(form.redirect_uri);
    if (redirect != "'none'" && redirect != form_action) form_action += " " + redirect;
  }
  return Page(status, form_action, "", Document(heading, m));
}

http::Response HtmlPage(int status, std::string_view title, std::string_view main_content,
                        std::string_view form_action_url, std::string_view redirect_uri) {
  std::string form_action = form_action_url.empty() ? "'none'" : FormActionSource(form_action_url);
  if (!redirect_uri.empty()) {
    const std::string redirect = FormActionSource(redirect_uri);
    if (redirect != "'none'" && redirect != form_action) form_action += " " + redirect;
  }
  return Page(status, form_action, "", Document(title, main_content));
}

http::Response ErrorPage(int status, std::string_view title, std::string_view message) {
  std::string m = "<h1>";
  m += HtmlEscape(title);
  m += "</h1>\n<p role=\"alert\">";
  m += HtmlEscape(message);
  m += "</p>\n";
  return Page(status, "'none'", "", Document(title, m));
}

http::Response FormPostPage(std::string_view redirect_uri,
                            const std::vector<std::pair<std::string, std::string>>& params) {
  // A fresh nonce per page (base64url: valid in a CSP nonce-source), so a cached or leaked page's nonce is useless.
  const std::string nonce = RandomHandle(16);
  std::string m = "<h1>Signing you in</h1>\n<form method=\"post\" action=\"";
  m += HtmlEscape(redirect_uri);
  m += "\">\n";
  AppendHidden(m, params);
  m += "<noscript><p>Your browser does not run scripts: continue with the button.</p>"
       "<button type=\"submit\">Continue</button></noscript>\n</form>\n<script nonce=\"";
  m += nonce;
  m += "\">document.forms[0].submit();</script>\n";
  return Page(200, FormActionSource(redirect_uri), nonce, Document("Signing you in", m));
}

}  // namespace tf::oauth
