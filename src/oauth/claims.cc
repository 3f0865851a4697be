#include "oauth/claims.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>

#include "oauth/request_log.h"
#include "util/cjson_ptr.h"
#include "util/log.h"

namespace tf::oauth {
bool IsReservedClaim(std::string_view name) {
  return std::find(std::begin(kReservedClaims), std::end(kReservedClaims), name) != std::end(kReservedClaims);
}

std::string ClaimValueJson(const store::ClaimValue& claim) {
  std::string out;
  // A value that does not fit its type (import refuses those; an older record may hold one) stays a string.
  if (store::CheckClaimValue(claim).ok()) {
    switch (store::ClaimValueJsonType(claim)) {
      case store::ClaimJsonType::kString:
        break;
      case store::ClaimJsonType::kBoolean:
        return claim.value == "true" || claim.value == "True" ? "true" : "false";
      case store::ClaimJsonType::kInteger: {
        int64_t v = 0;
        std::from_chars(claim.value.data(), claim.value.data() + claim.value.size(), v);
        return std::to_string(v);
      }
      case store::ClaimJsonType::kDouble:
        return claim.value;  // RFC 8259 number text, as checked
      case store::ClaimJsonType::kJson:
      case store::ClaimJsonType::kObject: {
        const CJsonPtr parsed(cJSON_Parse(claim.value.c_str()));
        char* printed = parsed != nullptr ? cJSON_PrintUnformatted(parsed.get()) : nullptr;
        if (printed != nullptr) out = printed;
        cJSON_free(printed);
        if (!out.empty()) return out;
        break;
      }
    }
  }
  AppendJsonString(out, claim.value);
  return out;
}

void WriteClaims(JsonWriter& w, std::string_view prefix, const std::vector<store::ClaimValue>& claims,
                 const std::vector<std::string>* types, std::set<std::string>& written) {
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::string>> values;
  for (const store::ClaimValue& c : claims) {
    if (c.type.empty()) continue;
    if (types != nullptr && std::find(types->begin(), types->end(), c.type) == types->end()) continue;
    std::string name = std::string(prefix) + c.type;
    if (IsReservedClaim(name) || written.count(name) != 0) {
      Logf(LogLevel::kDebug, "claim type '%s' skipped (reserved or already present)", SanitizeForLog(name).c_str());
      continue;
    }
    auto [it, inserted] = values.try_emplace(name);
    if (inserted) names.push_back(name);
    it->second.push_back(ClaimValueJson(c));
  }
  for (const std::string& name : names) {
    written.insert(name);
    const std::vector<std::string>& v = values[name];
    if (v.size() == 1) {
      w.Raw(name, v[0]);
      continue;
    }
    std::string array = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i != 0) array += ',';
      array += v[i];
    }
    array += ']';
    w.Raw(name, array);
  }
}

}  // namespace tf::oauth
