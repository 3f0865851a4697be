// The verification page of the device flow (the rules are in device_page.h).
#include "oauth/device_page.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oauth/authorize.h"
#include "oauth/authorize_request.h"
#include "oauth/consent.h"
#include "oauth/device_codes.h"
#include "oauth/errors.h"
#include "oauth/form.h"
#include "oauth/html.h"
#include "oauth/login_provider.h"
#include "oauth/paths.h"
#include "oauth/remote_user.h"
#include "oauth/request_log.h"
#include "oauth/resource_owner.h"
#include "oauth/session.h"
#include "oauth/token_endpoint.h"
#include "oauth/user_code.h"
#include "password/password_hash.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kStepField = "tf_device";
constexpr std::string_view kUserCodeField = "user_code";
constexpr std::string_view kErrorTitle = "Device sign-in error";
constexpr std::string_view kInvalidCredentials = "invalid username or password";
constexpr std::string_view kThrottled =
    "Too many wrong codes were entered. Wait a minute, then enter the code shown on your device.";
constexpr std::string_view kPasswordAmr = "pwd";
// RFC 8628 §5.4: remote phishing.
constexpr std::string_view kDeviceWarning =
    "Only continue if you started this on a device you are holding right now. If someone sent you this code or "
    "asked you to enter it, choose Deny: approving would give them access to your account.";
constexpr std::string_view kThrottleLabel{"user_code_throttle\0", 19};

struct Page {
  const http::Request& http;
  const Config& config;
  const Snapshot& snapshot;
  store::Store& store;
  RequestLog* log;
  int64_t now;
  const Form& form;
  std::string action;  // the absolute URL of this page
  const std::string& key() const { return snapshot.session_key; }
};

http::Response Answer(const Page& p, http::Response response, std::string_view outcome) {
  p.log->outcome = std::string(outcome);
  return response;
}

http::Response Error(const Page& p, int status, std::string_view message) {
  return Answer(p, ErrorPage(status, kErrorTitle, message), kOutcomeErrorPage);
}

// A failed store operation: 503 (Retry-After) for busy password checks and an unreachable or full store, else 500
// (errors.h StoreFailurePage).
http::Response StoreFailure(const Page& p, const char* what, const Status& st) {
  return Answer(p,
                StoreFailurePage(std::string("device page: ") + what, st, kErrorTitle,
                                 "The server cannot sign you in at the moment. Please try again later."),
                kOutcomeErrorPage);
}

// A fresh CSRF nonce: its token goes into the page's form, the nonce into the cookie set with the answer.
struct Csrf {
  std::string nonce = NewCsrfNonce();
  std::string token;
};

http::Response WithCsrf(http::Response response, const Csrf& csrf) {
  response.SetHeader("Set-Cookie", CsrfSetCookie(csrf.nonce));
  return response;
}

void Hidden(std::string& m, std::string_view name, std::string_view value) {
  m += "<input type=\"hidden\" name=\"";
  m += HtmlEscape(name);
  m += "\" value=\"";
  m += HtmlEscape(value);
  m += "\">\n";
}

// The code form: one labelled field, its error (if any) tied to it.
http::Response CodeForm(const Page& p, int status, std::string_view code, std::string_view error,
                        std::string_view outcome) {
  Csrf csrf;
  csrf.token = CsrfToken(p.key(), csrf.nonce);
  const bool has_error = !error.empty();
  std::string m = "<h1>Connect a device</h1>\n";
  if (has_error) {
    m += "<p id=\"error\" class=\"error\" role=\"alert\">";
    m += HtmlEscape(error);
    m += "</p>\n";
  }
  m += "<form method=\"post\" action=\"" + HtmlEscape(p.action) + "\">\n";
  Hidden(m, kStepField, "code");
  Hidden(m, kCsrfField, csrf.token);
  m += "<label for=\"user_code\">Code shown on your device</label>\n"
       "<input id=\"user_code\" name=\"user_code\" type=\"text\" autocomplete=\"one-time-code\" "
       "autocapitalize=\"characters\" spellcheck=\"false\" inputmode=\"text\" maxlength=\"64\" required autofocus";
  if (has_error) m += " aria-describedby=\"error\" aria-invalid=\"true\"";
  m += " value=\"" + HtmlEscape(code) + "\">\n";
  m += "<button type=\"submit\">Continue</button>\n</form>\n";
  return Answer(p, WithCsrf(HtmlPage(status, "Connect a device", m, p.action), csrf), outcome);
}

