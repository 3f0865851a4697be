// Login sessions of the authorize endpoint and the CSRF protection of its login form. Stateless: a session is a
// signed cookie, so any worker can read one written by another; the key is the store's session key (Snapshot::
// session_key, 32 raw bytes, shared by every worker through LMDB).
//
// Session cookie  __Host-tf_session = "v1." base64url(payload) "." base64url(HMAC-SHA-256(key, "session\0" "v1."
//                 base64url(payload)))
//   payload  compact JSON {"sub":...,"tenant":...,"idp":...,"amr":[...],"auth_time":<unix>,"sid":...,"exp":<unix>,
//            "stamp":...}   (stamp: the user's SecurityStamp at the login, store/records.h; login_session.h refuses a
//            session whose stamp is no longer the user's)
//   attributes  Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=<exp - now>  (__Host- requires Secure, Path=/ and no
//               Domain, so no other host or path can plant or read it)
//   Readable by whoever holds the cookie (it is signed, not encrypted): it names the subject, never a secret.
//   DecodeSession refuses (nullopt): a wrong version prefix, bad base64url, a MAC mismatch (compared in constant
//   time), JSON that is not exactly this shape (missing or mistyped member, unknown member), exp <= now, auth_time in
//   the future (beyond now + 60 s), an empty sub or sid, and any value longer than 4096 bytes.
//
// CSRF (login form, double submit with a signed token):
//   the form's GET answer sets  __Host-tf_csrf = NewCsrfNonce()  (RandomHandle(16); Path=/; Secure; HttpOnly;
//   SameSite=Strict; no Max-Age: a browser-session cookie) and puts CsrfToken(key, nonce) in a hidden field;
//   the POST must carry both, and CheckCsrf(key, cookie nonce, form token) compares HMAC(key, "csrf\0" nonce) with
//   the token in constant time. An attacker's page can make the browser post the form but can neither read the
//   cookie nor compute the token.
//
// Cookie header parsing (FindCookie): RFC 6265 §4.2.1 "name=value; name2=value2"; the first cookie with exactly that
// name wins; surrounding spaces are trimmed; a value in double quotes has them removed. "" when absent.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tf::oauth {

inline constexpr std::string_view kSessionCookie = "__Host-tf_session";
inline constexpr std::string_view kCsrfCookie = "__Host-tf_csrf";

struct Session {
  std::string subject;             // the user's SubjectId
  std::string tenant;              // "" = none
  std::string idp;                 // login provider: "local" or "remote_user"
  std::vector<std::string> amr;    // e.g. {"pwd"}
  int64_t auth_time = 0;           // when the user authenticated (Unix seconds)
  std::string sid;                 // session id (RandomHandle(16)): the id_token's `sid`
  int64_t expires = 0;             // the cookie is dead at or after this instant
  std::string stamp;               // the user's SecurityStamp when the session started ("" = never moved)
};

std::string EncodeSession(const Session& session, std::string_view key);
std::optional<Session> DecodeSession(std::string_view cookie_value, std::string_view key, int64_t now);

// The Set-Cookie header value that stores `session` (Max-Age = expires - now, at least 0).
std::string SessionSetCookie(const Session& session, std::string_view key, int64_t now);
// The Set-Cookie header value that deletes the session cookie (Max-Age=0).
std::string ClearSessionSetCookie();

std::string NewCsrfNonce();
std::string CsrfToken(std::string_view key, std::string_view nonce);
bool CheckCsrf(std::string_view key, std::string_view cookie_nonce, std::string_view form_token);
// The Set-Cookie header value that stores a CSRF nonce.
std::string CsrfSetCookie(std::string_view nonce);

// The value of cookie `name` in an HTTP Cookie header ("" when absent).
std::string_view FindCookie(std::string_view cookie_header, std::string_view name);

}  // namespace tf::oauth
