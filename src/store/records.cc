// JSON (de)serialisation of the configuration records (see records.h for the format rules).
//
// Each record type is described once, by a table of fields: the PascalCase property name, how to decode a JSON value
// into the member and how to encode the member back. The same table drives FromJson (imports and stored records) and
// ToJson (storage), so the two directions cannot disagree about a name, and the order of the table is the order of
// the properties in a stored record.
#include "store/records.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <set>

#include "util/ascii.h"
#include "util/base64.h"
#include "util/cjson_ptr.h"
#include "util/crypto.h"
#include "util/timestamp.h"

namespace tf::store {
namespace {

using Unknown = std::vector<std::string>;

// Integers travel through cJSON as doubles; beyond 2^53 they are no longer exact.
constexpr double kMaxExactInteger = 9007199254740991.0;

std::string Join(std::string_view path, std::string_view name) {
  std::string p(path);
  if (!p.empty()) p += '.';
  p += name;
  return p;
}

std::string Index(std::string_view path, size_t i) { return std::string(path) + "[" + std::to_string(i) + "]"; }

Status Bad(std::string_view path, std::string_view what) {
  std::string m(path.empty() ? std::string_view("record") : path);
  m += ": ";
  m += what;
  return Status::InvalidArgument(std::move(m));
}


// ---- Decoders and encoders, one overload per member type ----------------------------------------------------------
// A decoder is never given a JSON null: null means "absent" and leaves the default in place.

Status Decode(const cJSON* v, const std::string& path, std::string* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, bool* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, int64_t* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, std::optional<int64_t>* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, std::vector<std::string>* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, std::map<std::string, std::string>* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, RefreshTokenUsage* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, TokenExpiration* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, AccessTokenType* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, KeyState* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, std::vector<Secret>* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, std::vector<ClaimValue>* out, Unknown* unknown);
Status Decode(const cJSON* v, const std::string& path, GrantKind* out, Unknown* unknown);

cJSON* Encode(const std::string& v);
cJSON* Encode(bool v);
cJSON* Encode(int64_t v);
cJSON* Encode(const std::optional<int64_t>& v);
cJSON* Encode(const std::vector<std::string>& v);
cJSON* Encode(const std::map<std::string, std::string>& v);
cJSON* Encode(RefreshTokenUsage v);
cJSON* Encode(TokenExpiration v);
cJSON* Encode(AccessTokenType v);
cJSON* Encode(KeyState v);
cJSON* Encode(const std::vector<Secret>& v);
cJSON* Encode(const std::vector<ClaimValue>& v);
cJSON* Encode(GrantKind v);

template <typename R>
struct Field {
  const char* name;
  std::function<Status(const cJSON*, const std::string&, R*, Unknown*)> decode;
  std::function<cJSON*(const R&)> encode;
};

// The common case: the member's type picks the decoder and encoder.
template <typename R, typename T>
Field<R> F(const char* name, T R::*member) {
  return {name,
          [member](const cJSON* v, const std::string& path, R* r, Unknown* unknown) {
            return Decode(v, path, &(r->*member), unknown);
          },
          [member](const R& r) { return Encode(r.*member); }};
}

// A point in time: a JSON number of Unix seconds, or a string in the grammar of util/timestamp.h; Unix seconds out.
template <typename R>
Field<R> Date(const char* name, std::optional<int64_t> R::*member) {
  return {name,
          [member](const cJSON* v, const std::string& path, R* r, Unknown*) -> Status {
            if (cJSON_IsNumber(v)) {
              const double d = v->valuedouble;
              if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= kMaxExactInteger) {
                r->*member = static_cast<int64_t>(d);
                return Status::OK();
              }
            } else if (cJSON_IsString(v)) {
              if (auto t = ParseTimestamp(v->valuestring)) {
                r->*member = *t;
                return Status::OK();
              }
            }
            return Bad(path, "expected an ISO-8601 UTC date (\"2030-01-01T00:00:00Z\") or Unix seconds");
          },
          [member](const R& r) { return Encode(r.*member); }};
}

// Decodes one JSON object into `out` through `fields`. Top-level records also accept "v" (the record version).
// Unknown property names go to `unknown` as paths; with unknown == nullptr they are errors.
template <typename R>
Status DecodeObject(const cJSON* json, const std::string& path, const std::vector<Field<R>>& fields, bool top_level,
                    R* out, Unknown* unknown) {
  if (!cJSON_IsObject(json)) return Bad(path, "expected an object");
  std::set<std::string_view> seen;
  for (const cJSON* item = json->child; item != nullptr; item = item->next) {
    const std::string_view name = item->string != nullptr ? item->string : "";
    const std::string p = Join(path, name);
    if (!seen.insert(name).second) return Bad(p, "duplicate property");
    if (top_level && name == "v") {
      if (!cJSON_IsNumber(item) || item->valuedouble != kRecordVersion) {
        return Bad(p, "unsupported record version (expected " + std::to_string(kRecordVersion) + ")");
      }
      continue;
    }
    const Field<R>* field = nullptr;
    for (const Field<R>& f : fields) {
      if (name == f.name) {
        field = &f;
        break;
      }
    }
    if (field == nullptr) {
      if (unknown == nullptr) return Bad(p, "unknown property");
      unknown->push_back(p);
      continue;
    }
    if (cJSON_IsNull(item)) continue;
    TF_RETURN_IF_ERROR(field->decode(item, p, out, unknown));
  }
  return Status::OK();
}

template <typename R>
cJSON* EncodeObject(const R& r, const std::vector<Field<R>>& fields, bool top_level) {
  cJSON* o = cJSON_CreateObject();
  if (o == nullptr) return nullptr;
  if (top_level) cJSON_AddItemToObject(o, "v", cJSON_CreateNumber(kRecordVersion));
  for (const Field<R>& f : fields) cJSON_AddItemToObject(o, f.name, f.encode(r));
  return o;
}

// Takes ownership of `o` (as EncodeObject returns it) and prints it compactly.
std::string PrintAndDelete(cJSON* o) {
  const CJsonPtr tree(o);
  std::string out;
  if (tree == nullptr) return out;
  char* text = cJSON_PrintUnformatted(tree.get());
  if (text != nullptr) out = text;
  cJSON_free(text);
  return out;
}

Status Decode(const cJSON* v, const std::string& path, std::string* out, Unknown*) {
  if (!cJSON_IsString(v) || v->valuestring == nullptr) return Bad(path, "expected a string");
  *out = v->valuestring;
  return Status::OK();
}

Status Decode(const cJSON* v, const std::string& path, bool* out, Unknown*) {
  if (!cJSON_IsBool(v)) return Bad(path, "expected true or false");
  *out = cJSON_IsTrue(v);
  return Status::OK();
}

Status Decode(const cJSON* v, const std::string& path, int64_t* out, Unknown*) {
  if (cJSON_IsNumber(v)) {
    const double d = v->valuedouble;
    if (std::isfinite(d) && d >= 0 && d <= kMaxExactInteger && std::floor(d) == d) {
      *out = static_cast<int64_t>(d);
      return Status::OK();
    }
  }
  return Bad(path, "expected a non-negative integer");
}

Status Decode(const cJSON* v, const std::string& path, std::optional<int64_t>* out, Unknown* unknown) {
  int64_t n = 0;
  TF_RETURN_IF_ERROR(Decode(v, path, &n, unknown));
  *out = n;
  return Status::OK();
}

Status Decode(const cJSON* v, const std::string& path, std::vector<std::string>* out, Unknown*) {
  if (!cJSON_IsArray(v)) return Bad(path, "expected an array of strings");
  out->clear();
  size_t i = 0;
  for (const cJSON* e = v->child; e != nullptr; e = e->next, ++i) {
    if (!cJSON_IsString(e) || e->valuestring == nullptr) return Bad(Index(path, i), "expected a string");
    out->emplace_back(e->valuestring);
  }
  return Status::OK();
}

Status Decode(const cJSON* v, const std::string& path, std::map<std::string, std::string>* out, Unknown*) {
  if (!cJSON_IsObject(v)) return Bad(path, "expected an object whose values are strings");
  out->clear();
  for (const cJSON* e = v->child; e != nullptr; e = e->next) {
    const std::string name = e->string != nullptr ? e->string : "";
    if (!cJSON_IsString(e) || e->valuestring == nullptr) return Bad(Join(path, name), "expected a string");
    if (!out->emplace(name, e->valuestring).second) return Bad(Join(path, name), "duplicate property");
  }
  return Status::OK();
}

// Enums: IdentityServer's names (any case, as .NET's binder accepts) or their numbers.
template <typename E, size_t N>
Status DecodeEnum(const cJSON* v, const std::string& path, const char* const (&names)[N], E* out) {
  if (cJSON_IsNumber(v)) {
    for (size_t i = 0; i < N; ++i) {
      if (v->valuedouble == static_cast<double>(i)) {
        *out = static_cast<E>(i);
        return Status::OK();
      }
    }
  } else if (cJSON_IsString(v) && v->valuestring != nullptr) {
    for (size_t i = 0; i < N; ++i) {
      if (EqualsIgnoreAsciiCase(v->valuestring, names[i])) {
        *out = static_cast<E>(i);
        return Status::OK();
      }
    }
  }
  std::string expected = "expected ";
  for (size_t i = 0; i < N; ++i) expected += std::string(names[i]) + ", ";
  for (size_t i = 0; i < N; ++i) expected += std::to_string(i) + (i + 2 < N ? ", " : i + 1 < N ? " or " : "");
  return Bad(path, expected);
}

constexpr const char* kRefreshTokenUsageNames[] = {"ReUse", "OneTimeOnly"};
constexpr const char* kTokenExpirationNames[] = {"Sliding", "Absolute"};
constexpr const char* kAccessTokenTypeNames[] = {"Jwt", "Reference"};

Status Decode(const cJSON* v, const std::string& path, RefreshTokenUsage* out, Unknown*) {
  return DecodeEnum(v, path, kRefreshTokenUsageNames, out);
}
Status Decode(const cJSON* v, const std::string& path, TokenExpiration* out, Unknown*) {
  return DecodeEnum(v, path, kTokenExpirationNames, out);
}
Status Decode(const cJSON* v, const std::string& path, AccessTokenType* out, Unknown*) {
  return DecodeEnum(v, path, kAccessTokenTypeNames, out);
}

Status Decode(const cJSON* v, const std::string& path, KeyState* out, Unknown*) {
  if (cJSON_IsString(v) && v->valuestring != nullptr) {
    for (KeyState s : {KeyState::kCurrent, KeyState::kNext, KeyState::kRetired}) {
      if (KeyStateName(s) == v->valuestring) {
        *out = s;
        return Status::OK();
      }
    }
  }
  return Bad(path, "expected \"current\", \"next\" or \"retired\"");
}

constexpr GrantKind kGrantKinds[] = {GrantKind::kAuthorizationCode, GrantKind::kRefreshToken,
                                     GrantKind::kReferenceToken, GrantKind::kDeviceCode,
                                     GrantKind::kUserCode,       GrantKind::kUserCodeThrottle,
                                     GrantKind::kConsent};

Status Decode(const cJSON* v, const std::string& path, GrantKind* out, Unknown*) {
  if (cJSON_IsString(v) && v->valuestring != nullptr) {
    for (GrantKind k : kGrantKinds) {
      if (GrantKindName(k) == v->valuestring) {
        *out = k;
        return Status::OK();
      }
    }
  }
  return Bad(path,
             "expected \"authorization_code\", \"refresh_token\", \"reference_token\", \"device_code\", "
             "\"user_code\", \"user_code_throttle\" or \"consent\"");
}

const std::vector<Field<Secret>>& SecretFields() {
  static const std::vector<Field<Secret>> fields = {
      F("Type", &Secret::type),
      F("Value", &Secret::value),
      F("Description", &Secret::description),
      Date("Expiration", &Secret::expiration),
  };
  return fields;
}

const std::vector<Field<ClaimValue>>& ClaimFields() {
  static const std::vector<Field<ClaimValue>> fields = {
      F("Type", &ClaimValue::type),
      F("Value", &ClaimValue::value),
      F("ValueType", &ClaimValue::value_type),
  };
  return fields;
}

Status Decode(const cJSON* v, const std::string& path, std::vector<Secret>* out, Unknown* unknown) {
  if (!cJSON_IsArray(v)) return Bad(path, "expected an array of secrets");
  out->clear();
  size_t i = 0;
  for (const cJSON* e = v->child; e != nullptr; e = e->next, ++i) {
    const std::string p = Index(path, i);
    Secret s;
    TF_RETURN_IF_ERROR(DecodeObject(e, p, SecretFields(), false, &s, unknown));
    if (s.value.empty()) return Bad(Join(p, "Value"), "required");
    out->push_back(std::move(s));
  }
  return Status::OK();
}

Status Decode(const cJSON* v, const std::string& path, std::vector<ClaimValue>* out, Unknown* unknown) {
  if (!cJSON_IsArray(v)) return Bad(path, "expected an array of claims");
  out->clear();
  size_t i = 0;
  for (const cJSON* e = v->child; e != nullptr; e = e->next, ++i) {
    const std::string p = Index(path, i);
    ClaimValue c;
    TF_RETURN_IF_ERROR(DecodeObject(e, p, ClaimFields(), false, &c, unknown));
    if (c.type.empty()) return Bad(Join(p, "Type"), "required");
    out->push_back(std::move(c));
  }
  return Status::OK();
}

cJSON* Encode(const std::string& v) { return cJSON_CreateString(v.c_str()); }
cJSON* Encode(bool v) { return cJSON_CreateBool(v ? 1 : 0); }
cJSON* Encode(int64_t v) { return cJSON_CreateNumber(static_cast<double>(v)); }
cJSON* Encode(const std::optional<int64_t>& v) { return v ? Encode(*v) : cJSON_CreateNull(); }
cJSON* Encode(const std::vector<std::string>& v) {
  cJSON* a = cJSON_CreateArray();
  if (a == nullptr) return nullptr;
  for (const std::string& s : v) cJSON_AddItemToArray(a, Encode(s));
  return a;
}
cJSON* Encode(const std::map<std::string, std::string>& v) {
  cJSON* o = cJSON_CreateObject();
  if (o == nullptr) return nullptr;
  for (const auto& [k, s] : v) cJSON_AddItemToObject(o, k.c_str(), Encode(s));
  return o;
}
cJSON* Encode(RefreshTokenUsage v) { return Encode(std::string(kRefreshTokenUsageNames[static_cast<int>(v)])); }
cJSON* Encode(TokenExpiration v) { return Encode(std::string(kTokenExpirationNames[static_cast<int>(v)])); }
cJSON* Encode(AccessTokenType v) { return Encode(std::string(kAccessTokenTypeNames[static_cast<int>(v)])); }
cJSON* Encode(GrantKind v) { return Encode(std::string(GrantKindName(v))); }
cJSON* Encode(KeyState v) { return Encode(std::string(KeyStateName(v))); }
cJSON* Encode(const std::vector<Secret>& v) {
  cJSON* a = cJSON_CreateArray();
  if (a == nullptr) return nullptr;
  for (const Secret& s : v) cJSON_AddItemToArray(a, EncodeObject(s, SecretFields(), false));
  return a;
}
cJSON* Encode(const std::vector<ClaimValue>& v) {
  cJSON* a = cJSON_CreateArray();
  if (a == nullptr) return nullptr;
  for (const ClaimValue& c : v) cJSON_AddItemToArray(a, EncodeObject(c, ClaimFields(), false));
  return a;
}

// ---- Field tables ---------------------------------------------------------------------------------------------------

const std::vector<Field<Client>>& ClientFields() {
  using C = Client;
  static const std::vector<Field<C>> fields = {
      F("ClientId", &C::client_id),
      F("ClientName", &C::client_name),
      F("Description", &C::description),
      F("ClientUri", &C::client_uri),
      F("LogoUri", &C::logo_uri),
      F("Enabled", &C::enabled),
      F("ProtocolType", &C::protocol_type),
      F("ClientSecrets", &C::client_secrets),
      F("RequireClientSecret", &C::require_client_secret),
      F("AllowedGrantTypes", &C::allowed_grant_types),
      F("RequirePkce", &C::require_pkce),
      F("AllowPlainTextPkce", &C::allow_plain_text_pkce),
      F("RequireRequestObject", &C::require_request_object),
      F("AllowAccessTokensViaBrowser", &C::allow_access_tokens_via_browser),
      F("RedirectUris", &C::redirect_uris),
      F("PostLogoutRedirectUris", &C::post_logout_redirect_uris),
      F("FrontChannelLogoutUri", &C::front_channel_logout_uri),
      F("FrontChannelLogoutSessionRequired", &C::front_channel_logout_session_required),
      F("BackChannelLogoutUri", &C::back_channel_logout_uri),
      F("BackChannelLogoutSessionRequired", &C::back_channel_logout_session_required),
      F("AllowOfflineAccess", &C::allow_offline_access),
      F("AllowedScopes", &C::allowed_scopes),
      F("AlwaysIncludeUserClaimsInIdToken", &C::always_include_user_claims_in_id_token),
      F("IdentityTokenLifetime", &C::identity_token_lifetime),
      F("AllowedIdentityTokenSigningAlgorithms", &C::allowed_identity_token_signing_algorithms),
      F("AccessTokenLifetime", &C::access_token_lifetime),
      F("AuthorizationCodeLifetime", &C::authorization_code_lifetime),
      F("AbsoluteRefreshTokenLifetime", &C::absolute_refresh_token_lifetime),
      F("SlidingRefreshTokenLifetime", &C::sliding_refresh_token_lifetime),
      F("ConsentLifetime", &C::consent_lifetime),
      F("RefreshTokenUsage", &C::refresh_token_usage),
      F("UpdateAccessTokenClaimsOnRefresh", &C::update_access_token_claims_on_refresh),
      F("RefreshTokenExpiration", &C::refresh_token_expiration),
      F("AccessTokenType", &C::access_token_type),
      F("EnableLocalLogin", &C::enable_local_login),
      F("IdentityProviderRestrictions", &C::identity_provider_restrictions),
      F("IncludeJwtId", &C::include_jwt_id),
      F("Claims", &C::claims),
      F("AlwaysSendClientClaims", &C::always_send_client_claims),
      F("ClientClaimsPrefix", &C::client_claims_prefix),
      F("PairWiseSubjectSalt", &C::pair_wise_subject_salt),
      F("UserSsoLifetime", &C::user_sso_lifetime),
      F("UserCodeType", &C::user_code_type),
      F("DeviceCodeLifetime", &C::device_code_lifetime),
      F("PollingInterval", &C::polling_interval),
      F("AllowedCorsOrigins", &C::allowed_cors_origins),
      F("RequireConsent", &C::require_consent),
      F("AllowRememberConsent", &C::allow_remember_consent),
      F("Properties", &C::properties),
  };
  return fields;
}

const std::vector<Field<ApiScope>>& ApiScopeFields() {
  using S = ApiScope;
  static const std::vector<Field<S>> fields = {
      F("Name", &S::name),
      F("DisplayName", &S::display_name),
      F("Description", &S::description),
      F("Enabled", &S::enabled),
      F("Required", &S::required),
      F("Emphasize", &S::emphasize),
      F("ShowInDiscoveryDocument", &S::show_in_discovery_document),
      F("UserClaims", &S::user_claims),
      F("Properties", &S::properties),
  };
  return fields;
}

const std::vector<Field<ApiResource>>& ApiResourceFields() {
  using A = ApiResource;
  static const std::vector<Field<A>> fields = {
      F("Name", &A::name),
      F("DisplayName", &A::display_name),
      F("Description", &A::description),
      F("Enabled", &A::enabled),
      F("ShowInDiscoveryDocument", &A::show_in_discovery_document),
      F("RequireResourceIndicator", &A::require_resource_indicator),
      F("Scopes", &A::scopes),
      F("ApiSecrets", &A::api_secrets),
      F("UserClaims", &A::user_claims),
      F("AllowedAccessTokenSigningAlgorithms", &A::allowed_access_token_signing_algorithms),
      F("Properties", &A::properties),
  };
  return fields;
}

const std::vector<Field<IdentityResource>>& IdentityResourceFields() {
  using I = IdentityResource;
  static const std::vector<Field<I>> fields = {
      F("Name", &I::name),
      F("DisplayName", &I::display_name),
      F("Description", &I::description),
      F("Enabled", &I::enabled),
      F("Required", &I::required),
      F("Emphasize", &I::emphasize),
      F("ShowInDiscoveryDocument", &I::show_in_discovery_document),
      F("UserClaims", &I::user_claims),
      F("Properties", &I::properties),
  };
  return fields;
}

const std::vector<Field<KeyRecord>>& KeyFields() {
  using K = KeyRecord;
  static const std::vector<Field<K>> fields = {
      F("Kid", &K::kid),
      F("Alg", &K::alg),
      F("State", &K::state),
      F("Created", &K::created),
      F("PrivateKeyPem", &K::private_pem),
  };
  return fields;
}

const std::vector<Field<User>>& UserFields() {
  using U = User;
  static const std::vector<Field<U>> fields = {
      F("SubjectId", &U::subject_id),
      F("Username", &U::username),
      F("Tenant", &U::tenant),
      F("IsActive", &U::is_active),
      F("PasswordHash", &U::password_hash),
      F("Claims", &U::claims),
      F("AccessFailedCount", &U::access_failed_count),
      Date("LockoutEnd", &U::lockout_end),
      Date("Created", &U::created),
      F("SecurityStamp", &U::security_stamp),
  };
  return fields;
}

// A grant's link to another grant (successor, predecessor, device_code_hash): a SHA-256 hash, 32 raw bytes in memory
// (`size`: the handle_check, a part of one) and base64url (no padding) on disk, so the record stays text; "" for none.
Field<Grant> HashLink(const char* name, std::string Grant::*member, size_t size = 32) {
  return {name,
          [member, size](const cJSON* v, const std::string& path, Grant* g, Unknown*) -> Status {
            if (!cJSON_IsString(v) || v->valuestring == nullptr) return Bad(path, "expected a string");
            const std::string_view text = v->valuestring;
            if (text.empty()) {
              (g->*member).clear();
              return Status::OK();
            }
            std::optional<std::string> raw = Base64UrlDecode(text);
            if (!raw.has_value() || raw->size() != size) {
              return Bad(path, "expected \"\" or base64url of " + std::to_string(size) + " bytes of a SHA-256 hash");
            }
            g->*member = std::move(*raw);
            return Status::OK();
          },
          [member](const Grant& g) { return Encode(Base64UrlEncode(g.*member)); }};
}

const std::vector<Field<Grant>>& GrantFields() {
  using G = Grant;
  static const std::vector<Field<G>> fields = {
      F("kind", &G::kind),
      F("client_id", &G::client_id),
      F("subject", &G::subject),
      F("scopes", &G::scopes),
      F("created", &G::created),
      F("expires", &G::expires),
      F("absolute_expires", &G::absolute_expires),
      F("family", &G::family),
      F("consumed_at", &G::consumed_at),
      HashLink("successor", &G::successor),
      F("auth_time", &G::auth_time),
      F("idp", &G::idp),
      F("amr", &G::amr),
      F("tenant", &G::tenant),
      F("acr", &G::acr),
      F("session_id", &G::session_id),
      F("claims", &G::claims),
      F("access_token_json", &G::access_token_json),
      F("redirect_uri", &G::redirect_uri),
      F("nonce", &G::nonce),
      F("code_challenge", &G::code_challenge),
      F("code_challenge_method", &G::code_challenge_method),
      HashLink("device_code_hash", &G::device_code_hash),
      F("decision", &G::decision),
      F("interval", &G::interval),
      F("last_poll", &G::last_poll),
      F("failures", &G::failures),
      F("locked_until", &G::locked_until),
      F("generation", &G::generation),
      HashLink("predecessor", &G::predecessor),
      HashLink("handle_check", &G::handle_check, kHandleCheckSize),
  };
  return fields;
}

const std::vector<Field<FamilyRevocation>>& FamilyRevocationFields() {
  using R = FamilyRevocation;
  static const std::vector<Field<R>> fields = {
      F("revoked_at", &R::revoked_at),
      F("keep_until", &R::keep_until),
  };
  return fields;
}

// Properties a stored record must have (present and not null).
Status RequireProperties(const cJSON* json, const std::string& path, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(json, name);
    if (item == nullptr || cJSON_IsNull(item)) return Bad(Join(path, name), "required");
  }
  return Status::OK();
}

