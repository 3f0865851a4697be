// The PostgreSQL implementation of Store and Txn (see pg_store.h for the tables, transactions and connections, and
// store.h for the contract).
//
// libpq rules followed: every statement with values goes through PQexecParams with binary parameters and binary
// results (no quoting, no escaping, no SQL built from data); every PGresult is owned by a PgResult and cleared on
// every path; a PGconn is used by one thread at a time (the pool hands it out) and is never used after a fork by the
// process that did not open it (each process opens its own Store, as with LMDB).
#include "store/pg_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "store/grant_encoding.h"
#include "store/stored_records.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::store {
namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr const char kNotInitialised[] = "database not initialised: run tokenctl init";
constexpr std::string_view kScopePrefix = "scope:";
constexpr std::string_view kApiPrefix = "api:";
constexpr std::string_view kIdentityPrefix = "identity:";
constexpr int64_t kConfigCheckIntervalMs = 500;  // see Store::ConfigCheckIntervalMs
constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};

// The migrations: kMigrations[v] takes a database from version v to v + 1, in one transaction with the version
// update. Version 0 is a database that has only tf_schema_version (what tokenctl init makes first).
const std::vector<std::vector<const char*>>& Migrations() {
  static const std::vector<std::vector<const char*>> kMigrations = {
      {
          "CREATE TABLE tf_meta (key text PRIMARY KEY, value bytea NOT NULL)",
          "CREATE TABLE tf_clients (client_id bytea PRIMARY KEY, value bytea NOT NULL)",
          "CREATE TABLE tf_resources (key bytea PRIMARY KEY, value bytea NOT NULL)",
          "CREATE TABLE tf_keys (kid bytea PRIMARY KEY, value bytea NOT NULL)",
          "CREATE TABLE tf_users (subject_id bytea PRIMARY KEY, tenant bytea NOT NULL, username_key bytea NOT NULL, "
          "value bytea NOT NULL)",
          "CREATE UNIQUE INDEX tf_users_username ON tf_users (tenant, username_key)",
          "CREATE TABLE tf_grants (handle_hash bytea PRIMARY KEY, family bytea NOT NULL, client_id bytea NOT NULL, "
          "subject bytea NOT NULL, expires bigint NOT NULL, value bytea NOT NULL)",
          "CREATE INDEX tf_grants_family ON tf_grants (family)",
          "CREATE INDEX tf_grants_client ON tf_grants (client_id, handle_hash)",
          "CREATE INDEX tf_grants_subject ON tf_grants (subject, handle_hash)",
          "CREATE INDEX tf_grants_expires ON tf_grants (expires)",
          "CREATE TABLE tf_revocations (family bytea PRIMARY KEY, keep_until bigint NOT NULL, value bytea NOT NULL)",
          "CREATE INDEX tf_revocations_keep_until ON tf_revocations (keep_until)",
          "INSERT INTO tf_meta (key, value) VALUES ('config_generation', '0')",
      },
  };
  return kMigrations;
}

// ---- libpq values ----------------------------------------------------------------------------------------------

// The parameters of one statement, all sent in binary: bytea as raw bytes, bigint as 8 bytes big-endian.
class Params {
 public:
  Params& Bytes(std::string_view v) {
    values_.emplace_back(v);
    types_.push_back(kByteaOid);
    return *this;
  }
  Params& Int(int64_t v) {
    std::string b(8, '\0');
    const uint64_t u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((u >> (56 - 8 * i)) & 0xff);
    values_.push_back(std::move(b));
    types_.push_back(kInt8Oid);
    return *this;
  }
  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  // Pointers into values_ (a deque: stable addresses), lengths and formats, built when the statement is sent.
  void Arrays(std::vector<const char*>* v, std::vector<int>* l, std::vector<int>* f) const {
    for (const std::string& s : values_) {
      v->push_back(s.data());
      l->push_back(static_cast<int>(s.size()));
      f->push_back(1);
    }
  }

 private:
  std::deque<std::string> values_;
  std::vector<Oid> types_;
};

