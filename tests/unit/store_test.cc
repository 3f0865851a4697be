// Tests for store/store.h. TEST_P(StoreTest, ...) is the contract, run on every Store implementation
// (store_contract.h): the typed operations, the configuration generation, transaction atomicity (a failed or
// throwing callback writes nothing), sharing between processes, and the users with their username index (uniqueness
// per tenant, case folding, renames, removal). The TEST()s and TEST_F(LmdbStoreTest, ...) are the LMDB store's own:
// file modes, the failure modes an operator can hit (full map, full reader table, uninitialised database, a map grown
// by another process), the read-transaction pool, raw records written behind its back, backups and upgrades of older
// databases.
#include "store/store.h"

#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "store_contract.h"
#include "test_env.h"

namespace tf::store {
namespace {

// A fresh /tmp/store_test.XXXXXX, removed on destruction.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("store_test") {}
};

StoreOptions Options(const std::string& path, bool create = true) { return testing::NewStoreOptions(path, create); }

std::unique_ptr<Store> MustOpen(const StoreOptions& o) { return testing::OpenStoreOrNull(o); }

uint64_t Generation(Store& s) {
  Result<uint64_t> g = s.ConfigGeneration();
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *g : ~0ull;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Client MakeClient(const std::string& id, int64_t lifetime = 3600) {
  Client c;
  c.client_id = id;
  c.access_token_lifetime = lifetime;
  c.allowed_grant_types = {"client_credentials"};
  c.client_secrets = {Secret{.value = HashSecret("s3cret")}};
  return c;
}

// Writes `value` under `key` in the named database `db` with raw LMDB (the store must be closed).
void RawPut(const std::string& path, const char* db, const std::string& key, const std::string& value) {
  testing::RawLmdb(path, true, [&](MDB_txn* txn) {
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  });
}

// Runs `fn` in a forked child and returns its exit code. The child never touches the parent's Store (LMDB forbids
// using an environment after fork) and leaves with _exit so no parent destructor runs twice.
template <typename Fn>
pid_t Spawn(Fn fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(StoreOpen, CreatesDirectoryAndDatabases) {
  TempDir tmp;
  const std::string path = tmp.Sub("a/db");
  {
    std::unique_ptr<Store> s = MustOpen(Options(path));
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(Generation(*s), 0u);
  }
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0750 & ~mask);
  ASSERT_EQ(stat((path + "/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660 & ~mask);

  // Reopening without create finds the same environment.
  std::unique_ptr<Store> again = MustOpen(Options(path, false));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Generation(*again), 0u);
}

TEST(StoreOpen, MissingDirectoryWithoutCreate) {
  TempDir tmp;
  Result<std::unique_ptr<Store>> s = Store::Open(Options(tmp.Sub("nope"), false));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.status().message(), "run tokenctl init")) << s.status().message();
}

TEST(StoreOpen, ReadOnlyOpenOfUninitialisedDirectoryFailsClearly) {
  TempDir tmp;
  StoreOptions o = Options(tmp.path(), false);
  o.read_only = true;
  Result<std::unique_ptr<Store>> s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.status().message(), "database not initialised: run tokenctl init")) << s.status().message();

  // An LMDB environment without our databases is not initialised either.
  RawPut(tmp.path(), "other", "k", "v");
  s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.status().message(), "database not initialised: run tokenctl init")) << s.status().message();

  // A writable open initialises it, after which read-only works.
  ASSERT_NE(MustOpen(Options(tmp.path(), false)), nullptr);
  std::unique_ptr<Store> ro = MustOpen(o);
  ASSERT_NE(ro, nullptr);
  EXPECT_EQ(Generation(*ro), 0u);
}

TEST(StoreOpen, ReadOnlyStoreRefusesUpdates) {
  TempDir tmp;
  {
    std::unique_ptr<Store> s = MustOpen(Options(tmp.path()));
    ASSERT_TRUE(s->Update([](Txn& t) { return t.PutClient(MakeClient("c")); }).ok());
  }
  StoreOptions o = Options(tmp.path(), false);
  o.read_only = true;
  std::unique_ptr<Store> ro = MustOpen(o);
  ASSERT_NE(ro, nullptr);
  EXPECT_TRUE(ro->Read([](Txn& t) { return t.GetClient("c").status(); }).ok());
  Status st = ro->Update([](Txn& t) { return t.RemoveClient("c"); });
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(Contains(st.message(), "read-only")) << st.ToString();
  // UpdateAsync answers the same, before it returns, and runs nothing.
  bool ran = false;
  Status async_st;
  ro->UpdateAsync([&ran](Txn&) {
    ran = true;
    return Status::OK();
  }, [&async_st](Status s) { async_st = std::move(s); });
  EXPECT_FALSE(ran);
  EXPECT_EQ(async_st.code(), Status::Code::kIOError) << async_st.ToString();
  EXPECT_TRUE(Contains(async_st.message(), "read-only")) << async_st.ToString();
}

TEST(StoreOpen, OtherSchemaVersionIsRefusedNamingBoth) {
  TempDir tmp;
  ASSERT_NE(MustOpen(Options(tmp.path())), nullptr);
  RawPut(tmp.path(), "meta", "schema_version", "2");
  Result<std::unique_ptr<Store>> s = Store::Open(Options(tmp.path(), false));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Contains(s.status().message(), "schema_version '2'")) << s.status().message();
  EXPECT_TRUE(Contains(s.status().message(), "supports schema_version 1")) << s.status().message();
}

// The Store contract (store.h), run once per implementation (store_contract.h).
class StoreTest : public testing::StoreContract {};
TF_STORE_CONTRACT_SUITE(StoreTest);

// What only the LMDB store has: raw records written behind its back, its read-transaction pool, mdb_copy backups.
class LmdbStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = MustOpen(Options(tmp_.path()));
    ASSERT_NE(store_, nullptr);
  }
  TempDir tmp_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, ClientsPutGetListRemove) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("zeta", 10)));
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("alpha", 20)));
                       return t.PutClient(MakeClient("mid", 30));
                     }).ok());
  Status st = store_->Read([](Txn& t) -> Status {
    Result<Client> c = t.GetClient("alpha");
    if (!c.ok()) return c.status();
    EXPECT_EQ(c->access_token_lifetime, 20);
    EXPECT_EQ(c->allowed_grant_types, std::vector<std::string>{"client_credentials"});
    EXPECT_TRUE(MatchesAnySecret(c->client_secrets, "s3cret", 0));
    Result<std::vector<Client>> all = t.ListClients();
    if (!all.ok()) return all.status();
    EXPECT_EQ(all->size(), 3u);
    if (all->size() == 3) {
      EXPECT_EQ((*all)[0].client_id, "alpha");
      EXPECT_EQ((*all)[1].client_id, "mid");
      EXPECT_EQ((*all)[2].client_id, "zeta");
    }
    Result<Client> missing = t.GetClient("nobody");
    EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
    EXPECT_TRUE(Contains(missing.status().message(), "'nobody'"));
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();

  // Replace, then remove.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutClient(MakeClient("alpha", 99)); }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveClient("zeta"); }).ok());
  st = store_->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.GetClient("alpha")->access_token_lifetime, 99);
    EXPECT_EQ(t.GetClient("zeta").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.ListClients()->size(), 2u);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = store_->Update([](Txn& t) { return t.RemoveClient("zeta"); });
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
}

