// Tests for how often oauth::Catalog asks its store for the configuration generation (Store::ConfigCheckIntervalMs):
// on LMDB at every request, so a change is seen at once; on PostgreSQL at most once per half second, so the token
// path makes no round trip in between, a change made through another handle (another host) is seen within that, and
// an unreachable server leaves the cached configuration serving. (With the worker's reload thread, the thread asks
// and requests never do: catalog_reload_test.)
#include "oauth/catalog.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "pg_cluster.h"
#include "store/store.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

store::Client MakeClient(const std::string& id) {
  store::Client c;
  c.client_id = id;
  c.allowed_grant_types = {"client_credentials"};
  return c;
}

uint64_t GenerationOf(Catalog& catalog) {
  Result<std::shared_ptr<const Snapshot>> s = catalog.Current();
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? (*s)->generation : ~0ull;
}

Config TestConfig() {
  Config config;
  config.issuer = "https://id.example.com";
  return config;
}

TEST(CatalogCheckInterval, LmdbSeesAChangeAtTheNextRequest) {
  testing::TempDir tmp("catalog_test");
  std::unique_ptr<store::Store> s = testing::OpenStoreOrNull(testing::NewStoreOptions(tmp.path() + "/db", true));
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->ConfigCheckIntervalMs(), 0);
  const Config config = TestConfig();
  Catalog catalog(config, s.get());
  EXPECT_EQ(GenerationOf(catalog), 0u);
  ASSERT_TRUE(s->Update([](store::Txn& t) { return t.PutClient(MakeClient("a")); }).ok());
  EXPECT_EQ(GenerationOf(catalog), 1u);
}

TEST(CatalogCheckInterval, PostgresChecksAtMostTwicePerSecondAndServesTheCacheThroughAnOutage) {
  Result<std::unique_ptr<testing::PgCluster>> cluster = testing::PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  store::StoreOptions o;
  o.path = (*cluster)->Uri();
  o.create = true;
  Result<std::unique_ptr<store::Store>> worker = store::OpenStore(o);
  ASSERT_TRUE(worker.ok()) << worker.status().ToString();
  ASSERT_EQ((*worker)->ConfigCheckIntervalMs(), 500);
  o.create = false;
  Result<std::unique_ptr<store::Store>> other_host = store::OpenStore(o);
  ASSERT_TRUE(other_host.ok()) << other_host.status().ToString();

  const Config config = TestConfig();
  Catalog catalog(config, worker->get());
  EXPECT_EQ(GenerationOf(catalog), 0u);
  const auto checked = std::chrono::steady_clock::now();
  ASSERT_TRUE((*other_host)->Update([](store::Txn& t) { return t.PutClient(MakeClient("a")); }).ok());
  // Within the interval the cached snapshot answers, without asking the server.
  if (std::chrono::steady_clock::now() - checked < std::chrono::milliseconds(400)) {
    EXPECT_EQ(GenerationOf(catalog), 0u);
  }
  // After it, the change made through the other handle is seen.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(GenerationOf(catalog), 1u);

  // The server goes away: the cached configuration keeps serving (the client_credentials path needs nothing else).
  ASSERT_TRUE((*cluster)->StopServer().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(GenerationOf(catalog), 1u);
  Result<std::shared_ptr<const Snapshot>> during = catalog.Current();
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_NE((*during)->FindClient("a"), nullptr);
  ASSERT_TRUE((*cluster)->StartServer().ok());
}

}  // namespace
}  // namespace tf::oauth
