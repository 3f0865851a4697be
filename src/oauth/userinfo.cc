#include "oauth/userinfo.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "oauth/access_token_validation.h"
#include "oauth/claims.h"
#include "oauth/errors.h"
#include "oauth/form.h"
#include "oauth/id_token.h"
#include "oauth/request_log.h"
#include "util/ascii.h"
#include "util/json_reader.h"
#include "util/json_writer.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kInvalidToken = "invalid_token";
constexpr std::string_view kInsufficientScope = "insufficient_scope";

// A quoted-string (RFC 9110 §5.6.4): '"' and '\' escaped, control characters dropped.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) continue;
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// `Bearer realm="..."[, error="..."][, scope="..."]` (RFC 6750 §3).
std::string Challenge(const Config& config, std::string_view error, std::string_view scope = "") {
  std::string challenge = "Bearer realm=" + Quoted(config.realm);
  if (!error.empty()) challenge += ", error=" + Quoted(error);
  if (!scope.empty()) challenge += ", scope=" + Quoted(scope);
  return challenge;
}

// An RFC 6750 §3.1 error: the JSON error body plus the Bearer challenge.
http::Response BearerError(const Config& config, int status, std::string_view error, std::string_view description,
                           std::string_view scope = "") {
  http::Response r = OAuthError(status, error, description);
  r.SetHeader("WWW-Authenticate", Challenge(config, error, scope));
  return r;
}

bool IsAsciiAlnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool IsB64Token(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (IsAsciiAlnum(s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_' || s[i] == '~' ||
                          s[i] == '+' || s[i] == '/')) {
    ++i;
  }
  if (i == 0) return false;
  while (i < s.size() && s[i] == '=') ++i;
  return i == s.size();
}

// Where the request's bearer token came from.
struct BearerToken {
  enum class Outcome { kNone, kFound, kError };
  Outcome outcome = Outcome::kNone;
  std::string token;        // kFound
  http::Response error;     // kError
};

BearerToken Error(http::Response r) {
  BearerToken t;
  t.outcome = BearerToken::Outcome::kError;
  t.error = std::move(r);
  return t;
}

// The access token of the request: the Authorization header (§2.1) or, for POST, the form body (§2.2). Never the
// query string (§2.3).
BearerToken FindBearerToken(const http::Request& request, const Config& config) {
  std::optional<std::string> from_header;
  const std::string_view header = request.authorization;
  if (!header.empty()) {
    const size_t space = header.find(' ');
    const std::string_view scheme = header.substr(0, space);
    if (EqualsIgnoreAsciiCase(scheme, "Bearer")) {
      std::string_view credentials = space == std::string_view::npos ? std::string_view() : header.substr(space);
      while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
      if (!IsB64Token(credentials)) {
        return Error(OAuthError(400, kInvalidRequest, "the Authorization header is not a valid Bearer credential"));
      }
      from_header = std::string(credentials);
    }
    // Another scheme (Basic, ...) is an unsupported authentication method: no bearer token from the header
    // (RFC 6750 §3.1), and no error code unless the body has one.
  }

  std::optional<std::string> from_body;
  if (request.method == "POST" && IsFormUrlEncoded(request.content_type)) {
    switch (request.body_state) {
      case http::BodyState::kComplete:
        break;
      case http::BodyState::kTooLarge:
        return Error(OAuthError(413, kInvalidRequest, "the request body is too large"));
      case http::BodyState::kIncomplete:
        return Error(OAuthError(400, kInvalidRequest, "the request body is incomplete"));
    }
    Result<Form> form = DecodeForm(request.body, config.max_form_params);
    if (!form.ok()) return Error(OAuthError(400, kInvalidRequest, form.status().message()));
    if (form->Has("access_token")) from_body = std::string(form->Get("access_token"));
  }

  if (from_header.has_value() && from_body.has_value()) {
    return Error(OAuthError(400, kInvalidRequest, "the access token was sent in more than one way"));
  }
  BearerToken t;
  if (from_header.has_value() || from_body.has_value()) {
    t.outcome = BearerToken::Outcome::kFound;
    t.token = from_header.has_value() ? std::move(*from_header) : std::move(*from_body);
  }
  return t;
}