// UpdateAsync answers once, after its write is committed, with what Update would have returned: a write that
// succeeds is visible once `done` has run; a callback that fails gets its own status and writes nothing; one that
// throws gets Internal with the exception's message and writes nothing.
TEST_P(StoreTest, UpdateAsyncAnswersOnceAsUpdateWould) {
  const auto update_async = [this](std::function<Status(Txn&)> fn) {
    auto done = std::make_shared<std::promise<Status>>();
    std::future<Status> result = done->get_future();
    store_->UpdateAsync(std::move(fn), [done](Status st) { done->set_value(std::move(st)); });
    return result.get();  // a second call of `done` would throw std::future_error on the committing thread
  };
  EXPECT_TRUE(update_async([](Txn& t) { return t.PutClient(MakeClient("async-ok", 10)); }).ok());
  const Status refused = update_async([](Txn& t) -> Status {
    TF_RETURN_IF_ERROR(t.PutClient(MakeClient("async-refused", 10)));
    return Status::Conflict("refused");
  });
  EXPECT_EQ(refused.code(), Status::Code::kConflict);
  EXPECT_EQ(refused.message(), "refused");
  const Status thrown = update_async([](Txn& t) -> Status {
    TF_RETURN_IF_ERROR(t.PutClient(MakeClient("async-thrown", 10)));
    throw std::runtime_error("boom");
  });
  EXPECT_EQ(thrown.code(), Status::Code::kInternal);
  EXPECT_EQ(thrown.message(), "the write failed: boom");
  const Status st = store_->Read([](Txn& t) -> Status {
    EXPECT_TRUE(t.GetClient("async-ok").ok());
    EXPECT_EQ(t.GetClient("async-refused").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.GetClient("async-thrown").status().code(), Status::Code::kNotFound);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST_P(StoreTest, InvalidRecordsAreNeverWritten) {
  const uint64_t before = Generation(*store_);
  Status st = store_->Update([](Txn& t) { return t.PutClient(MakeClient("")); });
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  st = store_->Update([](Txn& t) { return t.PutClient(MakeClient(std::string(101, 'x'))); });
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  // A record that would not read back (negative lifetime) is refused at write time.
  st = store_->Update([](Txn& t) { return t.PutClient(MakeClient("neg", -1)); });
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(Contains(st.message(), "AccessTokenLifetime")) << st.ToString();
  st = store_->Update([](Txn& t) { return t.PutApiScope(ApiScope{}); });
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  st = store_->Update([](Txn& t) { return t.PutKey(KeyRecord{.kid = "k"}); });
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(Generation(*store_), before);
  EXPECT_TRUE(store_->Read([](Txn& t) -> Status {
                       EXPECT_EQ(t.GetClient("neg").status().code(), Status::Code::kNotFound);
                       return Status::OK();
                     }).ok());
}

TEST_P(StoreTest, ResourcesAreKeptApartByKind) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "read", .display_name = "Read"}));
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "api1.write"}));
                       TF_RETURN_IF_ERROR(t.PutApiResource(ApiResource{.name = "read", .scopes = {"read"}}));
                       TF_RETURN_IF_ERROR(t.PutApiResource(ApiResource{.name = "api1", .scopes = {"api1.write"}}));
                       TF_RETURN_IF_ERROR(t.PutIdentityResource(IdentityResource{.name = "openid"}));
                       return t.PutIdentityResource(IdentityResource{.name = "profile", .user_claims = {"name"}});
                     }).ok());
  Status st = store_->Read([](Txn& t) -> Status {
    Result<std::vector<ApiScope>> scopes = t.ListApiScopes();
    Result<std::vector<ApiResource>> apis = t.ListApiResources();
    Result<std::vector<IdentityResource>> ids = t.ListIdentityResources();
    if (!scopes.ok()) return scopes.status();
    if (!apis.ok()) return apis.status();
    if (!ids.ok()) return ids.status();
    EXPECT_EQ(scopes->size(), 2u);
    EXPECT_EQ(apis->size(), 2u);
    EXPECT_EQ(ids->size(), 2u);
    if (scopes->size() == 2) {
      EXPECT_EQ((*scopes)[0].name, "api1.write");
      EXPECT_EQ((*scopes)[1].name, "read");
      EXPECT_EQ((*scopes)[1].display_name, "Read");
    }
    if (apis->size() == 2) {
      EXPECT_EQ((*apis)[0].name, "api1");
      EXPECT_EQ((*apis)[1].scopes, std::vector<std::string>{"read"});
    }
    if (ids->size() == 2) {
      EXPECT_EQ((*ids)[1].user_claims, std::vector<std::string>{"name"});
    }
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();

  // Removing the API resource "read" leaves the API scope "read" alone.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveApiResource("read"); }).ok());
  st = store_->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.ListApiScopes()->size(), 2u);
    EXPECT_EQ(t.ListApiResources()->size(), 1u);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(store_->Update([](Txn& t) { return t.RemoveApiResource("read"); }).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->Update([](Txn& t) { return t.RemoveApiScope("nope"); }).code(), Status::Code::kNotFound);
  EXPECT_EQ(store_->Update([](Txn& t) { return t.RemoveIdentityResource("email"); }).code(),
            Status::Code::kNotFound);
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.RemoveApiScope("read"));
                       return t.RemoveIdentityResource("openid");
                     }).ok());
  st = store_->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.ListApiScopes()->size(), 1u);
    EXPECT_EQ(t.ListIdentityResources()->size(), 1u);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
}

TEST_P(StoreTest, KeysListedByCreatedThenKid) {
  auto key = [](const char* kid, int64_t created, KeyState state) {
    return KeyRecord{.kid = kid, .alg = "ES256", .state = state, .created = created, .private_pem = "pem"};
  };
  ASSERT_TRUE(store_->Update([&](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutKey(key("b", 200, KeyState::kNext)));
                       TF_RETURN_IF_ERROR(t.PutKey(key("a", 200, KeyState::kNext)));
                       return t.PutKey(key("c", 100, KeyState::kCurrent));
                     }).ok());
  Status st = store_->Read([](Txn& t) -> Status {
    Result<std::vector<KeyRecord>> keys = t.ListKeys();
    if (!keys.ok()) return keys.status();
    EXPECT_EQ(keys->size(), 3u);
    if (keys->size() == 3) {
      EXPECT_EQ((*keys)[0].kid, "c");
      EXPECT_EQ((*keys)[0].state, KeyState::kCurrent);
      EXPECT_EQ((*keys)[1].kid, "a");
      EXPECT_EQ((*keys)[2].kid, "b");
    }
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveKey("a"); }).ok());
  EXPECT_EQ(store_->Update([](Txn& t) { return t.RemoveKey("a"); }).code(), Status::Code::kNotFound);
  EXPECT_TRUE(store_->Read([](Txn& t) -> Status {
                       EXPECT_EQ(t.ListKeys()->size(), 2u);
                       return Status::OK();
                     }).ok());
}

