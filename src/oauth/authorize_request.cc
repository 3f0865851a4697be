#include "oauth/authorize_request.h"

#include <algorithm>

#include "oauth/client_authentication.h"
#include "oauth/errors.h"
#include "oauth/login_provider.h"
#include "oauth/pkce.h"
#include "oauth/request_log.h"
#include "oauth/scopes.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kErrorTitle = "Sign-in error";
constexpr size_t kMaxMaxAgeDigits = 10;

// Error codes of the authorization endpoint beyond the token endpoint's (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
constexpr std::string_view kUnsupportedResponseType = "unsupported_response_type";
constexpr std::string_view kRequestNotSupported = "request_not_supported";
constexpr std::string_view kRequestUriNotSupported = "request_uri_not_supported";

AuthorizeValidation Page(int status, std::string_view message) {
  AuthorizeValidation v;
  v.answer = AuthorizeErrorPage(status, kErrorTitle, message);
  v.outcome = std::string(kOutcomeErrorPage);
  return v;
}

AuthorizeValidation Redirected(const AuthorizeRequest& request, const Config& config, std::string_view error,
                               std::string_view description) {
  AuthorizeValidation v;
  v.answer = AuthorizeErrorRedirect(request, config, error, description);
  v.outcome = std::string(error);
  return v;
}

// The parameters: the query string of a GET, the form body of a POST (its query string is ignored).
Result<Form> ReadParameters(const http::Request& request, const Config& config, int* page_status,
                            std::string_view* page_message) {
  *page_status = 400;
  if (request.method == "POST") {
    if (request.body_state == http::BodyState::kTooLarge) {
      *page_status = 413;
      *page_message = "The sign-in request is too large.";
      return Status::InvalidArgument("too large");
    }
    if (request.body_state == http::BodyState::kIncomplete) {
      *page_message = "The sign-in request arrived incomplete. Please try again.";
      return Status::InvalidArgument("incomplete");
    }
    if (!IsFormUrlEncoded(request.content_type)) {
      *page_message = "The sign-in request must be sent as an HTML form (application/x-www-form-urlencoded).";
      return Status::InvalidArgument("media type");
    }
  }
  Result<Form> form = DecodeForm(request.method == "POST" ? request.body : request.query, config.max_form_params);
  if (!form.ok()) {
    *page_message = "The sign-in request is malformed: a parameter is repeated, badly encoded or there are too many.";
  }
  return form;
}

// A control character (or DEL) could split the Location header: never redirect to one, even if registered.
bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

http::Response AuthorizeErrorRedirect(const AuthorizeRequest& request, const Config& config, std::string_view error,
                                      std::string_view description) {
  Params params;
  params.emplace_back("error", std::string(error));
  if (!description.empty()) params.emplace_back("error_description", std::string(description));
  if (!request.state.empty()) params.emplace_back("state", request.state);
  params.emplace_back("iss", config.issuer);
  return AuthorizationResponse(request.response_mode, request.redirect_uri, params);
}

