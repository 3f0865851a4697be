// Group commit in the LMDB store (store/lmdb_store.cc): Update() calls of several threads of one process share one
// write transaction, each callback in its own nested transaction. These are LMDB-specific TEST()s beside the
// conformance suite (store_contract.h), which every Store passes unchanged.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "test_env.h"

namespace tf {
namespace {

using store::Client;
using store::Store;
using store::Txn;
using testing::NewStoreOptions;
using testing::OpenStoreOrNull;
using testing::TempDir;

Client NamedClient(const std::string& id, const std::string& name) {
  Client c;
  c.client_id = id;
  c.client_name = name;
  return c;
}

// How many of `ids` a read transaction sees right now.
size_t Visible(Store* s, const std::vector<std::string>& ids) {
  size_t n = 0;
  const Status st = s->Read([&](Txn& txn) {
    for (const std::string& id : ids) n += txn.GetClient(id).ok() ? 1 : 0;
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return n;
}

class GroupCommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStoreOrNull(NewStoreOptions(tmp_.Sub("db"), true, 64u << 20));
    ASSERT_NE(store_, nullptr);
  }

  // Runs `fn(i)` on `n` threads at once (released together) and joins them.
  template <typename Fn>
  static void OnThreads(int n, Fn fn) {
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        while (!go.load()) std::this_thread::yield();
        fn(i);
      });
    }
    go.store(true);
    for (std::thread& t : threads) t.join();
  }

  // Holds the writer of this process in a callback until `n` other threads have entered Update() (and a little
  // longer, so that all of them are queued), so that those `n` run as one batch; `others(i)` is thread i's call.
  // Returns once all have returned.
  template <typename Fn>
  void OneBatch(int n, Fn others) {
    std::atomic<bool> holding{false};
    std::atomic<int> entered{0};
    std::thread holder([&] {
      const Status s = store_->Update([&](Txn&) {
        holding.store(true);
        while (entered.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return Status::OK();
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    });
    while (!holding.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        entered.fetch_add(1);
        others(i);
      });
    }
    for (std::thread& t : threads) t.join();
    holder.join();
  }

  // `got` holds the counter values the successful increments read, per thread: 0 to expected-1, each once, and the
  // counter ends at `expected`.
  void ExpectEachCounterValueOnce(const std::vector<std::vector<int>>& got, size_t expected) {
    std::set<int> values;
    size_t n = 0;
    for (const auto& g : got) {
      values.insert(g.begin(), g.end());
      n += g.size();
    }
    EXPECT_EQ(n, expected);
    EXPECT_EQ(values.size(), expected) << "two requests read the same counter value";
    ASSERT_FALSE(values.empty());
    EXPECT_EQ(*values.begin(), 0);
    EXPECT_EQ(*values.rbegin(), static_cast<int>(expected) - 1);
    Client final_counter;
    ASSERT_TRUE(store_->Read([&](Txn& txn) -> Status {
      Result<Client> c = txn.GetClient("counter");
      if (!c.ok()) return c.status();
      final_counter = *c;
      return Status::OK();
    }).ok());
    EXPECT_EQ(final_counter.client_name, std::to_string(expected));
  }

  TempDir tmp_{"group_commit"};
  std::unique_ptr<Store> store_;
};

