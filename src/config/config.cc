// Configuration file parsing. The file format:
//
//   # a comment line ('#' as the first non-blank character)
//   key = value   # an end-of-line comment
//
// Leading and trailing blanks around keys and values are ignored. A '#' that follows a blank starts a comment that
// runs to the end of the line; a '#' with no blank before it (a URL fragment, say) is part of the value, which the
// key's own check then judges. A value may be wrapped in double quotes, which keeps everything between them,
// blanks and '#' included (so `base_path = ""` spells an empty value and `realm = "a # b"` a realm with a '#');
// after the closing quote only blanks and a comment may follow. Every key is listed
// once in kKeys below with its setter, its default (as written in the file), its unit and a sentence of
// documentation; conf/tokenfcgi.conf mirrors that table and a unit test keeps them in step.
#include "config/config.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/config_keys.h"
#include "util/log.h"

namespace tf {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr size_t kMaxConfigFileBytes = 1 << 20;

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view Trim(std::string_view s);

// The value part of a `key = value` line (everything after '='): trimmed, without an end-of-line comment, and
// without its double quotes when it is quoted. See the file format at the top.
Result<std::string_view> ValueWithoutComment(std::string_view rest) {
  std::string_view v = Trim(rest);
  if (!v.empty() && v.front() == '"') {
    size_t close = v.find('"', 1);
    if (close == std::string_view::npos) return Status::InvalidArgument("missing closing '\"'");
    std::string_view after = Trim(v.substr(close + 1));
    if (!after.empty() && after.front() != '#') {
      return Status::InvalidArgument("text after the closing '\"' (only a '# comment' may follow)");
    }
    return v.substr(1, close - 1);
  }
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] == '#' && IsBlank(v[i - 1])) return Trim(v.substr(0, i));
  }
  if (!v.empty() && v.front() == '#') return std::string_view();  // `key = # comment`: an empty value
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// For error messages: the offending text as SanitizeForLog shows it (blanks kept), at most 60 characters.
constexpr size_t kMaxQuotedLength = 60;

std::string Quote(std::string_view s) {
  // Built by appending: g++ 12 -O3 reports a false -Wrestrict on "'" + std::string (GCC PR 105329).
  std::string out = "'";
  if (!s.empty()) out += SanitizeForLog(s, kMaxQuotedLength, Blanks::kKeep);
  out += '\'';
  return out;
}

bool AllPrintableAscii(std::string_view s) {
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e) return false;  // no blanks, controls or non-ASCII
  }
  return true;
}

// Unsigned decimal without sign, blanks or overflow.
bool ParseUnsigned(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// "65536", "64K", "1G": binary multiples (K = 1024), suffix case-insensitive.
bool ParseSize(std::string_view s, uint64_t* out) {
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'k': case 'K': mult = kKiB; break;
      case 'm': case 'M': mult = kMiB; break;
      case 'g': case 'G': mult = kMiB * kKiB; break;
      case 't': case 'T': mult = kMiB * kMiB; break;
      default: break;
    }
    if (mult != 1) s.remove_suffix(1);
  }
  uint64_t v = 0;
  if (!ParseUnsigned(s, &v)) return false;
  if (v > UINT64_MAX / mult) return false;
  *out = v * mult;
  return true;
}

std::string RangeError(const char* what, uint64_t lo, uint64_t hi) {
  return std::string("must be ") + what + " from " + std::to_string(lo) + " to " + std::to_string(hi);
}

std::string SetInteger(std::string_view v, uint64_t lo, uint64_t hi, uint64_t* out) {
  uint64_t n = 0;
  if (!ParseUnsigned(v, &n)) return "not a whole number: " + Quote(v);
  if (n < lo || n > hi) return RangeError("a whole number", lo, hi) + ", got " + Quote(v);
  *out = n;
  return "";
}