TEST_P(StoreTest, GenerationMovesByOnePerCommittedConfigChange) {
  EXPECT_EQ(Generation(*store_), 0u);
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutClient(MakeClient("a")); }).ok());
  EXPECT_EQ(Generation(*store_), 1u);
  // Many changes in one transaction: still one step, and the txn sees the old value until commit.
  ASSERT_TRUE(store_->Update([](Txn& t) -> Status {
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("b")));
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "s"}));
                       TF_RETURN_IF_ERROR(t.PutKey(KeyRecord{.kid = "k", .alg = "ES256", .private_pem = "p"}));
                       EXPECT_EQ(*t.ConfigGeneration(), 1u);
                       return t.RemoveClient("a");
                     }).ok());
  EXPECT_EQ(Generation(*store_), 2u);
  // Updates that only read, and reads, leave it alone.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.GetClient("b").status(); }).ok());
  ASSERT_TRUE(store_->Read([](Txn& t) { return t.ListClients().status(); }).ok());
  EXPECT_EQ(Generation(*store_), 2u);
  // Aborted updates leave it alone.
  EXPECT_FALSE(store_->Update([](Txn& t) -> Status {
                        TF_RETURN_IF_ERROR(t.PutClient(MakeClient("c")));
                        return Status::Conflict("changed my mind");
                      }).ok());
  EXPECT_FALSE(store_->Update([](Txn& t) { return t.RemoveClient("nobody"); }).ok());
  EXPECT_EQ(Generation(*store_), 2u);
  // Every kind of change counts.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveKey("k"); }).ok());
  EXPECT_EQ(Generation(*store_), 3u);
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutIdentityResource(IdentityResource{.name = "openid"}); }).ok());
  EXPECT_EQ(Generation(*store_), 4u);
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->config_generation, 4u);
}

TEST_P(StoreTest, FailedCallbackLeavesNothingBehind) {
  Status st = store_->Update([](Txn& t) -> Status {
    TF_RETURN_IF_ERROR(t.PutClient(MakeClient("ghost")));
    TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "ghost"}));
    EXPECT_TRUE(t.GetClient("ghost").ok());  // visible inside its own transaction
    return Status::InvalidArgument("abort");
  });
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "abort");
  st = store_->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.GetClient("ghost").status().code(), Status::Code::kNotFound);
    EXPECT_TRUE(t.ListApiScopes()->empty());
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(Generation(*store_), 0u);
}

TEST_P(StoreTest, WritesInsideReadAreRefused) {
  Status st = store_->Read([](Txn& t) { return t.PutClient(MakeClient("x")); });
  EXPECT_EQ(st.code(), Status::Code::kInternal);
  st = store_->Read([](Txn& t) { return t.RemoveKey("x"); });
  EXPECT_EQ(st.code(), Status::Code::kInternal);
}

TEST_F(LmdbStoreTest, CorruptStoredRecordsNameTheKey) {
  store_.reset();
  RawPut(tmp_.path(), "clients", "weird", R"({"v":1,"ClientId":"weird","Colour":"red"})");
  RawPut(tmp_.path(), "clients", "broken", "{not json");
  RawPut(tmp_.path(), "keys", "k1", R"({"v":1,"Kid":"k1","Alg":"ES256","PrivateKeyPem":"p","Extra":0})");
  store_ = MustOpen(Options(tmp_.path(), false));
  ASSERT_NE(store_, nullptr);
  Status st = store_->Read([](Txn& t) -> Status {
    Result<Client> weird = t.GetClient("weird");
    EXPECT_EQ(weird.status().code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(weird.status().message(), "'weird'")) << weird.status().message();
    EXPECT_TRUE(Contains(weird.status().message(), "Colour")) << weird.status().message();
    Result<Client> broken = t.GetClient("broken");
    EXPECT_EQ(broken.status().code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(broken.status().message(), "'broken'")) << broken.status().message();
    EXPECT_EQ(t.ListClients().status().code(), Status::Code::kCorruption);
    EXPECT_EQ(t.ListKeys().status().code(), Status::Code::kCorruption);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST(StoreLimits, FullMapIsResourceExhaustedAndAbortsTheUpdate) {
  TempDir tmp;
  StoreOptions o = Options(tmp.path());
  o.map_size = 64 * 1024;
  std::unique_ptr<Store> s = MustOpen(o);
  ASSERT_NE(s, nullptr);
  int committed = 0;
  Status st;
  for (int i = 0; i < 1000; ++i) {
    st = s->Update([&](Txn& t) {
      Client c = MakeClient("client-" + std::to_string(i));
      c.description = std::string(3000, 'd');
      return t.PutClient(c);
    });
    if (!st.ok()) break;
    ++committed;
  }
  ASSERT_FALSE(st.ok()) << "a 64 KiB map never filled up";
  EXPECT_GT(committed, 0);
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "MDB_MAP_FULL")) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "raise map_size")) << st.ToString();
  // A callback that ignores the failed put and returns OK still gets the error, and nothing is committed.
  st = s->Update([&](Txn& t) {
    Client c = MakeClient("ignored");
    c.description = std::string(60000, 'd');
    (void)t.PutClient(c);
    return Status::OK();
  });
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted) << st.ToString();
  // The failed updates changed nothing, and the store still reads.
  EXPECT_EQ(Generation(*s), static_cast<uint64_t>(committed));
  Status read = s->Read([&](Txn& t) -> Status {
    EXPECT_EQ(t.ListClients()->size(), static_cast<size_t>(committed));
    return t.GetClient("client-0").status();
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
}

TEST(StoreLimits, FullReaderTableIsResourceExhausted) {
  TempDir tmp;
  StoreOptions o = Options(tmp.path());
  o.max_readers = 1;
  std::unique_ptr<Store> s = MustOpen(o);
  ASSERT_NE(s, nullptr);
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, done = false;
  std::thread holder([&] {
    Status st = s->Read([&](Txn&) {
      std::unique_lock<std::mutex> lock(mu);
      inside = true;
      cv.notify_all();
      cv.wait(lock, [&] { return done; });
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return inside; });
  }
  Result<uint64_t> g = s->ConfigGeneration();  // needs a second reader slot while the first is held
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  }
  holder.join();
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Status::Code::kResourceExhausted);
  EXPECT_TRUE(Contains(g.status().message(), "mdb_txn_begin: MDB_READERS_FULL")) << g.status().message();
  EXPECT_TRUE(Contains(g.status().message(), "raise max_readers")) << g.status().message();
  // Once the first reader is done its slot is reused.
  EXPECT_EQ(Generation(*s), 0u);
}

TEST_F(LmdbStoreTest, ReadTransactionsAreReused) {
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(store_->Read([](Txn& t) { return t.ConfigGeneration().status(); }).ok());
  for (int i = 0; i < 1000; ++i) Generation(*store_);
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_LE(stats->readers_in_use, 1u);
}