// The token's scope claim: a space-delimited string, or an array (config.scope_claim_as_array).
std::vector<std::string> ScopesOf(const cJSON* claims) {
  std::vector<std::string> out;
  const cJSON* scope = Member(claims, "scope");
  if (cJSON_IsString(scope) && scope->valuestring != nullptr) {
    const std::string_view s = scope->valuestring;
    size_t i = 0;
    while (i < s.size()) {
      const size_t end = std::min(s.find(' ', i), s.size());
      if (end > i) out.emplace_back(s.substr(i, end - i));
      i = end + 1;
    }
  } else if (cJSON_IsArray(scope)) {
    const cJSON* item;
    cJSON_ArrayForEach(item, scope) {
      if (cJSON_IsString(item) && item->valuestring != nullptr) out.emplace_back(item->valuestring);
    }
  }
  return out;
}

}  // namespace

http::Response HandleUserinfoRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                     const Clock& clock, store::Store* store, RequestLog* log) {
  BearerToken bearer = FindBearerToken(request, config);
  switch (bearer.outcome) {
    case BearerToken::Outcome::kError:
      return std::move(bearer.error);
    case BearerToken::Outcome::kNone: {
      // RFC 6750 §3.1: a request without credentials gets the challenge and no error code.
      http::Response r;
      r.status = 401;
      r.SetHeader("WWW-Authenticate", Challenge(config, ""));
      r.SetHeader("Cache-Control", "no-store");
      r.SetHeader("Pragma", "no-cache");
      log->outcome = "no_token";
      return r;
    }
    case BearerToken::Outcome::kFound:
      break;
  }

  Result<std::shared_ptr<const Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) {
    return StoreFailureResponse("userinfo: cannot load the configuration", snapshot.status(),
                                "the server cannot read its configuration");
  }
  const int64_t now = clock.NowSeconds();
  Result<std::optional<ValidAccessToken>> valid = ValidateAccessToken(bearer.token, **snapshot, config, now, *store);
  if (!valid.ok()) {
    return StoreFailureResponse("userinfo", valid.status(), "the server cannot check access tokens at the moment");
  }
  if (!valid->has_value()) return BearerError(config, 401, kInvalidToken, "the access token is invalid");
  const ValidAccessToken& token = **valid;
  log->client_id = SanitizeForLog(token.client_id);

  const JsonDocument doc(token.claims_json);
  const cJSON* claims = doc.object();
  if (claims == nullptr) return BearerError(config, 401, kInvalidToken, "the access token is invalid");
  const std::vector<std::string> scopes = ScopesOf(claims);
  if (std::find(scopes.begin(), scopes.end(), kOpenIdScope) == scopes.end()) {
    return BearerError(config, 403, kInsufficientScope, "the access token lacks the openid scope", kOpenIdScope);
  }
  const std::optional<std::string_view> sub = StringMember(claims, "sub");
  if (!sub.has_value() || sub->empty()) return BearerError(config, 401, kInvalidToken, "the access token is invalid");

  // The user as stored now: a change or a deactivation shows at once.
  std::optional<store::User> user;
  const Status st = store->Read([&](store::Txn& txn) -> Status {
    Result<store::User> u = txn.GetUser(*sub);
    if (!u.ok()) return u.status().IsNotFound() ? Status::OK() : u.status();
    user = std::move(u).value();
    return Status::OK();
  });
  if (!st.ok()) {
    return StoreFailureResponse("userinfo", st, "the server cannot read users at the moment");
  }
  if (!user.has_value() || !user->is_active) {
    return BearerError(config, 401, kInvalidToken, "the access token is invalid");
  }

  JsonWriter w;
  w.String("sub", user->subject_id);
  const std::vector<std::string> types = IdentityClaimTypes(**snapshot, scopes);
  std::set<std::string> written{"sub"};
  WriteClaims(w, "", user->claims, &types, written);
  return JsonResponse(200, std::move(w).Finish());
}

}  // namespace tf::oauth
