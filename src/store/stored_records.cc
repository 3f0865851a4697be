#include "store/stored_records.h"

#include <cjson/cJSON.h>

#include <vector>

#include "store/grant_encoding.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/cjson_ptr.h"
#include "util/log.h"

namespace tf::store {
namespace {

constexpr size_t kMaxQuotedKeyLength = 200;  // of a key shown in an error message

// Parses a stored record; anything unexpected is corruption of that key.
template <typename R, typename Parse>
Result<R> ParseStored(const char* db, std::string_view key, std::string_view value, Parse parse) {
  const std::string where = std::string(db) + " " + Printable(key) + ": ";
  const CJsonPtr json(cJSON_ParseWithLength(value.data(), value.size()));
  if (json == nullptr) return Status::Corruption(where + "stored record is not JSON");
  std::vector<std::string> unknown;
  Result<R> r = parse(json.get(), &unknown);
  if (!r.ok()) return Status::Corruption(where + r.status().message());
  if (!unknown.empty()) return Status::Corruption(where + "unknown property " + unknown.front());
  return r;
}

// `json` if it reads back with `parse`, else parse's error: a record that cannot be parsed is never stored.
template <typename Parse>
Result<std::string> ReadsBack(std::string json, Parse parse) {
  const CJsonPtr parsed(cJSON_ParseWithLength(json.data(), json.size()));
  if (parsed == nullptr) return Status::Internal("record did not serialise to JSON");
  std::vector<std::string> unknown;
  TF_RETURN_IF_ERROR(parse(parsed.get(), &unknown).status());
  return json;
}

}  // namespace

std::string Printable(std::string_view key) {
  std::string out = "'";
  if (!key.empty()) out += SanitizeForLog(key, kMaxQuotedKeyLength, Blanks::kKeep);
  out += "'";
  return out;
}

Result<Client> ParseClient(std::string_view key, std::string_view value) {
  return ParseStored<Client>("clients", key, value,
                             [](const cJSON* j, std::vector<std::string>* u) { return ClientFromJson(j, "", u); });
}
Result<ApiScope> ParseApiScope(std::string_view key, std::string_view value) {
  return ParseStored<ApiScope>("resources", key, value,
                               [](const cJSON* j, std::vector<std::string>* u) { return ApiScopeFromJson(j, "", u); });
}
Result<ApiResource> ParseApiResource(std::string_view key, std::string_view value) {
  return ParseStored<ApiResource>("resources", key, value, [](const cJSON* j, std::vector<std::string>* u) {
    return ApiResourceFromJson(j, "", u);
  });
}
Result<IdentityResource> ParseIdentityResource(std::string_view key, std::string_view value) {
  return ParseStored<IdentityResource>("resources", key, value, [](const cJSON* j, std::vector<std::string>* u) {
    return IdentityResourceFromJson(j, "", u);
  });
}
Result<KeyRecord> ParseKey(std::string_view key, std::string_view value) {
  return ParseStored<KeyRecord>("keys", key, value,
                                [](const cJSON* j, std::vector<std::string>*) { return KeyRecordFromJson(j, ""); });
}
Result<User> ParseUser(std::string_view key, std::string_view value) {
  return ParseStored<User>("users", key, value,
                           [](const cJSON* j, std::vector<std::string>* u) { return UserFromJson(j, "", u); });
}
Result<Grant> ParseGrant(std::string_view hash, std::string_view value) {
  Result<Grant> grant = DecodeGrant(value);
  if (!grant.ok()) return Status::Corruption("grants " + Base64UrlEncode(hash) + ": " + grant.status().message());
  return grant;
}
Result<FamilyRevocation> ParseRevocation(std::string_view family, std::string_view value) {
  return ParseStored<FamilyRevocation>("revocations", family, value, [](const cJSON* j, std::vector<std::string>*) {
    return FamilyRevocationFromJson(j, "");
  });
}

Result<std::optional<FamilyRevocation>> StoredRevocation(std::string_view family,
                                                         const Result<std::optional<std::string>>& value) {
  if (!value.ok()) return value.status();
  if (!value->has_value()) return std::optional<FamilyRevocation>();
  Result<FamilyRevocation> r = ParseRevocation(family, **value);
  if (!r.ok()) return r.status();
  return std::optional<FamilyRevocation>(*r);
}

Result<std::string> EncodeClient(const Client& client) {
  return ReadsBack(ToJson(client),
                   [](const cJSON* j, std::vector<std::string>* u) { return ClientFromJson(j, "", u); });
}
Result<std::string> EncodeApiScope(const ApiScope& scope) {
  return ReadsBack(ToJson(scope),
                   [](const cJSON* j, std::vector<std::string>* u) { return ApiScopeFromJson(j, "", u); });
}
Result<std::string> EncodeApiResource(const ApiResource& resource) {
  return ReadsBack(ToJson(resource),
                   [](const cJSON* j, std::vector<std::string>* u) { return ApiResourceFromJson(j, "", u); });
}
Result<std::string> EncodeIdentityResource(const IdentityResource& resource) {
  return ReadsBack(ToJson(resource),
                   [](const cJSON* j, std::vector<std::string>* u) { return IdentityResourceFromJson(j, "", u); });
}
Result<std::string> EncodeKey(const KeyRecord& key) {
  return ReadsBack(ToJson(key), [](const cJSON* j, std::vector<std::string>*) { return KeyRecordFromJson(j, ""); });
}
Result<std::string> EncodeUser(const User& user) {
  return ReadsBack(ToJson(user), [](const cJSON* j, std::vector<std::string>* u) { return UserFromJson(j, "", u); });
}
std::string EncodeStoredGrant(const Grant& grant) {
  return EncodeGrant(grant.consumed_at.has_value() ? ConsumedGrantTombstone(grant) : grant);
}
std::string EncodeRevocation(const FamilyRevocation& revocation) { return ToJson(revocation); }

Result<std::string> StoredSessionKey(Result<std::optional<std::string>> value) {
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return Status::NotFound("meta 'session_key' not found: a writable open of the store creates it");
  }
  if ((*value)->size() < kSessionKeySize || (*value)->size() > kMaxSessionKeyValueSize) {
    return Status::Corruption("meta 'session_key': expected " + std::to_string(kSessionKeySize) + " to " +
                              std::to_string(kMaxSessionKeyValueSize) + " bytes, found " +
                              std::to_string((*value)->size()));
  }
  return std::move(**value);
}

