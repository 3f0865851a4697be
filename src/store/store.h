// The store: the only code that includes lmdb.h. One LMDB environment (a directory holding data.mdb and lock.mdb)
// is shared by every worker process and by tokenctl; each process opens it once (after any fork) and keeps it.
//
// Named databases (all keys are bytes; all values are versioned JSON records, see records.h):
//   meta        "schema_version" -> "1";  "config_generation" -> decimal counter (see below);
//               "session_key" -> 32 random raw bytes (the HMAC key of session cookies, oauth/session.h); a writable
//               open creates it when missing; replacing it (PutSessionKey) moves the config generation; the layer
//               above may store them sealed with the key-encryption key instead (token/key_encryption.h), an opaque
//               value of up to kMaxSessionKeyValueSize bytes that the store keeps as it is;
//               "map_size" -> decimal bytes, written by GrowMap (absent until the map was first grown): the least map
//               size any process opens the environment with
//   clients     ClientId                      -> Client
//   resources   "scope:" Name                 -> ApiScope
//               "api:" Name                   -> ApiResource
//               "identity:" Name              -> IdentityResource
//   keys        Kid                           -> KeyRecord
//   users       SubjectId                     -> User
//   usernames   Tenant "\0" NormalizeUsername(Username) -> SubjectId (raw bytes, not JSON)
//   grants      SHA-256(handle) (32 raw bytes) -> Grant (records.h): codes, refresh tokens, device codes,
//               reference tokens, in the binary form of store/grant_encoding.h; the handle itself is never stored
//   family_index "f" -> SHA-256(FamilyId)[0..16) SHA-256(handle)[0..8), MDB_DUPSORT | MDB_DUPFIXED (one 24-byte
//               duplicate per grant, under one key, so the entries take about 35 bytes of the map each; a grant whose
//               family is "" or whose key is a chain key of its family (below) is not indexed): the family index
//               behind RevokeFamily, kept in step with `grants` by
//               PutGrant, RemoveGrant, RevokeFamily and CollectExpired in the same transaction. An entry stands for
//               the grants whose key starts with its 8 bytes; every reader checks the family their records name
//   families    FamilyId -> SHA-256(handle), MDB_DUPSORT: the family index as builds before `family_index` wrote it,
//               read beside it; an entry goes when its grant is rewritten (then indexed in `family_index`) or removed
//   revocations FamilyId -> FamilyRevocation (records.h): kept until keep_until (the longest access-token lifetime
//               after the revocation), so introspection can report JWTs of a revoked family inactive
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
// single-use redemption race-free); it commits if the callback returns OK and aborts otherwise. An exception thrown by a
// callback propagates to the caller of Read() or Update() after the transaction has ended (an Update is aborted and
// writes nothing), so no early return or exception keeps LMDB's writer lock or a reader slot. Update() may run its
// callback a second time after an aborted attempt (LMDB: a map another process grew, see GrowMap), so a callback's
// only effects are its Txn calls and what it assigns for its caller. Never do I/O or wait for a request inside a
// callback. Values are copied out of the map before a callback returns. Update() calls that overlap in one process may
// share one commit (group commit, lmdb_store.cc): each callback then runs in a nested transaction of a shared one,
// sees the writes of those before it, and its failure or exception undoes only its own writes; a caller is answered
// only after the shared commit, with that commit's error if it failed.
//
// LMDB rules followed: the environment is opened with MDB_NOTLS (file mode 0660, so one group can share it; the umask
// applies) with the larger of StoreOptions::map_size and meta "map_size"; mdb_reader_check (which frees the reader
// slots of processes that died inside a read transaction) runs at open, at most every 10 seconds while a Store reads,
// and whenever a read meets MDB_READERS_FULL, which is then retried once; MDB_MAP_RESIZED (another process grew the
// map, GrowMap) is handled by adopting the new size and retrying;
// MDB_MAP_FULL and MDB_READERS_FULL become ResourceExhausted with a message naming the config key to raise; sync
// stays on (StoreOptions::meta_async drops the meta page's own sync, docs/durability.md); read transactions are reused from a per-Store pool with reset/renew (each pooled transaction keeps one
// reader slot, so max_readers must cover every process's peak number of concurrent readers, plus tokenctl).
// Every other LMDB failure becomes a Status whose message names the mdb_* call. A stored record that does not parse,
// or that has a property this build does not know, is a Corruption error naming the database and key.
//
// Grants are not configuration either: no grant operation (including CollectExpired) changes the generation.
//
// Tombstones: a one-time grant that was redeemed (a rotated refresh token, a redeemed code: consumed_at set) is kept
// until its `expires` only for reuse detection and the refresh grace retry, so PutGrant stores it as a tombstone
// (records.h ConsumedGrantTombstone: identity, times, family and successor links; no scopes, claims or
// authentication data), written without its empty properties: a third or less of a live refresh token's record. The
// refresh grace retry restores what it needs from the successor (oauth/refresh_tokens.h ReadRefreshToken).
// A refresh token whose handle names its family and generation leaves no record at all when it is rotated (the
// successor keeps its hash as `predecessor`; oauth/refresh_tokens.h), so a family takes the same space however often
// it was rotated; tombstones of refresh tokens remain only for the 43-character handles of older builds.
//
// Chain keys: a key that starts with FamilyKeyPrefix(family) (records.h: the first 16 bytes of SHA-256(family)) is a
// chain key of that family. The refresh tokens of one chain of rotations live under one chain key for the chain's
// whole life (oauth/refresh_tokens.h), and a rotation replaces the record in place: one leaf page of `grants` per
// rotation, where a key per handle took three (the old record's, the new one's, the family index's). An
// authorization code is stored under a chain key of its family too (oauth/authorization_codes.h), so its redemption
// and the family's revocation write the leaf of its refresh token, and no index entry. Every family
// operation (RevokeFamily, RevokeFamilyPart, CountFamilyGrants, ListFamilyGrants, the gc's "has grants left") finds
// such grants by their key prefix in `grants` as well as through the index, which does not list them; a record
// under a chain key of a family belongs to that family (RevokeFamilyPart deletes it whatever it names). The
// PostgreSQL store finds a family's grants through its `family` column, chain key or not.
//
// Garbage collection: Store::CollectExpired deletes grants whose `expires` <= now or whose family has a revocation
// record (what an interrupted RevokeFamilyInBatches left), with their family index entries, and revocation records
// whose keep_until <= now and whose family has no grants left, at most `batch` deletions in one short write
// transaction per call.
// Expired records are found by scanning `grants` and `revocations` in a read transaction first (no expiry index: it
// would cost every token write), so the writer lock is held only to re-check and delete the candidates, and token
// requests interleave between batches; readers are never blocked (LMDB MVCC). Each call's scan resumes after the
// previous call's last candidate (per Store), so looping while `more` is true walks the grants about once.
//
// Opening: with `create`, the directory (and missing parents) are made with mode 0750. A writable open creates the
// named databases and the meta entries when they are missing; a read-only open of a directory without them fails
// with NotFound "database not initialised: run tokenctl init". A schema_version other than 1 is refused. A database
// made by a build without the `users`, `usernames`, `grants`, `families`, `family_index` and `revocations` databases:
// a writable open adds them (schema_version stays 1); a read-only open of an older database that lacks them succeeds and sees none of
// their records (GetUser, FindUserByName and GetGrant are NotFound, the lists are empty, GetFamilyRevocation is
// nullopt) until a writable open adds them and the store is opened again.
//
// Every implementation keeps this contract; the store conformance suite (tests/unit/store_contract.h: the TEST_P tests
// of store_test, grants_store_test and lockout_test) checks it on each one through the same tests.
//
// Thread-safety: a Store may be used from many threads at once; each Txn belongs to one thread. Do not call the
// Store (Read, Update, ConfigGeneration, ...) from inside a callback: an Update inside an Update deadlocks on LMDB's
// writer lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "store/records.h"
#include "util/status.h"

