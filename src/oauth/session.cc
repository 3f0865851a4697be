// Session cookies and CSRF tokens (the layout and the rules are in session.h).
//
// Decoding order matters: the size cap, then the version prefix, then the MAC over the exact bytes received (checked
// before any JSON is parsed, so a forger never reaches the parser), then the strict shape of the payload, then time.
// Both MACs carry a purpose label ("session\0", "csrf\0") so a value minted for one use can never pass for the other.
#include "oauth/session.h"

#include <cjson/cJSON.h>

#include <cmath>
#include <iterator>
#include <string>

#include "util/base64.h"
#include "util/cjson_ptr.h"
#include "util/crypto.h"
#include "util/json_writer.h"
#include "util/utf8.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kVersionPrefix = "v1.";
constexpr std::string_view kSessionLabel{"session\0", 8};
constexpr std::string_view kCsrfLabel{"csrf\0", 5};
constexpr size_t kMaxCookieValue = 4096;
constexpr int64_t kAuthTimeLeeway = 60;      // auth_time may be this far ahead of our clock (another worker's clock)
constexpr double kMaxJsonInteger = 9007199254740992.0;  // 2^53: larger integers do not survive a JSON double

// "v1." base64url(payload): the part the MAC covers.
std::string SessionMac(std::string_view key, std::string_view signed_part) {
  std::string data(kSessionLabel);
  data += signed_part;
  return HmacSha256(key, data);
}

std::string CsrfMac(std::string_view key, std::string_view nonce) {
  std::string data(kCsrfLabel);
  data += nonce;
  return HmacSha256(key, data);
}

// A JSON string that is valid UTF-8: EncodeSession never writes anything else (JsonWriter replaces invalid bytes).
bool StringMember(const cJSON* item, std::string* out) {
  if (!cJSON_IsString(item) || item->valuestring == nullptr) return false;
  *out = item->valuestring;
  return IsValidUtf8(*out);
}

// A whole number in [0, 2^53], as JSON writes it (no fraction).
bool IntegerMember(const cJSON* item, int64_t* out) {
  if (!cJSON_IsNumber(item)) return false;
  const double d = item->valuedouble;
  if (!std::isfinite(d) || d < 0 || d > kMaxJsonInteger || std::floor(d) != d) return false;
  *out = static_cast<int64_t>(d);
  return true;
}

bool AmrMember(const cJSON* item, std::vector<std::string>* out) {
  if (!cJSON_IsArray(item)) return false;
  for (const cJSON* e = item->child; e != nullptr; e = e->next) {
    std::string s;
    if (!StringMember(e, &s)) return false;
    out->push_back(std::move(s));
  }
  return true;
}

// Exactly the eight members of session.h, each once, each of its type; nothing else.
constexpr std::string_view kMembers[] = {"sub", "tenant", "idp", "amr", "auth_time", "sid", "exp", "stamp"};
constexpr size_t kMemberCount = std::size(kMembers);

bool ParseMember(size_t index, const cJSON* item, Session* s) {
  switch (index) {
    case 0: return StringMember(item, &s->subject);
    case 1: return StringMember(item, &s->tenant);
    case 2: return StringMember(item, &s->idp);
    case 3: return AmrMember(item, &s->amr);
    case 4: return IntegerMember(item, &s->auth_time);
    case 5: return StringMember(item, &s->sid);
    case 6: return IntegerMember(item, &s->expires);
    case 7: return StringMember(item, &s->stamp);
    default: return false;
  }
}

std::optional<Session> SessionFromJson(const cJSON* root) {
  if (!cJSON_IsObject(root)) return std::nullopt;
  Session s;
  bool seen[kMemberCount] = {};
  for (const cJSON* m = root->child; m != nullptr; m = m->next) {
    if (m->string == nullptr) return std::nullopt;
    size_t index = 0;
    while (index < kMemberCount && kMembers[index] != m->string) ++index;
    if (index == kMemberCount) return std::nullopt;  // unknown member
    if (seen[index]) return std::nullopt;            // repeated member
    if (!ParseMember(index, m, &s)) return std::nullopt;  // mistyped member
    seen[index] = true;
  }
  for (bool b : seen) {
    if (!b) return std::nullopt;  // missing member
  }
  return s;
}

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string EncodeSession(const Session& session, std::string_view key) {
  JsonWriter w;
  w.String("sub", session.subject);
  w.String("tenant", session.tenant);
  w.String("idp", session.idp);
  w.StringArray("amr", session.amr);
  w.Int("auth_time", session.auth_time);
  w.String("sid", session.sid);
  w.Int("exp", session.expires);
  w.String("stamp", session.stamp);
  std::string value(kVersionPrefix);
  value += Base64UrlEncode(std::move(w).Finish());
  const std::string mac = SessionMac(key, value);
  value += '.';
  value += Base64UrlEncode(mac);
  return value;
}