Status CheckSessionKey(std::string_view key) {
  if (key.size() >= kSessionKeySize && key.size() <= kMaxSessionKeyValueSize) return Status::OK();
  return Status::InvalidArgument("session key: expected " + std::to_string(kSessionKeySize) + " to " +
                                 std::to_string(kMaxSessionKeyValueSize) + " bytes, got " + std::to_string(key.size()));
}

Result<uint64_t> ParseGeneration(std::string_view v) {
  if (v.empty() || v.size() > 19) return Status::Corruption("meta 'config_generation': not a decimal counter");
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return Status::Corruption("meta 'config_generation': not a decimal counter");
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

Status CheckHandleHash(std::string_view hash) {
  if (hash.size() != kHandleHashSize) return Status::InvalidArgument("handle hash: expected 32 bytes (SHA-256)");
  return Status::OK();
}

bool CanBeFamily(std::string_view family) {
  return !family.empty() && family.size() <= kMaxFamilyIdLength && family.find('\0') == std::string_view::npos;
}

bool CanBeUsername(std::string_view tenant, std::string_view username) {
  return !username.empty() && username.size() <= kMaxUsernameLength && tenant.size() <= kMaxTenantLength &&
         username.find('\0') == std::string_view::npos && tenant.find('\0') == std::string_view::npos;
}

std::string InTenant(std::string_view tenant) {
  return tenant.empty() ? std::string(" (no tenant)") : " in tenant " + Printable(tenant);
}

}  // namespace tf::store
