#include "oauth/catalog.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "oauth/discovery.h"
#include "oauth/request_log.h"
#include "util/log.h"
#include "util/origin.h"

namespace tf::oauth {

std::shared_ptr<const Snapshot> BuildSnapshot(const Config& config, uint64_t generation,
                                              std::vector<store::Client> clients,
                                              std::vector<store::ApiScope> api_scopes,
                                              std::vector<store::ApiResource> api_resources,
                                              std::vector<store::IdentityResource> identity_resources,
                                              const std::vector<store::KeyRecord>& keys,
                                              std::string session_key) {
  auto s = std::make_shared<Snapshot>();
  s->generation = generation;
  s->session_key = std::move(session_key);
  s->family_revocation_retention = store::FamilyRevocationRetention(clients, config.clock_skew_seconds);
  for (store::Client& c : clients) {
    for (const std::string& origin : c.allowed_cors_origins) {
      if (!c.enabled) break;
      std::optional<std::string> normal = NormalizeOrigin(origin);
      if (normal.has_value()) {
        s->cors_origins.insert(std::move(*normal));
      } else {
        Logf(LogLevel::kWarn, "client %s: AllowedCorsOrigins entry '%s' is not an origin (scheme://host[:port]); "
             "ignored", SanitizeForLog(c.client_id).c_str(), SanitizeForLog(origin).c_str());
      }
    }
    std::string id = c.client_id;
    s->clients.emplace(std::move(id), std::move(c));
  }
  for (store::ApiScope& a : api_scopes) {
    std::string name = a.name;
    s->api_scopes.emplace(std::move(name), std::move(a));
  }
  s->api_resources = std::move(api_resources);
  for (size_t i = 0; i < s->api_resources.size(); ++i) {
    const store::ApiResource& r = s->api_resources[i];
    if (!r.enabled) continue;
    for (const std::string& scope : r.scopes) {
      std::vector<size_t>& list = s->resources_by_scope[scope];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
  }
  for (store::IdentityResource& r : identity_resources) {
    std::string name = r.name;
    s->identity_resources.emplace(std::move(name), std::move(r));
  }

  // Keys arrive ordered by creation time, so a later `current` key of the same alg replaces an earlier one.
  std::vector<std::shared_ptr<const token::SigningKey>> next, retired;
  std::vector<std::pair<token::Alg, std::shared_ptr<const token::SigningKey>>> current;
  for (const store::KeyRecord& k : keys) {
    const std::optional<token::Alg> alg = token::ParseAlg(k.alg);
    if (!alg.has_value()) {
      Logf(LogLevel::kError, "signing key %s: unknown alg; key skipped", SanitizeForLog(k.kid).c_str());
      continue;
    }
    Result<std::shared_ptr<const token::SigningKey>> key = token::SigningKey::FromPrivatePem(*alg, k.private_pem);
    if (!key.ok()) {
      Logf(LogLevel::kError, "signing key %s: cannot be loaded; key skipped", SanitizeForLog(k.kid).c_str());
      continue;
    }
    switch (k.state) {
      case store::KeyState::kCurrent:
        current.emplace_back(*alg, *key);
        s->current_keys[*alg] = *key;
        break;
      case store::KeyState::kNext:
        next.push_back(*key);
        break;
      case store::KeyState::kRetired:
        retired.push_back(*key);
        break;
    }
  }
  for (auto& [alg, key] : current) {
    if (s->current_keys[alg] != key) {
      Logf(LogLevel::kWarn, "signing key %s: more than one current %s key; the newest signs",
           SanitizeForLog(key->kid()).c_str(), std::string(token::AlgName(alg)).c_str());
    }
    s->published_keys.push_back(key);
  }
  for (auto& k : next) s->published_keys.push_back(std::move(k));
  for (auto& k : retired) s->published_keys.push_back(std::move(k));

  s->discovery_json = RenderDiscoveryDocument(config, *s);
  s->jwks_json = RenderJwks(*s);
  return s;
}

Result<std::shared_ptr<const Snapshot>> Catalog::Load() {
  uint64_t generation = 0;
  std::vector<store::Client> clients;
  std::vector<store::ApiScope> api_scopes;
  std::vector<store::ApiResource> api_resources;
  std::vector<store::IdentityResource> identity_resources;
  std::vector<store::KeyRecord> keys;
  std::string session_key;
  const Status st = store_->Read([&](store::Txn& txn) -> Status {
    Result<uint64_t> g = txn.ConfigGeneration();
    if (!g.ok()) return g.status();
    generation = *g;
    Result<std::vector<store::Client>> c = txn.ListClients();
    if (!c.ok()) return c.status();
    clients = std::move(c).value();
    Result<std::vector<store::ApiScope>> a = txn.ListApiScopes();
    if (!a.ok()) return a.status();
    api_scopes = std::move(a).value();
    Result<std::vector<store::ApiResource>> r = txn.ListApiResources();
    if (!r.ok()) return r.status();
    api_resources = std::move(r).value();
    Result<std::vector<store::IdentityResource>> i = txn.ListIdentityResources();
    if (!i.ok()) return i.status();
    identity_resources = std::move(i).value();
    Result<std::vector<store::KeyRecord>> k = txn.ListKeys();
    if (!k.ok()) return k.status();
    keys = std::move(k).value();
    // In the same transaction, so the key always belongs to this generation. Without a usable key (NotFound: a
    // database opened read-only that no writable open has upgraded; Corruption: a stored value of the wrong size) it
    // stays empty: the authorize endpoint answers 500, and every other endpoint keeps working.
    Result<std::string> sk = txn.GetSessionKey();
    if (sk.ok()) {
      session_key = std::move(sk).value();
    } else if (sk.status().code() == Status::Code::kCorruption) {
      Logf(LogLevel::kError, "%s; the authorize endpoint is unavailable until: tokenctl session rotate-key",
           sk.status().message().c_str());
    } else if (!sk.status().IsNotFound()) {
      return sk.status();
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return BuildSnapshot(config_, generation, std::move(clients), std::move(api_scopes), std::move(api_resources),
                       std::move(identity_resources), keys, std::move(session_key));
}

Result<std::shared_ptr<const Snapshot>> Catalog::Current() {
  std::shared_ptr<const Snapshot> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = snapshot_;
  }
  const int64_t interval = store_->ConfigCheckIntervalMs();
  if (interval > 0) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    if (held && now < next_check_ms_.load(std::memory_order_relaxed)) return held;
    next_check_ms_.store(now + interval, std::memory_order_relaxed);
  }
  const Result<uint64_t> generation = store_->ConfigGeneration();
  if (!generation.ok()) {
    if (held) {
      Logf(LogLevel::kWarn, "cannot read the config generation (%s); serving the cached configuration",
           generation.status().ToString().c_str());
      return held;
    }
    return generation.status();
  }
  if (held && held->generation == *generation) return held;

  std::lock_guard<std::mutex> reload(reload_mu_);
  {
    // Another thread may have reloaded while this one waited.
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ && snapshot_->generation == *generation) return snapshot_;
    held = snapshot_;
  }
  Result<std::shared_ptr<const Snapshot>> loaded = Load();
  if (!loaded.ok()) {
    if (held) {
      Logf(LogLevel::kError, "cannot reload the configuration (%s); serving generation %llu",
           loaded.status().ToString().c_str(), static_cast<unsigned long long>(held->generation));
      return held;
    }
    return loaded.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = *loaded;
  return snapshot_;
}

}  // namespace tf::oauth
