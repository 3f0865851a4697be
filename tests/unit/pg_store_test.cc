// Tests for what only the PostgreSQL store has (store/pg_store.h): choosing it by the `database` value, passwords kept
// out of messages, schema versions (tokenctl init and migrate, a worker refusing an unknown version), the statement
// timeout, and an outage: the server stopped mid-use and started again. The Store contract itself runs on PostgreSQL
// through the conformance suite (store_contract.h).
#include "store/pg_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <fstream>
#include <sstream>
#include <thread>

#include "admin/cli.h"
#include "admin/grants.h"
#include "oauth/errors.h"
#include "pg_cluster.h"
#include "store/store.h"
#include "test_env.h"
#include "util/crypto.h"

namespace tf::store {
namespace {

using testing::PgCluster;
using testing::SharedPgCluster;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A fresh schema of the shared cluster, and the options that open it.
StoreOptions FreshSchema(const std::string& name, bool create) {
  Result<PgCluster*> cluster = SharedPgCluster();
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  StoreOptions o;
  if (!cluster.ok()) return o;
  EXPECT_TRUE((*cluster)->Sql("DROP SCHEMA IF EXISTS " + name + " CASCADE; CREATE SCHEMA " + name).ok());
  o.path = (*cluster)->Uri("postgres", name);
  o.create = create;
  return o;
}

Grant MakeGrant(const std::string& family) {
  Grant g;
  g.kind = GrantKind::kRefreshToken;
  g.client_id = "c";
  g.subject = "s";
  g.created = 1000;
  g.expires = 1 << 30;
  g.family = family;
  return g;
}

TEST(PgStoreUri, PostgresUrisSelectPostgresEverythingElseLmdb) {
  EXPECT_TRUE(IsPostgresUri("postgresql://db.example/tokenfcgi"));
  EXPECT_TRUE(IsPostgresUri("postgres:///tokenfcgi?host=/run/postgresql"));
  EXPECT_FALSE(IsPostgresUri("/var/lib/tokenfcgi"));
  EXPECT_FALSE(IsPostgresUri("postgresql:/x"));
  EXPECT_FALSE(IsPostgresUri("./postgresql://x"));
}

TEST(PgStoreUri, RedactedDatabaseDropsEveryPassword) {
  EXPECT_EQ(RedactedDatabase("postgresql://tf:s3cret@db.example:5432/tokenfcgi?sslmode=require"),
            "postgresql://tf@db.example:5432/tokenfcgi?sslmode=require");
  EXPECT_EQ(RedactedDatabase("postgres://tf:p%40ss@h1,h2/db"), "postgres://tf@h1,h2/db");
  EXPECT_EQ(RedactedDatabase("postgresql://h/db?user=tf&password=s3cret&connect_timeout=2"),
            "postgresql://h/db?user=tf&connect_timeout=2");
  EXPECT_EQ(RedactedDatabase("postgresql://h/db?password=s3cret"), "postgresql://h/db");
  EXPECT_EQ(RedactedDatabase("postgresql://tf@h/db"), "postgresql://tf@h/db");
  EXPECT_EQ(RedactedDatabase("postgresql://h"), "postgresql://h");
  EXPECT_EQ(RedactedDatabase("/var/lib/tokenfcgi"), "/var/lib/tokenfcgi");
}

TEST(PgStoreOpen, OpenStoreChoosesTheBackendByTheDatabaseValue) {
  testing::TempDir tmp("pg_store_test");
  Result<std::unique_ptr<Store>> lmdb = OpenStore(testing::NewStoreOptions(tmp.path() + "/db", true));
  ASSERT_TRUE(lmdb.ok()) << lmdb.status().ToString();
  EXPECT_EQ((*lmdb)->ConfigCheckIntervalMs(), 0);
  Result<std::unique_ptr<Store>> pg = OpenStore(FreshSchema("choose", true));
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_EQ((*pg)->ConfigCheckIntervalMs(), 500);  // the reload thread asks for the generation twice a second
  EXPECT_TRUE(Contains((*pg)->GrowMap(1u << 30).message(), "no LMDB map")) << (*pg)->GrowMap(1u << 30).message();
}

TEST(PgStoreOpen, UninitialisedDatabaseSaysRunTokenctlInit) {
  StoreOptions o = FreshSchema("uninit", false);
  Result<std::unique_ptr<Store>> s = OpenStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(Contains(s.status().message(), "run tokenctl init")) << s.status().message();
  // init (create) makes it; then a plain open works, and init again changes nothing.
  o.create = true;
  ASSERT_TRUE(OpenStore(o).ok());
  ASSERT_TRUE(OpenStore(o).ok());
  o.create = false;
  Result<std::unique_ptr<Store>> again = OpenStore(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->ConfigGeneration(), 0u);
}

// A version-0 database (what an older release would have left: the version table and nothing else) is refused by a
// worker's open with one message saying what to run, and tokenctl migrate (migrate = true) brings it to version 1.
TEST(PgStoreSchema, OlderSchemaIsRefusedUntilMigrated) {
  StoreOptions o = FreshSchema("v0", false);
  Result<PgCluster*> cluster = SharedPgCluster();
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE((*cluster)
                  ->Sql("CREATE TABLE v0.tf_schema_version (id integer PRIMARY KEY CHECK (id = 1), "
                        "version bigint NOT NULL); INSERT INTO v0.tf_schema_version VALUES (1, 0)")
                  .ok());
  Result<std::unique_ptr<Store>> s = OpenStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kConflict);
  EXPECT_TRUE(Contains(s.status().message(), "schema version 0")) << s.status().message();
  EXPECT_TRUE(Contains(s.status().message(), "supports schema version 1")) << s.status().message();
  EXPECT_TRUE(Contains(s.status().message(), "run tokenctl migrate")) << s.status().message();

