#include "oauth/discovery.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "oauth/grant.h"
#include "oauth/paths.h"
#include "oauth/snapshot.h"
#include "util/json_writer.h"

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

// The claims an id_token can carry besides the user's own (id_token.h), in the order id_tokens write them.
constexpr const char* kIdTokenProtocolClaims[] = {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                                                  "at_hash", "sid", "idp", "amr", "acr"};

// The algorithms that could sign an id_token (id_token.h's SelectIdTokenSigningKey): config.id_token_signing_alg and
// every algorithm an enabled client allows, when there is a current key for it. RS256 first (OpenID Connect
// Discovery requires it in the list; it is what clients assume), then in order of appearance (clients by id).
std::vector<std::string> IdTokenSigningAlgs(const Config& config, const Snapshot& snapshot) {
  std::vector<token::Alg> algs;
  const auto add = [&](std::string_view name) {
    const std::optional<token::Alg> alg = token::ParseAlg(name);
    if (!alg.has_value() || snapshot.CurrentKey(*alg) == nullptr) return;
    if (std::find(algs.begin(), algs.end(), *alg) == algs.end()) algs.push_back(*alg);
  };
  add(config.id_token_signing_alg);
  std::vector<const store::Client*> clients;
  for (const auto& [id, client] : snapshot.clients) clients.push_back(&client);
  std::sort(clients.begin(), clients.end(), [](auto* a, auto* b) { return a->client_id < b->client_id; });
  for (const store::Client* c : clients) {
    if (!c->enabled) continue;
    for (const std::string& name : c->allowed_identity_token_signing_algorithms) add(name);
  }
  std::stable_partition(algs.begin(), algs.end(), [](token::Alg a) { return a == token::Alg::kRS256; });
  std::vector<std::string> out;
  for (token::Alg a : algs) out.emplace_back(token::AlgName(a));
  return out;
}

// PKCE methods (RFC 7636 §4.3, RFC 8414 §2): S256 always; plain when an enabled client allows it.
std::vector<std::string> CodeChallengeMethods(const Snapshot& snapshot) {
  std::vector<std::string> out{"S256"};
  for (const auto& [id, client] : snapshot.clients) {
    if (client.enabled && client.allow_plain_text_pkce) {
      out.emplace_back("plain");
      break;
    }
  }
  return out;
}

bool AnyEnabledClient(const Snapshot& snapshot, bool (*predicate)(const store::Client&)) {
  for (const auto& [id, client] : snapshot.clients) {
    if (client.enabled && predicate(client)) return true;
  }
  return false;
}

}  // namespace

std::string RenderDiscoveryDocument(const Config& config, const Snapshot& snapshot) {
  std::vector<std::string> grant_types;
  for (const GrantType& g : GrantTypes()) grant_types.emplace_back(g.name);
  for (const ExtensionGrantConfig& g : config.extension_grants) grant_types.push_back(g.grant_type);

  std::vector<std::string> scopes, claims;
  std::set<std::string> seen_scopes, seen_claims;
  for (const char* c : kIdTokenProtocolClaims) AddUnique(claims, seen_claims, c);
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
  if (AnyEnabledClient(snapshot, [](const store::Client& c) { return c.allow_offline_access; })) {
    AddUnique(scopes, seen_scopes, "offline_access");
  }
  for (const store::ApiResource& r : snapshot.api_resources) {
    if (!r.enabled || !r.show_in_discovery_document) continue;
    for (const std::string& c : r.user_claims) AddUnique(claims, seen_claims, c);
  }

  JsonWriter w;
  w.String("issuer", config.issuer);
  w.String("jwks_uri", config.EndpointUrl(kJwksPath));
  w.String("authorization_endpoint", config.EndpointUrl(kAuthorizePath));
  w.String("token_endpoint", config.EndpointUrl(kTokenPath));
  w.String("userinfo_endpoint", config.EndpointUrl(kUserinfoPath));
  w.StringArray("scopes_supported", scopes);
  w.StringArray("claims_supported", claims);
  w.StringArray("grant_types_supported", grant_types);
  w.StringArray("response_types_supported", std::vector<std::string>{"code"});
  w.StringArray("response_modes_supported", std::vector<std::string>{"query", "form_post"});
  w.StringArray("code_challenge_methods_supported", CodeChallengeMethods(snapshot));
  w.StringArray("subject_types_supported", std::vector<std::string>{"public"});
  w.StringArray("id_token_signing_alg_values_supported", IdTokenSigningAlgs(config, snapshot));
  w.Bool("authorization_response_iss_parameter_supported", true);
  // Revocation authenticates clients as the token endpoint does, public clients ("none": client_id alone) included;
  // introspection callers (API resources and confidential clients) always present a secret.
  const std::vector<std::string> secret_methods{"client_secret_basic", "client_secret_post"};
  std::vector<std::string> client_methods = secret_methods;
  if (AnyEnabledClient(snapshot, [](const store::Client& c) { return c.IsPublic(); })) {
    client_methods.emplace_back("none");
  }
  w.StringArray("token_endpoint_auth_methods_supported", client_methods);
  w.String("revocation_endpoint", config.EndpointUrl(kRevocationPath));
  w.StringArray("revocation_endpoint_auth_methods_supported", client_methods);
  w.String("introspection_endpoint", config.EndpointUrl(kIntrospectionPath));
  w.StringArray("introspection_endpoint_auth_methods_supported", secret_methods);
  w.String("device_authorization_endpoint", config.EndpointUrl(kDeviceAuthorizationPath));
  // Request objects (OpenID Connect Core §6) are not supported; Discovery's default for request_uri is true.
  w.Bool("request_parameter_supported", false);
  w.Bool("request_uri_parameter_supported", false);
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
