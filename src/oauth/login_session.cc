#include "oauth/login_session.h"

#include "util/crypto.h"

namespace tf::oauth {

Result<std::optional<Session>> CurrentSession(store::Store& store, std::string_view cookie_header,
                                              std::string_view key, int64_t now) {
  const std::string_view cookie = FindCookie(cookie_header, kSessionCookie);
  if (cookie.empty()) return std::optional<Session>();
  std::optional<Session> session = DecodeSession(cookie, key, now);
  if (!session.has_value()) return std::optional<Session>();
  bool current = false;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<store::User> user = txn.GetUser(session->subject);
    if (!user.ok()) return user.status().IsNotFound() ? Status::OK() : user.status();
    current = user->is_active && user->tenant == session->tenant &&
              ConstantTimeEquals(user->security_stamp, session->stamp);
    return Status::OK();
  });
  if (!st.ok()) return st;
  if (!current) return std::optional<Session>();
  return session;
}

}  // namespace tf::oauth
