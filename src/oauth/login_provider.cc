#include "oauth/login_provider.h"

#include <algorithm>

namespace tf::oauth {

Result<std::string> SelectLoginProvider(const Config& config, const store::Client& client,
                                        std::string_view requested) {
  const std::string_view name = requested.empty() ? kLocalProvider : requested;
  if (!config.LoginProviderEnabled(name)) return Status::InvalidArgument("the identity provider is not enabled");
  const std::vector<std::string>& allowed = client.identity_provider_restrictions;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
    return Status::InvalidArgument("the client is not allowed the identity provider");
  }
  if (name == kLocalProvider && !client.enable_local_login) {
    return Status::InvalidArgument("the client is not allowed the identity provider");
  }
  return std::string(name);
}

std::string LoginAcr(const Config& config, std::string_view provider) {
  if (!config.acr_claim) return "";
  if (provider == kLocalProvider) return config.local_acr;
  if (provider == kRemoteUserProvider) return config.remote_user_acr;
  return "";
}

}  // namespace tf::oauth
