// Internal to the authorize endpoint (authorize.h): reading the parameters and validation steps 1-13, before anyone
// is authenticated. The result is either a validated AuthorizeRequest or the answer to send (an error page until the
// redirect URI is trusted, then an error redirected back with error, error_description, state and iss).
//
// A login POST of the built-in form (tf_login=1 in a POST body) goes through exactly the same steps on its hidden
// fields: they are never trusted more than a fresh request.
//
// Thread-safety: pure function of its arguments (Catalog::Current is thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/request.h"
#include "oauth/acr_values.h"
#include "oauth/authorize_response.h"
#include "oauth/catalog.h"
#include "oauth/form.h"
#include "oauth/request_log.h"
#include "store/records.h"

namespace tf::oauth {

// The parameters of the login form itself: never copied into its hidden fields (they are added afresh).
inline constexpr std::string_view kLoginField = "tf_login";
inline constexpr std::string_view kCsrfField = "csrf";
inline constexpr std::string_view kUsernameField = "username";
inline constexpr std::string_view kPasswordField = "password";
inline constexpr std::string_view kTenantField = "tenant";
inline constexpr std::string_view kConsentField = "tf_consent";    // the consent page's buttons: approve | deny
inline constexpr std::string_view kRememberField = "tf_remember";  // its checkbox: "1" = remember the decision

inline constexpr size_t kMaxStateLength = 2000;
inline constexpr size_t kMaxNonceLength = 300;

// The request log outcomes that are not OAuth error codes.
inline constexpr std::string_view kOutcomeErrorPage = "error_page";
inline constexpr std::string_view kOutcomeLoginForm = "login_form";
inline constexpr std::string_view kOutcomeInvalidCredentials = "invalid_credentials";
inline constexpr std::string_view kOutcomeConsentForm = "consent_form";

struct AuthorizeRequest {
  Form form;                                   // every parameter, as decoded
  std::shared_ptr<const Snapshot> snapshot;    // consistent for the request
  const store::Client* client = nullptr;       // in snapshot
  std::string redirect_uri;                    // one of the client's RedirectUris
  ResponseMode response_mode = ResponseMode::kQuery;
  std::string state;                           // "" = none sent
  std::string nonce;
  std::vector<std::string> scopes;             // resolved (ResolveUserScopes)
  std::string code_challenge;                  // "" = none
  std::string code_challenge_method;           // "S256" or "plain" when there is a challenge, else ""
  bool prompt_none = false;
  bool prompt_login = false;                   // login or select_account
  bool prompt_consent = false;                 // consent: the consent page is shown (consent.h)
  std::optional<int64_t> max_age;
  AcrValues acr;
  std::string provider;                        // "local" or "remote_user"
  bool login_post = false;                     // the built-in form's POST (tf_login=1 in a POST body)
};

struct AuthorizeValidation {
  std::optional<AuthorizeRequest> request;     // set when every step passed
  http::Response answer;                       // otherwise: what to send
  std::string outcome;                         // otherwise: the request log's outcome
};

AuthorizeValidation ValidateAuthorizeRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                             RequestLog* log);

// An error redirected to the validated request's redirect URI: error, error_description, state (when sent), iss.
http::Response AuthorizeErrorRedirect(const AuthorizeRequest& request, const Config& config, std::string_view error,
                                      std::string_view description);

}  // namespace tf::oauth