std::string SetSize(std::string_view v, uint64_t lo, uint64_t hi, const char* lo_text, const char* hi_text,
                    uint64_t* out) {
  uint64_t n = 0;
  if (!ParseSize(v, &n)) return "not a size (a number of bytes, optionally with K, M, G or T): " + Quote(v);
  if (n < lo || n > hi) return std::string("must be from ") + lo_text + " to " + hi_text + ", got " + Quote(v);
  *out = n;
  return "";
}

// issuer: scheme://authority[/path], https, or http only for a loopback host; no query, fragment, user info or
// trailing slash.
std::string SetIssuer(std::string_view v, Config* c) {
  if (v.empty()) return "must not be empty";
  if (!AllPrintableAscii(v)) return "must be printable ASCII without blanks: " + Quote(v);
  if (v.find('?') != std::string_view::npos) return "must not have a query ('?'): " + Quote(v);
  if (v.find('#') != std::string_view::npos) return "must not have a fragment ('#'): " + Quote(v);
  bool https = false;
  std::string_view rest;
  if (v.substr(0, 8) == "https://") {
    https = true;
    rest = v.substr(8);
  } else if (v.substr(0, 7) == "http://") {
    rest = v.substr(7);
  } else {
    return "must start with https:// (or http:// for 127.0.0.1, [::1] or localhost): " + Quote(v);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.empty()) return "has no host: " + Quote(v);
  if (authority.find('@') != std::string_view::npos) return "must not contain user info ('@'): " + Quote(v);
  std::string_view host = authority;
  std::string_view port;
  if (host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return "has an unterminated IPv6 address: " + Quote(v);
    std::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has junk after the IPv6 address: " + Quote(v);
      port = after.substr(1);
      if (port.empty()) return "has an empty port: " + Quote(v);
    }
    for (char ch : host.substr(1, host.size() - 2)) {
      if (!(std::isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.')) {
        return "has a bad IPv6 address: " + Quote(v);
      }
    }
    if (host.size() == 2) return "has no host: " + Quote(v);
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return "has an empty port: " + Quote(v);
    }
    if (host.empty()) return "has no host: " + Quote(v);
    for (char ch : host) {
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '.')) {
        return "has a bad host name: " + Quote(v);
      }
    }
  }
  if (!port.empty()) {
    uint64_t p = 0;
    if (!ParseUnsigned(port, &p) || p < 1 || p > 65535) return "has a bad port: " + Quote(v);
  }
  if (!https) {
    std::string lower(host);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower != "127.0.0.1" && lower != "[::1]" && lower != "localhost") {
      return "must use https:// (http:// is allowed only for 127.0.0.1, [::1] and localhost): " + Quote(v);
    }
  }
  if (!path.empty() && path.back() == '/') return "must not end with '/': " + Quote(v);
  c->issuer = std::string(v);
  return "";
}

std::string SetDatabase(std::string_view v, Config* c) {
  if (v.empty()) return "must not be empty";
  if (v.find('\0') != std::string_view::npos) return "must not contain NUL";
  c->database = std::string(v);
  return "";
}

std::string SetKeyEncryptionKeyFile(std::string_view v, Config* c) {
  if (v.find('\0') != std::string_view::npos) return "must not contain NUL";
  if (!v.empty() && v.front() != '/') return "must be an absolute path: " + Quote(v);
  c->key_encryption_key_file = std::string(v);
  return "";
}

std::string SetMapSize(std::string_view v, Config* c) {
  return SetSize(v, kMiB, UINT64_MAX, "1M", "the largest 64-bit size", &c->map_size);
}

std::string SetStatementTimeout(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 600000, &n);
  if (err.empty()) c->statement_timeout_ms = static_cast<int64_t>(n);
  return err;
}

std::string SetMaxReaders(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 65535, &n);
  if (err.empty()) c->max_readers = static_cast<unsigned>(n);
  return err;
}

std::string SetLmdbSync(std::string_view v, Config* c) {
  if (v == "full") {
    c->lmdb_meta_async = false;
  } else if (v == "meta-async") {
    c->lmdb_meta_async = true;
  } else {
    return "must be full or meta-async: " + Quote(v);
  }
  return "";
}