std::optional<Session> DecodeSession(std::string_view cookie_value, std::string_view key, int64_t now) {
  if (key.empty() || cookie_value.size() > kMaxCookieValue) return std::nullopt;
  if (cookie_value.substr(0, kVersionPrefix.size()) != kVersionPrefix) return std::nullopt;
  const size_t dot = cookie_value.rfind('.');
  if (dot < kVersionPrefix.size()) return std::nullopt;  // only the version's own dot: no MAC part
  const std::string_view signed_part = cookie_value.substr(0, dot);
  const std::optional<std::string> mac = Base64UrlDecode(cookie_value.substr(dot + 1));
  if (!mac.has_value()) return std::nullopt;
  if (!ConstantTimeEquals(*mac, SessionMac(key, signed_part))) return std::nullopt;
  const std::optional<std::string> payload = Base64UrlDecode(signed_part.substr(kVersionPrefix.size()));
  if (!payload.has_value() || payload->empty()) return std::nullopt;
  const char* end = nullptr;
  const CJsonPtr root(cJSON_ParseWithLengthOpts(payload->data(), payload->size(), &end, false));
  if (root == nullptr) return std::nullopt;
  const bool whole = end == payload->data() + payload->size();  // nothing after the object
  std::optional<Session> session = whole ? SessionFromJson(root.get()) : std::nullopt;
  if (!session.has_value()) return std::nullopt;
  if (session->subject.empty() || session->sid.empty()) return std::nullopt;
  if (session->expires <= now) return std::nullopt;
  if (session->auth_time > now + kAuthTimeLeeway) return std::nullopt;
  return session;
}

std::string SessionSetCookie(const Session& session, std::string_view key, int64_t now) {
  const int64_t max_age = session.expires > now ? session.expires - now : 0;
  std::string h(kSessionCookie);
  h += '=';
  h += EncodeSession(session, key);
  h += "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=";
  h += std::to_string(max_age);
  return h;
}

std::string ClearSessionSetCookie() {
  std::string h(kSessionCookie);
  h += "=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0";
  return h;
}

std::string NewCsrfNonce() { return RandomHandle(16); }

std::string CsrfToken(std::string_view key, std::string_view nonce) { return Base64UrlEncode(CsrfMac(key, nonce)); }

bool CheckCsrf(std::string_view key, std::string_view cookie_nonce, std::string_view form_token) {
  if (key.empty() || cookie_nonce.empty() || form_token.empty() || cookie_nonce.size() > kMaxCookieValue) {
    return false;
  }
  const std::optional<std::string> token = Base64UrlDecode(form_token);
  if (!token.has_value()) return false;
  return ConstantTimeEquals(*token, CsrfMac(key, cookie_nonce));
}

std::string CsrfSetCookie(std::string_view nonce) {
  std::string h(kCsrfCookie);
  h += '=';
  h += nonce;
  h += "; Path=/; Secure; HttpOnly; SameSite=Strict";
  return h;
}

std::string_view FindCookie(std::string_view cookie_header, std::string_view name) {
  if (name.empty()) return {};
  size_t pos = 0;
  while (pos <= cookie_header.size()) {
    size_t end = cookie_header.find(';', pos);
    if (end == std::string_view::npos) end = cookie_header.size();
    const std::string_view pair = cookie_header.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;  // not a name=value pair
    if (TrimSpaces(pair.substr(0, eq)) != name) continue;
    std::string_view value = TrimSpaces(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return value;
  }
  return {};
}

}  // namespace tf::oauth