TEST_P(StoreTest, ConcurrentReadsFromEightThreadsSeeConsistentSnapshots) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("left", 0)));
                       return t.PutClient(MakeClient("right", 0));
                     }).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, reads{0};
  // The writer keeps left == right in every committed state; a reader must never see them differ.
  std::thread writer([&] {
    for (int i = 1; i <= 200 && failures == 0; ++i) {
      Status st = store_->Update([i](Txn& t) {
        TF_RETURN_IF_ERROR(t.PutClient(MakeClient("left", i)));
        return t.PutClient(MakeClient("right", i));
      });
      if (!st.ok()) ++failures;
    }
    stop = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 8; ++r) {
    readers.emplace_back([&] {
      while (!stop || reads < 800) {
        Status st = store_->Read([](Txn& t) -> Status {
          Result<Client> l = t.GetClient("left");
          Result<Client> rt = t.GetClient("right");
          if (!l.ok()) return l.status();
          if (!rt.ok()) return rt.status();
          if (l->access_token_lifetime != rt->access_token_lifetime) return Status::Internal("torn read");
          return t.ListClients().status();
        });
        if (!st.ok()) {
          ++failures;
          ADD_FAILURE() << st.ToString();
          return;
        }
        ++reads;
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GE(reads, 800);
  EXPECT_EQ(Generation(*store_), 201u);
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
}

TEST_P(StoreTest, UpdatesFromFourProcessesAreSerialised) {
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutClient(MakeClient("counter", 1000)); }).ok());
  store_.reset();  // closed before fork: each child opens its own handle
  std::vector<pid_t> children;
  for (int c = 0; c < 4; ++c) {
    children.push_back(Spawn([&]() -> int {
      Result<std::unique_ptr<Store>> s = OpenAnother();
      if (!s.ok()) return 2;
      for (int i = 0; i < 50; ++i) {
        Status st = (*s)->Update([](Txn& t) -> Status {
          Result<Client> client = t.GetClient("counter");
          if (!client.ok()) return client.status();
          client->access_token_lifetime += 1;
          return t.PutClient(*client);
        });
        if (!st.ok()) return 3;
      }
      return 0;
    }));
  }
  for (pid_t pid : children) EXPECT_EQ(Wait(pid), 0);
  Result<std::unique_ptr<Store>> reopened = OpenAnother();
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  std::unique_ptr<Store> s = std::move(reopened).value();
  Status st = s->Read([](Txn& t) -> Status {
    Result<Client> client = t.GetClient("counter");
    if (!client.ok()) return client.status();
    EXPECT_EQ(client->access_token_lifetime, 1200);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Generation(*s), 201u);
}

// A pipe the tests use to step a child process and its parent in turn (no sleeps): Signal() writes a byte, Await()
// reads one (false on EOF, when the other side died).
struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(pipe(fds), 0); }
  ~Pipe() {
    close(fds[0]);
    close(fds[1]);
  }
  void Signal() { EXPECT_EQ(write(fds[1], "x", 1), 1); }
  bool Await() {
    char c;
    return read(fds[0], &c, 1) == 1;
  }
};

// An exception thrown inside an Update callback aborts the write transaction: another process (here the parent) can
// write at once, while the process that threw is still alive. Without the transaction guard the child would keep
// LMDB's cross-process writer lock for its whole life and the parent's Update would wait for it.
TEST_P(StoreTest, ExceptionInUpdateAbortsAndLetsOtherProcessesWrite) {
  store_.reset();  // closed before fork: each process opens its own handle
  Pipe thrown, finish;
  const pid_t pid = Spawn([&]() -> int {
    Result<std::unique_ptr<Store>> s = OpenAnother();
    if (!s.ok()) return 2;
    try {
      (void)(*s)->Update([](Txn& t) -> Status {
        (void)t.PutClient(MakeClient("never"));
        throw std::runtime_error("callback failed");
      });
      return 3;  // the exception must propagate
    } catch (const std::runtime_error&) {
    }
    thrown.Signal();
    return finish.Await() ? 0 : 0;  // alive until the parent is done
  });
  ASSERT_TRUE(thrown.Await());
  Result<std::unique_ptr<Store>> opened = OpenAnother();
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> s = std::move(opened).value();
  std::promise<Status> wrote;
  std::future<Status> written = wrote.get_future();
  std::thread writer([&] { wrote.set_value(s->Update([](Txn& t) { return t.PutClient(MakeClient("after")); })); });
  const bool in_time = written.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
  EXPECT_TRUE(in_time) << "the parent's Update waited for the child's writer lock";
  if (!in_time) kill(pid, SIGKILL);  // LMDB's robust mutex lets the waiting writer in once the owner dies
  writer.join();
  finish.Signal();
  Wait(pid);
  EXPECT_TRUE(written.get().ok());
  Status st = s->Read([](Txn& t) -> Status {
    EXPECT_TRUE(t.GetClient("never").status().IsNotFound());
    return t.GetClient("after").status();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// An exception thrown inside a Read callback returns the read transaction (and its reader slot) to the pool: another
// process can still read after the child threw more times than the reader table has slots.
TEST(LmdbStoreGuards, ExceptionInReadReleasesTheReaderSlot) {
  TempDir tmp;
  StoreOptions o = Options(tmp.path());
  o.max_readers = 4;
  { ASSERT_NE(MustOpen(o), nullptr); }
  Pipe thrown, finish;
  const pid_t pid = Spawn([&]() -> int {
    StoreOptions co = o;
    co.create = false;
    Result<std::unique_ptr<Store>> s = Store::Open(co);
    if (!s.ok()) return 2;
    for (int i = 0; i < 8; ++i) {
      try {
        (void)(*s)->Read([](Txn&) -> Status { throw std::runtime_error("callback failed"); });
      } catch (const std::runtime_error&) {
      }
    }
    Result<StoreStats> stats = (*s)->Stats();
    const int rc = stats.ok() && stats->readers_in_use <= 1 ? 0 : 4;
    thrown.Signal();
    finish.Await();
    return rc;
  });
  ASSERT_TRUE(thrown.Await());
  StoreOptions po = o;
  po.create = false;
  std::unique_ptr<Store> s = MustOpen(po);
  ASSERT_NE(s, nullptr);
  Result<uint64_t> g = s->ConfigGeneration();
  finish.Signal();
  EXPECT_EQ(Wait(pid), 0) << "the child's reader slots were not reused";
  EXPECT_TRUE(g.ok()) << g.status().ToString();
}

// A process killed with -9 while it held reader slots leaves them taken; a running Store that then finds the reader
// table full clears them (mdb_reader_check) and serves the read, without a restart or a reopen.
TEST(LmdbStoreReaders, SlotsOfAKilledProcessAreClearedWhileRunning) {
  TempDir tmp;
  StoreOptions o = Options(tmp.path());
  o.max_readers = 4;
  std::unique_ptr<Store> s = MustOpen(o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Generation(*s), 0u);  // this Store's first slot (pooled from now on)
  Pipe holding;
  const pid_t pid = Spawn([&]() -> int {
    StoreOptions co = o;
    co.create = false;
    Result<std::unique_ptr<Store>> child = Store::Open(co);
    if (!child.ok()) return 2;
    std::atomic<int> inside{0};
    for (int i = 0; i < 3; ++i) {
      std::thread([&] {
        (void)(*child)->Read([&](Txn&) -> Status {
          ++inside;
          for (;;) pause();  // holds its slot until the process is killed
        });
      }).detach();
    }
    while (inside < 3) std::this_thread::yield();
    holding.Signal();
    for (;;) pause();
  });
  ASSERT_TRUE(holding.Await());
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_EQ(Wait(pid), 128 + SIGKILL);
  // Two reads at once: the second needs a slot of its own, and only the dead process's slots are free.
  std::mutex mu;
  std::condition_variable cv;
  bool inside = false, done = false;
  std::thread holder([&] {
    Status st = s->Read([&](Txn&) {
      std::unique_lock<std::mutex> lock(mu);
      inside = true;
      cv.notify_all();
      cv.wait(lock, [&] { return done; });
      return Status::OK();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return inside; });
  }
  Result<uint64_t> g = s->ConfigGeneration();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  }
  holder.join();
  EXPECT_TRUE(g.ok()) << g.status().ToString();
}

// tokenctl map grow: another process grows a full map; this one adopts the new size at its next write (LMDB reports
// nothing until the data outgrows our map), and a later open with the configuration's smaller map_size keeps it.
TEST(LmdbStoreMap, GrowMapIsAdoptedWhileRunningAndByLaterOpens) {
  TempDir tmp;
  StoreOptions small = Options(tmp.path());
  small.map_size = 1u << 20;
  std::unique_ptr<Store> s = MustOpen(small);
  ASSERT_NE(s, nullptr);
  auto put = [&](int i) {
    return s->Update([&](Txn& t) {
      Client c = MakeClient("bulk-" + std::to_string(i));
      c.description = std::string(3000, 'x');
      return t.PutClient(c);
    });
  };
  int i = 0;
  Status st;
  while ((st = put(i)).ok() && i < 1000) ++i;
  ASSERT_EQ(st.code(), Status::Code::kResourceExhausted) << st.ToString();
  EXPECT_EQ(s->GrowMap(1u << 19).code(), Status::Code::kInvalidArgument);  // never shrinks
  const pid_t pid = Spawn([&]() -> int {
    Result<std::unique_ptr<Store>> other = Store::Open(small);
    if (!other.ok()) return 2;
    return (*other)->GrowMap(8u << 20).ok() ? 0 : 3;
  });
  ASSERT_EQ(Wait(pid), 0);
  for (int k = 0; k < 40; ++k) {  // far more than pages freed since the map filled up
    st = put(i++);
    ASSERT_TRUE(st.ok()) << k << ": " << st.ToString();
  }
  Result<StoreStats> stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->map_size, 8u << 20);
  s.reset();
  s = MustOpen(small);  // the configuration still says 1 MiB
  ASSERT_NE(s, nullptr);
  stats = s->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->map_size, 8u << 20);
  for (int k = 0; k < 40; ++k) EXPECT_TRUE(put(i++).ok());
  StoreOptions ro = small;
  ro.create = false;
  ro.read_only = true;
  s.reset();
  s = MustOpen(ro);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->GrowMap(16u << 20).code(), Status::Code::kIOError);
}

