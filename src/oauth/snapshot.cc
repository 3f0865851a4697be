#include "oauth/snapshot.h"

namespace tf::oauth {

const store::Client* Snapshot::FindClient(std::string_view client_id) const {
  const auto it = clients.find(std::string(client_id));
  return it == clients.end() ? nullptr : &it->second;
}

const store::ApiScope* Snapshot::FindApiScope(std::string_view name) const {
  const auto it = api_scopes.find(std::string(name));
  return it == api_scopes.end() ? nullptr : &it->second;
}

const store::IdentityResource* Snapshot::FindIdentityResource(std::string_view name) const {
  const auto it = identity_resources.find(std::string(name));
  return it == identity_resources.end() ? nullptr : &it->second;
}

std::shared_ptr<const token::SigningKey> Snapshot::CurrentKey(token::Alg alg) const {
  const auto it = current_keys.find(alg);
  return it == current_keys.end() ? nullptr : it->second;
}

}  // namespace tf::oauth
