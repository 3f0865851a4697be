// The one configuration file: plain `key = value` lines, `#` comments, blank lines ignored. Every key, its default
// and its unit live in one table in config.cc (and, commented, in conf/tokenfcgi.conf). Unknown keys, repeated keys
// and bad values are errors that name the key and the line. Parsing is separate from use: Load() only produces a
// Config value. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/log.h"
#include "util/status.h"

namespace tf {

// How a remote_user login's tenant is found (Config::remote_user_tenant_mapping).
enum class RemoteUserTenantMapping { kFixed, kUserAtTenant };

// One `extension_grant = GRANT_TYPE LIBRARY [ARGUMENT]` line: a grant type served by a plug-in
// (include/tokenfcgi/extension_grant.h, oauth/extension_grants.h).
struct ExtensionGrantConfig {
  std::string grant_type;  // an absolute URI (RFC 6749 §4.5), at most 100 characters, not a built-in grant type
  std::string library;     // absolute path of the shared library
  std::string argument;    // the rest of the line, given to the plug-in's init() ("" = none)
};

struct Config {
  // Where tokens say they come from (`iss`) and the base of every URL in discovery. Required. https, or http for
  // loopback hosts (127.0.0.1, ::1, localhost) only. No trailing slash.
  std::string issuer;
  std::string database = "/var/lib/tokenfcgi";      // LMDB environment directory
  // The key-encryption key file (32 random bytes, mode 0400) that seals private signing keys and the session key at
  // rest (token/key_encryption.h); "" = none: keys are stored in clear.
  std::string key_encryption_key_file;
  uint64_t map_size = 1ull << 30;                    // bytes; accepts K/M/G suffixes; same for every process
  unsigned max_readers = 126;                        // LMDB reader slots; >= workers x threads + tokenctl
  int64_t statement_timeout_ms = 5000;               // PostgreSQL store: every statement's bound, 1..600000
  // What a commit waits for (docs/durability.md): false ("full"): the data and then the meta page reach the disk
  // (two syncs); true ("meta-async"): MDB_NOMETASYNC, one sync, and a system crash may undo the last commit(s).
  bool lmdb_meta_async = false;                      // lmdb_sync = full | meta-async
  uint64_t max_body_bytes = 64 * 1024;               // request bodies larger than this get 413
  unsigned max_form_params = 64;                     // more parameters than this is invalid_request
  std::string base_path;                             // "" or "/auth": prefixes every endpoint path
  LogLevel log_level = LogLevel::kInfo;
  std::string access_token_signing_alg = "RS256";    // RS256 | PS256 | ES256 | EdDSA
  bool scope_claim_as_array = false;                 // scope_claim_format = string | array (IdentityServer)
  std::string realm = "tokenfcgi";                   // WWW-Authenticate: Basic realm="..."
  int64_t clock_skew_seconds = 300;                  // tolerance for nbf/exp when checking tokens

  // Argon2id cost for password hashes written from now on (password/password_hash.h's Argon2Params; config stays
  // independent of password/, so these are plain fields). Defaults: OWASP's minimum, m=19 MiB, t=2, p=1. A stored
  // hash made with other values still verifies and is rehashed on the next successful login.
  uint32_t password_hash_memory_kib = 19456;         // KiB, 8..4194304 and >= 8 x parallelism
  uint32_t password_hash_iterations = 2;             // passes, 1..100
  uint32_t password_hash_parallelism = 1;            // lanes, 1..64
  // At most this many password checks (Argon2id) run at once in one worker process; 0 = half the CPUs, at least 1.
  // A check that finds them all busy waits up to password_hash_wait_ms, then is answered 503 temporarily_unavailable.
  unsigned password_hash_concurrency = 0;            // 0..1024
  int64_t password_hash_wait_ms = 500;               // milliseconds, 0..60000
  uint32_t password_min_length = 8;                 // bytes, 1..100: new passwords set by tokenctl and import

  // Brute-force protection for the password grant (RFC 6749 §4.3.2), ASP.NET Core Identity's defaults: after
  // lockout_max_failures consecutive failures the user is locked for lockout_seconds. 0 failures disables lockout.
  unsigned lockout_max_failures = 5;                 // 0..1000
  int64_t lockout_seconds = 300;                     // 1..86400

