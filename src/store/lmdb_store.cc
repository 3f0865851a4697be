// The LMDB implementation of Store and Txn (see store.h for the layout and the contract).
//
// How the LMDB rules from lmdb.h are kept:
//   - One MDB_env per Store; callers open one Store per process, after any fork.
//   - MDB_NOTLS: reader slots belong to MDB_txn objects, not threads, so read transactions can be pooled. A reset
//     read transaction keeps its slot and is renewed for the next Read(); the pool holds at most as many as there
//     were concurrent readers in this process, so max_readers must cover processes x threads (+ tokenctl).
//   - mdb_reader_check clears slots left by processes that died inside a transaction: at open, at most every
//     kReaderCheckIntervalSeconds while running, and whenever a read transaction meets MDB_READERS_FULL (then the
//     begin is retried once), so a worker killed with -9 inside a read costs its slots only until the next check.
//   - MDB_MAP_RESIZED (another process grew the map beyond ours): mdb_env_set_mapsize(env, 0) adopts the size stored
//     in the file. lmdb.h requires that no transaction is active in this process then, so every transaction holds
//     `resize_mu_` shared for its lifetime and the resize takes it exclusively.
//   - The named databases are opened once, in Open, before any other transaction exists.
//   - Values returned by mdb_get/mdb_cursor_get point into the map: they are copied into std::string at once.
//   - Sync stays on: no MDB_NOSYNC and no MDB_WRITEMAP; MDB_NOMETASYNC only when StoreOptions::meta_async asks.
//   - Group commit: Update() calls that arrive while another thread of this process commits queue up; the next one
//     to run becomes the leader and runs all of them (and those that queue while it runs their callbacks, up to
//     kMaxBatch) in ONE write transaction, each callback in its own nested transaction (mdb_txn_begin with the
//     parent), so the batch costs one commit and one sync. A callback that fails or throws aborts only its nested
//     transaction; a failed commit of the parent fails every request of the batch that had succeeded (none of them
//     is acknowledged). Each caller gets its own Status or exception.
//   - UpdateAsync queues into the same batches without waiting: its callbacks and `done` run on the thread that
//     leads the batch. Such a request has no thread of its own to hand the lead to, so a batch whose next request is
//     one of them is led by the store's committer thread (started at the first UpdateAsync; never in tokenctl),
//     which keeps leading while the queue starts with them and hands the lead to an Update caller waiting at its
//     front, as any leader does. The destructor lets it finish the queue.
#include <dirent.h>
#include <errno.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <tuple>
#include <utility>

#include "store/grant_encoding.h"
#include "store/store.h"
#include "store/stored_records.h"
#include "util/base64.h"
#include "util/cjson_ptr.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::store {
namespace {

constexpr unsigned kMaxDbs = 16;        // the ten of today, with room to spare
constexpr int kMaxResizeRetries = 8;    // each retry adopts the newest size; more would mean a runaway writer
// How often (at most) a Store looks for reader slots of dead processes besides the moments it needs one.
constexpr int64_t kReaderCheckIntervalSeconds = 10;
// The most Update() calls one write transaction serves (group commit): bounds how long a batch holds the writer lock
// that every process shares, and the latency of its first request.
constexpr size_t kMaxBatch = 64;
constexpr const char kSchemaVersion[] = "1";
constexpr const char kSchemaVersionKey[] = "schema_version";
constexpr const char kGenerationKey[] = "config_generation";
// meta "map_size": the map size the last tokenctl map grow (Store::GrowMap) set, decimal bytes.
constexpr const char kMapSizeKey[] = "map_size";
// meta "session_key": the HMAC key of session cookies and CSRF tokens (oauth/session.h), kSessionKeySize raw random
// bytes, not JSON: it is loaded with every configuration snapshot (oauth/catalog.h) and never shown.
constexpr const char kSessionKeyKey[] = "session_key";
constexpr const char kNotInitialised[] = "database not initialised: run tokenctl init";

// The family index (store.h `family_index`): its one key, and the parts of each fixed-size duplicate.
constexpr std::string_view kFamilyIndexKey = "f";
constexpr size_t kFamilyIdSize = kFamilyKeyPrefixSize;   // the first bytes of SHA-256(family)
constexpr size_t kKeyPrefixSize = 8;   // the first bytes of the grant's key
constexpr size_t kFamilyEntrySize = kFamilyIdSize + kKeyPrefixSize;

constexpr std::string_view kScopePrefix = "scope:";
constexpr std::string_view kApiPrefix = "api:";
constexpr std::string_view kIdentityPrefix = "identity:";

// Turns an LMDB return code into a Status naming the call: "mdb_put: MDB_MAP_FULL: ...".
Status MdbStatus(const char* call, int rc) {
  std::string m = std::string(call) + ": " + mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status::ResourceExhausted(m + ": database full: raise map_size");
    case MDB_READERS_FULL:
      return Status::ResourceExhausted(m + ": reader table full: raise max_readers");
    case MDB_DBS_FULL:
      return Status::ResourceExhausted(m);
    case MDB_NOTFOUND:
      return Status::NotFound(m);
    case MDB_BAD_VALSIZE:
      return Status::InvalidArgument(m + ": key empty or longer than 511 bytes");
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
      return Status::Corruption(m);
    default:
      return Status::IOError(m);
  }
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
std::string_view View(const MDB_val& v) { return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size); }

// An open cursor, closed on every path out of the scope that opened it (an early return, a break, an exception).
class CursorGuard {
 public:
  CursorGuard() = default;
  CursorGuard(const CursorGuard&) = delete;
  CursorGuard& operator=(const CursorGuard&) = delete;
  ~CursorGuard() {
    if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  }
  Status Open(MDB_txn* txn, MDB_dbi dbi) {
    const int rc = mdb_cursor_open(txn, dbi, &cursor_);
    if (rc != 0) {
      cursor_ = nullptr;
      return MdbStatus("mdb_cursor_open", rc);
    }
    return Status::OK();
  }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// Where a Scan starts and how it steps: kFrom visits every key >= `from` ("" = the first key) in order; kDuplicatesOf
// visits the duplicates of exactly `from` (an MDB_DUPSORT database).
enum class ScanMode { kFrom, kDuplicatesOf };

// Walks `dbi` with a CursorGuard, calling visit(key, value) (views into the map, valid only during the call) until it
// returns false or the keys run out. The only cursor loop of this file: every scan below goes through it.
template <typename Visit>
Status Scan(MDB_txn* txn, MDB_dbi dbi, std::string_view from, ScanMode mode, Visit visit) {
  CursorGuard cursor;
  TF_RETURN_IF_ERROR(cursor.Open(txn, dbi));
  MDB_val k = Val(from), v;
  MDB_cursor_op op = mode == ScanMode::kDuplicatesOf ? MDB_SET_KEY : from.empty() ? MDB_FIRST : MDB_SET_RANGE;
  const MDB_cursor_op next = mode == ScanMode::kDuplicatesOf ? MDB_NEXT_DUP : MDB_NEXT;
  int rc = 0;
  for (rc = mdb_cursor_get(cursor.get(), &k, &v, op); rc == 0; rc = mdb_cursor_get(cursor.get(), &k, &v, next)) {
    if (!visit(View(k), View(v))) return Status::OK();
  }
  if (rc != MDB_NOTFOUND) return MdbStatus("mdb_cursor_get", rc);
  return Status::OK();
}

Status MakeDirectory(const std::string& path) {
  // Create missing parents too, each with 0750.
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string prefix = path.substr(0, pos);
    if (mkdir(prefix.c_str(), 0750) != 0 && errno != EEXIST) {
      return Status::IOError("mkdir " + prefix + ": " + std::strerror(errno));
    }
  }
  return Status::OK();
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Before a record is written it must read back: a record that cannot be parsed is never stored.
template <typename Parse>
Status CheckReadsBack(const std::string& json, Parse parse) {
  const CJsonPtr parsed(cJSON_ParseWithLength(json.data(), json.size()));
  if (parsed == nullptr) return Status::Internal("record did not serialise to JSON");
  std::vector<std::string> unknown;
  Status s = parse(parsed.get(), &unknown);
  return s;
}

struct Dbis {
  MDB_dbi meta = 0, clients = 0, resources = 0, keys = 0, users = 0, usernames = 0;
  MDB_dbi grants = 0, families = 0, revocations = 0, family_index = 0;
  // False only in a read-only open of a database made before the users databases existed: it has no users.
  bool has_users = false;
  // Likewise for grants, families and revocations.
  bool has_grants = false;
  // Likewise for family_index (a database made by a build before it indexes its families in `families` only).
  bool has_family_index = false;
};

// The `usernames` key: Tenant "\0" NormalizeUsername(Username). Neither part may contain NUL (ValidateUser), so the
// split is unambiguous.
std::string UsernameKey(std::string_view tenant, std::string_view username) {
  std::string key(tenant);
  key += '\0';
  key += NormalizeUsername(username);
  return key;
}

// ---- Txn -------------------------------------------------------------------------------------------------------------

class LmdbTxn final : public Txn {
 public:
  LmdbTxn(MDB_txn* txn, const Dbis& dbis, bool writable) : txn_(txn), dbis_(dbis), writable_(writable) {}

  // The first failed write operation; Update() aborts with it even if the callback ignored it.
  const Status& failure() const { return failure_; }
  bool touched_config() const { return touched_config_; }

  Result<uint64_t> ConfigGeneration() override {
    Result<std::optional<std::string>> v = Get(dbis_.meta, kGenerationKey);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::Corruption("meta 'config_generation' missing");
    return ParseGeneration(**v);
  }

  // meta "map_size" (see store.h): 0 when absent.
  Result<uint64_t> RecordedMapSize() {
    Result<std::optional<std::string>> v = Get(dbis_.meta, kMapSizeKey);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return uint64_t{0};
    Result<uint64_t> n = ParseGeneration(**v);
    if (!n.ok()) return Status::Corruption("meta 'map_size': not a decimal number");
    return n;
  }
  Status PutRecordedMapSize(uint64_t bytes) { return Put(dbis_.meta, kMapSizeKey, std::to_string(bytes), false); }

  // Called by Update() before commit when the callback changed configuration.
  Status IncrementConfigGeneration() {
    Result<uint64_t> g = ConfigGeneration();
    if (!g.ok()) return g.status();
    return Put(dbis_.meta, kGenerationKey, std::to_string(*g + 1), false);
  }

