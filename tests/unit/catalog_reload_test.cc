// oauth::Catalog reloads off the other threads' path: while one thread rebuilds the snapshot after a configuration
// change, requests on other threads get the previous snapshot at once instead of waiting for the rebuild.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "oauth/catalog.h"
#include "store/store.h"
#include "test_env.h"

namespace tf {
namespace {

using testing::NewStoreOptions;
using testing::OpenStoreOrNull;
using testing::TempDir;

// A Store over another whose next Read (the catalog's load) waits until Release().
class SlowLoadStore final : public store::Store {
 public:
  explicit SlowLoadStore(store::Store* inner) : inner_(inner) {}

  void HoldNextRead() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = true;
  }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return holding_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = false;
    cv_.notify_all();
  }

  Status Read(const std::function<Status(store::Txn&)>& fn) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (hold_) {
        holding_ = true;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !hold_; });
      }
    }
    return inner_->Read(fn);
  }
  Status Update(const std::function<Status(store::Txn&)>& fn) override { return inner_->Update(fn); }
  Result<uint64_t> ConfigGeneration() override { return inner_->ConfigGeneration(); }
  Result<store::StoreStats> Stats() override { return inner_->Stats(); }
  Status Backup(const std::string& directory) override { return inner_->Backup(directory); }
  Status GrowMap(uint64_t bytes) override { return inner_->GrowMap(bytes); }

 private:
  store::Store* inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool holding_ = false;
};

Status AddClient(store::Store& s, const std::string& id) {
  return s.Update([&](store::Txn& t) {
    store::Client c;
    c.client_id = id;
    return t.PutClient(c);
  });
}

TEST(CatalogReloadTest, OtherThreadsKeepTheOldSnapshotWhileOneRebuilds) {
  TempDir tmp("catalog_reload");
  std::unique_ptr<store::Store> inner = OpenStoreOrNull(NewStoreOptions(tmp.Sub("db")));
  ASSERT_NE(inner, nullptr);
  ASSERT_TRUE(AddClient(*inner, "first").ok());
  SlowLoadStore slow(inner.get());
  Config config;
  config.issuer = "https://id.example.com";
  oauth::Catalog catalog(config, &slow);
  Result<std::shared_ptr<const oauth::Snapshot>> before = catalog.Current();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const uint64_t old_generation = (*before)->generation;

  ASSERT_TRUE(AddClient(*inner, "second").ok());  // the generation moves
  slow.HoldNextRead();
  auto rebuilding = std::async(std::launch::async, [&] { return catalog.Current(); });
  slow.WaitUntilHeld();  // that thread is inside the rebuild now

  auto other = std::async(std::launch::async, [&] { return catalog.Current(); });
  const bool answered = other.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  slow.Release();
  ASSERT_TRUE(answered) << "a request waited for another thread's rebuild";
  Result<std::shared_ptr<const oauth::Snapshot>> during = other.get();
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_EQ((*during)->generation, old_generation);

  Result<std::shared_ptr<const oauth::Snapshot>> rebuilt = rebuilding.get();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_GT((*rebuilt)->generation, old_generation);
  Result<std::shared_ptr<const oauth::Snapshot>> after = catalog.Current();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->generation, (*rebuilt)->generation);
}

// With the reload thread (as the worker runs it), not even the request that notices the change waits: every request
// is answered with the previous snapshot while that thread rebuilds, and the new one is served once it is built.
TEST(CatalogReloadTest, WithTheReloadThreadNoRequestWaitsForARebuild) {
  TempDir tmp("catalog_reload_thread");
  std::unique_ptr<store::Store> inner = OpenStoreOrNull(NewStoreOptions(tmp.Sub("db")));
  ASSERT_NE(inner, nullptr);
  ASSERT_TRUE(AddClient(*inner, "first").ok());
  SlowLoadStore slow(inner.get());
  Config config;
  config.issuer = "https://id.example.com";
  oauth::Catalog catalog(config, &slow);
  catalog.StartReloadThread();
  Result<std::shared_ptr<const oauth::Snapshot>> before = catalog.Current();  // the first load, on this thread
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const uint64_t old_generation = (*before)->generation;
  EXPECT_NE((*before)->FindClient("first"), nullptr);

  ASSERT_TRUE(AddClient(*inner, "second").ok());  // the generation moves
  slow.HoldNextRead();
  auto noticing = std::async(std::launch::async, [&] { return catalog.Current(); });
  const bool noticed = noticing.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  if (!noticed) slow.Release();
  ASSERT_TRUE(noticed) << "the request that noticed the change waited for the rebuild";
  Result<std::shared_ptr<const oauth::Snapshot>> first_answer = noticing.get();
  ASSERT_TRUE(first_answer.ok()) << first_answer.status().ToString();
  EXPECT_EQ((*first_answer)->generation, old_generation);

  slow.WaitUntilHeld();  // the reload thread is inside the rebuild now
  auto during = std::async(std::launch::async, [&] { return catalog.Current(); });
  const bool answered = during.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  slow.Release();
  ASSERT_TRUE(answered) << "a request waited for the reload thread's rebuild";
  Result<std::shared_ptr<const oauth::Snapshot>> during_answer = during.get();
  ASSERT_TRUE(during_answer.ok());
  EXPECT_EQ((*during_answer)->generation, old_generation);
  EXPECT_EQ((*during_answer)->FindClient("second"), nullptr);

  // Served once built.
  std::shared_ptr<const oauth::Snapshot> after;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    Result<std::shared_ptr<const oauth::Snapshot>> now = catalog.Current();
    ASSERT_TRUE(now.ok());
    if ((*now)->generation != old_generation) {
      after = *now;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(after, nullptr) << "the rebuilt snapshot was never served";
  EXPECT_GT(after->generation, old_generation);
  EXPECT_NE(after->FindClient("second"), nullptr);
}

// The destructor stops the reload thread, also while it waits for work and right after it was asked for a rebuild.
TEST(CatalogReloadTest, TheReloadThreadStopsWithTheCatalog) {
  TempDir tmp("catalog_reload_stop");
  std::unique_ptr<store::Store> s = OpenStoreOrNull(NewStoreOptions(tmp.Sub("db")));
  ASSERT_NE(s, nullptr);
  Config config;
  config.issuer = "https://id.example.com";
  { oauth::Catalog idle(config, s.get()); idle.StartReloadThread(); }
  {
    oauth::Catalog asked(config, s.get());
    asked.StartReloadThread();
    ASSERT_TRUE(asked.Current().ok());
    ASSERT_TRUE(AddClient(*s, "another").ok());
    ASSERT_TRUE(asked.Current().ok());  // wakes the thread; the destructor joins it after its rebuild
  }
}

}  // namespace
}  // namespace tf
