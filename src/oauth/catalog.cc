#include "oauth/catalog.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <pthread.h>
#include <signal.h>
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

Result<KeysAtRest> CheckKeysAtRest(store::Store& store, const token::KeyEncryptionKey* kek,
                                   std::string_view no_kek_reason) {
  std::vector<store::KeyRecord> keys;
  std::optional<std::string> session_key;
  TF_RETURN_IF_ERROR(store.Read([&](store::Txn& txn) -> Status {
    Result<std::vector<store::KeyRecord>> k = txn.ListKeys();
    if (!k.ok()) return k.status();
    keys = std::move(k).value();
    Result<std::string> sk = txn.GetSessionKey();
    if (sk.ok()) session_key = std::move(sk).value();
    return Status::OK();
  }));
  const std::string reason = no_kek_reason.empty() ? "key_encryption_key_file is not set" : std::string(no_kek_reason);
  auto refuse = [&](const std::string& what, const Status& why) {
    return Status::InvalidArgument(what + (kek == nullptr ? " is encrypted at rest and " + reason : " " + why.message()));
  };
  KeysAtRest at_rest;
  for (const store::KeyRecord& k : keys) {
    if (!token::IsSealedPrivateKey(k.private_pem)) {
      ++at_rest.clear;
      continue;
    }
    Result<std::string> pem = token::OpenPrivateKey(kek, k.kid, k.private_pem);
    if (!pem.ok()) return refuse("signing key " + SanitizeForLog(k.kid), pem.status());
    ++at_rest.sealed;
  }
  if (session_key.has_value()) {
    if (!token::IsSealedSessionKey(*session_key)) {
      ++at_rest.clear;
    } else {
      Result<std::string> key = token::OpenSessionKey(kek, *session_key);
      if (!key.ok()) return refuse("the session key", key.status());
      ++at_rest.sealed;
    }
  }
  return at_rest;
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
      Result<std::string> opened = token::OpenSessionKey(kek_, *sk);
      if (opened.ok()) {
        session_key = std::move(opened).value();
      } else {
        Logf(LogLevel::kError, "meta 'session_key' %s; the authorize endpoint is unavailable",
             opened.status().message().c_str());
      }
    } else if (sk.status().code() == Status::Code::kCorruption) {
      Logf(LogLevel::kError, "%s; the authorize endpoint is unavailable until: tokenctl session rotate-key",
           sk.status().message().c_str());
    } else if (!sk.status().IsNotFound()) {
      return sk.status();
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  // Sealed private keys are opened here, outside the transaction. One that does not open with this process's KEK
  // (sealed again with a KEK it has not read: tokenctl key encrypt or kek rotate while it runs) keeps the copy the
  // current snapshot holds under the same kid, an RFC 7638 thumbprint and so the same key pair; without one it is
  // skipped as a key that does not parse is.
  std::shared_ptr<const Snapshot> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = snapshot_;
  }
  std::vector<store::KeyRecord> usable;
  usable.reserve(keys.size());
  for (store::KeyRecord& k : keys) {
    Result<std::string> pem = token::OpenPrivateKey(kek_, k.kid, k.private_pem);
    if (!pem.ok() && previous) {
      const Status why = pem.status();
      for (const std::shared_ptr<const token::SigningKey>& held : previous->published_keys) {
        if (held->kid() == k.kid) pem = held->PrivatePem();
      }
      if (pem.ok()) {
        Logf(LogLevel::kWarn, "signing key %s %s; serving the copy loaded before (restart the worker)",
             SanitizeForLog(k.kid).c_str(), why.message().c_str());
      }
    }
    if (!pem.ok()) {
      Logf(LogLevel::kError, "signing key %s %s; key skipped", SanitizeForLog(k.kid).c_str(),
           pem.status().message().c_str());
      continue;
    }
    k.private_pem = std::move(pem).value();
    usable.push_back(std::move(k));
  }
  keys = std::move(usable);
  return BuildSnapshot(config_, generation, std::move(clients), std::move(api_scopes), std::move(api_resources),
                       std::move(identity_resources), keys, std::move(session_key));
}

