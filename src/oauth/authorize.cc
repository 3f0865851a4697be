// The authorize endpoint after validation (authorize_request.h): authenticating the user with the chosen login
// provider and issuing the code. See authorize.h for the rules.
#include "oauth/authorize.h"

#include <optional>
#include <string>
#include <vector>

#include "oauth/authorization_codes.h"
#include "oauth/authorize_request.h"
#include "oauth/authorize_response.h"
#include "oauth/consent.h"
#include "oauth/errors.h"
#include "oauth/html.h"
#include "oauth/login_provider.h"
#include "oauth/login_session.h"
#include "oauth/paths.h"
#include "oauth/remote_user.h"
#include "oauth/resource_owner.h"
#include "oauth/session.h"
#include "password/password_hash.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kErrorTitle = "Sign-in error";
// The one message of every failed form login (unknown user, wrong or no password, locked out, disabled).
constexpr std::string_view kInvalidCredentials = "invalid username or password";
constexpr std::string_view kLoginRequired = "login_required";
constexpr std::string_view kAccessDenied = "access_denied";
constexpr std::string_view kConsentRequired = "consent_required";
constexpr std::string_view kPasswordAmr = "pwd";

// Everything one authorize request needs after validation.
struct Flow {
  const http::Request& http;
  const AuthorizeRequest& request;
  const Config& config;
  store::Store* store;
  RequestLog* log;
  int64_t now;
  const std::string& key;  // the session key

  const store::Client& client() const { return *request.client; }
};

// Every answer goes through here, so that the log line names its outcome.
http::Response Answer(const Flow& f, http::Response response, std::string_view outcome) {
  f.log->outcome = std::string(outcome);
  return response;
}

http::Response Page(const Flow& f, int status, std::string_view message) {
  return Answer(f, AuthorizeErrorPage(status, kErrorTitle, message), kOutcomeErrorPage);
}

// A failed store operation: 503 (Retry-After) for busy password checks and an unreachable or full store, else 500
// (errors.h StoreFailurePage).
http::Response StoreFailure(const Flow& f, const char* what, const Status& st) {
  return Answer(f,
                StoreFailurePage(std::string("authorize: ") + what, st, kErrorTitle,
                                 "The server cannot sign you in at the moment. Please try again later."),
                kOutcomeErrorPage);
}

http::Response Redirected(const Flow& f, std::string_view error, std::string_view description) {
  return Answer(f, AuthorizeErrorRedirect(f.request, f.config, error, description), error);
}

// A session that starts now for `user`, signed in by `idp` with `amr`; `sid` "" = a new session id.
Session StartSession(const Flow& f, const store::User& user, std::string_view idp, std::string_view amr,
                     std::string sid) {
  Session s;
  s.subject = user.subject_id;
  s.tenant = user.tenant;
  s.idp = std::string(idp);
  s.amr = {std::string(amr)};
  s.auth_time = f.now;
  s.sid = sid.empty() ? RandomHandle(16) : std::move(sid);
  s.expires = f.now + f.config.session_lifetime_seconds;
  s.stamp = user.security_stamp;
  return s;
}