uint32_t BigEndian32(std::string_view bytes, size_t pos) {
  uint32_t v = 0;
  for (size_t i = pos; i < pos + 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

// The shape of a password hash this build can verify (see records.h); the value itself is never echoed.
bool IsPasswordHashShape(std::string_view hash) {
  constexpr std::string_view kArgon2id = "$argon2id$";
  if (hash.substr(0, kArgon2id.size()) == kArgon2id) {
    // $argon2id$[v=NN$]m=..,t=..,p=..$salt$hash, salt and hash in unpadded base64.
    std::vector<std::string_view> segments;
    for (std::string_view rest = hash.substr(kArgon2id.size());;) {
      const size_t dollar = rest.find('$');
      segments.push_back(rest.substr(0, dollar));
      if (dollar == std::string_view::npos) break;
      rest.remove_prefix(dollar + 1);
    }
    if (!segments.empty() && segments.front().substr(0, 2) == "v=") segments.erase(segments.begin());
    if (segments.size() != 3 || segments[0].substr(0, 2) != "m=") return false;
    auto is_b64 = [](std::string_view s) {
      if (s.empty()) return false;
      for (char c : s) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/')) {
          return false;
        }
      }
      return true;
    };
    return is_b64(segments[1]) && is_b64(segments[2]);
  }
  const std::optional<std::string> raw = Base64Decode(hash);
  if (!raw.has_value() || raw->empty()) return false;
  constexpr size_t kMinSalt = 16, kMinSubkey = 16, kV3Header = 13;
  switch ((*raw)[0]) {
    case 0x00:  // v2: PBKDF2-HMAC-SHA1, 1000 iterations, 16-byte salt, 32-byte subkey
      return raw->size() == 1 + 16 + 32;
    case 0x01: {  // v3: prf, iterations, salt length (big-endian uint32), salt, subkey
      if (raw->size() < kV3Header + kMinSalt + kMinSubkey) return false;
      const uint64_t salt = BigEndian32(*raw, 9);
      return salt >= kMinSalt && kV3Header + salt + kMinSubkey <= raw->size();
    }
    default:
      return false;
  }
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// An identifier's rule (IdentifierProblem in records.h) as a Status naming `path`.
Status CheckIdentifier(std::string_view path, std::string_view value) {
  if (const char* problem = IdentifierProblem(value)) return Bad(path, problem);
  return Status::OK();
}

Status CheckIdentifiers(std::string_view path, const std::vector<std::string>& values) {
  for (size_t i = 0; i < values.size(); ++i) TF_RETURN_IF_ERROR(CheckIdentifier(Index(path, i), values[i]));
  return Status::OK();
}

// Records whose identity is a "Name" (the three resource kinds).
template <typename R>
Result<R> NamedFromJson(const cJSON* json, std::string_view path, const std::vector<Field<R>>& fields,
                        Unknown* unknown) {
  R r;
  const std::string p(path);
  TF_RETURN_IF_ERROR(DecodeObject(json, p, fields, true, &r, unknown));
  if (r.name.empty()) return Bad(Join(p, "Name"), "required");
  TF_RETURN_IF_ERROR(CheckIdentifier(Join(p, "Name"), r.name));
  return r;
}

}  // namespace

