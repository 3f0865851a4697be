// Which login provider checks a user's credentials (acr_values "idp:NAME", acr_values.h), and whether the client may
// use it. Shared by the password grant and the authorize endpoint.
//
// Providers (config login_providers lists the enabled ones; "local" alone by default):
//   local         the LMDB user store, checked with a username and password (store::User, password/)
//   remote_user   the web server's REMOTE_USER (authorize endpoint only; it cannot check a password)
//
// SelectLoginProvider(config, client, requested):
//   - requested "" means "local" (the default, as IdentityServer's IdentityServerConstants.LocalIdentityProvider);
//   - the provider must be listed in config login_providers, else "the identity provider is not enabled";
//   - when the client's IdentityProviderRestrictions is not empty, the provider must be listed there, else "the
//     client is not allowed the identity provider";
//   - "local" also needs the client's EnableLocalLogin (IdentityServer's meaning: the client may use local
//     accounts), else "the client is not allowed the identity provider".
// Failures are InvalidArgument with those fixed messages (never the requested name), sent as 400 invalid_request.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "store/records.h"
#include "util/status.h"

namespace tf::oauth {

inline constexpr std::string_view kLocalProvider = "local";
inline constexpr std::string_view kRemoteUserProvider = "remote_user";

Result<std::string> SelectLoginProvider(const Config& config, const store::Client& client,
                                        std::string_view requested);

// The `acr` claim of a login by `provider`: with config acr_claim, the level that provider meets (config local_acr,
// remote_user_acr); "" (no claim) without acr_claim or for a provider with no level configured. Never a requested
// value: a request cannot raise what its tokens say about the login.
std::string LoginAcr(const Config& config, std::string_view provider);

}  // namespace tf::oauth
