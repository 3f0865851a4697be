#include "oauth/introspection.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <optional>
#include <string>

#include "oauth/api_resource_authentication.h"
#include "oauth/client_authentication.h"
#include "oauth/errors.h"
#include "oauth/form_post.h"
#include "oauth/json_writer.h"
#include "oauth/request_log.h"
#include "token/jws.h"
#include "util/ascii.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kInactive = R"({"active":false})";

// Who asked: exactly one of the two is set.
struct Caller {
  const store::ApiResource* resource = nullptr;
  const store::Client* client = nullptr;
};

// A parsed JSON document, freed on scope exit.
class JsonDocument {
 public:
  explicit JsonDocument(std::string_view text) : root_(cJSON_ParseWithLength(text.data(), text.size())) {}
  ~JsonDocument() { cJSON_Delete(root_); }
  JsonDocument(const JsonDocument&) = delete;
  JsonDocument& operator=(const JsonDocument&) = delete;
  // The root when it is an object, else null.
  const cJSON* object() const { return cJSON_IsObject(root_) ? root_ : nullptr; }

 private:
  cJSON* root_;
};

const cJSON* Member(const cJSON* object, const char* name) { return cJSON_GetObjectItemCaseSensitive(object, name); }

// The member's text when it is a JSON string.
std::optional<std::string_view> StringMember(const cJSON* object, const char* name) {
  const cJSON* v = Member(object, name);
  if (!cJSON_IsString(v) || v->valuestring == nullptr) return std::nullopt;
  return std::string_view(v->valuestring);
}

// A NumericDate (RFC 7519 §2): a JSON number, fractions truncated. Absurd values (beyond 2^53) are not dates.
enum class DateMember { kAbsent, kInvalid, kPresent };
DateMember NumericDate(const cJSON* object, const char* name, int64_t* out) {
  const cJSON* v = Member(object, name);
  if (v == nullptr) return DateMember::kAbsent;
  if (!cJSON_IsNumber(v) || !std::isfinite(v->valuedouble) || std::fabs(v->valuedouble) > 9007199254740992.0) {
    return DateMember::kInvalid;
  }
  *out = static_cast<int64_t>(v->valuedouble);
  return DateMember::kPresent;
}


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

// Whether the family has a revocation record (Read transaction).
Result<bool> FamilyRevoked(store::Store& store, std::string_view family) {
  bool revoked = false;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<std::optional<store::FamilyRevocation>> r = txn.GetFamilyRevocation(family);
    if (!r.ok()) return r.status();
    revoked = r->has_value();
    return Status::OK();
  });
  if (!st.ok()) return st;
  return revoked;
}

// The answer for a compact JWS: the active JSON, or nullopt for inactive. Store errors only for the family check.
Result<std::optional<std::string>> IntrospectJwt(std::string_view token, const Caller& caller,
                                                 const Snapshot& snapshot, const Config& config, int64_t now,
                                                 store::Store& store) {
  const std::optional<token::JwsParts> parts = token::SplitJws(token);
  if (!parts.has_value()) return std::optional<std::string>();
  const JsonDocument header_doc(parts->header_json);
  const cJSON* header = header_doc.object();
  if (header == nullptr) return std::optional<std::string>();
  const std::optional<std::string_view> alg_name = StringMember(header, "alg");
  const std::optional<std::string_view> kid = StringMember(header, "kid");
  const std::optional<std::string_view> typ = StringMember(header, "typ");
  if (!alg_name || !kid || !typ) return std::optional<std::string>();
  if (!EqualsIgnoreAsciiCase(*typ, "at+jwt") && !EqualsIgnoreAsciiCase(*typ, "application/at+jwt")) {
    return std::optional<std::string>();
  }
  const std::optional<token::Alg> alg = token::ParseAlg(*alg_name);
  if (!alg.has_value()) return std::optional<std::string>();
  const token::SigningKey* key = nullptr;
  for (const auto& k : snapshot.published_keys) {
    if (k->kid() == *kid && k->alg() == *alg) {
      key = k.get();
      break;
    }
  }
  if (key == nullptr || !key->Verify(parts->signing_input, parts->signature)) return std::optional<std::string>();

  const JsonDocument payload_doc(parts->payload_json);
  const cJSON* claims = payload_doc.object();
  if (claims == nullptr) return std::optional<std::string>();
  const std::optional<std::string_view> iss = StringMember(claims, "iss");
  if (!iss.has_value() || *iss != config.issuer) return std::optional<std::string>();
  const int64_t skew = config.clock_skew_seconds;
  int64_t exp = 0, nbf = 0;
  if (NumericDate(claims, "exp", &exp) != DateMember::kPresent || now >= exp + skew) {
    return std::optional<std::string>();
  }
  switch (NumericDate(claims, "nbf", &nbf)) {
    case DateMember::kAbsent:
      break;
    case DateMember::kInvalid:
      return std::optional<std::string>();
    case DateMember::kPresent:
      if (nbf > now + skew) return std::optional<std::string>();
      break;
  }
  if (!AccessTokenVisibleTo(caller, claims)) return std::optional<std::string>();

  const cJSON* grant_id = Member(claims, std::string(kGrantIdClaim).c_str());
  if (grant_id != nullptr) {
    if (!cJSON_IsString(grant_id) || grant_id->valuestring == nullptr || grant_id->valuestring[0] == '\0') {
      return std::optional<std::string>();
    }
    Result<bool> revoked = FamilyRevoked(store, grant_id->valuestring);
    if (!revoked.ok()) return revoked.status();
    if (*revoked) return std::optional<std::string>();
  }
  return std::optional<std::string>(ActiveAccessTokenJson(claims));
}

