#include "admin/clients.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <utility>

#include "admin/database_owner.h"
#include "admin/keys_at_rest.h"
#include "admin/keys.h"
#include "admin/names.h"
#include "store/pg_store.h"
#include "admin/session.h"
#include "token/jws.h"
#include "util/cjson_ptr.h"
#include "util/crypto.h"
#include "util/origin.h"

namespace tf::admin {
namespace {

// Short secrets are guessable offline from their single SHA-256; tokenctl's own are 43 characters.
constexpr size_t kShortSecretLength = 16;

Status ValidateClientId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("client id must not be empty");
  if (id.size() > store::kMaxClientIdLength) {
    return Status::InvalidArgument("client id is longer than " + std::to_string(store::kMaxClientIdLength) + " characters");
  }
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("client id must not contain control characters");
    }
  }
  return Status::OK();
}

// RFC 6749 §3.1.2: an absolute URI (a scheme, then ':'; custom schemes of native apps included) without a fragment,
// and nothing a browser or a log would mangle (whitespace, control characters).
Status ValidateRedirectUri(std::string_view option, std::string_view uri) {
  const size_t colon = uri.find(':');
  bool scheme_ok = colon != std::string_view::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(uri[0]));
  for (size_t i = 0; scheme_ok && i < colon; ++i) {
    const unsigned char c = static_cast<unsigned char>(uri[i]);
    scheme_ok = std::isalnum(c) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok || colon + 1 == uri.size()) {
    return Status::InvalidArgument(std::string(option) + ": not an absolute URI: '" + std::string(uri) + "'");
  }
  for (char c : uri) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(option) + ": a URI must not contain spaces or control characters");
    }
  }
  if (uri.find('#') != std::string_view::npos) {
    return Status::InvalidArgument(std::string(option) + ": a redirect URI must not have a fragment: '" +
                                   std::string(uri) + "'");
  }
  return Status::OK();
}

// Runs the record through the store's own reader, so a client made by tokenctl obeys exactly the rules an imported
// one does.
Status ValidateWithStoreRules(const store::Client& client) {
  const std::string json = store::ToJson(client);
  CJsonPtr parsed(cJSON_Parse(json.c_str()));
  if (parsed == nullptr) return Status::Internal("client record did not serialise to JSON");
  std::vector<std::string> unknown;
  auto check = store::ClientFromJson(parsed.get(), "client", &unknown);
  return check.ok() ? Status::OK() : check.status();
}

// "authorization_code, client_credentials, ...", then the configured extension grant types.
std::string KnownGrantTypeList(const std::vector<std::string>& extension_grant_types) {
  std::string out;
  for (std::string_view g : KnownGrantTypes()) out += (out.empty() ? "" : ", ") + std::string(g);
  for (const std::string& g : extension_grant_types) out += ", " + g + " (extension_grant)";
  return out;
}

}  // namespace

