// Reading the small JSON documents this service itself wrote (token claims, stored reference token claims) with
// cJSON. JsonDocument owns a parsed tree and frees it; the accessors never throw and return
// nothing for a member of the wrong type.
//
// Thread-safety: a JsonDocument is used by one thread; the functions are pure.
#pragma once

#include <cjson/cJSON.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/cjson_ptr.h"

namespace tf {

// A parsed JSON document, freed on scope exit.
class JsonDocument {
 public:
  explicit JsonDocument(std::string_view text) : root_(cJSON_ParseWithLength(text.data(), text.size())) {}
  // The root when it is an object, else null.
  const cJSON* object() const { return cJSON_IsObject(root_.get()) ? root_.get() : nullptr; }

 private:
  CJsonPtr root_;
};

inline const cJSON* Member(const cJSON* object, const char* name) {
  return cJSON_GetObjectItemCaseSensitive(object, name);
}

// The member's text when it is a JSON string.
inline std::optional<std::string_view> StringMember(const cJSON* object, const char* name) {
  const cJSON* v = Member(object, name);
  if (!cJSON_IsString(v) || v->valuestring == nullptr) return std::nullopt;
  return std::string_view(v->valuestring);
}

// A NumericDate (RFC 7519 §2): a JSON number, fractions truncated. Absurd values (beyond 2^53) are not dates.
enum class DateMember { kAbsent, kInvalid, kPresent };
inline DateMember NumericDate(const cJSON* object, const char* name, int64_t* out) {
  const cJSON* v = Member(object, name);
  if (v == nullptr) return DateMember::kAbsent;
  if (!cJSON_IsNumber(v) || !std::isfinite(v->valuedouble) || std::fabs(v->valuedouble) > 9007199254740992.0) {
    return DateMember::kInvalid;
  }
  *out = static_cast<int64_t>(v->valuedouble);
  return DateMember::kPresent;
}

}  // namespace tf