std::string SetMaxBodyBytes(std::string_view v, Config* c) {
  return SetSize(v, kKiB, 16 * kMiB, "1K", "16M", &c->max_body_bytes);
}

std::string SetMaxFormParams(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 1000, &n);
  if (err.empty()) c->max_form_params = static_cast<unsigned>(n);
  return err;
}

std::string SetBasePath(std::string_view v, Config* c) {
  if (!v.empty()) {
    if (v.front() != '/') return "must be empty or start with '/': " + Quote(v);
    if (v.back() == '/') return "must not end with '/' (use an empty value for the root): " + Quote(v);
    if (!AllPrintableAscii(v)) return "must be printable ASCII without blanks: " + Quote(v);
    if (v.find_first_of("?#") != std::string_view::npos) return "must not contain '?' or '#': " + Quote(v);
  }
  c->base_path = std::string(v);
  return "";
}

std::string SetLogLevelKey(std::string_view v, Config* c) {
  std::optional<LogLevel> level = ParseLogLevel(v);
  if (!level) return "must be one of error, warn, info, debug; got " + Quote(v);
  c->log_level = *level;
  return "";
}

// The JWS algorithms tokenfcgi signs with (token/jws.h), spelled exactly as in JWA (case-sensitive).
std::string SetJwsAlg(std::string_view v, std::string* out) {
  if (v != "RS256" && v != "PS256" && v != "ES256" && v != "EdDSA") {
    return "must be one of RS256, PS256, ES256, EdDSA; got " + Quote(v);
  }
  *out = std::string(v);
  return "";
}

std::string SetSigningAlg(std::string_view v, Config* c) { return SetJwsAlg(v, &c->access_token_signing_alg); }

std::string SetScopeClaimFormat(std::string_view v, Config* c) {
  if (v == "string") {
    c->scope_claim_as_array = false;
  } else if (v == "array") {
    c->scope_claim_as_array = true;
  } else {
    return "must be string or array; got " + Quote(v);
  }
  return "";
}

std::string SetRealm(std::string_view v, Config* c) {
  if (v.empty() || v.size() > 128) return "must be 1 to 128 characters";
  for (char ch : v) {
    unsigned char u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u > 0x7e || ch == '"' || ch == '\\') {
      return "must be printable ASCII without '\"' or '\\': " + Quote(v);
    }
  }
  c->realm = std::string(v);
  return "";
}

std::string SetClockSkew(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 0, 3600, &n);
  if (err.empty()) c->clock_skew_seconds = static_cast<int64_t>(n);
  return err;
}

std::string SetPasswordHashMemoryKib(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 8, 4 * kMiB, &n);  // 8 KiB to 4 GiB, in KiB
  if (err.empty()) c->password_hash_memory_kib = static_cast<uint32_t>(n);
  return err;
}

std::string SetPasswordHashIterations(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 100, &n);
  if (err.empty()) c->password_hash_iterations = static_cast<uint32_t>(n);
  return err;
}

std::string SetPasswordHashParallelism(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 64, &n);
  if (err.empty()) c->password_hash_parallelism = static_cast<uint32_t>(n);
  return err;
}

std::string SetPasswordHashConcurrency(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 0, 1024, &n);
  if (err.empty()) c->password_hash_concurrency = static_cast<unsigned>(n);
  return err;
}

std::string SetPasswordHashWait(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 0, 60000, &n);
  if (err.empty()) c->password_hash_wait_ms = static_cast<int64_t>(n);
  return err;
}

std::string SetPasswordMinLength(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 100, &n);  // up to kMaxPasswordLength
  if (err.empty()) c->password_min_length = static_cast<uint32_t>(n);
  return err;
}

std::string SetLockoutMaxFailures(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 0, 1000, &n);
  if (err.empty()) c->lockout_max_failures = static_cast<unsigned>(n);
  return err;
}

std::string SetLockoutSeconds(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 1, 86400, &n);
  if (err.empty()) c->lockout_seconds = static_cast<int64_t>(n);
  return err;
}

