// The authorization endpoint, GET|POST {base_path}/connect/authorize (RFC 6749 §3.1, §4.1.1; OpenID Connect Core
// §3.1.2): validates the request, authenticates the user (login_provider.h), issues a code (authorization_codes.h)
// and sends the browser back to the client.
//
// Parameters come from the query string (GET) or an application/x-www-form-urlencoded body (POST; another media
// type is the error page, 400), decoded strictly (form.h: a parameter twice, bad percent-encoding, NUL, bad UTF-8 are
// errors). Checks, in order; until the redirect URI is trusted every failure is an HTML error page (html.h) and
// NEVER a redirect (§4.1.2.1):
//   1. client_id missing, too long (100), unknown or disabled                       -> 400 error page
//   2. redirect_uri missing, or not exactly (byte for byte) one of the client's RedirectUris -> 400 error page
//   3. response_mode: absent = query; "query" or "form_post"; anything else -> invalid_request redirected (query)
// From here errors are redirected (response_mode) with error, error_description (fixed text), state, iss:
//   4. request / request_uri present -> request_not_supported / request_uri_not_supported (OIDC Core §6)
//   5. response_type missing -> invalid_request; not exactly "code" -> unsupported_response_type
//   6. client not allowed "authorization_code" -> unauthorized_client
//   7. state longer than 2000, nonce longer than 300 (InputLengthRestrictions) -> invalid_request
//   8. scope: ResolveUserScopes (scopes.h) -> invalid_scope; `nonce` is not required (code flow, OIDC §3.1.2.1)
//   9. PKCE (pkce.h): code_challenge absent while client.RequirePkce -> invalid_request; a challenge that is not
//      43..128 unreserved characters -> invalid_request; code_challenge_method absent means plain (RFC 7636 §4.3);
//      plain without client.AllowPlainTextPkce, or any method but S256/plain -> invalid_request;
//      code_challenge_method without code_challenge -> invalid_request
//  10. prompt: space-separated none | login | consent | select_account; an unknown value, or none with another ->
//      invalid_request. consent shows the consent page (below); select_account acts as login.
//  11. max_age: a non-negative decimal integer (at most 10 digits) -> else invalid_request
//  12. acr_values (acr_values.h) -> invalid_request; the provider: idp:NAME if given, else the first of
//      config.login_providers that SelectLoginProvider accepts for the client; none -> invalid_request
//  13. the session key is missing from the snapshot -> 500 error page (logged)
// Authentication:
//   local        a valid session cookie (session.h) with idp local, the same tenant as acr_values' tenant (when given),
//                and a fresh enough auth_time (prompt login/select_account force a new login; max_age and the
//                client's UserSsoLifetime bound now - auth_time; config.session_lifetime_seconds bounds the cookie)
//                whose user still exists and IsActive -> issue a code. Otherwise prompt=none -> login_required
//                redirected; else the login form (html.h) is shown, with a fresh CSRF cookie and token, and every
//                authorize parameter as a hidden field (prompt and max_age are kept but a successful form login is
//                fresh by definition).
//                The form POSTs back here with tf_login=1, csrf, username, password (and tenant when asked):
//                CSRF mismatch -> 400 error page ("the form has expired; go back and try again"); credentials checked
//                by resource_owner.h (same verification, lockout and timing as the password grant); any failure ->
//                the form again, 200, "invalid username or password" (one message for every cause); success -> a new
//                session (sid = RandomHandle(16), auth_time now, amr ["pwd"]) set as a cookie, and a code.
//   remote_user  REMOTE_USER empty -> prompt=none: login_required redirected; else 401 error page ("the web server did
//                not authenticate you"). Else remote_user.h's FindOrProvisionRemoteUser; unknown (no provisioning) or
//                inactive -> access_denied redirected. auth_time = now (the web server authenticated this very
//                request), amr ["external"], idp "remote_user"; the sid of an existing session cookie for the same
//                subject and idp is kept, else a new one; the session cookie is (re)set.
// Consent (consent.h), once the user is known and before any code: the consent page is shown when prompt=consent,
// or when the client has RequireConsent and no remembered consent of this user covers every requested scope; with
// prompt=none it is consent_required redirected instead. The page posts the authorize parameters back (without
// prompt and max_age, which the sign-in already satisfied) with tf_consent=approve|deny, the login form's CSRF pair
// (mismatch -> 400 error page) and, when the client's AllowRememberConsent, tf_remember=1 to remember the scopes.
// deny -> access_denied redirected; approve -> the code.
// Success: a code (authorization_codes.h's NewAuthorizationCode: scopes, redirect_uri, nonce, PKCE challenge and
// method, subject, auth_time, idp, amr, tenant, acr (with config.acr_claim), session_id) stored in one write
// transaction; then 302 to redirect_uri with code, state (when sent) and iss (RFC 9207), appended with '?' or '&'
// as the URI already has a query, percent-encoded; or for form_post a 200 auto-submitting form (html.h).
// Every answer carries Cache-Control: no-store. The request log's outcome is "ok" for a code, the OAuth error code
// for a redirected error, "login_form" for the form, "invalid_credentials" for a failed form login, "consent_form"
// for the consent page, "error_page" for
// an error page. A store failure is a 500 error page (logged), never a redirect with a half-made code.
//
// Thread-safety: as the Service.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/request_log.h"
#include "oauth/session.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

// The local session of the request's session cookie when it can be used: signed with `key`, unexpired, idp local,
// accepted by `acceptable` (the caller's tenant and freshness rules), and its user still exists (re-read now), is
// active and is in the session's tenant. nullopt otherwise. The device page (device_page.h) uses it too, so a
// session that is good enough here is good enough there, and no more.
Result<std::optional<Session>> UsableLocalSession(const http::Request& request, std::string_view key,
                                                  store::Store& store, int64_t now,
                                                  const std::function<bool(const Session&)>& acceptable);

http::Response HandleAuthorizeRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                      const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
