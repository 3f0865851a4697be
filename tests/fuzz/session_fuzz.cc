// libFuzzer target for the session cookie (oauth/session.h). The input is used two ways:
//   1. as a whole cookie value: DecodeSession must not crash, and (without the key) must refuse it;
//   2. as a payload that is signed correctly with the key, so the fuzzer reaches the strict JSON checks behind the
//      MAC: whatever DecodeSession accepts obeys session.h's rules, and encoding it again decodes to the same session.
// FindCookie and CheckCsrf get the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "oauth/session.h"
#include "util/base64.h"
#include "util/crypto.h"

namespace {

constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";  // 32 bytes, as the store's
constexpr int64_t kNow = 1700000000;

void CheckAccepted(const tf::oauth::Session& s) {
  if (s.subject.empty() || s.sid.empty()) abort();
  if (s.expires <= kNow || s.auth_time > kNow + 60) abort();
  const std::string again = tf::oauth::EncodeSession(s, kKey);
  // Escaping can make the cookie longer than the one accepted (a raw control byte becomes \u00XX); past the 4096-byte
  // cap DecodeSession refuses it, as it must. Real sessions are far below the cap (sub 200 bytes, tenant 100, ...).
  if (again.size() > 4096) return;
  const std::optional<tf::oauth::Session> back = tf::oauth::DecodeSession(again, kKey, kNow);
  if (!back || back->subject != s.subject || back->sid != s.sid || back->tenant != s.tenant || back->idp != s.idp ||
      back->amr != s.amr || back->auth_time != s.auth_time || back->expires != s.expires) {
    abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (tf::oauth::DecodeSession(input, kKey, kNow).has_value()) abort();  // a MAC cannot be guessed
  (void)tf::oauth::FindCookie(input, tf::oauth::kSessionCookie);
  if (tf::oauth::CheckCsrf(kKey, input, input)) abort();

  // The payload signed as EncodeSession signs: "v1." base64url(payload) "." base64url(HMAC(key, "session\0" ...)).
  const std::string signed_part = "v1." + tf::Base64UrlEncode(input);
  std::string mac_input("session\0", 8);
  mac_input += signed_part;
  const std::string cookie = signed_part + "." + tf::Base64UrlEncode(tf::HmacSha256(kKey, mac_input));
  const std::optional<tf::oauth::Session> session = tf::oauth::DecodeSession(cookie, kKey, kNow);
  if (session.has_value()) CheckAccepted(*session);
  return 0;
}