// Consent (consent.h) for the user of `auth`, before any code: nullopt when the code may be issued, else the answer
// (the consent page, consent_required, access_denied, or an error page).
std::optional<http::Response> ConsentStep(const Flow& f, const Session& auth, bool started) {
  const store::Client& client = f.client();
  const std::string_view decision = f.http.method == "POST" ? f.request.form.Get(kConsentField) : "";
  if (decision == "approve" || decision == "deny") {
    if (!CheckCsrf(f.key, FindCookie(f.http.cookie, kCsrfCookie), f.request.form.Get(kCsrfField))) {
      return Page(f, 400, "the form has expired; go back and try again");
    }
    if (decision == "deny") return Redirected(f, kAccessDenied, "the user denied the request");
    if (f.request.form.Get(kRememberField) == "1" && client.allow_remember_consent) {
      const Status st = f.store->Update([&](store::Txn& txn) {
        return RememberConsent(txn, client, auth.subject, f.request.scopes, f.now);
      });
      if (!st.ok()) return StoreFailure(f, "cannot remember the consent", st);
    }
    return std::nullopt;
  }
  bool needed = f.request.prompt_consent;
  if (!needed && client.require_consent) {
    Result<bool> remembered = HasRememberedConsent(*f.store, auth.subject, client.client_id, f.request.scopes, f.now);
    if (!remembered.ok()) return StoreFailure(f, "cannot read the remembered consent", remembered.status());
    needed = !*remembered;
  }
  if (!needed) return std::nullopt;
  if (f.request.prompt_none) return Redirected(f, kConsentRequired, "the user has not consented");

  // The page posts every authorize parameter back, except the ones the sign-in already satisfied (prompt, max_age:
  // the POST must not ask for a new login) and the forms' own fields.
  const std::string nonce = NewCsrfNonce();
  ConsentView view;
  view.action = f.config.EndpointUrl(kAuthorizePath);
  view.redirect_uri = f.request.redirect_uri;
  view.client_name = client.client_name.empty() ? client.client_id : client.client_name;
  view.scopes = DescribeScopes(*f.request.snapshot, f.request.scopes);
  for (const auto& [name, value] : f.request.form.params()) {
    if (name == kLoginField || name == kCsrfField || name == kUsernameField || name == kPasswordField ||
        name == kTenantField || name == kConsentField || name == kRememberField || name == "prompt" ||
        name == "max_age") {
      continue;
    }
    view.hidden.emplace_back(name, value);
  }
  view.hidden.emplace_back(std::string(kCsrfField), CsrfToken(f.key, nonce));
  view.decision_field = std::string(kConsentField);
  view.offer_remember = client.allow_remember_consent;
  http::Response response = ConsentPage(view);
  response.SetHeader("Set-Cookie", CsrfSetCookie(nonce));
  if (started) response.SetHeader("Set-Cookie", SessionSetCookie(auth, f.key, f.now));
  return Answer(f, std::move(response), kOutcomeConsentForm);
}

// Success: one code for the user of `auth`, stored in one write transaction, and the browser sent back with it; a
// `started` session is set as the session cookie with the answer. Consent comes first (ConsentStep).
http::Response IssueCode(const Flow& f, const Session& auth, bool started) {
  if (std::optional<http::Response> consent = ConsentStep(f, auth, started)) return std::move(*consent);
  const AuthorizeRequest& r = f.request;
  store::Grant g;
  g.client_id = f.client().client_id;
  g.subject = auth.subject;
  g.scopes = r.scopes;
  g.redirect_uri = r.redirect_uri;
  g.nonce = r.nonce;
  g.code_challenge = r.code_challenge;
  g.code_challenge_method = r.code_challenge_method;
  g.auth_time = auth.auth_time;
  g.idp = auth.idp;
  g.amr = auth.amr;
  g.tenant = auth.tenant;
  g.acr = LoginAcr(f.config, auth.idp);  // what the session's login met, also for prompt=none; never acr_values
  g.session_id = auth.sid;
  const NewGrant code = NewAuthorizationCode(f.client(), std::move(g), f.now);
  const Status st = f.store->Update([&](store::Txn& txn) { return txn.PutGrant(code.key, code.grant); });
  if (!st.ok()) return StoreFailure(f, "cannot store the authorization code", st);

  Params params;
  params.emplace_back("code", code.handle);
  if (!r.state.empty()) params.emplace_back("state", r.state);
  params.emplace_back("iss", f.config.issuer);
  http::Response response = AuthorizationResponse(r.response_mode, r.redirect_uri, params);
  if (started) response.SetHeader("Set-Cookie", SessionSetCookie(auth, f.key, f.now));
  return Answer(f, std::move(response), "ok");
}