TEST(StoreProcesses, MapGrownByAnotherProcessIsAdopted) {
  TempDir tmp;
  StoreOptions small = Options(tmp.path());
  small.map_size = 1u << 20;
  std::unique_ptr<Store> s = MustOpen(small);
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Update([](Txn& t) { return t.PutClient(MakeClient("first")); }).ok());
  // Another process (think: tokenctl with a larger map_size) writes more than our map can hold.
  const pid_t pid = Spawn([&]() -> int {
    StoreOptions big = Options(tmp.path(), false);
    big.map_size = 8u << 20;
    Result<std::unique_ptr<Store>> other = Store::Open(big);
    if (!other.ok()) return 2;
    Status st = (*other)->Update([](Txn& t) -> Status {
      for (int i = 0; i < 600; ++i) {
        Client c = MakeClient("bulk-" + std::to_string(i));
        c.description = std::string(4000, 'x');
        TF_RETURN_IF_ERROR(t.PutClient(c));
      }
      return Status::OK();
    });
    return st.ok() ? 0 : 3;
  });
  ASSERT_EQ(Wait(pid), 0);
  // Our next transaction meets MDB_MAP_RESIZED and must adopt the new size rather than fail.
  Status st = s->Read([](Txn& t) -> Status {
    Result<std::vector<Client>> all = t.ListClients();
    if (!all.ok()) return all.status();
    EXPECT_EQ(all->size(), 601u);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  Result<StoreStats> stats = s->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->map_size, 8u << 20);
  EXPECT_GT(stats->used_bytes, 1u << 20);
  ASSERT_TRUE(s->Update([](Txn& t) { return t.RemoveClient("first"); }).ok());
  EXPECT_EQ(Generation(*s), 3u);
}

TEST_P(StoreTest, StatsCountEveryKind) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("a")));
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("b")));
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "s1"}));
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "s2"}));
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "s3"}));
                       TF_RETURN_IF_ERROR(t.PutApiResource(ApiResource{.name = "api"}));
                       TF_RETURN_IF_ERROR(t.PutIdentityResource(IdentityResource{.name = "openid"}));
                       TF_RETURN_IF_ERROR(t.PutIdentityResource(IdentityResource{.name = "profile"}));
                       return t.PutKey(KeyRecord{.kid = "k", .alg = "ES256", .private_pem = "p"});
                     }).ok());
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->config_generation, 1u);
  EXPECT_EQ(stats->clients, 2u);
  EXPECT_EQ(stats->api_scopes, 3u);
  EXPECT_EQ(stats->api_resources, 1u);
  EXPECT_EQ(stats->identity_resources, 2u);
  EXPECT_EQ(stats->keys, 1u);
  EXPECT_GT(stats->used_bytes, 0u);
}

TEST_F(LmdbStoreTest, StatsShowTheMapAndTheReaderTable) {
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->map_size, 16u << 20);
  EXPECT_GT(stats->used_bytes, 0u);
  EXPECT_LT(stats->used_bytes, stats->map_size);
  EXPECT_EQ(stats->max_readers, 126u);
}

// Pages freed by a transaction stay on LMDB's free list, spread over the file, until later commits take them again;
// Stats reports them (tokenctl stats "map free list"), and a backup, a compacted copy, has none.
TEST_F(LmdbStoreTest, StatsCountTheFreeListAndABackupHasNone) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       for (int i = 0; i < 500; ++i) {
                         TF_RETURN_IF_ERROR(t.PutClient(MakeClient("c" + std::to_string(i), i)));
                       }
                       return Status::OK();
                     }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       for (int i = 0; i < 500; ++i) TF_RETURN_IF_ERROR(t.RemoveClient("c" + std::to_string(i)));
                       return Status::OK();
                     }).ok());
  Result<StoreStats> after = store_->Stats();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_GE(after->free_bytes, 20u * 4096) << "500 clients take dozens of pages, freed by their removal";
  EXPECT_LT(after->free_bytes, after->used_bytes);
  EXPECT_EQ(after->free_bytes % 4096, 0u);

  const std::string backup = tmp_.Sub("compacted");
  ASSERT_TRUE(store_->Backup(backup).ok());
  std::unique_ptr<Store> copy = MustOpen(Options(backup, false));
  ASSERT_NE(copy, nullptr);
  Result<StoreStats> copied = copy->Stats();
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->free_bytes, 0u);
  EXPECT_LT(copied->used_bytes, after->used_bytes);
}