  o.migrate = true;
  Result<std::unique_ptr<Store>> migrated = OpenStore(o);
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  o.migrate = false;
  Result<std::unique_ptr<Store>> worker = OpenStore(o);
  ASSERT_TRUE(worker.ok()) << worker.status().ToString();
  Client c;
  c.client_id = "after-migrate";
  ASSERT_TRUE((*worker)->Update([&](Txn& t) { return t.PutClient(c); }).ok());
  EXPECT_EQ(*(*worker)->ConfigGeneration(), 1u);
  Status st = (*worker)->Read([](Txn& t) -> Status {
    EXPECT_EQ(t.GetSessionKey()->size(), 32u);  // the writable open made it
    return t.GetClient("after-migrate").status();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(PgStoreSchema, NewerSchemaIsRefusedNamingBoth) {
  StoreOptions o = FreshSchema("newer", true);
  ASSERT_TRUE(OpenStore(o).ok());
  Result<PgCluster*> cluster = SharedPgCluster();
  ASSERT_TRUE((*cluster)->Sql("UPDATE newer.tf_schema_version SET version = 2").ok());
  for (bool migrate : {false, true}) {
    o.create = false;
    o.migrate = migrate;
    Result<std::unique_ptr<Store>> s = OpenStore(o);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Status::Code::kConflict);
    EXPECT_TRUE(Contains(s.status().message(), "schema version 2")) << s.status().message();
    EXPECT_TRUE(Contains(s.status().message(), "supports schema version 1")) << s.status().message();
  }
}

TEST(PgStoreErrors, MessagesNeverCarryThePassword) {
  Result<PgCluster*> cluster = SharedPgCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  StoreOptions o;
  // A database that does not exist: the connect fails, and the message names it without the password.
  o.path = "postgresql://tf:hunter2@/nosuchdb?host=" + (*cluster)->dir();
  Result<std::unique_ptr<Store>> s = OpenStore(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(s.status().message(), "nosuchdb")) << s.status().message();
  EXPECT_FALSE(Contains(s.status().message(), "hunter2")) << s.status().message();
}

// A statement that waits longer than statement_timeout (here on a lock another session holds) fails as Unavailable,
// naming the timeout, and the transaction writes nothing; once the lock is gone the store works.
TEST(PgStoreErrors, StatementTimeoutBoundsEveryStatement) {
  StoreOptions o = FreshSchema("slow", true);
  o.statement_timeout_ms = 200;
  Result<std::unique_ptr<Store>> s = OpenStore(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  PGconn* locker = PQconnectdb(o.path.c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK) << PQerrorMessage(locker);
  PQclear(PQexec(locker, "BEGIN"));
  PGresult* r = PQexec(locker, "LOCK TABLE tf_grants IN ACCESS EXCLUSIVE MODE");
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
  PQclear(r);
  const auto start = std::chrono::steady_clock::now();
  Status st = (*s)->Update([](Txn& t) { return t.PutGrant(Sha256("h"), MakeGrant("f")); });
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), "statement timeout")) << st.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  PQclear(PQexec(locker, "ROLLBACK"));
  PQfinish(locker);
  st = (*s)->Read([](Txn& t) {
    EXPECT_TRUE(t.GetGrant(Sha256("h")).status().IsNotFound());
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE((*s)->Update([](Txn& t) { return t.PutGrant(Sha256("h"), MakeGrant("f")); }).ok());
}

// The server stops while a Store is in use: every operation answers Unavailable (the oauth layer's 503) instead of
// crashing or hanging, naming the server, and the same Store works again once the server is back.
TEST(PgStoreOutage, StoppedServerIsUnavailableAndTheSameStoreRecovers) {
  Result<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  StoreOptions o;
  o.path = (*cluster)->Uri();
  o.create = true;
  Result<std::unique_ptr<Store>> opened = OpenStore(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Store> s = std::move(opened).value();
  ASSERT_TRUE(s->Update([](Txn& t) { return t.PutGrant(Sha256("before"), MakeGrant("f")); }).ok());

  ASSERT_TRUE((*cluster)->StopServer().ok());
  Status st = s->Update([](Txn& t) { return t.PutGrant(Sha256("during"), MakeGrant("f")); });
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_TRUE(Contains(st.message(), (*cluster)->dir())) << st.ToString();  // the host: here the socket directory
  st = s->Read([](Txn& t) { return t.GetGrant(Sha256("before")).status(); });
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(s->ConfigGeneration().status().code(), Status::Code::kUnavailable);
  // Within the backoff it answers at once, without trying to connect.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(s->Update([](Txn& t) { return t.RemoveGrant(Sha256("before")); }).code(), Status::Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));

  ASSERT_TRUE((*cluster)->StartServer().ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    st = s->Update([](Txn& t) { return t.PutGrant(Sha256("after"), MakeGrant("f")); });
    if (st.ok()) break;
    EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = s->Read([](Txn& t) -> Status {
    TF_RETURN_IF_ERROR(t.GetGrant(Sha256("before")).status());
    TF_RETURN_IF_ERROR(t.GetGrant(Sha256("after")).status());
    EXPECT_TRUE(t.GetGrant(Sha256("during")).status().IsNotFound());  // nothing half-written
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
}

// The worker's open (connect_later): a server that is down is no error; the Store answers Unavailable until the
// server is back, then does the open's work on its first connection (here it finds the session key). A schema this
// build does not know stays an error: at open when the server is up, and at the first connection otherwise, where it
// is answered to every transaction from then on (not Unavailable: reconnecting does not mend it).
TEST(PgStoreOutage, AStoreOpenedWhileTheServerIsDownConnectsLaterAndStillRefusesAnUnknownSchema) {
  Result<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  StoreOptions o;
  o.path = (*cluster)->Uri();
  o.create = true;
  ASSERT_TRUE(OpenStore(o).ok());
  o.create = false;
  o.connect_later = true;

  ASSERT_TRUE((*cluster)->StopServer().ok());
  Result<std::unique_ptr<Store>> later = OpenStore(o);
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_EQ((*later)->ConfigGeneration().status().code(), Status::Code::kUnavailable);
  Result<std::unique_ptr<Store>> newer = OpenStore(o);  // for the schema a later release migrated to
  ASSERT_TRUE(newer.ok()) << newer.status().ToString();
  ASSERT_TRUE((*cluster)->StartServer().ok());

  Status st;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = (*later)->Read([](Txn& t) { return t.GetSessionKey().status(); });
  } while (st.code() == Status::Code::kUnavailable && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(st.ok()) << st.ToString();

  ASSERT_TRUE((*cluster)->Sql("UPDATE tf_schema_version SET version = 2").ok());
  for (int i = 0; i < 2; ++i) {
    do {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      st = (*newer)->Read([](Txn& t) { return t.GetSessionKey().status(); });
    } while (st.code() == Status::Code::kUnavailable && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(st.code(), Status::Code::kConflict) << st.ToString();
    EXPECT_TRUE(Contains(st.message(), "supports schema version 1")) << st.ToString();
  }
  Result<std::unique_ptr<Store>> at_start = OpenStore(o);
  ASSERT_FALSE(at_start.ok());
  EXPECT_EQ(at_start.status().code(), Status::Code::kConflict) << at_start.status().ToString();
}

// What the oauth layer answers for a store that cannot be reached: 503 temporarily_unavailable with Retry-After, as
// for a full LMDB map (with its own wait), and not the 500 of other store failures.
TEST(PgStoreOutage, UnavailableIsAnswered503WithRetryAfter) {
  http::Response r = oauth::StoreFailureResponse(
      "refresh_token grant", Status::Unavailable("PostgreSQL postgresql://db/x: cannot connect: refused"), "busy");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(oauth::ErrorCodeOf(r), "temporarily_unavailable");
  EXPECT_EQ(testing::HeaderOf(r, "Retry-After"), std::to_string(oauth::kStoreUnavailableRetryAfterSeconds));
  EXPECT_EQ(testing::HeaderOf(r, "Cache-Control"), "no-store");
  EXPECT_EQ(testing::HeaderOf(oauth::StoreFailureResponse("x", Status::ResourceExhausted("full"), ""), "Retry-After"),
            std::to_string(oauth::kStoreFullRetryAfterSeconds));
  EXPECT_EQ(oauth::StoreFailureResponse("x", Status::IOError("disk"), "").status, 500);
}

// tokenctl on a postgresql:// database: init creates the schema, a command on a version-0 schema is refused until
// migrate, and no output carries the URI's password.
TEST(PgStoreTokenctl, InitMigrateAndNoPasswordInTheOutput) {
  Result<PgCluster*> cluster = SharedPgCluster();
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  testing::TempDir tmp("pg_store_test");
  const std::string uri = "postgresql://tf:hunter2@/postgres?host=" + (*cluster)->dir() +
                          "&options=-csearch_path%3Dctl";  // trust authentication: the password is never asked for
  std::ofstream(tmp.path() + "/tokenfcgi.conf")
      << "issuer = http://127.0.0.1:8080\ndatabase = " << uri << "\naccess_token_signing_alg = ES256\n";
  std::string out, err;
  ManualClock clock(testing::kNow);
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", tmp.path() + "/tokenfcgi.conf"});
    std::istringstream in;
    std::ostringstream o, e;
    admin::CliIo io{&in, &o, &e, &clock};
    io.terminal_fd = -1;
    const int code = admin::RunTokenctl(args, io);
    out = o.str();
    err = e.str();
    EXPECT_FALSE(Contains(out + err, "hunter2")) << out << err;
    return code;
  };
  ASSERT_TRUE((*cluster)->Sql("DROP SCHEMA IF EXISTS ctl CASCADE; CREATE SCHEMA ctl").ok());
  EXPECT_EQ(run({"key", "list"}), admin::kExitError);
  EXPECT_TRUE(Contains(err, "run tokenctl init")) << err;
  ASSERT_EQ(run({"init"}), admin::kExitOk) << err;
  EXPECT_TRUE(Contains(out, "created database postgresql://tf@/postgres")) << out;
  ASSERT_EQ(run({"init"}), admin::kExitOk) << err;
  EXPECT_FALSE(Contains(out, "created database")) << out;
  ASSERT_EQ(run({"key", "list"}), admin::kExitOk) << err;
  EXPECT_TRUE(Contains(out, "ES256")) << out;

  // Back to a version-0 schema: refused with what to run, then migrated.
  ASSERT_TRUE((*cluster)
                  ->Sql("DROP SCHEMA ctl CASCADE; CREATE SCHEMA ctl; CREATE TABLE ctl.tf_schema_version "
                        "(id integer PRIMARY KEY, version bigint NOT NULL); "
                        "INSERT INTO ctl.tf_schema_version VALUES (1, 0)")
                  .ok());
  EXPECT_EQ(run({"key", "list"}), admin::kExitError);
  EXPECT_TRUE(Contains(err, "run tokenctl migrate")) << err;
  ASSERT_EQ(run({"migrate"}), admin::kExitOk) << err;
  EXPECT_TRUE(Contains(out, "schema is current")) << out;
  EXPECT_EQ(run({"key", "list"}), admin::kExitOk) << err;
  ASSERT_EQ(run({"migrate"}), admin::kExitOk) << err;  // again: nothing to do
}

// ---- indexes: what tokenctl gc, grants list/revoke, stats and the family path cost on a large table -------------

// The sequential and index scans PostgreSQL has counted on `table` (pg_stat_user_tables), read on a connection of
// its own. The counts of a session reach the statistics when it ends.
std::pair<int64_t, int64_t> ScanCounts(const std::string& uri, const std::string& table) {
  PGconn* conn = PQconnectdb(uri.c_str());
  std::pair<int64_t, int64_t> out{-1, -1};
  if (PQstatus(conn) == CONNECTION_OK) {
    const std::string sql = "SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relid = '" +
                            table + "'::regclass";
    PGresult* r = PQexec(conn, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      out = {std::stoll(PQgetvalue(r, 0, 0)), std::stoll(PQgetvalue(r, 0, 1))};
    }
    PQclear(r);
  }
  PQfinish(conn);
  return out;
}

// Every query behind tokenctl gc, grants list (by client, subject, both), grants revoke (by client, subject,
// family), stats, and the refresh-token family path (ListFamilyGrants, CountFamilyGrants), run through the store on
// a table of 200,000 grants and 3,000 family revocations with the planner's default settings: none scans tf_grants
// sequentially (its seq_scan count stays), each uses an index (its idx_scan count moves). Each operation runs on a
// Store of its own, closed before the counts are read, so its session's counts have reached the statistics.
TEST(PgStoreIndexes, AdminQueriesUseIndexesOnALargeTable) {
  StoreOptions o = FreshSchema("big", true);
  Result<PgCluster*> cluster = SharedPgCluster();
  ASSERT_TRUE(cluster.ok());
  ASSERT_TRUE(OpenStore(o).ok());
  o.create = false;
  // Filler no test query selects (its values are never parsed): 2,000 clients, 20,000 subjects, families of 3, one
  // grant in ten expired; revocations of families without grants, half of them past keep_until.
  ASSERT_TRUE((*cluster)
                  ->Sql("ALTER TABLE big.tf_grants SET (autovacuum_enabled = false); "
                        "INSERT INTO big.tf_grants SELECT sha256(int4send(i)), convert_to('ffam' || (i / 3), 'UTF8'), "
                        "convert_to('fclient' || (i % 2000), 'UTF8'), convert_to('fsub' || (i % 20000), 'UTF8'), "
                        "CASE WHEN i % 10 = 0 THEN 1000 ELSE 2000000000 END, decode(repeat('ab', 150), 'hex') "
                        "FROM generate_series(1, 200000) i; "
                        "INSERT INTO big.tf_revocations SELECT convert_to('frev' || i, 'UTF8'), "
                        "CASE WHEN i % 2 = 0 THEN 1000 ELSE 2000000000 END, '\\x00' FROM generate_series(1, 3000) i")
                  .ok());
  // The grants the operations find: client c / subject s in family F, client c2 / subject s2 in families G and H,
  // expired ones, and a revoked family R with grants left to collect.
  {
    Result<std::unique_ptr<Store>> s = OpenStore(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE((*s)->Update([](Txn& t) -> Status {
                     for (int i = 0; i < 4; ++i) {
                       const std::string n = std::to_string(i);
                       Grant f = MakeGrant("F");
                       TF_RETURN_IF_ERROR(t.PutGrant(Sha256("f" + n), f));
                       Grant g = MakeGrant(i % 2 == 0 ? "G" : "H");
                       g.client_id = "c2";
                       g.subject = "s2";
                       TF_RETURN_IF_ERROR(t.PutGrant(Sha256("g" + n), g));
                       Grant x = MakeGrant("X" + n);
                       x.expires = 1500;
                       TF_RETURN_IF_ERROR(t.PutGrant(Sha256("x" + n), x));
                       TF_RETURN_IF_ERROR(t.PutGrant(Sha256("r" + n), MakeGrant("R")));
                     }
                     return t.RevokeFamilyPart("R", 100, 200, 0).status();  // recorded, grants left for gc
                   }).ok());
  }
  ASSERT_TRUE((*cluster)->Sql("VACUUM ANALYZE big.tf_grants").ok());  // one statement: VACUUM runs alone
  ASSERT_TRUE((*cluster)->Sql("ANALYZE big.tf_revocations").ok());

  const std::string table = "big.tf_grants";
  // `counts`: the operation counts the rows (stats), which reads every one of them however it goes: then it must
  // be one count, an index-only or a (parallel: one scan counted per process, at most 3 with the default
  // max_parallel_workers_per_gather) sequential scan as the planner finds cheaper (docs/postgresql.md).
  const auto check = [&](const std::string& what, const std::function<void(Store&)>& run, bool counts = false) {
    SCOPED_TRACE(what);
    const std::pair<int64_t, int64_t> before = ScanCounts(o.path, table);
    ASSERT_GE(before.first, 0);
    {
      Result<std::unique_ptr<Store>> s = OpenStore(o);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      const auto start = std::chrono::steady_clock::now();
      run(**s);
      // The times docs/postgresql.md records (this machine, a test cluster without fsync).
      std::fprintf(stderr, "%s on 200,000 grants: %.1f ms\n", what.c_str(),
                   std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::pair<int64_t, int64_t> after = before;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (after == before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      after = ScanCounts(o.path, table);
    }
    if (counts) {
      EXPECT_GE(after.first + after.second, before.first + before.second + 1) << "scans of tf_grants";
      EXPECT_LE(after.first + after.second, before.first + before.second + 3) << "scans of tf_grants";
      return;
    }
    EXPECT_EQ(after.first, before.first) << "sequential scans of tf_grants";
    EXPECT_GT(after.second, before.second) << "no index scan of tf_grants counted";
  };
  const auto list = [](const std::string& client, const std::string& subject, size_t want) {
    return [=](Store& s) {
      Result<std::vector<admin::GrantEntry>> l = admin::ListGrants(s, admin::GrantFilter{client, subject, {}});
      ASSERT_TRUE(l.ok()) << l.status().ToString();
      EXPECT_EQ(l->size(), want);
    };
  };
  check("grants list --client", list("c", "", 12));
  check("grants list --subject", list("", "s2", 4));
  check("grants list --client --subject", list("c2", "s2", 4));
  check("the family path", [](Store& s) {
    ASSERT_TRUE(s.Update([](Txn& t) -> Status {
                   EXPECT_EQ(t.ListFamilyGrants("F")->size(), 4u);
                   EXPECT_TRUE(t.ListFamilyGrants("R")->empty());
                   EXPECT_EQ(*t.CountFamilyGrants("G"), 2u);
                   return Status::OK();
                 }).ok());
  });
  check("stats", [](Store& s) {
    Result<StoreStats> stats = s.Stats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->grants, 200016u);
    EXPECT_EQ(stats->revoked_families, 3001u);
  }, true);
  check("grants revoke --family", [](Store& s) {
    admin::RevokeSelector by;
    by.family = "G";
    Result<admin::RevokeReport> r = admin::RevokeGrants(s, by, 1000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->grants, 2u);
  });
  check("grants revoke --subject", [](Store& s) {
    admin::RevokeSelector by;
    by.subject = "s2";
    Result<admin::RevokeReport> r = admin::RevokeGrants(s, by, 1000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->grants, 2u);  // family H; G is gone
  });
  check("grants revoke --client", [](Store& s) {
    admin::RevokeSelector by;
    by.client_id = "c";
    Result<admin::RevokeReport> r = admin::RevokeGrants(s, by, 1000);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->grants, 12u);  // F, the expired X0..X3 (not collected yet), and R's four left behind
  });
  check("gc", [](Store& s) {
    ManualClock clock(1000);
    Result<admin::GcReport> r = admin::CollectGarbage(s, clock);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->grants, 20000u);       // the expired filler
    // Past keep_until without grants: the filler's 1,500 and the 8 families revoked above (no client configured, so
    // their keep_until is the revocation's own time).
    EXPECT_EQ(r->revocations, 1508u);
  });
}

}  // namespace
}  // namespace tf::store
