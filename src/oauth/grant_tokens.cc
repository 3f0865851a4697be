#include "oauth/grant_tokens.h"

#include <utility>

namespace tf::oauth {

AccessTokenRequest AccessTokenRequestFromGrant(const store::Client& client, const store::Grant& grant,
                                               std::vector<std::string> scopes,
                                               std::vector<store::ClaimValue> claims) {
  AccessTokenRequest r;
  r.client = &client;
  r.subject = grant.subject;
  r.scopes = std::move(scopes);
  r.include_client_claims = client.always_send_client_claims;
  r.grant_id = grant.family;
  ResourceOwner& ro = r.resource_owner.emplace();
  ro.auth_time = grant.auth_time.value_or(grant.created);
  ro.idp = grant.idp;
  ro.amr = grant.amr;
  ro.tenant = grant.tenant;
  ro.acr = grant.acr;
  ro.claims = std::move(claims);
  return r;
}

IdTokenRequest IdTokenRequestFromGrant(const store::Client& client, const store::Grant& grant,
                                       std::vector<std::string> scopes, std::string access_token) {
  IdTokenRequest r;
  r.client = &client;
  r.subject = grant.subject;
  r.scopes = std::move(scopes);
  r.auth_time = grant.auth_time.value_or(grant.created);
  r.idp = grant.idp;
  r.amr = grant.amr;
  r.acr = grant.acr;
  r.sid = grant.session_id;
  r.access_token = std::move(access_token);
  return r;
}

}  // namespace tf::oauth