TEST_F(LmdbStoreTest, BackupIsAnOpenableCopy) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutClient(MakeClient("a", 42)));
                       TF_RETURN_IF_ERROR(t.PutApiScope(ApiScope{.name = "s"}));
                       return t.PutKey(KeyRecord{.kid = "k", .alg = "ES256", .created = 7, .private_pem = "p"});
                     }).ok());
  const std::string backup = tmp_.Sub("backups/one");  // created, parents too
  Status st = store_->Backup(backup);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(store_->Backup(backup).code(), Status::Code::kAlreadyExists);  // never into a non-empty directory

  // The copy is its own environment: change the original, then open the copy (one env per path per process).
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveClient("a"); }).ok());
  std::unique_ptr<Store> copy = MustOpen(Options(backup, false));
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(Generation(*copy), 1u);
  st = copy->Read([](Txn& t) -> Status {
    Result<Client> c = t.GetClient("a");
    if (!c.ok()) return c.status();
    EXPECT_EQ(c->access_token_lifetime, 42);
    EXPECT_EQ(t.ListApiScopes()->size(), 1u);
    Result<std::vector<KeyRecord>> keys = t.ListKeys();
    if (!keys.ok()) return keys.status();
    EXPECT_EQ(keys->size(), 1u);
    if (!keys->empty()) {
      EXPECT_EQ((*keys)[0].created, 7);
    }
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

// ---- Users --------------------------------------------------------------------------------------------------------

User MakeUser(const std::string& subject, const std::string& username, const std::string& tenant = "") {
  User u;
  u.subject_id = subject;
  u.username = username;
  u.tenant = tenant;
  u.claims = {ClaimValue{"name", username + " Example", ""}};
  return u;
}

// FindUserByName's subject id, or the status code's name when it fails.
std::string Found(Store& s, const std::string& tenant, const std::string& username) {
  std::string out;
  Status st = s.Read([&](Txn& t) -> Status {
    Result<User> u = t.FindUserByName(tenant, username);
    if (!u.ok()) return u.status();
    out = u->subject_id;
    return Status::OK();
  });
  if (st.code() == Status::Code::kNotFound) return "NotFound";
  if (!st.ok()) return st.ToString();
  return out;
}

TEST_P(StoreTest, UsersPutGetListAndFindByNameIgnoringAsciiCase) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("s2", "Alice.Smith")));
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("s1", "bob")));
                       return t.PutUser(MakeUser("s3", "\xc3\x89ric"));
                     }).ok());
  Status st = store_->Read([](Txn& t) -> Status {
    Result<User> u = t.GetUser("s2");
    if (!u.ok()) return u.status();
    EXPECT_EQ(u->username, "Alice.Smith");  // the spelling it was given
    EXPECT_EQ(u->claims.size(), 1u);
    for (const char* name : {"Alice.Smith", "alice.smith", "ALICE.SMITH", "aLiCe.SmItH"}) {
      Result<User> f = t.FindUserByName("", name);
      EXPECT_TRUE(f.ok()) << name << ": " << f.status().ToString();
      if (f.ok()) {
        EXPECT_EQ(f->subject_id, "s2");
      }
    }
    EXPECT_TRUE(t.FindUserByName("", "\xc3\x89ric").ok());
    EXPECT_EQ(t.FindUserByName("", "\xc3\xa9ric").status().code(), Status::Code::kNotFound);  // ASCII folding only
    Result<User> missing = t.FindUserByName("", "carol");
    EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
    EXPECT_TRUE(Contains(missing.status().message(), "'carol'")) << missing.status().message();
    EXPECT_EQ(t.GetUser("nobody").status().code(), Status::Code::kNotFound);
    // Names that can never be stored are simply not found.
    EXPECT_EQ(t.GetUser("").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.GetUser(std::string(600, 's')).status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.FindUserByName("", "").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.FindUserByName("", std::string(600, 'u')).status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.FindUserByName(std::string(600, 't'), "bob").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.FindUserByName(std::string("\0", 1), "bob").status().code(), Status::Code::kNotFound);
    Result<std::vector<User>> all = t.ListUsers();
    if (!all.ok()) return all.status();
    EXPECT_EQ(all->size(), 3u);
    if (all->size() == 3) {
      EXPECT_EQ((*all)[0].subject_id, "s1");
      EXPECT_EQ((*all)[1].subject_id, "s2");
      EXPECT_EQ((*all)[2].subject_id, "s3");
    }
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
}

TEST_P(StoreTest, SameUsernameInTwoTenantsIsAllowed) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("root-bob", "bob")));
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("acme-bob", "Bob", "acme")));
                       return t.PutUser(MakeUser("other-bob", "BOB", "other"));
                     }).ok());
  EXPECT_EQ(Found(*store_, "", "bob"), "root-bob");
  EXPECT_EQ(Found(*store_, "acme", "bob"), "acme-bob");
  EXPECT_EQ(Found(*store_, "other", "Bob"), "other-bob");
  EXPECT_EQ(Found(*store_, "ACME", "bob"), "NotFound");  // tenants compare exactly
  EXPECT_EQ(Found(*store_, "nowhere", "bob"), "NotFound");
}

TEST_P(StoreTest, DuplicateUsernameInOneTenantIsAlreadyExistsAndWritesNothing) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("c1", "carol")));
                       return t.PutUser(MakeUser("a1", "carol", "acme"));
                     }).ok());
  Status st = store_->Update([](Txn& t) { return t.PutUser(MakeUser("c2", "CAROL")); });
  EXPECT_EQ(st.code(), Status::Code::kAlreadyExists) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "'CAROL'")) << st.message();
  EXPECT_TRUE(Contains(st.message(), "no tenant")) << st.message();
  st = store_->Update([](Txn& t) { return t.PutUser(MakeUser("a2", "Carol", "acme")); });
  EXPECT_EQ(st.code(), Status::Code::kAlreadyExists) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "'Carol'")) << st.message();
  EXPECT_TRUE(Contains(st.message(), "tenant 'acme'")) << st.message();
  // Even when the callback ignores the refusal and commits, the refused user left nothing behind.
  bool refused = false;
  st = store_->Update([&](Txn& t) -> Status {
    refused = t.PutUser(MakeUser("c2", "Carol")).code() == Status::Code::kAlreadyExists;
    return t.PutUser(MakeUser("c3", "carla"));
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(refused);
  st = store_->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.GetUser("c2").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.GetUser("a2").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.ListUsers()->size(), 3u);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Found(*store_, "", "carol"), "c1");
  EXPECT_EQ(Found(*store_, "acme", "carol"), "a1");
  EXPECT_EQ(Found(*store_, "", "carla"), "c3");
  // Replacing a user under its own name (here with another spelling) is not a duplicate.
  st = store_->Update([](Txn& t) { return t.PutUser(MakeUser("c1", "Carol")); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Found(*store_, "", "CAROL"), "c1");
}

TEST_P(StoreTest, RenamingAUserMovesItsIndexEntry) {
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("d1", "dave")); }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("d1", "David")); }).ok());
  EXPECT_EQ(Found(*store_, "", "dave"), "NotFound");
  EXPECT_EQ(Found(*store_, "", "david"), "d1");
  // Moving to another tenant moves the entry too.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("d1", "David", "acme")); }).ok());
  EXPECT_EQ(Found(*store_, "", "david"), "NotFound");
  EXPECT_EQ(Found(*store_, "acme", "david"), "d1");
  // The old names are free for someone else.
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("d2", "dave")));
                       return t.PutUser(MakeUser("d3", "david"));
                     }).ok());
  EXPECT_EQ(Found(*store_, "", "dave"), "d2");
  EXPECT_EQ(Found(*store_, "", "david"), "d3");
  // Renaming onto a name taken by another subject is refused and the user keeps its old name.
  Status st = store_->Update([](Txn& t) { return t.PutUser(MakeUser("d2", "DAVID")); });
  EXPECT_EQ(st.code(), Status::Code::kAlreadyExists);
  EXPECT_EQ(Found(*store_, "", "dave"), "d2");
  EXPECT_EQ(Found(*store_, "", "david"), "d3");
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->users, 3u);
}