struct ClearResult {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ClearResult>;

// A binary result column: bytea as bytes, bigint (count, version) as int64, bool as 0/1.
std::string_view Bytes(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}
int64_t Int(const PGresult* r, int row, int col) {
  const std::string_view b = Bytes(r, row, col);
  uint64_t u = 0;
  for (char c : b) u = (u << 8) | static_cast<unsigned char>(c);
  if (b.size() == 4 && (u & 0x80000000u) != 0) u |= 0xffffffff00000000ull;  // an int4, sign-extended
  return static_cast<int64_t>(u);
}
bool Bool(const PGresult* r, int row, int col) { return Bytes(r, row, col) == std::string_view("\x01", 1); }

// The first line of a libpq error message, without its trailing newline.
std::string FirstLine(const char* message) {
  std::string m = message != nullptr ? message : "";
  const size_t nl = m.find('\n');
  if (nl != std::string::npos) m.resize(nl);
  if (m.empty()) m = "unknown error";
  return m;
}

bool IsRetryable(std::string_view sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

// Whether the statement failed because the server is gone or going (connection errors, shutdown, crash recovery).
bool IsUnreachable(PGconn* conn, std::string_view sqlstate) {
  return PQstatus(conn) != CONNECTION_OK || sqlstate.empty() || sqlstate.substr(0, 2) == "08" ||
         sqlstate.substr(0, 3) == "57P";
}

// ---- Txn -------------------------------------------------------------------------------------------------------

class PgTxn final : public Txn {
 public:
  PgTxn(PGconn* conn, const std::string& where, bool writable) : conn_(conn), where_(where), writable_(writable) {}

  // The first failed statement: PostgreSQL refuses every later statement of the transaction, so Update aborts with it
  // even if the callback ignored it (and retries when it was a serialization failure).
  const Status& failure() const { return failure_; }
  bool retryable() const { return retryable_; }
  bool touched_config() const { return touched_config_; }

  Result<uint64_t> ConfigGeneration() override {
    Result<std::optional<std::string>> v = Get("SELECT value FROM tf_meta WHERE key = 'config_generation'", {});
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::Corruption("meta 'config_generation' missing");
    return ParseGeneration(**v);
  }

  Status IncrementConfigGeneration() {
    Result<uint64_t> g = ConfigGeneration();
    if (!g.ok()) return g.status();
    Params p;
    p.Bytes(std::to_string(*g + 1));
    return Exec("UPDATE tf_meta", "UPDATE tf_meta SET value = $1 WHERE key = 'config_generation'", p).status();
  }

  Result<Client> GetClient(std::string_view client_id) override {
    if (client_id.empty()) return Status::NotFound("client '' not found");
    Result<std::optional<std::string>> v = Get("SELECT value FROM tf_clients WHERE client_id = $1", Key(client_id));
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::NotFound("client " + Printable(client_id) + " not found");
    return ParseClient(client_id, **v);
  }
  Result<std::vector<Client>> ListClients() override {
    return List<Client>("SELECT client_id, value FROM tf_clients ORDER BY client_id", {}, ParseClient);
  }
  Status PutClient(const Client& client) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (client.client_id.empty() || client.client_id.size() > kMaxClientIdLength) {
      return Status::InvalidArgument("ClientId: expected 1 to " + std::to_string(kMaxClientIdLength) + " characters");
    }
    return Upsert("tf_clients", "client_id", client.client_id, EncodeClient(client), true);
  }
  Status RemoveClient(std::string_view client_id) override {
    return Remove("tf_clients", "client_id", client_id, "client " + Printable(client_id), true);
  }

  Result<std::vector<ApiScope>> ListApiScopes() override {
    return ListResources<ApiScope>(kScopePrefix, ParseApiScope);
  }
  Status PutApiScope(const ApiScope& scope) override { return PutNamed(scope, kScopePrefix, EncodeApiScope(scope)); }
  Status RemoveApiScope(std::string_view name) override {
    return Remove("tf_resources", "key", std::string(kScopePrefix) + std::string(name), "api scope " + Printable(name),
                  true);
  }
  Result<std::vector<ApiResource>> ListApiResources() override {
    return ListResources<ApiResource>(kApiPrefix, ParseApiResource);
  }
  Status PutApiResource(const ApiResource& resource) override {
    return PutNamed(resource, kApiPrefix, EncodeApiResource(resource));
  }
  Status RemoveApiResource(std::string_view name) override {
    return Remove("tf_resources", "key", std::string(kApiPrefix) + std::string(name), "api resource " + Printable(name),
                  true);
  }
  Result<std::vector<IdentityResource>> ListIdentityResources() override {
    return ListResources<IdentityResource>(kIdentityPrefix, ParseIdentityResource);
  }
  Status PutIdentityResource(const IdentityResource& resource) override {
    return PutNamed(resource, kIdentityPrefix, EncodeIdentityResource(resource));
  }
  Status RemoveIdentityResource(std::string_view name) override {
    return Remove("tf_resources", "key", std::string(kIdentityPrefix) + std::string(name),
                  "identity resource " + Printable(name), true);
  }

  Result<std::vector<KeyRecord>> ListKeys() override {
    Result<std::vector<KeyRecord>> keys = List<KeyRecord>("SELECT kid, value FROM tf_keys ORDER BY kid", {}, ParseKey);
    if (!keys.ok()) return keys;
    std::stable_sort(keys->begin(), keys->end(),
                     [](const KeyRecord& a, const KeyRecord& b) { return a.created < b.created; });
    return keys;
  }
  Status PutKey(const KeyRecord& key) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    return Upsert("tf_keys", "kid", key.kid, EncodeKey(key), true);
  }
  Status RemoveKey(std::string_view kid) override {
    return Remove("tf_keys", "kid", kid, "key " + Printable(kid), true);
  }

