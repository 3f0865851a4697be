// The grant_type -> handler table. One line per grant; see grant.h.
#include "oauth/grant.h"

namespace tf::oauth {

namespace {
constexpr GrantType kGrantTypes[] = {
    {"client_credentials", &HandleClientCredentials},
    {"password", &HandlePassword},
    {"authorization_code", &HandleAuthorizationCode},
    {"refresh_token", &HandleRefreshToken},
    {"urn:ietf:params:oauth:grant-type:device_code", &HandleDeviceCode},
    {"urn:ietf:params:oauth:grant-type:token-exchange", &HandleTokenExchange},
};
}  // namespace

std::span<const GrantType> GrantTypes() { return kGrantTypes; }

}  // namespace tf::oauth