// Requests queued behind a running writer commit together: while the batch runs, a reader sees none of its writes
// (they are one transaction, not one each), and afterwards all of them. Without batching, the later callbacks of
// the group would find the earlier requests' clients committed.
TEST_F(GroupCommitTest, QueuedUpdatesShareOneTransaction) {
  constexpr int kN = 8;
  std::vector<std::string> ids;
  for (int i = 0; i < kN; ++i) ids.push_back("batched-" + std::to_string(i));
  std::atomic<int> saw_committed{0};
  OneBatch(kN, [&](int i) {
    const Status s = store_->Update([&](Txn& txn) {
      // Another thread reads while this callback runs inside the batch.
      size_t seen = 0;
      std::thread reader([&] { seen = Visible(store_.get(), ids); });
      reader.join();
      if (seen != 0) saw_committed.fetch_add(1);
      return txn.PutClient(NamedClient(ids[i], "n"));
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  EXPECT_EQ(saw_committed.load(), 0) << "requests of one batch were committed one by one";
  EXPECT_EQ(Visible(store_.get(), ids), static_cast<size_t>(kN));
}

// A request that queues while a batch's callbacks run joins that batch before its commit, instead of waiting for it
// and paying for a commit of its own: a reader on another thread, during the late request's callback, does not yet
// see what the batch's first request wrote (one transaction). Without the joining, the late request would run in the
// next batch, after that write was committed.
TEST_F(GroupCommitTest, RequestsQueuedDuringABatchJoinItBeforeItCommits) {
  std::atomic<bool> first{true}, late_entered{false};
  std::atomic<int> wrote{0};
  std::thread late;
  OneBatch(2, [&](int i) {
    const Status s = store_->Update([&](Txn& txn) -> Status {
      if (first.exchange(false)) {  // the batch's first callback: holds it until the late request has queued
        late = std::thread([&] {
          late_entered.store(true);
          size_t seen = 1;
          const Status ls = store_->Update([&](Txn& ltxn) {
            std::thread reader([&] { seen = Visible(store_.get(), {"early-0", "early-1"}); });
            reader.join();
            return ltxn.PutClient(NamedClient("late", "n"));
          });
          EXPECT_TRUE(ls.ok()) << ls.ToString();
          EXPECT_EQ(seen, 0u) << "the late request ran after the batch it queued behind had committed";
        });
        while (!late_entered.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
      wrote.fetch_add(1);
      return txn.PutClient(NamedClient("early-" + std::to_string(i), "n"));
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  });
  late.join();
  EXPECT_EQ(wrote.load(), 2);
  EXPECT_EQ(Visible(store_.get(), {"early-0", "early-1", "late"}), 3u);
}

// In one batch, a callback that fails after writing, and one that throws after writing, leave no write behind and
// get their own outcome; every neighbour commits and gets OK.
TEST_F(GroupCommitTest, FailingCallbackLeavesNoWriteAndDoesNotFailNeighbours) {
  constexpr int kN = 9;
  std::vector<Status> results(kN);
  std::vector<char> threw(kN, 0);  // not vector<bool>: its elements share words, which threads must not write at once
  OneBatch(kN, [&](int i) {
    try {
      results[i] = store_->Update([&](Txn& txn) -> Status {
        TF_RETURN_IF_ERROR(txn.PutClient(NamedClient("c" + std::to_string(i), "n")));
        if (i % 3 == 1) return Status::Conflict("refused " + std::to_string(i));
        if (i % 3 == 2) throw std::runtime_error("thrown " + std::to_string(i));
        return Status::OK();
      });
    } catch (const std::runtime_error& e) {
      threw[i] = 1;
      EXPECT_EQ(std::string(e.what()), "thrown " + std::to_string(i));  // its own exception, not a neighbour's
    }
  });
  for (int i = 0; i < kN; ++i) {
    const std::string id = "c" + std::to_string(i);
    EXPECT_EQ(Visible(store_.get(), {id}), i % 3 == 0 ? 1u : 0u) << id;
    EXPECT_EQ(threw[i] != 0, i % 3 == 2) << id;
    if (i % 3 == 0) {
      EXPECT_TRUE(results[i].ok()) << id << ": " << results[i].ToString();
    }
    if (i % 3 == 1) {
      EXPECT_EQ(results[i].code(), Status::Code::kConflict) << id;
      EXPECT_EQ(results[i].message(), "refused " + std::to_string(i));
    }
  }
}

// Many threads updating at once, without any pause: each gets its own result, and read-modify-write callbacks in a
// batch see their predecessors' writes (every increment counted once, every value handed out once).
TEST_F(GroupCommitTest, ConcurrentUpdatesEachGetTheirOwnResult) {
  constexpr int kThreads = 16, kEach = 40;
  ASSERT_TRUE(store_->Update([](Txn& txn) { return txn.PutClient(NamedClient("counter", "0")); }).ok());
  std::vector<std::vector<int>> got(kThreads);
  std::atomic<int> wrong{0};
  OnThreads(kThreads, [&](int t) {
    for (int k = 0; k < kEach; ++k) {
      int value = -1;
      const bool fail = k % 5 == 4;
      const Status s = store_->Update([&](Txn& txn) -> Status {
        Result<Client> c = txn.GetClient("counter");
        if (!c.ok()) return c.status();
        value = std::stoi(c->client_name);
        if (fail) return Status::InvalidArgument("mine " + std::to_string(t) + "/" + std::to_string(k));
        return txn.PutClient(NamedClient("counter", std::to_string(value + 1)));
      });
      if (fail) {
        if (s.message() != "mine " + std::to_string(t) + "/" + std::to_string(k)) wrong.fetch_add(1);
      } else if (!s.ok()) {
        wrong.fetch_add(1);
      } else {
        got[t].push_back(value);
      }
    }
  });
  EXPECT_EQ(wrong.load(), 0);
  ExpectEachCounterValueOnce(got, kThreads * (kEach - kEach / 5));
}

// Single use under races, within one process: of many threads removing the same record at once (a redemption), in
// whatever batches they meet, exactly one succeeds.
TEST_F(GroupCommitTest, SingleUseUnderRacesInOneProcess) {
  constexpr int kThreads = 12, kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = "once-" + std::to_string(round);
    ASSERT_TRUE(store_->Update([&](Txn& txn) { return txn.PutClient(NamedClient(id, "n")); }).ok());
    std::atomic<int> won{0}, lost{0};
    OnThreads(kThreads, [&](int) {
      const Status s = store_->Update([&](Txn& txn) { return txn.RemoveClient(id); });
      if (s.ok()) won.fetch_add(1);
      if (s.code() == Status::Code::kNotFound) lost.fetch_add(1);
    });
    EXPECT_EQ(won.load(), 1) << id;
    EXPECT_EQ(lost.load(), kThreads - 1) << id;
  }
}

// More requests queued than one batch takes (64): every one of them runs, in the batches that follow, and each
// caller returns only once its own request ran.
TEST_F(GroupCommitTest, MoreQueuedThanOneBatchTakes) {
  constexpr int kN = 150;
  std::vector<std::string> ids;
  for (int i = 0; i < kN; ++i) ids.push_back("many-" + std::to_string(i));
  std::atomic<int> failed{0};
  OneBatch(kN, [&](int i) {
    const Status s = store_->Update([&](Txn& txn) { return txn.PutClient(NamedClient(ids[i], "n")); });
    if (!s.ok()) failed.fetch_add(1);
    if (Visible(store_.get(), {ids[i]}) != 1) failed.fetch_add(1);
  });
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(Visible(store_.get(), ids), static_cast<size_t>(kN));
}

// UpdateAsync, returning before its write is committed, with its result passed to `done`: as Update's, and an
// exception as Internal. Waits for it here (the worker's threads do not).
Status UpdateAndWaitForDone(Store* s, std::function<Status(Txn&)> fn) {
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> result = done->get_future();
  s->UpdateAsync(std::move(fn), [done](Status st) { done->set_value(std::move(st)); });
  return result.get();
}

// Threads that wait for their writes (Update) and requests that do not (UpdateAsync, led by the committer thread)
// share batches and hand the lead to each other: every request runs once, sees its predecessors' writes, and gets its
// own outcome (a failure its status, an exception Internal with its message), as in
// ConcurrentUpdatesEachGetTheirOwnResult.
TEST_F(GroupCommitTest, AsyncAndWaitingUpdatesShareBatchesAndEachGetTheirOwnResult) {
  constexpr int kThreads = 16, kEach = 40;
  ASSERT_TRUE(store_->Update([](Txn& txn) { return txn.PutClient(NamedClient("counter", "0")); }).ok());
  std::vector<std::vector<int>> got(kThreads);
  std::atomic<int> wrong{0};
  OnThreads(kThreads, [&](int t) {
    for (int k = 0; k < kEach; ++k) {
      auto value = std::make_shared<int>(-1);  // shared with the callback, which may run on the committer thread
      const bool fail = k % 5 == 4, throws = k % 7 == 6, async = (t + k) % 2 == 0;
      const std::string mine = std::to_string(t) + "/" + std::to_string(k);
      std::function<Status(Txn&)> fn = [value, fail, throws, mine](Txn& txn) -> Status {
        Result<Client> c = txn.GetClient("counter");
        if (!c.ok()) return c.status();
        *value = std::stoi(c->client_name);
        if (fail) return Status::InvalidArgument("mine " + mine);
        if (throws) throw std::runtime_error("thrown " + mine);
        return txn.PutClient(NamedClient("counter", std::to_string(*value + 1)));
      };
      Status s;
      if (async) {
        s = UpdateAndWaitForDone(store_.get(), fn);
      } else {
        try {
          s = store_->Update(fn);
        } catch (const std::runtime_error& e) {
          s = Status::Internal(std::string("the write failed: ") + e.what());
        }
      }
      if (fail) {
        if (s.message() != "mine " + mine) wrong.fetch_add(1);
      } else if (throws) {
        if (s.code() != Status::Code::kInternal || s.message() != "the write failed: thrown " + mine) {
          wrong.fetch_add(1);
        }
      } else if (!s.ok()) {
        wrong.fetch_add(1);
      } else {
        got[t].push_back(*value);
      }
    }
  });
  EXPECT_EQ(wrong.load(), 0);
  size_t succeeded = 0;
  for (int k = 0; k < kEach; ++k) succeeded += k % 5 != 4 && k % 7 != 6 ? 1 : 0;
  ExpectEachCounterValueOnce(got, kThreads * succeeded);
}

// `done` comes after the commit: a read transaction started from it sees the write (safe here: the batch's write
// transaction has ended by then). And UpdateAsync returns before the write runs when a writer of this process is
// busy: queued behind a held batch, none of the requests has run when their calls have all returned.
TEST_F(GroupCommitTest, AsyncUpdateReturnsAtOnceAndAnswersAfterTheCommit) {
  constexpr int kN = 10;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, visible = 0;
  std::atomic<int> ran{0};
  OneBatch(1, [&](int) {
    for (int i = 0; i < kN; ++i) {
      const std::string id = "async-" + std::to_string(i);
      store_->UpdateAsync(
          [id, &ran](Txn& txn) {
            ran.fetch_add(1);
            return txn.PutClient(NamedClient(id, "n"));
          },
          [&, id](Status st) {
            EXPECT_TRUE(st.ok()) << st.ToString();
            const size_t seen = Visible(store_.get(), {id});
            std::lock_guard<std::mutex> lock(mu);
            visible += static_cast<int>(seen);
            ++answered;
            cv.notify_all();
          });
    }
    EXPECT_EQ(ran.load(), 0) << "UpdateAsync ran its write on the calling thread, behind a busy writer";
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return answered == kN; }));
  EXPECT_EQ(visible, kN);
}

// Closing the store finishes the queue first: every queued request is committed and answered.
TEST_F(GroupCommitTest, ClosingTheStoreCommitsAndAnswersQueuedAsyncUpdates) {
  constexpr int kN = 30;
  std::vector<std::string> ids;
  for (int i = 0; i < kN; ++i) ids.push_back("closing-" + std::to_string(i));
  std::atomic<int> ok{0};
  OneBatch(1, [&](int) {
    for (const std::string& id : ids) {
      store_->UpdateAsync([id](Txn& txn) { return txn.PutClient(NamedClient(id, "n")); },
                          [&ok](Status st) { ok.fetch_add(st.ok() ? 1 : 0); });
    }
  });
  store_.reset();
  EXPECT_EQ(ok.load(), kN);
  store_ = OpenStoreOrNull(NewStoreOptions(tmp_.Sub("db"), true, 64u << 20));
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(Visible(store_.get(), ids), static_cast<size_t>(kN));
}

// A request that runs out of map inside a batch gets ResourceExhausted; its neighbours commit.
TEST_F(GroupCommitTest, FullMapFailsOnlyTheRequestThatFilledIt) {
  TempDir small("group_commit_small");
  store_ = OpenStoreOrNull(NewStoreOptions(small.Sub("db"), true, 1u << 20));
  ASSERT_NE(store_, nullptr);
  constexpr int kN = 5;
  std::vector<Status> results(kN);
  OneBatch(kN, [&](int i) {
    results[i] = store_->Update([&](Txn& txn) {
      Client c = NamedClient("full-" + std::to_string(i), "n");
      if (i == 2) c.description.assign(4u << 20, 'x');  // larger than the whole map
      return txn.PutClient(c);
    });
  });
  for (int i = 0; i < kN; ++i) {
    const std::string id = "full-" + std::to_string(i);
    if (i == 2) {
      EXPECT_EQ(results[i].code(), Status::Code::kResourceExhausted) << results[i].ToString();
      EXPECT_EQ(Visible(store_.get(), {id}), 0u);
    } else {
      EXPECT_TRUE(results[i].ok()) << id << ": " << results[i].ToString();
      EXPECT_EQ(Visible(store_.get(), {id}), 1u) << id;
    }
  }
}

// lmdb_sync = meta-async opens the environment with MDB_NOMETASYNC: writes commit and are read back as with full.
TEST(LmdbSyncTest, MetaAsyncStoreCommitsAndReopens) {
  TempDir tmp("lmdb_sync");
  store::StoreOptions o = NewStoreOptions(tmp.Sub("db"), true, 16u << 20);
  o.meta_async = true;
  {
    std::unique_ptr<Store> s = OpenStoreOrNull(o);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Update([](Txn& txn) { return txn.PutClient(NamedClient("kept", "n")); }).ok());
  }
  o.meta_async = false;
  o.create = false;
  std::unique_ptr<Store> s = OpenStoreOrNull(o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Visible(s.get(), {"kept"}), 1u);
}

}  // namespace
}  // namespace tf