  Result<std::string> GetSessionKey() override {
    return StoredSessionKey(Get("SELECT value FROM tf_meta WHERE key = 'session_key'", {}));
  }
  Status PutSessionKey(std::string_view key) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    TF_RETURN_IF_ERROR(CheckSessionKey(key));
    Params p;
    p.Bytes(key);
    TF_RETURN_IF_ERROR(Exec("UPDATE tf_meta", "UPDATE tf_meta SET value = $1 WHERE key = 'session_key'", p).status());
    touched_config_ = true;
    return Status::OK();
  }

  Result<User> GetUser(std::string_view subject_id) override {
    if (subject_id.empty() || subject_id.size() > kMaxSubjectIdLength) return UserNotFound(subject_id);
    Result<std::optional<std::string>> v = Get("SELECT value FROM tf_users WHERE subject_id = $1", Key(subject_id));
    if (!v.ok()) return v.status();
    if (!v->has_value()) return UserNotFound(subject_id);
    return ParseUser(subject_id, **v);
  }

  Result<User> FindUserByName(std::string_view tenant, std::string_view username) override {
    const auto not_found = [&] {
      return Status::NotFound("user name " + Printable(username) + InTenant(tenant) + " not found");
    };
    if (!CanBeUsername(tenant, username)) return not_found();
    Params p;
    p.Bytes(tenant).Bytes(NormalizeUsername(username));
    Result<PgResult> r =
        Exec("SELECT tf_users",
             Locking("SELECT subject_id, value FROM tf_users WHERE tenant = $1 AND username_key = $2").c_str(), p);
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return not_found();
    const std::string subject(Bytes(r->get(), 0, 0));
    Result<User> user = ParseUser(subject, Bytes(r->get(), 0, 1));
    if (!user.ok()) return user;
    if (user->tenant != tenant || NormalizeUsername(user->username) != NormalizeUsername(username)) {
      return Status::Corruption("users " + Printable(subject) + ": indexed as user name " + Printable(username) +
                                InTenant(tenant) + " but its user name is " + Printable(user->username) +
                                InTenant(user->tenant));
    }
    return user;
  }

  Result<std::vector<User>> ListUsers() override {
    return List<User>("SELECT subject_id, value FROM tf_users ORDER BY subject_id", {}, ParseUser);
  }

  Status PutUser(const User& user) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    TF_RETURN_IF_ERROR(failure_);
    TF_RETURN_IF_ERROR(ValidateUser(user));
    Result<std::string> value = EncodeUser(user);
    if (!value.ok()) return value.status();
    const std::string username_key = NormalizeUsername(user.username);
    Params q;
    q.Bytes(user.tenant).Bytes(username_key);
    Result<PgResult> owner =
        Exec("SELECT tf_users", "SELECT subject_id FROM tf_users WHERE tenant = $1 AND username_key = $2", q);
    if (!owner.ok()) return owner.status();
    if (PQntuples(owner->get()) > 0 && Bytes(owner->get(), 0, 0) != user.subject_id) {
      return Status::AlreadyExists("user name " + Printable(user.username) + " already exists" + InTenant(user.tenant));
    }
    Params p;
    p.Bytes(user.subject_id).Bytes(user.tenant).Bytes(username_key).Bytes(*value);
    return Exec(
               "INSERT tf_users",
               "INSERT INTO tf_users (subject_id, tenant, username_key, value) VALUES ($1, $2, $3, $4) "
               "ON CONFLICT (subject_id) DO UPDATE SET tenant = EXCLUDED.tenant, username_key = EXCLUDED.username_key, "
               "value = EXCLUDED.value",
               p)
        .status();
  }

  Status RemoveUser(std::string_view subject_id) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (subject_id.empty() || subject_id.size() > kMaxSubjectIdLength) return UserNotFound(subject_id);
    return Remove("tf_users", "subject_id", subject_id, "user " + Printable(subject_id), false);
  }

  Result<Grant> GetGrant(std::string_view handle_hash) override {
    TF_RETURN_IF_ERROR(CheckHandleHash(handle_hash));
    Result<PgResult> r = Exec("SELECT tf_grants",
                              Locking("SELECT g.value, EXISTS (SELECT 1 FROM tf_revocations r WHERE r.family = "
                                      "g.family) FROM tf_grants g WHERE g.handle_hash = $1",
                                      " OF g")
                                  .c_str(),
                              Key(handle_hash));
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return GrantNotFound();
    Result<Grant> grant = ParseGrant(handle_hash, Bytes(r->get(), 0, 0));
    if (!grant.ok() || grant->family.empty()) return grant;
    if (Bool(r->get(), 0, 1)) return GrantNotFound();  // its family is dead, even while its grants are being deleted
    return grant;
  }

  Status PutGrant(std::string_view handle_hash, const Grant& grant) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    TF_RETURN_IF_ERROR(failure_);
    TF_RETURN_IF_ERROR(CheckHandleHash(handle_hash));
    TF_RETURN_IF_ERROR(ValidateGrant(grant));
    const std::string value = EncodeStoredGrant(grant);
    Params p;
    p.Bytes(handle_hash).Bytes(grant.family).Bytes(grant.client_id).Bytes(grant.subject).Int(grant.expires);
    p.Bytes(value);
    return Exec("INSERT tf_grants",
                "INSERT INTO tf_grants (handle_hash, family, client_id, subject, expires, value) "
                "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (handle_hash) DO UPDATE SET family = EXCLUDED.family, "
                "client_id = EXCLUDED.client_id, subject = EXCLUDED.subject, expires = EXCLUDED.expires, "
                "value = EXCLUDED.value",
                p)
        .status();
  }

  Status RemoveGrant(std::string_view handle_hash) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    TF_RETURN_IF_ERROR(CheckHandleHash(handle_hash));
    return Remove("tf_grants", "handle_hash", handle_hash, "grant", false);
  }

  Result<size_t> RevokeFamily(std::string_view family, int64_t now, int64_t keep_until) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (!CanBeFamily(family)) return Status::InvalidArgument("family: expected 1 to 200 bytes without NUL");
    if (now < 0 || keep_until < 0) return Status::InvalidArgument("RevokeFamily: times must be non-negative");
    Result<PgResult> r = Exec("DELETE tf_grants", "DELETE FROM tf_grants WHERE family = $1", Key(family));
    if (!r.ok()) return r.status();
    TF_RETURN_IF_ERROR(PutRevocation(family, now, keep_until));
    return Affected(r->get());
  }

  Result<RevokeProgress> RevokeFamilyPart(std::string_view family, int64_t now, int64_t keep_until,
                                          size_t limit) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (!CanBeFamily(family)) return Status::InvalidArgument("family: expected 1 to 200 bytes without NUL");
    if (now < 0 || keep_until < 0) return Status::InvalidArgument("RevokeFamilyPart: times must be non-negative");
    TF_RETURN_IF_ERROR(PutRevocation(family, now, keep_until));
    RevokeProgress progress;
    if (limit > 0) {
      Params p;
      p.Bytes(family).Int(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
      Result<PgResult> r = Exec("DELETE tf_grants",
                                "DELETE FROM tf_grants WHERE handle_hash IN (SELECT handle_hash FROM tf_grants "
                                "WHERE family = $1 ORDER BY handle_hash LIMIT $2)",
                                p);
      if (!r.ok()) return r.status();
      progress.grants = Affected(r->get());
    }
    Result<PgResult> left =
        Exec("SELECT tf_grants", "SELECT EXISTS (SELECT 1 FROM tf_grants WHERE family = $1)", Key(family));
    if (!left.ok()) return left.status();
    progress.more = Bool(left->get(), 0, 0);
    return progress;
  }

  Result<size_t> CountFamilyGrants(std::string_view family) override {
    if (!CanBeFamily(family)) return size_t{0};
    Result<PgResult> r = Exec("SELECT tf_grants", "SELECT count(*) FROM tf_grants WHERE family = $1", Key(family));
    if (!r.ok()) return r.status();
    return static_cast<size_t>(Int(r->get(), 0, 0));
  }

  // Through the index on family, each row locked in an Update as GetGrant locks it; none once the family is revoked.
  Result<std::vector<std::pair<std::string, Grant>>> ListFamilyGrants(std::string_view family) override {
    std::vector<std::pair<std::string, Grant>> out;
    if (!CanBeFamily(family)) return out;
    Result<PgResult> r = Exec("SELECT tf_grants",
                              Locking("SELECT g.handle_hash, g.value FROM tf_grants g WHERE g.family = $1 AND NOT "
                                      "EXISTS (SELECT 1 FROM tf_revocations r WHERE r.family = $1) "
                                      "ORDER BY g.handle_hash",
                                      " OF g")
                                  .c_str(),
                              Key(family));
    if (!r.ok()) return r.status();
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      const std::string hash(Bytes(r->get(), i, 0));
      Result<Grant> g = ParseGrant(hash, Bytes(r->get(), i, 1));
      if (!g.ok()) return g.status();
      if (g->family == family) out.emplace_back(hash, std::move(g).value());
    }
    return out;
  }

  Result<std::optional<FamilyRevocation>> GetFamilyRevocation(std::string_view family) override {
    if (!CanBeFamily(family)) return std::optional<FamilyRevocation>();
    return StoredRevocation(family, Get("SELECT value FROM tf_revocations WHERE family = $1", Key(family)));
  }

  Result<std::vector<std::pair<std::string, FamilyRevocation>>> ListFamilyRevocations() override {
    Result<PgResult> r = Exec("SELECT tf_revocations", "SELECT family, value FROM tf_revocations ORDER BY family", {});
    if (!r.ok()) return r.status();
    std::vector<std::pair<std::string, FamilyRevocation>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      const std::string family(Bytes(r->get(), i, 0));
      Result<FamilyRevocation> rec = ParseRevocation(family, Bytes(r->get(), i, 1));
      if (!rec.ok()) return rec.status();
      out.emplace_back(family, *rec);
    }
    return out;
  }

  Result<std::vector<std::pair<std::string, Grant>>> ListGrants(std::string_view client_id,
                                                                std::string_view subject) override {
    // One statement per combination of filters, so each uses its index.
    std::string sql = "SELECT handle_hash, value FROM tf_grants";
    Params p;
    if (!client_id.empty()) {
      p.Bytes(client_id);
      sql += " WHERE client_id = $1";
    }
    if (!subject.empty()) {
      p.Bytes(subject);
      sql += (client_id.empty() ? " WHERE subject = $" : " AND subject = $") + std::to_string(p.size());
    }
    sql += " ORDER BY handle_hash";
    Result<PgResult> r = Exec("SELECT tf_grants", sql.c_str(), p);
    if (!r.ok()) return r.status();
    std::vector<std::pair<std::string, Grant>> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      const std::string hash(Bytes(r->get(), i, 0));
      Result<Grant> g = ParseGrant(hash, Bytes(r->get(), i, 1));
      if (!g.ok()) return g.status();
      out.emplace_back(hash, std::move(g).value());
    }
    return out;
  }

  // Deletes, through the indexes on keep_until, expires and family, up to `batch` of: revocations past keep_until
  // whose family has no grants left, grants that expired, and grants of a revoked family (the revocations are read
  // whole: their number is bounded by their retention, and each family's grants are found through its index).
  Result<CollectResult> CollectExpired(int64_t now, size_t batch) override {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (batch == 0) return Status::InvalidArgument("CollectExpired: batch must be at least 1");
    CollectResult result;
    const auto left = [&] { return static_cast<int64_t>(batch - result.grants - result.revocations); };
    // Revocations first: one whose family still has grants when the call starts waits for a later call, as
    // with LMDB's scan of one snapshot.
    const std::pair<const char*, bool> steps[] = {
        // Whether a family has grants left is one probe of the index on family per revocation (a LATERAL subquery
        // with a LIMIT, which the planner cannot turn into a hash anti-join over every grant).
        {"DELETE FROM tf_revocations WHERE family IN (SELECT r.family FROM tf_revocations r LEFT JOIN LATERAL "
         "(SELECT 1 AS found FROM tf_grants g WHERE g.family = r.family LIMIT 1) x ON true "
         "WHERE r.keep_until <= $1 AND x.found IS NULL ORDER BY r.keep_until LIMIT $2)",
         false},
        {"DELETE FROM tf_grants WHERE handle_hash IN (SELECT handle_hash FROM tf_grants WHERE expires <= $1 "
         "ORDER BY expires LIMIT $2)",
         true},
        // Family by family through the index on family (a LATERAL subquery): a plain join lets the planner hash
        // every grant once the revocations number in the thousands.
        {"DELETE FROM tf_grants WHERE handle_hash IN (SELECT x.handle_hash FROM tf_revocations r CROSS JOIN LATERAL "
         "(SELECT g.handle_hash FROM tf_grants g WHERE g.family = r.family LIMIT $2) x WHERE $1 = $1 LIMIT $2)",
         true},
    };
    for (const auto& [sql, grants] : steps) {
      if (left() <= 0) break;
      Params p;
      p.Int(now).Int(left());
      Result<PgResult> r = Exec(grants ? "DELETE tf_grants" : "DELETE tf_revocations", sql, p);
      if (!r.ok()) return r.status();
      (grants ? result.grants : result.revocations) += Affected(r->get());
    }
    result.more = result.grants + result.revocations >= batch;
    return result;
  }

  // For PgStore: the session key of a writable open (store.h: created when missing).
  Status InsertSessionKeyIfMissing(std::string_view key) {
    Params p;
    p.Bytes(key);
    return Exec("INSERT tf_meta",
                "INSERT INTO tf_meta (key, value) VALUES ('session_key', $1) ON CONFLICT (key) DO NOTHING", p)
        .status();
  }

  // For PgStore::Stats: the record counts and the size of the database.
  Status Count(StoreStats* stats) {
    const std::pair<const char*, uint64_t*> counts[] = {
        {"SELECT count(*) FROM tf_clients", &stats->clients},
        {"SELECT count(*) FROM tf_keys", &stats->keys},
        {"SELECT count(*) FROM tf_users", &stats->users},
        {"SELECT count(*) FROM tf_grants", &stats->grants},
        {"SELECT count(*) FROM tf_revocations", &stats->revoked_families},
        {"SELECT pg_database_size(current_database())", &stats->used_bytes},
    };
    for (const auto& [sql, out] : counts) {
      Result<PgResult> r = Exec("SELECT count", sql, {});
      if (!r.ok()) return r.status();
      *out = static_cast<uint64_t>(Int(r->get(), 0, 0));
    }
    const std::pair<std::string_view, uint64_t*> kinds[] = {{kScopePrefix, &stats->api_scopes},
                                                            {kApiPrefix, &stats->api_resources},
                                                            {kIdentityPrefix, &stats->identity_resources}};
    for (const auto& [prefix, out] : kinds) {
      Params p;
      p.Bytes(prefix).Bytes(PrefixEnd(prefix));
      Result<PgResult> r = Exec("SELECT count", "SELECT count(*) FROM tf_resources WHERE key >= $1 AND key < $2", p);
      if (!r.ok()) return r.status();
      *out = static_cast<uint64_t>(Int(r->get(), 0, 0));
    }
    return Status::OK();
  }

 private:
  // The least key above every key that starts with `prefix` (whose last byte is below 0xff): the prefix's range ends
  // there.
  static std::string PrefixEnd(std::string_view prefix) {
    std::string end(prefix);
    end.back() = static_cast<char>(end.back() + 1);
    return end;
  }

  static Status GrantNotFound() { return Status::NotFound("grant not found"); }
  static Status UserNotFound(std::string_view subject_id) {
    return Status::NotFound("user " + Printable(subject_id) + " not found");
  }
  static Params Key(std::string_view key) {
    Params p;
    p.Bytes(key);
    return p;
  }
  static size_t Affected(PGresult* r) {
    const char* n = PQcmdTuples(r);
    return n != nullptr && *n != '\0' ? static_cast<size_t>(std::strtoull(n, nullptr, 10)) : 0;
  }

  // `sql` with FOR UPDATE in a writable transaction.
  std::string Locking(const char* sql, const char* of = "") const {
    std::string out(sql);
    if (writable_) out += std::string(" FOR UPDATE") + of;
    return out;
  }

  Status CheckWritable() {
    if (writable_) return Status::OK();
    return Status::Internal("a write in a Read() transaction");
  }

  // Runs one statement; a failure is remembered (the transaction is aborted in PostgreSQL) and mapped to a Status
  // that names the host, the database and `what`.
  Result<PgResult> Exec(const char* what, const char* sql, const Params& params) {
    TF_RETURN_IF_ERROR(failure_);
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    params.Arrays(&values, &lengths, &formats);
    PgResult r(
        PQexecParams(conn_, sql, params.size(), params.types(), values.data(), lengths.data(), formats.data(), 1));
    const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state != nullptr ? state : "";
    const std::string message = FirstLine(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_));
    retryable_ = IsRetryable(sqlstate);
    failure_ = SqlStatus(what, sqlstate, message);
    return failure_;
  }

  Status SqlStatus(const char* what, const std::string& sqlstate, const std::string& message) {
    const std::string m =
        where_ + ": " + what + ": " + message + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
    if (retryable_ || IsUnreachable(conn_, sqlstate) || sqlstate == "57014") return Status::Unavailable(m);
    if (sqlstate.substr(0, 2) == "53") return Status::ResourceExhausted(m);
    if (sqlstate == "23505") return Status::AlreadyExists(m);
    return Status::IOError(m);
  }

  // A point read; in an Update it locks the row (FOR UPDATE) until the transaction ends, so a concurrent Update
  // that reads the same row waits and then sees this one's commit: how a redemption is single-use.
  Result<std::optional<std::string>> Get(const char* sql, const Params& params) {
    Result<PgResult> r = Exec("SELECT", Locking(sql).c_str(), params);
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(Bytes(r->get(), 0, 0)));
  }

  template <typename R>
  Result<std::vector<R>> List(const char* sql, const Params& params,
                              Result<R> (*parse)(std::string_view, std::string_view)) {
    Result<PgResult> r = Exec("SELECT", sql, params);
    if (!r.ok()) return r.status();
    std::vector<R> out;
    for (int i = 0; i < PQntuples(r->get()); ++i) {
      Result<R> rec = parse(Bytes(r->get(), i, 0), Bytes(r->get(), i, 1));
      if (!rec.ok()) return rec.status();
      out.push_back(std::move(rec).value());
    }
    return out;
  }

  // The resources whose key starts with `prefix` ("scope:"...), through the primary key's range.
  template <typename R>
  Result<std::vector<R>> ListResources(std::string_view prefix,
                                       Result<R> (*parse)(std::string_view, std::string_view)) {
    Params p;
    p.Bytes(prefix).Bytes(PrefixEnd(prefix));
    return List<R>("SELECT key, value FROM tf_resources WHERE key >= $1 AND key < $2 ORDER BY key", p, parse);
  }

  template <typename R>
  Status PutNamed(const R& record, std::string_view prefix, Result<std::string> value) {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (record.name.empty()) return Status::InvalidArgument("Name: required");
    return Upsert("tf_resources", "key", std::string(prefix) + record.name, std::move(value), true);
  }

  Status Upsert(const std::string& table, const std::string& key_column, std::string_view key,
                Result<std::string> value, bool config) {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (!value.ok()) return value.status();
    Params p;
    p.Bytes(key).Bytes(*value);
    const std::string sql = "INSERT INTO " + table + " (" + key_column + ", value) VALUES ($1, $2) ON CONFLICT (" +
                            key_column + ") DO UPDATE SET value = EXCLUDED.value";
    TF_RETURN_IF_ERROR(Exec(("INSERT " + table).c_str(), sql.c_str(), p).status());
    touched_config_ = touched_config_ || config;
    return Status::OK();
  }

  Status Remove(const std::string& table, const std::string& key_column, std::string_view key, const std::string& what,
                bool config) {
    TF_RETURN_IF_ERROR(CheckWritable());
    if (key.empty()) return Status::NotFound(what + " not found");
    const std::string sql = "DELETE FROM " + table + " WHERE " + key_column + " = $1";
    Result<PgResult> r = Exec(("DELETE " + table).c_str(), sql.c_str(), Key(key));
    if (!r.ok()) return r.status();
    if (Affected(r->get()) == 0) return Status::NotFound(what + " not found");
    touched_config_ = touched_config_ || config;
    return Status::OK();
  }

  // Writes the family's revocation record; an existing one keeps its revoked_at and the later keep_until.
  Status PutRevocation(std::string_view family, int64_t now, int64_t keep_until) {
    FamilyRevocation record{now, keep_until};
    Result<std::optional<std::string>> old = Get("SELECT value FROM tf_revocations WHERE family = $1", Key(family));
    if (!old.ok()) return old.status();
    if (old->has_value()) {
      Result<FamilyRevocation> r = ParseRevocation(family, **old);
      if (r.ok()) record = FamilyRevocation{r->revoked_at, std::max(r->keep_until, keep_until)};
    }
    Params p;
    p.Bytes(family).Int(record.keep_until).Bytes(EncodeRevocation(record));
    return Exec("INSERT tf_revocations",
                "INSERT INTO tf_revocations (family, keep_until, value) VALUES ($1, $2, $3) ON CONFLICT (family) "
                "DO UPDATE SET keep_until = EXCLUDED.keep_until, value = EXCLUDED.value",
                p)
        .status();
  }

  PGconn* conn_;
  const std::string& where_;
  bool writable_;
  bool touched_config_ = false;
  bool retryable_ = false;
  Status failure_;
};

