#include "oauth/id_token.h"

#include <algorithm>
#include <optional>
#include <set>

#include "oauth/claims.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "util/json_writer.h"

namespace tf::oauth {

std::vector<std::string> IdentityClaimTypes(const Snapshot& snapshot, const std::vector<std::string>& scopes) {
  std::vector<std::string> out;
  for (const std::string& scope : scopes) {
    const store::IdentityResource* r = snapshot.FindIdentityResource(scope);
    if (r == nullptr || !r->enabled) continue;
    for (const std::string& t : r->user_claims) {
      if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    }
  }
  return out;
}

std::string AccessTokenHash(token::Alg alg, std::string_view access_token) {
  // OIDC Core §3.1.3.6: the hash of the JWS alg's hash function, SHA-256 for the *256 algorithms. OpenID Connect names
  // none for EdDSA, and relying parties disagree on one (Authlib and go-oidc refuse SHA-512): no at_hash, which the
  // code flow allows.
  if (alg == token::Alg::kEdDSA) return "";
  const std::string digest = Sha256(access_token);
  return Base64UrlEncode(std::string_view(digest).substr(0, digest.size() / 2));
}

Result<std::shared_ptr<const token::SigningKey>> SelectIdTokenSigningKey(const Config& config,
                                                                         const Snapshot& snapshot,
                                                                         const store::Client& client) {
  std::vector<std::string> names = client.allowed_identity_token_signing_algorithms;
  if (names.empty()) names.push_back(config.id_token_signing_alg);
  std::string tried;
  for (const std::string& name : names) {
    const std::optional<token::Alg> alg = token::ParseAlg(name);
    if (alg.has_value()) {
      if (auto key = snapshot.CurrentKey(*alg)) return key;
    }
    if (!tried.empty()) tried += ", ";
    tried += name;
  }
  return Status::Internal("no current id_token signing key for " + tried);
}

Result<std::string> IssueIdToken(const Config& config, const Snapshot& snapshot, const Clock& clock,
                                 const IdTokenRequest& request) {
  const store::Client& client = *request.client;
  Result<std::shared_ptr<const token::SigningKey>> key = SelectIdTokenSigningKey(config, snapshot, client);
  if (!key.ok()) return key.status();
  const int64_t now = clock.NowSeconds();

  JsonWriter w;
  w.String("iss", config.issuer);
  w.String("sub", request.subject);
  w.String("aud", client.client_id);
  w.Int("iat", now);
  w.Int("nbf", now);
  w.Int("exp", now + client.identity_token_lifetime);
  w.Int("auth_time", request.auth_time);
  if (!request.nonce.empty()) w.String("nonce", request.nonce);
  const std::string at_hash = request.access_token.empty() ? "" : AccessTokenHash((*key)->alg(), request.access_token);
  if (!at_hash.empty()) w.String("at_hash", at_hash);
  if (!request.sid.empty()) w.String("sid", request.sid);
  if (!request.idp.empty()) w.String("idp", request.idp);
  if (!request.amr.empty()) w.StringArray("amr", request.amr);
  if (!request.acr.empty()) w.String("acr", request.acr);
  if (client.always_include_user_claims_in_id_token) {
    const std::vector<std::string> types = IdentityClaimTypes(snapshot, request.scopes);
    std::set<std::string> written;
    WriteClaims(w, "", request.user_claims, &types, written);
  }
  return token::SignJws(**key, "JWT", std::move(w).Finish());
}

}  // namespace tf::oauth