// The answer for an opaque handle (reference access token or refresh token).
Result<std::optional<std::string>> IntrospectHandle(std::string_view token, const Caller& caller,
                                                    const Config& config, int64_t now, store::Store& store) {
  const std::string handle_hash = Sha256(token);
  std::optional<store::Grant> grant;
  bool family_revoked = false;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = txn.GetGrant(handle_hash);
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    grant = std::move(g).value();
    Result<std::optional<store::FamilyRevocation>> r = txn.GetFamilyRevocation(grant->family);
    if (!r.ok()) return r.status();
    family_revoked = r->has_value();
    return Status::OK();
  });
  if (!st.ok()) return st;
  if (!grant.has_value() || family_revoked || now >= grant->expires) return std::optional<std::string>();

  switch (grant->kind) {
    case store::GrantKind::kReferenceToken: {
      const JsonDocument doc(grant->access_token_json);
      const cJSON* claims = doc.object();
      if (claims == nullptr) {
        Logf(LogLevel::kError, "introspection: a reference token of client %s has unreadable claims",
             SanitizeForLog(grant->client_id).c_str());
        return std::optional<std::string>();
      }
      if (caller.client != nullptr && grant->client_id != caller.client->client_id) {
        return std::optional<std::string>();
      }
      if (!AccessTokenVisibleTo(caller, claims)) return std::optional<std::string>();
      return std::optional<std::string>(ActiveAccessTokenJson(claims));
    }
    case store::GrantKind::kRefreshToken:
      if (caller.client == nullptr || grant->client_id != caller.client->client_id) {
        return std::optional<std::string>();
      }
      if (grant->consumed_at.has_value()) return std::optional<std::string>();
      if (grant->absolute_expires.has_value() && now >= *grant->absolute_expires) {
        return std::optional<std::string>();
      }
      return std::optional<std::string>(ActiveRefreshTokenJson(config, *grant));
    case store::GrantKind::kAuthorizationCode:
    case store::GrantKind::kDeviceCode:
      break;
  }
  return std::optional<std::string>();
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

  // Handles are base64url (no '.'); a compact JWS always has two.
  Result<std::optional<std::string>> answer =
      token.find('.') != std::string_view::npos ? IntrospectJwt(token, caller, snapshot, config, now, *store)
                                                : IntrospectHandle(token, caller, config, now, *store);
  if (!answer.ok()) {
    Logf(LogLevel::kError, "introspection: the store failed: %s", answer.status().ToString().c_str());
    return OAuthError(500, kServerError, "the server cannot introspect tokens at the moment");
  }
  return JsonResponse(200, answer->has_value() ? std::move(**answer) : std::string(kInactive));
}

}  // namespace tf::oauth