std::string_view KeyStateName(KeyState state) {
  switch (state) {
    case KeyState::kCurrent: return "current";
    case KeyState::kNext: return "next";
    case KeyState::kRetired: return "retired";
  }
  return "retired";
}

bool Client::AllowsGrantType(std::string_view grant_type) const {
  for (const std::string& g : allowed_grant_types) {
    if (g == grant_type) return true;
  }
  return false;
}

int64_t FamilyRevocationRetention(const std::vector<Client>& clients, int64_t clock_skew_seconds) {
  int64_t longest = 0;
  for (const Client& c : clients) longest = std::max(longest, c.access_token_lifetime);
  return longest + clock_skew_seconds;
}

Result<Client> ClientFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown) {
  Client c;
  const std::string p(path);
  TF_RETURN_IF_ERROR(DecodeObject(json, p, ClientFields(), true, &c, unknown));
  if (c.client_id.empty()) return Bad(Join(p, "ClientId"), "required");
  if (c.client_id.size() > kMaxClientIdLength) {
    return Bad(Join(p, "ClientId"), "longer than " + std::to_string(kMaxClientIdLength) + " characters");
  }
  TF_RETURN_IF_ERROR(CheckIdentifier(Join(p, "ClientId"), c.client_id));
  TF_RETURN_IF_ERROR(CheckIdentifiers(Join(p, "AllowedScopes"), c.allowed_scopes));
  return c;
}

