#include "oauth/refresh_tokens.h"

#include <algorithm>

#include "oauth/errors.h"
#include "oauth/grant_family.h"
#include "oauth/request_log.h"
#include "util/base64.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {

namespace {

constexpr char kHandleVersion = 0x02, kHandleVersion1 = 0x01;
constexpr size_t kFamilyBytes = 16, kGenerationBytes = 4, kSecretBytes = 20, kMacBytes = 16;
constexpr size_t kHandleBytes = 1 + kFamilyBytes + kRefreshChainBytes + kGenerationBytes + kSecretBytes + kMacBytes;
static_assert((kHandleBytes * 4 + 2) / 3 == kRefreshHandleLength);
// Version 1 (builds before chain keys; parsed, never made): 0x01 | family | generation (8 bytes) | secret (24) | mac.
constexpr size_t kGenerationBytes1 = 8;
static_assert(1 + kFamilyBytes + kGenerationBytes1 + 24 + kMacBytes == kHandleBytes);
constexpr int64_t kMaxGeneration = (int64_t{1} << 32) - 1;
constexpr int64_t kMaxGeneration1 = int64_t{1} << 53;

std::string HandleMac(std::string_view key, std::string_view body) {
  return HmacSha256(key, body).substr(0, kMacBytes);
}

uint64_t BigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// The handle of `family`'s `chain` at `generation` under `key`, with its record's key and its check; nullopt when
// MakeRefreshHandle refuses.
std::optional<PreparedRefreshHandle> MakeChainHandle(std::string_view key, std::string_view family, int64_t generation,
                                                     std::string_view chain) {
  std::optional<std::string> handle = MakeRefreshHandle(key, family, generation, chain);
  if (!handle.has_value()) return std::nullopt;
  PreparedRefreshHandle made;
  made.family = std::string(family);
  made.chain = std::string(chain);
  made.generation = generation;
  made.handle_check = Sha256(*handle).substr(0, store::kHandleCheckSize);  // records.h Grant::handle_check
  made.handle = std::move(*handle);
  made.key = RefreshChainKey(family, chain);
  return made;
}

// A handle of `chain` ("": a new chain) made under `key` when it can be one (`prepared`, when it is that handle),
// stored under the chain's key; else one of older builds (generation 0) under its hash.
NewGrant NewRefreshHandle(std::string_view key, store::Grant grant, std::string_view chain,
                          const PreparedRefreshHandle* prepared = nullptr) {
  const std::string new_chain = chain.empty() ? RandomBytes(kRefreshChainBytes) : std::string();
  if (chain.empty()) chain = new_chain;
  std::optional<PreparedRefreshHandle> made;
  if (prepared == nullptr || prepared->family != grant.family || prepared->chain != chain ||
      prepared->generation != grant.generation) {
    made = MakeChainHandle(key, grant.family, grant.generation, chain);
    prepared = made.has_value() ? &*made : nullptr;
  }
  NewGrant g;
  if (prepared != nullptr) {
    g.handle = prepared->handle;
    g.key = prepared->key;
    grant.handle_check = prepared->handle_check;
  } else {
    g = NewHandle();
    grant.generation = 0;
    grant.handle_check.clear();
  }
  g.grant = std::move(grant);
  return g;
}

}  // namespace

std::string RefreshHandleKey(std::string_view session_key) {
  if (session_key.empty()) return std::string();
  // Derived once per session key and thread: the session key changes only with `tokenctl session rotate-key`.
  thread_local std::string derived_from, derived;
  if (derived.empty() || derived_from != session_key) {
    derived = HmacSha256(session_key, "tokenfcgi refresh handle");
    derived_from = std::string(session_key);
  }
  return derived;
}

std::string RefreshChainKey(std::string_view family, std::string_view chain) {
  std::string data(family);
  data += chain;
  return store::FamilyChainKey(family, data);
}