// The login form of the local provider, posting back here.
http::Response LoginForm_(const Page& p, const store::Client& client, std::string_view code,
                          std::string_view username, std::string_view error, std::string_view outcome) {
  Csrf csrf;
  csrf.token = CsrfToken(p.key(), csrf.nonce);
  LoginForm form;
  form.action = p.action;
  form.client_name = client.client_name.empty() ? client.client_id : client.client_name;
  form.hidden.emplace_back(std::string(kStepField), "login");
  form.hidden.emplace_back(std::string(kUserCodeField), std::string(code));
  form.hidden.emplace_back(std::string(kCsrfField), csrf.token);
  form.username = std::string(username);
  form.ask_tenant = p.config.login_form_tenant;
  if (form.ask_tenant) form.tenant = std::string(p.form.Get(kTenantField));
  form.error = std::string(error);
  return Answer(p, WithCsrf(LoginPage(form), csrf), outcome);
}

// The approval page (consent.h's page): who asks for what, the phishing warning, Approve and Deny.
http::Response ConsentForm(const Page& p, const store::Client& client, const store::Grant& device,
                           std::string_view code, const std::optional<Session>& started) {
  Csrf csrf;
  csrf.token = CsrfToken(p.key(), csrf.nonce);
  ConsentView view;
  view.action = p.action;
  view.client_name = client.client_name.empty() ? client.client_id : client.client_name;
  view.scopes = DescribeScopes(p.snapshot, device.scopes);
  view.hidden = {{std::string(kUserCodeField), std::string(code)}, {std::string(kCsrfField), csrf.token}};
  view.decision_field = std::string(kStepField);
  view.warning = std::string(kDeviceWarning);
  view.user_code = FormatUserCode(code);
  http::Response response = WithCsrf(ConsentPage(view), csrf);
  if (started.has_value()) response.SetHeader("Set-Cookie", SessionSetCookie(*started, p.key(), p.now));
  return Answer(p, std::move(response), "device_consent");
}

http::Response Done(const Page& p, bool approved) {
  const std::string_view title = approved ? "Device connected" : "Request denied";
  const std::string_view text = approved ? "You may return to your device: it is signed in now."
                                         : "The device was not given access. You may close this page.";
  std::string m = "<h1>" + HtmlEscape(title) + "</h1>\n<p role=\"status\">" + HtmlEscape(text) + "</p>\n";
  return Answer(p, HtmlPage(200, title, m, ""), approved ? "approved" : "denied");
}

// ---- throttling ----

// The throttle keys of this request: its address, and its session when one is signed in.
std::vector<std::string> ThrottleKeys(const Page& p) {
  std::vector<std::string> keys;
  keys.push_back(UserCodeThrottleKey("addr", p.http.remote_addr));
  const std::string_view cookie = FindCookie(p.http.cookie, kSessionCookie);
  if (!cookie.empty()) {
    if (std::optional<Session> s = DecodeSession(cookie, p.key(), p.now)) {
      keys.push_back(UserCodeThrottleKey("sid", s->sid));
    }
  }
  return keys;
}