Result<ApiScope> ApiScopeFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown) {
  return NamedFromJson(json, path, ApiScopeFields(), unknown);
}

Result<ApiResource> ApiResourceFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown) {
  Result<ApiResource> r = NamedFromJson(json, path, ApiResourceFields(), unknown);
  if (r.ok()) TF_RETURN_IF_ERROR(CheckIdentifiers(Join(path, "Scopes"), r->scopes));
  return r;
}

Result<IdentityResource> IdentityResourceFromJson(const cJSON* json, std::string_view path,
                                                  std::vector<std::string>* unknown) {
  return NamedFromJson(json, path, IdentityResourceFields(), unknown);
}

Result<KeyRecord> KeyRecordFromJson(const cJSON* json, std::string_view path) {
  KeyRecord k;
  const std::string p(path);
  TF_RETURN_IF_ERROR(DecodeObject(json, p, KeyFields(), true, &k, nullptr));
  if (k.kid.empty()) return Bad(Join(p, "Kid"), "required");
  if (k.alg.empty()) return Bad(Join(p, "Alg"), "required");
  if (k.private_pem.empty()) return Bad(Join(p, "PrivateKeyPem"), "required");
  return k;
}

const char* IdentifierProblem(std::string_view value) {
  size_t i = 0;
  while (i < value.size()) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == 0) return "contains a NUL character";
    if (c < 0x20 || c == 0x7F) return "contains a control character";
    if (c < 0x80) {
      ++i;
      continue;
    }
    // A UTF-8 sequence (RFC 3629): the lead byte gives its length and the range of its second byte, which excludes
    // overlong forms, surrogates and code points above U+10FFFF.
    size_t length = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return "is not valid UTF-8";
    }
    if (i + length > value.size()) return "is not valid UTF-8";
    for (size_t k = 1; k < length; ++k) {
      const unsigned char b = static_cast<unsigned char>(value[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return "is not valid UTF-8";
    }
    if (c == 0xC2 && static_cast<unsigned char>(value[i + 1]) <= 0x9F) return "contains a control character";  // C1
    i += length;
  }
  return nullptr;
}

