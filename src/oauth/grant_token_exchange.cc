// The token exchange grant (RFC 8693); the rules are in token_exchange.h.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "oauth/access_token.h"
#include "oauth/access_token_validation.h"
#include "oauth/claims.h"
#include "oauth/errors.h"
#include "oauth/grant.h"
#include "oauth/refresh_tokens.h"
#include "oauth/scopes.h"
#include "oauth/token_exchange.h"
#include "token/jws.h"
#include "util/ascii.h"
#include "util/json_reader.h"
#include "util/json_writer.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kBooleanValueType = "http://www.w3.org/2001/XMLSchema#boolean";
constexpr std::string_view kIntegerValueType = "http://www.w3.org/2001/XMLSchema#integer64";

// A subject or actor token after validation: what the new token takes from it.
struct PresentedToken {
  std::string subject;                          // sub
  std::string family;                           // grant family, "" = none
  std::vector<std::string> scopes;              // the scope claim's tokens (access tokens only)
  std::optional<ResourceOwner> resource_owner;  // when the token is a user's (it has auth_time)
  std::string act_json;                         // its act claim (an object), "" = none
};

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// One JSON claim value back into stored-claim form (claims.h's rules in reverse); false for objects and nulls.
bool AppendClaimValue(std::string_view type, const cJSON* v, std::vector<store::ClaimValue>* out) {
  if (cJSON_IsString(v) && v->valuestring != nullptr) {
    out->push_back({std::string(type), v->valuestring, ""});
  } else if (cJSON_IsBool(v)) {
    out->push_back({std::string(type), cJSON_IsTrue(v) ? "true" : "false", std::string(kBooleanValueType)});
  } else if (cJSON_IsNumber(v) && v->valuedouble == static_cast<double>(static_cast<int64_t>(v->valuedouble))) {
    out->push_back({std::string(type), std::to_string(static_cast<int64_t>(v->valuedouble)),
                    std::string(kIntegerValueType)});
  } else {
    return false;
  }
  return true;
}

// The user-related content of a token's claims: auth_time, idp, amr, tenant, acr and every non-protocol claim.
std::optional<ResourceOwner> ReadResourceOwner(const cJSON* claims) {
  int64_t auth_time = 0;
  if (NumericDate(claims, "auth_time", &auth_time) != DateMember::kPresent) return std::nullopt;
  ResourceOwner owner;
  owner.auth_time = auth_time;
  owner.idp = std::string(StringMember(claims, "idp").value_or(""));
  owner.tenant = std::string(StringMember(claims, "tenant").value_or(""));
  owner.acr = std::string(StringMember(claims, "acr").value_or(""));
  const cJSON* amr = Member(claims, "amr");
  const cJSON* item;
  if (cJSON_IsArray(amr)) {
    cJSON_ArrayForEach(item, amr) {
      if (cJSON_IsString(item) && item->valuestring != nullptr) owner.amr.emplace_back(item->valuestring);
    }
  }
  cJSON_ArrayForEach(item, claims) {
    if (item->string == nullptr || IsReservedClaim(item->string)) continue;
    if (cJSON_IsArray(item)) {
      const cJSON* element;
      cJSON_ArrayForEach(element, item) AppendClaimValue(item->string, element, &owner.claims);
    } else {
      AppendClaimValue(item->string, item, &owner.claims);
    }
  }
  return owner;
}

// The fields every presented token shares (sub, act, the resource owner); false if it has no sub.
bool ReadCommonClaims(const cJSON* claims, PresentedToken* out) {
  const std::optional<std::string_view> sub = StringMember(claims, "sub");
  if (!sub.has_value() || sub->empty()) return false;
  out->subject = std::string(*sub);
  const cJSON* act = Member(claims, "act");
  if (act != nullptr) {
    if (!cJSON_IsObject(act)) return false;
    char* text = cJSON_PrintUnformatted(act);
    if (text == nullptr) return false;
    out->act_json = text;
    cJSON_free(text);
  }
  out->resource_owner = ReadResourceOwner(claims);
  return true;
}

