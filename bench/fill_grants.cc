// Fills the configured store with live refresh tokens, for `make bench`'s question whether the write path's cost is
// flat in the size of the database:
//
//   fill_grants --config FILE COUNT [BATCH]
//
// Each grant is what a login through the authorization code flow leaves behind (client "app", scopes "api1
// offline_access", a subject, a family of its own, its authentication data and a claim), valid for 30 days, under a
// chain key of its family with the check of a random handle, as the worker stores a login's refresh token
// (oauth/refresh_tokens.h); the writes go through the store's own Update in transactions of BATCH grants (default
// 10,000: a bulk load; 64, the largest batch of the worker's group commit, writes as the service itself would).
// Prints the grant count and the map use afterwards.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "config/config.h"
#include "oauth/refresh_tokens.h"
#include "store/store.h"
#include "util/crypto.h"

int main(int argc, char** argv) {
  if ((argc != 4 && argc != 5) || std::string(argv[1]) != "--config") {
    std::fprintf(stderr, "usage: fill_grants --config FILE COUNT [BATCH]\n");
    return 2;
  }
  const long long count = std::atoll(argv[3]);
  const long long batch = argc == 5 ? std::atoll(argv[4]) : 10000;
  if (batch < 1) {
    std::fprintf(stderr, "fill_grants: BATCH must be at least 1\n");
    return 2;
  }
  tf::Result<tf::Config> config = tf::LoadConfig(argv[2]);
  if (!config.ok()) {
    std::fprintf(stderr, "fill_grants: %s\n", config.status().message().c_str());
    return 1;
  }
  auto store = tf::store::OpenStore(tf::store::StoreOptionsFromConfig(*config));
  if (!store.ok()) {
    std::fprintf(stderr, "fill_grants: %s\n", store.status().message().c_str());
    return 1;
  }
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (long long done = 0; done < count;) {
    const long long n = count - done < batch ? count - done : batch;
    tf::Status st = (*store)->Update([&](tf::store::Txn& txn) -> tf::Status {
      for (long long i = 0; i < n; ++i) {
        tf::store::Grant g;
        g.kind = tf::store::GrantKind::kRefreshToken;
        g.client_id = "app";
        g.subject = "user-" + std::to_string(done + i);
        g.scopes = {"api1", "offline_access"};
        g.created = now;
        g.expires = now + 30 * 86400;
        g.family = tf::RandomHandle(16);
        g.auth_time = now;
        g.idp = "local";
        g.amr = {"pwd"};
        g.session_id = tf::RandomHandle(16);
        g.claims = {{"name", "User " + std::to_string(done + i), ""}};
        g.generation = 1;
        g.handle_check = tf::RandomBytes(tf::store::kHandleCheckSize);
        const std::string key = tf::oauth::RefreshChainKey(g.family, tf::RandomBytes(tf::oauth::kRefreshChainBytes));
        tf::Status put = txn.PutGrant(key, g);
        if (!put.ok()) return put;
      }
      return tf::Status::OK();
    });
    if (!st.ok()) {
      std::fprintf(stderr, "fill_grants: after %lld grants: %s\n", done, st.message().c_str());
      return 1;
    }
    done += n;
  }
  tf::Result<tf::store::StoreStats> stats = (*store)->Stats();
  if (stats.ok()) {
    std::printf("%llu grants, %llu of %llu bytes of the map used\n", static_cast<unsigned long long>(stats->grants),
                static_cast<unsigned long long>(stats->used_bytes), static_cast<unsigned long long>(stats->map_size));
  }
  return 0;
}
