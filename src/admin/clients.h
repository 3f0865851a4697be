// Client administration behind `tokenctl client ...`, and `tokenctl init`. Each change is one store Update.
//
// Secrets: tokenctl stores only store::HashSecret(secret) = base64(SHA-256(secret)), the form IdentityServer stores;
// a generated secret is 32 random bytes in base64url (43 characters, unreserved characters only, so clients that
// forget to form-encode Basic credentials still work) and is returned to the caller to be shown once.
//
// Thread-compatible: no state besides the store, which serialises writers itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "store/records.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::admin {

struct NewClient {
  std::string client_id;
  std::string client_name;
  bool is_public = false;                    // RequireClientSecret = false
  std::vector<std::string> grant_types;      // AllowedGrantTypes
  std::vector<std::string> scopes;           // AllowedScopes
  std::optional<int64_t> access_token_lifetime;  // seconds; IdentityServer's default (3600) when absent
  std::vector<store::Secret> secrets;        // already hashed
  std::vector<std::string> extension_grant_types;  // served by configured plug-ins: known
  std::vector<std::string> redirect_uris;              // RedirectUris
  std::vector<std::string> post_logout_redirect_uris;  // PostLogoutRedirectUris
  std::vector<std::string> cors_origins;               // AllowedCorsOrigins
  bool allow_offline_access = false;                   // AllowOfflineAccess (refresh tokens)
};

// Adds a client. AlreadyExists if the id is taken; InvalidArgument for a bad id, lifetime, URI or CORS origin, a
// secret on a public client, or a grant type that is neither known (names.h) nor one of extension_grant_types (the
// message lists the known ones). `warnings` receives notes that do not stop the change (scope unknown to the store,
// a confidential client without a secret, a public client allowed client_credentials).
Result<store::Client> AddClient(store::Store& store, const NewClient& spec, std::vector<std::string>* warnings);

Status RemoveClient(store::Store& store, std::string_view client_id);        // NotFound if absent
Result<store::Client> GetClient(store::Store& store, std::string_view client_id);
Result<std::vector<store::Client>> ListClients(store::Store& store);

// A new secret: 32 random bytes, base64url (43 unreserved characters).
std::string GenerateClientSecret();

struct NewSecret {
  std::string secret;                 // the plain secret; only its hash is stored
  std::string description;
  std::optional<int64_t> expiration;  // Unix seconds
};
// Appends HashSecret(secret) to the client's ClientSecrets. InvalidArgument for an empty or over-long secret or an
// expiration not in the future; NotFound for an unknown client; Conflict for a public client; AlreadyExists if the
// client already has this secret. `warnings` receives a note for a short (guessable) secret.
Status AddClientSecret(store::Store& store, std::string_view client_id, const NewSecret& secret, const Clock& clock,
                       std::vector<std::string>* warnings);

// `tokenctl init`: opens (creating if missing) the database directory and databases, and makes a current signing key
// for config.access_token_signing_alg unless one exists. Running it again changes nothing. With make_keys false
// (`tokenctl init --no-key`) no key is made: the operator imports existing keys with `tokenctl key import`.
// With key_encryption_key_file set, it creates that file when missing (refusing when the database already holds
// sealed keys, which need the key they were sealed with), seals the keys it makes, and seals the session key of a
// database it creates.
struct InitReport {
  bool created_database = false;                // data.mdb did not exist before
  std::optional<store::KeyRecord> created_key;  // the key made now, if any
  std::string current_kid;                      // the current key for the configured algorithm
  std::string alg;
  // The key made now for config id_token_signing_alg when it differs from access_token_signing_alg and had no
  // current key (OpenID Connect logins would otherwise fail with 500 until one is generated).
  std::optional<store::KeyRecord> created_id_token_key;
  // key_encryption_key_file was configured and missing, and was created now (admin/keys_at_rest.h).
  bool created_key_encryption_key_file = false;
  // Keys stored in clear while a key-encryption key is configured (an older database): tokenctl key encrypt.
  bool keys_in_clear = false;
};
Result<InitReport> Init(const Config& config, const Clock& clock, bool make_keys = true);

}  // namespace tf::admin
