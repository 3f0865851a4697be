// The acr_values parameter (OpenID Connect Core §3.1.2.1, used here by the password grant as IdentityServer does):
// space-separated values, each either a selector this service reads or an Authentication Context Class Reference
// that is passed through.
//
//   tenant:NAME   the tenant whose users are searched (store::User::tenant); the tokens carry `tenant`. At most one;
//                 NAME is 1..store::kMaxTenantLength bytes. Without it, users without a tenant are searched.
//   idp:NAME      the login provider that checks the credentials (login_provider.h); default "local". At most one;
//                 NAME is 1..kMaxIdpLength bytes.
//   anything else a requested ACR value, kept in order with duplicates removed. Requested values are voluntary
//                 (OpenID Connect Core §3.1.2.1): the `acr` claim states the level the login met (login_provider.h's
//                 LoginAcr), never these, and a value the server cannot satisfy is ignored. The prefixes are
//                 case-sensitive, so "Tenant:x" is an ACR value, as in IdentityServer.
//
// The whole parameter is at most kMaxAcrValuesLength bytes (IdentityServer's InputLengthRestrictions.AcrValues);
// runs of spaces (and leading or trailing ones) are tolerated; a control character (< 0x20 or 0x7F) anywhere is
// refused. Every failure is InvalidArgument with a fixed message that names the problem and never the value, meant
// for a 400 invalid_request error_description.
//
// Thread-safety: pure function; AcrValues is a plain value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "util/status.h"

namespace tf::oauth {

inline constexpr size_t kMaxAcrValuesLength = 300;
inline constexpr size_t kMaxIdpLength = 100;
inline constexpr std::string_view kTenantPrefix = "tenant:";
inline constexpr std::string_view kIdpPrefix = "idp:";

struct AcrValues {
  std::string tenant;               // "" = no tenant:NAME given (users without a tenant)
  std::string idp;                  // "" = no idp:NAME given (the default provider)
  std::vector<std::string> acr;     // the other values (requested ACRs), in order, each once
};

Result<AcrValues> ParseAcrValues(std::string_view acr_values);

}  // namespace tf::oauth
