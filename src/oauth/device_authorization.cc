#include "oauth/device_authorization.h"

#include <optional>
#include <string>
#include <vector>

#include "oauth/client_authentication.h"
#include "oauth/device_codes.h"
#include "oauth/errors.h"
#include "oauth/form_post.h"
#include "oauth/paths.h"
#include "oauth/request_log.h"
#include "oauth/scopes.h"
#include "util/json_writer.h"
#include "oauth/user_code.h"
#include "util/log.h"

namespace tf::oauth {

http::Response HandleDeviceAuthorizationRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                                const Clock& clock, store::Store* store, RequestLog* log) {
  FormPost post = ReadFormPost(request, catalog, config);
  if (!post.form) return std::move(post.error);
  const Form& form = *post.form;
  const Snapshot& snapshot = *post.snapshot;
  const int64_t now = clock.NowSeconds();
  log->grant_type = std::string(kDeviceCodeGrantType);

  ClientAuthentication auth = AuthenticateClient(request, form, snapshot, config, now);
  log->client_id = SanitizeForLog(auth.claimed_client_id);
  if (auth.client == nullptr) return std::move(auth.error);
  const store::Client& client = *auth.client;
  if (!client.AllowsGrantType(kDeviceCodeGrantType)) {
    return OAuthError(400, kUnauthorizedClient, "the client is not allowed the device_code grant");
  }
  Result<std::vector<std::string>> scopes = ResolveUserScopes(snapshot, client, form.Get("scope"));
  if (!scopes.ok()) return OAuthError(400, kInvalidScope, scopes.status().message());

  std::optional<IssuedDeviceCode> issued;
  Status st = store == nullptr ? Status::Internal("the service has no store") : Status::OK();
  if (st.ok()) {
    st = store->Update([&](store::Txn& txn) -> Status {
      Result<IssuedDeviceCode> r = IssueDeviceCode(txn, client, *scopes, now);
      if (!r.ok()) return r.status();
      issued = std::move(r).value();
      return Status::OK();
    });
  }
  if (!st.ok()) {
    return StoreFailureResponse("device authorization: cannot store the device code", st,
                                "the server cannot issue device codes at the moment");
  }

  const std::string user_code = FormatUserCode(issued->user_code);
  const std::string verification_uri = config.EndpointUrl(kDevicePath);
  JsonWriter w;
  w.String("device_code", issued->device.handle);
  w.String("user_code", user_code);
  w.String("verification_uri", verification_uri);
  w.String("verification_uri_complete", verification_uri + "?user_code=" + user_code);
  w.Int("expires_in", issued->device.grant.expires - now);
  w.Int("interval", issued->device.grant.interval);
  return JsonResponse(200, std::move(w).Finish());
}

}  // namespace tf::oauth
