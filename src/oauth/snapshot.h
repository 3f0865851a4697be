// The configuration as one request sees it: clients, API scopes, API resources, identity resources and signing keys,
// read in one store transaction, with the discovery and JWKS documents rendered once. Built by BuildSnapshot and held
// by the Catalog (catalog.h); the endpoints, the grant handlers and discovery read it.
//
// Thread-safety: a Snapshot is immutable once built and shared freely.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/records.h"
#include "token/jws.h"

namespace tf::oauth {

struct Snapshot {
  uint64_t generation = 0;

  std::unordered_map<std::string, store::Client> clients;             // by ClientId
  std::unordered_map<std::string, store::ApiScope> api_scopes;        // by Name
  std::vector<store::ApiResource> api_resources;                      // as listed by the store
  std::unordered_map<std::string, std::vector<size_t>> resources_by_scope;  // scope name -> enabled api_resources
  std::unordered_map<std::string, store::IdentityResource> identity_resources;  // by Name

  std::map<token::Alg, std::shared_ptr<const token::SigningKey>> current_keys;  // the signing key per alg
  std::vector<std::shared_ptr<const token::SigningKey>> published_keys;         // current, next, retired

  // store::FamilyRevocationRetention of the clients (seconds): a family revocation record is kept this long.
  int64_t family_revocation_retention = 0;

  // The key that signs session cookies and CSRF tokens of the authorize endpoint (session.h): 32 raw bytes from the
  // store's meta database (Txn::GetSessionKey), read in the same transaction as the rest of the snapshot. "" when
  // the store has none (a database opened read-only before a writable open created it) or the stored one is not 32
  // bytes (logged; `tokenctl session rotate-key` repairs it): the authorize endpoint then answers 500.
  std::string session_key;

  // The origins (util/origin.h, normalised) of every enabled client's AllowedCorsOrigins: the browser origins the
  // CORS endpoints answer (cors.h). An entry that is not an origin is logged and left out.
  std::set<std::string> cors_origins;

  std::string discovery_json;  // /.well-known/openid-configuration
  std::string jwks_json;       // /.well-known/openid-configuration/jwks

  const store::Client* FindClient(std::string_view client_id) const;
  const store::ApiScope* FindApiScope(std::string_view name) const;            // enabled or not
  const store::IdentityResource* FindIdentityResource(std::string_view name) const;
  std::shared_ptr<const token::SigningKey> CurrentKey(token::Alg alg) const;  // null if none
};

}  // namespace tf::oauth