AuthorizeValidation ValidateAuthorizeRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                             RequestLog* log) {
  int page_status = 400;
  std::string_view page_message;
  Result<Form> decoded = ReadParameters(request, config, &page_status, &page_message);
  if (!decoded.ok()) return Page(page_status, page_message);

  AuthorizeRequest r;
  r.form = std::move(decoded).value();
  const Form& form = r.form;
  const std::string_view client_id = form.Get("client_id");
  log->client_id = SanitizeForLog(client_id);

  Result<std::shared_ptr<const Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) {
    AuthorizeValidation v;
    v.answer = StoreFailurePage("authorize: cannot load the configuration", snapshot.status(), kErrorTitle,
                                "The server cannot read its configuration. Please try again later.");
    v.outcome = std::string(kOutcomeErrorPage);
    return v;
  }
  r.snapshot = std::move(snapshot).value();
  const Snapshot& snap = *r.snapshot;

  // 1. The client.
  if (client_id.empty()) return Page(400, "The application did not say who it is (client_id is missing).");
  const store::Client* client = client_id.size() > store::kMaxClientIdLength ? nullptr : snap.FindClient(client_id);
  if (client == nullptr || !client->enabled) {
    return Page(400, "The application is unknown or disabled (client_id is not valid).");
  }
  r.client = client;

  // 2. The redirect URI: byte for byte one of the client's; a fragment is never acceptable (RFC 6749 §3.1.2), nor
  //    a control character.
  const std::string_view redirect_uri = form.Get("redirect_uri");
  if (redirect_uri.empty()) {
    return Page(400, "The application did not say where to send you back (redirect_uri is missing).");
  }
  const std::vector<std::string>& registered = client->redirect_uris;
  if (redirect_uri.find('#') != std::string_view::npos || HasControlCharacter(redirect_uri) ||
      std::find(registered.begin(), registered.end(), redirect_uri) == registered.end()) {
    return Page(400, "The application asked to send you back to an address it has not registered "
                     "(redirect_uri is not valid).");
  }
  r.redirect_uri = std::string(redirect_uri);
  // The state goes back with every redirected error below, unless it is itself the problem (step 7).
  if (form.Get("state").size() <= kMaxStateLength) r.state = std::string(form.Get("state"));

  // 3. The response mode (an unknown one is answered in the default mode, query).
  const std::string_view mode = form.Get("response_mode");
  if (mode == "form_post") {
    r.response_mode = ResponseMode::kFormPost;
  } else if (!mode.empty() && mode != "query") {
    return Redirected(r, config, kInvalidRequest, "response_mode is not supported");
  }

  // 4. Request objects (OIDC Core §6) are not supported.
  if (form.Has("request")) return Redirected(r, config, kRequestNotSupported, "request objects are not supported");
  if (form.Has("request_uri")) {
    return Redirected(r, config, kRequestUriNotSupported, "request_uri is not supported");
  }

  // 5. The response type.
  const std::string_view response_type = form.Get("response_type");
  if (response_type.empty()) return Redirected(r, config, kInvalidRequest, "response_type is missing");
  if (response_type != "code") {
    return Redirected(r, config, kUnsupportedResponseType, "only response_type=code is supported");
  }

  // 6. The grant.
  if (!client->AllowsGrantType("authorization_code")) {
    return Redirected(r, config, kUnauthorizedClient, "the client is not allowed the authorization_code grant");
  }

  // 7. Lengths.
  if (form.Get("state").size() > kMaxStateLength) return Redirected(r, config, kInvalidRequest, "state is too long");
  if (form.Get("nonce").size() > kMaxNonceLength) return Redirected(r, config, kInvalidRequest, "nonce is too long");
  r.nonce = std::string(form.Get("nonce"));

  // 8. Scopes.
  Result<std::vector<std::string>> scopes = ResolveUserScopes(snap, *client, form.Get("scope"));
  if (!scopes.ok()) return Redirected(r, config, kInvalidScope, scopes.status().message());
  r.scopes = std::move(scopes).value();

  // 9. PKCE (RFC 7636 §4.3, §4.4.1).
  const std::string_view challenge = form.Get("code_challenge");
  const std::string_view method = form.Get("code_challenge_method");
  if (challenge.empty()) {
    if (client->require_pkce) return Redirected(r, config, kInvalidRequest, "code_challenge is required");
    if (!method.empty()) {
      return Redirected(r, config, kInvalidRequest, "code_challenge_method was sent without a code_challenge");
    }
  } else {
    if (!IsValidPkceString(challenge)) {
      return Redirected(r, config, kInvalidRequest, "code_challenge must be 43 to 128 unreserved characters");
    }
    const std::string_view effective = method.empty() ? kPkcePlain : method;
    if (effective != kPkceS256 && effective != kPkcePlain) {
      return Redirected(r, config, kInvalidRequest, "code_challenge_method is not supported");
    }
    if (effective == kPkcePlain && !client->allow_plain_text_pkce) {
      return Redirected(r, config, kInvalidRequest, "the client must use code_challenge_method=S256");
    }
    r.code_challenge = std::string(challenge);
    r.code_challenge_method = std::string(effective);
  }

  // 10. prompt.
  bool prompt_other = false;
  std::string_view prompt = form.Get("prompt");
  while (!prompt.empty()) {
    const size_t space = prompt.find(' ');
    const std::string_view value = prompt.substr(0, space);
    prompt = space == std::string_view::npos ? std::string_view() : prompt.substr(space + 1);
    if (value.empty()) continue;
    if (value == "none") {
      r.prompt_none = true;
    } else if (value == "login" || value == "select_account") {
      r.prompt_login = true;
      prompt_other = true;
    } else if (value == "consent") {
      r.prompt_consent = true;
      prompt_other = true;
    } else {
      return Redirected(r, config, kInvalidRequest, "prompt has an unsupported value");
    }
  }
  if (r.prompt_none && prompt_other) {
    return Redirected(r, config, kInvalidRequest, "prompt=none cannot be combined with another value");
  }

  // 11. max_age.
  const std::string_view max_age = form.Get("max_age");
  if (!max_age.empty()) {
    if (!IsAllDigits(max_age) || max_age.size() > kMaxMaxAgeDigits) {
      return Redirected(r, config, kInvalidRequest, "max_age must be a non-negative integer");
    }
    r.max_age = std::stoll(std::string(max_age));
  }

  // 12. acr_values and the login provider.
  Result<AcrValues> acr = ParseAcrValues(form.Get("acr_values"));
  if (!acr.ok()) return Redirected(r, config, kInvalidRequest, acr.status().message());
  r.acr = std::move(acr).value();
  if (!r.acr.idp.empty()) {
    Result<std::string> provider = SelectLoginProvider(config, *client, r.acr.idp);
    if (!provider.ok()) return Redirected(r, config, kInvalidRequest, provider.status().message());
    r.provider = std::move(provider).value();
  } else {
    for (const std::string& name : config.login_providers) {
      Result<std::string> provider = SelectLoginProvider(config, *client, name);
      if (provider.ok()) {
        r.provider = std::move(provider).value();
        break;
      }
    }
    if (r.provider.empty()) {
      return Redirected(r, config, kInvalidRequest, "the client is not allowed any enabled identity provider");
    }
  }

  // 13. The session key.
  if (snap.session_key.empty()) {
    Logf(LogLevel::kError, "authorize: the store has no session key (open it writable once, e.g. tokenctl init)");
    return Page(500, "The server is not ready to sign you in. Please try again later.");
  }

  r.login_post = request.method == "POST" && form.Get(kLoginField) == "1";
  AuthorizeValidation v;
  v.request = std::move(r);
  return v;
}

}  // namespace tf::oauth
