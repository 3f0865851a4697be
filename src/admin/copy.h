// Copying a whole store into another one: what `tokenctl copy FROM TO` does, e.g. to move from LMDB to PostgreSQL
// (or back) without re-issuing a single token.
//
// Only the Store/Txn interface is used, so every pair of implementations works. The source is read in ONE read
// transaction (a consistent snapshot, taken while workers keep serving from it); the target is written in write
// transactions of at most `batch` records each, in this order:
//
//   1. API scopes, API resources, identity resources, clients, signing keys (private keys included), the session key
//   2. users (password hashes, lockout state, security stamps: everything the record holds)
//   3. family revocations whose keep_until is still ahead (JWT access tokens of those families stay inactive)
//   4. grants that are still live: codes, refresh tokens (consumed ones as their tombstones, so reuse of a rotated
//      refresh token is still detected), device codes, reference tokens, consents. A grant that has expired, or whose
//      family has a revocation record, is dead for every reader and is left behind.
//
// Records keep their keys (handle hashes, ids, kids), so every handle issued from the source redeems against the
// target, and access tokens the source signed verify with the copied keys.
//
// The target must hold no record of the kinds above (a fresh LMDB directory or an empty PostgreSQL database; the
// session key a writable open creates does not count), unless `force` is set: then records with the same key are
// replaced and the target's other records are kept (so an interrupted copy can be run again). A copy that stops
// half-way leaves the batches it committed in the target.
//
// Thread-compatible; meant for the tokenctl process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "admin/command.h"
#include "config/config.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::admin {

struct CopyOptions {
  bool force = false;              // copy into a target that already holds records
  size_t batch = 500;              // records per write transaction, >= 1
  int64_t now = 0;                 // Unix seconds: what has expired by then is left behind
};

struct CopyReport {
  size_t api_scopes = 0, api_resources = 0, identity_resources = 0, clients = 0, keys = 0;
  bool session_key = false;        // the source had one and it was copied
  size_t users = 0;
  size_t revocations = 0;          // family revocation records copied
  size_t grants = 0;               // live grants copied
  size_t expired_revocations = 0;  // left behind: keep_until passed
  size_t dead_grants = 0;          // left behind: expired, or their family revoked
  size_t transactions = 0;         // write transactions committed on the target
};

// Whether the target holds any record `CopyStore` would write (the session key aside).
Result<bool> StoreHasRecords(store::Store& store);

// Copies `from` into `to` (see above). AlreadyExists if `to` has records and !options.force;
// InvalidArgument if options.batch is 0. On an error after the first commit, the report's counts say what was
// committed (CopyReport is filled as batches commit).
Status CopyStore(store::Store& from, store::Store& to, const CopyOptions& options, CopyReport* report);

// `tokenctl copy FROM TO`: FROM and TO are database locations as the `database` key takes them (an LMDB directory,
// or a PostgreSQL connection URI), opened with the configuration's other store options (map size, ...). FROM is
// opened read-only and must exist; TO is created when missing (an LMDB directory, mode 0750) and may not be FROM.
// Prints the report (text, or one JSON document with `json`) on `out`, errors on `err`; a location is printed
// without its password. Returns tokenctl's exit code (cli.h).
int RunCopyCommand(const Config& config, const std::string& from, const std::string& to, const CopyOptions& options,
                   bool json, std::ostream& out, std::ostream& err);

namespace cli {
// The command: FROM TO [--force] [--batch N] (cli.cc's table).
int CmdCopy(Context& ctx, const Parsed& p);
}  // namespace cli

}  // namespace tf::admin
