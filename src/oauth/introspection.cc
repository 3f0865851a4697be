#include "oauth/introspection.h"

#include <optional>
#include <string>

#include "oauth/access_token.h"
#include "oauth/access_token_validation.h"
#include "oauth/api_resource_authentication.h"
#include "oauth/client_authentication.h"
#include "oauth/errors.h"
#include "oauth/form_post.h"
#include "oauth/refresh_tokens.h"
#include "oauth/request_log.h"
#include "util/crypto.h"
#include "util/json_reader.h"
#include "util/json_writer.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kInactive = R"({"active":false})";

// Who asked: exactly one of the two is set.
struct Caller {
  const store::ApiResource* resource = nullptr;
  const store::Client* client = nullptr;
};

// aud is one string or an array of strings (RFC 7519 §4.1.3).
bool AudienceContains(const cJSON* claims, std::string_view name) {
  const cJSON* aud = Member(claims, "aud");
  if (cJSON_IsString(aud)) return aud->valuestring != nullptr && name == aud->valuestring;
  if (!cJSON_IsArray(aud)) return false;
  const cJSON* item;
  cJSON_ArrayForEach(item, aud) {
    if (cJSON_IsString(item) && item->valuestring != nullptr && name == item->valuestring) return true;
  }
  return false;
}

// An API resource sees access tokens meant for it; a client sees its own.
bool AccessTokenVisibleTo(const Caller& caller, const cJSON* claims) {
  if (caller.resource != nullptr) return AudienceContains(claims, caller.resource->name);
  const std::optional<std::string_view> client_id = StringMember(claims, "client_id");
  return client_id.has_value() && *client_id == caller.client->client_id;
}

// {"active":true, <every claim but the internal ones>, "token_type":"Bearer"}, scope as a space-delimited string.
std::string ActiveAccessTokenJson(const cJSON* claims) {
  JsonWriter w;
  w.Bool("active", true);
  const cJSON* item;
  cJSON_ArrayForEach(item, claims) {
    if (item->string == nullptr) continue;
    const std::string_view name = item->string;
    if (name == "active" || name == "token_type" || name == kGrantIdClaim) continue;
    if (name == "scope" && cJSON_IsArray(item)) {
      std::string scope;
      const cJSON* s;
      cJSON_ArrayForEach(s, item) {
        if (!cJSON_IsString(s) || s->valuestring == nullptr) continue;
        if (!scope.empty()) scope += ' ';
        scope += s->valuestring;
      }
      w.String("scope", scope);
      continue;
    }
    char* text = cJSON_PrintUnformatted(item);
    if (text == nullptr) continue;
    w.Raw(name, text);
    cJSON_free(text);
  }
  w.String("token_type", "Bearer");
  return std::move(w).Finish();
}

std::string ActiveRefreshTokenJson(const Config& config, const store::Grant& grant) {
  JsonWriter w;
  w.Bool("active", true);
  w.String("iss", config.issuer);
  w.String("client_id", grant.client_id);
  if (!grant.subject.empty()) w.String("sub", grant.subject);
  std::string scope;
  for (const std::string& s : grant.scopes) {
    if (!scope.empty()) scope += ' ';
    scope += s;
  }
  w.String("scope", scope);
  w.Int("iat", grant.created);
  w.Int("exp", grant.expires);
  if (grant.auth_time.has_value()) w.Int("auth_time", *grant.auth_time);
  w.String("token_type", "refresh_token");
  return std::move(w).Finish();
}

// The answer for a valid access token (access_token_validation.h): the active JSON when the caller may see it.
std::optional<std::string> IntrospectAccessToken(const ValidAccessToken& token, const Caller& caller) {
  const JsonDocument doc(token.claims_json);
  const cJSON* claims = doc.object();
  if (claims == nullptr) return std::nullopt;
  // A reference token is its grant's client's; a JWT's client is its client_id claim (AccessTokenVisibleTo).
  if (token.reference && caller.client != nullptr && token.client_id != caller.client->client_id) return std::nullopt;
  if (!AccessTokenVisibleTo(caller, claims)) return std::nullopt;
  return ActiveAccessTokenJson(claims);
}