  Result<Client> GetClient(std::string_view client_id) override {
    if (client_id.empty()) return Status::NotFound("client '' not found");
    Result<std::optional<std::string>> v = Get(dbis_.clients, client_id);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::NotFound("client " + Printable(client_id) + " not found");
    return ParseClient(client_id, **v);
  }

  Result<std::vector<Client>> ListClients() override { return List<Client>(dbis_.clients, "", ParseClient); }

  Status PutClient(const Client& client) override {
    if (client.client_id.empty() || client.client_id.size() > kMaxClientIdLength) {
      return Status::InvalidArgument("ClientId: expected 1 to " + std::to_string(kMaxClientIdLength) + " characters");
    }
    const std::string json = ToJson(client);
    TF_RETURN_IF_ERROR(CheckReadsBack(json, [](const cJSON* j, std::vector<std::string>* u) {
      return ClientFromJson(j, "", u).status();
    }));
    return Put(dbis_.clients, client.client_id, json, true);
  }

  Status RemoveClient(std::string_view client_id) override {
    return Remove(dbis_.clients, client_id, "client " + Printable(client_id));
  }

  Result<std::vector<ApiScope>> ListApiScopes() override {
    return List<ApiScope>(dbis_.resources, kScopePrefix, ParseApiScope);
  }
  Status PutApiScope(const ApiScope& scope) override {
    return PutNamed(scope, kScopePrefix, [](const cJSON* j, std::vector<std::string>* u) {
      return ApiScopeFromJson(j, "", u).status();
    });
  }
  Status RemoveApiScope(std::string_view name) override {
    return Remove(dbis_.resources, std::string(kScopePrefix) + std::string(name), "api scope " + Printable(name));
  }

  Result<std::vector<ApiResource>> ListApiResources() override {
    return List<ApiResource>(dbis_.resources, kApiPrefix, ParseApiResource);
  }
  Status PutApiResource(const ApiResource& resource) override {
    return PutNamed(resource, kApiPrefix, [](const cJSON* j, std::vector<std::string>* u) {
      return ApiResourceFromJson(j, "", u).status();
    });
  }
  Status RemoveApiResource(std::string_view name) override {
    return Remove(dbis_.resources, std::string(kApiPrefix) + std::string(name), "api resource " + Printable(name));
  }

  Result<std::vector<IdentityResource>> ListIdentityResources() override {
    return List<IdentityResource>(dbis_.resources, kIdentityPrefix, ParseIdentityResource);
  }
  Status PutIdentityResource(const IdentityResource& resource) override {
    return PutNamed(resource, kIdentityPrefix, [](const cJSON* j, std::vector<std::string>* u) {
      return IdentityResourceFromJson(j, "", u).status();
    });
  }
  Status RemoveIdentityResource(std::string_view name) override {
    return Remove(dbis_.resources, std::string(kIdentityPrefix) + std::string(name),
                  "identity resource " + Printable(name));
  }

  Result<std::vector<KeyRecord>> ListKeys() override {
    Result<std::vector<KeyRecord>> keys = List<KeyRecord>(dbis_.keys, "", ParseKey);
    if (!keys.ok()) return keys;
    std::sort(keys->begin(), keys->end(), [](const KeyRecord& a, const KeyRecord& b) {
      return a.created != b.created ? a.created < b.created : a.kid < b.kid;
    });
    return keys;
  }
  Status PutKey(const KeyRecord& key) override {
    const std::string json = ToJson(key);
    TF_RETURN_IF_ERROR(CheckReadsBack(
        json, [](const cJSON* j, std::vector<std::string>*) { return KeyRecordFromJson(j, "").status(); }));
    return Put(dbis_.keys, key.kid, json, true);
  }
  Status RemoveKey(std::string_view kid) override { return Remove(dbis_.keys, kid, "key " + Printable(kid)); }

  Result<std::string> GetSessionKey() override {
    return StoredSessionKey(Get(dbis_.meta, kSessionKeyKey));
  }

  // `config` = true: the generation moves at commit, so every worker's snapshot reloads the key.
  Status PutSessionKey(std::string_view key) override {
    TF_RETURN_IF_ERROR(CheckSessionKey(key));
    return Put(dbis_.meta, kSessionKeyKey, key, true);
  }

  Result<User> GetUser(std::string_view subject_id) override {
    if (!dbis_.has_users || subject_id.empty() || subject_id.size() > kMaxSubjectIdLength) return UserNotFound(subject_id);
    Result<std::optional<std::string>> v = Get(dbis_.users, subject_id);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return UserNotFound(subject_id);
    return ParseUser(subject_id, **v);
  }

  Result<User> FindUserByName(std::string_view tenant, std::string_view username) override {
    const auto not_found = [&] {
      return Status::NotFound("user name " + Printable(username) + InTenant(tenant) + " not found");
    };
    if (!dbis_.has_users || !CanBeUsername(tenant, username)) return not_found();
    const std::string key = UsernameKey(tenant, username);
    Result<std::optional<std::string>> subject = Get(dbis_.usernames, key);
    if (!subject.ok()) return subject.status();
    if (!subject->has_value()) return not_found();
    Result<std::optional<std::string>> v = Get(dbis_.users, **subject);
    if (!v.ok()) return v.status();
    if (!v->has_value()) {
      return Status::Corruption("usernames " + Printable(key) + ": points to missing user " + Printable(**subject));
    }
    Result<User> user = ParseUser(**subject, **v);
    if (!user.ok()) return user;
    if (UsernameKey(user->tenant, user->username) != key) {
      return Status::Corruption("usernames " + Printable(key) + ": points to user " + Printable(**subject) +
                                " whose user name is " + Printable(user->username) + InTenant(user->tenant));
    }
    return user;
  }

  Result<std::vector<User>> ListUsers() override {
    if (!dbis_.has_users) return std::vector<User>();
    return List<User>(dbis_.users, "", ParseUser);
  }

  Status PutUser(const User& user) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_put"));
    TF_RETURN_IF_ERROR(failure_);
    TF_RETURN_IF_ERROR(ValidateUser(user));
    const std::string json = ToJson(user);
    TF_RETURN_IF_ERROR(CheckReadsBack(json, [](const cJSON* j, std::vector<std::string>* u) {
      return UserFromJson(j, "", u).status();
    }));
    // Every check comes before the first write, so a refused PutUser leaves the transaction as it was.
    const std::string key = UsernameKey(user.tenant, user.username);
    Result<std::optional<std::string>> owner = Get(dbis_.usernames, key);
    if (!owner.ok()) return owner.status();
    if (owner->has_value() && **owner != user.subject_id) {
      // An entry whose user record is gone is a leftover (it cannot be found through anyway): take it over.
      Result<std::optional<std::string>> other = Get(dbis_.users, **owner);
      if (!other.ok()) return other.status();
      if (other->has_value()) {
        return Status::AlreadyExists("user name " + Printable(user.username) + " already exists" +
                                     InTenant(user.tenant));
      }
    }
    TF_RETURN_IF_ERROR(DropUsernameEntries(user.subject_id, key));
    TF_RETURN_IF_ERROR(Put(dbis_.usernames, key, user.subject_id, false));
    return Put(dbis_.users, user.subject_id, json, false);
  }