std::optional<std::string> FindNulEscape(std::string_view json) {
  // The path of the innermost container at each level: an object's current member name, or an array's index.
  struct Level {
    bool array = false;
    size_t index = 0;
    std::string name;
  };
  std::vector<Level> stack;
  auto path = [&] {
    std::string out;
    for (const Level& l : stack) out = l.array ? Index(out, l.index) : Join(out, l.name);
    return out;
  };
  bool expecting_key = false;  // the next string in the current object is a member name
  size_t i = 0;
  while (i < json.size()) {
    const char c = json[i];
    if (c == '"') {
      std::string text;  // the member name as written (escapes kept); names are compared only for the path
      bool nul = false;
      for (++i; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\' && i + 1 < json.size()) {
          if (json[i + 1] == 'u' && json.substr(i + 2, 4) == "0000") nul = true;
          text += json[i];
          ++i;
        }
        text += json[i];
      }
      ++i;
      if (expecting_key && !stack.empty() && !stack.back().array) {
        stack.back().name = text;
        if (nul) return path();
        expecting_key = false;
      } else if (nul) {
        return path();
      }
      continue;
    }
    if (c == '{' || c == '[') {
      stack.push_back(Level{c == '[', 0, ""});
      expecting_key = c == '{';
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
      expecting_key = false;
    } else if (c == ',') {
      if (!stack.empty() && stack.back().array) ++stack.back().index;
      expecting_key = !stack.empty() && !stack.back().array;
    }
    ++i;
  }
  return std::nullopt;
}

