// The scope parameter (RFC 6749 §3.3) and the rules for granting API scopes.
//
// `scope` is a list of space-delimited tokens; runs of spaces (and leading or trailing ones) are tolerated, a token
// given twice is granted once, and each token must be 1*NQCHAR (%x21 / %x23-5B / %x5D-7E). The whole parameter may be
// at most 300 characters (IdentityServer's InputLengthRestrictions.Scope); longer is invalid_scope.
//
// ResolveApiScopes (client_credentials, where the client itself is the subject):
//   - omitted (or only spaces): every scope in the client's AllowedScopes that is an enabled ApiScope, in the
//     client's order; none at all is invalid_scope;
//   - requested: every token must be an enabled ApiScope listed in the client's AllowedScopes; an identity resource
//     name (openid, profile, ...), offline_access, an unknown, disabled or disallowed scope fails the whole request
//     (no partial grants).
//
// ResolveUserScopes (the grants and requests that carry a user: password, the authorize endpoint):
//   - omitted (or only spaces): every scope in the client's AllowedScopes that is an enabled IdentityResource or an
//     enabled ApiScope, in the client's order, then offline_access when the client has AllowOfflineAccess (as
//     IdentityServer: an omitted scope means everything the client may have, refresh tokens included); none at all
//     is invalid_scope;
//   - requested: every token must be listed in the client's AllowedScopes and be an enabled IdentityResource or an
//     enabled ApiScope, except offline_access, which is governed by the client's AllowOfflineAccess (as in
//     IdentityServer), not by AllowedScopes: without it, "offline_access is not allowed for this client". One bad
//     token fails the whole request (no partial grants).
// Failures are InvalidArgument with a fixed message (never the requested text), sent as invalid_scope.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "oauth/catalog.h"
#include "store/records.h"
#include "util/status.h"

namespace tf::oauth {

inline constexpr size_t kMaxScopeLength = 300;
inline constexpr std::string_view kOfflineAccess = "offline_access";

// The tokens of a scope parameter, duplicates removed; InvalidArgument for a token with a character outside NQCHAR.
Result<std::vector<std::string>> SplitScopes(std::string_view scope);

Result<std::vector<std::string>> ResolveApiScopes(const Snapshot& snapshot, const store::Client& client,
                                                  std::string_view requested);

Result<std::vector<std::string>> ResolveUserScopes(const Snapshot& snapshot, const store::Client& client,
                                                   std::string_view requested);

}  // namespace tf::oauth