// Seconds until this request may enter a code again (0 = now).
Result<int64_t> ThrottleWait(const Page& p) {
  int64_t wait = 0;
  const std::vector<std::string> keys = ThrottleKeys(p);
  const Status st = p.store.Read([&](store::Txn& txn) -> Status {
    for (const std::string& key : keys) {
      Result<store::Grant> g = txn.GetGrant(key);
      if (!g.ok()) {
        if (g.status().IsNotFound()) continue;
        return g.status();
      }
      if (g->kind == store::GrantKind::kUserCodeThrottle && g->locked_until.has_value() && *g->locked_until > p.now) {
        wait = std::max(wait, *g->locked_until - p.now);
      }
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return wait;
}

// One wrong code: counted on every throttle record of the request, in one write transaction, and logged.
Status CountFailure(const Page& p) {
  const std::vector<std::string> keys = ThrottleKeys(p);
  int64_t count = 0;
  const Status st = p.store.Update([&](store::Txn& txn) -> Status {
    for (const std::string& key : keys) {
      Result<store::Grant> g = txn.GetGrant(key);
      if (!g.ok() && !g.status().IsNotFound()) return g.status();
      const bool exists = g.ok() && g->kind == store::GrantKind::kUserCodeThrottle && p.now < g->expires;
      store::Grant record = exists ? std::move(g).value() : store::Grant{};
      RecordUserCodeFailure(&record, exists, p.now);
      count = std::max(count, record.failures);
      TF_RETURN_IF_ERROR(txn.PutGrant(key, record));
    }
    return Status::OK();
  });
  if (st.ok()) {
    Logf(LogLevel::kWarn, "device page: wrong user code from %s (%lld failure(s) in a row)",
         SanitizeForLog(p.http.remote_addr).c_str(), static_cast<long long>(count));
  }
  return st;
}

// ---- sign-in ----

struct SignedIn {
  Session session;
  bool started = false;   // a new session: its cookie goes out with the answer
};

// The provider for this client: the first of config login_providers it may use ("" = none).
std::string ProviderFor(const Config& config, const store::Client& client) {
  for (const std::string& name : config.login_providers) {
    Result<std::string> provider = SelectLoginProvider(config, client, name);
    if (provider.ok()) return std::move(provider).value();
  }
  return "";
}

Session NewSession(const Page& p, const store::User& user, std::string_view idp, std::string_view amr,
                   std::string sid) {
  Session s;
  s.subject = user.subject_id;
  s.tenant = user.tenant;
  s.idp = std::string(idp);
  s.amr = {std::string(amr)};
  s.auth_time = p.now;
  s.sid = sid.empty() ? RandomHandle(16) : std::move(sid);
  s.expires = p.now + p.config.session_lifetime_seconds;
  s.stamp = user.security_stamp;
  return s;
}

// Sign-in for the code of `pending`. Either a signed-in user, or the answer to send (a form or an error page).
struct SignIn {
  std::optional<SignedIn> user;
  http::Response answer;
};

SignIn Local(const Page& p, const store::Client& client, std::string_view code) {
  SignIn out;
  if (p.form.Get(kStepField) == "login") {
    const std::string_view username = p.form.Get(kUsernameField);
    const std::string_view password = p.form.Get(kPasswordField);
    const std::string_view tenant = p.config.login_form_tenant ? p.form.Get(kTenantField) : std::string_view();
    if (username.empty() || password.empty() || username.size() > store::kMaxUsernameLength ||
        password.size() > kMaxPasswordLength || tenant.size() > store::kMaxTenantLength) {
      out.answer = LoginForm_(p, client, code, username, kInvalidCredentials, kOutcomeInvalidCredentials);
      return out;
    }
    Result<std::optional<store::User>> user =
        ValidateResourceOwnerPassword(p.store, p.config, p.now, tenant, username, password);
    if (!user.ok()) {
      out.answer = StoreFailure(p, "the user store failed", user.status());
      return out;
    }
    if (!user->has_value()) {
      out.answer = LoginForm_(p, client, code, username, kInvalidCredentials, kOutcomeInvalidCredentials);
      return out;
    }
    out.user = SignedIn{NewSession(p, **user, kLocalProvider, kPasswordAmr, ""), true};
    return out;
  }
  Result<std::optional<Session>> session =
      UsableLocalSession(p.http, p.key(), p.store, p.now, [&](const Session& s) {
        const int64_t age = p.now - s.auth_time;
        if (age > p.config.session_lifetime_seconds) return false;
        return !client.user_sso_lifetime.has_value() || age <= *client.user_sso_lifetime;
      });
  if (!session.ok()) {
    out.answer = StoreFailure(p, "cannot read the session's user", session.status());
    return out;
  }
  if (session->has_value()) {
    out.user = SignedIn{std::move(**session), false};
    return out;
  }
  out.answer = LoginForm_(p, client, code, "", "", kOutcomeLoginForm);
  return out;
}

SignIn RemoteUser(const Page& p) {
  SignIn out;
  const std::string_view remote_user = p.http.remote_user;
  if (remote_user.empty()) {
    out.answer = Error(p, 401, "the web server did not authenticate you");
    return out;
  }
  // The tenant comes from the configuration (remote_user.h), as at the authorize endpoint.
  Result<RemoteUserName> name = MapRemoteUser(p.config, remote_user);
  if (!name.ok()) {
    Logf(LogLevel::kWarn, "device page: %s", name.status().message().c_str());
    out.answer = Error(p, 400, "the web server passed an unusable user name");
    return out;
  }
  Result<std::optional<store::User>> user = FindOrProvisionRemoteUser(p.store, p.config, *name, p.now);
  if (!user.ok()) {
    out.answer = StoreFailure(p, "the user store failed", user.status());
    return out;
  }
  if (!user->has_value()) {
    out.answer = Error(p, 403, "your account cannot be used to connect a device");
    return out;
  }
  std::string sid;
  const std::string_view cookie = FindCookie(p.http.cookie, kSessionCookie);
  if (!cookie.empty()) {
    std::optional<Session> previous = DecodeSession(cookie, p.key(), p.now);
    if (previous.has_value() && previous->subject == (*user)->subject_id && previous->idp == kRemoteUserProvider) {
      sid = std::move(previous->sid);
    }
  }
  out.user = SignedIn{NewSession(p, **user, kRemoteUserProvider, kRemoteUserAmr, std::move(sid)), true};
  return out;
}

// Steps 1-4 of a POST (device_page.h).
http::Response Post(const Page& p) {
  if (!CheckCsrf(p.key(), FindCookie(p.http.cookie, kCsrfCookie), p.form.Get(kCsrfField))) {
    return Error(p, 400, "the form has expired; go back and try again");
  }
  const std::string_view typed = p.form.Get(kUserCodeField);
  const std::string_view step = p.form.Get(kStepField);
  // 1. throttle
  Result<int64_t> wait = ThrottleWait(p);
  if (!wait.ok()) return StoreFailure(p, "cannot read the throttle", wait.status());
  if (*wait > 0) return CodeForm(p, 429, typed.substr(0, kMaxUserCodeInput), kThrottled, "user_code_throttled");

  // 2. the code
  const std::optional<std::string> code = NormalizeUserCode(typed);
  std::optional<PendingDeviceCode> pending;
  if (code.has_value()) {
    const Status st = p.store.Read([&](store::Txn& txn) -> Status {
      Result<std::optional<PendingDeviceCode>> r = FindPendingDeviceCode(txn, *code, p.now);
      if (!r.ok()) return r.status();
      pending = std::move(r).value();
      return Status::OK();
    });
    if (!st.ok()) return StoreFailure(p, "cannot read the device code", st);
  }
  const store::Client* client = pending.has_value() ? p.snapshot.FindClient(pending->device.client_id) : nullptr;
  if (client == nullptr || !client->enabled) {
    const Status st = CountFailure(p);
    if (!st.ok()) return StoreFailure(p, "cannot count a wrong code", st);
    return CodeForm(p, 200, typed.substr(0, kMaxUserCodeInput), kUserCodeNotUsable, "user_code_invalid");
  }

  // 3. sign-in
  const std::string provider = ProviderFor(p.config, *client);
  if (provider.empty()) return Error(p, 400, "no sign-in method is available for this application");
  SignIn signin = provider == kRemoteUserProvider ? RemoteUser(p) : Local(p, *client, *code);
  if (!signin.user.has_value()) return std::move(signin.answer);
  const SignedIn& user = *signin.user;
  std::optional<Session> started;
  if (user.started) started = user.session;

  // 4. the decision, or the page that asks for it
  if (step != "approve" && step != "deny") return ConsentForm(p, *client, pending->device, *code, started);
  std::optional<DeviceLogin> login;
  if (step == "approve") {
    DeviceLogin& l = login.emplace();
    l.subject = user.session.subject;
    l.auth_time = user.session.auth_time;
    l.idp = user.session.idp;
    l.amr = user.session.amr;
    l.tenant = user.session.tenant;
    l.acr = LoginAcr(p.config, user.session.idp);  // the level the login met (login_provider.h)
    l.session_id = user.session.sid;
  }
  DeviceDecision decision = DeviceDecision::kGone;
  const Status st = p.store.Update([&](store::Txn& txn) -> Status {
    Result<DeviceDecision> r = DecideDeviceCode(txn, *code, p.now, login);
    if (!r.ok()) return r.status();
    decision = *r;
    return Status::OK();
  });
  if (!st.ok()) return StoreFailure(p, "cannot record the decision", st);
  if (decision == DeviceDecision::kGone) {
    return CodeForm(p, 200, "", kUserCodeNotUsable, "user_code_invalid");
  }
  Logf(LogLevel::kInfo, "device page: a device code of client %s was %s", SanitizeForLog(client->client_id).c_str(),
       login.has_value() ? "approved" : "denied");
  http::Response done = Done(p, login.has_value());
  if (started.has_value()) done.SetHeader("Set-Cookie", SessionSetCookie(*started, p.key(), p.now));
  return done;
}

}  // namespace

std::string UserCodeThrottleKey(std::string_view kind, std::string_view value) {
  std::string data(kThrottleLabel);
  data += kind;
  data += '\0';
  data += value;
  return Sha256(data);
}

void RecordUserCodeFailure(store::Grant* record, bool exists, int64_t now) {
  if (!exists) {
    *record = store::Grant{};
    record->kind = store::GrantKind::kUserCodeThrottle;
    record->created = now;
    record->expires = now + kUserCodeFailureWindow;
  }
  record->failures += 1;
  if (record->failures >= kMaxUserCodeFailures) {
    record->failures = 0;
    record->locked_until = now + kUserCodeLockSeconds;
    record->expires = std::max(record->expires, now + kUserCodeLockSeconds);
  }
}

http::Response HandleDevicePage(const http::Request& request, Catalog& catalog, const Config& config,
                                const Clock& clock, store::Store* store, RequestLog* log) {
  if (request.method == "POST") {
    if (request.body_state == http::BodyState::kTooLarge) {
      log->outcome = std::string(kOutcomeErrorPage);
      return ErrorPage(413, kErrorTitle, "The request is too large.");
    }
    if (request.body_state == http::BodyState::kIncomplete || !IsFormUrlEncoded(request.content_type)) {
      log->outcome = std::string(kOutcomeErrorPage);
      return ErrorPage(400, kErrorTitle, "The request must be sent as an HTML form.");
    }
  }
  Result<Form> form = DecodeForm(request.method == "POST" ? request.body : request.query, config.max_form_params);
  if (!form.ok()) {
    log->outcome = std::string(kOutcomeErrorPage);
    return ErrorPage(400, kErrorTitle, "The request is malformed: a parameter is repeated, badly encoded or there "
                                       "are too many.");
  }
  Result<std::shared_ptr<const Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) {
    log->outcome = std::string(kOutcomeErrorPage);
    return StoreFailurePage("device page: cannot load the configuration", snapshot.status(), kErrorTitle,
                            "The server cannot sign you in at the moment. Please try again later.");
  }
  if (store == nullptr || (*snapshot)->session_key.empty()) {
    Logf(LogLevel::kError, "device page: no store or session key");
    log->outcome = std::string(kOutcomeErrorPage);
    return ErrorPage(500, kErrorTitle, "The server cannot sign you in at the moment. Please try again later.");
  }
  const Page p{request, config, **snapshot, *store, log, clock.NowSeconds(), *form, config.EndpointUrl(kDevicePath)};
  if (request.method != "POST") {
    return CodeForm(p, 200, form->Get(kUserCodeField).substr(0, kMaxUserCodeInput), "", "device_form");
  }
  return Post(p);
}

}  // namespace tf::oauth
