// The store: the only code that includes lmdb.h. One LMDB environment (a directory holding data.mdb and lock.mdb)
// is shared by every worker process and by tokenctl; each process opens it once (after any fork) and keeps it.
//
// Named databases (all keys are bytes; all values are versioned JSON records, see records.h):
//   meta        "schema_version" -> "1";  "config_generation" -> decimal counter (see below)
//   clients     ClientId                      -> Client
//   resources   "scope:" Name                 -> ApiScope
//               "api:" Name                   -> ApiResource
//               "identity:" Name              -> IdentityResource
//   keys        Kid                           -> KeyRecord
//   users       SubjectId                     -> User
//   usernames   Tenant "\0" NormalizeUsername(Username) -> SubjectId (raw bytes, not JSON)
// Planned by the grant issues, in the same environment (documented here so the layout is designed once):
//   grants      SHA-256(handle) (32 raw bytes) -> Grant {kind, client, subject, scopes, created, expires, family,
//               consumed_at, ...}: codes, refresh tokens, device codes, reference tokens
//   families    FamilyId -> revocation record (kept until the longest access-token lifetime has passed)
//
// The configuration generation is incremented in the same write transaction as any change to clients, resources or
// keys. Workers cache the parsed configuration and reload it only when the generation moves, so the token path parses
// no JSON; one mdb_get per request tells them whether to reload. Users are not configuration: workers read them per
// request (the password grant) and never cache them, so user changes (including every lockout update) leave the
// generation alone.
//
// Users: `usernames` is the index behind FindUserByName; PutUser and RemoveUser keep it in step with `users` in the
// same transaction. Its key is the tenant ("" for none), a NUL byte, and the username with ASCII letters lower-cased
// (NormalizeUsername in records.h), so user names are unique per tenant ignoring ASCII case, lookups ignore ASCII
// case, and the record keeps the original spelling. Tenants compare exactly (case-sensitive).
//
// Transactions: Read() and Update() run a callback with a Txn that is valid only inside the callback. Update() runs
// in one LMDB write transaction (LMDB allows one writer at a time across all processes, which is what makes
// single-use redemption race-free); it commits if the callback returns OK and aborts otherwise. Never do I/O or wait
// for a request inside a callback. Values are copied out of the map before a callback returns.
//
// LMDB rules followed: the environment is opened with MDB_NOTLS (file mode 0660, so one group can share it; the umask
// applies) and mdb_reader_check runs at open; MDB_MAP_RESIZED is handled by adopting the new size and retrying;
// MDB_MAP_FULL and MDB_READERS_FULL become ResourceExhausted with a message naming the config key to raise; sync
// stays on; read transactions are reused from a per-Store pool with reset/renew (each pooled transaction keeps one
// reader slot, so max_readers must cover every process's peak number of concurrent readers, plus tokenctl).
// Every other LMDB failure becomes a Status whose message names the mdb_* call. A stored record that does not parse,
// or that has a property this build does not know, is a Corruption error naming the database and key.
//
// Opening: with `create`, the directory (and missing parents) are made with mode 0750. A writable open creates the
// named databases and the meta entries when they are missing; a read-only open of a directory without them fails
// with NotFound "database not initialised: run tokenctl init". A schema_version other than 1 is refused. The `users`
// and `usernames` databases came later: a writable open of an older database adds them (schema_version stays 1);
// a read-only open of an older database that lacks them succeeds and sees no users (GetUser and FindUserByName are
// NotFound, ListUsers is empty) until a writable open adds them and the store is opened again.
//
// Thread-safety: a Store may be used from many threads at once; each Txn belongs to one thread. Do not call the
// Store (Read, Update, ConfigGeneration, ...) from inside a callback: an Update inside an Update deadlocks on LMDB's
// writer lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "util/status.h"

namespace tf::store {

struct StoreOptions {
  std::string path;                 // the environment directory
  uint64_t map_size = 1ull << 30;   // bytes; must be the same in every process
  unsigned max_readers = 126;
  bool create = false;              // create the directory (mode 0750) and databases if missing (tokenctl init)
  bool read_only = false;
};

struct StoreStats {
  uint64_t config_generation = 0;
  uint64_t clients = 0, api_scopes = 0, api_resources = 0, identity_resources = 0, keys = 0;
  uint64_t users = 0;
  uint64_t map_size = 0;            // bytes configured
  uint64_t used_bytes = 0;          // pages in use x page size
  unsigned max_readers = 0, readers_in_use = 0;
};

class Txn {
 public:
  virtual ~Txn() = default;

  virtual Result<uint64_t> ConfigGeneration() = 0;

  virtual Result<Client> GetClient(std::string_view client_id) = 0;   // NotFound if absent
  virtual Result<std::vector<Client>> ListClients() = 0;              // ordered by id
  virtual Status PutClient(const Client& client) = 0;                 // insert or replace
  virtual Status RemoveClient(std::string_view client_id) = 0;        // NotFound if absent

  virtual Result<std::vector<ApiScope>> ListApiScopes() = 0;
  virtual Status PutApiScope(const ApiScope& scope) = 0;
  virtual Status RemoveApiScope(std::string_view name) = 0;
  virtual Result<std::vector<ApiResource>> ListApiResources() = 0;
  virtual Status PutApiResource(const ApiResource& resource) = 0;
  virtual Status RemoveApiResource(std::string_view name) = 0;
  virtual Result<std::vector<IdentityResource>> ListIdentityResources() = 0;
  virtual Status PutIdentityResource(const IdentityResource& resource) = 0;
  virtual Status RemoveIdentityResource(std::string_view name) = 0;

  virtual Result<std::vector<KeyRecord>> ListKeys() = 0;              // ordered by created, then kid
  virtual Status PutKey(const KeyRecord& key) = 0;
  virtual Status RemoveKey(std::string_view kid) = 0;

  // Users (see records.h). None of these changes the configuration generation.
  virtual Result<User> GetUser(std::string_view subject_id) = 0;      // NotFound if absent
  // Through the `usernames` index (no scan); `username` in any ASCII case, `tenant` exactly ("" = no tenant).
  // NotFound if absent; Corruption if the index points at a missing or different user.
  virtual Result<User> FindUserByName(std::string_view tenant, std::string_view username) = 0;
  virtual Result<std::vector<User>> ListUsers() = 0;                  // every tenant, ordered by subject id
  // Insert or replace by SubjectId, keeping the index in step: a changed username or tenant moves the index entry.
  // InvalidArgument if the record breaks an invariant of User; AlreadyExists (naming tenant and username) if another
  // subject already has the username in that tenant, in which case nothing is written.
  virtual Status PutUser(const User& user) = 0;
  virtual Status RemoveUser(std::string_view subject_id) = 0;         // and its index entry; NotFound if absent
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  virtual Status Read(const std::function<Status(Txn&)>& fn) = 0;
  virtual Status Update(const std::function<Status(Txn&)>& fn) = 0;

  // Cheap: one read of meta/config_generation in a pooled (reset/renewed) read transaction.
  virtual Result<uint64_t> ConfigGeneration() = 0;
  virtual Result<StoreStats> Stats() = 0;
  // `mdb_copy -c` equivalent: a compacted, consistent copy taken while workers serve. `directory` is created (0750)
  // if missing and must be empty (AlreadyExists otherwise); it receives data.mdb only (no lock file).
  virtual Status Backup(const std::string& directory) = 0;
};

}  // namespace tf::store
