// The protocol: every endpoint as a plain function of (Request, configuration, store, clock) -> Response. Nothing in
// oauth/ knows FastCGI, so unit tests drive Service::Handle directly with hand-made Requests.
//
// One Service per process, shared by all threads. It caches the parsed configuration (clients, resources, signing
// keys, and the discovery and JWKS documents rendered once) as an immutable snapshot, and swaps in a new snapshot
// when the store's config generation moves, so a key rotation or client change reaches every worker without a
// restart and the token path parses no JSON.
//
// Thread-safety: Handle() may be called from many threads at once.
#pragma once

#include <memory>
#include <string>

#include "config/config.h"
#include "http/request.h"
#include "oauth/request_log.h"
#include "store/store.h"
#include "token/key_encryption.h"
#include "util/clock.h"

namespace tf::oauth {

class Service {
 public:
  // `kek` (null: no key-encryption key) opens sealed keys (token/key_encryption.h); it must outlive the Service.
  Service(const Config& config, store::Store* store, const Clock* clock,
          const token::KeyEncryptionKey* kek = nullptr);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // The response to `request`; deferred (http/request.h) when it waits on a write that the store commits on another
  // thread (refresh rotation, code redemption, revocation on LMDB). `log` (may be null) is filled by the time the
  // answer is given, and must live until then.
  http::Response Handle(const http::Request& request, RequestLog* log);
  // Handle, waiting on this thread for a deferred answer (tests and fuzz targets).
  http::Response HandleAndWait(const http::Request& request, RequestLog* log) {
    return http::Await(Handle(request, log));
  }

  // Configuration rebuilds run on a thread of their own from now on, so no request waits for one (Catalog::
  // StartReloadThread). The worker calls it before serving; the thread stops with the Service.
  void StartReloadThread();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tf::oauth
