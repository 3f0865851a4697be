// `tokenctl import`: reads IdentityServer's configuration JSON and writes it into the store in one transaction.
//
// Accepted shape: a top-level object with any of "Clients", "ApiScopes", "ApiResources", "IdentityResources" (arrays
// of IdentityServer's own records, PascalCase) and "Users" (IdentityServer's TestUser shape, below), or the same
// object wrapped as {"IdentityServer": {...}} as in an appsettings.json, whose other top-level sections (Logging,
// AllowedHosts, ...) are skipped with one warning and whose Users may stand inside or beside the IdentityServer
// section. Comments (// and /* */) and trailing commas are accepted, as .NET's configuration reader accepts them.
// Each element is read by
// store::ClientFromJson and friends, so the import format is the storage format. Everything is checked before
// anything is written:
//   - malformed JSON or invalid UTF-8: an error with the byte offset (and line:column) where parsing stopped;
//   - a bad value: an error starting with its JSON path ("Clients[3].AccessTokenLifetime: ...");
//   - a claim (Clients[].Claims, Users[].Claims) with an unknown ValueType, or a Value that does not fit its type
//     (store::CheckClaimValue; OpenID Connect Core §5.1's type for a standard claim such as email_verified): an error
//     with its path and the record ("Users[0].Claims[2] of user 'alice': unknown ValueType 'bool' ...");
//   - an unknown property anywhere (top level included): an error with its path, or a warning with ignore_unknown;
//   - a property name repeated inside one JSON object, or two records of one kind with the same ClientId/Name:
//     an error naming both paths;
//   - cross-checks against the file and the store together, reported as warnings: AllowedScopes naming no ApiScope or
//     IdentityResource (offline_access is always known), ApiResource Scopes naming no ApiScope, unknown grant types,
//     and SharedSecret Values that are not base64 of a SHA-256/SHA-512 digest (a plain secret pasted by mistake).
//
// Users: SubjectId and Username (required), Tenant, IsActive, Claims ([{Type, Value, ValueType}]), and at most one of
//   - Password: plaintext (password_min_length..kMaxPasswordLength bytes), hashed here with
//     HashPassword(options.password_params);
//     the plaintext is never stored. When the user exists and its stored hash verifies against this password with
//     the current parameters, the stored hash is kept, so re-importing the same file changes nothing;
//   - PasswordHash: an Argon2id PHC string or an ASP.NET Core Identity (v2/v3) hash, stored as is; a value of neither
//     shape is an error with its path (the value is never repeated: it may be a password in the wrong property).
// With neither, a user already in the store keeps its stored hash (so a file without passwords does not undo
// `tokenctl user passwd`), and a new user cannot sign in with a password (a warning); "PasswordHash": "" removes a
// stored password on purpose. AccessFailedCount, LockoutEnd and Created are
// the store's own state, not import properties: they are reported as unknown. A user already in the store (same
// SubjectId) is updated in place and keeps its lockout state and Created; a new user gets Created = now. Two users of
// the file with the same SubjectId, or the same Username (ignoring ASCII case) in the same Tenant, are an error; so
// is a Username that a store user not in the file already has in that tenant. A user of the file may take a username
// another user of the file gives up (renames are applied together).
//
// Then one store Update writes every record whose stored form differs (new or updated); records of the store that
// the file does not mention are kept; Argon2id hashing happens before that Update, never inside it. With dry_run the
// same comparison runs in a read transaction, nothing is hashed and nothing is written (a user whose Password does
// not verify against the stored hash counts as updated). If any error was found nothing is written either.
//
// Thread-compatible: the functions keep no state; the store serialises writers itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::admin {

struct ImportOptions {
  bool dry_run = false;         // validate and count, write nothing
  bool ignore_unknown = false;  // unknown properties become warnings instead of errors
  Argon2Params password_params;  // for Users[].Password (the config's password_hash_* keys)
  size_t password_min_length = 1;  // Users[].Password shorter than this is an error (the config's password_min_length)
  const Clock* clock = nullptr;  // Created of new users; nullptr = SystemClock::Default()
  std::vector<std::string> extension_grant_types;  // served by configured plug-ins: known, no warning
};

struct ImportCounts {
  int added = 0;      // not in the store before
  int updated = 0;    // in the store with a different stored form
  int unchanged = 0;  // in the store already, identical
};

struct ImportReport {
  ImportCounts clients, api_scopes, api_resources, identity_resources, users;
  std::vector<std::string> unknown;   // JSON paths of unknown properties, in file order
  std::vector<std::string> warnings;  // "path: text", including ignored unknown properties
  std::vector<std::string> errors;    // "path: text"; non-empty means nothing was written
  bool written = false;               // true once the store Update committed
};

// A parsed and validated file, not yet compared with any store. `path` is the record's JSON path ("Clients[0]").
template <typename T>
struct Located {
  std::string path;
  T record;
};
// A user of the file: the record to store (password_hash set from PasswordHash, empty otherwise; lockout state and
// Created still unset) and, when the file gave one, the plaintext Password that is yet to be hashed.
struct ImportedUser {
  store::User record;
  std::optional<std::string> password;
  bool keep_stored_password = false;  // the file has neither Password nor PasswordHash for this user
};
struct ImportPlan {
  std::vector<Located<store::Client>> clients;
  std::vector<Located<store::ApiScope>> api_scopes;
  std::vector<Located<store::ApiResource>> api_resources;
  std::vector<Located<store::IdentityResource>> identity_resources;
  std::vector<Located<ImportedUser>> users;
};

// Parses and validates `json_text` (no store involved). Errors, unknown properties and file-only warnings go to
// `report`; the returned plan is meaningful only when report->errors is empty.
ImportPlan ParseImport(std::string_view json_text, const ImportOptions& options, ImportReport* report);

// ParseImport, then the cross-checks and the write (or, with dry_run, the comparison only). `store` may be null
// only with dry_run (validating a file with no database: every record counts as added). Returns OK, or the first
// error (all errors are in report->errors).
Status Import(std::string_view json_text, store::Store* store, const ImportOptions& options, ImportReport* report);

}  // namespace tf::admin
