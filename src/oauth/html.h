// The HTML the authorize endpoint answers with: the built-in login form, the error page (shown instead of
// redirecting when the client or redirect URI cannot be trusted, RFC 6749 §4.1.2.1), and the auto-submitting form of
// response_mode=form_post (OAuth 2.0 Form Post Response Mode). Minimal, accessible (labels bound to inputs, lang,
// autocomplete attributes, a visible error message tied with aria-describedby), no external resources.
//
// Every page: Content-Type text/html; charset=utf-8; Cache-Control: no-store; Pragma: no-cache;
// Content-Security-Policy "default-src 'none'; style-src 'unsafe-inline'; form-action <the origin the page posts to,
// and for the login form also the origin of the redirect_uri its answer redirects to>;
// frame-ancestors 'none'; base-uri 'none'" (the form_post page adds script-src 'nonce-<random>' for its one inline
// script, and has a noscript submit button); X-Frame-Options: DENY; Referrer-Policy: no-referrer;
// X-Content-Type-Options: nosniff. Every piece of text and every attribute value goes through HtmlEscape (& < > " '),
// so no request data can inject markup.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"

namespace tf::oauth {

std::string HtmlEscape(std::string_view text);

struct LoginForm {
  std::string action;            // absolute URL the form posts to (config.EndpointUrl(kAuthorizePath))
  std::string client_name;       // shown as "Sign in to <client_name>" (ClientName, else ClientId)
  std::vector<std::pair<std::string, std::string>> hidden;  // hidden fields, in order (authorize params, csrf, ...)
  std::string username;          // prefilled after a failed attempt ("" = empty)
  bool ask_tenant = false;       // show a tenant input (name "tenant")
  std::string tenant;            // its prefilled value
  std::string error;             // a fixed message shown above the form ("" = none)
  std::string redirect_uri;      // where a successful login redirects (the client's validated redirect_uri): its
                                 // origin joins the CSP form-action, because browsers (Chrome, Safari) also check
                                 // the redirect that answers a form POST against form-action
};

// 200 (or `status`) with the login form: inputs "username" (autocomplete=username) and "password"
// (type=password, autocomplete=current-password), optional "tenant", the hidden fields, one submit button.
http::Response LoginPage(const LoginForm& form, int status = 200);

// A page with `title` around `main_content` (markup whose text the caller already passed through HtmlEscape), with
// every header above; its forms may post only to the origin of `form_action_url` ("" = nowhere) and, when given, of
// `redirect_uri` (where the answer to the post redirects, as for the login form). The device page (device_page.h)
// and the consent page (consent.h) are built with it.
http::Response HtmlPage(int status, std::string_view title, std::string_view main_content,
                        std::string_view form_action_url, std::string_view redirect_uri = "");

// An error page: `status`, a title and a fixed message (never request data unescaped).
http::Response ErrorPage(int status, std::string_view title, std::string_view message);

// 200 with a form that POSTs `params` to `redirect_uri` as soon as it loads (form_post response mode).
http::Response FormPostPage(std::string_view redirect_uri,
                            const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace tf::oauth
