// The remote_user login provider: the web server has authenticated the user (Apache auth modules, nginx
// auth_request, client certificates, Kerberos, ...) and passes REMOTE_USER. Trusting it is the operator's choice
// (config login_providers lists "remote_user"); the shipped nginx and Apache configs clear any client-supplied value.
//
// The tenant of a remote_user login comes from configuration, never from the request: the web server vouches for a
// name, not for a tenant a client may pick (acr_values tenant:NAME). MapRemoteUser(config, remote_user):
//   - remote_user must be 1..100 bytes of valid UTF-8 without control characters;
//   - config remote_user_tenant_mapping "fixed" (the default): the user is Username = remote_user in Tenant =
//     config remote_user_tenant ("" = users of no tenant);
//   - "user@tenant": remote_user is split at its LAST '@': "bob@acme" is Username "bob" in Tenant "acme" (so
//     "bob@example.com@acme" is "bob@example.com" in "acme"); a name without '@' is in remote_user_tenant; an empty
//     user part or an empty tenant part is refused.
//   Every refusal is InvalidArgument "the web server passed an unusable REMOTE_USER".
// The caller compares the mapped tenant with the request's tenant:NAME (when given) and refuses a disagreement.
//
// FindOrProvisionRemoteUser(store, config, name, now):
//   - the user is looked up by (name.tenant, name.username) through the usernames index (ASCII case-insensitive);
//   - not found: with config.remote_user_provision, a user is created in one write transaction: SubjectId =
//     RandomHandle(16), Username = name.username, Tenant = name.tenant (so provisioning only ever creates users in
//     the configured tenant or the one the web server's name carries), no password, IsActive, Created = now. If
//     another worker created it first, that user is read and returned. Without provisioning: nullopt.
//   - a found user with IsActive = false: nullopt.
// Store failures are error Statuses.
//
// Thread-safety: safe from many threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

// The amr value of a remote_user login (the method is the web server's; RFC 8176 has no value for "external").
inline constexpr std::string_view kRemoteUserAmr = "external";

// A REMOTE_USER as a user of the store: the tenant and the username (see MapRemoteUser above).
struct RemoteUserName {
  std::string tenant;
  std::string username;
};

Result<RemoteUserName> MapRemoteUser(const Config& config, std::string_view remote_user);

Result<std::optional<store::User>> FindOrProvisionRemoteUser(store::Store& store, const Config& config,
                                                             const RemoteUserName& name, int64_t now);

}  // namespace tf::oauth