// The answer for an opaque handle that is not an access token: a refresh token, for its own client only.
// Looked up as redemption looks it up (refresh_tokens.h ReadRefreshToken: under its chain key, or its hash); a
// rotated handle is its consumed grant, so inactive.
Result<std::optional<std::string>> IntrospectRefreshToken(std::string_view token, const Caller& caller,
                                                          const Snapshot& snapshot, const Config& config, int64_t now,
                                                          store::Store& store) {
  if (caller.client == nullptr) return std::optional<std::string>();  // resources never see refresh tokens
  if (token.size() > kMaxRefreshTokenLength) return std::optional<std::string>();
  const RefreshTokenLocation where = LocateRefreshToken(token, RefreshHandleKey(snapshot.session_key));
  std::optional<store::Grant> found;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = ReadRefreshToken(txn, where);  // NotFound for a revoked family too
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    found = std::move(g).value();
    return Status::OK();
  });
  if (!st.ok()) return st;
  if (!found.has_value() || found->kind != store::GrantKind::kRefreshToken || now >= found->expires) {
    return std::optional<std::string>();
  }
  const store::Grant& grant = *found;
  if (grant.client_id != caller.client->client_id) return std::optional<std::string>();
  if (grant.consumed_at.has_value()) return std::optional<std::string>();
  if (grant.absolute_expires.has_value() && now >= *grant.absolute_expires) return std::optional<std::string>();
  return std::optional<std::string>(ActiveRefreshTokenJson(config, grant));
}

}  // namespace

http::Response HandleIntrospectionRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                          const Clock& clock, store::Store* store, RequestLog* log) {
  FormPost post = ReadFormPost(request, catalog, config);
  if (!post.form.has_value()) return std::move(post.error);
  const Form& form = *post.form;
  const Snapshot& snapshot = *post.snapshot;
  const int64_t now = clock.NowSeconds();

  Caller caller;
  const ApiResourceAuthentication resource = AuthenticateApiResource(request, form, snapshot, now);
  if (resource.resource != nullptr) {
    caller.resource = resource.resource;
    log->client_id = SanitizeForLog(resource.resource->name);
  } else {
    const ClientAuthentication client = AuthenticateClient(request, form, snapshot, config, now);
    log->client_id = SanitizeForLog(!client.claimed_client_id.empty() ? client.claimed_client_id
                                                                      : resource.claimed_name);
    // One answer for every failure, including AuthenticateClient's 400s (two methods at once) and public clients.
    if (client.client == nullptr || client.client->IsPublic()) return InvalidClient(config);
    caller.client = client.client;
  }

  const std::string_view token = form.Get("token");
  if (token.empty()) return OAuthError(400, kInvalidRequest, "token is missing");

  // One set of rules for access tokens (shared with userinfo); handles that are not access tokens may be refresh
  // tokens. Handles are base64url (no '.'); a compact JWS always has two.
  Result<std::optional<std::string>> answer = std::optional<std::string>();
  Result<std::optional<ValidAccessToken>> access = ValidateAccessToken(token, snapshot, config, now, *store);
  if (!access.ok()) {
    answer = access.status();
  } else if (access->has_value()) {
    answer = IntrospectAccessToken(**access, caller);
  } else if (token.find('.') == std::string_view::npos) {
    answer = IntrospectRefreshToken(token, caller, snapshot, config, now, *store);
  }
  if (!answer.ok()) {
    return StoreFailureResponse("introspection", answer.status(), "the server cannot introspect tokens at the moment");
  }
  return JsonResponse(200, answer->has_value() ? std::move(**answer) : std::string(kInactive));
}

}  // namespace tf::oauth
