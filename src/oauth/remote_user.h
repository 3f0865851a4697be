// The remote_user login provider: the web server has authenticated the user (Apache auth modules, nginx
// auth_request, client certificates, Kerberos, ...) and passes REMOTE_USER. Trusting it is the operator's choice
// (config login_providers lists "remote_user"); the shipped nginx and Apache configs clear any client-supplied value.
//
// FindOrProvisionRemoteUser(store, config, tenant, remote_user, now):
//   - remote_user must be 1..100 bytes without control characters (else InvalidArgument, "the web server passed an
//     unusable REMOTE_USER");
//   - the user is looked up by (tenant, remote_user) through the usernames index (ASCII case-insensitive);
//   - not found: with config.remote_user_provision, a user is created in one write transaction: SubjectId =
//     RandomHandle(16), Username = remote_user, Tenant = tenant, no password, IsActive, Created = now. If another
//     worker created it first (AlreadyExists), that user is read and returned. Without provisioning: nullopt.
//   - a found user with IsActive = false: nullopt.
// Store failures are error Statuses.
//
// Thread-safety: safe from many threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

// The amr value of a remote_user login (the method is the web server's; RFC 8176 has no value for "external").
inline constexpr std::string_view kRemoteUserAmr = "external";

Result<std::optional<store::User>> FindOrProvisionRemoteUser(store::Store& store, const Config& config,
                                                             std::string_view tenant, std::string_view remote_user,
                                                             int64_t now);

}  // namespace tf::oauth