  // Whether tokens carry an `acr` claim: the level the login's provider met (local_acr, remote_user_acr), never a
  // value a request asked for (oauth/login_provider.h's LoginAcr).
  bool acr_claim = false;
  // The Authentication Context Class Reference each login provider meets, as the `acr` claim states it ("" = no
  // claim for that provider's logins). 1..100 printable ASCII bytes without spaces, or "".
  std::string local_acr = "1";
  std::string remote_user_acr;

  // Enabled identity providers for user login, in configuration order, no duplicates, at least one. Known names:
  // "local" (the LMDB user store) and "remote_user" (the web server's REMOTE_USER; off by default, see ARCHITECTURE).
  std::vector<std::string> login_providers = {"local"};

  // Refresh-token rotation (RefreshTokenUsage OneTimeOnly): a consumed refresh token presented again within this many
  // seconds of its consumption, while its successor is still unused, is an allowed retry (once) of a client that lost
  // the response, instead of reuse (which revokes the whole family). 0 = no grace: every reuse revokes. The default
  // covers a client's retry after a worker died between the commit of a rotation and the response
  // (docs/sessions-and-logout.md, "Refresh reuse grace").
  int64_t refresh_token_reuse_grace_seconds = 30;    // 0..300

  // The authorize endpoint (oauth/authorize.h, oauth/session.h).
  // How long a login session cookie stays valid after the login (absolute, not sliding; IdentityServer's cookie
  // default is 10 hours). A client's UserSsoLifetime and a request's max_age can only shorten it.
  int64_t session_lifetime_seconds = 36000;          // 60..31536000
  // remote_user: when REMOTE_USER names no user in the store, create one (random SubjectId, Username = REMOTE_USER,
  // the tenant remote_user_tenant_mapping gives, no password). false: such a login is refused (access_denied).
  bool remote_user_provision = false;
  // remote_user: the tenant of the user the web server authenticated comes from here, never from the request
  // (oauth/remote_user.h). kFixed: every REMOTE_USER is a user of remote_user_tenant ("" = no tenant).
  // kUserAtTenant: "name@tenant" is user "name" of tenant "tenant" (split at the last '@'); a name without '@' is a
  // user of remote_user_tenant.
  RemoteUserTenantMapping remote_user_tenant_mapping = RemoteUserTenantMapping::kFixed;
  std::string remote_user_tenant;                    // 0..100 printable ASCII bytes
  // Whether the built-in login form asks for a tenant (when acr_values carries no tenant:NAME).
  bool login_form_tenant = false;
  // The id_token signing algorithm when the client's AllowedIdentityTokenSigningAlgorithms is empty (OpenID Connect
  // requires RS256 support, and IdentityServer defaults to it). RS256 | PS256 | ES256 | EdDSA.
  std::string id_token_signing_alg = "RS256";

  // Extension grants served by plug-ins, in configuration order (the key may be given several times, once per
  // grant type). Empty by default.
  std::vector<ExtensionGrantConfig> extension_grants;

  bool LoginProviderEnabled(std::string_view name) const;
  // Whether `grant_type` is served by a configured plug-in.
  bool ExtensionGrantConfigured(std::string_view grant_type) const;

  // Path under base_path, e.g. EndpointUrl("/connect/token") -> issuer + base_path + "/connect/token".
  std::string EndpointUrl(std::string_view path) const;
};

// Reads and validates the file. Errors look like: "/etc/tokenfcgi/tokenfcgi.conf:12: map_size: not a size: 'x'".
Result<Config> LoadConfig(const std::string& path);
Result<Config> ParseConfig(std::string_view text, std::string_view source_name);

// A size as the configuration writes it ("65536", "64K", "1G": K, M, G, T are powers of 1024, any case): false if
// `text` is not one or overflows 64 bits (tokenctl map grow reads its argument with it).
bool ParseSizeValue(std::string_view text, uint64_t* bytes);

// --config FILE, else $TOKENFCGI_CONFIG, else /etc/tokenfcgi/tokenfcgi.conf.
std::string DefaultConfigPath(const char* command_line_value);

}  // namespace tf