  Status RemoveUser(std::string_view subject_id) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    if (subject_id.empty() || subject_id.size() > kMaxSubjectIdLength) return UserNotFound(subject_id);
    Result<std::optional<std::string>> v = Get(dbis_.users, subject_id);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return UserNotFound(subject_id);
    TF_RETURN_IF_ERROR(DropUsernameEntries(subject_id, ""));
    return Remove(dbis_.users, subject_id, "user " + Printable(subject_id), false);
  }

  Result<Grant> GetGrant(std::string_view handle_hash) override {
    TF_RETURN_IF_ERROR(CheckHandleHash(handle_hash));
    if (!dbis_.has_grants) return GrantNotFound();
    Result<std::optional<std::string>> v = Get(dbis_.grants, handle_hash);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return GrantNotFound();
    Result<Grant> grant = ParseGrant(handle_hash, **v);
    if (!grant.ok() || grant->family.empty()) return grant;
    Result<bool> revoked = IsRevoked(grant->family);
    if (!revoked.ok()) return revoked.status();
    if (*revoked) return GrantNotFound();  // its family is dead, even while its grants are still being deleted
    return grant;
  }

  Status PutGrant(std::string_view handle_hash, const Grant& grant) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_put"));
    TF_RETURN_IF_ERROR(failure_);
    TF_RETURN_IF_ERROR(CheckHandleHash(handle_hash));
    TF_RETURN_IF_ERROR(ValidateGrant(grant));
    const std::string value = EncodeStoredGrant(grant);
    TF_RETURN_IF_ERROR(DropFamilyEntries(handle_hash, grant.family));
    TF_RETURN_IF_ERROR(PutFamilyEntry(grant.family, handle_hash));
    return Put(dbis_.grants, handle_hash, value, false);
  }

  Status RemoveGrant(std::string_view handle_hash) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    TF_RETURN_IF_ERROR(CheckHandleHash(handle_hash));
    Result<std::optional<std::string>> v = Get(dbis_.grants, handle_hash);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return GrantNotFound();
    TF_RETURN_IF_ERROR(DropFamilyEntries(handle_hash, ""));
    return Remove(dbis_.grants, handle_hash, "grant", false);
  }

  Result<size_t> RevokeFamily(std::string_view family, int64_t now, int64_t keep_until) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    if (!CanBeFamily(family)) return Status::InvalidArgument("family: expected 1 to 200 bytes without NUL");
    if (now < 0 || keep_until < 0) return Status::InvalidArgument("RevokeFamily: times must be non-negative");
    Result<std::vector<std::string>> hashes = FamilyMembers(family);
    if (!hashes.ok()) return hashes.status();
    size_t deleted = 0;
    for (const std::string& hash : *hashes) {
      Result<std::optional<std::string>> v = Get(dbis_.grants, hash);
      if (!v.ok()) return v.status();
      if (!v->has_value()) continue;  // a stale index entry: dropped below
      // Only a grant that says it belongs to the family is deleted; a record that does not parse is deleted too (it
      // is unusable, and the index says it was put under this family).
      Result<Grant> g = ParseGrant(hash, **v);
      if (g.ok() && g->family != family) continue;
      TF_RETURN_IF_ERROR(Remove(dbis_.grants, hash, "grant", false));
      ++deleted;
    }
    TF_RETURN_IF_ERROR(DropAllFamilyEntries(family));
    TF_RETURN_IF_ERROR(PutRevocation(family, now, keep_until));
    return deleted;
  }

  Result<RevokeProgress> RevokeFamilyPart(std::string_view family, int64_t now, int64_t keep_until,
                                          size_t limit) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    if (!CanBeFamily(family)) return Status::InvalidArgument("family: expected 1 to 200 bytes without NUL");
    if (now < 0 || keep_until < 0) return Status::InvalidArgument("RevokeFamilyPart: times must be non-negative");
    TF_RETURN_IF_ERROR(PutRevocation(family, now, keep_until));
    // The first `limit` index entries (and one more, to tell whether any are left), those of `families` first: a walk
    // of the family's own entries, never a scan of the database.
    const size_t want = limit < SIZE_MAX ? limit + 1 : limit;
    std::vector<std::string> legacy, entries, chains;
    TF_RETURN_IF_ERROR(LegacyFamilyEntries(family, want, &legacy));
    TF_RETURN_IF_ERROR(FamilyIndexEntries(FamilyIndexId(family), want - legacy.size(), &entries));
    TF_RETURN_IF_ERROR(GrantsWithPrefix(FamilyIndexId(family), &chains, want - legacy.size() - entries.size()));
    RevokeProgress progress;
    progress.more = legacy.size() + entries.size() + chains.size() > limit;
    if (progress.more) (!chains.empty() ? chains : !entries.empty() ? entries : legacy).pop_back();
    // As RevokeFamily: a grant of another family keeps its record; one that does not parse goes. A record under a
    // chain key of the family goes whatever it names (the key says whose it is), so every round makes progress.
    const auto revoke = [&](const std::string& hash, bool chain) -> Status {
      Result<std::optional<std::string>> v = Get(dbis_.grants, hash);
      if (!v.ok()) return v.status();
      if (!v->has_value()) return Status::OK();
      Result<Grant> g = ParseGrant(hash, **v);
      if (g.ok() && g->family != family) {
        if (!chain) return Status::OK();
        TF_RETURN_IF_ERROR(DropFamilyEntries(hash, ""));  // indexed under the family it names
      }
      TF_RETURN_IF_ERROR(Remove(dbis_.grants, hash, "grant", false));
      ++progress.grants;
      return Status::OK();
    };
    for (const std::string& hash : legacy) {
      TF_RETURN_IF_ERROR(revoke(hash, false));
      TF_RETURN_IF_ERROR(DeleteDuplicate(dbis_.families, family, hash));
    }
    for (const std::string& entry : entries) {
      std::vector<std::string> hashes;
      TF_RETURN_IF_ERROR(GrantsWithPrefix(std::string_view(entry).substr(kFamilyIdSize), &hashes));
      for (const std::string& hash : hashes) TF_RETURN_IF_ERROR(revoke(hash, false));
      TF_RETURN_IF_ERROR(DeleteDuplicate(dbis_.family_index, kFamilyIndexKey, entry));
    }
    for (const std::string& hash : chains) TF_RETURN_IF_ERROR(revoke(hash, true));
    return progress;
  }

  // The entries of `families` (what builds before `family_index` wrote) and of `family_index`, and the chain keys.
  Result<size_t> CountFamilyGrants(std::string_view family) override {
    if (!dbis_.has_grants || !CanBeFamily(family)) return size_t{0};
    std::vector<std::string> entries;
    TF_RETURN_IF_ERROR(FamilyIndexEntries(FamilyIndexId(family), SIZE_MAX, &entries));
    TF_RETURN_IF_ERROR(GrantsWithPrefix(FamilyIndexId(family), &entries));  // chain keys: not in the index
    CursorGuard cursor;
    TF_RETURN_IF_ERROR(cursor.Open(txn_, dbis_.families));
    MDB_val k = Val(family), v;
    int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND) return entries.size();
    if (rc != 0) return MdbStatus("mdb_cursor_get", rc);
    size_t n = 0;
    rc = mdb_cursor_count(cursor.get(), &n);
    if (rc != 0) return MdbStatus("mdb_cursor_count", rc);
    return static_cast<size_t>(n) + entries.size();
  }

  Result<std::vector<std::pair<std::string, Grant>>> ListFamilyGrants(std::string_view family) override {
    std::vector<std::pair<std::string, Grant>> out;
    if (!dbis_.has_grants || !CanBeFamily(family)) return out;
    Result<std::vector<std::string>> hashes = FamilyMembers(family);
    if (!hashes.ok()) return hashes.status();
    for (std::string& hash : *hashes) {
      Result<Grant> g = GetGrant(hash);
      if (!g.ok()) {
        if (g.status().IsNotFound()) continue;  // a stale index entry, or a revoked family
        return g.status();
      }
      if (g->family == family) out.emplace_back(std::move(hash), std::move(g).value());
    }
    return out;
  }

  Result<std::optional<FamilyRevocation>> GetFamilyRevocation(std::string_view family) override {
    if (!dbis_.has_grants || !CanBeFamily(family)) return std::optional<FamilyRevocation>();
    return StoredRevocation(family, Get(dbis_.revocations, family));
  }

  Result<std::vector<std::pair<std::string, FamilyRevocation>>> ListFamilyRevocations() override {
    std::vector<std::pair<std::string, FamilyRevocation>> out;
    if (!dbis_.has_grants) return out;
    Status status;
    TF_RETURN_IF_ERROR(
        Scan(txn_, dbis_.revocations, "", ScanMode::kFrom, [&](std::string_view k, std::string_view v) {
          Result<FamilyRevocation> r = ParseRevocation(k, v);
          if (!r.ok()) {
            status = r.status();
            return false;
          }
          out.emplace_back(std::string(k), *r);
          return true;
        }));
    if (!status.ok()) return status;
    return out;
  }

  Result<std::vector<std::pair<std::string, Grant>>> ListGrants(std::string_view client_id,
                                                                std::string_view subject) override {
    std::vector<std::pair<std::string, Grant>> out;
    if (!dbis_.has_grants) return out;
    Status status;
    TF_RETURN_IF_ERROR(Scan(txn_, dbis_.grants, "", ScanMode::kFrom, [&](std::string_view k, std::string_view v) {
      Result<Grant> g = ParseGrant(k, v);
      if (!g.ok()) {
        status = g.status();
        return false;
      }
      if (!client_id.empty() && g->client_id != client_id) return true;
      if (!subject.empty() && g->subject != subject) return true;
      out.emplace_back(std::string(k), std::move(g).value());
      return true;
    }));
    if (!status.ok()) return status;
    return out;
  }

  Result<CollectResult> CollectExpired(int64_t now, size_t batch) override {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    if (batch == 0) return Status::InvalidArgument("CollectExpired: batch must be at least 1");
    Expired found;
    TF_RETURN_IF_ERROR(FindExpired(now, batch, "", &found));
    Result<CollectResult> r = DeleteExpired(found, now);
    if (r.ok()) r->more = found.size() >= batch;
    return r;
  }

  // Whether gc deletes `grant`: it has expired, or its family was revoked (RevokeFamilyInBatches did not finish).
  Result<bool> IsCollectable(const Grant& grant, int64_t now) {
    if (grant.expires <= now) return true;
    if (grant.family.empty()) return false;
    return IsRevoked(grant.family);
  }

  // What FindExpired found: keys of grants and revocations that were expired in the scanned snapshot.
  struct Expired {
    std::vector<std::string> grants, revocations;
    size_t size() const { return grants.size() + revocations.size(); }
  };

  // Finds up to `batch` expired grants and revocations, reading only (so it may run in a read transaction, which
  // never blocks writers). Grants are scanned from the first key after `resume` to the end and then from the start
  // up to `resume`, so repeated calls walk the database once instead of rescanning the live records at its start.
  // A record that does not parse cannot be judged and is skipped (and counted in a warning).
  Status FindExpired(int64_t now, size_t batch, std::string_view resume, Expired* out) {
    if (!dbis_.has_grants) return Status::OK();
    size_t corrupt = 0;
    auto scan = [&](MDB_dbi dbi, std::string_view from, std::string_view until, auto expired,
                    std::vector<std::string>* found) -> Status {
      return Scan(txn_, dbi, from, ScanMode::kFrom, [&](std::string_view k, std::string_view v) {
        if (out->size() >= batch) return false;
        if (!from.empty() && k == from) return true;  // the scan starts after `from`
        if (!until.empty() && k > until) return false;
        Result<bool> e = expired(k, v);
        if (!e.ok()) {
          ++corrupt;
        } else if (*e) {
          found->emplace_back(k);
        }
        return true;
      });
    };
    auto grant_expired = [&](std::string_view k, std::string_view v) -> Result<bool> {
      Result<Grant> g = ParseGrant(k, v);
      if (!g.ok()) return g.status();
      return IsCollectable(*g, now);
    };
    TF_RETURN_IF_ERROR(scan(dbis_.grants, resume, "", grant_expired, &out->grants));
    if (!resume.empty()) TF_RETURN_IF_ERROR(scan(dbis_.grants, "", resume, grant_expired, &out->grants));
    TF_RETURN_IF_ERROR(scan(
        dbis_.revocations, "", "",
        [&](std::string_view k, std::string_view v) -> Result<bool> {
          Result<FamilyRevocation> r = ParseRevocation(k, v);
          if (!r.ok()) return r.status();
          if (r->keep_until > now) return false;
          Result<bool> has_grants = HasFamilyEntries(k);  // its grants go first
          if (!has_grants.ok()) return has_grants.status();
          return !*has_grants;
        },
        &out->revocations));
    if (corrupt > 0) Logf(LogLevel::kWarn, "store: gc skipped %zu record(s) that do not parse", corrupt);
    return Status::OK();
  }

  // Deletes the records FindExpired found that are still there and still expired (another writer may have replaced
  // or removed them since a read-transaction scan), with their family index entries.
  Result<CollectResult> DeleteExpired(const Expired& found, int64_t now) {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    CollectResult result;
    for (const std::string& hash : found.grants) {
      Result<std::optional<std::string>> v = Get(dbis_.grants, hash);
      if (!v.ok()) return v.status();
      if (!v->has_value()) continue;
      Result<Grant> g = ParseGrant(hash, **v);
      if (!g.ok()) continue;
      Result<bool> collectable = IsCollectable(*g, now);
      if (!collectable.ok()) return collectable.status();
      if (!*collectable) continue;
      TF_RETURN_IF_ERROR(DropFamilyEntries(hash, ""));
      TF_RETURN_IF_ERROR(Remove(dbis_.grants, hash, "grant", false));
      ++result.grants;
    }
    for (const std::string& family : found.revocations) {
      Result<std::optional<std::string>> v = Get(dbis_.revocations, family);
      if (!v.ok()) return v.status();
      if (!v->has_value()) continue;
      Result<FamilyRevocation> r = ParseRevocation(family, **v);
      if (!r.ok() || r->keep_until > now) continue;
      Result<bool> has_grants = HasFamilyEntries(family);
      if (!has_grants.ok()) return has_grants.status();
      if (*has_grants) continue;
      TF_RETURN_IF_ERROR(Remove(dbis_.revocations, family, "revocation " + Printable(family), false));
      ++result.revocations;
    }
    return result;
  }

 private:
  static Status GrantNotFound() { return Status::NotFound("grant not found"); }

  // Writes the family's revocation record; an existing one keeps its revoked_at and the later keep_until.
  Status PutRevocation(std::string_view family, int64_t now, int64_t keep_until) {
    FamilyRevocation record{now, keep_until};
    Result<std::optional<std::string>> old = Get(dbis_.revocations, family);
    if (!old.ok()) return old.status();
    if (old->has_value()) {
      Result<FamilyRevocation> r = ParseRevocation(family, **old);
      if (r.ok()) record = FamilyRevocation{r->revoked_at, std::max(r->keep_until, keep_until)};
    }
    return Put(dbis_.revocations, family, ToJson(record), false);
  }

  // Whether `family` has a revocation record (one lookup; the record is not parsed).
  Result<bool> IsRevoked(std::string_view family) {
    if (!CanBeFamily(family)) return false;
    MDB_val k = Val(family), v;
    const int rc = mdb_get(txn_, dbis_.revocations, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return MdbStatus("mdb_get", rc);
    return true;
  }

  // ---- The family index ----
  // `family_index` (store.h) holds one 24-byte duplicate per indexed grant under its one key: the first 16 bytes of
  // SHA-256(family), then the first 8 bytes of the grant's key. An entry stands for the grants whose key starts with
  // its 8 bytes (nearly always exactly one), so every reader of the index checks the family the record names: neither
  // a shared key prefix nor a shared family hash makes an operation on one family touch another's grants. `families`
  // (family -> 32-byte key) holds what builds before `family_index` wrote: read as before, and each of its entries
  // dropped when its grant is rewritten or removed.

  static std::string FamilyIndexId(std::string_view family) { return FamilyKeyPrefix(family); }
  static std::string FamilyEntry(std::string_view family, std::string_view hash) {
    return FamilyIndexId(family) + std::string(hash.substr(0, kKeyPrefixSize));
  }

  // Up to `limit` entries of `family_index` whose family part is `id`, in order.
  Status FamilyIndexEntries(std::string_view id, size_t limit, std::vector<std::string>* out) {
    if (!dbis_.has_family_index || limit == 0) return Status::OK();
    CursorGuard cursor;
    TF_RETURN_IF_ERROR(cursor.Open(txn_, dbis_.family_index));
    std::string first(id);
    first.resize(kFamilyEntrySize, '\0');  // the least entry of the family
    MDB_val k = Val(kFamilyIndexKey), v = Val(first);
    int rc = 0;
    for (rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_GET_BOTH_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT_DUP)) {
      const std::string_view entry = View(v);
      if (entry.substr(0, kFamilyIdSize) != id) return Status::OK();
      out->emplace_back(entry);
      if (out->size() >= limit) return Status::OK();
    }
    if (rc != MDB_NOTFOUND) return MdbStatus("mdb_cursor_get", rc);
    return Status::OK();
  }

  // Up to `limit` keys of `families` entries of `family`, in order.
  Status LegacyFamilyEntries(std::string_view family, size_t limit, std::vector<std::string>* out) {
    if (limit == 0) return Status::OK();
    return Scan(txn_, dbis_.families, family, ScanMode::kDuplicatesOf, [&](std::string_view, std::string_view v) {
      out->emplace_back(v);
      return out->size() < limit;
    });
  }

  // The keys of the grants whose key starts with `prefix`, in order, up to `limit` of them.
  Status GrantsWithPrefix(std::string_view prefix, std::vector<std::string>* out, size_t limit = SIZE_MAX) {
    if (limit == 0) return Status::OK();
    size_t found = 0;
    return Scan(txn_, dbis_.grants, prefix, ScanMode::kFrom, [&](std::string_view k, std::string_view) {
      if (k.substr(0, prefix.size()) != prefix) return false;
      out->emplace_back(k);
      return ++found < limit;
    });
  }

  // Deletes the duplicate `value` of `key` (absent: nothing to do).
  Status DeleteDuplicate(MDB_dbi dbi, std::string_view key, std::string_view value) {
    MDB_val k = Val(key), v = Val(value);
    const int rc = mdb_del(txn_, dbi, &k, &v);
    if (rc != 0 && rc != MDB_NOTFOUND) return Fail(MdbStatus("mdb_del", rc));
    return Status::OK();
  }

  // Whether `family` still has entries in the family index.
  Result<bool> HasFamilyEntries(std::string_view family) {
    if (!CanBeFamily(family)) return false;
    MDB_val k = Val(family), v;
    const int rc = mdb_get(txn_, dbis_.families, &k, &v);
    if (rc == 0) return true;
    if (rc != MDB_NOTFOUND) return MdbStatus("mdb_get", rc);
    std::vector<std::string> entries;
    TF_RETURN_IF_ERROR(FamilyIndexEntries(FamilyIndexId(family), 1, &entries));
    if (entries.empty()) TF_RETURN_IF_ERROR(GrantsWithPrefix(FamilyIndexId(family), &entries, 1));
    return !entries.empty();
  }

  // The keys of the grants the family index names under `family`, in order, each once: candidates, whose records
  // the caller checks.
  Result<std::vector<std::string>> FamilyMembers(std::string_view family) {
    std::vector<std::string> out, entries;
    TF_RETURN_IF_ERROR(LegacyFamilyEntries(family, SIZE_MAX, &out));
    TF_RETURN_IF_ERROR(FamilyIndexEntries(FamilyIndexId(family), SIZE_MAX, &entries));
    for (const std::string& entry : entries) {
      TF_RETURN_IF_ERROR(GrantsWithPrefix(std::string_view(entry).substr(kFamilyIdSize), &out));
    }
    TF_RETURN_IF_ERROR(GrantsWithPrefix(FamilyIndexId(family), &out));  // its grants under chain keys
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Every index entry of `family`, in both databases.
  Status DropAllFamilyEntries(std::string_view family) {
    MDB_val k = Val(family);
    const int rc = mdb_del(txn_, dbis_.families, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return Fail(MdbStatus("mdb_del", rc));
    std::vector<std::string> entries;
    TF_RETURN_IF_ERROR(FamilyIndexEntries(FamilyIndexId(family), SIZE_MAX, &entries));
    for (const std::string& entry : entries) {
      TF_RETURN_IF_ERROR(DeleteDuplicate(dbis_.family_index, kFamilyIndexKey, entry));
    }
    return Status::OK();
  }

  Status PutFamilyEntry(std::string_view family, std::string_view hash) {
    if (family.empty()) return Status::OK();  // no family: not indexed
    const std::string entry = FamilyEntry(family, hash);
    if (hash.substr(0, kFamilyIdSize) == entry.substr(0, kFamilyIdSize)) return Status::OK();  // a chain key
    MDB_val k = Val(kFamilyIndexKey), v = Val(entry);
    const int rc = mdb_put(txn_, dbis_.family_index, &k, &v, MDB_NODUPDATA);
    if (rc == MDB_KEYEXIST) return Status::OK();
    if (rc != 0) return Fail(MdbStatus("mdb_put", rc));
    return Status::OK();
  }

  // Deletes the `family_index` entry `entry` that stood for the grant under `hash`, unless another grant whose key
  // shares its prefix is of the same family (or cannot be read: an entry too many only costs a lookup).
  Status DropFamilyEntry(std::string_view entry, std::string_view hash) {
    std::vector<std::string> sharing;
    TF_RETURN_IF_ERROR(GrantsWithPrefix(hash.substr(0, kKeyPrefixSize), &sharing));
    for (const std::string& other : sharing) {
      if (other == hash) continue;
      Result<std::optional<std::string>> v = Get(dbis_.grants, other);
      if (!v.ok()) return v.status();
      if (!v->has_value()) continue;
      Result<Grant> g = ParseGrant(other, **v);
      if (!g.ok() || FamilyIndexId(g->family) == entry.substr(0, kFamilyIdSize)) return Status::OK();
    }
    return DeleteDuplicate(dbis_.family_index, kFamilyIndexKey, entry);
  }

  // Removes the index entries of the grant stored under `hash`, except its `family_index` entry under `keep` (its
  // `families` entry goes in any case: PutGrant indexes it in `family_index`). The stored record names its family;
  // when it does not parse (a corrupt record being replaced or removed), every entry that can stand for the hash is
  // found by a scan instead, so the index never keeps a hash for a grant that is gone.
  Status DropFamilyEntries(std::string_view hash, std::string_view keep) {
    Result<std::optional<std::string>> v = Get(dbis_.grants, hash);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::OK();
    Result<Grant> old = ParseGrant(hash, **v);
    if (old.ok()) {
      if (old->family.empty() || IsChainKey(hash, old->family)) return Status::OK();  // never indexed
      TF_RETURN_IF_ERROR(DeleteDuplicate(dbis_.families, old->family, hash));
      if (old->family == keep) return Status::OK();
      return DropFamilyEntry(FamilyEntry(old->family, hash), hash);
    }
    std::vector<std::string> families, entries;
    Status s = Scan(txn_, dbis_.families, "", ScanMode::kFrom, [&](std::string_view k, std::string_view val) {
      if (val == hash) families.emplace_back(k);
      return true;
    });
    if (!s.ok()) return Fail(s);
    for (const std::string& family : families) TF_RETURN_IF_ERROR(DeleteDuplicate(dbis_.families, family, hash));
    if (!dbis_.has_family_index) return Status::OK();
    const std::string keep_id = keep.empty() ? std::string() : FamilyIndexId(keep);
    s = Scan(txn_, dbis_.family_index, kFamilyIndexKey, ScanMode::kDuplicatesOf,
             [&](std::string_view, std::string_view entry) {
               if (entry.substr(kFamilyIdSize) == hash.substr(0, kKeyPrefixSize) &&
                   entry.substr(0, kFamilyIdSize) != keep_id) {
                 entries.emplace_back(entry);
               }
               return true;
             });
    if (!s.ok()) return Fail(s);
    for (const std::string& entry : entries) TF_RETURN_IF_ERROR(DropFamilyEntry(entry, hash));
    return Status::OK();
  }

  static Status UserNotFound(std::string_view subject_id) {
    return Status::NotFound("user " + Printable(subject_id) + " not found");
  }

  // Removes the `usernames` entries of `subject_id` except `keep`. The stored record names its entry; when that
  // record does not parse (a corrupt record being replaced or removed), every entry pointing at the subject is found
  // by a scan instead, so the index never keeps a name for a user that is gone.
  Status DropUsernameEntries(std::string_view subject_id, std::string_view keep) {
    Result<std::optional<std::string>> v = Get(dbis_.users, subject_id);
    if (!v.ok()) return v.status();
    if (!v->has_value()) return Status::OK();
    Result<User> old = ParseUser(subject_id, **v);
    if (old.ok()) {
      const std::string key = UsernameKey(old->tenant, old->username);
      if (key == keep) return Status::OK();
      Result<std::optional<std::string>> owner = Get(dbis_.usernames, key);
      if (!owner.ok()) return owner.status();
      if (!owner->has_value() || **owner != subject_id) return Status::OK();  // not ours: leave it
      return Remove(dbis_.usernames, key, "user name " + Printable(old->username), false);
    }
    std::vector<std::string> stale;
    const Status s = Scan(txn_, dbis_.usernames, "", ScanMode::kFrom, [&](std::string_view k, std::string_view val) {
      if (val == subject_id && k != keep) stale.emplace_back(k);
      return true;
    });
    if (!s.ok()) return Fail(s);
    for (const std::string& key : stale) {
      TF_RETURN_IF_ERROR(Remove(dbis_.usernames, key, "user name entry " + Printable(key), false));
    }
    return Status::OK();
  }

  Result<std::optional<std::string>> Get(MDB_dbi dbi, std::string_view key) {
    MDB_val k = Val(key), v;
    const int rc = mdb_get(txn_, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>();
    if (rc != 0) return MdbStatus("mdb_get", rc);
    return std::optional<std::string>(std::string(View(v)));  // copied out of the map
  }

  // Every record whose key starts with `prefix`, in key order.
  template <typename R>
  Result<std::vector<R>> List(MDB_dbi dbi, std::string_view prefix,
                              Result<R> (*parse)(std::string_view, std::string_view)) {
    std::vector<R> out;
    Status status;
    TF_RETURN_IF_ERROR(Scan(txn_, dbi, prefix, ScanMode::kFrom, [&](std::string_view key, std::string_view v) {
      if (key.substr(0, prefix.size()) != prefix) return false;
      Result<R> r = parse(key, v);
      if (!r.ok()) {
        status = r.status();
        return false;
      }
      out.push_back(std::move(r).value());
      return true;
    }));
    if (!status.ok()) return status;
    return out;
  }

  template <typename R, typename Check>
  Status PutNamed(const R& record, std::string_view prefix, Check check) {
    if (record.name.empty()) return Status::InvalidArgument("Name: required");
    const std::string json = ToJson(record);
    TF_RETURN_IF_ERROR(CheckReadsBack(json, check));
    return Put(dbis_.resources, std::string(prefix) + record.name, json, true);
  }

  Status CheckWritable(const char* op) {
    if (writable_) return Status::OK();
    return Status::Internal(std::string(op) + " in a Read() transaction");
  }

  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value, bool config) {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_put"));
    TF_RETURN_IF_ERROR(failure_);
    MDB_val k = Val(key), v = Val(value);
    const int rc = mdb_put(txn_, dbi, &k, &v, 0);
    if (rc != 0) return Fail(MdbStatus("mdb_put", rc));
    touched_config_ = touched_config_ || config;
    return Status::OK();
  }

  Status Remove(MDB_dbi dbi, std::string_view key, const std::string& what, bool config = true) {
    TF_RETURN_IF_ERROR(CheckWritable("mdb_del"));
    TF_RETURN_IF_ERROR(failure_);
    if (key.empty()) return Status::NotFound(what + " not found");
    MDB_val k = Val(key);
    const int rc = mdb_del(txn_, dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) return Status::NotFound(what + " not found");
    if (rc != 0) return Fail(MdbStatus("mdb_del", rc));
    touched_config_ = touched_config_ || config;
    return Status::OK();
  }

  Status Fail(Status s) {
    // An invalid key leaves the transaction usable; anything else (MDB_MAP_FULL, I/O) poisons it in LMDB too.
    if (s.code() != Status::Code::kInvalidArgument && failure_.ok()) failure_ = s;
    return s;
  }

  MDB_txn* txn_;
  Dbis dbis_;
  bool writable_;
  bool touched_config_ = false;
  Status failure_;
};


// Number of keys in `dbi` that start with `prefix` (non-empty).
Result<uint64_t> CountPrefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix) {
  uint64_t n = 0;
  TF_RETURN_IF_ERROR(Scan(txn, dbi, prefix, ScanMode::kFrom, [&](std::string_view k, std::string_view) {
    if (k.substr(0, prefix.size()) != prefix) return false;
    ++n;
    return true;
  }));
  return n;
}

