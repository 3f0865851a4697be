#include "oauth/access_token.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <string_view>

#include "oauth/errors.h"
#include "oauth/json_writer.h"
#include "oauth/request_log.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

// Protocol claims: a stored user or client claim may never produce one of these names.
constexpr std::string_view kReservedClaims[] = {
    "iss", "nbf", "iat", "exp", "aud", "scope", "client_id", "sub", "jti", "auth_time",
    "idp", "amr", "acr", "tenant", "nonce", "sid", "cnf", "at_hash", "c_hash", "grant_id"};

bool IsReservedClaim(std::string_view name) {
  return std::find(std::begin(kReservedClaims), std::end(kReservedClaims), name) != std::end(kReservedClaims);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// One claim value as JSON, following IdentityServer's ClaimValueTypes for booleans and integers.
std::string ClaimValueJson(const store::ClaimValue& claim) {
  std::string out;
  const std::string_view type = claim.value_type;
  if (EndsWith(type, "#boolean")) {
    if (claim.value == "true" || claim.value == "True") return "true";
    if (claim.value == "false" || claim.value == "False") return "false";
  } else if (EndsWith(type, "#integer") || EndsWith(type, "#int") || EndsWith(type, "#integer32") ||
             EndsWith(type, "#integer64") || EndsWith(type, "#long")) {
    int64_t v = 0;
    const char* first = claim.value.data();
    const char* last = first + claim.value.size();
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (ec == std::errc() && ptr == last && !claim.value.empty()) return std::to_string(v);
  }
  AppendJsonString(out, claim.value);
  return out;
}

// Writes `claims` (names prefixed with `prefix`) whose Type passes `wanted`, grouping repeated types into arrays in
// the order of first appearance. Skips empty types, protocol claim names and names already in `written`, and adds
// the names it writes to `written`.
template <typename Wanted>
void WriteClaims(JsonWriter& w, std::string_view prefix, const std::vector<store::ClaimValue>& claims,
                 const Wanted& wanted, std::set<std::string>& written) {
  std::vector<std::string> names;
  std::map<std::string, std::vector<std::string>> values;
  for (const store::ClaimValue& c : claims) {
    if (c.type.empty() || !wanted(c.type)) continue;
    std::string name = std::string(prefix) + c.type;
    if (IsReservedClaim(name) || written.count(name) != 0) {
      Logf(LogLevel::kDebug, "claim type '%s' skipped (reserved or already present)", SanitizeForLog(name).c_str());
      continue;
    }
    auto [it, inserted] = values.try_emplace(name);
    if (inserted) names.push_back(name);
    it->second.push_back(ClaimValueJson(c));
  }
  for (const std::string& name : names) {
    written.insert(name);
    const std::vector<std::string>& v = values[name];
    if (v.size() == 1) {
      w.Raw(name, v[0]);
      continue;
    }
    std::string array = "[";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i != 0) array += ',';
      array += v[i];
    }
    array += ']';
    w.Raw(name, array);
  }
}

}  // namespace

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
  issued.expires_in = client.access_token_lifetime;
  const int64_t now = clock.NowSeconds();
  issued.expires_at = now + client.access_token_lifetime;

  JsonWriter w;
  w.String("iss", config.issuer);
  w.Int("nbf", now);
  w.Int("iat", now);
  w.Int("exp", now + client.access_token_lifetime);
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
  std::set<std::string> written;
  if (request.resource_owner.has_value()) {
    const ResourceOwner& owner = *request.resource_owner;
    w.Int("auth_time", owner.auth_time);
    w.String("idp", owner.idp);
    w.StringArray("amr", owner.amr);
    if (!owner.tenant.empty()) w.String("tenant", owner.tenant);
    if (!owner.acr.empty()) w.String("acr", owner.acr);
  }
  if (!request.grant_id.empty()) w.String("grant_id", request.grant_id);
  if (client.include_jwt_id) w.String("jti", RandomHandle(16));
  if (request.resource_owner.has_value()) {
    const std::vector<std::string> types = AccessTokenUserClaimTypes(snapshot, request.scopes, audience);
    const auto wanted = [&](const std::string& type) {
      return std::find(types.begin(), types.end(), type) != types.end();
    };
    WriteClaims(w, "", request.resource_owner->claims, wanted, written);
  }
  if (request.include_client_claims) {
    WriteClaims(w, client.client_claims_prefix, client.claims, [](const std::string&) { return true; }, written);
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
  w.String("token_type", "Bearer");
  w.Int("expires_in", token.expires_in);
  w.String("scope", token.scope);
  if (!token.refresh_token.empty()) w.String("refresh_token", token.refresh_token);
  return JsonResponse(200, std::move(w).Finish());
}

}  // namespace tf::oauth
