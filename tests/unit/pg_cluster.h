// A private PostgreSQL 15 cluster for a unit test binary: initdb and pg_ctl from Debian's postgresql-15
// (/usr/lib/postgresql/15/bin) in a fresh temporary directory, listening only on a Unix socket in that directory (no
// TCP port), with durability off (fsync, full_page_writes and synchronous_commit: a test cluster needs no crash
// safety). Run as `nobody` when the tests run as root (PostgreSQL refuses root), the directory given to it first.
// No system service is touched.
//
// SharedPgCluster() starts one cluster for the whole test binary at first use and stops it when the binary exits;
// PgCluster::Start() makes one of a test's own (the outage test stops and restarts it). Without postgresql-15 both
// fail with a Status naming the package, so the tests that need it fail (never skip).
//
// Header-only, test-only. Not thread-safe: call from the test thread (forked children only read Uri()).
#ifndef TF_TESTS_UNIT_PG_CLUSTER_H_
#define TF_TESTS_UNIT_PG_CLUSTER_H_

#include <libpq-fe.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "util/status.h"

namespace tf::testing {

inline constexpr const char kPgBin[] = "/usr/lib/postgresql/15/bin";

class PgCluster {
 public:
  // initdb and start; the Status names the package when it is missing, or the command and its log otherwise.
  static Result<std::unique_ptr<PgCluster>> Start() {
    const std::string initdb = std::string(kPgBin) + "/initdb";
    if (access(initdb.c_str(), X_OK) != 0) {
      return Status::NotFound(initdb + " not found: install Debian's postgresql-15 (scripts/deps.sh) to run the "
                              "PostgreSQL store tests");
    }
    char tmpl[] = "/tmp/tf_pg.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Status::IOError("mkdtemp failed");
    std::unique_ptr<PgCluster> c(new PgCluster(tmpl));
    if (geteuid() == 0) {
      const struct passwd* pw = getpwnam("nobody");
      if (pw == nullptr) return Status::Internal("no user 'nobody' to run PostgreSQL as");
      if (chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) return Status::IOError(std::string("chown ") + tmpl);
      c->as_user_ = "setpriv --reuid=nobody --regid=" + std::to_string(pw->pw_gid) + " --clear-groups -- ";
    }
    TF_RETURN_IF_ERROR(c->Run(initdb + " -D " + c->dir_ + "/data -U tf -A trust -N -E UTF8 --locale=C", "initdb"));
    TF_RETURN_IF_ERROR(c->StartServer());
    return c;
  }

  ~PgCluster() {
    if (running_ && getpid() == owner_) (void)StopServer();
    if (getpid() == owner_) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  Status StartServer() {
    TF_RETURN_IF_ERROR(Run(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -o \"-k " +
                               dir_ + " -c listen_addresses= -c fsync=off -c full_page_writes=off " +
                               "-c synchronous_commit=off -c max_connections=200\" start",
                           "pg_ctl_start"));
    running_ = true;
    return Status::OK();
  }
  Status StopServer() {
    running_ = false;
    return Run(std::string(kPgBin) + "/pg_ctl -D " + dir_ + "/data -m fast -w stop", "pg_ctl_stop");
  }

  // A connection URI for `database`, with `search_path` set to `schema` when given.
  std::string Uri(const std::string& database = "postgres", const std::string& schema = "") const {
    std::string uri = "postgresql:///" + database + "?host=" + dir_ + "&user=tf";
    if (!schema.empty()) uri += "&options=-csearch_path%3D" + schema;
    return uri;
  }

  // Runs SQL statements (no results) in `database`.
  Status Sql(const std::string& sql, const std::string& database = "postgres") const {
    PGconn* conn = PQconnectdb(Uri(database).c_str());
    Status st;
    if (PQstatus(conn) != CONNECTION_OK) {
      st = Status::IOError(std::string("connect: ") + PQerrorMessage(conn));
    } else {
      PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
      PGresult* r = PQexec(conn, sql.c_str());
      if (PQresultStatus(r) != PGRES_COMMAND_OK) st = Status::IOError(sql + ": " + PQresultErrorMessage(r));
      PQclear(r);
    }
    PQfinish(conn);
    return st;
  }

  const std::string& dir() const { return dir_; }

 private:
  explicit PgCluster(std::string dir) : dir_(std::move(dir)), owner_(getpid()) {}

  Status Run(const std::string& command, const char* what) const {
    const std::string log = dir_ + "/" + what + ".out";
    const std::string full = as_user_ + command + " >" + log + " 2>&1";
    if (std::system(full.c_str()) == 0) return Status::OK();
    std::string out;
    if (FILE* f = std::fopen(log.c_str(), "r")) {
      char buf[4096];
      out.assign(buf, std::fread(buf, 1, sizeof buf, f));
      std::fclose(f);
    }
    return Status::IOError(std::string(what) + " failed: " + full + "\n" + out);
  }

  std::string dir_;
  std::string as_user_;  // the setpriv prefix when running as root
  pid_t owner_;          // only the process that started the cluster stops it
  bool running_ = false;
};

// The test binary's cluster, started at the first call (a failure is remembered and returned again).
inline Result<PgCluster*> SharedPgCluster() {
  static Result<std::unique_ptr<PgCluster>> cluster = PgCluster::Start();
  if (!cluster.ok()) return cluster.status();
  return cluster->get();
}

// A schema name for a test's temporary directory: the same in a forked child as in its parent.
inline std::string SchemaFor(const std::string& dir) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : dir) h = (h ^ c) * 1099511628211ull;
  char name[24];
  std::snprintf(name, sizeof name, "t_%016llx", static_cast<unsigned long long>(h));
  return name;
}

}  // namespace tf::testing

#endif  // TF_TESTS_UNIT_PG_CLUSTER_H_
