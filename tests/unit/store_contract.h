// The store conformance suite's frame: one factory per Store implementation, and the fixture every contract test
// (store_test.cc, grants_store_test.cc, lockout_test.cc: TEST_P(StoreContract...)) runs on, once per factory. The
// tests check what store/store.h promises, through the Store and Txn interfaces only, so an implementation added to
// StoreFactories() is tested against exactly the same contract with no other change. What only one implementation
// has (LMDB's map size, reader table, file modes, raw records written behind the store's back) is tested in plain
// TEST()s beside them, not here.
//
// Header-only, test-only. A factory is called from the test thread, and from forked children (each opens its own
// handle after the fork, as a worker process does).
#ifndef TF_TESTS_UNIT_STORE_CONTRACT_H_
#define TF_TESTS_UNIT_STORE_CONTRACT_H_

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "pg_cluster.h"
#include "store/store.h"
#include "test_env.h"
#include "util/status.h"

namespace tf::testing {

// One Store implementation, as the conformance suite sees it.
struct StoreFactory {
  std::string name;  // the test name suffix: [A-Za-z0-9_]
  // Opens a handle on the store that lives under `dir` (a fresh temporary directory per test, empty at the first
  // call). `create` = the first open of a test (tokenctl init): the store is made empty and initialised. Every later
  // call (create = false) opens another handle on the same store, as another worker process would.
  std::function<Result<std::unique_ptr<store::Store>>(const std::string& dir, bool create)> open;
};

// gtest names a failing parameter by this, not by its bytes.
inline void PrintTo(const StoreFactory& factory, std::ostream* os) { *os << factory.name; }

// Every implementation the suite runs on. A second backend adds one line here.
inline std::vector<StoreFactory> StoreFactories() {
  return {
      {"Lmdb",
       [](const std::string& dir, bool create) {
         return store::Store::Open(NewStoreOptions(dir + "/db", create, 64u << 20));
       }},
      // The test binary's private PostgreSQL cluster (pg_cluster.h), a schema of its own per test.
      {"Postgres",
       [](const std::string& dir, bool create) -> Result<std::unique_ptr<store::Store>> {
         Result<PgCluster*> cluster = SharedPgCluster();
         if (!cluster.ok()) return cluster.status();
         const std::string schema = SchemaFor(dir);
         if (create) TF_RETURN_IF_ERROR((*cluster)->Sql("CREATE SCHEMA " + schema));
         store::StoreOptions options;
         options.path = (*cluster)->Uri("postgres", schema);
         options.create = create;
         return store::OpenStore(options);
       }},
  };
}

// A fresh store of the factory's kind per test.
class StoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<store::Store>> s = GetParam().open(tmp_.path(), true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }

  // Another handle on the same store (in a forked child: that process's own).
  Result<std::unique_ptr<store::Store>> OpenAnother() const { return GetParam().open(tmp_.path(), false); }

  TempDir tmp_{"store_contract"};
  std::unique_ptr<store::Store> store_;
};

}  // namespace tf::testing

// Runs the TEST_P(suite, ...) tests of a file once per StoreFactories() entry; `suite` derives from StoreContract.
#define TF_STORE_CONTRACT_SUITE(suite)                                                         \
  INSTANTIATE_TEST_SUITE_P(, suite, ::testing::ValuesIn(::tf::testing::StoreFactories()),     \
                           [](const ::testing::TestParamInfo<::tf::testing::StoreFactory>& i) { \
                             return i.param.name;                                              \
                           })

#endif  // TF_TESTS_UNIT_STORE_CONTRACT_H_
