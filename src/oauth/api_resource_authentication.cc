#include "oauth/api_resource_authentication.h"

#include "oauth/basic_auth.h"
#include "oauth/client_authentication.h"

namespace tf::oauth {

ApiResourceAuthentication AuthenticateApiResource(const http::Request& request, const Form& form,
                                                  const Snapshot& snapshot, int64_t now) {
  ApiResourceAuthentication a;
  const std::string_view body_id = form.Get("client_id");
  const std::string_view body_secret = form.Get("client_secret");

  std::string name;
  std::string secret;
  Result<BasicCredentials> basic = ParseBasicAuthorization(request.authorization);
  if (basic.ok()) {
    if (!body_secret.empty() || (!body_id.empty() && body_id != basic->client_id)) {
      a.claimed_name = basic->client_id;
      return a;
    }
    name = std::move(basic->client_id);
    secret = std::move(basic->client_secret);
  } else if (!basic.status().IsNotFound()) {
    return a;  // Basic, but malformed
  } else {
    name = body_id;
    secret = body_secret;
  }
  a.claimed_name = name;
  if (name.empty() || secret.empty() || secret.size() > store::kMaxClientSecretLength) return a;

  const store::ApiResource* found = nullptr;
  for (const store::ApiResource& r : snapshot.api_resources) {
    if (r.enabled && r.name == name) {
      found = &r;
      break;
    }
  }
  // An unknown name hashes the secret too, so it costs about as much time as a known one.
  static const std::vector<store::Secret> kNoSecrets;
  const bool matches = store::MatchesAnySecret(found != nullptr ? found->api_secrets : kNoSecrets, secret, now);
  if (found != nullptr && matches) a.resource = found;
  return a;
}

}  // namespace tf::oauth