// ---- local: the session cookie, or the built-in login form ----

bool AskTenant(const Flow& f) { return f.config.login_form_tenant && f.request.acr.tenant.empty(); }

// The login form with a fresh CSRF nonce (cookie) and token (hidden field), every authorize parameter as a hidden
// field (the form's own fields excepted), and an optional error message.
http::Response LoginFormAnswer(const Flow& f, std::string_view username, std::string_view tenant,
                               std::string_view error, std::string_view outcome) {
  LoginForm form;
  form.action = f.config.EndpointUrl(kAuthorizePath);
  form.redirect_uri = f.request.redirect_uri;
  form.client_name = f.client().client_name.empty() ? f.client().client_id : f.client().client_name;
  for (const auto& [name, value] : f.request.form.params()) {
    if (name == kLoginField || name == kCsrfField || name == kUsernameField || name == kPasswordField ||
        name == kTenantField) {
      continue;
    }
    form.hidden.emplace_back(name, value);
  }
  const std::string nonce = NewCsrfNonce();
  form.hidden.emplace_back(std::string(kLoginField), "1");
  form.hidden.emplace_back(std::string(kCsrfField), CsrfToken(f.key, nonce));
  form.username = std::string(username);
  form.ask_tenant = AskTenant(f);
  if (form.ask_tenant) form.tenant = std::string(tenant);
  form.error = std::string(error);
  http::Response response = LoginPage(form);
  EnsureNoStore(&response);
  response.SetHeader("Set-Cookie", CsrfSetCookie(nonce));
  return Answer(f, std::move(response), outcome);
}

// Whether a login at `auth_time` is recent enough for this request: prompt=login|select_account never, max_age
// (0 = always re-authenticate, OIDC Core §3.1.2.1), the client's UserSsoLifetime and session_lifetime_seconds bound
// the time since the login.
bool IsFreshEnough(const Flow& f, int64_t auth_time) {
  if (f.request.prompt_login) return false;
  const int64_t age = f.now - auth_time;
  if (age > f.config.session_lifetime_seconds) return false;
  if (f.request.max_age.has_value() && (*f.request.max_age == 0 || age > *f.request.max_age)) return false;
  const std::optional<int64_t>& sso = f.client().user_sso_lifetime;
  if (sso.has_value() && age > *sso) return false;
  return true;
}

}  // namespace

Result<std::optional<Session>> UsableLocalSession(const http::Request& request, std::string_view key,
                                                  store::Store& store, int64_t now,
                                                  const std::function<bool(const Session&)>& acceptable) {
  Result<std::optional<Session>> current = CurrentSession(store, request.cookie, key, now);
  if (!current.ok()) return current.status();
  std::optional<Session>& session = *current;
  if (!session.has_value() || session->idp != kLocalProvider) return std::optional<Session>();
  if (!acceptable(*session)) return std::optional<Session>();
  return session;
}