Catalog::~Catalog() {
  {
    std::lock_guard<std::mutex> lock(thread_mu_);
    stopping_ = true;
  }
  thread_cv_.notify_all();
  if (reload_thread_.joinable()) reload_thread_.join();
}

void Catalog::StartReloadThread() {
  if (reload_thread_.joinable()) return;
  // The thread inherits this mask: no signal is ever delivered to it, whichever thread starts it and whenever.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    reload_thread_ = std::thread(&Catalog::ReloadThreadMain, this);
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  threaded_.store(true, std::memory_order_release);
}

void Catalog::ReloadThreadMain() {
  // With a check interval (PostgreSQL), this thread asks for the generation once per interval, and requests never
  // do; without one (LMDB), requests ask (one mdb_get) and wake it. A failure is logged once per run of failures.
  const int64_t interval = store_->ConfigCheckIntervalMs();
  bool failing = false;
  std::unique_lock<std::mutex> lock(thread_mu_);
  for (;;) {
    const auto asked = [&] { return stopping_ || reload_wanted_; };
    if (interval > 0) {
      thread_cv_.wait_for(lock, std::chrono::milliseconds(interval), asked);
    } else {
      thread_cv_.wait(lock, asked);
    }
    if (stopping_) return;
    reload_wanted_ = false;
    lock.unlock();
    // Requests that noticed the change while this thread was rebuilding asked again; the generation read here tells
    // whether the snapshot just built is already the one they want.
    const Result<uint64_t> generation = store_->ConfigGeneration();
    Status reloaded = generation.status();
    if (generation.ok()) {
      std::lock_guard<std::mutex> reload(reload_mu_);
      reloaded = Install(*generation);
    }
    if (!reloaded.ok() && !failing) {
      Logf(LogLevel::kError, "cannot reload the configuration (%s); serving the cached configuration until it can",
           reloaded.ToString().c_str());
    } else if (reloaded.ok() && failing) {
      Logf(LogLevel::kInfo, "configuration reloaded again after a failure");
    }
    failing = !reloaded.ok();
    lock.lock();
  }
}

Status Catalog::Install(uint64_t generation) {
  {
    // Another thread may have reloaded while this one waited.
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ && snapshot_->generation == generation) return Status::OK();
  }
  Result<std::shared_ptr<const Snapshot>> loaded = Load();
  if (!loaded.ok()) return loaded.status();
  std::lock_guard<std::mutex> lock(mu_);
  snapshot_ = *loaded;
  return Status::OK();
}

Result<std::shared_ptr<const Snapshot>> Catalog::Reload(uint64_t generation) {
  const Status installed = Install(generation);
  std::shared_ptr<const Snapshot> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = snapshot_;
  }
  if (!installed.ok()) {
    if (!held) return installed;
    Logf(LogLevel::kError, "cannot reload the configuration (%s); serving generation %llu",
         installed.ToString().c_str(), static_cast<unsigned long long>(held->generation));
  }
  return held;
}

Result<std::shared_ptr<const Snapshot>> Catalog::Current() {
  std::shared_ptr<const Snapshot> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = snapshot_;
  }
  const int64_t interval = store_->ConfigCheckIntervalMs();
  const bool threaded = threaded_.load(std::memory_order_acquire);
  if (held && threaded && interval > 0) return held;  // the reload thread asks for the generation
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

  // The reload thread rebuilds; this request, as every other until the new snapshot is in place, is answered with
  // the one it found.
  if (held && threaded) {
    {
      std::lock_guard<std::mutex> lock(thread_mu_);
      reload_wanted_ = true;
    }
    thread_cv_.notify_one();
    return held;
  }

  // Without the reload thread, one request thread rebuilds; while it does (a quarter of a second with 10,000
  // clients), every other request keeps being answered with the snapshot it found instead of waiting. Only a process
  // that has none yet waits for the first.
  std::unique_lock<std::mutex> reload(reload_mu_, std::defer_lock);
  if (!held) {
    reload.lock();
  } else if (!reload.try_lock()) {
    return held;
  }
  return Reload(*generation);
}

}  // namespace tf::oauth