// ---- Store -----------------------------------------------------------------------------------------------------------

// An exception thrown by an UpdateAsync callback, as the status its `done` gets.
Status ExceptionStatus(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return Status::Internal(std::string("the write failed: ") + x.what());
  } catch (...) {
  }
  return Status::Internal("the write failed");
}

// Calls UpdateAsync's `done`; what it throws is logged, not passed to the thread that committed.
void CallDone(const std::function<void(Status)>& done, const Status& status) {
  try {
    done(status);
  } catch (const std::exception& e) {
    Logf(LogLevel::kError, "store: the completion of a write failed: %s", e.what());
  } catch (...) {
    Logf(LogLevel::kError, "store: the completion of a write failed");
  }
}

// One caller of LmdbStore::Update() waiting for its batch: the callback, and what it returned or threw. Each waits on
// its own condition variable, woken exactly once: when its batch is done, or when it is to lead the next batch. (One
// condition variable for all would wake every waiting thread at the end of every batch, to find mostly that its own
// batch has not run yet, and have them all queue for one mutex: a quarter of a worker's CPU under refresh load.)
// An UpdateAsync call is one too, owning its callback and `done`, with nobody waiting: its batch's leader calls
// `done` and deletes it.
struct PendingUpdate {
  enum class Turn { kWaiting, kDone, kLead };
  explicit PendingUpdate(const std::function<Status(Txn&)>* f) : fn(f) {}
  PendingUpdate(std::function<Status(Txn&)> f, std::function<void(Status)> d)
      : owned_fn(std::move(f)), fn(&owned_fn), done(std::move(d)) {}