// An id_token of this service (token_exchange.h, step 3).
std::optional<PresentedToken> ValidateIdToken(std::string_view token, const Snapshot& snapshot, const Config& config,
                                              int64_t now) {
  std::optional<token::JwsParts> parts = token::SplitJws(token);
  if (!parts.has_value()) return std::nullopt;
  const JsonDocument header_doc(parts->header_json);
  const cJSON* header = header_doc.object();
  if (header == nullptr) return std::nullopt;
  const std::optional<std::string_view> alg_name = StringMember(header, "alg");
  const std::optional<std::string_view> kid = StringMember(header, "kid");
  const std::optional<std::string_view> typ = StringMember(header, "typ");
  if (!alg_name || !kid || !typ || !EqualsIgnoreAsciiCase(*typ, "JWT")) return std::nullopt;
  const std::optional<token::Alg> alg = token::ParseAlg(*alg_name);
  if (!alg.has_value()) return std::nullopt;
  const token::SigningKey* key = nullptr;
  for (const auto& k : snapshot.published_keys) {
    if (k->kid() == *kid && k->alg() == *alg) key = k.get();
  }
  if (key == nullptr || !key->Verify(parts->signing_input, parts->signature)) return std::nullopt;
  const JsonDocument payload_doc(parts->payload_json);
  const cJSON* claims = payload_doc.object();
  if (claims == nullptr) return std::nullopt;
  const std::optional<std::string_view> iss = StringMember(claims, "iss");
  if (!iss.has_value() || *iss != config.issuer) return std::nullopt;
  const int64_t skew = config.clock_skew_seconds;
  int64_t exp = 0, nbf = 0;
  if (NumericDate(claims, "exp", &exp) != DateMember::kPresent || now >= exp + skew) return std::nullopt;
  const DateMember nbf_member = NumericDate(claims, "nbf", &nbf);
  if (nbf_member == DateMember::kInvalid || (nbf_member == DateMember::kPresent && nbf > now + skew)) {
    return std::nullopt;
  }
  PresentedToken out;
  if (!ReadCommonClaims(claims, &out)) return std::nullopt;
  return out;
}

// A presented token of the given type, validated; nullopt when it is not valid. Only a store failure is an error.
Result<std::optional<PresentedToken>> ValidatePresentedToken(std::string_view token, std::string_view type,
                                                             const TokenRequest& request, int64_t now) {
  if (type == kIdTokenType) return ValidateIdToken(token, request.snapshot, request.config, now);
  Result<std::optional<ValidAccessToken>> valid =
      ValidateAccessToken(token, request.snapshot, request.config, now, *request.store);
  if (!valid.ok()) return valid.status();
  if (!valid->has_value()) return std::optional<PresentedToken>();
  const JsonDocument doc((*valid)->claims_json);
  const cJSON* claims = doc.object();
  PresentedToken out;
  if (claims == nullptr || !ReadCommonClaims(claims, &out)) return std::optional<PresentedToken>();
  out.family = std::move((*valid)->family);
  const cJSON* scope = Member(claims, "scope");
  if (cJSON_IsString(scope) && scope->valuestring != nullptr) {
    Result<std::vector<std::string>> tokens = SplitScopes(scope->valuestring);
    if (tokens.ok()) out.scopes = std::move(tokens).value();
  } else if (cJSON_IsArray(scope)) {
    const cJSON* s;
    cJSON_ArrayForEach(s, scope) {
      if (cJSON_IsString(s) && s->valuestring != nullptr) out.scopes.emplace_back(s->valuestring);
    }
  }
  return std::optional<PresentedToken>(std::move(out));
}

bool IsSupportedTokenType(std::string_view type) { return type == kAccessTokenType || type == kIdTokenType; }

// An enabled API scope the client may have.
bool ClientMayHaveApiScope(const Snapshot& snapshot, const store::Client& client, std::string_view name) {
  const store::ApiScope* s = snapshot.FindApiScope(name);
  return s != nullptr && s->enabled && Contains(client.allowed_scopes, name);
}

