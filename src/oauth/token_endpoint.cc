#include "oauth/token_endpoint.h"

#include "oauth/answer_after_write.h"
#include "oauth/client_authentication.h"
#include "oauth/errors.h"
#include "oauth/extension_grants.h"
#include "oauth/form.h"
#include "oauth/form_post.h"
#include "oauth/grant.h"
#include "oauth/request_log.h"
#include "util/log.h"

namespace tf::oauth {

http::Response HandleTokenRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                  const Clock& clock, store::Store* store, RequestLog* log) {
  // Shared: a deferred answer (answer_after_write.h) refers to the form and the snapshot until it is given.
  auto post = std::make_shared<FormPost>(ReadFormPost(request, catalog, config));
  if (!post->form) return std::move(post->error);
  const Form& form = *post->form;
  const Snapshot& snap = *post->snapshot;

  const std::string_view grant_type = form.Get("grant_type");
  log->grant_type = SanitizeForLog(grant_type);

  ClientAuthentication auth = AuthenticateClient(request, form, snap, config, clock.NowSeconds());
  log->client_id = SanitizeForLog(auth.claimed_client_id);  // as claimed, also when authentication failed
  if (auth.client == nullptr) return std::move(auth.error);

  if (grant_type.empty()) return OAuthError(400, kInvalidRequest, "grant_type is missing");
  if (grant_type.size() > kMaxGrantTypeLength) return OAuthError(400, kInvalidRequest, "grant_type is too long");
  for (const GrantType& g : GrantTypes()) {
    if (g.name == grant_type) {
      const TokenRequest token_request{form, *auth.client, snap, config, clock, store};
      return KeepAlive(g.handler(token_request), post);
    }
  }
  if (const ExtensionGrant* extension = FindExtensionGrant(grant_type); extension != nullptr) {
    const TokenRequest token_request{form, *auth.client, snap, config, clock, store};
    return KeepAlive(HandleExtensionGrant(*extension, token_request), post);
  }
  return OAuthError(400, kUnsupportedGrantType, "the grant_type is not supported");
}

}  // namespace tf::oauth