  bool async() const { return static_cast<bool>(done); }

  // Sets `to` and wakes the waiter. Under `mu`, so the waiter (which returns and destroys this object once it sees
  // kDone) cannot do so before this call is done with it.
  void Wake(Turn to) {
    std::lock_guard<std::mutex> lock(mu);
    turn = to;
    cv.notify_one();
  }
  // Waits for Wake(); returns what it said.
  Turn WaitForWake() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return turn != Turn::kWaiting; });
    return turn;
  }

  std::function<Status(Txn&)> owned_fn;  // UpdateAsync's callback
  const std::function<Status(Txn&)>* fn;
  std::function<void(Status)> done;  // UpdateAsync only
  Status result;                 // final once woken with kDone (written by the batch's leader before the wake)
  std::exception_ptr exception;  // likewise
  std::mutex mu;
  std::condition_variable cv;
  Turn turn = Turn::kWaiting;  // guarded by mu
};

class LmdbStore final : public Store {
 public:
  LmdbStore(MDB_env* env, const StoreOptions& options) : env_(env), options_(options) {}

  ~LmdbStore() override {
    {
      std::lock_guard<std::mutex> lock(batch_mu_);
      stopping_ = true;
    }
    committer_cv_.notify_one();
    if (committer_.joinable()) committer_.join();
    for (MDB_txn* txn : pool_) mdb_txn_abort(txn);
    mdb_env_close(env_);
  }

  // Opens (and in a writable environment creates) the named databases and checks meta. Runs once, before any other
  // transaction of this Store, as mdb_dbi_open requires.
  Status Init() {
    TxnGuard txn(this);
    TF_RETURN_IF_ERROR(txn.Begin(!options_.read_only));
    TF_RETURN_IF_ERROR(InitIn(txn.get()));
    // Committing (even a read-only transaction) is what makes the DBI handles usable by later transactions.
    return txn.Commit();
  }

  // The next periodic stale-reader check is one interval from now (Open has just run one).
  void ScheduleReaderCheck() { next_reader_check_.store(SteadySeconds() + kReaderCheckIntervalSeconds); }

  Status Read(const std::function<Status(Txn&)>& fn) override {
    TxnGuard txn(this);
    TF_RETURN_IF_ERROR(txn.Begin(false));
    LmdbTxn t(txn.get(), dbis_, false);
    return fn(t);
  }

  // Group commit (see the top of this file): the caller queues its request; one that finds no leader at work leads
  // the next batch at once, any other waits to be woken. A leader runs the oldest queued requests (its own first,
  // and up to kMaxBatch in all), hands the lead to the oldest request still queued, if any, and wakes the requests
  // of its batch, each once. So at every moment at most one thread of the process runs a batch, and a thread that
  // waits is woken only when there is something for it: its answer, or the next batch to lead.
  Status Update(const std::function<Status(Txn&)>& fn) override {
    if (options_.read_only) return ReadOnly("Update");
    PendingUpdate me(&fn);
    bool lead = false;
    {
      std::lock_guard<std::mutex> lock(batch_mu_);
      queue_.push_back(&me);
      lead = !leading_;  // no leader at work: the queue held nothing but this request
      leading_ = true;
    }
    if (!lead && me.WaitForWake() == PendingUpdate::Turn::kLead) lead = true;
    if (lead) LeadBatch(&me);  // the batch holds this request: it is the oldest queued
    if (me.exception) std::rethrow_exception(me.exception);
    return me.result;
  }

