#include "oauth/client_authentication.h"

#include "oauth/basic_auth.h"
#include "oauth/errors.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

ClientAuthentication Fail(http::Response response, std::string_view claimed_client_id = {}) {
  ClientAuthentication a;
  a.error = std::move(response);
  a.claimed_client_id = std::string(claimed_client_id);
  return a;
}

}  // namespace

ClientAuthentication AuthenticateClient(const http::Request& request, const Form& form, const Snapshot& snapshot,
                                        const Config& config, int64_t now) {
  const std::string_view body_id = form.Get("client_id");
  const std::string_view body_secret = form.Get("client_secret");

  std::string client_id;
  std::string secret;
  ClientAuthenticationMethod method;

  Result<BasicCredentials> basic = ParseBasicAuthorization(request.authorization);
  if (basic.ok()) {
    if (!body_secret.empty()) {
      return Fail(OAuthError(400, kInvalidRequest, "more than one client authentication method was used"));
    }
    if (!body_id.empty() && body_id != basic->client_id) {
      return Fail(OAuthError(400, kInvalidRequest, "client_id in the body differs from the Authorization header"));
    }
    client_id = std::move(basic->client_id);
    secret = std::move(basic->client_secret);
    method = ClientAuthenticationMethod::kClientSecretBasic;
  } else if (!basic.status().IsNotFound()) {
    Logf(LogLevel::kDebug, "client authentication: %s", basic.status().message().c_str());
    return Fail(InvalidClient(config));
  } else {
    if (body_id.empty()) return Fail(InvalidClient(config));
    client_id = body_id;
    secret = body_secret;
    method = body_secret.empty() ? ClientAuthenticationMethod::kNone : ClientAuthenticationMethod::kClientSecretPost;
  }

  if (client_id.size() > store::kMaxClientIdLength || secret.size() > store::kMaxClientSecretLength) {
    return Fail(InvalidClient(config), client_id);
  }
  const store::Client* client = snapshot.FindClient(client_id);
  if (client == nullptr || !client->enabled) {
    // Hash the presented secret anyway, so an unknown id costs about as much time as a known one.
    (void)store::MatchesAnySecret({}, secret, now);
    return Fail(InvalidClient(config), client_id);
  }

  if (client->IsPublic()) {
    // A public client authenticates with its id alone; if it presents a secret, the secret must be one it has.
    if (!secret.empty() && !store::MatchesAnySecret(client->client_secrets, secret, now)) {
      return Fail(InvalidClient(config), client_id);
    }
  } else if (!store::MatchesAnySecret(client->client_secrets, secret, now)) {
    // Also covers a missing secret: an empty presented secret never matches.
    return Fail(InvalidClient(config), client_id);
  }

  ClientAuthentication a;
  a.claimed_client_id = client_id;
  a.client = client;
  a.method = method;
  return a;
}

}  // namespace tf::oauth