std::optional<std::string> MakeRefreshHandle(std::string_view key, std::string_view family, int64_t generation,
                                             std::string_view chain) {
  if (key.empty() || generation < 1 || generation > kMaxGeneration || chain.size() != kRefreshChainBytes) {
    return std::nullopt;
  }
  std::optional<std::string> family_bytes = Base64UrlDecode(family);
  if (!family_bytes.has_value() || family_bytes->size() != kFamilyBytes || Base64UrlEncode(*family_bytes) != family) {
    return std::nullopt;
  }
  std::string body(1, kHandleVersion);
  body += *family_bytes;
  body += chain;
  for (int shift = 8 * (kGenerationBytes - 1); shift >= 0; shift -= 8) {
    body.push_back(static_cast<char>((generation >> shift) & 0xff));
  }
  body += RandomBytes(kSecretBytes);
  body += HandleMac(key, body);
  return Base64UrlEncode(body);
}

std::optional<RefreshHandle> ParseRefreshHandle(std::string_view key, std::string_view handle) {
  if (key.empty() || handle.size() != kRefreshHandleLength) return std::nullopt;
  std::optional<std::string> bytes = Base64UrlDecode(handle);
  if (!bytes.has_value() || bytes->size() != kHandleBytes) return std::nullopt;
  const char version = (*bytes)[0];
  if (version != kHandleVersion && version != kHandleVersion1) return std::nullopt;
  const std::string_view body = std::string_view(*bytes).substr(0, kHandleBytes - kMacBytes);
  if (!ConstantTimeEquals(HandleMac(key, body), std::string_view(*bytes).substr(kHandleBytes - kMacBytes))) {
    return std::nullopt;
  }
  RefreshHandle out;
  out.family = Base64UrlEncode(body.substr(1, kFamilyBytes));
  uint64_t generation = 0;
  if (version == kHandleVersion) {
    out.chain = std::string(body.substr(1 + kFamilyBytes, kRefreshChainBytes));
    generation = BigEndian(body.substr(1 + kFamilyBytes + kRefreshChainBytes, kGenerationBytes));
  } else {
    generation = BigEndian(body.substr(1 + kFamilyBytes, kGenerationBytes1));
  }
  const int64_t most = version == kHandleVersion ? kMaxGeneration : kMaxGeneration1;
  if (generation < 1 || generation > static_cast<uint64_t>(most)) return std::nullopt;
  out.generation = static_cast<int64_t>(generation);
  return out;
}

void SetNewRefreshTokenExpiry(const store::Client& client, int64_t now, store::Grant* grant) {
  grant->created = now;
  grant->absolute_expires.reset();
  if (client.refresh_token_expiration == store::TokenExpiration::kAbsolute) {
    grant->expires = now + client.absolute_refresh_token_lifetime;
    return;
  }
  if (client.absolute_refresh_token_lifetime > 0) grant->absolute_expires = now + client.absolute_refresh_token_lifetime;
  grant->expires = SlidingRefreshTokenExpiry(client, *grant, now);
}

int64_t SlidingRefreshTokenExpiry(const store::Client& client, const store::Grant& grant, int64_t now) {
  const int64_t sliding = now + client.sliding_refresh_token_lifetime;
  return grant.absolute_expires.has_value() ? std::min(sliding, *grant.absolute_expires) : sliding;
}

NewGrant NewRefreshToken(const Snapshot& snapshot, const store::Client& client, store::Grant grant, int64_t now) {
  return NewRefreshTokenInFamily(snapshot, client, std::move(grant), RandomHandle(16), now);
}

NewGrant NewRefreshTokenInFamily(const Snapshot& snapshot, const store::Client& client, store::Grant grant,
                                 std::string family, int64_t now) {
  grant.kind = store::GrantKind::kRefreshToken;
  grant.family = std::move(family);
  grant.generation = 1;
  grant.predecessor.clear();
  grant.consumed_at.reset();
  grant.successor.clear();
  SetNewRefreshTokenExpiry(client, now, &grant);
  return NewRefreshHandle(RefreshHandleKey(snapshot.session_key), std::move(grant), "");
}