  // Queues the request and returns; with no leader at work, the committer thread is woken to lead.
  void UpdateAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done) override {
    if (options_.read_only) {
      CallDone(done, ReadOnly("Update"));
      return;
    }
    auto p = std::make_unique<PendingUpdate>(std::move(fn), std::move(done));
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(batch_mu_);
      // First, so that a thread that cannot be started (it throws) leaves nothing queued.
      if (!committer_.joinable()) committer_ = std::thread(&LmdbStore::CommitterMain, this);
      queue_.push_back(p.release());  // deleted by the leader of its batch
      if (!leading_) {
        leading_ = true;
        committer_turn_ = true;
        wake = true;
      }
    }
    if (wake) committer_cv_.notify_one();
  }

  // The committer thread: leads whenever it is handed the lead, and keeps it while the queue starts with
  // UpdateAsync requests; returns once the store is being destroyed and it has nothing to lead.
  void CommitterMain() {
    std::unique_lock<std::mutex> lock(batch_mu_);
    for (;;) {
      committer_cv_.wait(lock, [&] { return committer_turn_ || stopping_; });
      if (!committer_turn_) return;
      committer_turn_ = false;
      lock.unlock();
      while (LeadBatch(nullptr)) {
      }
      lock.lock();
    }
  }

  // Runs the next batch from the front of the queue (`self`, the calling thread's own request, first; none for the
  // committer thread), then passes the lead on: to the Update caller at the front of the queue, or to the committer
  // thread if an UpdateAsync request is there. Returns true when the caller is the committer and keeps the lead.
  bool LeadBatch(PendingUpdate* self) {
    std::vector<PendingUpdate*> batch;
    {
      std::lock_guard<std::mutex> lock(batch_mu_);
      const size_t n = std::min(queue_.size(), kMaxBatch);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    try {
      RunBatch(&batch);
    } catch (...) {  // not a callback's (RunBatch keeps those), e.g. std::bad_alloc: every request gets it
      for (PendingUpdate* p : batch) p->exception = std::current_exception();
    }
    PendingUpdate* next = nullptr;
    bool to_committer = false;
    bool keep = false;
    {
      std::lock_guard<std::mutex> lock(batch_mu_);
      if (queue_.empty()) {
        leading_ = false;
      } else if (!queue_.front()->async()) {
        next = queue_.front();
      } else if (self == nullptr) {
        keep = true;
      } else {
        committer_turn_ = true;
        to_committer = true;
      }
    }
    // The next batch first, so the writer lock is taken again while this batch's requests are being answered.
    if (next != nullptr) next->Wake(PendingUpdate::Turn::kLead);
    if (to_committer) committer_cv_.notify_one();
    for (PendingUpdate* p : batch) {
      if (p == self) continue;
      if (!p->async()) {
        p->Wake(PendingUpdate::Turn::kDone);
        continue;
      }
      CallDone(p->done, p->exception ? ExceptionStatus(p->exception) : p->result);
      delete p;
    }
    return keep;
  }

  // One request alone: its own write transaction, as LMDB runs any other. A full map may have been grown by another
  // process (tokenctl map grow) without our transactions noticing: LMDB reports MDB_MAP_RESIZED only once the data
  // outgrows our map. Adopt the recorded size and try once more.
  Status UpdateAlone(const std::function<Status(Txn&)>& fn) {
    Status s = UpdateOnce(fn);
    if (s.code() == Status::Code::kResourceExhausted && AdoptGrownMap()) s = UpdateOnce(fn);
    return s;
  }

  // Runs a batch: one request as UpdateAlone; several in one parent transaction, each in a nested one, committed
  // once (UpdateBatch may add requests that queued meanwhile to `batch`). A request that ran out of map (in its
  // nested transaction or at the shared commit) is retried alone after adopting a map another process grew, as
  // UpdateAlone does.
  void RunBatch(std::vector<PendingUpdate*>* batch_in) {
    std::vector<PendingUpdate*>& batch = *batch_in;
    if (batch.size() == 1) {
      PendingUpdate* p = batch.front();
      try {
        p->result = UpdateAlone(*p->fn);
      } catch (...) {
        p->exception = std::current_exception();
      }
      return;
    }
    UpdateBatch(batch_in);
    bool full = false;
    for (const PendingUpdate* p : batch) full = full || p->result.code() == Status::Code::kResourceExhausted;
    if (!full || !AdoptGrownMap()) return;
    for (PendingUpdate* p : batch) {
      if (p->exception || p->result.code() != Status::Code::kResourceExhausted) continue;
      try {
        p->result = UpdateOnce(*p->fn);
      } catch (...) {
        p->exception = std::current_exception();
      }
    }
  }

  // The batch in one write transaction: each callback in a nested transaction that commits into the parent if the
  // callback succeeds and is aborted otherwise (or when it throws), then one commit of the parent. Requests that
  // queued while the callbacks ran join the batch before the commit (up to kMaxBatch in all): under load the answers
  // of the previous batch come back as new requests within about the time a batch's callbacks take, and would
  // otherwise wait for the whole of this batch and then pay for a commit of their own. Sets each request's result
  // or exception.
  void UpdateBatch(std::vector<PendingUpdate*>* batch_in) {
    std::vector<PendingUpdate*>& batch = *batch_in;
    TxnGuard parent(this);
    const Status begun = parent.Begin(true);
    if (!begun.ok()) {
      for (PendingUpdate* p : batch) p->result = begun;
      return;
    }
    bool any = false;
    for (size_t i = 0; i < batch.size() || TakeLateJoiners(&batch); ++i) {
      PendingUpdate* p = batch[i];
      MDB_txn* child = nullptr;
      const int rc = mdb_txn_begin(env_, parent.get(), 0, &child);
      if (rc != 0) {
        p->result = MdbStatus("mdb_txn_begin", rc);
        continue;
      }
      Status s;
      try {
        LmdbTxn t(child, dbis_, true);
        s = (*p->fn)(t);
        if (s.ok()) s = t.failure();
        if (s.ok() && t.touched_config()) s = t.IncrementConfigGeneration();
      } catch (...) {
        mdb_txn_abort(child);
        p->exception = std::current_exception();
        continue;
      }
      if (s.ok()) {
        const int crc = mdb_txn_commit(child);  // into the parent; the child is gone whatever it returns
        if (crc != 0) s = MdbStatus("mdb_txn_commit", crc);
      } else {
        mdb_txn_abort(child);
      }
      p->result = s;
      any = any || s.ok();
    }
    if (!any) return;  // nothing to write: the guard aborts the parent
    const Status committed = parent.Commit();
    if (committed.ok()) return;
    for (PendingUpdate* p : batch) {
      if (!p->exception && p->result.ok()) p->result = committed;
    }
  }

  // Moves requests queued since the batch was taken into it, up to kMaxBatch in all; whether it moved any.
  bool TakeLateJoiners(std::vector<PendingUpdate*>* batch) {
    std::lock_guard<std::mutex> lock(batch_mu_);
    const size_t n = std::min(queue_.size(), kMaxBatch - std::min(kMaxBatch, batch->size()));
    batch->insert(batch->end(), queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    return n > 0;
  }

  Status UpdateOnce(const std::function<Status(Txn&)>& fn) {
    TxnGuard txn(this);
    TF_RETURN_IF_ERROR(txn.Begin(true));
    LmdbTxn t(txn.get(), dbis_, true);
    Status s = fn(t);
    if (s.ok()) s = t.failure();
    if (s.ok() && t.touched_config()) s = t.IncrementConfigGeneration();
    if (!s.ok()) return s;  // the guard aborts
    return txn.Commit();
  }

  Result<uint64_t> ConfigGeneration() override {
    TxnGuard txn(this);
    TF_RETURN_IF_ERROR(txn.Begin(false));
    LmdbTxn t(txn.get(), dbis_, false);
    return t.ConfigGeneration();
  }

  Result<StoreStats> Stats() override {
    StoreStats stats;
    MDB_stat st;
    int rc = mdb_env_stat(env_, &st);
    if (rc != 0) return MdbStatus("mdb_env_stat", rc);
    {
      TxnGuard txn(this);
      TF_RETURN_IF_ERROR(txn.Begin(false));
      TF_RETURN_IF_ERROR(CountRecords(txn.get(), &stats));
      Result<uint64_t> free_pages = FreeListPages(txn.get());
      if (!free_pages.ok()) return free_pages.status();
      stats.free_bytes = *free_pages * st.ms_psize;
    }
    MDB_envinfo info;
    rc = mdb_env_info(env_, &info);
    if (rc != 0) return MdbStatus("mdb_env_info", rc);
    stats.map_size = info.me_mapsize;
    stats.used_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    stats.max_readers = info.me_maxreaders;
    stats.readers_in_use = info.me_numreaders;
    return stats;
  }

  // Two transactions instead of Update(Txn::CollectExpired): the scan runs in a read transaction, which never holds
  // the writer lock, and the one write transaction only re-checks and deletes the (at most `batch`) candidates, so a
  // token request waits for a few deletions, not for a scan of every grant. The scan resumes after the last
  // candidate of the previous call (resume_key_), walking the grants once per round however many calls it takes.
  Result<CollectResult> CollectExpired(int64_t now, size_t batch) override {
    if (batch == 0) return Status::InvalidArgument("CollectExpired: batch must be at least 1");
    if (options_.read_only) return ReadOnly("CollectExpired");
    LmdbTxn::Expired found;
    std::string resume;
    {
      std::lock_guard<std::mutex> guard(resume_mu_);
      resume = resume_key_;
    }
    {
      TxnGuard txn(this);
      TF_RETURN_IF_ERROR(txn.Begin(false));
      LmdbTxn t(txn.get(), dbis_, false);
      TF_RETURN_IF_ERROR(t.FindExpired(now, batch, resume, &found));
    }
    CollectResult result;
    if (found.size() > 0) {
      TF_RETURN_IF_ERROR(Update([&](Txn& txn) -> Status {
        Result<CollectResult> r = static_cast<LmdbTxn&>(txn).DeleteExpired(found, now);  // Update makes an LmdbTxn
        if (!r.ok()) return r.status();
        result = *r;
        return Status::OK();
      }));
    }
    result.more = found.size() >= batch;
    std::lock_guard<std::mutex> guard(resume_mu_);
    resume_key_ = result.more && !found.grants.empty() ? found.grants.back() : std::string();
    return result;
  }

  Status GrowMap(uint64_t bytes) override {
    if (options_.read_only) return ReadOnly("GrowMap");
    {
      // Adopt a size another process may have set, so "smaller than the current size" compares with the newest.
      TxnGuard txn(this);
      TF_RETURN_IF_ERROR(txn.Begin(false));
    }
    {
      std::unique_lock<std::shared_mutex> exclusive(resize_mu_);  // no transaction of this process is active
      MDB_envinfo info;
      int rc = mdb_env_info(env_, &info);
      if (rc != 0) return MdbStatus("mdb_env_info", rc);
      if (bytes < info.me_mapsize) {
        return Status::InvalidArgument("map_size " + std::to_string(bytes) + " is smaller than the current map (" +
                                       std::to_string(info.me_mapsize) + " bytes): a map can only grow");
      }
      rc = mdb_env_set_mapsize(env_, bytes);
      if (rc != 0) return MdbStatus("mdb_env_set_mapsize", rc);
    }
    // The commit writes the new size into LMDB's meta page (other processes meet MDB_MAP_RESIZED) and into meta
    // "map_size" (later opens start from it).
    return Update([&](Txn& txn) { return static_cast<LmdbTxn&>(txn).PutRecordedMapSize(bytes); });
  }

  // Adopts the map size recorded in the environment (mdb_env_set_mapsize(env, 0)) when it is larger than ours; true if
  // the map grew. No transaction of this process may be active: takes resize_mu_ exclusively.
  bool AdoptGrownMap() {
    std::unique_lock<std::shared_mutex> exclusive(resize_mu_);
    MDB_envinfo before, after;
    if (mdb_env_info(env_, &before) != 0) return false;
    if (mdb_env_set_mapsize(env_, 0) != 0 || mdb_env_info(env_, &after) != 0) return false;
    if (after.me_mapsize > before.me_mapsize) {
      Logf(LogLevel::kInfo, "store: another process grew the map; adopted the new map size");
      return true;
    }
    if (after.me_mapsize < before.me_mapsize) (void)mdb_env_set_mapsize(env_, before.me_mapsize);
    return false;
  }

  // The map size a previous GrowMap recorded (meta "map_size"), or 0. Runs once in Open, before any transaction of
  // another thread exists.
  Result<uint64_t> RecordedMapSize() {
    TxnGuard txn(this);
    TF_RETURN_IF_ERROR(txn.Begin(false));
    LmdbTxn t(txn.get(), dbis_, false);
    return t.RecordedMapSize();
  }

  // Raises this process's map to `bytes` (Open: no transaction is active).
  Status SetMapSize(uint64_t bytes) {
    std::unique_lock<std::shared_mutex> exclusive(resize_mu_);
    const int rc = mdb_env_set_mapsize(env_, bytes);
    if (rc != 0) return MdbStatus("mdb_env_set_mapsize", rc);
    return Status::OK();
  }

  Status Backup(const std::string& directory) override {
    TF_RETURN_IF_ERROR(MakeDirectory(directory));
    DIR* dir = opendir(directory.c_str());
    if (dir == nullptr) return Status::IOError("opendir " + directory + ": " + std::strerror(errno));
    bool empty = true;
    while (const dirent* e = readdir(dir)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
    }
    closedir(dir);
    if (!empty) return Status::AlreadyExists("backup directory " + directory + " is not empty");
    // A short read transaction first adopts a map grown by another process, so the copy's own one does not fail.
    {
      TxnGuard txn(this);
      TF_RETURN_IF_ERROR(txn.Begin(false));
    }
    std::shared_lock<std::shared_mutex> lock(resize_mu_);
    const int rc = mdb_env_copy2(env_, directory.c_str(), MDB_CP_COMPACT);
    if (rc != 0) {
      unlink((directory + "/data.mdb").c_str());  // leave the directory empty for a retry
      return MdbStatus("mdb_env_copy2", rc);
    }
    return Status::OK();
  }

 private:
  // One transaction of this Store, ended on every path out of the scope that began it (an early return, an exception
  // thrown by a callback): a write transaction is aborted unless Commit() ran (so the writer lock that every process
  // shares is never kept), a read transaction is reset and returned to the pool (so its reader slot and snapshot are
  // not leaked). It holds resize_mu_ shared from Begin until it ends, so a map resize never sees it active.
  class TxnGuard {
   public:
    explicit TxnGuard(LmdbStore* store) : store_(store) {}
    TxnGuard(const TxnGuard&) = delete;
    TxnGuard& operator=(const TxnGuard&) = delete;
    ~TxnGuard() { End(); }

    Status Begin(bool write) {
      write_ = write;
      return store_->Begin(write, &lock_, &txn_);
    }
    MDB_txn* get() const { return txn_; }
    // Commits (a read-only transaction too: Init needs that for its DBI handles). The transaction is gone afterwards
    // whatever mdb_txn_commit returns.
    Status Commit() {
      const int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
      if (rc != 0) return MdbStatus("mdb_txn_commit", rc);
      return Status::OK();
    }

   private:
    void End() {
      if (txn_ == nullptr) return;
      if (write_) {
        mdb_txn_abort(txn_);
      } else {
        store_->Release(txn_);
      }
      txn_ = nullptr;
    }

    LmdbStore* store_;
    std::shared_lock<std::shared_mutex> lock_;  // released after End() (members outlive the destructor's body)
    MDB_txn* txn_ = nullptr;
    bool write_ = false;
  };

  Status InitIn(MDB_txn* txn) {
    const unsigned flags = options_.read_only ? 0 : MDB_CREATE;
    const std::pair<const char*, MDB_dbi*> dbs[] = {
        {"meta", &dbis_.meta}, {"clients", &dbis_.clients}, {"resources", &dbis_.resources}, {"keys", &dbis_.keys}};
    for (const auto& [name, dbi] : dbs) {
      const int rc = mdb_dbi_open(txn, name, flags, dbi);
      if (rc == MDB_NOTFOUND) return NotInitialised();
      if (rc != 0) return MdbStatus("mdb_dbi_open", rc);
    }
    // Added after the first release: an older database gets them at its next writable open; read-only, it has none.
    dbis_.has_users = true;
    for (const auto& [name, dbi] : {std::pair{"users", &dbis_.users}, std::pair{"usernames", &dbis_.usernames}}) {
      const int rc = mdb_dbi_open(txn, name, flags, dbi);
      if (rc == MDB_NOTFOUND && options_.read_only) {
        dbis_.has_users = false;
        continue;
      }
      if (rc != 0) return MdbStatus("mdb_dbi_open", rc);
    }
    dbis_.has_grants = true;
    for (const auto& [name, dbi, extra] : {std::tuple{"grants", &dbis_.grants, 0u},
                                          std::tuple{"families", &dbis_.families, unsigned{MDB_DUPSORT}},
                                          std::tuple{"revocations", &dbis_.revocations, 0u}}) {
      const int rc = mdb_dbi_open(txn, name, flags | extra, dbi);
      if (rc == MDB_NOTFOUND && options_.read_only) {
        dbis_.has_grants = false;
        continue;
      }
      if (rc != 0) return MdbStatus("mdb_dbi_open", rc);
    }
    // Added after `families`: an older database gets it at its next writable open; read-only, it has none (its
    // families are all in `families`).
    dbis_.has_family_index = true;
    {
      const int rc = mdb_dbi_open(txn, "family_index", flags | MDB_DUPSORT | MDB_DUPFIXED, &dbis_.family_index);
      if (rc == MDB_NOTFOUND && options_.read_only) {
        dbis_.has_family_index = false;
      } else if (rc != 0) {
        return MdbStatus("mdb_dbi_open", rc);
      }
    }
    MDB_val k = Val(kSchemaVersionKey), v;
    int rc = mdb_get(txn, dbis_.meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
      if (options_.read_only) return NotInitialised();
      v = Val(kSchemaVersion);
      rc = mdb_put(txn, dbis_.meta, &k, &v, 0);
      if (rc != 0) return MdbStatus("mdb_put", rc);
    } else if (rc != 0) {
      return MdbStatus("mdb_get", rc);
    } else if (View(v) != kSchemaVersion) {
      return Status::Conflict("database " + options_.path + " has schema_version " + Printable(View(v)) +
                              " but this build supports schema_version " + kSchemaVersion);
    }
    k = Val(kGenerationKey);
    rc = mdb_get(txn, dbis_.meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
      if (options_.read_only) return NotInitialised();
      v = Val("0");
      rc = mdb_put(txn, dbis_.meta, &k, &v, 0);
      if (rc != 0) return MdbStatus("mdb_put", rc);
    } else if (rc != 0) {
      return MdbStatus("mdb_get", rc);
    } else {
      TF_RETURN_IF_ERROR(ParseGeneration(View(v)).status());
    }
    // Added after the first release: a writable open creates the session key of a new or older database, in this
    // same transaction; read-only, an older database has none (Txn::GetSessionKey answers NotFound).
    k = Val(kSessionKeyKey);
    rc = mdb_get(txn, dbis_.meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
      if (options_.read_only) return Status::OK();
      const std::string key = RandomBytes(kSessionKeySize);
      v = Val(key);
      rc = mdb_put(txn, dbis_.meta, &k, &v, 0);
      if (rc != 0) return MdbStatus("mdb_put", rc);
      return Status::OK();
    }
    if (rc != 0) return MdbStatus("mdb_get", rc);
    return Status::OK();
  }

  Status ReadOnly(std::string_view what) const {
    return Status::IOError(std::string(what) + ": the store at " + options_.path + " is open read-only");
  }

  Status NotInitialised() const { return Status::NotFound(std::string(kNotInitialised) + " (" + options_.path + ")"); }

  // The pages on LMDB's free list as `txn` sees it: database 0 holds, per transaction that freed pages, a list whose
  // first word is its length (an MDB_IDL). Those pages are reused before the file grows; after a transaction that
  // rewrote much of the tree they are spread over the whole file (write-path-benchmarks.md §11).
  static Result<uint64_t> FreeListPages(MDB_txn* txn) {
    CursorGuard cursor;
    TF_RETURN_IF_ERROR(cursor.Open(txn, 0));
    uint64_t pages = 0;
    MDB_val k, v;
    int rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT)) {
      size_t n = 0;  // MDB_ID
      if (v.mv_size < sizeof n) {
        return Status::Corruption("a free-list record of " + std::to_string(v.mv_size) + " bytes");
      }
      std::memcpy(&n, v.mv_data, sizeof n);
      pages += n;
    }
    if (rc != MDB_NOTFOUND) return MdbStatus("mdb_cursor_get(free list)", rc);
    return pages;
  }

  Status CountRecords(MDB_txn* txn, StoreStats* stats) {
    LmdbTxn t(txn, dbis_, false);
    Result<uint64_t> g = t.ConfigGeneration();
    if (!g.ok()) return g.status();
    stats->config_generation = *g;
    MDB_stat st;
    int rc = mdb_stat(txn, dbis_.clients, &st);
    if (rc != 0) return MdbStatus("mdb_stat", rc);
    stats->clients = st.ms_entries;
    rc = mdb_stat(txn, dbis_.keys, &st);
    if (rc != 0) return MdbStatus("mdb_stat", rc);
    stats->keys = st.ms_entries;
    if (dbis_.has_users) {
      rc = mdb_stat(txn, dbis_.users, &st);
      if (rc != 0) return MdbStatus("mdb_stat", rc);
      stats->users = st.ms_entries;
    }
    if (dbis_.has_grants) {
      rc = mdb_stat(txn, dbis_.grants, &st);
      if (rc != 0) return MdbStatus("mdb_stat", rc);
      stats->grants = st.ms_entries;
      rc = mdb_stat(txn, dbis_.revocations, &st);
      if (rc != 0) return MdbStatus("mdb_stat", rc);
      stats->revoked_families = st.ms_entries;
    }
    const std::pair<std::string_view, uint64_t*> kinds[] = {{kScopePrefix, &stats->api_scopes},
                                                            {kApiPrefix, &stats->api_resources},
                                                            {kIdentityPrefix, &stats->identity_resources}};
    for (const auto& [prefix, count] : kinds) {
      Result<uint64_t> n = CountPrefix(txn, dbis_.resources, prefix);
      if (!n.ok()) return n.status();
      *count = *n;
    }
    return Status::OK();
  }

  // Begins a transaction with `lock` held shared: for reads a pooled one renewed, or a new one. When another process
  // has grown the map beyond ours (MDB_MAP_RESIZED), waits until no transaction of this process is active, adopts the
  // size recorded in the file, and tries again.
  Status Begin(bool write, std::shared_lock<std::shared_mutex>* lock, MDB_txn** out) {
    if (!write) MaybeClearStaleReaders();
    bool readers_checked = false;
    for (int attempt = 0;; ++attempt) {
      *lock = std::shared_lock<std::shared_mutex>(resize_mu_);
      MDB_txn* txn = nullptr;
      int rc = 0;
      const char* call = "mdb_txn_begin";
      if (!write) {
        std::lock_guard<std::mutex> guard(pool_mu_);
        if (!pool_.empty()) {
          txn = pool_.back();
          pool_.pop_back();
        }
      }
      if (txn != nullptr) {
        rc = mdb_txn_renew(txn);
        if (rc != 0) {
          mdb_txn_abort(txn);  // frees the handle and its reader slot; a fresh transaction reports the error
          txn = nullptr;
        }
      }
      if (txn == nullptr) rc = mdb_txn_begin(env_, nullptr, write ? 0 : MDB_RDONLY, &txn);
      // A full reader table may be full of slots of dead processes: clear them and try once more.
      if (rc == MDB_READERS_FULL && !readers_checked) {
        readers_checked = true;
        if (ClearStaleReaders() > 0) rc = mdb_txn_begin(env_, nullptr, write ? 0 : MDB_RDONLY, &txn);
      }
      if (rc == 0) {
        *out = txn;
        return Status::OK();
      }
      if (rc != MDB_MAP_RESIZED || attempt >= kMaxResizeRetries) return MdbStatus(call, rc);
      lock->unlock();
      std::unique_lock<std::shared_mutex> exclusive(resize_mu_);
      rc = mdb_env_set_mapsize(env_, 0);
      if (rc != 0) return MdbStatus("mdb_env_set_mapsize", rc);
      Logf(LogLevel::kInfo, "store: another process grew the map; adopted the new map size");
    }
  }

  // Clears the reader slots of processes that died inside a read transaction (mdb_reader_check: a slot whose pid no
  // longer exists). Returns how many; a failure is logged and counts as none.
  int ClearStaleReaders() {
    next_reader_check_.store(SteadySeconds() + kReaderCheckIntervalSeconds, std::memory_order_relaxed);
    int dead = 0;
    const int rc = mdb_reader_check(env_, &dead);
    if (rc != 0) {
      Logf(LogLevel::kWarn, "store: mdb_reader_check: %s", mdb_strerror(rc));
      return 0;
    }
    if (dead > 0) Logf(LogLevel::kWarn, "store: cleared %d stale reader slot(s) left by dead processes", dead);
    return dead;
  }

  // ClearStaleReaders at most once per kReaderCheckIntervalSeconds (one clock read per transaction otherwise), so the
  // slots of a worker killed inside a read transaction come back while the others keep running.
  void MaybeClearStaleReaders() {
    int64_t due = next_reader_check_.load(std::memory_order_relaxed);
    const int64_t now = SteadySeconds();
    if (now < due) return;
    if (!next_reader_check_.compare_exchange_strong(due, now + kReaderCheckIntervalSeconds)) return;  // another thread
    ClearStaleReaders();
  }

  static int64_t SteadySeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // Resets a read transaction (releasing its snapshot, keeping its reader slot) and returns it to the pool.
  void Release(MDB_txn* txn) {
    mdb_txn_reset(txn);
    std::lock_guard<std::mutex> guard(pool_mu_);
    pool_.push_back(txn);
  }

  MDB_env* env_;
  StoreOptions options_;
  Dbis dbis_;
  std::shared_mutex resize_mu_;  // shared: a transaction of this process is active; exclusive: map resize
  std::mutex pool_mu_;
  std::vector<MDB_txn*> pool_;   // reset read-only transactions, each owning a reader slot (MDB_NOTLS)
  std::mutex resume_mu_;
  std::string resume_key_;
  std::mutex batch_mu_;              // guards queue_ and leading_
  std::deque<PendingUpdate*> queue_;  // Update() calls not yet taken into a batch, oldest first
  bool leading_ = false;              // a thread runs a batch, or has been woken to run the next one
  bool committer_turn_ = false;       // the committer thread is to lead (guarded by batch_mu_)
  bool stopping_ = false;             // the destructor runs (guarded by batch_mu_)
  std::condition_variable committer_cv_;
  std::thread committer_;             // started by the first UpdateAsync
  std::atomic<int64_t> next_reader_check_{0};  // SteadySeconds() from which the periodic reader check runs       // CollectExpired: the grant key after which the next scan starts ("" = the first)
};

}  // namespace

