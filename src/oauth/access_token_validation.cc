#include "oauth/access_token_validation.h"

#include <utility>

#include "oauth/access_token.h"
#include "oauth/request_log.h"
#include "token/jws.h"
#include "util/ascii.h"
#include "util/crypto.h"
#include "util/json_reader.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

using Answer = Result<std::optional<ValidAccessToken>>;

Answer NotValid() { return std::optional<ValidAccessToken>(); }

// Whether the family has a revocation record (Read transaction).
Result<bool> FamilyRevoked(store::Store& store, std::string_view family) {
  bool revoked = false;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<std::optional<store::FamilyRevocation>> r = txn.GetFamilyRevocation(family);
    if (!r.ok()) return r.status();
    revoked = r->has_value();
    return Status::OK();
  });
  if (!st.ok()) return st;
  return revoked;
}

// A compact JWS access token (see the header for the rules).
Answer ValidateJwt(std::string_view token, const Snapshot& snapshot, const Config& config, int64_t now,
                   store::Store& store) {
  std::optional<token::JwsParts> parts = token::SplitJws(token);
  if (!parts.has_value()) return NotValid();
  const JsonDocument header_doc(parts->header_json);
  const cJSON* header = header_doc.object();
  if (header == nullptr) return NotValid();
  const std::optional<std::string_view> alg_name = StringMember(header, "alg");
  const std::optional<std::string_view> kid = StringMember(header, "kid");
  const std::optional<std::string_view> typ = StringMember(header, "typ");
  if (!alg_name || !kid || !typ) return NotValid();
  if (!EqualsIgnoreAsciiCase(*typ, "at+jwt") && !EqualsIgnoreAsciiCase(*typ, "application/at+jwt")) {
    return NotValid();
  }
  const std::optional<token::Alg> alg = token::ParseAlg(*alg_name);
  if (!alg.has_value()) return NotValid();
  const token::SigningKey* key = nullptr;
  for (const auto& k : snapshot.published_keys) {
    if (k->kid() == *kid && k->alg() == *alg) {
      key = k.get();
      break;
    }
  }
  if (key == nullptr || !key->Verify(parts->signing_input, parts->signature)) return NotValid();

  const JsonDocument payload_doc(parts->payload_json);
  const cJSON* claims = payload_doc.object();
  if (claims == nullptr) return NotValid();
  const std::optional<std::string_view> iss = StringMember(claims, "iss");
  if (!iss.has_value() || *iss != config.issuer) return NotValid();
  const int64_t skew = config.clock_skew_seconds;
  int64_t exp = 0, nbf = 0;
  if (NumericDate(claims, "exp", &exp) != DateMember::kPresent || now >= exp + skew) return NotValid();
  switch (NumericDate(claims, "nbf", &nbf)) {
    case DateMember::kAbsent:
      break;
    case DateMember::kInvalid:
      return NotValid();
    case DateMember::kPresent:
      if (nbf > now + skew) return NotValid();
      break;
  }
  const cJSON* grant_id = Member(claims, std::string(kGrantIdClaim).c_str());
  if (grant_id != nullptr) {
    if (!cJSON_IsString(grant_id) || grant_id->valuestring == nullptr || grant_id->valuestring[0] == '\0') {
      return NotValid();
    }
    Result<bool> revoked = FamilyRevoked(store, grant_id->valuestring);
    if (!revoked.ok()) return revoked.status();
    if (*revoked) return NotValid();
  }
  ValidAccessToken valid;
  valid.client_id = std::string(StringMember(claims, "client_id").value_or(""));
  if (grant_id != nullptr) valid.family = grant_id->valuestring;
  valid.claims_json = std::move(parts->payload_json);
  return std::optional<ValidAccessToken>(std::move(valid));
}

// The grant stored under SHA-256(handle) when it is of `kind`, now < its expires, and its family has no revocation
// record (one read transaction); nullopt otherwise. Only a store failure is an error.
Result<std::optional<store::Grant>> FindLiveGrant(store::Store& store, std::string_view handle, store::GrantKind kind,
                                                  int64_t now) {
  const std::string handle_hash = Sha256(handle);
  std::optional<store::Grant> grant;
  bool family_revoked = false;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = txn.GetGrant(handle_hash);
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    if (g->kind != kind) return Status::OK();
    grant = std::move(g).value();
    Result<std::optional<store::FamilyRevocation>> r = txn.GetFamilyRevocation(grant->family);
    if (!r.ok()) return r.status();
    family_revoked = r->has_value();
    return Status::OK();
  });
  if (!st.ok()) return st;
  if (!grant.has_value() || family_revoked || now >= grant->expires) return std::optional<store::Grant>();
  return grant;
}

// An opaque handle: a reference access token, or not an access token at all.
Answer ValidateReference(std::string_view token, int64_t now, store::Store& store) {
  Result<std::optional<store::Grant>> grant = FindLiveGrant(store, token, store::GrantKind::kReferenceToken, now);
  if (!grant.ok()) return grant.status();
  if (!grant->has_value()) return NotValid();
  store::Grant& g = **grant;
  const JsonDocument doc(g.access_token_json);
  if (doc.object() == nullptr) {
    Logf(LogLevel::kError, "a reference token of client %s has unreadable claims",
         SanitizeForLog(g.client_id).c_str());
    return NotValid();
  }
  ValidAccessToken valid;
  valid.reference = true;
  valid.client_id = std::move(g.client_id);
  valid.family = std::move(g.family);
  valid.claims_json = std::move(g.access_token_json);
  return std::optional<ValidAccessToken>(std::move(valid));
}

}  // namespace

Result<std::optional<ValidAccessToken>> ValidateAccessToken(std::string_view token, const Snapshot& snapshot,
                                                            const Config& config, int64_t now, store::Store& store) {
  if (token.empty()) return NotValid();
  // Handles are base64url (no '.'); a compact JWS always has two.
  if (token.find('.') != std::string_view::npos) return ValidateJwt(token, snapshot, config, now, store);
  return ValidateReference(token, now, store);
}

}  // namespace tf::oauth
