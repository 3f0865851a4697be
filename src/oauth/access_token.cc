#include "oauth/access_token.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "oauth/claims.h"
#include "oauth/errors.h"
#include "oauth/request_log.h"
#include "util/crypto.h"
#include "util/json_writer.h"
#include "util/log.h"

namespace tf::oauth {

std::vector<std::string> AccessTokenUserClaimTypes(const Snapshot& snapshot, const std::vector<std::string>& scopes,
                                                   const std::vector<size_t>& audience) {
  std::vector<std::string> out;
  const auto add = [&](const std::vector<std::string>& types) {
    for (const std::string& t : types) {
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
  };
  for (const std::string& scope : scopes) {
    const store::ApiScope* s = snapshot.FindApiScope(scope);
    if (s != nullptr && s->enabled) add(s->user_claims);
  }
  for (size_t index : audience) add(snapshot.api_resources[index].user_claims);
  return out;
}

std::vector<size_t> AudienceResources(const Snapshot& snapshot, const std::vector<std::string>& scopes) {
  std::vector<size_t> out;
  for (const std::string& scope : scopes) {
    const auto it = snapshot.resources_by_scope.find(scope);
    if (it == snapshot.resources_by_scope.end()) continue;
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::shared_ptr<const token::SigningKey>> SelectSigningKey(const Config& config, const Snapshot& snapshot,
                                                                  const std::vector<size_t>& audience) {
  const std::optional<token::Alg> configured = token::ParseAlg(config.access_token_signing_alg);
  // Candidates: the configured alg alone, unless a resource restricts the algorithms; then the intersection of all
  // restricting resources' lists.
  std::vector<token::Alg> candidates;
  bool restricted = false;
  for (size_t index : audience) {
    const store::ApiResource& r = snapshot.api_resources[index];
    if (r.allowed_access_token_signing_algorithms.empty()) continue;
    std::vector<token::Alg> allowed;
    for (const std::string& name : r.allowed_access_token_signing_algorithms) {
      const std::optional<token::Alg> alg = token::ParseAlg(name);
      if (alg.has_value() && std::find(allowed.begin(), allowed.end(), *alg) == allowed.end()) {
        allowed.push_back(*alg);
      }
    }
    if (!restricted) {
      candidates = allowed;
      restricted = true;
    } else {
      std::erase_if(candidates, [&](token::Alg a) {
        return std::find(allowed.begin(), allowed.end(), a) == allowed.end();
      });
    }
  }
  if (!restricted && configured.has_value()) candidates.push_back(*configured);

  if (configured.has_value() && std::find(candidates.begin(), candidates.end(), *configured) != candidates.end()) {
    if (auto key = snapshot.CurrentKey(*configured)) return key;
  }
  for (token::Alg alg : candidates) {
    if (auto key = snapshot.CurrentKey(alg)) return key;
  }
  if (candidates.empty()) {
    return Status::Internal("the audience's AllowedAccessTokenSigningAlgorithms have no algorithm in common");
  }
  std::string names;
  for (token::Alg alg : candidates) {
    if (!names.empty()) names += ", ";
    names += token::AlgName(alg);
  }
  return Status::Internal("no current signing key for " + names);
}

Result<IssuedAccessToken> IssueAccessToken(const Config& config, const Snapshot& snapshot, const Clock& clock,
                                           const AccessTokenRequest& request) {
  const store::Client& client = *request.client;
  const bool reference = client.access_token_type == store::AccessTokenType::kReference;
  const std::vector<size_t> audience = AudienceResources(snapshot, request.scopes);
  std::shared_ptr<const token::SigningKey> key;
  if (!reference) {
    Result<std::shared_ptr<const token::SigningKey>> selected = SelectSigningKey(config, snapshot, audience);
    if (!selected.ok()) return selected.status();
    key = std::move(selected).value();
  }

  IssuedAccessToken issued;
  for (const std::string& s : request.scopes) {
    if (!issued.scope.empty()) issued.scope += ' ';
    issued.scope += s;
  }
  const int64_t lifetime = request.lifetime > 0 && request.lifetime < client.access_token_lifetime
                               ? request.lifetime
                               : client.access_token_lifetime;
  issued.expires_in = lifetime;
  const int64_t now = clock.NowSeconds();
  issued.expires_at = now + lifetime;

  JsonWriter w;
  w.String("iss", config.issuer);
  w.Int("nbf", now);
  w.Int("iat", now);
  w.Int("exp", issued.expires_at);
  if (audience.empty()) {
    w.String("aud", config.issuer + "/resources");
  } else if (audience.size() == 1) {
    w.String("aud", snapshot.api_resources[audience[0]].name);
  } else {
    std::vector<std::string_view> names;
    for (size_t index : audience) names.push_back(snapshot.api_resources[index].name);
    w.StringArray("aud", names);
  }
  if (config.scope_claim_as_array) {
    w.StringArray("scope", request.scopes);
  } else {
    w.String("scope", issued.scope);
  }
  w.String("client_id", client.client_id);
  w.String("sub", request.subject);
  if (!request.act_json.empty()) w.Raw("act", request.act_json);
  std::set<std::string> written;
  if (request.resource_owner.has_value()) {
    const ResourceOwner& owner = *request.resource_owner;
    w.Int("auth_time", owner.auth_time);
    w.String("idp", owner.idp);
    w.StringArray("amr", owner.amr);
    if (!owner.tenant.empty()) w.String("tenant", owner.tenant);
    if (!owner.acr.empty()) w.String("acr", owner.acr);
  }
  if (!request.grant_id.empty()) w.String(kGrantIdClaim, request.grant_id);
  if (client.include_jwt_id) w.String("jti", RandomHandle(16));
  if (request.resource_owner.has_value()) {
    const std::vector<std::string> types = AccessTokenUserClaimTypes(snapshot, request.scopes, audience);
    WriteClaims(w, "", request.resource_owner->claims, &types, written);
  }
  WriteClaims(w, "", request.extra_claims, nullptr, written);
  if (request.include_client_claims) {
    WriteClaims(w, client.client_claims_prefix, client.claims, nullptr, written);
  }

  issued.claims_json = std::move(w).Finish();

  if (reference) {
    store::Grant token;
    token.client_id = client.client_id;
    token.subject = request.resource_owner.has_value() ? request.subject : "";
    token.scopes = request.scopes;
    token.family = request.grant_id.empty() ? RandomHandle(16) : request.grant_id;  // a family of its own
    if (request.resource_owner.has_value()) {
      const ResourceOwner& owner = *request.resource_owner;
      token.auth_time = owner.auth_time;
      token.idp = owner.idp;
      token.amr = owner.amr;
      token.tenant = owner.tenant;
      token.acr = owner.acr;
    }
    issued.reference = NewReferenceToken(std::move(token), issued.claims_json, now, issued.expires_at);
    issued.access_token = issued.reference->handle;
    return issued;
  }
  Result<std::string> jwt = token::SignJws(*key, "at+jwt", issued.claims_json);
  if (!jwt.ok()) return jwt.status();
  issued.access_token = std::move(jwt).value();
  return issued;
}

http::Response AccessTokenResponse(const IssuedAccessToken& token) {
  JsonWriter w;
  w.String("access_token", token.access_token);
  if (!token.issued_token_type.empty()) w.String("issued_token_type", token.issued_token_type);
  w.String("token_type", "Bearer");
  w.Int("expires_in", token.expires_in);
  w.String("scope", token.scope);
  if (!token.refresh_token.empty()) w.String("refresh_token", token.refresh_token);
  if (!token.id_token.empty()) w.String("id_token", token.id_token);
  return JsonResponse(200, std::move(w).Finish());
}

}  // namespace tf::oauth