std::string SetBool(std::string_view v, bool* out) {
  if (v == "true") {
    *out = true;
  } else if (v == "false") {
    *out = false;
  } else {
    return "must be true or false; got " + Quote(v);
  }
  return "";
}

std::string SetAcrClaim(std::string_view v, Config* c) { return SetBool(v, &c->acr_claim); }

std::string SetAcrValue(std::string_view v, std::string* out) {
  if (v.size() > 100) return "must be at most 100 bytes";
  if (!AllPrintableAscii(v) || v.find(' ') != std::string_view::npos) {
    return "must be printable ASCII without spaces (one acr value)";
  }
  *out = std::string(v);
  return "";
}

std::string SetLocalAcr(std::string_view v, Config* c) { return SetAcrValue(v, &c->local_acr); }
std::string SetRemoteUserAcr(std::string_view v, Config* c) { return SetAcrValue(v, &c->remote_user_acr); }

constexpr std::string_view kLoginProviderNames[] = {"local", "remote_user"};

std::string SetLoginProviders(std::string_view v, Config* c) {
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < v.size()) {
    if (IsBlank(v[pos])) {
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < v.size() && !IsBlank(v[end])) ++end;
    std::string_view name = v.substr(pos, end - pos);
    pos = end;
    bool known = false;
    for (std::string_view k : kLoginProviderNames) known = known || name == k;
    if (!known) return "unknown provider " + Quote(name) + " (known: local, remote_user)";
    for (const std::string& n : names) {
      if (n == name) return "provider " + Quote(name) + " is listed twice";
    }
    names.emplace_back(name);
  }
  if (names.empty()) return "must list at least one provider (local, remote_user)";
  c->login_providers = std::move(names);
  return "";
}

std::string SetRefreshTokenReuseGrace(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 0, 300, &n);
  if (err.empty()) c->refresh_token_reuse_grace_seconds = static_cast<int64_t>(n);
  return err;
}

std::string SetSessionLifetime(std::string_view v, Config* c) {
  uint64_t n = 0;
  std::string err = SetInteger(v, 60, 31536000, &n);  // a minute to 365 days
  if (err.empty()) c->session_lifetime_seconds = static_cast<int64_t>(n);
  return err;
}

std::string SetRemoteUserProvision(std::string_view v, Config* c) { return SetBool(v, &c->remote_user_provision); }

std::string SetRemoteUserTenantMapping(std::string_view v, Config* c) {
  if (v == "fixed") {
    c->remote_user_tenant_mapping = RemoteUserTenantMapping::kFixed;
  } else if (v == "user@tenant") {
    c->remote_user_tenant_mapping = RemoteUserTenantMapping::kUserAtTenant;
  } else {
    return "must be fixed or user@tenant; got " + Quote(v);
  }
  return "";
}

std::string SetRemoteUserTenant(std::string_view v, Config* c) {
  if (v.size() > 100) return "must be at most 100 bytes";
  if (!AllPrintableAscii(v)) return "must be printable ASCII";
  c->remote_user_tenant = std::string(v);
  return "";
}

std::string SetLoginFormTenant(std::string_view v, Config* c) { return SetBool(v, &c->login_form_tenant); }

std::string SetIdTokenSigningAlg(std::string_view v, Config* c) { return SetJwsAlg(v, &c->id_token_signing_alg); }

// The grant types built into the token endpoint (and the ones tokenfcgi reserves): a plug-in cannot take them over.
constexpr std::string_view kBuiltInGrantTypes[] = {
    "authorization_code", "client_credentials", "password", "refresh_token", "implicit", "hybrid",
    "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:openid:params:grant-type:ciba"};

