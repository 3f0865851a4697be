// The one check of a login session, for every endpoint that accepts the session cookie instead of a fresh login: the
// authorize endpoint (with an existing session, prompt=none included), the device verification page, end session.
//
// CurrentSession(store, cookie_header, key, now) is the session of the request's __Host-tf_session cookie when
//   - it decodes (session.h: signed with `key`, unexpired, well formed), and
//   - its user still exists, is active (IsActive), is still in the session's tenant, and still has the security
//     stamp the session carries (store/records.h: `tokenctl user passwd`, `user disable`, `grants revoke --subject`
//     and `session revoke --subject` move it, so every session started before ends at its next use),
// read in one transaction; nullopt otherwise. Only a store failure is an error. Whatever a caller adds (the provider,
// the requested tenant, max_age) comes on top of this, never instead of it.
//
// Thread-safety: safe from many threads (the store is).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "oauth/session.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

Result<std::optional<Session>> CurrentSession(store::Store& store, std::string_view cookie_header,
                                              std::string_view key, int64_t now);

}  // namespace tf::oauth