namespace tf::store {

// The longest meta "session_key" value a store accepts (Txn::PutSessionKey): room for the sealed form.
inline constexpr size_t kMaxSessionKeyValueSize = 128;

struct StoreOptions {
  std::string path;                 // the environment directory
  uint64_t map_size = 1ull << 30;   // bytes; must be the same in every process
  unsigned max_readers = 126;
  bool create = false;              // create the directory (mode 0750) and databases if missing (tokenctl init)
  bool read_only = false;
  // MDB_NOMETASYNC (Config lmdb_sync = meta-async): a commit syncs its data once and writes the meta page without
  // waiting for it; a system crash may undo the last commits, a process crash loses nothing. false: two syncs.
  bool meta_async = false;
  // PostgreSQL (pg_store.h): migrate an older schema (tokenctl migrate; create does too), and the statement_timeout
  // every session sets. LMDB ignores both.
  bool migrate = false;
  int64_t statement_timeout_ms = 5000;
  // PostgreSQL: a server that cannot be reached at open is not an error (the worker sets it): the Store opens
  // unconnected, its transactions are Unavailable until a connect succeeds (with the reconnect backoff), and that
  // first connection does the open's checks (schema version, session key). LMDB ignores it.
  bool connect_later = false;
};

// The options every process opens the configured database with (path = database, map_size, max_readers; create and
// read_only false): the worker and tokenctl build them here, because LMDB needs the same map size in every process.
StoreOptions StoreOptionsFromConfig(const Config& config);

class Store;

// Opens the store options.path names: a libpq connection URI (postgresql://... or postgres://...) opens the PostgreSQL
// store (pg_store.h), anything else the LMDB environment in that directory (Store::Open). The worker, tokenctl and
// --check-config all open their store here.
Result<std::unique_ptr<Store>> OpenStore(const StoreOptions& options);

struct StoreStats {
  uint64_t config_generation = 0;
  uint64_t clients = 0, api_scopes = 0, api_resources = 0, identity_resources = 0, keys = 0;
  uint64_t users = 0;
  uint64_t grants = 0;              // records in `grants`, expired or not
  uint64_t revoked_families = 0;    // records in `revocations`
  uint64_t map_size = 0;            // bytes configured
  uint64_t used_bytes = 0;          // pages in use x page size
  uint64_t free_bytes = 0;          // LMDB: of used_bytes, the pages on the free list (0 on PostgreSQL)
  unsigned max_readers = 0, readers_in_use = 0;
};

// What one Txn::RevokeFamilyPart call deleted, and whether the family has grants left.
struct RevokeProgress {
  size_t grants = 0;
  bool more = false;
};

// What one Store::CollectExpired call deleted. `more` is true when the call stopped because it reached `batch`.
struct CollectResult {
  size_t grants = 0;
  size_t revocations = 0;
  bool more = false;
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