// GRANT_TYPE LIBRARY [ARGUMENT]: blank-separated; ARGUMENT is the rest of the line.
std::string AddExtensionGrant(std::string_view v, Config* c) {
  const auto next_word = [&v]() {
    while (!v.empty() && IsBlank(v.front())) v.remove_prefix(1);
    size_t end = 0;
    while (end < v.size() && !IsBlank(v[end])) ++end;
    std::string_view word = v.substr(0, end);
    v.remove_prefix(end);
    return word;
  };
  if (Trim(v).empty()) return "";  // `extension_grant = ""`: none (the default)
  ExtensionGrantConfig g;
  const std::string_view grant_type = next_word();
  const std::string_view library = next_word();
  if (grant_type.empty() || library.empty()) return "expected GRANT_TYPE LIBRARY [ARGUMENT]";
  if (grant_type.size() > 100 || !AllPrintableAscii(grant_type)) {
    return "the grant type must be 1 to 100 printable ASCII characters: " + Quote(grant_type);
  }
  const size_t colon = grant_type.find(':');
  if (colon == std::string_view::npos || colon == 0 || !std::isalpha(static_cast<unsigned char>(grant_type[0]))) {
    return "the grant type must be an absolute URI (RFC 6749 4.5), e.g. urn:example:grant-type:x: " +
           Quote(grant_type);
  }
  for (std::string_view builtin : kBuiltInGrantTypes) {
    if (grant_type == builtin) return "the grant type is built in: " + Quote(grant_type);
  }
  for (const ExtensionGrantConfig& existing : c->extension_grants) {
    if (existing.grant_type == grant_type) return "the grant type is configured twice: " + Quote(grant_type);
  }
  if (library.front() != '/') return "the library must be an absolute path: " + Quote(library);
  g.grant_type = std::string(grant_type);
  g.library = std::string(library);
  g.argument = std::string(Trim(v));
  c->extension_grants.push_back(std::move(g));
  return "";
}

struct KeyDef {
  ConfigKeyInfo info;
  std::string (*set)(std::string_view value, Config* config);  // "" on success, else what is wrong
  bool repeatable = false;  // may be given on several lines, each adding one entry
};

