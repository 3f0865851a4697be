#include "oauth/discovery.h"

#include <algorithm>
#include <set>
#include <vector>

#include "oauth/catalog.h"
#include "oauth/grant.h"
#include "oauth/introspection.h"
#include "oauth/json_writer.h"
#include "oauth/revocation.h"

namespace tf::oauth {
namespace {

void AddUnique(std::vector<std::string>& list, std::set<std::string>& seen, const std::string& value) {
  if (seen.insert(value).second) list.push_back(value);
}

// Hash maps have no stable order; discovery lists names sorted so the document is stable.
template <typename Map>
std::vector<const typename Map::mapped_type*> SortedByName(const Map& map) {
  std::vector<const typename Map::mapped_type*> out;
  for (const auto& [name, value] : map) out.push_back(&value);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return out;
}

}  // namespace

std::string RenderDiscoveryDocument(const Config& config, const Snapshot& snapshot) {
  std::vector<std::string> grant_types;
  for (const GrantType& g : GrantTypes()) grant_types.emplace_back(g.name);

  std::vector<std::string> scopes, claims;
  std::set<std::string> seen_scopes, seen_claims;
  for (const store::IdentityResource* r : SortedByName(snapshot.identity_resources)) {
    if (!r->enabled || !r->show_in_discovery_document) continue;
    AddUnique(scopes, seen_scopes, r->name);
    for (const std::string& c : r->user_claims) AddUnique(claims, seen_claims, c);
  }
  for (const store::ApiScope* s : SortedByName(snapshot.api_scopes)) {
    if (!s->enabled || !s->show_in_discovery_document) continue;
    AddUnique(scopes, seen_scopes, s->name);
    for (const std::string& c : s->user_claims) AddUnique(claims, seen_claims, c);
  }
  for (const store::ApiResource& r : snapshot.api_resources) {
    if (!r.enabled || !r.show_in_discovery_document) continue;
    for (const std::string& c : r.user_claims) AddUnique(claims, seen_claims, c);
  }

  JsonWriter w;
  w.String("issuer", config.issuer);
  w.String("jwks_uri", config.EndpointUrl(kJwksPath));
  w.String("token_endpoint", config.EndpointUrl(kTokenPath));
  w.StringArray("scopes_supported", scopes);
  w.StringArray("claims_supported", claims);
  w.StringArray("grant_types_supported", grant_types);
  // Revocation authenticates clients as the token endpoint does; introspection callers (API resources and
  // confidential clients) use the same two methods.
  const std::vector<std::string> auth_methods{"client_secret_basic", "client_secret_post"};
  w.StringArray("token_endpoint_auth_methods_supported", auth_methods);
  w.String("revocation_endpoint", config.EndpointUrl(kRevocationPath));
  w.StringArray("revocation_endpoint_auth_methods_supported", auth_methods);
  w.String("introspection_endpoint", config.EndpointUrl(kIntrospectionPath));
  w.StringArray("introspection_endpoint_auth_methods_supported", auth_methods);
  return std::move(w).Finish();
}

std::string RenderJwks(const Snapshot& snapshot) {
  std::string out = "{\"keys\":[";
  for (size_t i = 0; i < snapshot.published_keys.size(); ++i) {
    if (i != 0) out += ',';
    out += snapshot.published_keys[i]->PublicJwkJson();
  }
  out += "]}";
  return out;
}

}  // namespace tf::oauth