void Store::UpdateAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done) {
  Status s;
  try {
    s = Update(fn);
  } catch (...) {
    s = ExceptionStatus(std::current_exception());
  }
  CallDone(done, s);
}

Result<CollectResult> Store::CollectExpired(int64_t now, size_t batch) {
  CollectResult result;
  TF_RETURN_IF_ERROR(Update([&](Txn& txn) -> Status {
    Result<CollectResult> r = txn.CollectExpired(now, batch);
    if (!r.ok()) return r.status();
    result = *r;
    return Status::OK();
  }));
  return result;
}

Result<size_t> Store::RevokeFamilyInBatches(std::string_view family, int64_t now, int64_t keep_until, size_t batch) {
  if (batch == 0) return Status::InvalidArgument("RevokeFamilyInBatches: batch must be at least 1");
  size_t deleted = 0;
  // The record alone first: the family is dead for every reader once this short transaction commits.
  for (size_t limit = 0;; limit = batch) {
    RevokeProgress part;
    TF_RETURN_IF_ERROR(Update([&](Txn& txn) -> Status {
      Result<RevokeProgress> r = txn.RevokeFamilyPart(family, now, keep_until, limit);
      if (!r.ok()) return r.status();
      part = *r;
      return Status::OK();
    }));
    deleted += part.grants;
    if (!part.more) return deleted;
  }
}

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("store path is empty");
  if (options.create) TF_RETURN_IF_ERROR(MakeDirectory(options.path));
  if (!IsDirectory(options.path)) {
    return Status::NotFound("database directory " + options.path + " does not exist: run tokenctl init");
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return MdbStatus("mdb_env_create", rc);
  auto store = std::make_unique<LmdbStore>(env, options);  // closes the env on every early return below
  rc = mdb_env_set_maxdbs(env, kMaxDbs);
  if (rc != 0) return MdbStatus("mdb_env_set_maxdbs", rc);
  rc = mdb_env_set_mapsize(env, options.map_size);
  if (rc != 0) return MdbStatus("mdb_env_set_mapsize", rc);
  rc = mdb_env_set_maxreaders(env, options.max_readers);
  if (rc != 0) return MdbStatus("mdb_env_set_maxreaders", rc);
  // 0660: every member of the group that runs the workers and tokenctl may share the files (the umask applies).
  const unsigned flags =
      MDB_NOTLS | (options.read_only ? MDB_RDONLY : 0) | (options.meta_async ? unsigned{MDB_NOMETASYNC} : 0);
  rc = mdb_env_open(env, options.path.c_str(), flags, 0660);
  if (rc == ENOENT && options.read_only) {
    return Status::NotFound(std::string(kNotInitialised) + " (" + options.path + ")");
  }
  if (rc != 0) return MdbStatus(("mdb_env_open " + options.path).c_str(), rc);
  int dead = 0;
  rc = mdb_reader_check(env, &dead);
  if (rc != 0) return MdbStatus("mdb_reader_check", rc);
  if (dead > 0) Logf(LogLevel::kWarn, "store: cleared %d stale reader slot(s) left by dead processes", dead);
  store->ScheduleReaderCheck();
  TF_RETURN_IF_ERROR(store->Init());
  // A map grown by tokenctl map grow stays grown for processes whose configuration still names the smaller size.
  Result<uint64_t> recorded = store->RecordedMapSize();
  if (!recorded.ok()) return recorded.status();
  if (*recorded > options.map_size) TF_RETURN_IF_ERROR(store->SetMapSize(*recorded));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace tf::store
