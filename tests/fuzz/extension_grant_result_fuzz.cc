// libFuzzer target: a plug-in's result made of arbitrary bytes through ValidateExtensionGrantResult must not crash
// or read outside what the result names, and whatever it accepts obeys the header's rules (valid UTF-8 without NUL,
// the size limits, scopes from the request, no protocol claim, a known error code with an RFC 6749 description).
//
// Input layout: byte 0 selects the status (0 OK, 1 ERROR, else that value), byte 1 the lifetime (signed, x 60 s),
// and the rest is split at 0x1F into fields: subject, error, error_description, then alternating claim type/value
// up to 0x1E, then scopes. Every field is copied into its own allocation of exactly its size, so ASan sees any
// read past it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "oauth/claims.h"
#include "oauth/extension_grants.h"
#include "util/utf8.h"

namespace {

struct Field {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
  tf_string view() const { return tf_string{size == 0 ? nullptr : bytes.get(), size}; }
};

Field Copy(std::string_view s) {
  Field f;
  f.size = s.size();
  if (!s.empty()) {
    f.bytes.reset(new char[s.size()]);
    std::copy(s.begin(), s.end(), f.bytes.get());
  }
  return f;
}

bool CleanText(const std::string& s) { return s.find('\0') == std::string::npos && tf::IsValidUtf8(s); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos <= in.size()) {
    const size_t end = std::min(in.find('\x1F', pos), in.size());
    fields.push_back(in.substr(pos, end - pos));
    pos = end + 1;
  }
  std::vector<Field> owned;
  owned.reserve(fields.size());
  for (std::string_view f : fields) owned.push_back(Copy(f));

  tf_extension_grant_result r{};
  r.status = data[0] == 0 ? TF_EXTENSION_GRANT_OK : data[0] == 1 ? TF_EXTENSION_GRANT_ERROR : data[0];
  r.lifetime = static_cast<int8_t>(data[1]) * 60;
  size_t i = 0;
  if (i < owned.size()) r.subject = owned[i++].view();
  if (i < owned.size()) r.error = owned[i++].view();
  if (i < owned.size()) r.error_description = owned[i++].view();
  std::vector<tf_pair> claims;
  while (i + 1 < owned.size() && fields[i] != "\x1E") {
    claims.push_back({owned[i].view(), owned[i + 1].view()});
    i += 2;
  }
  if (i < owned.size() && fields[i] == "\x1E") ++i;
  std::vector<tf_string> scopes;
  for (; i < owned.size(); ++i) scopes.push_back(owned[i].view());
  r.claims = claims.empty() ? nullptr : claims.data();
  r.claim_count = claims.size();
  r.scopes = scopes.empty() ? nullptr : scopes.data();
  r.scope_count = scopes.size();

  const std::vector<std::string> requested = {"api1", "api2", "offline_access"};
  tf::Result<tf::oauth::ExtensionGrantOutcome> out = tf::oauth::ValidateExtensionGrantResult(r, requested, 3600);
  if (!out.ok()) return 0;
  if (out->ok) {
    if (out->subject.empty() || out->subject.size() > TF_EXTENSION_GRANT_MAX_SUBJECT || !CleanText(out->subject)) {
      abort();
    }
    if (out->claims.size() > TF_EXTENSION_GRANT_MAX_CLAIMS) abort();
    for (const auto& c : out->claims) {
      if (c.type.empty() || tf::oauth::IsReservedClaim(c.type) || !CleanText(c.type) || !CleanText(c.value)) abort();
    }
    if (out->scopes.empty()) abort();
    for (const std::string& s : out->scopes) {
      if (std::find(requested.begin(), requested.end(), s) == requested.end()) abort();
    }
    if (out->lifetime < 0 || out->lifetime > 3600) abort();
  } else {
    static const std::string_view kCodes[] = {"invalid_request", "invalid_grant", "unauthorized_client",
                                              "invalid_scope", "invalid_target"};
    if (std::find(std::begin(kCodes), std::end(kCodes), out->error) == std::end(kCodes)) abort();
    for (char c : out->error_description) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u > 0x7E || c == '"' || c == '\\') abort();
    }
  }
  return 0;
}
