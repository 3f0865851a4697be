// libFuzzer target for the authorization endpoint, end to end through Service::Handle with a real LMDB store (made
// once in a temporary directory). The input is a request: its first byte picks GET (query) or POST (form body), the
// rest up to the first '\n' is the query or body, and the remainder is the Cookie header. Whatever arrives:
//   - the answer is one of the endpoint's statuses and carries Cache-Control: no-store;
//   - a redirect (302) or a form_post page only ever goes to the client's registered redirect URI: no input can make
//     the endpoint send a browser anywhere else (RFC 6749 §4.1.2.1, §10.15).
// A session cookie cannot be forged (its MAC), so no code is issued and nothing is written: each run is independent.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "oauth/service.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

namespace {

constexpr std::string_view kRedirect = "https://app.example/cb";

struct World {
  tf::Config config;
  std::unique_ptr<tf::store::Store> store;
  tf::ManualClock clock{1700000000};
  std::unique_ptr<tf::oauth::Service> service;
};

char dir[] = "/tmp/tf_authorize_fuzz.XXXXXX";

// The store's files go when the fuzzer exits (libFuzzer ends with exit(), so atexit handlers run).
void RemoveStore() {
  unlink((std::string(dir) + "/data.mdb").c_str());
  unlink((std::string(dir) + "/lock.mdb").c_str());
  rmdir(dir);
}

World* MakeWorld() {
  if (mkdtemp(dir) == nullptr) abort();
  atexit(RemoveStore);
  auto* w = new World;
  w->config.issuer = "https://id.example";
  w->config.database = dir;
  w->config.map_size = 16 << 20;
  w->config.login_providers = {"local", "remote_user"};
  tf::SetLogLevel(tf::LogLevel::kError);
  tf::store::StoreOptions options;
  options.path = dir;
  options.map_size = w->config.map_size;
  options.create = true;
  auto store = tf::store::Store::Open(options);
  if (!store.ok()) abort();
  w->store = std::move(store).value();
  const tf::Status st = w->store->Update([](tf::store::Txn& txn) -> tf::Status {
    tf::store::Client c;
    c.client_id = "app";
    c.require_client_secret = false;
    c.allowed_grant_types = {"authorization_code"};
    c.redirect_uris = {std::string(kRedirect)};
    c.allowed_scopes = {"openid", "api1"};
    c.allow_offline_access = true;
    c.allow_plain_text_pkce = true;
    TF_RETURN_IF_ERROR(txn.PutClient(c));
    tf::store::IdentityResource openid;
    openid.name = "openid";
    openid.user_claims = {"sub"};
    TF_RETURN_IF_ERROR(txn.PutIdentityResource(openid));
    tf::store::ApiScope api;
    api.name = "api1";
    return txn.PutApiScope(api);
  });
  if (!st.ok()) abort();
  w->service = std::make_unique<tf::oauth::Service>(w->config, w->store.get(), &w->clock);
  return w;
}

std::string_view Header(const tf::http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = MakeWorld();
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nl = input.find('\n');
  const std::string_view params = input.substr(0, nl);
  const std::string_view cookie = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  tf::http::Request r;
  r.path = "/connect/authorize";
  if ((data[0] & 1) == 0) {
    r.method = "GET";
    r.query = std::string(params);
  } else {
    r.method = "POST";
    r.content_type = "application/x-www-form-urlencoded";
    r.body = std::string(params);
  }
  r.cookie = std::string(cookie);
  if ((data[0] & 2) != 0) r.remote_user = "alice";
  const tf::http::Response response = world->service->HandleAndWait(r, nullptr);

  switch (response.status) {
    case 200: case 302: case 400: case 401: case 413: case 500: break;
    default: abort();
  }
  if (Header(response, "Cache-Control") != "no-store") abort();
  if (response.status == 302) {
    const std::string_view location = Header(response, "Location");
    if (location.substr(0, kRedirect.size()) != kRedirect) abort();
    const char next = location.size() > kRedirect.size() ? location[kRedirect.size()] : '\0';
    if (next != '?') abort();
  }
  if (response.status == 200 && response.body.find("<form method=\"post\" action=\"https://app.example/cb\"") ==
                                    std::string::npos &&
      response.body.find("action=\"https://") != std::string::npos &&
      response.body.find("action=\"https://id.example/connect/authorize\"") == std::string::npos) {
    abort();  // a page that posts anywhere but the login endpoint or the registered redirect URI
  }
  return 0;
}
