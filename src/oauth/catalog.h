// The configuration as the token path sees it: an immutable Snapshot of clients, API scopes, API resources, identity
// resources and signing keys, loaded in ONE store read transaction (so it is consistent), with the discovery and
// JWKS documents rendered once. The token path looks things up in hash maps and parses no JSON.
//
// The Catalog holds the current snapshot. Per request, Current() asks the store for its config generation (one
// mdb_get) and rebuilds the snapshot only when it moved; a rebuild happens under a mutex, so concurrent requests
// trigger one load, and readers keep the snapshot they hold (shared_ptr) for the whole request. If the store cannot
// be read, the last good snapshot keeps serving (logged); only a process that never loaded one answers errors.
//
// Keys: every stored key is parsed with token::SigningKey::FromPrivatePem; a key that fails is logged by kid only
// and skipped. Per algorithm the `current` key signs (if several claim it, the newest); the JWKS publishes the
// current, next and retired keys, in that order.
//
// Thread-safety: a Snapshot is immutable and shared freely. Catalog::Current() may be called from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/status.h"

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

  // The longest AccessTokenLifetime of any client (seconds; 0 without clients): how long a family revocation record
  // must be kept so that every JWT access token issued from the family has expired before the record goes.
  int64_t max_access_token_lifetime = 0;
  // max_access_token_lifetime + clock_skew_seconds: introspection accepts a JWT until exp + skew, so a family
  // revocation record is kept this long.
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

// Builds a snapshot from already-read records (used by the Catalog and by tests). `session_key` becomes
// Snapshot::session_key ("" = none).
std::shared_ptr<const Snapshot> BuildSnapshot(const Config& config, uint64_t generation,
                                              std::vector<store::Client> clients,
                                              std::vector<store::ApiScope> api_scopes,
                                              std::vector<store::ApiResource> api_resources,
                                              std::vector<store::IdentityResource> identity_resources,
                                              const std::vector<store::KeyRecord>& keys,
                                              std::string session_key = "");

class Catalog {
 public:
  Catalog(const Config& config, store::Store* store) : config_(config), store_(store) {}
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // The snapshot for this request, reloaded first if the store's generation moved.
  Result<std::shared_ptr<const Snapshot>> Current();

 private:
  Result<std::shared_ptr<const Snapshot>> Load();

  const Config& config_;
  store::Store* store_;
  std::mutex reload_mu_;    // one reload at a time
  mutable std::mutex mu_;   // guards snapshot_ (held only to copy or swap the pointer)
  std::shared_ptr<const Snapshot> snapshot_;
};

}  // namespace tf::oauth