std::string NormalizeUsername(std::string_view username) {
  std::string out(username);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status ValidateUser(const User& user, std::string_view path) {
  const std::string p(path);
  auto text = [&](const char* name, const std::string& value, size_t min, size_t max) -> Status {
    if (value.size() < min) return Bad(Join(p, name), "required");
    if (value.size() > max) return Bad(Join(p, name), "longer than " + std::to_string(max) + " characters");
    if (HasNul(value)) return Bad(Join(p, name), "contains a NUL character");
    return CheckIdentifier(Join(p, name), value);
  };
  TF_RETURN_IF_ERROR(text("SubjectId", user.subject_id, 1, kMaxSubjectIdLength));
  TF_RETURN_IF_ERROR(text("Username", user.username, 1, kMaxUsernameLength));
  TF_RETURN_IF_ERROR(text("Tenant", user.tenant, 0, kMaxTenantLength));
  if (!user.password_hash.empty() && !IsPasswordHashShape(user.password_hash)) {
    return Bad(Join(p, "PasswordHash"),
               "expected an Argon2id PHC string ($argon2id$...) or an ASP.NET Core Identity password hash (base64)");
  }
  if (user.access_failed_count < 0) return Bad(Join(p, "AccessFailedCount"), "expected a non-negative integer");
  return Status::OK();
}

Result<User> UserFromJson(const cJSON* json, std::string_view path, std::vector<std::string>* unknown) {
  User u;
  const std::string p(path);
  TF_RETURN_IF_ERROR(DecodeObject(json, p, UserFields(), true, &u, unknown));
  TF_RETURN_IF_ERROR(ValidateUser(u, p));
  return u;
}

std::string_view GrantKindName(GrantKind kind) {
  switch (kind) {
    case GrantKind::kAuthorizationCode: return "authorization_code";
    case GrantKind::kRefreshToken: return "refresh_token";
    case GrantKind::kReferenceToken: return "reference_token";
    case GrantKind::kDeviceCode: return "device_code";
    case GrantKind::kUserCode: return "user_code";
    case GrantKind::kUserCodeThrottle: return "user_code_throttle";
    case GrantKind::kConsent: return "consent";
  }
  return "refresh_token";
}

Status ValidateGrant(const Grant& grant) {
  if (grant.client_id.empty() && grant.kind != GrantKind::kUserCodeThrottle) return Bad("client_id", "required");
  if (grant.client_id.size() > kMaxClientIdLength) {
    return Bad("client_id", "longer than " + std::to_string(kMaxClientIdLength) + " characters");
  }
  if (grant.subject.size() > kMaxSubjectIdLength) {
    return Bad("subject", "longer than " + std::to_string(kMaxSubjectIdLength) + " characters");
  }
  if (grant.family.size() > kMaxFamilyIdLength) {
    return Bad("family", "longer than " + std::to_string(kMaxFamilyIdLength) + " characters");
  }
  if (HasNul(grant.family)) return Bad("family", "contains a NUL character");
  if (!grant.successor.empty() && grant.successor.size() != 32) {
    return Bad("successor", "expected a 32-byte SHA-256 hash");
  }
  if (!grant.predecessor.empty() && grant.predecessor.size() != 32) {
    return Bad("predecessor", "expected a 32-byte SHA-256 hash");
  }
  if (!grant.handle_check.empty() && grant.handle_check.size() != kHandleCheckSize) {
    return Bad("handle_check", "expected the first 16 bytes of a SHA-256 hash");
  }
  if (grant.generation < 0 || static_cast<double>(grant.generation) > kMaxExactInteger) {
    return Bad("generation", "expected a non-negative integer");
  }
  if (!grant.device_code_hash.empty() && grant.device_code_hash.size() != 32) {
    return Bad("device_code_hash", "expected a 32-byte SHA-256 hash");
  }
  if (!grant.decision.empty() && grant.decision != "approved" && grant.decision != "denied") {
    return Bad("decision", "expected \"\", \"approved\" or \"denied\"");
  }
  if (grant.interval < 0 || static_cast<double>(grant.interval) > kMaxExactInteger) {
    return Bad("interval", "expected a non-negative integer");
  }
  if (grant.failures < 0 || static_cast<double>(grant.failures) > kMaxExactInteger) {
    return Bad("failures", "expected a non-negative integer");
  }
  const std::pair<const char*, std::optional<int64_t>> times[] = {
      {"created", grant.created},         {"expires", grant.expires},    {"absolute_expires", grant.absolute_expires},
      {"consumed_at", grant.consumed_at}, {"auth_time", grant.auth_time},  {"last_poll", grant.last_poll},
      {"locked_until", grant.locked_until}};
  for (const auto& [name, t] : times) {
    if (t.has_value() && (*t < 0 || static_cast<double>(*t) > kMaxExactInteger)) {
      return Bad(name, "expected a non-negative integer");
    }
  }
  return Status::OK();
}

Result<Grant> GrantFromJson(const cJSON* json, std::string_view path) {
  Grant g;
  const std::string p(path);
  TF_RETURN_IF_ERROR(DecodeObject(json, p, GrantFields(), true, &g, nullptr));
  TF_RETURN_IF_ERROR(RequireProperties(json, p, {"kind", "client_id", "created", "expires"}));
  Status s = ValidateGrant(g);
  if (!s.ok() && !p.empty()) return Status::InvalidArgument(p + "." + s.message());
  TF_RETURN_IF_ERROR(s);
  return g;
}

Result<FamilyRevocation> FamilyRevocationFromJson(const cJSON* json, std::string_view path) {
  FamilyRevocation r;
  const std::string p(path);
  TF_RETURN_IF_ERROR(DecodeObject(json, p, FamilyRevocationFields(), true, &r, nullptr));
  TF_RETURN_IF_ERROR(RequireProperties(json, p, {"revoked_at", "keep_until"}));
  return r;
}

std::string FamilyKeyPrefix(std::string_view family) { return Sha256(family).substr(0, kFamilyKeyPrefixSize); }

std::string FamilyChainKey(std::string_view family, std::string_view data) {
  return FamilyKeyPrefix(family) + Sha256(data).substr(0, 32 - kFamilyKeyPrefixSize);
}

bool IsChainKey(std::string_view key, std::string_view family) {
  return !family.empty() && key.size() > kFamilyKeyPrefixSize &&
         key.substr(0, kFamilyKeyPrefixSize) == FamilyKeyPrefix(family);
}

std::string ToJson(const Grant& r) { return PrintAndDelete(EncodeObject(r, GrantFields(), true)); }

Grant ConsumedGrantTombstone(const Grant& consumed) {
  Grant t = consumed;
  t.scopes.clear();
  t.auth_time.reset();
  t.idp.clear();
  t.amr.clear();
  t.tenant.clear();
  t.acr.clear();
  t.session_id.clear();
  t.claims.clear();
  t.access_token_json.clear();
  t.redirect_uri.clear();
  t.nonce.clear();
  return t;
}

Grant RestoredFromSuccessor(const Grant& tombstone, const Grant& successor) {
  Grant g = successor;
  g.kind = tombstone.kind;
  g.client_id = tombstone.client_id;
  g.subject = tombstone.subject;
  g.created = tombstone.created;
  g.expires = tombstone.expires;
  g.absolute_expires = tombstone.absolute_expires;
  g.family = tombstone.family;
  g.consumed_at = tombstone.consumed_at;
  g.successor = tombstone.successor;
  g.generation = tombstone.generation;
  g.predecessor = tombstone.predecessor;
  g.handle_check = tombstone.handle_check;
  g.code_challenge = tombstone.code_challenge;
  g.code_challenge_method = tombstone.code_challenge_method;
  return g;
}

std::string ToTombstoneJson(const Grant& consumed) {
  cJSON* o = EncodeObject(ConsumedGrantTombstone(consumed), GrantFields(), true);
  if (o == nullptr) return std::string();
  // Properties at their default (null, "", []) are left out: GrantFromJson reads a missing property as its default.
  for (cJSON* item = o->child; item != nullptr;) {
    cJSON* next = item->next;
    const bool empty = cJSON_IsNull(item) || (cJSON_IsString(item) && item->valuestring[0] == '\0') ||
                       (cJSON_IsArray(item) && item->child == nullptr);
    if (empty) cJSON_Delete(cJSON_DetachItemViaPointer(o, item));
    item = next;
  }
  return PrintAndDelete(o);
}
std::string ToJson(const FamilyRevocation& r) {
  return PrintAndDelete(EncodeObject(r, FamilyRevocationFields(), true));
}

std::string ToJson(const Client& r) { return PrintAndDelete(EncodeObject(r, ClientFields(), true)); }
std::string ToJson(const ApiScope& r) { return PrintAndDelete(EncodeObject(r, ApiScopeFields(), true)); }
std::string ToJson(const ApiResource& r) { return PrintAndDelete(EncodeObject(r, ApiResourceFields(), true)); }
std::string ToJson(const IdentityResource& r) {
  return PrintAndDelete(EncodeObject(r, IdentityResourceFields(), true));
}
std::string ToJson(const KeyRecord& r) { return PrintAndDelete(EncodeObject(r, KeyFields(), true)); }
std::string ToJson(const User& r) { return PrintAndDelete(EncodeObject(r, UserFields(), true)); }

bool MatchesAnySecret(const std::vector<Secret>& secrets, std::string_view presented, int64_t now) {
  // As IdentityServer: an empty presented secret never matches, whatever is stored.
  if (presented.empty()) return false;
  // Both digests, always: the work must not tell a client with SHA-512 secrets (imported from IdentityServer) from
  // one with SHA-256 secrets or from an unknown client (checked against no secrets at all).
  const std::string sha256 = Sha256(presented);
  const std::string sha512 = Sha512(presented);
  // Every candidate is compared, and the results are combined without short-circuiting, so the time taken depends on
  // the number of stored secrets, not on the presented secret or on which one (if any) matched.
  bool matched = false;
  for (const Secret& s : secrets) {
    if (!EqualsIgnoreAsciiCase(s.type, "SharedSecret")) continue;
    if (s.expiration.has_value() && *s.expiration <= now) continue;
    const std::optional<std::string> stored = Base64Decode(s.value);
    if (!stored.has_value()) continue;
    bool equal = false;
    if (stored->size() == sha256.size()) {
      equal = ConstantTimeEquals(*stored, sha256);
    } else if (stored->size() == sha512.size()) {
      equal = ConstantTimeEquals(*stored, sha512);
    }
    matched = matched | equal;
  }
  return matched;
}

std::string HashSecret(std::string_view secret) { return Base64Encode(Sha256(secret)); }

std::optional<ClaimJsonType> ParseClaimValueType(std::string_view value_type) {
  static constexpr std::string_view kXmlSchema = "http://www.w3.org/2001/XMLSchema#";
  static const std::map<std::string_view, ClaimJsonType> kShort = {
      {"", ClaimJsonType::kString},         {"string", ClaimJsonType::kString}, {"boolean", ClaimJsonType::kBoolean},
      {"integer", ClaimJsonType::kInteger}, {"double", ClaimJsonType::kDouble}, {"json", ClaimJsonType::kJson}};
  static const std::map<std::string_view, ClaimJsonType> kXml = {
      {"string", ClaimJsonType::kString},      {"boolean", ClaimJsonType::kBoolean},
      {"integer", ClaimJsonType::kInteger},    {"int", ClaimJsonType::kInteger},
      {"integer32", ClaimJsonType::kInteger},  {"integer64", ClaimJsonType::kInteger},
      {"long", ClaimJsonType::kInteger},       {"uinteger32", ClaimJsonType::kInteger},
      {"uinteger64", ClaimJsonType::kInteger}, {"double", ClaimJsonType::kDouble},
      {"date", ClaimJsonType::kString},        {"dateTime", ClaimJsonType::kString},
      {"time", ClaimJsonType::kString},        {"anyURI", ClaimJsonType::kString}};
  const auto* table = &kShort;
  if (value_type.substr(0, kXmlSchema.size()) == kXmlSchema) {
    value_type.remove_prefix(kXmlSchema.size());
    table = &kXml;
  }
  const auto it = table->find(value_type);
  if (it == table->end()) return std::nullopt;
  return it->second;
}

ClaimJsonType ClaimValueJsonType(const ClaimValue& claim) {
  // OpenID Connect Core §5.1, Standard Claims.
  static const std::map<std::string_view, ClaimJsonType> kStandard = {
      {"sub", ClaimJsonType::kString},           {"name", ClaimJsonType::kString},
      {"given_name", ClaimJsonType::kString},    {"family_name", ClaimJsonType::kString},
      {"middle_name", ClaimJsonType::kString},   {"nickname", ClaimJsonType::kString},
      {"preferred_username", ClaimJsonType::kString}, {"profile", ClaimJsonType::kString},
      {"picture", ClaimJsonType::kString},       {"website", ClaimJsonType::kString},
      {"email", ClaimJsonType::kString},         {"email_verified", ClaimJsonType::kBoolean},
      {"gender", ClaimJsonType::kString},        {"birthdate", ClaimJsonType::kString},
      {"zoneinfo", ClaimJsonType::kString},      {"locale", ClaimJsonType::kString},
      {"phone_number", ClaimJsonType::kString},  {"phone_number_verified", ClaimJsonType::kBoolean},
      {"address", ClaimJsonType::kObject},       {"updated_at", ClaimJsonType::kInteger}};
  const auto standard = kStandard.find(claim.type);
  if (standard != kStandard.end()) return standard->second;
  return ParseClaimValueType(claim.value_type).value_or(ClaimJsonType::kString);
}

namespace {

// RFC 8259 §6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == s.size();
}

}  // namespace