// ---- Store -----------------------------------------------------------------------------------------------------

class PgStore final : public Store {
 public:
  explicit PgStore(const StoreOptions& options)
      : options_(options),
        where_("PostgreSQL " + RedactedDatabase(options.path)),
        begin_read_("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; " + SetTimeout(options)),
        begin_write_("BEGIN ISOLATION LEVEL READ COMMITTED; " + SetTimeout(options)) {}

  ~PgStore() override {
    for (PGconn* c : idle_) PQfinish(c);
  }

  // The open: a first connection, on which Acquire runs the checks and the schema work (Prepare). With
  // StoreOptions::connect_later an unreachable server is not an error: the first connection that succeeds later does
  // them instead.
  Status Init() {
    Result<PGconn*> conn = Acquire();
    opened_ = true;
    if (conn.ok()) {
      Lease lease(this, *conn);
      return Status::OK();
    }
    if (options_.connect_later && conn.status().code() == Status::Code::kUnavailable) return Status::OK();
    return conn.status();
  }

  // The checks and the schema work of an open (see pg_store.h) on `conn`, outside any transaction: the schema
  // version (created and migrated when the options say so) and, for a writable open, a session key when it is
  // missing.
  Status Prepare(PGconn* conn) {
    if (options_.create) TF_RETURN_IF_ERROR(CreateVersionTable(conn));
    Result<int64_t> version = SchemaVersion(conn);
    if (!version.ok()) return version.status();
    if (*version > kPgSchemaVersion) {
      return Status::Conflict(where_ + " has schema version " + std::to_string(*version) +
                              " but this build supports schema version " + std::to_string(kPgSchemaVersion) +
                              ": run a tokenfcgi release that knows it");
    }
    if (*version < kPgSchemaVersion) {
      if (!options_.create && !options_.migrate) {
        return Status::Conflict(where_ + " has schema version " + std::to_string(*version) +
                                " but this build supports schema version " + std::to_string(kPgSchemaVersion) +
                                ": run tokenctl migrate");
      }
      TF_RETURN_IF_ERROR(Migrate(conn, *version));
    }
    if (options_.read_only) return Status::OK();
    // A writable open creates the session key when it is missing, as the LMDB store does: one statement that leaves
    // a key another process inserted first (ON CONFLICT DO NOTHING).
    PgTxn reader(conn, where_, false);
    Result<std::string> key = reader.GetSessionKey();
    if (key.ok() || !key.status().IsNotFound()) return key.status();
    PgTxn writer(conn, where_, true);
    return writer.InsertSessionKeyIfMissing(RandomBytes(kSessionKeySize));
  }

