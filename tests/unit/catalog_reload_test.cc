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

// A Store over another whose next Read (the catalog's load) waits until Release(); it counts the catalog's
// ConfigGeneration() calls, can make them fail, and answers `interval_ms` as its check interval.
class SlowLoadStore final : public store::Store {
 public:
  explicit SlowLoadStore(store::Store* inner, int64_t interval_ms = 0) : inner_(inner), interval_ms_(interval_ms) {}

  int generation_calls() const { return generation_calls_.load(); }
  // ConfigGeneration() calls made on the thread that called this, from now on.
  int CountCallsOnThisThread() {
    std::lock_guard<std::mutex> lock(mu_);
    watched_ = std::this_thread::get_id();
    return watched_calls_;
  }
  int calls_on_watched_thread() {
    std::lock_guard<std::mutex> lock(mu_);
    return watched_calls_;
  }
  void FailGenerations(bool fail) { fail_generations_.store(fail); }

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
  Result<uint64_t> ConfigGeneration() override {
    ++generation_calls_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (std::this_thread::get_id() == watched_) ++watched_calls_;
    }
    if (fail_generations_.load()) return Status::Unavailable("the test made the store unreachable");
    return inner_->ConfigGeneration();
  }
  int64_t ConfigCheckIntervalMs() const override { return interval_ms_; }
  Result<store::StoreStats> Stats() override { return inner_->Stats(); }
  Status Backup(const std::string& directory) override { return inner_->Backup(directory); }
  Status GrowMap(uint64_t bytes) override { return inner_->GrowMap(bytes); }

 private:
  store::Store* inner_;
  const int64_t interval_ms_;
  std::atomic<int> generation_calls_{0};
  std::atomic<bool> fail_generations_{false};
  std::mutex mu_;
  std::thread::id watched_;
  int watched_calls_ = 0;
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

// With a check interval (the PostgreSQL store's), the reload thread asks for the generation once per interval and
// requests never do: a change is served without any request asking, and an unreachable store is logged once, not at
// every look, while the cached configuration keeps serving.
TEST(CatalogReloadTest, WithAnIntervalTheReloadThreadAsksForTheGenerationAndRequestsNever) {
  TempDir tmp("catalog_reload_interval");
  std::unique_ptr<store::Store> inner = OpenStoreOrNull(NewStoreOptions(tmp.Sub("db")));
  ASSERT_NE(inner, nullptr);
  ASSERT_TRUE(AddClient(*inner, "first").ok());
  constexpr int64_t kInterval = 50;
  SlowLoadStore counting(inner.get(), kInterval);
  Config config;
  config.issuer = "https://id.example.com";
  oauth::Catalog catalog(config, &counting);
  catalog.StartReloadThread();
  Result<std::shared_ptr<const oauth::Snapshot>> before = catalog.Current();  // the first load
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  const uint64_t old_generation = (*before)->generation;
  const int on_this_thread = counting.CountCallsOnThisThread();  // this thread plays the requests

  // Many requests, few looks: at most one per interval that passed, and one more for the look under way.
  const auto start = std::chrono::steady_clock::now();
  const int calls_before = counting.generation_calls();
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(catalog.Current().ok());
  const auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  };
  EXPECT_LE(counting.generation_calls() - calls_before, elapsed_ms() / kInterval + 2);

  // The change is served with no request asking for the generation.
  ASSERT_TRUE(AddClient(*inner, "second").ok());
  std::shared_ptr<const oauth::Snapshot> after;
  for (int i = 0; i < 1000 && after == nullptr; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    Result<std::shared_ptr<const oauth::Snapshot>> now = catalog.Current();
    ASSERT_TRUE(now.ok());
    if ((*now)->generation != old_generation) after = *now;
  }
  ASSERT_NE(after, nullptr) << "the reload thread never served the change";
  EXPECT_NE(after->FindClient("second"), nullptr);
  EXPECT_LE(counting.generation_calls() - calls_before, elapsed_ms() / kInterval + 2);
  EXPECT_EQ(counting.calls_on_watched_thread(), on_this_thread) << "a request asked for the generation";

  // An unreachable store: one log line for the run of failed looks, one when it is back; the cache serves meanwhile.
  ::testing::internal::CaptureStderr();
  counting.FailGenerations(true);
  const int failing_from = counting.generation_calls();
  for (int i = 0; i < 1000 && counting.generation_calls() < failing_from + 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    Result<std::shared_ptr<const oauth::Snapshot>> during = catalog.Current();
    ASSERT_TRUE(during.ok()) << during.status().ToString();
    EXPECT_EQ((*during)->generation, after->generation);
  }
  counting.FailGenerations(false);
  const int back_from = counting.generation_calls();
  for (int i = 0; i < 1000 && counting.generation_calls() < back_from + 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_GE(counting.generation_calls(), back_from + 2) << "the reload thread stopped asking";
  size_t failures = 0;
  for (size_t at = log.find("cannot reload the configuration"); at != std::string::npos;
       at = log.find("cannot reload the configuration", at + 1)) {
    ++failures;
  }
  EXPECT_EQ(failures, 1u) << log;
  EXPECT_NE(log.find("the test made the store unreachable"), std::string::npos) << log;
  EXPECT_NE(log.find("configuration reloaded again"), std::string::npos) << log;
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