// The one table: every key, its default as written in the file, its unit, its documentation and its setter. The
// defaults here must equal the initialisers in config.h; config_test checks that parsing each default yields Config{}.
const KeyDef kKeys[] = {
    {{"issuer", "", "URL",
      "Required. The issuer identifier put in every token's iss claim and the base of every URL in discovery: "
      "https://host[:port][/path], or http:// only for 127.0.0.1, [::1] or localhost; no trailing slash, query or "
      "fragment."},
     SetIssuer},
    {{"database", "/var/lib/tokenfcgi", "directory",
      "The LMDB environment directory (data.mdb, lock.mdb) shared by every worker and by tokenctl; use an absolute "
      "path, since a relative one is resolved against the worker's working directory. A libpq connection URI "
      "(postgresql://... or postgres://...) selects the PostgreSQL store instead (docs/postgresql.md)."},
     SetDatabase},
    {{"statement_timeout", "5000", "milliseconds",
      "PostgreSQL store only: the statement_timeout of every transaction, 1 to 600000; a statement that takes longer "
      "fails and its request is answered 503 temporarily_unavailable."},
     SetStatementTimeout},
    {{"key_encryption_key_file", "", "file",
      "The key-encryption key: a file of 32 random bytes, mode 0400, owned by the service user, that encrypts the "
      "private signing keys and the session key in the database (AES-256-GCM), so a copy of the database or a "
      "backup holds no usable private key without it. tokenctl init creates it when missing; tokenctl key encrypt "
      "encrypts the keys of an existing database. Empty: keys are stored in clear. An absolute path."},
     SetKeyEncryptionKeyFile},
    {{"map_size", "1G", "bytes (K/M/G/T suffix)",
      "The LMDB map size, the most the database can ever hold; at least 1M, and every process (workers and tokenctl) "
      "must use the same value. tokenctl map grow grows it while workers run; a size it recorded in the database "
      "overrides a smaller value here."},
     SetMapSize},
    {{"max_readers", "126", "reader slots",
      "LMDB reader slots, 1 to 65535; needs at least worker processes x threads + a few for tokenctl."},
     SetMaxReaders},
    {{"lmdb_sync", "full", "",
      "What each commit waits for: full (the data, then the meta page, are synced to disk: nothing acknowledged is "
      "lost even by a power loss) or meta-async (one sync per commit: a power loss or kernel crash may undo the last "
      "acknowledged commits, never corrupting the database; a process crash loses nothing). See docs/durability.md."},
     SetLmdbSync},
    {{"max_body_bytes", "64K", "bytes (K/M suffix)",
      "Request bodies larger than this (1K to 16M) are answered 413 without being read."},
     SetMaxBodyBytes},
    {{"max_form_params", "64", "parameters",
      "A form body with more parameters than this (1 to 1000) is answered 400 invalid_request."},
     SetMaxFormParams},
    {{"base_path", "", "URL path",
      "Prefix of every endpoint path, e.g. /auth for /auth/connect/token; empty, or starts with / without a trailing "
      "/."},
     SetBasePath},
    {{"log_level", "info", "",
      "error, warn, info (one line per request) or debug; error keeps the request path silent."},
     SetLogLevelKey},
    {{"access_token_signing_alg", "RS256", "",
      "The JWS algorithm for access tokens: RS256, PS256, ES256 or EdDSA, narrowed by an API resource's "
      "AllowedAccessTokenSigningAlgorithms."},
     SetSigningAlg},
    {{"scope_claim_format", "string", "",
      "How the scope claim is written in access tokens: string (space-delimited, RFC 9068) or array (IdentityServer's "
      "JSON array)."},
     SetScopeClaimFormat},
    {{"realm", "tokenfcgi", "",
      "The realm in WWW-Authenticate: Basic realm=\"...\" on invalid_client; printable ASCII without '\"' or '\\'."},
     SetRealm},
    {{"clock_skew_seconds", "300", "seconds",
      "Tolerance, 0 to 3600, for nbf and exp when tokens are checked."},
     SetClockSkew},
    {{"password_hash_memory_kib", "19456", "KiB",
      "Argon2id memory cost (m) for new password hashes, 8 to 4194304 KiB and at least 8 x "
      "password_hash_parallelism; the default 19456 (19 MiB) is OWASP's minimum recommendation."},
     SetPasswordHashMemoryKib},
    {{"password_hash_iterations", "2", "passes",
      "Argon2id time cost (t) for new password hashes, 1 to 100."},
     SetPasswordHashIterations},
    {{"password_hash_parallelism", "1", "lanes",
      "Argon2id parallelism (p) for new password hashes, 1 to 64; a stored hash with other m, t or p still verifies "
      "and is rehashed with these values on the next successful login."},
     SetPasswordHashParallelism},
    {{"password_hash_concurrency", "0", "password checks",
      "At most this many password checks (Argon2id) at once in one worker process, 0 to 1024; 0 = half the CPUs, at "
      "least 1. Across processes the bound is processes x this."},
     SetPasswordHashConcurrency},
    {{"password_hash_wait_ms", "500", "milliseconds",
      "How long, 0 to 60000, a password check waits for one of password_hash_concurrency to come free before it is "
      "answered 503 temporarily_unavailable with Retry-After."},
     SetPasswordHashWait},
    {{"password_min_length", "8", "bytes",
      "The shortest password, 1 to 100 bytes, that tokenctl user add, user passwd and import accept for a new "
      "password; imported PasswordHash values are exempt (they are checked when the user signs in)."},
     SetPasswordMinLength},
    {{"lockout_max_failures", "5", "failed logins",
      "Consecutive failed password logins, 0 to 1000, after which a user is locked out for lockout_seconds; 0 "
      "disables lockout."},
     SetLockoutMaxFailures},
    {{"lockout_seconds", "300", "seconds",
      "How long, 1 to 86400, a user stays locked out after lockout_max_failures consecutive failures."},
     SetLockoutSeconds},
    {{"acr_claim", "false", "",
      "true or false: whether tokens carry an acr claim stating the level the login actually met: local_acr or "
      "remote_user_acr, by the provider that signed the user in. Requested acr_values never become the claim."},
     SetAcrClaim},
    {{"local_acr", "1", "acr value",
      "The acr claim of logins by the local provider (user store password), with acr_claim; empty = no claim. One "
      "value of printable ASCII without spaces, at most 100 bytes."},
     SetLocalAcr},
    {{"remote_user_acr", "", "acr value",
      "The acr claim of logins by the remote_user provider (whatever the web server checked), with acr_claim; empty "
      "= no claim. One value of printable ASCII without spaces, at most 100 bytes."},
     SetRemoteUserAcr},
    {{"login_providers", "local", "space-separated names",
      "The identity providers that may check user credentials, from local (the user store) and remote_user (the "
      "web server's REMOTE_USER); at least one, each once."},
     SetLoginProviders},
    {{"refresh_token_reuse_grace_seconds", "30", "seconds",
      "0 to 300: a rotated (OneTimeOnly) refresh token presented again this soon after its use, while its successor "
      "is unused, is one allowed retry instead of reuse (which revokes the token family); 0 disables the grace."},
     SetRefreshTokenReuseGrace},
    {{"session_lifetime_seconds", "36000", "seconds",
      "60 to 31536000: how long a login session of the authorize endpoint (its signed cookie) stays valid after the "
      "login, absolute rather than sliding; a client's UserSsoLifetime and a request's max_age can only shorten it."},
     SetSessionLifetime},
    {{"remote_user_provision", "false", "",
      "true or false: whether a remote_user login whose REMOTE_USER names no user in the store creates one (random "
      "SubjectId, Username = REMOTE_USER, the tenant remote_user_tenant_mapping gives, no password); false refuses it "
      "(access_denied)."},
     SetRemoteUserProvision},
    {{"remote_user_tenant_mapping", "fixed", "",
      "fixed or user@tenant: where the tenant of a remote_user login comes from, never the request. fixed: every "
      "REMOTE_USER is a user of remote_user_tenant. user@tenant: REMOTE_USER name@tenant is user name of tenant "
      "tenant (split at the last @); a name without @ is a user of remote_user_tenant. A tenant:NAME in acr_values "
      "that disagrees is access_denied."},
     SetRemoteUserTenantMapping},
    {{"remote_user_tenant", "", "tenant name",
      "The tenant of remote_user logins (and of users they provision) under remote_user_tenant_mapping fixed, and of "
      "names without @ under user@tenant; empty = users of no tenant. At most 100 printable ASCII bytes."},
     SetRemoteUserTenant},
    {{"login_form_tenant", "false", "",
      "true or false: whether the built-in login form asks for a tenant when acr_values carries no tenant:NAME."},
     SetLoginFormTenant},
    {{"id_token_signing_alg", "RS256", "",
      "The JWS algorithm for id_tokens of a client whose AllowedIdentityTokenSigningAlgorithms is empty: RS256 (which "
      "OpenID Connect requires every provider to support), PS256, ES256 or EdDSA."},
     SetIdTokenSigningAlg},
    {{"extension_grant", "", "GRANT_TYPE LIBRARY [ARGUMENT]",
      "A grant type served by a plug-in (include/tokenfcgi/extension_grant.h): an absolute URI that is not a built-in "
      "grant type, the absolute path of the shared library, and an optional argument for the plug-in (the rest of the "
      "line); give the key once per grant type (an empty value adds none). Loaded when a worker starts; a library "
      "that cannot be loaded stops the worker."},
     AddExtensionGrant, true},
};

