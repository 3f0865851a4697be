#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "config/config_keys.h"
#include "store/store.h"
#include "test_paths.h"

namespace tf {
namespace {

constexpr char kIssuer[] = "issuer = https://id.example.com\n";

Result<Config> Parse(const std::string& text) { return ParseConfig(text, "t.conf"); }

// Parses issuer + one `key = value` line (on line 2) and returns the error message, or "" on success.
std::string ErrorFor(const std::string& key, const std::string& value) {
  Result<Config> c = Parse(std::string(kIssuer) + key + " = " + value + "\n");
  return c.ok() ? "" : c.status().message();
}

Config ParseOk(const std::string& text) {
  Result<Config> c = Parse(text);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : Config{};
}

Config With(const std::string& key, const std::string& value) {
  return ParseOk(std::string(kIssuer) + key + " = " + value + "\n");
}

void ExpectBad(const std::string& key, const std::string& value, const std::string& what = "") {
  std::string err = ErrorFor(key, value);
  ASSERT_FALSE(err.empty()) << key << " = " << value << " was accepted";
  EXPECT_EQ(err.rfind("t.conf:2: " + key + ": ", 0), 0u) << err;
  if (!what.empty()) {
    EXPECT_NE(err.find(what), std::string::npos) << err;
  }
}

TEST(ConfigTest, DefaultsWhenOnlyIssuerIsSet) {
  Config c = ParseOk(kIssuer);
  Config d;
  EXPECT_EQ(c.issuer, "https://id.example.com");
  EXPECT_EQ(c.database, "/var/lib/tokenfcgi");
  EXPECT_EQ(c.map_size, 1ull << 30);
  EXPECT_EQ(c.max_readers, 126u);
  EXPECT_FALSE(c.lmdb_meta_async);
  EXPECT_EQ(c.max_body_bytes, 64u * 1024);
  EXPECT_EQ(c.max_form_params, 64u);
  EXPECT_EQ(c.base_path, "");
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_EQ(c.access_token_signing_alg, "RS256");
  EXPECT_FALSE(c.scope_claim_as_array);
  EXPECT_EQ(c.realm, "tokenfcgi");
  EXPECT_EQ(c.clock_skew_seconds, 300);
  EXPECT_EQ(c.map_size, d.map_size);
  // OWASP's Argon2id minimum, ASP.NET Core Identity's lockout defaults.
  EXPECT_EQ(c.password_hash_memory_kib, 19456u);
  EXPECT_EQ(c.password_hash_iterations, 2u);
  EXPECT_EQ(c.password_hash_parallelism, 1u);
  EXPECT_EQ(c.lockout_max_failures, 5u);
  EXPECT_EQ(c.lockout_seconds, 300);
  EXPECT_FALSE(c.acr_claim);
  EXPECT_EQ(c.login_providers, std::vector<std::string>{"local"});
  EXPECT_TRUE(c.LoginProviderEnabled("local"));
  EXPECT_FALSE(c.LoginProviderEnabled("remote_user"));
  EXPECT_EQ(c.refresh_token_reuse_grace_seconds, 30);
  EXPECT_EQ(c.session_lifetime_seconds, 36000);  // IdentityServer's 10-hour cookie
  EXPECT_FALSE(c.remote_user_provision);
  EXPECT_FALSE(c.login_form_tenant);
  EXPECT_EQ(c.id_token_signing_alg, "RS256");    // the one OpenID Connect requires
}

TEST(ConfigTest, TableDefaultsEqualStructDefaults) {
  // Writing every documented default explicitly must give the same Config as writing nothing.
  std::string text = kIssuer;
  for (const ConfigKeyInfo& k : ConfigKeys()) {
    if (std::string(k.key) == "issuer") continue;
    text += std::string(k.key) + " = \"" + k.default_value + "\"\n";
  }
  Config a = ParseOk(text);
  Config b = ParseOk(kIssuer);
  EXPECT_EQ(a.database, b.database);
  EXPECT_EQ(a.key_encryption_key_file, b.key_encryption_key_file);
  EXPECT_EQ(a.map_size, b.map_size);
  EXPECT_EQ(a.max_readers, b.max_readers);
  EXPECT_EQ(a.lmdb_meta_async, b.lmdb_meta_async);
  EXPECT_EQ(a.max_body_bytes, b.max_body_bytes);
  EXPECT_EQ(a.max_form_params, b.max_form_params);
  EXPECT_EQ(a.base_path, b.base_path);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.access_token_signing_alg, b.access_token_signing_alg);
  EXPECT_EQ(a.scope_claim_as_array, b.scope_claim_as_array);
  EXPECT_EQ(a.realm, b.realm);
  EXPECT_EQ(a.clock_skew_seconds, b.clock_skew_seconds);
  EXPECT_EQ(a.password_hash_memory_kib, b.password_hash_memory_kib);
  EXPECT_EQ(a.password_hash_iterations, b.password_hash_iterations);
  EXPECT_EQ(a.password_hash_parallelism, b.password_hash_parallelism);
  EXPECT_EQ(a.password_hash_concurrency, b.password_hash_concurrency);
  EXPECT_EQ(a.password_hash_wait_ms, b.password_hash_wait_ms);
  EXPECT_EQ(a.password_min_length, b.password_min_length);
  EXPECT_EQ(a.lockout_max_failures, b.lockout_max_failures);
  EXPECT_EQ(a.lockout_seconds, b.lockout_seconds);
  EXPECT_EQ(a.acr_claim, b.acr_claim);
  EXPECT_EQ(a.local_acr, b.local_acr);
  EXPECT_EQ(a.remote_user_acr, b.remote_user_acr);
  EXPECT_EQ(a.session_lifetime_seconds, b.session_lifetime_seconds);
  EXPECT_EQ(a.remote_user_provision, b.remote_user_provision);
  EXPECT_EQ(a.remote_user_tenant_mapping, b.remote_user_tenant_mapping);
  EXPECT_EQ(a.remote_user_tenant, b.remote_user_tenant);
  EXPECT_EQ(a.login_form_tenant, b.login_form_tenant);
  EXPECT_EQ(a.id_token_signing_alg, b.id_token_signing_alg);
  EXPECT_EQ(a.login_providers, b.login_providers);
  EXPECT_EQ(a.refresh_token_reuse_grace_seconds, b.refresh_token_reuse_grace_seconds);
  EXPECT_TRUE(a.extension_grants.empty());
  EXPECT_TRUE(b.extension_grants.empty());
  EXPECT_EQ(a.statement_timeout_ms, b.statement_timeout_ms);
  EXPECT_EQ(ConfigKeys().size(), 35u);
}

TEST(ConfigTest, PasswordCheckConcurrencyAndWait) {
  Result<Config> c = Parse("issuer = https://a.example\npassword_hash_concurrency = 3\npassword_hash_wait_ms = 0\n");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->password_hash_concurrency, 3u);
  EXPECT_EQ(c->password_hash_wait_ms, 0);
  EXPECT_FALSE(Parse("issuer = https://a.example\npassword_hash_concurrency = 1025\n").ok());
  EXPECT_FALSE(Parse("issuer = https://a.example\npassword_hash_wait_ms = 60001\n").ok());
}