Result<store::Client> AddClient(store::Store& store, const NewClient& spec, std::vector<std::string>* warnings) {
  TF_RETURN_IF_ERROR(ValidateClientId(spec.client_id));
  if (spec.access_token_lifetime && *spec.access_token_lifetime <= 0) {
    return Status::InvalidArgument("access token lifetime must be a positive number of seconds");
  }
  if (spec.is_public && !spec.secrets.empty()) {
    return Status::InvalidArgument("a public client has no secret (drop --public or the secret)");
  }
  store::Client client;
  client.client_id = spec.client_id;
  client.client_name = spec.client_name;
  client.require_client_secret = !spec.is_public;
  client.allowed_grant_types = spec.grant_types;
  client.allowed_scopes = spec.scopes;
  if (spec.access_token_lifetime) client.access_token_lifetime = *spec.access_token_lifetime;
  client.client_secrets = spec.secrets;
  for (const std::string& uri : spec.redirect_uris) TF_RETURN_IF_ERROR(ValidateRedirectUri("redirect URI", uri));
  for (const std::string& uri : spec.post_logout_redirect_uris) {
    TF_RETURN_IF_ERROR(ValidateRedirectUri("post-logout redirect URI", uri));
  }
  for (const std::string& origin : spec.cors_origins) {
    std::optional<std::string> normalised = NormalizeOrigin(origin);
    if (!normalised) {
      return Status::InvalidArgument("CORS origin: not an origin (scheme://host[:port], no path, not even '/'): '" +
                                     origin + "'");
    }
    client.allowed_cors_origins.push_back(*normalised);
  }
  client.redirect_uris = spec.redirect_uris;
  client.post_logout_redirect_uris = spec.post_logout_redirect_uris;
  client.allow_offline_access = spec.allow_offline_access;
  for (const std::string& g : spec.grant_types) {
    const auto& extension = spec.extension_grant_types;
    if (!IsKnownGrantType(g) && std::find(extension.begin(), extension.end(), g) == extension.end()) {
      return Status::InvalidArgument("unknown grant type '" + g + "' (known: " + KnownGrantTypeList(extension) + ")");
    }
  }
  TF_RETURN_IF_ERROR(ValidateWithStoreRules(client));

  std::vector<std::string> notes;
  if (spec.grant_types.empty()) notes.push_back("client '" + spec.client_id + "' is allowed no grant type (--grant)");
  if (spec.is_public && std::count(spec.grant_types.begin(), spec.grant_types.end(), "client_credentials")) {
    notes.push_back("client_credentials needs a confidential client; a public client can never use it");
  }
  if (!spec.is_public && spec.secrets.empty()) {
    notes.push_back("client '" + spec.client_id + "' has no secret yet: tokenctl client secret add " +
                    spec.client_id + " --generate");
  }

  Status s = store.Update([&](store::Txn& txn) -> Status {
    auto existing = txn.GetClient(client.client_id);
    if (existing.ok()) return Status::AlreadyExists("client '" + client.client_id + "' exists already");
    if (!existing.status().IsNotFound()) return existing.status();
    std::set<std::string> known = {std::string(kOfflineAccessScope)};
    auto scopes = txn.ListApiScopes();
    if (!scopes.ok()) return scopes.status();
    for (const auto& sc : *scopes) known.insert(sc.name);
    auto ids = txn.ListIdentityResources();
    if (!ids.ok()) return ids.status();
    for (const auto& r : *ids) known.insert(r.name);
    for (const std::string& scope : client.allowed_scopes) {
      if (!known.count(scope)) {
        notes.push_back("scope '" + scope + "' is neither an ApiScope nor an IdentityResource in the store");
      }
    }
    return txn.PutClient(client);
  });
  if (!s.ok()) return s;
  if (warnings != nullptr) warnings->insert(warnings->end(), notes.begin(), notes.end());
  return client;
}

Status RemoveClient(store::Store& store, std::string_view client_id) {
  return store.Update([&](store::Txn& txn) -> Status {
    Status s = txn.RemoveClient(client_id);
    if (s.IsNotFound()) return Status::NotFound("no client '" + std::string(client_id) + "'");
    return s;
  });
}

Result<store::Client> GetClient(store::Store& store, std::string_view client_id) {
  store::Client out;
  TF_RETURN_IF_ERROR(store.Read([&](store::Txn& txn) -> Status {
    auto c = txn.GetClient(client_id);
    if (c.status().IsNotFound()) return Status::NotFound("no client '" + std::string(client_id) + "'");
    if (!c.ok()) return c.status();
    out = std::move(c).value();
    return Status::OK();
  }));
  return out;
}

Result<std::vector<store::Client>> ListClients(store::Store& store) {
  std::vector<store::Client> out;
  TF_RETURN_IF_ERROR(store.Read([&](store::Txn& txn) -> Status {
    auto c = txn.ListClients();
    if (!c.ok()) return c.status();
    out = std::move(c).value();
    return Status::OK();
  }));
  return out;
}

std::string GenerateClientSecret() { return RandomHandle(32); }

Status AddClientSecret(store::Store& store, std::string_view client_id, const NewSecret& secret, const Clock& clock,
                       std::vector<std::string>* warnings) {
  if (secret.secret.empty()) return Status::InvalidArgument("the secret is empty");
  if (secret.secret.size() > store::kMaxClientSecretLength) {
    return Status::InvalidArgument("the secret is longer than " + std::to_string(store::kMaxClientSecretLength) +
                                   " characters and could never be presented");
  }
  if (secret.expiration && *secret.expiration <= clock.NowSeconds()) {
    return Status::InvalidArgument("the expiration is not in the future");
  }
  store::Secret stored;
  stored.value = store::HashSecret(secret.secret);
  stored.description = secret.description;
  stored.expiration = secret.expiration;
  TF_RETURN_IF_ERROR(store.Update([&](store::Txn& txn) -> Status {
    auto c = txn.GetClient(client_id);
    if (c.status().IsNotFound()) return Status::NotFound("no client '" + std::string(client_id) + "'");
    if (!c.ok()) return c.status();
    if (c->IsPublic()) {
      return Status::Conflict("client '" + std::string(client_id) +
                              "' is public (RequireClientSecret false): a secret would never be checked");
    }
    for (const store::Secret& existing : c->client_secrets) {
      if (existing.value == stored.value) {
        return Status::AlreadyExists("client '" + std::string(client_id) + "' already has this secret");
      }
    }
    c->client_secrets.push_back(stored);
    return txn.PutClient(*c);
  }));
  if (warnings != nullptr && secret.secret.size() < kShortSecretLength) {
    warnings->push_back("the secret is shorter than " + std::to_string(kShortSecretLength) +
                        " characters and may be guessed; --generate makes a 256-bit one");
  }
  return Status::OK();
}