const KeyDef* FindKey(std::string_view key) {
  for (const KeyDef& k : kKeys) {
    if (key == k.info.key) return &k;
  }
  return nullptr;
}

}  // namespace

bool ParseSizeValue(std::string_view text, uint64_t* bytes) { return ParseSize(text, bytes); }

std::span<const ConfigKeyInfo> ConfigKeys() {
  static const std::vector<ConfigKeyInfo> infos = [] {
    std::vector<ConfigKeyInfo> v;
    for (const KeyDef& k : kKeys) v.push_back(k.info);
    return v;
  }();
  return infos;
}

std::string Config::EndpointUrl(std::string_view path) const {
  std::string url = issuer;
  url += base_path;
  url += path;
  return url;
}

bool Config::LoginProviderEnabled(std::string_view name) const {
  for (const std::string& p : login_providers) {
    if (p == name) return true;
  }
  return false;
}

bool Config::ExtensionGrantConfigured(std::string_view grant_type) const {
  for (const ExtensionGrantConfig& g : extension_grants) {
    if (g.grant_type == grant_type) return true;
  }
  return false;
}

Result<Config> ParseConfig(std::string_view text, std::string_view source_name) {
  Config config;
  std::map<std::string, size_t, std::less<>> seen;  // key -> line first set
  const std::string source(source_name);
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    const std::string where = source + ":" + std::to_string(line_no) + ": ";
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      size_t word_end = 0;
      while (word_end < line.size() && !IsBlank(line[word_end])) ++word_end;
      return Status::InvalidArgument(where + SanitizeForLog(line.substr(0, word_end), kMaxQuotedLength) +
                                     ": missing '=' (expected key = value)");
    }
    std::string_view key = Trim(line.substr(0, eq));
    Result<std::string_view> parsed_value = ValueWithoutComment(line.substr(eq + 1));
    if (key.empty()) return Status::InvalidArgument(where + "missing key before '='");
    const KeyDef* def = FindKey(key);
    if (def == nullptr) {
      return Status::InvalidArgument(where + SanitizeForLog(key, kMaxQuotedLength) + ": unknown key");
    }
    auto it = seen.find(key);
    if (it != seen.end() && !def->repeatable) {
      return Status::InvalidArgument(where + def->info.key + ": repeated (first set on line " +
                                     std::to_string(it->second) + ")");
    }
    if (!parsed_value.ok()) {
      return Status::InvalidArgument(where + def->info.key + ": " + parsed_value.status().message());
    }
    std::string_view value = *parsed_value;
    seen.emplace(std::string(key), line_no);
    std::string err = def->set(value, &config);
    if (!err.empty()) return Status::InvalidArgument(where + def->info.key + ": " + err);
  }
  if (static_cast<uint64_t>(config.password_hash_memory_kib) < 8ull * config.password_hash_parallelism) {
    // Argon2 needs 8 KiB per lane. Report it on the memory line, or on the parallelism line if memory was not set.
    auto it = seen.find("password_hash_memory_kib");
    const bool memory_set = it != seen.end();
    if (!memory_set) it = seen.find("password_hash_parallelism");
    const size_t line = it != seen.end() ? it->second : 0;
    return Status::InvalidArgument(
        source + ":" + std::to_string(line) + ": " +
        (memory_set ? "password_hash_memory_kib" : "password_hash_parallelism") +
        ": password_hash_memory_kib must be at least 8 x password_hash_parallelism (" +
        std::to_string(8ull * config.password_hash_parallelism) + "), got " +
        std::to_string(config.password_hash_memory_kib));
  }
  if (config.issuer.empty()) {
    return Status::InvalidArgument(source + ": issuer: missing; it is required (e.g. issuer = https://id.example.com)");
  }
  return config;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Status::NotFound(path + ": cannot open configuration file: " + std::strerror(err));
  }
  std::string text;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigFileBytes) {
      return Status::InvalidArgument(path + ": configuration file is larger than 1 MiB");
    }
  }
  if (in.bad()) return Status::IOError(path + ": cannot read configuration file");
  return ParseConfig(text, path);
}

std::string DefaultConfigPath(const char* command_line_value) {
  if (command_line_value != nullptr && command_line_value[0] != '\0') return command_line_value;
  const char* env = std::getenv("TOKENFCGI_CONFIG");
  if (env != nullptr && env[0] != '\0') return env;
  return "/etc/tokenfcgi/tokenfcgi.conf";
}

}  // namespace tf
