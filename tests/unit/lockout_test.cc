// Tests for store/lockout.h: ASP.NET Core Identity's lockout arithmetic (counting, reaching the threshold, expiry,
// reset on success, disabled counting, no extension while locked), and the property the password grant relies on:
// failures recorded by several worker processes, each in its own Store::Update, all count toward one lockout.
#include "store/lockout.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "store/store.h"
#include "store_contract.h"
#include "test_env.h"

namespace tf::store {
namespace {

constexpr int64_t kNow = 1700000000;
constexpr int kMaxFailures = 5;
constexpr int64_t kLockout = 300;

User Alice() {
  User u;
  u.subject_id = "1";
  u.username = "alice";
  return u;
}

TEST(Lockout, IsLockedOutOnlyBeforeLockoutEnd) {
  User u = Alice();
  EXPECT_FALSE(IsLockedOut(u, kNow));  // never locked
  u.lockout_end = kNow + 1;
  EXPECT_TRUE(IsLockedOut(u, kNow));
  u.lockout_end = kNow;
  EXPECT_FALSE(IsLockedOut(u, kNow));  // the lockout ends at LockoutEnd itself
  u.lockout_end = kNow - 1000;
  EXPECT_FALSE(IsLockedOut(u, kNow));
}

TEST(Lockout, FailuresCountUpToTheThresholdThenLockAndResetTheCount) {
  User u = Alice();
  for (int i = 1; i < kMaxFailures; ++i) {
    RecordFailedLogin(&u, kNow + i, kMaxFailures, kLockout);
    EXPECT_EQ(u.access_failed_count, i);
    EXPECT_FALSE(u.lockout_end.has_value());
    EXPECT_FALSE(IsLockedOut(u, kNow + i));
  }
  RecordFailedLogin(&u, kNow + 10, kMaxFailures, kLockout);  // the fifth
  EXPECT_EQ(u.access_failed_count, 0);
  ASSERT_TRUE(u.lockout_end.has_value());
  EXPECT_EQ(*u.lockout_end, kNow + 10 + kLockout);
  EXPECT_TRUE(IsLockedOut(u, kNow + 10));
  EXPECT_TRUE(IsLockedOut(u, kNow + 10 + kLockout - 1));
  EXPECT_FALSE(IsLockedOut(u, kNow + 10 + kLockout));
}

TEST(Lockout, FailuresWhileLockedNeitherExtendNorCount) {
  User u = Alice();
  for (int i = 0; i < kMaxFailures; ++i) RecordFailedLogin(&u, kNow, kMaxFailures, kLockout);
  ASSERT_EQ(u.lockout_end, kNow + kLockout);
  for (int i = 0; i < 3 * kMaxFailures; ++i) RecordFailedLogin(&u, kNow + 100, kMaxFailures, kLockout);
  EXPECT_EQ(u.lockout_end, kNow + kLockout);
  EXPECT_EQ(u.access_failed_count, 0);
}

TEST(Lockout, AfterExpiryTheUserHasTheFullNumberOfAttemptsAgain) {
  User u = Alice();
  for (int i = 0; i < kMaxFailures; ++i) RecordFailedLogin(&u, kNow, kMaxFailures, kLockout);
  const int64_t later = kNow + kLockout + 1;
  ASSERT_FALSE(IsLockedOut(u, later));
  for (int i = 1; i < kMaxFailures; ++i) {
    RecordFailedLogin(&u, later, kMaxFailures, kLockout);
    EXPECT_EQ(u.access_failed_count, i);
    EXPECT_FALSE(IsLockedOut(u, later));
  }
  RecordFailedLogin(&u, later, kMaxFailures, kLockout);
  EXPECT_EQ(u.lockout_end, later + kLockout);
  EXPECT_TRUE(IsLockedOut(u, later));
}

TEST(Lockout, SuccessResetsTheCountAndClearsTheLockout) {
  User u = Alice();
  for (int i = 0; i < kMaxFailures - 1; ++i) RecordFailedLogin(&u, kNow, kMaxFailures, kLockout);
  RecordSuccessfulLogin(&u);
  EXPECT_EQ(u.access_failed_count, 0);
  // Only consecutive failures lock: four more after a success do not.
  for (int i = 0; i < kMaxFailures - 1; ++i) RecordFailedLogin(&u, kNow, kMaxFailures, kLockout);
  EXPECT_FALSE(IsLockedOut(u, kNow));
  u.lockout_end = kNow + 50;
  RecordSuccessfulLogin(&u);
  EXPECT_FALSE(u.lockout_end.has_value());
  EXPECT_EQ(u.access_failed_count, 0);
}

TEST(Lockout, ZeroMaxFailuresDisablesCounting) {
  User u = Alice();
  for (int i = 0; i < 100; ++i) RecordFailedLogin(&u, kNow, 0, kLockout);
  EXPECT_EQ(u.access_failed_count, 0);
  EXPECT_FALSE(u.lockout_end.has_value());
  RecordFailedLogin(&u, kNow, -3, kLockout);
  EXPECT_EQ(u.access_failed_count, 0);
  // A lockout recorded before counting was disabled still runs its course.
  u.lockout_end = kNow + 10;
  EXPECT_TRUE(IsLockedOut(u, kNow));
}

TEST(Lockout, ThresholdOfOneLocksAtTheFirstFailure) {
  User u = Alice();
  RecordFailedLogin(&u, kNow, 1, kLockout);
  EXPECT_TRUE(IsLockedOut(u, kNow));
  EXPECT_EQ(u.access_failed_count, 0);
}

TEST(Lockout, CountAboveALoweredThresholdLocksAtTheNextFailure) {
  User u = Alice();
  u.access_failed_count = 8;  // counted while the limit was 10
  RecordFailedLogin(&u, kNow, 3, kLockout);
  EXPECT_TRUE(IsLockedOut(u, kNow));
  EXPECT_EQ(u.access_failed_count, 0);
}

TEST(Lockout, ExtremeValuesSaturateInsteadOfOverflowing) {
  User u = Alice();
  RecordFailedLogin(&u, kNow, 1, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(u.lockout_end, 9007199254740991);  // 2^53 - 1: still exact in a stored record
  EXPECT_TRUE(IsLockedOut(u, kNow));
  User v = Alice();
  RecordFailedLogin(&v, kNow, 1, -60);  // a negative duration is no lockout at all
  EXPECT_EQ(v.lockout_end, kNow);
  EXPECT_FALSE(IsLockedOut(v, kNow));
  User w = Alice();
  w.access_failed_count = std::numeric_limits<int64_t>::max();
  RecordFailedLogin(&w, kNow, std::numeric_limits<int>::max(), kLockout);
  EXPECT_TRUE(IsLockedOut(w, kNow));
  EXPECT_EQ(w.access_failed_count, 0);
}

// ---- Shared by every worker process ------------------------------------------------------------------------------

// Opens another handle on the test's store (store_contract.h).
using Opener = std::function<Result<std::unique_ptr<Store>>()>;

// What the password grant does on a wrong password, in one write transaction: read, count, write back.
Status FailOnce(Store& store, int64_t now, int max_failures, int64_t lockout_seconds) {
  return store.Update([&](Txn& t) -> Status {
    Result<User> u = t.FindUserByName("", "alice");
    if (!u.ok()) return u.status();
    RecordFailedLogin(&*u, now, max_failures, lockout_seconds);
    return t.PutUser(*u);
  });
}

// Forks `processes` children that each open their own Store (after the fork, as LMDB requires) and record
// `failures_each` failures; returns how many children exited 0.
int FailFromProcesses(const Opener& open, int processes, int failures_each, int max_failures) {
  std::vector<pid_t> children;
  for (int c = 0; c < processes; ++c) {
    const pid_t pid = fork();
    if (pid == 0) {
      int code = 0;
      {
        Result<std::unique_ptr<Store>> s = open();
        if (!s.ok()) _exit(2);
        for (int i = 0; i < failures_each && code == 0; ++i) {
          if (!FailOnce(**s, kNow, max_failures, kLockout).ok()) code = 3;
        }
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  int ok = 0;
  for (pid_t pid : children) {
    int status = 0;
    if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) ++ok;
  }
  return ok;
}

User Stored(const Opener& open) {
  User out;
  Result<std::unique_ptr<Store>> s = open();
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return out;
  Status st = (*s)->Read([&](Txn& t) -> Status {
    Result<User> u = t.GetUser("1");
    if (!u.ok()) return u.status();
    out = *u;
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

void PutAlice(const Opener& open) {
  Result<std::unique_ptr<Store>> s = open();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_TRUE((*s)->Update([](Txn& t) { return t.PutUser(Alice()); }).ok());
}  // closed before any fork

// The lockout part of the Store contract, run once per implementation (store_contract.h).
class LockoutProcesses : public testing::StoreContract {
 protected:
  void SetUp() override {
    testing::StoreContract::SetUp();
    store_.reset();  // closed before any fork: every process opens its own handle
  }
  Opener opener() const {
    return [this] { return OpenAnother(); };
  }
};
TF_STORE_CONTRACT_SUITE(LockoutProcesses);

TEST_P(LockoutProcesses, FailuresFromFourProcessesAreAllCounted) {
  PutAlice(opener());
  ASSERT_EQ(FailFromProcesses(opener(), 4, 25, 1000), 4);
  const User u = Stored(opener());
  EXPECT_EQ(u.access_failed_count, 100);  // no lost update
  EXPECT_FALSE(u.lockout_end.has_value());
}

TEST_P(LockoutProcesses, FourProcessesTogetherReachOneLockout) {
  PutAlice(opener());
  // 4 x 3 failures against a limit of 5: the fifth locks, the seven after it change nothing.
  ASSERT_EQ(FailFromProcesses(opener(), 4, 3, kMaxFailures), 4);
  const User u = Stored(opener());
  EXPECT_EQ(u.access_failed_count, 0);
  EXPECT_EQ(u.lockout_end, kNow + kLockout);
}

}  // namespace
}  // namespace tf::store