  Status Read(const std::function<Status(Txn&)>& fn) override {
    Result<PGconn*> conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    TF_RETURN_IF_ERROR(Command(*conn, begin_read_.c_str()));
    lease.in_transaction = true;
    PgTxn t(*conn, where_, false);
    Status s = fn(t);
    if (s.ok()) s = t.failure();
    const Status end = Command(*conn, "ROLLBACK");  // nothing to keep: a read-only transaction
    lease.in_transaction = false;
    return s.ok() ? end : s;
  }

  Status Update(const std::function<Status(Txn&)>& fn) override {
    if (options_.read_only) return Status::IOError("Update: the store " + where_ + " is open read-only");
    Status last;
    for (int attempt = 0; attempt < kMaxUpdateAttempts; ++attempt) {
      if (attempt > 0) PauseBeforeRetry(attempt);
      bool retry = false;
      last = UpdateOnce(fn, &retry);
      if (!retry) return last;
    }
    return Status::Unavailable(where_ + ": the transaction failed to serialise " + std::to_string(kMaxUpdateAttempts) +
                               " times: " + last.message());
  }

  Result<uint64_t> ConfigGeneration() override {
    uint64_t generation = 0;
    TF_RETURN_IF_ERROR(Read([&](Txn& txn) -> Status {
      Result<uint64_t> g = txn.ConfigGeneration();
      if (!g.ok()) return g.status();
      generation = *g;
      return Status::OK();
    }));
    return generation;
  }

