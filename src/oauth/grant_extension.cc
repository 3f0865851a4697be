// A grant type served by a plug-in (extension_grants.h, include/tokenfcgi/extension_grant.h). Checks, in order:
//
//   1. unauthorized_client  the client does not list the grant type in AllowedGrantTypes
//   2. invalid_scope        scopes.h's ResolveUserScopes (as the password grant: an omitted scope means every scope
//                           the client may have, offline_access included when the client has AllowOfflineAccess)
//   3. the plug-in's handle(), with every form parameter except client_secret, the client's id and Properties and
//      the resolved scopes; then release(), then ValidateExtensionGrantResult:
//        a bad result       500 server_error, logged at error with the plug-in's name and the broken rule
//        ERROR              400 with the plug-in's error code and description
//   500 server_error        no usable signing key, the store cannot be written (logged)
//   503 temporarily_unavailable  the store is full (Retry-After; errors.h StoreFailureResponse)
//   200                     an access token (access_token.h) with sub = the plug-in's subject, the plug-in's claims
//                           (all of them; protocol claim names were refused), auth_time = now, idp = the plug-in's
//                           name, no amr, and the plug-in's lifetime (at most the client's AccessTokenLifetime). With
//                           offline_access granted, a refresh token too, as for the password grant (a new grant
//                           family; grant_id in the access token); redeeming it later needs the subject to be the
//                           SubjectId of an active user in the store, as every refresh does.
// Nothing is written before the plug-in has answered and the answer was validated, so a plug-in that crashes costs
// its worker process and the request in flight, never a half-written grant.
//
// Thread-safety: as every grant handler (grant.h); the plug-in's handle() is called concurrently with --threads.
#include <algorithm>
#include <map>

#include "oauth/access_token.h"
#include "oauth/errors.h"
#include "oauth/extension_grants.h"
#include "oauth/grant.h"
#include "oauth/refresh_tokens.h"
#include "oauth/request_log.h"
#include "oauth/scopes.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

tf_string View(std::string_view s) { return tf_string{s.data(), s.size()}; }

}  // namespace

http::Response HandleExtensionGrant(const ExtensionGrant& grant, const TokenRequest& request) {
  const store::Client& client = request.client;
  if (!client.AllowsGrantType(grant.grant_type)) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed this grant type");
  }
  Result<std::vector<std::string>> scopes = ResolveUserScopes(request.snapshot, client, request.form.Get("scope"));
  if (!scopes.ok()) return OAuthError(400, kInvalidScope, scopes.status().message());

  std::vector<tf_pair> parameters;
  for (const auto& [name, value] : request.form.params()) {
    if (name == "client_secret") continue;
    parameters.push_back({View(name), View(value)});
  }
  std::vector<tf_pair> properties;  // std::map: sorted by name
  for (const auto& [name, value] : client.properties) properties.push_back({View(name), View(value)});
  std::vector<tf_string> scope_views;
  for (const std::string& s : *scopes) scope_views.push_back(View(s));

  tf_extension_grant_request in{};
  in.abi_version = TF_EXTENSION_GRANT_ABI_VERSION;
  in.grant_type = View(grant.grant_type);
  in.parameters = parameters.data();
  in.parameter_count = parameters.size();
  in.client_id = View(client.client_id);
  in.client_properties = properties.data();
  in.client_property_count = properties.size();
  in.scopes = scope_views.data();
  in.scope_count = scope_views.size();
  const int64_t now = request.clock.NowSeconds();
  in.now = now;

  tf_extension_grant_result out{};
  grant.plugin->handle(grant.state, &in, &out);
  Result<ExtensionGrantOutcome> outcome = ValidateExtensionGrantResult(out, *scopes, client.access_token_lifetime);
  grant.plugin->release(grant.state, &out);
  if (!outcome.ok()) {
    Logf(LogLevel::kError, "extension grant plug-in %s (%s) gave a bad result for client %s: %s",
         grant.name.c_str(), SanitizeForLog(grant.grant_type).c_str(), SanitizeForLog(client.client_id).c_str(),
         outcome.status().message().c_str());
    return OAuthError(500, kServerError, "the server cannot issue tokens at the moment");
  }
  if (!outcome->ok) return OAuthError(400, outcome->error, outcome->error_description);

  AccessTokenRequest token_request;
  token_request.client = &client;
  token_request.subject = outcome->subject;
  token_request.scopes = outcome->scopes;
  token_request.include_client_claims = client.always_send_client_claims;
  token_request.lifetime = outcome->lifetime;
  token_request.extra_claims = outcome->claims;
  ResourceOwner& ro = token_request.resource_owner.emplace();
  ro.auth_time = now;
  ro.idp = grant.name;

  std::optional<NewGrant> refresh;
  const std::vector<std::string>& granted = token_request.scopes;
  if (std::find(granted.begin(), granted.end(), kOfflineAccess) != granted.end()) {
    store::Grant g = RefreshGrantFromResourceOwner(request.snapshot, client, token_request.subject, granted, ro);
    g.claims = outcome->claims;  // every claim the plug-in gave, as the access token carries them
    refresh = NewRefreshToken(request.snapshot, client, std::move(g), now);
    token_request.grant_id = refresh->grant.family;
  }

  Result<IssuedAccessToken> token = IssueAccessToken(request.config, request.snapshot, request.clock, token_request);
  if (!token.ok()) {
    Logf(LogLevel::kError, "cannot issue an access token: %s", token.status().message().c_str());
    return OAuthError(500, kServerError, "the server cannot sign tokens at the moment");
  }
  return StoreNewGrantsAndRespond(*request.store, std::move(refresh), std::move(token).value(), "extension grant");
}

}  // namespace tf::oauth