namespace {

// The local session of the cookie when it can be used for this request: the requested tenant, fresh enough.
Result<std::optional<Session>> UsableLocalSession(const Flow& f) {
  return oauth::UsableLocalSession(f.http, f.key, *f.store, f.now, [&f](const Session& session) {
    if (!f.request.acr.tenant.empty() && session.tenant != f.request.acr.tenant) return false;
    return IsFreshEnough(f, session.auth_time);
  });
}

// The form's POST: CSRF, then the same credential check, lockout and timing as the password grant.
http::Response LocalLoginPost(const Flow& f) {
  const Form& form = f.request.form;
  if (!CheckCsrf(f.key, FindCookie(f.http.cookie, kCsrfCookie), form.Get(kCsrfField))) {
    return Page(f, 400, "the form has expired; go back and try again");
  }
  const std::string_view username = form.Get(kUsernameField);
  const std::string_view password = form.Get(kPasswordField);
  const std::string_view tenant = AskTenant(f) ? form.Get(kTenantField) : std::string_view(f.request.acr.tenant);
  if (username.empty() || password.empty() || username.size() > store::kMaxUsernameLength ||
      password.size() > kMaxPasswordLength || tenant.size() > store::kMaxTenantLength) {
    return LoginFormAnswer(f, username, tenant, kInvalidCredentials, kOutcomeInvalidCredentials);
  }
  Result<std::optional<store::User>> user =
      ValidateResourceOwnerPassword(*f.store, f.config, f.now, tenant, username, password);
  if (!user.ok()) return StoreFailure(f, "the user store failed", user.status());
  if (!user->has_value()) {
    return LoginFormAnswer(f, username, tenant, kInvalidCredentials, kOutcomeInvalidCredentials);
  }
  return IssueCode(f, StartSession(f, **user, kLocalProvider, kPasswordAmr, ""), true);
}

http::Response Local(const Flow& f) {
  if (f.request.login_post) return LocalLoginPost(f);
  Result<std::optional<Session>> session = UsableLocalSession(f);
  if (!session.ok()) return StoreFailure(f, "cannot read the session's user", session.status());
  if (session->has_value()) return IssueCode(f, **session, false);
  if (f.request.prompt_none) return Redirected(f, kLoginRequired, "the user is not signed in");
  return LoginFormAnswer(f, "", "", "", kOutcomeLoginForm);
}

// ---- remote_user: the web server authenticated the user ----

http::Response RemoteUser(const Flow& f) {
  const std::string_view remote_user = f.http.remote_user;
  if (remote_user.empty()) {
    if (f.request.prompt_none) return Redirected(f, kLoginRequired, "the user is not signed in");
    return Page(f, 401, "the web server did not authenticate you");
  }
  // The tenant is the configuration's (remote_user.h); a request naming another one is refused, not obeyed.
  Result<RemoteUserName> name = MapRemoteUser(f.config, remote_user);
  if (!name.ok()) {
    Logf(LogLevel::kWarn, "authorize: %s", name.status().message().c_str());
    return Page(f, 400, "the web server passed an unusable user name");
  }
  if (!f.request.acr.tenant.empty() && f.request.acr.tenant != name->tenant) {
    return Redirected(f, kAccessDenied, "the requested tenant is not the tenant of the authenticated user");
  }
  Result<std::optional<store::User>> user = FindOrProvisionRemoteUser(*f.store, f.config, *name, f.now);
  if (!user.ok()) return StoreFailure(f, "the user store failed", user.status());
  if (!user->has_value()) return Redirected(f, kAccessDenied, "the user is unknown or disabled");

  // auth_time is now: the web server authenticated this very request. The sid of this user's earlier remote_user
  // session is kept.
  std::string sid;
  const std::string_view cookie = FindCookie(f.http.cookie, kSessionCookie);
  if (!cookie.empty()) {
    std::optional<Session> previous = DecodeSession(cookie, f.key, f.now);
    if (previous.has_value() && previous->subject == (*user)->subject_id && previous->idp == kRemoteUserProvider) {
      sid = std::move(previous->sid);
    }
  }
  return IssueCode(f, StartSession(f, **user, kRemoteUserProvider, kRemoteUserAmr, std::move(sid)), true);
}

}  // namespace

http::Response HandleAuthorizeRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                      const Clock& clock, store::Store* store, RequestLog* log) {
  AuthorizeValidation v = ValidateAuthorizeRequest(request, catalog, config, log);
  if (!v.request.has_value()) {
    log->outcome = std::move(v.outcome);
    return std::move(v.answer);
  }
  const AuthorizeRequest& r = *v.request;
  const Flow f{request, r, config, store, log, clock.NowSeconds(), r.snapshot->session_key};
  if (store == nullptr) return StoreFailure(f, "no store", Status::Internal("the service has no store"));
  return r.provider == kRemoteUserProvider ? RemoteUser(f) : Local(f);
}

}  // namespace tf::oauth