  int64_t ConfigCheckIntervalMs() const override { return kConfigCheckIntervalMs; }

  Result<StoreStats> Stats() override {
    StoreStats stats;
    TF_RETURN_IF_ERROR(Read([&](Txn& txn) -> Status {
      Result<uint64_t> g = txn.ConfigGeneration();
      if (!g.ok()) return g.status();
      stats.config_generation = *g;
      return static_cast<PgTxn&>(txn).Count(&stats);
    }));
    return stats;
  }

  Status Backup(const std::string&) override {
    return Status::InvalidArgument("backup: " + where_ +
                                   " is backed up with PostgreSQL's own tools (pg_dump, base backups), not tokenctl");
  }
  Status GrowMap(uint64_t) override {
    return Status::InvalidArgument("map grow: " + where_ + " has no LMDB map to grow");
  }

 private:
  // A pooled connection for the length of one Read or Update: returned to the pool when it is still good and idle,
  // closed otherwise (a broken connection, or one an exception left inside a transaction).
  struct Lease {
    Lease(PgStore* s, PGconn* c) : store(s), conn(c) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { store->Release(conn, in_transaction); }
    PgStore* store;
    PGconn* conn;
    bool in_transaction = false;
  };

  Status UpdateOnce(const std::function<Status(Txn&)>& fn, bool* retry) {
    Result<PGconn*> conn = Acquire();
    if (!conn.ok()) return conn.status();
    Lease lease(this, *conn);
    TF_RETURN_IF_ERROR(Command(*conn, begin_write_.c_str()));
    lease.in_transaction = true;
    PgTxn t(*conn, where_, true);
    Status s = fn(t);
    if (s.ok()) s = t.failure();
    if (s.ok() && t.touched_config()) s = t.IncrementConfigGeneration();
    if (!s.ok() || !t.failure().ok()) {
      const Status rolled_back = Command(*conn, "ROLLBACK");
      lease.in_transaction = !rolled_back.ok();
      *retry = t.retryable();
      return s.ok() ? t.failure() : s;
    }
    std::string sqlstate;
    const Status committed = Command(*conn, "COMMIT", &sqlstate);
    lease.in_transaction = false;  // a COMMIT that failed has ended the transaction too
    *retry = !committed.ok() && IsRetryable(sqlstate);
    return committed;
  }