TEST_P(StoreTest, RemovingAUserRemovesItsIndexEntry) {
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("e1", "erin", "acme")));
                       return t.PutUser(MakeUser("e2", "eve", "acme"));
                     }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveUser("e1"); }).ok());
  EXPECT_EQ(Found(*store_, "acme", "erin"), "NotFound");
  EXPECT_EQ(Found(*store_, "acme", "eve"), "e2");
  Status st = store_->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.GetUser("e1").status().code(), Status::Code::kNotFound);
    EXPECT_EQ(t.ListUsers()->size(), 1u);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
  st = store_->Update([](Txn& t) { return t.RemoveUser("e1"); });
  EXPECT_EQ(st.code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(st.message(), "'e1'")) << st.message();
  // The name can be given to a new subject.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("e3", "Erin", "acme")); }).ok());
  EXPECT_EQ(Found(*store_, "acme", "erin"), "e3");
  // Stats count users, and only users.
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->users, 2u);
  EXPECT_EQ(stats->clients, 0u);
}

TEST_P(StoreTest, UserChangesDoNotMoveTheConfigGeneration) {
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutClient(MakeClient("a")); }).ok());
  ASSERT_EQ(Generation(*store_), 1u);
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("u1", "una")); }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("u1", "Uma")); }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) -> Status {
                       Result<User> u = t.GetUser("u1");
                       if (!u.ok()) return u.status();
                       u->access_failed_count = 4;
                       u->lockout_end = 1800000000;
                       return t.PutUser(*u);
                     }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("u2", "ursula")); }).ok());
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveUser("u2"); }).ok());
  EXPECT_EQ(Generation(*store_), 1u);
  // A configuration change in the same transaction as a user change still counts, once.
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("u3", "uwe")));
                       return t.RemoveClient("a");
                     }).ok());
  EXPECT_EQ(Generation(*store_), 2u);
}

TEST_P(StoreTest, InvalidUsersAreNeverWritten) {
  struct Case {
    User user;
    const char* message;
  } cases[] = {
      {MakeUser("", "x"), "SubjectId: required"},
      {MakeUser(std::string(201, 's'), "x"), "SubjectId: longer than 200 characters"},
      {MakeUser("s", ""), "Username: required"},
      {MakeUser("s", std::string("a\0b", 3)), "Username: contains a NUL character"},
      {MakeUser("s", "x", std::string(101, 't')), "Tenant: longer than 100 characters"},
      {User{.subject_id = "s", .username = "x", .password_hash = "hunter2"}, "PasswordHash: expected"},
      {User{.subject_id = "s", .username = "x", .claims = {ClaimValue{}}}, "Claims[0].Type: required"},
      {User{.subject_id = "s", .username = "x", .access_failed_count = -1}, "AccessFailedCount"},
  };
  for (const Case& c : cases) {
    Status st = store_->Update([&](Txn& t) { return t.PutUser(c.user); });
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << c.message;
    EXPECT_EQ(st.message().rfind(c.message, 0), 0u) << st.message();
    EXPECT_FALSE(Contains(st.message(), "hunter2"));
  }
  Status st = store_->Read([](Txn& t) -> Status {
    EXPECT_TRUE(t.ListUsers()->empty());
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(store_->Read([](Txn& t) { return t.PutUser(MakeUser("s", "x")); }).code(), Status::Code::kInternal);
  EXPECT_EQ(store_->Read([](Txn& t) { return t.RemoveUser("s"); }).code(), Status::Code::kInternal);
}

TEST_F(LmdbStoreTest, CorruptUserRecordsAndIndexEntriesAreReportedAndRepairable) {
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("ok", "olga")); }).ok());
  store_.reset();
  const std::string nul(1, '\0');
  // A record with a plaintext "Password" (say, written by hand) is refused on read, naming the key.
  RawPut(tmp_.path(), "users", "bad", R"({"v":1,"SubjectId":"bad","Username":"bert","Password":"pw"})");
  RawPut(tmp_.path(), "usernames", nul + "bert", "bad");
  RawPut(tmp_.path(), "usernames", nul + "ghost", "gone");     // points to a missing user
  RawPut(tmp_.path(), "usernames", nul + "imposter", "ok");    // points to a user with another name
  store_ = MustOpen(Options(tmp_.path(), false));
  ASSERT_NE(store_, nullptr);
  Status st = store_->Read([](Txn& t) -> Status {
    Result<User> bad = t.GetUser("bad");
    EXPECT_EQ(bad.status().code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(bad.status().message(), "users 'bad'")) << bad.status().message();
    EXPECT_TRUE(Contains(bad.status().message(), "Password")) << bad.status().message();
    EXPECT_FALSE(Contains(bad.status().message(), "pw\"")) << bad.status().message();
    EXPECT_EQ(t.FindUserByName("", "bert").status().code(), Status::Code::kCorruption);
    Result<User> ghost = t.FindUserByName("", "ghost");
    EXPECT_EQ(ghost.status().code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(ghost.status().message(), "missing user 'gone'")) << ghost.status().message();
    Result<User> imposter = t.FindUserByName("", "imposter");
    EXPECT_EQ(imposter.status().code(), Status::Code::kCorruption);
    EXPECT_TRUE(Contains(imposter.status().message(), "'olga'")) << imposter.status().message();
    EXPECT_EQ(t.ListUsers().status().code(), Status::Code::kCorruption);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // Replacing the corrupt record drops its old index entry (found by a scan, as the record does not parse), and a
  // leftover entry for a missing user does not block the name.
  ASSERT_TRUE(store_->Update([](Txn& t) {
                       TF_RETURN_IF_ERROR(t.PutUser(MakeUser("bad", "bertram")));
                       return t.PutUser(MakeUser("new", "ghost"));
                     }).ok());
  EXPECT_EQ(Found(*store_, "", "bert"), "NotFound");
  EXPECT_EQ(Found(*store_, "", "bertram"), "bad");
  EXPECT_EQ(Found(*store_, "", "ghost"), "new");
  // A corrupt record can be removed, index entry included.
  store_.reset();
  RawPut(tmp_.path(), "users", "bad", "{not json");
  store_ = MustOpen(Options(tmp_.path(), false));
  ASSERT_NE(store_, nullptr);
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.RemoveUser("bad"); }).ok());
  EXPECT_EQ(Found(*store_, "", "bertram"), "NotFound");
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutUser(MakeUser("b2", "Bertram")); }).ok());
  EXPECT_EQ(Found(*store_, "", "bertram"), "b2");
}

// A database made before users existed: meta, clients, resources and keys only, as raw LMDB writes them.
void MakeDatabaseWithoutUsers(const std::string& path) {
  testing::RawLmdb(path, true, [](MDB_txn* txn) {
    for (const char* db : {"meta", "clients", "resources", "keys"}) {
      MDB_dbi dbi;
      ASSERT_EQ(mdb_dbi_open(txn, db, MDB_CREATE, &dbi), 0);
    }
  });
  RawPut(path, "meta", "schema_version", "1");
  RawPut(path, "meta", "config_generation", "7");
  RawPut(path, "clients", "old", ToJson(MakeClient("old", 77)));
}