Status CheckClaimValue(const ClaimValue& claim) {
  if (!ParseClaimValueType(claim.value_type).has_value()) {
    return Status::InvalidArgument("unknown ValueType '" + claim.value_type +
                                   "' (boolean, integer, double, json, string, or an XML Schema URI such as "
                                   "http://www.w3.org/2001/XMLSchema#boolean)");
  }
  const std::string& v = claim.value;
  switch (ClaimValueJsonType(claim)) {
    case ClaimJsonType::kString:
      return Status::OK();
    case ClaimJsonType::kBoolean:
      if (v == "true" || v == "false" || v == "True" || v == "False") return Status::OK();
      return Status::InvalidArgument("'" + claim.type + "' must be true or false");
    case ClaimJsonType::kInteger: {
      int64_t n = 0;
      const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (!v.empty() && ec == std::errc() && ptr == v.data() + v.size()) return Status::OK();
      return Status::InvalidArgument("'" + claim.type + "' must be a decimal integer");
    }
    case ClaimJsonType::kDouble:
      if (IsJsonNumber(v) && std::isfinite(std::strtod(v.c_str(), nullptr))) return Status::OK();
      return Status::InvalidArgument("'" + claim.type + "' must be a number");
    case ClaimJsonType::kJson:
    case ClaimJsonType::kObject: {
      const bool object = ClaimValueJsonType(claim) == ClaimJsonType::kObject;
      const char* end = nullptr;
      const CJsonPtr parsed(v.find('\0') == std::string::npos ? cJSON_ParseWithOpts(v.c_str(), &end, 1) : nullptr);
      const bool ok = parsed != nullptr && (!object || cJSON_IsObject(parsed.get()));
      if (ok) return Status::OK();
      return Status::InvalidArgument("'" + claim.type + "' must be " + (object ? "a JSON object" : "JSON text"));
    }
  }
  return Status::OK();
}

}  // namespace tf::store