bool IsEnabledIdentityScope(const Snapshot& snapshot, std::string_view name) {
  const store::IdentityResource* r = snapshot.FindIdentityResource(name);
  return r != nullptr && r->enabled;
}

}  // namespace

http::Response HandleTokenExchange(const TokenRequest& request) {
  const store::Client& client = request.client;
  const Form& form = request.form;
  if (!client.AllowsGrantType(kTokenExchangeGrantType)) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed the token-exchange grant");
  }

  // Step 2: the parameters.
  const std::string_view subject_token = form.Get("subject_token");
  const std::string_view subject_token_type = form.Get("subject_token_type");
  const std::string_view actor_token = form.Get("actor_token");
  const std::string_view actor_token_type = form.Get("actor_token_type");
  const std::string_view requested_token_type = form.Get("requested_token_type");
  if (subject_token.empty()) return OAuthError(400, kInvalidRequest, "subject_token is missing");
  if (subject_token_type.empty()) return OAuthError(400, kInvalidRequest, "subject_token_type is missing");
  if (!IsSupportedTokenType(subject_token_type)) {
    return OAuthError(400, kInvalidRequest, "the subject_token_type is not supported");
  }
  if (!actor_token.empty() && actor_token_type.empty()) {
    return OAuthError(400, kInvalidRequest, "actor_token_type is missing");
  }
  if (actor_token.empty() && !actor_token_type.empty()) {
    return OAuthError(400, kInvalidRequest, "actor_token_type is given without an actor_token");
  }
  if (!actor_token.empty() && !IsSupportedTokenType(actor_token_type)) {
    return OAuthError(400, kInvalidRequest, "the actor_token_type is not supported");
  }
  std::string_view issued_token_type = kAccessTokenType;
  if (!requested_token_type.empty()) {
    if (requested_token_type != kAccessTokenType && requested_token_type != kJwtTokenType) {
      return OAuthError(400, kInvalidRequest, "the requested_token_type is not supported");
    }
    if (requested_token_type == kJwtTokenType && client.access_token_type == store::AccessTokenType::kReference) {
      return OAuthError(400, kInvalidRequest, "this client's access tokens are reference tokens, not JWTs");
    }
    issued_token_type = requested_token_type;
  }
  if (subject_token.size() > kMaxExchangedTokenLength) {
    return OAuthError(400, kInvalidRequest, "the subject_token is not valid");
  }
  if (actor_token.size() > kMaxExchangedTokenLength) {
    return OAuthError(400, kInvalidRequest, "the actor_token is not valid");
  }

  // Step 3: the tokens.
  const int64_t now = request.clock.NowSeconds();
  Result<std::optional<PresentedToken>> subject =
      ValidatePresentedToken(subject_token, subject_token_type, request, now);
  if (!subject.ok()) {
    return StoreFailureResponse("token exchange", subject.status(), "the server cannot check tokens at the moment");
  }
  if (!subject->has_value()) return OAuthError(400, kInvalidRequest, "the subject_token is not valid");
  PresentedToken& subj = **subject;
  std::string act_json = subj.act_json;
  if (!actor_token.empty()) {
    Result<std::optional<PresentedToken>> actor = ValidatePresentedToken(actor_token, actor_token_type, request, now);
    if (!actor.ok()) {
      return StoreFailureResponse("token exchange", actor.status(), "the server cannot check tokens at the moment");
    }
    if (!actor->has_value()) return OAuthError(400, kInvalidRequest, "the actor_token is not valid");
    JsonWriter act;
    act.String("sub", (*actor)->subject);
    if (!subj.act_json.empty()) act.Raw("act", subj.act_json);
    act_json = std::move(act).Finish();
  }
  const bool user = subj.resource_owner.has_value();

  // Step 4: the targets, and the API scopes the client may have in each.
  std::vector<std::string> target_scopes;
  bool targeted = false;
  for (const char* parameter : {"audience", "resource"}) {
    const std::string_view target = form.Get(parameter);
    if (target.empty()) continue;
    targeted = true;
    const store::ApiResource* resource = nullptr;
    for (const store::ApiResource& r : request.snapshot.api_resources) {
      if (r.enabled && r.name == target) resource = &r;
    }
    if (resource == nullptr) {
      return OAuthError(400, kInvalidTarget, std::string("the ") + parameter + " is not a known API resource");
    }
    bool reachable = false;
    for (const std::string& s : resource->scopes) {
      if (!ClientMayHaveApiScope(request.snapshot, client, s)) continue;
      reachable = true;
      if (!Contains(target_scopes, s)) target_scopes.push_back(s);
    }
    if (!reachable) {
      return OAuthError(400, kInvalidTarget, std::string("the client may not obtain tokens for the ") + parameter);
    }
  }

  // Step 5: the scopes.
  const std::string_view scope_parameter = form.Get("scope");
  if (scope_parameter.size() > kMaxScopeLength) {
    return OAuthError(400, kInvalidScope, "the scope parameter is too long");
  }
  Result<std::vector<std::string>> requested = SplitScopes(scope_parameter);
  if (!requested.ok()) return OAuthError(400, kInvalidScope, requested.status().message());
  std::vector<std::string> granted;
  if (!requested->empty()) {
    for (const std::string& s : *requested) {
      if (s == kOfflineAccess) {
        if (!client.allow_offline_access) {
          return OAuthError(400, kInvalidScope, "offline_access is not allowed for this client");
        }
        if (!user) return OAuthError(400, kInvalidScope, "offline_access needs a subject_token of a user");
        if (!act_json.empty()) {
          return OAuthError(400, kInvalidScope, "offline_access cannot be granted for a token that carries act");
        }
      } else if (IsEnabledIdentityScope(request.snapshot, s)) {
        if (!Contains(client.allowed_scopes, s)) {
          return OAuthError(400, kInvalidScope, "a requested scope is unknown or not allowed for this client");
        }
        if (!user) return OAuthError(400, kInvalidScope, "identity scopes need a subject_token of a user");
      } else if (ClientMayHaveApiScope(request.snapshot, client, s)) {
        if (targeted && !Contains(target_scopes, s)) {
          return OAuthError(400, kInvalidScope, "a requested scope is not a scope of the requested target");
        }
      } else {
        return OAuthError(400, kInvalidScope, "a requested scope is unknown or not allowed for this client");
      }
    }
    granted = std::move(requested).value();
  } else if (targeted) {
    granted = target_scopes;
  } else {
    for (const std::string& s : subj.scopes) {
      if (ClientMayHaveApiScope(request.snapshot, client, s) ||
          (user && IsEnabledIdentityScope(request.snapshot, s) && Contains(client.allowed_scopes, s))) {
        granted.push_back(s);
      }
    }
    if (granted.empty()) {
      return OAuthError(400, kInvalidScope, "the client may have none of the subject_token's scopes");
    }
  }

  AccessTokenRequest token_request;
  token_request.client = &client;
  token_request.subject = subj.subject;
  token_request.scopes = granted;
  token_request.include_client_claims = client.always_send_client_claims;
  token_request.resource_owner = subj.resource_owner;
  token_request.act_json = act_json;
  token_request.grant_id = subj.family;

  std::optional<NewGrant> refresh;
  if (Contains(granted, kOfflineAccess)) {
    store::Grant g =
        RefreshGrantFromResourceOwner(request.snapshot, client, subj.subject, granted, *subj.resource_owner);
    refresh = subj.family.empty() ? NewRefreshToken(request.snapshot, client, std::move(g), now)
                                  : NewRefreshTokenInFamily(request.snapshot, client, std::move(g), subj.family, now);
    token_request.grant_id = refresh->grant.family;
  }

  Result<IssuedAccessToken> token = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
  if (!token.ok()) {
    Logf(LogLevel::kError, "cannot issue an access token: %s", token.status().message().c_str());
    return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
  }
  token->issued_token_type = std::string(issued_token_type);
  return StoreNewGrantsAndRespond(*request.store, std::move(refresh), std::move(token).value(), "token exchange");
}

}  // namespace tf::oauth