TEST(StoreUpgrade, DatabaseWithoutUserDatabasesOpensAndGetsThem) {
  TempDir tmp;
  MakeDatabaseWithoutUsers(tmp.path());
  StoreOptions ro = Options(tmp.path(), false);
  ro.read_only = true;
  {
    // Read-only, it has no users (and is not an error), and everything else is there.
    std::unique_ptr<Store> s = MustOpen(ro);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(Generation(*s), 7u);
    Status st = s->Read([](Txn& t) -> Status {
      EXPECT_EQ(t.GetClient("old")->access_token_lifetime, 77);
      EXPECT_EQ(t.GetUser("u").status().code(), Status::Code::kNotFound);
      EXPECT_EQ(t.FindUserByName("", "una").status().code(), Status::Code::kNotFound);
      Result<std::vector<User>> users = t.ListUsers();
      EXPECT_TRUE(users.ok()) << users.status().ToString();
      if (users.ok()) {
        EXPECT_TRUE(users->empty());
      }
      return Status::OK();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    Result<StoreStats> stats = s->Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->users, 0u);
    EXPECT_EQ(stats->clients, 1u);
  }
  {
    // A writable open (a worker, or any tokenctl command that writes) adds the users databases.
    std::unique_ptr<Store> s = MustOpen(Options(tmp.path(), false));
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Update([](Txn& t) { return t.PutUser(MakeUser("u", "Una")); }).ok());
    EXPECT_EQ(Generation(*s), 7u);
  }
  std::unique_ptr<Store> s = MustOpen(ro);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Found(*s, "", "una"), "u");
  Status st = s->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.GetClient("old")->access_token_lifetime, 77);
    return Status::OK();
  });
  ASSERT_TRUE(st.ok());
}

// ---- The session key (meta "session_key") -----------------------------------------------------------------------

Result<std::string> SessionKey(Store& s) {
  Result<std::string> key = Status::Internal("not read");
  Status st = s.Read([&](Txn& t) -> Status {
    key = t.GetSessionKey();
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return key;
}

TEST(StoreSessionKey, CreatedByTheFirstOpenStableAcrossReopenAndRandom) {
  TempDir tmp;
  std::string first;
  {
    std::unique_ptr<Store> s = MustOpen(Options(tmp.Sub("a")));
    ASSERT_NE(s, nullptr);
    Result<std::string> key = SessionKey(*s);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->size(), 32u);
    EXPECT_NE(*key, std::string(32, '\0'));
    first = *key;
    EXPECT_EQ(Generation(*s), 0u);  // creating it is part of initialisation, not a configuration change
  }
  std::unique_ptr<Store> again = MustOpen(Options(tmp.Sub("a"), false));
  ASSERT_NE(again, nullptr);
  Result<std::string> key = SessionKey(*again);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(*key, first);
  StoreOptions ro = Options(tmp.Sub("a"), false);
  ro.read_only = true;
  std::unique_ptr<Store> reader = MustOpen(ro);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*SessionKey(*reader), first);
  // Another database gets another key.
  std::unique_ptr<Store> other = MustOpen(Options(tmp.Sub("b")));
  ASSERT_NE(other, nullptr);
  EXPECT_NE(*SessionKey(*other), first);
}

TEST_P(StoreTest, PutSessionKeyReplacesItAndMovesTheConfigGeneration) {
  const std::string old_key = *SessionKey(*store_);
  const uint64_t g = Generation(*store_);
  const std::string new_key(32, '\x5a');
  ASSERT_TRUE(store_->Update([&](Txn& t) { return t.PutSessionKey(new_key); }).ok());
  EXPECT_EQ(*SessionKey(*store_), new_key);
  EXPECT_NE(new_key, old_key);
  EXPECT_EQ(Generation(*store_), g + 1);
  // Every replacement moves it again, even with the same bytes (the operator asked for a change).
  ASSERT_TRUE(store_->Update([&](Txn& t) { return t.PutSessionKey(new_key); }).ok());
  EXPECT_EQ(Generation(*store_), g + 2);
  // Keys are raw bytes: NULs and high bytes survive.
  std::string binary(32, '\0');
  binary[5] = '\xff';
  ASSERT_TRUE(store_->Update([&](Txn& t) { return t.PutSessionKey(binary); }).ok());
  EXPECT_EQ(*SessionKey(*store_), binary);
}

// The layer above may store the key sealed (token/key_encryption.h): the store keeps any value of 32 to
// kMaxSessionKeyValueSize bytes as it is.
TEST_P(StoreTest, PutSessionKeyKeepsAnOpaqueSealedValue) {
  std::string sealed(61, '\x01');
  sealed[7] = '\0';
  ASSERT_TRUE(store_->Update([&](Txn& t) { return t.PutSessionKey(sealed); }).ok());
  EXPECT_EQ(*SessionKey(*store_), sealed);
  const std::string longest(kMaxSessionKeyValueSize, 'x');
  ASSERT_TRUE(store_->Update([&](Txn& t) { return t.PutSessionKey(longest); }).ok());
  EXPECT_EQ(*SessionKey(*store_), longest);
}

TEST_P(StoreTest, PutSessionKeyRefusesAnyOtherSize) {
  const std::string before = *SessionKey(*store_);
  const uint64_t g = Generation(*store_);
  for (size_t n : {size_t{0}, size_t{1}, size_t{16}, size_t{31}, kMaxSessionKeyValueSize + 1, size_t{4096}}) {
    Status st = store_->Update([&](Txn& t) { return t.PutSessionKey(std::string(n, 'k')); });
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << n << ": " << st.ToString();
    EXPECT_TRUE(Contains(st.message(), "expected 32 to 128 bytes")) << st.message();
    EXPECT_EQ(st.message().find(std::string(n, 'k') + "'"), std::string::npos) << "the key must not be echoed";
  }
  EXPECT_EQ(*SessionKey(*store_), before);
  EXPECT_EQ(Generation(*store_), g);
  // Not in a read transaction either.
  Status st = store_->Read([](Txn& t) { return t.PutSessionKey(std::string(32, 'k')); });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(*SessionKey(*store_), before);
}

TEST_F(LmdbStoreTest, StoredSessionKeyOfAnotherSizeIsCorruption) {
  store_.reset();
  RawPut(tmp_.path(), "meta", "session_key", "short");
  store_ = MustOpen(Options(tmp_.path(), false));
  ASSERT_NE(store_, nullptr);
  // A writable open does not silently replace it (that would end sessions without the operator asking).
  Result<std::string> key = SessionKey(*store_);
  EXPECT_EQ(key.status().code(), Status::Code::kCorruption);
  EXPECT_TRUE(Contains(key.status().message(), "expected 32 to 128 bytes, found 5")) << key.status().message();
  EXPECT_FALSE(Contains(key.status().message(), "short"));
  // Replacing it (tokenctl session rotate-key) repairs it.
  ASSERT_TRUE(store_->Update([](Txn& t) { return t.PutSessionKey(std::string(32, 'n')); }).ok());
  EXPECT_EQ(*SessionKey(*store_), std::string(32, 'n'));
}

TEST(StoreUpgrade, DatabaseWithoutSessionKeyGetsOneAtItsNextWritableOpen) {
  TempDir tmp;
  MakeDatabaseWithoutUsers(tmp.path());
  StoreOptions ro = Options(tmp.path(), false);
  ro.read_only = true;
  {
    // Read-only, it has none: NotFound, and everything else still works.
    std::unique_ptr<Store> s = MustOpen(ro);
    ASSERT_NE(s, nullptr);
    Result<std::string> key = SessionKey(*s);
    EXPECT_EQ(key.status().code(), Status::Code::kNotFound) << key.status().ToString();
    EXPECT_EQ(Generation(*s), 7u);
  }
  std::string created;
  {
    std::unique_ptr<Store> s = MustOpen(Options(tmp.path(), false));
    ASSERT_NE(s, nullptr);
    Result<std::string> key = SessionKey(*s);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    EXPECT_EQ(key->size(), 32u);
    created = *key;
    EXPECT_EQ(Generation(*s), 7u);
  }
  std::unique_ptr<Store> s = MustOpen(ro);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*SessionKey(*s), created);
}

}  // namespace
}  // namespace tf::store
