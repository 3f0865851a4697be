// The PostgreSQL implementation of Store and Txn (store.h), for several hosts sharing one database: the only code
// that includes libpq-fe.h. Chosen by a `database` that is a libpq connection URI (IsPostgresUri); OpenStore
// (store.h) calls OpenPgStore for it.
//
// Tables (all keys bytea, so ORDER BY is byte order as in LMDB; every `value` is the record's stored bytes from
// stored_records.h, opaque to SQL: the same bytes an LMDB environment holds):
//   tf_schema_version  id = 1, version: the schema version (kPgSchemaVersion); what tokenctl init and migrate write
//   tf_meta            key text -> value: "config_generation" (decimal), "session_key" (32 raw bytes)
//   tf_clients         client_id -> Client
//   tf_resources       key ("scope:" / "api:" / "identity:" Name, as LMDB) -> ApiScope, ApiResource, IdentityResource
//   tf_keys            kid -> KeyRecord
//   tf_users           subject_id -> User, with tenant and username_key = NormalizeUsername(Username): a unique index
//                      on (tenant, username_key) is the `usernames` index of LMDB
//   tf_grants          handle_hash (SHA-256 of the handle) -> Grant, with family, client_id, subject and expires
//                      copied from the record: indexes on family (RevokeFamily, CountFamilyGrants), client_id and
//                      subject (ListGrants) and expires (CollectExpired) keep each of them from scanning the table
//   tf_revocations     family -> FamilyRevocation, with keep_until (indexed, for CollectExpired)
//
// Transactions: Update runs in one READ COMMITTED transaction in which every point read (GetGrant, GetClient,
// GetUser, FindUserByName, the configuration generation, ...) is SELECT ... FOR UPDATE: a concurrent Update that reads
// the same row waits for this one to end and then sees its commit. That is what makes single-use redemption race-free
// across hosts, as LMDB's single writer does on one host: of two redemptions of one code, the second finds it
// consumed. Two usernames claimed at once meet the unique index (the second is AlreadyExists). A deadlock or a
// serialization failure (SQLSTATE 40P01, 40001: an engine that runs every transaction SERIALIZABLE) rolls the
// transaction back and runs it again, at most kMaxUpdateAttempts times after a short random pause; the contract
// allows Update to run its callback more than once. Read runs in a REPEATABLE READ READ ONLY transaction (one
// snapshot, no locks). SQL is limited to what PostgreSQL-compatible distributed engines accept: no advisory locks, no
// LISTEN.
//
// Connections: a Store keeps a pool of connections, one per transaction running at once in the process (a worker
// with T threads holds at most T); every transaction begins with SET LOCAL statement_timeout
// (StoreOptions::statement_timeout_ms), so no setting outlives a transaction (a pooler in transaction mode works). A
// connection that breaks is dropped; the next transaction connects again, and after a failed connect the Store does
// not try again before a backoff (100 ms doubling up to 5 s) has passed, answering Unavailable meanwhile. Failures
// to reach the server, a timed-out statement and a transaction that kept failing to serialise are Status kUnavailable
// (the oauth layer answers 503 temporarily_unavailable with Retry-After); their messages name the host and database
// and what failed, never the password (RedactedDatabase).
//
// Schema versions: an open reads tf_schema_version. With StoreOptions::create (tokenctl init) a database without
// the table gets it at version 0 and then every migration up to kPgSchemaVersion; with create or migrate (tokenctl
// migrate) an older version is migrated, each step in one transaction. Otherwise an older version is refused
// ("run tokenctl migrate"), a newer one too ("this build supports ..."), and a database without the table is
// NotFound ("database not initialised: run tokenctl init").
//
// Opening while the server is down: OpenPgStore answers Unavailable, unless StoreOptions::connect_later (the worker)
// is set: then it returns a Store that is not connected yet; its transactions are Unavailable (with the backoff
// above) until a connect succeeds, and that first connection does the checks and the session key of the open. A
// failure there that no reconnect mends (an unknown schema version, no schema) is logged once and answered to every
// later transaction.
//
// Thread-safety: as store.h: a Store may be used from many threads; a Txn belongs to its thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "store/store.h"
#include "util/status.h"

namespace tf::store {

inline constexpr int kPgSchemaVersion = 1;
inline constexpr int kMaxUpdateAttempts = 30;

// Whether `database` selects the PostgreSQL store: it starts with postgresql:// or postgres://.
bool IsPostgresUri(std::string_view database);

// `database` fit for a log line: a connection URI without its password (the userinfo's ":password" and any
// `password=` parameter are removed); anything else unchanged.
std::string RedactedDatabase(std::string_view database);

// Opens the PostgreSQL store that options.path (a connection URI) names; see above for create and migrate. An
// unreachable server is Unavailable, or with options.connect_later a Store that connects later (above).
Result<std::unique_ptr<Store>> OpenPgStore(const StoreOptions& options);

}  // namespace tf::store