  // The session-cookie key (meta "session_key", 32 raw bytes, or up to kMaxSessionKeyValueSize bytes of them sealed
  // above the store). NotFound if absent (only possible in a database opened read-only that no writable open has
  // upgraded yet); Corruption for a stored value shorter than 32 or longer than kMaxSessionKeyValueSize bytes.
  // PutSessionKey replaces it (InvalidArgument unless 32 to kMaxSessionKeyValueSize bytes) and increments the
  // configuration generation, so every worker reloads it and every session ends.
  virtual Result<std::string> GetSessionKey() = 0;
  virtual Status PutSessionKey(std::string_view key) = 0;

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

  // Grants (see records.h), keyed by handle_hash = SHA-256(handle), 32 raw bytes (InvalidArgument otherwise); never
  // the handle itself. None of these changes the configuration generation. Expiry is not checked here: GetGrant
  // returns an expired grant until it is collected, and callers compare `expires` with their clock. A consumed grant
  // (consumed_at set) is stored and returned as its tombstone (see "Tombstones" above).
  // NotFound if absent, or if its family has a revocation record: a revoked family is dead for every reader from the
  // commit of its revocation on, even while Store::RevokeFamilyInBatches is still deleting its grants.
  virtual Result<Grant> GetGrant(std::string_view handle_hash) = 0;
  // Insert or replace; maintains the family index (a replaced grant whose family changed moves its index entry).
  // A grant with consumed_at set is stored as ConsumedGrantTombstone(grant) (records.h).
  // InvalidArgument if the grant breaks an invariant of Grant.
  virtual Status PutGrant(std::string_view handle_hash, const Grant& grant) = 0;
  virtual Status RemoveGrant(std::string_view handle_hash) = 0;               // NotFound if absent; and its index entry
  // Deletes every grant of the family and records the revocation (kept until keep_until, for JWT introspection).
  // Returns how many grants were deleted. Idempotent: revoking again deletes nothing more and returns 0; an existing
  // revocation record keeps its revoked_at and keeps the later of the two keep_until values.
  virtual Result<size_t> RevokeFamily(std::string_view family, int64_t now, int64_t keep_until) = 0;
  // RevokeFamily's work in bounded parts: records the revocation exactly as RevokeFamily does (same merge with an
  // existing record), then deletes at most `limit` grants of the family (0: only the record), looking at no more than
  // `limit` entries of the family index. `more` is true while the family still has index entries. Store::
  // RevokeFamilyInBatches calls it once per write transaction.
  virtual Result<RevokeProgress> RevokeFamilyPart(std::string_view family, int64_t now, int64_t keep_until,
                                                  size_t limit) = 0;
  // How many grants the family index holds under `family` (one lookup and a count, nothing parsed); 0 for a family
  // that cannot be one.
  virtual Result<size_t> CountFamilyGrants(std::string_view family) = 0;
  // The grants of `family` as (handle_hash, grant) pairs, through the family index (no scan of `grants`): what a
  // refresh handle of an older generation is checked against (oauth/refresh_tokens.h). Empty for a family that cannot
  // be one or that was revoked. The default implementation filters ListGrants, a scan: a store overrides it with an
  // index lookup.
  virtual Result<std::vector<std::pair<std::string, Grant>>> ListFamilyGrants(std::string_view family) {
    std::vector<std::pair<std::string, Grant>> out;
    if (family.empty()) return out;
    Result<std::vector<std::pair<std::string, Grant>>> all = ListGrants("", "");
    if (!all.ok()) return all.status();
    for (auto& [hash, grant] : *all) {
      if (grant.family == family) out.emplace_back(std::move(hash), std::move(grant));
    }
    return out;
  }
  // The revocation record of the family, or nullopt if it was never revoked (or its record was collected).
  virtual Result<std::optional<FamilyRevocation>> GetFamilyRevocation(std::string_view family) = 0;
  // Every revocation record as (family, record) pairs ordered by family, collected or not yet collected alike; for
  // tokenctl copy, a scan.
  virtual Result<std::vector<std::pair<std::string, FamilyRevocation>>> ListFamilyRevocations() = 0;
  // Lists (handle_hash, grant) pairs ordered by hash, optionally filtered by exact client id and subject (empty =
  // any); for tokenctl, a scan.
  virtual Result<std::vector<std::pair<std::string, Grant>>> ListGrants(std::string_view client_id,
                                                                        std::string_view subject) = 0;
  // Store::CollectExpired's work inside the caller's write transaction, scan included (it holds the writer lock for
  // the scan: prefer Store::CollectExpired); `batch` >= 1; an error inside Read().
  virtual Result<CollectResult> CollectExpired(int64_t now, size_t batch) = 0;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  virtual ~Store() = default;