store::Grant RefreshGrantFromResourceOwner(const Snapshot& snapshot, const store::Client& client,
                                           std::string_view subject, const std::vector<std::string>& granted,
                                           const ResourceOwner& owner) {
  store::Grant g;
  g.client_id = client.client_id;
  g.subject = std::string(subject);
  g.scopes = granted;
  g.auth_time = owner.auth_time;
  g.idp = owner.idp;
  g.amr = owner.amr;
  g.tenant = owner.tenant;
  g.acr = owner.acr;
  const std::vector<std::string> types =
      AccessTokenUserClaimTypes(snapshot, granted, AudienceResources(snapshot, granted));
  for (const store::ClaimValue& c : owner.claims) {
    if (std::find(types.begin(), types.end(), c.type) != types.end()) g.claims.push_back(c);
  }
  return g;
}

http::Response StoreNewGrantsAndRespond(store::Store& store, std::optional<NewGrant> refresh, IssuedAccessToken token,
                                        std::string_view what) {
  if (refresh.has_value() || token.reference.has_value()) {
    const Status st = store.Update([&](store::Txn& txn) -> Status {
      if (refresh.has_value()) TF_RETURN_IF_ERROR(txn.PutGrant(refresh->key, refresh->grant));
      if (token.reference.has_value()) {
        TF_RETURN_IF_ERROR(txn.PutGrant(token.reference->key, token.reference->grant));
      }
      return Status::OK();
    });
    if (!st.ok()) {
      return StoreFailureResponse(std::string(what) + ": storing the new grants", st,
                                  "the server cannot issue tokens at the moment");
    }
    if (refresh.has_value()) token.refresh_token = std::move(refresh->handle);
  }
  return AccessTokenResponse(token);
}

std::optional<PreparedRefreshHandle> PrepareSuccessorHandle(std::string_view handle_key,
                                                            const RefreshTokenLocation& where,
                                                            const store::Grant& read) {
  if (where.chain().empty()) return std::nullopt;
  return MakeChainHandle(handle_key, read.family, read.generation + 1, where.chain());
}

NewGrant SuccessorRefreshToken(std::string_view handle_key, const store::Client& client, const store::Grant& consumed,
                               int64_t now, std::string_view chain, const PreparedRefreshHandle* prepared) {
  store::Grant g = consumed;
  g.created = now;
  g.consumed_at.reset();
  g.successor.clear();
  g.predecessor.clear();
  g.generation = consumed.generation + 1;
  // Absolute: the original expiry stays. Sliding: a new window from now, never past the cap the family started with.
  if (client.refresh_token_expiration == store::TokenExpiration::kSliding) {
    g.expires = SlidingRefreshTokenExpiry(client, consumed, now);
  }
  return NewRefreshHandle(handle_key, std::move(g), chain, prepared);
}

bool ScopesWithin(const std::vector<std::string>& requested, const std::vector<std::string>& granted) {
  return std::all_of(requested.begin(), requested.end(), [&](const std::string& s) {
    return std::find(granted.begin(), granted.end(), s) != granted.end();
  });
}

