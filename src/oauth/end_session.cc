// The end session endpoint (rules in end_session.h).
#include "oauth/end_session.h"

#include <algorithm>
#include <optional>
#include <string>

#include "oauth/authorize_request.h"
#include "oauth/authorize_response.h"
#include "oauth/errors.h"
#include "oauth/form.h"
#include "oauth/session.h"
#include "oauth/snapshot.h"
#include "token/jws.h"
#include "util/json_reader.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kErrorTitle = "Sign-out error";
constexpr std::string_view kSignedOutTitle = "Signed out";
constexpr std::string_view kSignedOutMessage = "You are signed out. You may close this window.";
constexpr std::string_view kOutcomeRedirect = "redirect";
constexpr std::string_view kOutcomeSignedOut = "signed_out";

http::Response ErrorAnswer(RequestLog* log, int status, std::string_view message) {
  log->outcome = std::string(kOutcomeErrorPage);
  return AuthorizeErrorPage(status, kErrorTitle, message);
}

// The client named by a valid id_token_hint (step 2 of end_session.h), or nullopt when the hint is not one of ours.
// Expiry is deliberately not checked.
std::optional<std::string> HintedClient(std::string_view hint, const Snapshot& snapshot, const Config& config) {
  if (hint.size() > kMaxIdTokenHintLength) return std::nullopt;
  std::optional<token::JwsParts> parts = token::SplitJws(hint);
  if (!parts.has_value()) return std::nullopt;
  const JsonDocument header_doc(parts->header_json);
  const cJSON* header = header_doc.object();
  if (header == nullptr) return std::nullopt;
  const std::optional<std::string_view> alg_name = StringMember(header, "alg");
  const std::optional<std::string_view> kid = StringMember(header, "kid");
  if (!alg_name || !kid) return std::nullopt;
  const std::optional<token::Alg> alg = token::ParseAlg(*alg_name);
  if (!alg.has_value()) return std::nullopt;
  const auto key = std::find_if(snapshot.published_keys.begin(), snapshot.published_keys.end(),
                                [&](const auto& k) { return k->kid() == *kid && k->alg() == *alg; });
  if (key == snapshot.published_keys.end() || !(*key)->Verify(parts->signing_input, parts->signature)) {
    return std::nullopt;
  }
  const JsonDocument payload_doc(parts->payload_json);
  const cJSON* claims = payload_doc.object();
  if (claims == nullptr) return std::nullopt;
  const std::optional<std::string_view> iss = StringMember(claims, "iss");
  if (!iss.has_value() || *iss != config.issuer) return std::nullopt;
  const cJSON* aud = Member(claims, "aud");
  if (cJSON_IsArray(aud) && cJSON_GetArraySize(aud) == 1) aud = aud->child;
  if (!cJSON_IsString(aud) || aud->valuestring == nullptr || aud->valuestring[0] == '\0') return std::nullopt;
  return std::string(aud->valuestring);
}

bool HasControlCharacter(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

}  // namespace

http::Response HandleEndSessionRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                       RequestLog* log) {
  // 1. The parameters.
  if (request.method == "POST") {
    if (request.body_state == http::BodyState::kTooLarge) return ErrorAnswer(log, 413, "The request is too large.");
    if (request.body_state == http::BodyState::kIncomplete || !IsFormUrlEncoded(request.content_type)) {
      return ErrorAnswer(log, 400, "The sign-out request must be sent as a complete HTML form.");
    }
  }
  Result<Form> form = DecodeForm(request.method == "POST" ? request.body : request.query, config.max_form_params);
  if (!form.ok()) {
    return ErrorAnswer(log, 400,
                       "The sign-out request is malformed: a parameter is repeated, badly encoded or there are too "
                       "many.");
  }
  Result<std::shared_ptr<const Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) {
    log->outcome = std::string(kOutcomeErrorPage);
    return StoreFailurePage("end session: cannot load the configuration", snapshot.status(), kErrorTitle,
                            "The server cannot read its configuration. Please try again later.");
  }
  const Snapshot& snap = **snapshot;

  // 2. id_token_hint, and 3. client_id.
  std::string client_id;
  const std::string_view hint = form->Get("id_token_hint");
  if (!hint.empty()) {
    std::optional<std::string> hinted = HintedClient(hint, snap, config);
    if (!hinted.has_value()) return ErrorAnswer(log, 400, "The sign-out request carries an invalid id_token_hint.");
    client_id = std::move(*hinted);
  }
  const std::string_view client_param = form->Get("client_id");
  if (!client_param.empty()) {
    if (!client_id.empty() && client_param != client_id) {
      return ErrorAnswer(log, 400, "The client_id does not match the id_token_hint.");
    }
    client_id = std::string(client_param);
  }
  const store::Client* client = nullptr;
  if (!client_id.empty()) {
    log->client_id = SanitizeForLog(client_id);
    client = snap.FindClient(client_id);
    if (client == nullptr || !client->enabled) {
      return ErrorAnswer(log, 400, "The application is unknown or disabled.");
    }
  }

  // The session ends in this browser, whatever comes next.
  // 4. Back to the client, or the signed-out page.
  const std::string_view uri = form->Get("post_logout_redirect_uri");
  const bool registered = client != nullptr && !uri.empty() && !HasControlCharacter(uri) &&
                          std::find(client->post_logout_redirect_uris.begin(),
                                    client->post_logout_redirect_uris.end(), uri) !=
                              client->post_logout_redirect_uris.end();
  http::Response response;
  if (registered) {
    Params params;
    if (form->Has("state")) params.emplace_back("state", std::string(form->Get("state")));
    response = AuthorizationResponse(ResponseMode::kQuery, uri, params);
    log->outcome = std::string(kOutcomeRedirect);
  } else {
    response = AuthorizeErrorPage(200, kSignedOutTitle, kSignedOutMessage);
    log->outcome = std::string(kOutcomeSignedOut);
  }
  response.SetHeader("Set-Cookie", ClearSessionSetCookie());
  return response;
}

}  // namespace tf::oauth