  // The statement timeout is set per transaction (SET LOCAL, sent with BEGIN in one round trip), so no setting outlives
  // a transaction on its server connection: what a pooler in transaction mode (pgbouncer) needs.
  static std::string SetTimeout(const StoreOptions& options) {
    return "SET LOCAL statement_timeout = " + std::to_string(options.statement_timeout_ms);
  }

  // A random pause of up to 2^attempt ms (at most 64 ms), so racing transactions do not collide again in step.
  static void PauseBeforeRetry(int attempt) {
    thread_local std::minstd_rand rng(std::random_device{}());
    const int cap = 1 << std::min(attempt, 6);
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap * 1000)(rng)));
  }

  // Runs a statement without parameters or results (BEGIN, COMMIT, ROLLBACK, SET, DDL); on failure the Status and,
  // when `sqlstate` is given, the SQLSTATE ("" when the connection broke).
  Status Command(PGconn* conn, const char* sql, std::string* sqlstate = nullptr) {
    PgResult r(PQexec(conn, sql));
    if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK) return Status::OK();
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string code = state != nullptr ? state : "";
    if (sqlstate != nullptr) *sqlstate = code;
    const std::string m = where_ + ": " + sql + ": " +
                          FirstLine(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn)) +
                          (code.empty() ? "" : " (SQLSTATE " + code + ")");
    if (IsRetryable(code) || IsUnreachable(conn, code) || code == "57014") return Status::Unavailable(m);
    return Status::IOError(m);
  }

  // ---- connections ----

  // A connection from the pool, or a new one unless the backoff after a failed connect is still running. The first
  // connection of the Store runs Prepare before it is used.
  Result<PGconn*> Acquire() {
    const int schema = schema_state_.load(std::memory_order_acquire);
    if (schema == kSchemaRefused) return refused_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {  // only a prepared Store has pooled connections
        PGconn* c = idle_.back();
        idle_.pop_back();
        return c;
      }
      if (std::chrono::steady_clock::now() < retry_at_) {
        return Status::Unavailable(where_ + ": not connected (reconnecting after a backoff): " + last_error_);
      }
    }
    Result<PGconn*> conn = Connect();
    if (!conn.ok() || schema == kSchemaReady) return conn;
    const Status prepared = PrepareOnce(*conn);
    if (!prepared.ok()) {
      PQfinish(*conn);
      return prepared;
    }
    return conn;
  }

  // Prepare, once per Store: a server that cannot be reached (Unavailable) leaves it to the next connection; any
  // other failure (a schema this build does not know, a database not initialised) is kept and answered to every
  // later transaction, after one log line when the open had already returned (StoreOptions::connect_later).
  Status PrepareOnce(PGconn* conn) {
    std::lock_guard<std::mutex> lock(prepare_mu_);
    const int schema = schema_state_.load(std::memory_order_acquire);
    if (schema == kSchemaReady) return Status::OK();
    if (schema == kSchemaRefused) return refused_;
    const Status s = Prepare(conn);
    if (s.ok()) {
      schema_state_.store(kSchemaReady, std::memory_order_release);
      return s;
    }
    if (s.code() == Status::Code::kUnavailable) return s;
    refused_ = s;
    schema_state_.store(kSchemaRefused, std::memory_order_release);
    if (opened_) Logf(LogLevel::kError, "store: refusing every request: %s", s.message().c_str());
    return s;
  }

  void Release(PGconn* conn, bool in_transaction) {
    if (in_transaction || PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) {
      PQfinish(conn);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(conn);
  }

  // Connects. A failure starts (or doubles) the backoff and is logged once
  // per attempt with the host and the reason, never the password.
  Result<PGconn*> Connect() {
    // The URI comes last, so anything it sets (connect_timeout, application_name) wins over these defaults.
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"5", "tokenfcgi", options_.path.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keywords, values, 1);
    std::string error;
    if (conn == nullptr) {
      error = "out of memory";
    } else if (PQstatus(conn) != CONNECTION_OK) {
      error = FirstLine(PQerrorMessage(conn));
    } else {
      // Server notices ("relation already exists, skipping") are not errors: keep them out of stderr.
      PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
      std::lock_guard<std::mutex> lock(mu_);
      if (backoff_.count() > 0) Logf(LogLevel::kInfo, "store: %s: connected again", where_.c_str());
      backoff_ = std::chrono::milliseconds(0);
      return conn;
    }
    if (conn != nullptr) PQfinish(conn);
    std::chrono::milliseconds wait;
    {
      std::lock_guard<std::mutex> lock(mu_);
      backoff_ = backoff_.count() == 0 ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
      wait = backoff_;
      retry_at_ = std::chrono::steady_clock::now() + backoff_;
      last_error_ = error;
    }
    if (opened_) {  // the open's own failure is its Status, logged by its caller
      Logf(LogLevel::kWarn, "store: %s: cannot connect: %s; next attempt in %lld ms", where_.c_str(), error.c_str(),
           static_cast<long long>(wait.count()));
    }
    return Status::Unavailable(where_ + ": cannot connect: " + error);
  }

  // ---- schema ----

  Status CreateVersionTable(PGconn* conn) {
    TF_RETURN_IF_ERROR(Command(conn,
                               "CREATE TABLE IF NOT EXISTS tf_schema_version (id integer PRIMARY KEY "
                               "CHECK (id = 1), version bigint NOT NULL)"));
    return Command(conn, "INSERT INTO tf_schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING");
  }

  Result<int64_t> SchemaVersion(PGconn* conn) {
    PgResult r(PQexecParams(conn, "SELECT version FROM tf_schema_version WHERE id = 1", 0, nullptr, nullptr, nullptr,
                            nullptr, 1));
    if (r && PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
      if (PQntuples(r.get()) == 0) return Status::NotFound(std::string(kNotInitialised) + " (" + where_ + ")");
      return Int(r.get(), 0, 0);
    }
    const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
    if (state != nullptr && std::strcmp(state, "42P01") == 0) {  // undefined_table
      return Status::NotFound(std::string(kNotInitialised) + " (" + where_ + ")");
    }
    return Status::Unavailable(where_ + ": reading the schema version: " +
                               FirstLine(r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn)));
  }

  // Runs every migration from `from` on, each in one transaction that re-reads the version first (a concurrent
  // tokenctl migrate may have done the step) and records the new version.
  Status Migrate(PGconn* conn, int64_t from) {
    for (int64_t v = from; v < kPgSchemaVersion; ++v) {
      TF_RETURN_IF_ERROR(Command(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE"));
      Status s = [&]() -> Status {
        Result<int64_t> now = SchemaVersion(conn);
        if (!now.ok()) return now.status();
        if (*now != v) return Status::OK();
        for (const char* sql : Migrations()[static_cast<size_t>(v)]) TF_RETURN_IF_ERROR(Command(conn, sql));
        const std::string bump = "UPDATE tf_schema_version SET version = " + std::to_string(v + 1) + " WHERE id = 1";
        return Command(conn, bump.c_str());
      }();
      if (!s.ok()) {
        (void)Command(conn, "ROLLBACK");
        return s;
      }
      TF_RETURN_IF_ERROR(Command(conn, "COMMIT"));
      Logf(LogLevel::kInfo, "store: %s: schema migrated from version %lld to %lld", where_.c_str(),
           static_cast<long long>(v), static_cast<long long>(v + 1));
    }
    return Status::OK();
  }

  StoreOptions options_;
  const std::string where_;  // "PostgreSQL postgresql://user@host/db": for messages, without the password
  const std::string begin_read_, begin_write_;
  std::mutex mu_;  // guards idle_ and the backoff
  std::vector<PGconn*> idle_;
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point retry_at_;
  std::string last_error_;
  // Whether Prepare ran (kSchemaReady), found a failure that no reconnect mends (kSchemaRefused, with refused_,
  // written once under prepare_mu_ before the state), or waits for a first connection (kSchemaUnchecked).
  static constexpr int kSchemaUnchecked = 0, kSchemaReady = 1, kSchemaRefused = 2;
  std::mutex prepare_mu_;
  std::atomic<int> schema_state_{kSchemaUnchecked};
  Status refused_;
  bool opened_ = false;  // Init has run: later failures are logged here, earlier ones are the open's Status
};

}  // namespace

bool IsPostgresUri(std::string_view database) {
  return database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0;
}

std::string RedactedDatabase(std::string_view database) {
  if (!IsPostgresUri(database)) return std::string(database);
  const size_t scheme_end = database.find("://") + 3;
  const size_t authority_end = std::min(database.find_first_of("/?", scheme_end), database.size());
  std::string out(database.substr(0, scheme_end));
  const std::string_view authority = database.substr(scheme_end, authority_end - scheme_end);
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    out += userinfo.substr(0, userinfo.find(':'));
    out += authority.substr(at);
  } else {
    out += authority;
  }
  std::string_view rest = database.substr(authority_end);
  const size_t q = rest.find('?');
  out += rest.substr(0, q);
  if (q == std::string_view::npos) return out;
  std::string_view query = rest.substr(q + 1);
  char sep = '?';
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    if (param.rfind("password=", 0) != 0) {
      out += sep;
      out += param;
      sep = '&';
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenPgStore(const StoreOptions& options) {
  if (!IsPostgresUri(options.path)) return Status::InvalidArgument("not a postgresql:// URI");
  auto store = std::make_unique<PgStore>(options);
  TF_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tf::store