TEST(ConfigTest, IssuerIsRequired) {
  Result<Config> c = Parse("# nothing\nlog_level = debug\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("t.conf: issuer: missing", 0), 0u) << c.status().message();
  EXPECT_FALSE(Parse("").ok());
}

TEST(ConfigTest, IssuerValid) {
  for (const char* v : {"https://id.example.com", "https://id.example.com:8443", "https://example.com/identity",
                        "https://[2001:db8::1]:443", "http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000",
                        "http://LOCALHOST:1", "https://a/b/c"}) {
    EXPECT_EQ(ParseOk(std::string("issuer = ") + v + "\n").issuer, v);
  }
}

TEST(ConfigTest, IssuerInvalid) {
  auto bad = [](const std::string& v, const std::string& what) {
    Result<Config> c = Parse("issuer = " + v + "\n");
    ASSERT_FALSE(c.ok()) << v;
    EXPECT_EQ(c.status().message().rfind("t.conf:1: issuer: ", 0), 0u) << c.status().message();
    EXPECT_NE(c.status().message().find(what), std::string::npos) << c.status().message();
  };
  bad("http://id.example.com", "https");
  bad("http://10.0.0.1:8080", "https");
  bad("http://127.0.0.2", "https");
  bad("ftp://id.example.com", "https://");
  bad("id.example.com", "https://");
  bad("HTTPS://id.example.com", "https://");
  bad("https://id.example.com/", "'/'");
  bad("https://id.example.com/path/", "'/'");
  bad("https://id.example.com?x=1", "query");
  bad("https://id.example.com/#frag", "fragment");
  bad("https://", "no host");
  bad("https://:443", "no host");
  bad("https://user@id.example.com", "user info");
  bad("https://id.example.com:0", "port");
  bad("https://id.example.com:70000", "port");
  bad("https://id.example.com:", "port");
  bad("https://id.exa_mple.com", "host");
  bad("https://[::1", "IPv6");
  bad("https://id.example.com/a b", "printable");
  bad("\"\"", "empty");
}

TEST(ConfigTest, Database) {
  EXPECT_EQ(With("database", "/srv/tokenfcgi/db").database, "/srv/tokenfcgi/db");
  ExpectBad("database", "\"\"", "empty");
  EXPECT_EQ(With("key_encryption_key_file", "/etc/tokenfcgi/kek").key_encryption_key_file, "/etc/tokenfcgi/kek");
  EXPECT_EQ(With("key_encryption_key_file", "\"\"").key_encryption_key_file, "");
  ExpectBad("key_encryption_key_file", "etc/kek", "absolute");
  // A connection URI is kept as written: the store chooses PostgreSQL by its prefix (store::OpenStore).
  EXPECT_EQ(With("database", "postgresql://tf@db.example/tokenfcgi?sslmode=require").database,
            "postgresql://tf@db.example/tokenfcgi?sslmode=require");
}

TEST(ConfigTest, StatementTimeout) {
  EXPECT_EQ(With("statement_timeout", "250").statement_timeout_ms, 250);
  ExpectBad("statement_timeout", "0", "");
  ExpectBad("statement_timeout", "600001", "");
}

TEST(ConfigTest, MapSize) {
  EXPECT_EQ(With("map_size", "1M").map_size, 1ull << 20);
  EXPECT_EQ(With("map_size", "1048576").map_size, 1048576u);
  EXPECT_EQ(With("map_size", "512m").map_size, 512ull << 20);
  EXPECT_EQ(With("map_size", "2G").map_size, 2ull << 30);
  EXPECT_EQ(With("map_size", "1T").map_size, 1ull << 40);
  EXPECT_EQ(With("map_size", "2048K").map_size, 2ull << 20);
  ExpectBad("map_size", "1048575", "1M");
  ExpectBad("map_size", "1023K", "1M");
  ExpectBad("map_size", "0", "1M");
  ExpectBad("map_size", "1X", "not a size");
  ExpectBad("map_size", "-1G", "not a size");
  ExpectBad("map_size", "1.5G", "not a size");
  ExpectBad("map_size", "G", "not a size");
  ExpectBad("map_size", "99999999999T", "not a size");         // overflows 64 bits
  ExpectBad("map_size", "99999999999999999999999", "not a size");
}

TEST(ConfigTest, MaxReaders) {
  EXPECT_EQ(With("max_readers", "1").max_readers, 1u);
  EXPECT_EQ(With("max_readers", "65535").max_readers, 65535u);
  ExpectBad("max_readers", "0", "1 to 65535");
  ExpectBad("max_readers", "65536", "1 to 65535");
  ExpectBad("max_readers", "+5", "not a whole number");
  ExpectBad("max_readers", "12a", "not a whole number");
}

TEST(ConfigTest, LmdbSync) {
  EXPECT_FALSE(With("lmdb_sync", "full").lmdb_meta_async);
  EXPECT_TRUE(With("lmdb_sync", "meta-async").lmdb_meta_async);
  ExpectBad("lmdb_sync", "none", "full or meta-async");
  ExpectBad("lmdb_sync", "Full", "full or meta-async");
  ExpectBad("lmdb_sync", "", "full or meta-async");
  EXPECT_TRUE(store::StoreOptionsFromConfig(With("lmdb_sync", "meta-async")).meta_async);
  EXPECT_FALSE(store::StoreOptionsFromConfig(With("lmdb_sync", "full")).meta_async);
}

// The worker and tokenctl open the store with these options, so every process gets the same map size and readers.
TEST(ConfigTest, StoreOptionsFromConfig) {
  const Config c = ParseOk(std::string(kIssuer) + "database = /srv/db\nmap_size = 2G\nmax_readers = 300\n");
  const store::StoreOptions o = store::StoreOptionsFromConfig(c);
  EXPECT_EQ(o.path, "/srv/db");
  EXPECT_EQ(o.map_size, 2ull << 30);
  EXPECT_EQ(o.max_readers, 300u);
  EXPECT_EQ(o.statement_timeout_ms, 5000);
  EXPECT_EQ(store::StoreOptionsFromConfig(ParseOk(std::string(kIssuer) + "statement_timeout = 750\n"))
                .statement_timeout_ms,
            750);
  EXPECT_FALSE(o.create);
  EXPECT_FALSE(o.read_only);
}

TEST(ConfigTest, MaxBodyBytes) {
  EXPECT_EQ(With("max_body_bytes", "1K").max_body_bytes, 1024u);
  EXPECT_EQ(With("max_body_bytes", "1024").max_body_bytes, 1024u);
  EXPECT_EQ(With("max_body_bytes", "16M").max_body_bytes, 16u << 20);
  ExpectBad("max_body_bytes", "1023", "1K");
  ExpectBad("max_body_bytes", "16777217", "16M");
  ExpectBad("max_body_bytes", "1G", "16M");
  ExpectBad("max_body_bytes", "lots", "not a size");
}

TEST(ConfigTest, MaxFormParams) {
  EXPECT_EQ(With("max_form_params", "1").max_form_params, 1u);
  EXPECT_EQ(With("max_form_params", "1000").max_form_params, 1000u);
  ExpectBad("max_form_params", "0", "1 to 1000");
  ExpectBad("max_form_params", "1001", "1 to 1000");
}

TEST(ConfigTest, BasePath) {
  EXPECT_EQ(With("base_path", "/auth").base_path, "/auth");
  EXPECT_EQ(With("base_path", "/a/b").base_path, "/a/b");
  EXPECT_EQ(With("base_path", "\"\"").base_path, "");
  EXPECT_EQ(With("base_path", "").base_path, "");
  ExpectBad("base_path", "/", "'/'");
  ExpectBad("base_path", "/auth/", "'/'");
  ExpectBad("base_path", "auth", "start with '/'");
  ExpectBad("base_path", "/a?b", "'?'");
  ExpectBad("base_path", "/a b", "printable");
}

TEST(ConfigTest, LogLevel) {
  EXPECT_EQ(With("log_level", "error").log_level, LogLevel::kError);
  EXPECT_EQ(With("log_level", "warn").log_level, LogLevel::kWarn);
  EXPECT_EQ(With("log_level", "info").log_level, LogLevel::kInfo);
  EXPECT_EQ(With("log_level", "debug").log_level, LogLevel::kDebug);
  ExpectBad("log_level", "verbose", "error, warn, info, debug");
  ExpectBad("log_level", "INFO", "error, warn, info, debug");
}

TEST(ConfigTest, AccessTokenSigningAlg) {
  for (const char* alg : {"RS256", "PS256", "ES256", "EdDSA"}) {
    EXPECT_EQ(With("access_token_signing_alg", alg).access_token_signing_alg, alg);
  }
  ExpectBad("access_token_signing_alg", "HS256", "RS256, PS256, ES256, EdDSA");
  ExpectBad("access_token_signing_alg", "rs256");
  ExpectBad("access_token_signing_alg", "none");
}

TEST(ConfigTest, ScopeClaimFormat) {
  EXPECT_FALSE(With("scope_claim_format", "string").scope_claim_as_array);
  EXPECT_TRUE(With("scope_claim_format", "array").scope_claim_as_array);
  ExpectBad("scope_claim_format", "list", "string or array");
}

TEST(ConfigTest, Realm) {
  EXPECT_EQ(With("realm", "My Realm 1").realm, "My Realm 1");
  EXPECT_EQ(With("realm", "\"quoted value\"").realm, "quoted value");
  ExpectBad("realm", "a\"b", "'\"'");
  ExpectBad("realm", "a\\b", "'\"'");
  ExpectBad("realm", "caf\xc3\xa9", "printable");
  ExpectBad("realm", "\"\"", "1 to 128");
  ExpectBad("realm", std::string(129, 'r'), "1 to 128");
}

TEST(ConfigTest, ClockSkewSeconds) {
  EXPECT_EQ(With("clock_skew_seconds", "0").clock_skew_seconds, 0);
  EXPECT_EQ(With("clock_skew_seconds", "3600").clock_skew_seconds, 3600);
  ExpectBad("clock_skew_seconds", "3601", "0 to 3600");
  ExpectBad("clock_skew_seconds", "-1", "not a whole number");
}

TEST(ConfigTest, PasswordHashMemoryKib) {
  EXPECT_EQ(With("password_hash_memory_kib", "8").password_hash_memory_kib, 8u);
  EXPECT_EQ(With("password_hash_memory_kib", "65536").password_hash_memory_kib, 65536u);
  EXPECT_EQ(With("password_hash_memory_kib", "4194304").password_hash_memory_kib, 4194304u);
  ExpectBad("password_hash_memory_kib", "7", "8 to 4194304");
  ExpectBad("password_hash_memory_kib", "4194305", "8 to 4194304");
  ExpectBad("password_hash_memory_kib", "19M", "not a whole number");
  ExpectBad("password_hash_memory_kib", "-1", "not a whole number");
}

TEST(ConfigTest, PasswordHashIterations) {
  EXPECT_EQ(With("password_hash_iterations", "1").password_hash_iterations, 1u);
  EXPECT_EQ(With("password_hash_iterations", "100").password_hash_iterations, 100u);
  ExpectBad("password_hash_iterations", "0", "1 to 100");
  ExpectBad("password_hash_iterations", "101", "1 to 100");
}

TEST(ConfigTest, PasswordHashParallelism) {
  EXPECT_EQ(With("password_hash_parallelism", "1").password_hash_parallelism, 1u);
  EXPECT_EQ(With("password_hash_parallelism", "64").password_hash_parallelism, 64u);
  ExpectBad("password_hash_parallelism", "0", "1 to 64");
  ExpectBad("password_hash_parallelism", "65", "1 to 64");
}

TEST(ConfigTest, PasswordHashMemoryMustCoverEveryLane) {
  // Argon2 needs 8 KiB per lane: 4 lanes need 32 KiB.
  Config ok = ParseOk(std::string(kIssuer) + "password_hash_memory_kib = 32\npassword_hash_parallelism = 4\n");
  EXPECT_EQ(ok.password_hash_memory_kib, 32u);
  EXPECT_EQ(ok.password_hash_parallelism, 4u);
  Result<Config> c = Parse(std::string(kIssuer) + "password_hash_parallelism = 4\npassword_hash_memory_kib = 31\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "t.conf:3: password_hash_memory_kib: password_hash_memory_kib must be at least 8 x "
            "password_hash_parallelism (32), got 31");
  // The default memory (19456 KiB) covers the largest parallelism (64 lanes need 512 KiB).
  EXPECT_EQ(With("password_hash_parallelism", "64").password_hash_memory_kib, 19456u);
}

TEST(ConfigTest, PasswordMinLength) {
  EXPECT_EQ(ParseOk(kIssuer).password_min_length, 8u);
  EXPECT_EQ(With("password_min_length", "1").password_min_length, 1u);
  EXPECT_EQ(With("password_min_length", "100").password_min_length, 100u);
  ExpectBad("password_min_length", "0");
  ExpectBad("password_min_length", "101");
}

TEST(ConfigTest, LockoutMaxFailures) {
  EXPECT_EQ(With("lockout_max_failures", "0").lockout_max_failures, 0u);  // lockout disabled
  EXPECT_EQ(With("lockout_max_failures", "1000").lockout_max_failures, 1000u);
  ExpectBad("lockout_max_failures", "1001", "0 to 1000");
  ExpectBad("lockout_max_failures", "five", "not a whole number");
}

TEST(ConfigTest, LockoutSeconds) {
  EXPECT_EQ(With("lockout_seconds", "1").lockout_seconds, 1);
  EXPECT_EQ(With("lockout_seconds", "86400").lockout_seconds, 86400);
  ExpectBad("lockout_seconds", "0", "1 to 86400");
  ExpectBad("lockout_seconds", "86401", "1 to 86400");
  ExpectBad("lockout_seconds", "5m", "not a whole number");
}

TEST(ConfigTest, RefreshTokenReuseGraceSeconds) {
  EXPECT_EQ(With("refresh_token_reuse_grace_seconds", "0").refresh_token_reuse_grace_seconds, 0);
  EXPECT_EQ(With("refresh_token_reuse_grace_seconds", "300").refresh_token_reuse_grace_seconds, 300);
  ExpectBad("refresh_token_reuse_grace_seconds", "301", "0 to 300");
  ExpectBad("refresh_token_reuse_grace_seconds", "-1", "not a whole number");
  ExpectBad("refresh_token_reuse_grace_seconds", "5s", "not a whole number");
}

TEST(ConfigTest, SessionLifetimeSeconds) {
  EXPECT_EQ(With("session_lifetime_seconds", "60").session_lifetime_seconds, 60);
  EXPECT_EQ(With("session_lifetime_seconds", "31536000").session_lifetime_seconds, 31536000);
  EXPECT_EQ(With("session_lifetime_seconds", "\"3600\"").session_lifetime_seconds, 3600);
  ExpectBad("session_lifetime_seconds", "59", "60 to 31536000");
  ExpectBad("session_lifetime_seconds", "31536001", "60 to 31536000");
  ExpectBad("session_lifetime_seconds", "0", "60 to 31536000");
  ExpectBad("session_lifetime_seconds", "-60", "not a whole number");
  ExpectBad("session_lifetime_seconds", "10h", "not a whole number");
  ExpectBad("session_lifetime_seconds", "\"\"", "not a whole number");
}

TEST(ConfigTest, RemoteUserProvisionAndLoginFormTenant) {
  EXPECT_TRUE(With("remote_user_provision", "true").remote_user_provision);
  EXPECT_FALSE(With("remote_user_provision", "false").remote_user_provision);
  EXPECT_FALSE(With("remote_user_provision", "true").login_form_tenant);  // each key sets only its own field
  EXPECT_TRUE(With("login_form_tenant", "true").login_form_tenant);
  EXPECT_FALSE(With("login_form_tenant", "false").login_form_tenant);
  EXPECT_FALSE(With("login_form_tenant", "true").remote_user_provision);
  for (const char* key : {"remote_user_provision", "login_form_tenant"}) {
    ExpectBad(key, "yes", "true or false; got 'yes'");
    ExpectBad(key, "True", "true or false");
    ExpectBad(key, "1", "true or false");
    ExpectBad(key, "\"\"", "true or false");
  }
}

TEST(ConfigTest, IdTokenSigningAlg) {
  for (const char* alg : {"RS256", "PS256", "ES256", "EdDSA"}) {
    Config c = With("id_token_signing_alg", alg);
    EXPECT_EQ(c.id_token_signing_alg, alg);
    EXPECT_EQ(c.access_token_signing_alg, "RS256");  // independent of the access token's algorithm
  }
  EXPECT_EQ(With("access_token_signing_alg", "ES256").id_token_signing_alg, "RS256");
  ExpectBad("id_token_signing_alg", "HS256", "one of RS256, PS256, ES256, EdDSA; got 'HS256'");
  ExpectBad("id_token_signing_alg", "none", "one of RS256, PS256, ES256, EdDSA");
  ExpectBad("id_token_signing_alg", "rs256", "one of RS256, PS256, ES256, EdDSA");
  ExpectBad("id_token_signing_alg", "Ed25519", "one of RS256, PS256, ES256, EdDSA");
  ExpectBad("id_token_signing_alg", "\"\"", "one of RS256, PS256, ES256, EdDSA");
}

TEST(ConfigTest, AcrClaim) {
  EXPECT_TRUE(With("acr_claim", "true").acr_claim);
  EXPECT_FALSE(With("acr_claim", "false").acr_claim);
  ExpectBad("acr_claim", "yes", "true or false");
  ExpectBad("acr_claim", "TRUE", "true or false");
  ExpectBad("acr_claim", "1", "true or false");
  ExpectBad("acr_claim", "\"\"", "true or false");
}

TEST(ConfigTest, ProviderAcrValues) {
  EXPECT_EQ(Config().local_acr, "1");
  EXPECT_EQ(Config().remote_user_acr, "");
  EXPECT_EQ(With("local_acr", "urn:example:pwd").local_acr, "urn:example:pwd");
  EXPECT_EQ(With("remote_user_acr", "2").remote_user_acr, "2");
  EXPECT_EQ(With("local_acr", "\"\"").local_acr, "");
  ExpectBad("local_acr", "\"a b\"", "without spaces");
  ExpectBad("remote_user_acr", std::string(101, 'a'), "at most 100 bytes");
}

TEST(ConfigTest, LoginProviders) {
  EXPECT_EQ(With("login_providers", "local").login_providers, std::vector<std::string>{"local"});
  Config both = With("login_providers", "remote_user  local");
  EXPECT_EQ(both.login_providers, (std::vector<std::string>{"remote_user", "local"}));
  EXPECT_TRUE(both.LoginProviderEnabled("remote_user"));
  EXPECT_TRUE(both.LoginProviderEnabled("local"));
  Config remote = With("login_providers", "\"remote_user\"");
  EXPECT_EQ(remote.login_providers, std::vector<std::string>{"remote_user"});
  EXPECT_FALSE(remote.LoginProviderEnabled("local"));
  EXPECT_FALSE(remote.LoginProviderEnabled("Local"));
  ExpectBad("login_providers", "ldap", "unknown provider 'ldap'");
  ExpectBad("login_providers", "local LOCAL", "unknown provider 'LOCAL'");
  ExpectBad("login_providers", "local,remote_user", "unknown provider 'local,remote_user'");
  ExpectBad("login_providers", "local local", "listed twice");
  ExpectBad("login_providers", "\"\"", "at least one");
  ExpectBad("login_providers", "\"  \"", "at least one");
}

TEST(ConfigTest, UnknownKey) {
  Result<Config> c = Parse(std::string(kIssuer) + "\n# comment\nmax_body = 5\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "t.conf:4: max_body: unknown key");
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
}

TEST(ConfigTest, KeysAreCaseSensitive) {
  EXPECT_EQ(ErrorFor("Log_Level", "info"), "t.conf:2: Log_Level: unknown key");
}

TEST(ConfigTest, RepeatedKey) {
  Result<Config> c = Parse(std::string(kIssuer) + "log_level = info\n\nlog_level = info\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "t.conf:4: log_level: repeated (first set on line 2)");
  Result<Config> i = Parse(std::string(kIssuer) + kIssuer);
  ASSERT_FALSE(i.ok());
  EXPECT_EQ(i.status().message(), "t.conf:2: issuer: repeated (first set on line 1)");
}

TEST(ConfigTest, MissingEquals) {
  Result<Config> c = Parse(std::string(kIssuer) + "\n\n  log_level info\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "t.conf:4: log_level: missing '=' (expected key = value)");
  Result<Config> k = Parse(std::string(kIssuer) + " = info\n");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().message(), "t.conf:2: missing key before '='");
}

TEST(ConfigTest, BadValueNamesLineAndKey) {
  Result<Config> c = Parse("# header\n\n" + std::string(kIssuer) + "map_size = x\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "t.conf:4: map_size: not a size (a number of bytes, optionally with K, M, G or T): 'x'");
}

TEST(ConfigTest, CommentsBlankLinesWhitespaceAndCrLf) {
  Config c = ParseOk(
      "# a comment\r\n"
      "\r\n"
      "   # an indented comment with = sign\n"
      "\t\n"
      "  issuer\t=   https://id.example.com  \r\n"
      "log_level=debug\n"
      "realm = a # b\n");  // a blank then '#' starts an end-of-line comment
  EXPECT_EQ(c.issuer, "https://id.example.com");
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.realm, "a");
}

TEST(ConfigTest, EndOfLineComments) {
  EXPECT_EQ(With("database", "/var/lib/x   # note").database, "/var/lib/x");
  EXPECT_EQ(With("database", "/var/lib/x\t# note").database, "/var/lib/x");
  EXPECT_EQ(With("realm", "a#b").realm, "a#b");               // no blank before '#': part of the value
  EXPECT_EQ(With("realm", "\"a # b\"  # why").realm, "a # b");  // quoted: kept, comment after it dropped
  EXPECT_EQ(With("base_path", "\"\" # none").base_path, "");
  Result<Config> bad = Parse(std::string(kIssuer) + "realm = \"a\" b\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("t.conf:2: realm: text after the closing"), std::string::npos)
      << bad.status().message();
  Result<Config> open_quote = Parse(std::string(kIssuer) + "realm = \"a\n");
  ASSERT_FALSE(open_quote.ok());
  EXPECT_NE(open_quote.status().message().find("missing closing"), std::string::npos);
}

TEST(ConfigTest, ValueMayContainEquals) {
  EXPECT_EQ(With("realm", "a=b").realm, "a=b");
}

TEST(ConfigTest, MessagesAreSanitised) {
  std::string err = ErrorFor("realm", "bad\x01\"value");
  EXPECT_EQ(err.find('\x01'), std::string::npos) << err;
  std::string long_key(500, 'k');
  err = ErrorFor(long_key, "1");
  EXPECT_LT(err.size(), 120u) << err;
}

TEST(ConfigTest, EndpointUrl) {
  Config c = ParseOk(kIssuer);
  EXPECT_EQ(c.EndpointUrl("/connect/token"), "https://id.example.com/connect/token");
  Config b = ParseOk(std::string("issuer = https://example.com/id\nbase_path = /auth\n"));
  EXPECT_EQ(b.EndpointUrl("/connect/token"), "https://example.com/id/auth/connect/token");
  EXPECT_EQ(b.EndpointUrl("/.well-known/openid-configuration/jwks"),
            "https://example.com/id/auth/.well-known/openid-configuration/jwks");
}

TEST(ConfigTest, DefaultConfigPathPrecedence) {
  const char* saved = getenv("TOKENFCGI_CONFIG");
  std::string saved_value = saved ? saved : "";
  unsetenv("TOKENFCGI_CONFIG");
  EXPECT_EQ(DefaultConfigPath(nullptr), "/etc/tokenfcgi/tokenfcgi.conf");
  EXPECT_EQ(DefaultConfigPath(""), "/etc/tokenfcgi/tokenfcgi.conf");
  setenv("TOKENFCGI_CONFIG", "/env/t.conf", 1);
  EXPECT_EQ(DefaultConfigPath(nullptr), "/env/t.conf");
  EXPECT_EQ(DefaultConfigPath("/arg/t.conf"), "/arg/t.conf");
  setenv("TOKENFCGI_CONFIG", "", 1);
  EXPECT_EQ(DefaultConfigPath(nullptr), "/etc/tokenfcgi/tokenfcgi.conf");
  if (saved) {
    setenv("TOKENFCGI_CONFIG", saved_value.c_str(), 1);
  } else {
    unsetenv("TOKENFCGI_CONFIG");
  }
}

TEST(ConfigTest, LoadConfigReadsFileAndNamesIt) {
  std::string path = ::testing::TempDir() + "config_test_load.conf";
  {
    std::ofstream out(path);
    out << kIssuer << "max_readers = nope\n";
  }
  Result<Config> c = LoadConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind(path + ":2: max_readers: ", 0), 0u) << c.status().message();
  {
    std::ofstream out(path);
    out << kIssuer << "max_readers = 7\n";
  }
  Result<Config> ok = LoadConfig(path);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->max_readers, 7u);
  std::remove(path.c_str());

  Result<Config> missing = LoadConfig(path + ".does-not-exist");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
}

// The shipped sample documents every key of the table with the table's default, and parses.
TEST(ConfigTest, SampleConfigDocumentsEveryKeyWithItsDefault) {
  // test_paths.h, not __FILE__: a package build maps source paths to "." (-ffile-prefix-map).
  std::string path = std::string(test_paths::SourceDir()) + "/conf/tokenfcgi.conf";
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  ASSERT_TRUE(LoadConfig(path).ok()) << LoadConfig(path).status().ToString();

  // Uncomment every "# key = value" line: the result must parse and give the documented defaults.
  std::string uncommented;
  std::set<std::string> mentioned;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    for (const ConfigKeyInfo& k : ConfigKeys()) {
      std::string key = k.key;
      std::string value = k.default_value[0] ? k.default_value : "\"\"";
      if (line == "# " + key + " = " + value) {
        mentioned.insert(key);
        line = line.substr(2);
      } else if (line.rfind(key + " = ", 0) == 0) {
        mentioned.insert(key);
      }
    }
    uncommented += line + "\n";
  }
  for (const ConfigKeyInfo& k : ConfigKeys()) {
    EXPECT_TRUE(mentioned.count(k.key)) << "conf/tokenfcgi.conf does not show '" << k.key << " = "
                                        << k.default_value << "'";
  }
  Result<Config> all = ParseConfig(uncommented, "sample");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->issuer, "http://127.0.0.1:8080");
  Config d;
  EXPECT_EQ(all->map_size, d.map_size);
  EXPECT_EQ(all->max_body_bytes, d.max_body_bytes);
  EXPECT_EQ(all->realm, d.realm);
  EXPECT_EQ(all->password_hash_memory_kib, d.password_hash_memory_kib);
  EXPECT_EQ(all->lockout_max_failures, d.lockout_max_failures);
  EXPECT_EQ(all->login_providers, d.login_providers);
}

}  // namespace
}  // namespace tf