Result<InitReport> Init(const Config& config, const Clock& clock, bool make_keys) {
  InitReport report;
  auto alg = token::ParseAlg(config.access_token_signing_alg);
  if (!alg) {
    return Status::InvalidArgument("access_token_signing_alg: unknown algorithm '" +
                                   config.access_token_signing_alg + "'");
  }
  report.alg = std::string(token::AlgName(*alg));
  auto id_alg = token::ParseAlg(config.id_token_signing_alg);
  if (!id_alg) {
    return Status::InvalidArgument("id_token_signing_alg: unknown algorithm '" + config.id_token_signing_alg + "'");
  }
  struct stat st;
  store::StoreOptions options = store::StoreOptionsFromConfig(config);
  if (store::IsPostgresUri(config.database)) {
    store::StoreOptions probe = options;  // initialised already if a read-only open succeeds
    probe.read_only = true;
    report.created_database = !store::OpenStore(probe).ok();
  } else {
    report.created_database = ::stat((config.database + "/data.mdb").c_str(), &st) != 0;
  }
  options.create = true;
  auto store = OpenStoreAsDirectoryOwner(options);
  if (!store.ok()) return store.status();
  std::optional<token::KeyEncryptionKey> kek;
  if (!config.key_encryption_key_file.empty()) {
    Result<std::optional<token::KeyEncryptionKey>> loaded = LoadKeyEncryptionKey(config);
    if (!loaded.ok() && loaded.status().IsNotFound()) {
      Result<bool> sealed = HoldsSealedKeys(**store);
      if (!sealed.ok()) return sealed.status();
      if (*sealed) {
        return Status::InvalidArgument(loaded.status().message() + ", but the database holds keys encrypted with "
                                       "it: restore the file from your copy (a new one cannot decrypt them)");
      }
      TF_RETURN_IF_ERROR(WriteKeyEncryptionKeyFile(config.key_encryption_key_file,
                                                   token::KeyEncryptionKey::Generate(), config.database));
      report.created_key_encryption_key_file = true;
      loaded = LoadKeyEncryptionKey(config);
    }
    if (!loaded.ok()) return loaded.status();
    kek = std::move(loaded).value();
  }
  const token::KeyEncryptionKey* kek_ptr = kek ? &*kek : nullptr;
  if (kek_ptr != nullptr && report.created_database) {
    // The store's first open made a session key in clear, which may stay behind in a freed page: replace it with a
    // new sealed one before anything uses it.
    auto sealed = RotateSessionKey(**store, kek_ptr);
    if (!sealed.ok()) return sealed.status();
  }
  if (make_keys) {
    auto created = EnsureCurrentKey(**store, *alg, clock, kek_ptr);
    if (!created.ok()) return created.status();
    report.created_key = std::move(*created);
  }
  if (make_keys && *id_alg != *alg) {
    auto created_id = EnsureCurrentKey(**store, *id_alg, clock, kek_ptr);
    if (!created_id.ok()) return created_id.status();
    report.created_id_token_key = std::move(*created_id);
  }
  if (report.created_key) {
    report.current_kid = report.created_key->kid;
  } else {
    auto keys = ListKeys(**store);
    if (!keys.ok()) return keys.status();
    for (const auto& k : *keys) {
      if (k.alg == report.alg && k.state == store::KeyState::kCurrent) report.current_kid = k.kid;
    }
  }
  if (kek_ptr != nullptr) {
    auto keys = ListKeys(**store);
    if (!keys.ok()) return keys.status();
    for (const auto& k : *keys) report.keys_in_clear = report.keys_in_clear || !token::IsSealedPrivateKey(k.private_pem);
  }
  return report;
}

}  // namespace tf::admin