  virtual Status Read(const std::function<Status(Txn&)>& fn) = 0;
  virtual Status Update(const std::function<Status(Txn&)>& fn) = 0;
  // Update without waiting: `fn` runs as in Update (possibly on another thread, possibly in a nested transaction of
  // a shared one) and `done` is called once with what Update would have returned, after the commit, on the thread
  // that committed; an exception thrown by `fn` becomes an Internal status. Both are destroyed on that thread, so
  // they own (or keep alive) whatever they use. `done` must not block or call back into the store; an exception it
  // throws is logged and dropped. The default runs Update on the caller's thread and calls `done` before returning;
  // the LMDB store queues the call for its group commit (lmdb_store.cc) and returns at once, which lets a worker
  // thread go back to its next request instead of sleeping until the batch is committed.
  virtual void UpdateAsync(std::function<Status(Txn&)> fn, std::function<void(Status)> done);

  // Cheap: one read of meta/config_generation in a pooled (reset/renewed) read transaction.
  virtual Result<uint64_t> ConfigGeneration() = 0;
  // How often (milliseconds) the catalog asks ConfigGeneration() (oauth/catalog.h): 0 = on every request (LMDB: one
  // mdb_get); the PostgreSQL store answers 500: the worker's reload thread asks twice a second and requests never
  // do, so a change made on another host is served within half a second plus one rebuild.
  virtual int64_t ConfigCheckIntervalMs() const { return 0; }
  virtual Result<StoreStats> Stats() = 0;
  // `mdb_copy -c` equivalent: a compacted, consistent copy taken while workers serve. `directory` is created (0750)
  // if missing and must be empty (AlreadyExists otherwise); it receives data.mdb only (no lock file).
  virtual Status Backup(const std::string& directory) = 0;
  // Deletes up to `batch` (>= 1; InvalidArgument otherwise) expired grants (expires <= now, with their family index
  // entries) and expired family revocations (keep_until <= now) in ONE short write transaction; returns counts; call
  // again while `more` is true. Never blocks readers. See "Garbage collection" above. The default implementation is
  // Update(Txn::CollectExpired), so a Store that wraps another (tests) gets it through its Update; the LMDB store
  // overrides it with the read-scan-then-short-write form.
  virtual Result<CollectResult> CollectExpired(int64_t now, size_t batch);
  // Txn::RevokeFamily for a family of any size, never holding the writer lock for more than `batch` (>= 1;
  // InvalidArgument otherwise) deletions: the first write transaction records the revocation (from its commit on the
  // family is dead for every reader, see GetGrant) and each later one deletes up to `batch` of its grants
  // (Txn::RevokeFamilyPart), until none is left. Returns how many grants were deleted; idempotent as RevokeFamily.
  // If it stops half-way (an error, a killed process), the revocation stands and CollectExpired deletes the rest.
  // Implemented on Update and Txn::RevokeFamilyPart, so every Store has it.
  virtual Result<size_t> RevokeFamilyInBatches(std::string_view family, int64_t now, int64_t keep_until, size_t batch);
  // Grows the map to `bytes` while other processes keep serving (tokenctl map grow). The new size is recorded in the
  // store (meta "map_size"): a process that opens it later with a smaller StoreOptions::map_size uses the recorded
  // size, and processes already running adopt it as soon as their own map does not suffice: at their next write that
  // finds it full (Update adopts and retries once) or their next transaction after the data outgrew it
  // (MDB_MAP_RESIZED). InvalidArgument if `bytes` is smaller than the current map size; a read-only store refuses
  // (IOError).
  virtual Status GrowMap(uint64_t bytes) = 0;
};

}  // namespace tf::store
