#include "admin/names.h"

#include <array>

namespace tf::admin {

namespace {

constexpr std::array<std::string_view, 9> kKnown = {
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "password",
    "implicit",
    "hybrid",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:openid:params:grant-type:ciba",
};

}  // namespace

std::span<const std::string_view> KnownGrantTypes() { return kKnown; }

bool IsKnownGrantType(std::string_view grant_type) {
  for (std::string_view known : kKnown) {
    if (known == grant_type) return true;
  }
  return false;
}

}  // namespace tf::admin