namespace {

// Whether `successor`, found under consumed.successor, is still the unused token that replaced `consumed`: a refresh
// token of its family, not consumed, and (a chain's record outlives the token: a later rotation replaces it under the
// same key) of the next generation, unless it is of the handles that name no generation.
bool IsUnusedSuccessor(const store::Grant& consumed, const store::Grant& successor) {
  return successor.kind == store::GrantKind::kRefreshToken && successor.family == consumed.family &&
         !successor.consumed_at.has_value() &&
         (successor.generation == 0 || successor.generation == consumed.generation + 1);
}

// Step 1 for an old-generation handle naming `name`: the consumed grant it stands for, or NotFound.
Result<store::Grant> PastGenerationRefreshToken(store::Txn& txn, std::string_view hash, const RefreshHandle& name) {
  Result<std::vector<std::pair<std::string, store::Grant>>> members = txn.ListFamilyGrants(name.family);
  if (!members.ok()) return members.status();
  // The witness: the presented handle's direct successor if it is still there, else the family's newest token.
  const std::pair<std::string, store::Grant>* witness = nullptr;
  for (const auto& member : *members) {
    const store::Grant& g = member.second;
    if (g.kind != store::GrantKind::kRefreshToken || g.generation < 1 || g.consumed_at.has_value()) continue;
    if (g.predecessor == hash) {
      witness = &member;
      break;
    }
    if (witness == nullptr || g.generation > witness->second.generation) witness = &member;
  }
  if (witness == nullptr) return Status::NotFound("refresh token not found");
  const bool direct = witness->second.predecessor == hash;
  // A handle of the newest generation that is not stored: the answer a grace retry replaced, never delivered.
  if (!direct && witness->second.generation <= name.generation) return Status::NotFound("refresh token not found");
  store::Grant consumed = witness->second;
  consumed.generation = name.generation;
  consumed.predecessor.clear();
  consumed.consumed_at = witness->second.created;  // rotated when the witness (or its first ancestor) was made
  consumed.successor = direct ? witness->first : std::string();
  consumed.handle_check.clear();
  return consumed;
}

// Step 1 for a handle that names its chain: the chain's one record is the token itself when it holds this handle's
// hash, else (an older generation) the consumed token the handle was, as PastGenerationRefreshToken makes it.
Result<store::Grant> ChainRefreshToken(store::Txn& txn, std::string_view key, std::string_view hash,
                                       const RefreshHandle& name) {
  Result<store::Grant> g = txn.GetGrant(key);
  if (!g.ok()) return g.status();
  if (g->kind != store::GrantKind::kRefreshToken || g->family != name.family || g->consumed_at.has_value()) {
    return Status::NotFound("refresh token not found");
  }
  if (g->generation == name.generation &&
      ConstantTimeEquals(g->handle_check, hash.substr(0, store::kHandleCheckSize))) {
    return g;
  }
  // The same generation under another hash: the answer a grace retry replaced, never delivered.
  if (g->generation <= name.generation) return Status::NotFound("refresh token not found");
  store::Grant consumed = std::move(g).value();
  const bool direct = consumed.predecessor == hash;
  consumed.consumed_at = consumed.created;  // rotated when the record's generation (or its first ancestor) was made
  consumed.generation = name.generation;
  consumed.predecessor.clear();
  consumed.handle_check.clear();
  consumed.successor = direct ? std::string(key) : std::string();
  return consumed;
}

}  // namespace

RefreshTokenLocation LocateRefreshToken(std::string_view handle, std::string_view handle_key) {
  RefreshTokenLocation where;
  where.hash = Sha256(handle);
  where.name = ParseRefreshHandle(handle_key, handle);
  where.key = where.chain().empty() ? where.hash : RefreshChainKey(where.name->family, where.chain());
  return where;
}

Result<store::Grant> ReadRefreshToken(store::Txn& txn, const RefreshTokenLocation& where) {
  if (!where.chain().empty()) return ChainRefreshToken(txn, where.key, where.hash, *where.name);
  Result<store::Grant> grant = txn.GetGrant(where.hash);
  if (!grant.ok() && grant.status().IsNotFound() && where.name.has_value()) {
    return PastGenerationRefreshToken(txn, where.hash, *where.name);
  }
  if (!grant.ok() || !grant->consumed_at.has_value() || grant->successor.empty()) return grant;
  Result<store::Grant> successor = txn.GetGrant(grant->successor);
  if (!successor.ok()) {
    if (successor.status().IsNotFound()) return grant;
    return successor.status();
  }
  if (!IsUnusedSuccessor(*grant, *successor)) return grant;
  return store::RestoredFromSuccessor(*grant, *successor);
}

bool IsLiveRefreshTokenOf(const store::Grant& grant, std::string_view client_id, int64_t now) {
  return grant.kind == store::GrantKind::kRefreshToken && grant.client_id == client_id && now < grant.expires &&
         !grant.family.empty();
}

namespace {

using Outcome = RefreshRedemption::Outcome;

// The one allowed retry of a consumed token (see the header): within the grace period, with its successor unused.
Result<bool> IsAllowedRetry(store::Txn& txn, const store::Grant& consumed, int64_t now, int64_t grace) {
  if (grace <= 0 || !consumed.consumed_at.has_value() || now > *consumed.consumed_at + grace) return false;
  if (consumed.successor.empty()) return false;  // the retry was spent already
  Result<store::Grant> successor = txn.GetGrant(consumed.successor);
  if (!successor.ok()) {
    if (successor.status().IsNotFound()) return false;
    return successor.status();
  }
  return IsUnusedSuccessor(consumed, *successor);
}

}  // namespace

