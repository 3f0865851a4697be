// The configuration as the token path sees it: an immutable Snapshot (snapshot.h) of clients, API scopes, API
// resources, identity resources and signing keys, loaded in ONE store read transaction (so it is consistent), with the discovery and
// JWKS documents rendered once. The token path looks things up in hash maps and parses no JSON.
//
// The Catalog holds the current snapshot and rebuilds it when the store's config generation moves; readers keep the
// snapshot they hold (shared_ptr) for the whole request, and a rebuild happens under a mutex, so one load at a time.
// - With StartReloadThread() (the worker calls it), rebuilds run on a thread of the Catalog's own and no request
//   waits for one: requests are answered with the previous snapshot until the new one is built. Who asks for the
//   generation depends on Store::ConfigCheckIntervalMs(): with 0 (LMDB) every request asks (one mdb_get) and wakes
//   the thread on a change; with an interval (PostgreSQL: 500 ms) the thread asks once per interval and requests
//   never do, so the token path makes no database round trip for it, and a change made on another host is served
//   within the interval plus one rebuild (milliseconds for a few clients, a quarter of a second with 10,000).
// - Without it (tokenctl, --check-config, CGI, tests), the request that notices the change rebuilds on its thread
//   (asking at most once per interval), and requests on other threads are answered with the previous snapshot
//   meanwhile.
// Only a process that has no snapshot yet loads one on the request's thread, and every request waits for that first
// load. If the store cannot be read, the last good snapshot keeps serving (logged once per run of failures by the
// reload thread); only a process that never loaded one answers errors.
//
// Keys: every stored key is opened with the key-encryption key when it is sealed (token/key_encryption.h; the
// session key too) and parsed with token::SigningKey::FromPrivatePem; a key that fails either is logged by kid only
// and skipped (a session key that does not open is logged and left empty). Per algorithm the `current` key signs (if several claim it, the newest); the JWKS publishes the
// current, next and retired keys, in that order.
//
// Thread-safety: a Snapshot is immutable and shared freely. Catalog::Current() may be called from many threads. The
// reload thread blocks every signal (a worker takes its signals in one thread, see http/fcgi_server.cc) and is
// stopped and joined by the destructor, after the rebuild it is running, if any, ends.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.h"
#include "oauth/snapshot.h"
#include "store/records.h"
#include "store/store.h"
#include "token/key_encryption.h"
#include "util/status.h"

namespace tf::oauth {

// Builds a snapshot from already-read records (used by the Catalog and by tests). `session_key` becomes
// Snapshot::session_key ("" = none).
std::shared_ptr<const Snapshot> BuildSnapshot(const Config& config, uint64_t generation,
                                              std::vector<store::Client> clients,
                                              std::vector<store::ApiScope> api_scopes,
                                              std::vector<store::ApiResource> api_resources,
                                              std::vector<store::IdentityResource> identity_resources,
                                              const std::vector<store::KeyRecord>& keys,
                                              std::string session_key = "");

// How the stored signing keys and the session key are kept at rest (the session key counts as one key).
struct KeysAtRest {
  size_t sealed = 0;  // encrypted with the key-encryption key, and opened with `kek`
  size_t clear = 0;
};
// Opens every stored signing key and the session key as the Catalog will, in one read transaction: the first that
// is sealed and does not open is an InvalidArgument naming it (by kid, never its material); when `kek` is null the
// message ends with `no_kek_reason` ("key_encryption_key_file is not set" when empty). The worker and
// `tokenfcgi --check-config` refuse to start on it.
Result<KeysAtRest> CheckKeysAtRest(store::Store& store, const token::KeyEncryptionKey* kek,
                                   std::string_view no_kek_reason);

class Catalog {
 public:
  // `kek` (may be null: no key-encryption key) must outlive the Catalog.
  Catalog(const Config& config, store::Store* store, const token::KeyEncryptionKey* kek = nullptr)
      : config_(config), store_(store), kek_(kek) {}
  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  // From now on, rebuilds run on a thread of the Catalog's own (see the top of this file). Call once, before the
  // Catalog is shared between threads; without it (tokenctl, --check-config, CGI, tests) a request thread rebuilds.
  void StartReloadThread();

  // The snapshot for this request: reloaded first if the store's generation moved and no reload thread runs (or no
  // snapshot was ever loaded); with the reload thread, the held snapshot while that thread rebuilds.
  Result<std::shared_ptr<const Snapshot>> Current();

 private:
  Result<std::shared_ptr<const Snapshot>> Load();
  // Loads and installs the snapshot of `generation` unless the held one has it already (reload_mu_ held); on a
  // failure the held snapshot stays and the load's error is returned.
  Status Install(uint64_t generation);
  // Install, then the held snapshot; a failure is logged, and returned only when no snapshot was ever loaded.
  Result<std::shared_ptr<const Snapshot>> Reload(uint64_t generation);
  void ReloadThreadMain();

  const Config& config_;
  store::Store* store_;
  const token::KeyEncryptionKey* kek_;
  std::mutex reload_mu_;    // one reload at a time
  mutable std::mutex mu_;   // guards snapshot_ (held only to copy or swap the pointer)
  std::shared_ptr<const Snapshot> snapshot_;
  // Steady-clock milliseconds before which Current() serves the held snapshot without asking for the generation.
  std::atomic<int64_t> next_check_ms_{0};

  // The reload thread and what it is asked to do (guarded by thread_mu_).
  std::thread reload_thread_;
  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool reload_wanted_ = false;
  bool stopping_ = false;
  std::atomic<bool> threaded_{false};  // StartReloadThread() has run
};

}  // namespace tf::oauth
