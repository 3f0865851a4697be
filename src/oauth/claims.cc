#include "oauth/claims.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>

#include "oauth/request_log.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsReservedClaim(std::string_view name) {
  return std::find(std::begin(kReservedClaims), std::end(kReservedClaims), name) != std::end(kReservedClaims);
}

std::string ClaimValueJson(const store::ClaimValue& claim) {
  std::string out;
  const std::string_view type = claim.value_type;
  if (EndsWith(type, "#boolean")) {
    if (claim.value == "true" || claim.value == "True") return "true";
    if (claim.value == "false" || claim.value == "False") return "false";
  } else if (EndsWith(type, "#integer") || EndsWith(type, "#int") || EndsWith(type, "#integer32") ||
             EndsWith(type, "#integer64") || EndsWith(type, "#long")) {
    int64_t v = 0;
    const char* first = claim.value.data();
    const char* last = first + claim.value.size();
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc() && ptr == last && !claim.value.empty()) return std::to_string(v);
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