Result<RefreshRedemption> RedeemRefreshToken(store::Txn& txn, const RefreshRedeemRequest& request) {
  const store::Client& client = *request.client;
  const std::string handle_key = RefreshHandleKey(request.snapshot->session_key);
  RefreshRedemption out;

  // 1. The grant itself.
  const RefreshTokenLocation& where = *request.where;
  Result<store::Grant> found = ReadRefreshToken(txn, where);
  if (!found.ok()) {
    if (found.status().IsNotFound()) return out;
    return found.status();
  }
  store::Grant& grant = *found;
  if (!IsLiveRefreshTokenOf(grant, client.client_id, request.now)) return out;
  out.family = grant.family;

  // 2. Reuse of a consumed token, or the one retry the grace period allows.
  bool retry = false;
  if (grant.consumed_at.has_value()) {
    Result<bool> allowed = IsAllowedRetry(txn, grant, request.now, request.reuse_grace_seconds);
    if (!allowed.ok()) return allowed.status();
    if (!*allowed) {
      TF_RETURN_IF_ERROR(RevokeGrantFamily(txn, *request.snapshot, grant.family, request.now));
      Logf(LogLevel::kWarn, "refresh token reuse by client %s: its grant family %s is revoked",
           SanitizeForLog(client.client_id).c_str(), grant.family.c_str());
      out.outcome = Outcome::kReuseDetected;
      return out;
    }
    retry = true;
  }

  // 3. The user must still exist and be active.
  Result<store::User> user = txn.GetUser(grant.subject);
  if (!user.ok()) {
    if (user.status().IsNotFound()) return out;
    return user.status();
  }
  if (!user->is_active) return out;

  // 4. Narrowing only.
  if (!ScopesWithin(request.scopes, grant.scopes)) {
    out.outcome = Outcome::kScopeExceeded;
    return out;
  }

  // 5. Rotate, or reuse the handle.
  if (client.refresh_token_usage == store::RefreshTokenUsage::kReUse && !grant.consumed_at.has_value()) {
    if (client.refresh_token_expiration == store::TokenExpiration::kSliding) {
      grant.expires = SlidingRefreshTokenExpiry(client, grant, request.now);
      TF_RETURN_IF_ERROR(txn.PutGrant(where.key, grant));
    }
    out.refresh_token = std::string(request.handle);
  } else {
    // The successor continues the presented handle's chain (a handle of older builds starts one), and replaces the
    // chain's record in place: the only write of a rotation.
    NewGrant successor =
        SuccessorRefreshToken(handle_key, client, grant, request.now, where.chain(), request.successor);
    if (retry && grant.successor != successor.key) {
      const Status removed = txn.RemoveGrant(grant.successor);
      if (!removed.ok() && !removed.IsNotFound()) return removed;
    }
    if (grant.generation > 0) {
      // Nothing of the presented handle is kept but its hash in the successor, for the grace retry; a retry spends
      // it. (A retry presents an old-generation handle, which has no record of its own.)
      if (!retry && where.key != successor.key) TF_RETURN_IF_ERROR(txn.RemoveGrant(where.key));
      if (!retry) successor.grant.predecessor = where.hash;
    } else {
      if (retry) {
        grant.successor.clear();  // the retry is spent
      } else {
        grant.consumed_at = request.now;
        grant.successor = successor.key;
      }
      TF_RETURN_IF_ERROR(txn.PutGrant(where.key, grant));
    }
    TF_RETURN_IF_ERROR(txn.PutGrant(successor.key, successor.grant));
    out.refresh_token = std::move(successor.handle);
  }
  if (request.reference != nullptr) {
    TF_RETURN_IF_ERROR(txn.PutGrant(request.reference->key, request.reference->grant));
  }
  out.outcome = Outcome::kIssued;
  out.retry = retry;
  return out;
}

}  // namespace tf::oauth
