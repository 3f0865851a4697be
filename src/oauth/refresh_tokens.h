// Refresh tokens (RFC 6749 §1.5, §6): issuing them, and redeeming them with rotation and reuse detection.
//
// A refresh token is an opaque handle; the store keeps only its SHA-256 (reference_tokens.h's NewGrant). The handle
// names its family, its chain and its generation (the number of rotations since the login, from 1), so that a
// rotation needs to keep nothing of the handle it replaces, and the chain's one record stays under one key
// (RefreshHandle below):
//
//   family  = RandomHandle(16)        22 chars; made once per login (the "original grant"), copied to every rotation
//                                     and put in access tokens as "grant_id"
//   chain   = RAND_bytes(8)           made with the chain's first token (a login, a code redemption, a token
//                                     exchange that joins a family), kept by every rotation
//   handle  = MakeRefreshHandle(key, family, generation, chain): 87 chars of [A-Za-z0-9_-] (diagram at
//             RefreshHandle)
//   key     = RefreshChainKey(family, chain) (a chain key, store.h) -> Grant{kind refresh_token, client_id, subject,
//             scopes, created, expires, absolute_expires, family, generation, predecessor, handle_hash =
//             Sha256(handle), auth_time, idp, amr, tenant, acr, session_id, claims}
// A family whose id is not a RandomHandle(16) (none is made so), a generation past 2^32 - 1, or a snapshot without a
// session key gets the handle of older builds instead, RandomHandle(32) (43 chars, generation 0) under
// Sha256(handle), redeemed as those are (below). Builds before chain keys made handles of version 1 (family and
// generation, no chain) stored under Sha256(handle): they are still redeemed, and their successor starts a chain.
//
// Storage: a family holds one refresh token record per chain (one per login; a token exchange that joins a family
// adds a chain), whatever the number of rotations. Rotating replaces the chain's record in place with the successor,
// whose predecessor = Sha256(presented handle) is the only trace of the old handle, kept for the grace retry: one
// record written, the same key, so one leaf page of the store per rotation. An old-generation handle is recognised
// by its MAC and its generation, not by a stored record, so no tombstone is written.
//
// Lifetimes, per client as IdentityServer (times in Unix seconds):
//   Absolute (RefreshTokenExpiration default):  expires = login + AbsoluteRefreshTokenLifetime; rotation keeps it.
//       (AbsoluteRefreshTokenLifetime = 0 with Absolute makes tokens that are dead at once, as in IdentityServer.)
//   Sliding: expires = min(now + SlidingRefreshTokenLifetime, absolute_expires) at issue and at every use, where
//       absolute_expires = login + AbsoluteRefreshTokenLifetime, or no cap when that is 0.
//
// Redemption (RedeemRefreshToken) runs inside ONE Store::Update, so N parallel requests with the same token, from
// any number of processes, serialise on LMDB's writer lock and see each other's writes: exactly one rotates.
//   1. the grant is looked up (ReadRefreshToken): a handle whose MAC is valid (one this server made) and that names
//      its chain, under its chain key: the token itself when the record holds its generation and its hash
//      (compared in constant time); a handle of an older generation than the record's stands for the consumed
//      token it was: the record with consumed_at = its created (when it was rotated) and, when the record is its
//      direct successor (predecessor = Sha256(handle)), successor = the chain key. Any other handle by
//      Sha256(handle); failing that, a version-1 handle of an older generation than its family's newest token,
//      found through the family's grants, stands for the consumed token as above. Absent (also: a handle of the
//      newest generation that is not the stored one, the answer a grace retry replaced), not a refresh token,
//      another client's, or expired -> invalid_grant
//   2. already consumed (consumed_at set): REUSE, unless it is the one allowed retry:
//        grace > 0 (config refresh_token_reuse_grace_seconds), now <= consumed_at + grace, and the recorded
//        successor still exists unconsumed. A retry replaces that unused successor with a new one of the same
//        generation, and spends the retry: the new one has no predecessor (a tombstone of older builds gets its
//        `successor` link cleared: consumed_at set + successor empty = "retry spent"), so a second retry is reuse.
//      Reuse revokes the whole family (grant_family.h) in the same transaction and answers invalid_grant.
//   3. the user (subject) is gone or IsActive = false -> invalid_grant, nothing written
//   4. requested scopes not all within the grant's scopes -> invalid_scope, nothing written
//   5. RefreshTokenUsage OneTimeOnly: the new grant (same family, chain and authentication data, generation + 1,
//      created = now, expires per the lifetime rules) replaces the chain's record, with predecessor =
//      Sha256(presented handle) (a version-1 handle's record is deleted and its successor starts a chain). A
//      43-char handle of older builds is kept as a tombstone instead (consumed_at = now, successor = the new
//      token's key; store.h "Tombstones") until it expires, and the new grant has no predecessor. ReUse: the same
//      handle is returned; a Sliding token's expires moves forward (capped).
//      A reference access token (IssuedAccessToken.reference) is stored in the same transaction.
// The caller checks, before the transaction, what needs no write (unknown, other client, expired, AllowOfflineAccess)
// and builds the access token, so no signing happens while the writer lock is held.
//
// Thread-safety: pure functions of their arguments plus the Txn they are given (one thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"
#include "oauth/access_token.h"
#include "oauth/catalog.h"
#include "oauth/reference_tokens.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

// The longest refresh token presented at all (IdentityServer's InputLengthRestrictions.RefreshToken); longer ones are
// invalid_grant without a lookup.
inline constexpr size_t kMaxRefreshTokenLength = 100;

// Refresh handles that name their family and generation:
//
//   bytes  = 0x02 | family (16 bytes) | chain (8 bytes) | generation (4 bytes, big-endian) | secret (RAND_bytes(20))
//            | mac (16 bytes)
//   mac    = the first 16 bytes of HMAC-SHA-256(key, every byte before it)
//   key    = RefreshHandleKey(session key) = HMAC-SHA-256(session key, "tokenfcgi refresh handle")
//   handle = base64url(bytes), no padding: 87 characters
// Version 1, made by builds before chain keys and still parsed (chain ""): 0x01 | family (16) | generation (8) |
// secret (24) | mac (16), also 87 characters.
//
// `family` is the family id decoded (base64url of 16 bytes, as RandomHandle(16) makes it). The secret makes the
// handle unguessable (160 bits, RFC 6749 §10.10's "should"; the family is public, in every access token's grant_id).
// The MAC tells a handle this server made from a forged one, so that only a real old handle counts as reuse: anyone
// who knows a family id could otherwise revoke it. Whoever can read the database can compute MACs (the session key
// is in it), so they could revoke a family, which they can do anyway by deleting it; they cannot make the current
// handle, whose record keeps 128 bits of the SHA-256 of a handle with a secret they do not know. Replacing the
// session key (tokenctl) leaves current handles working and makes old handles of earlier keys invalid_grant instead
// of reuse.
inline constexpr size_t kRefreshHandleLength = 87;

inline constexpr size_t kRefreshChainBytes = 8;

struct RefreshHandle {
  std::string family;      // the family id (22 base64url characters)
  int64_t generation = 0;  // 1 for a login's first token, + 1 per rotation
  std::string chain;       // kRefreshChainBytes raw bytes; "" for a version-1 handle
};

// The store key of a chain's record: FamilyKeyPrefix(family) (a chain key of the family, store.h) followed by the
// first 16 bytes of SHA-256(family | chain); 32 bytes.
std::string RefreshChainKey(std::string_view family, std::string_view chain);

// The MAC key of refresh handles under `session_key` ("" when the session key is "": MakeRefreshHandle refuses it).
std::string RefreshHandleKey(std::string_view session_key);

// A new handle of `family` and `chain` at `generation` under `key`; nullopt when `key` is empty, the family is not
// base64url of 16 bytes, the chain not kRefreshChainBytes bytes, or the generation not in 1 .. 2^32 - 1.
std::optional<std::string> MakeRefreshHandle(std::string_view key, std::string_view family, int64_t generation,
                                             std::string_view chain);

// What a handle that MakeRefreshHandle made under `key` names; nullopt for anything else (another length or version,
// not base64url, a MAC that does not match: compared in constant time).
std::optional<RefreshHandle> ParseRefreshHandle(std::string_view key, std::string_view handle);

// The expiry of a refresh token created at `now` for a new login (sets expires and absolute_expires of `grant`).
void SetNewRefreshTokenExpiry(const store::Client& client, int64_t now, store::Grant* grant);

// The expiry of a sliding token used at `now`: min(now + SlidingRefreshTokenLifetime, absolute_expires).
int64_t SlidingRefreshTokenExpiry(const store::Client& client, const store::Grant& grant, int64_t now);

// A new refresh token for a login: a new family, generation 1, its handle made under the snapshot's session key
// (RefreshHandleKey); `grant` arrives with client_id, subject, scopes and the authentication data (auth_time, idp,
// amr, tenant, acr, claims) filled in.
NewGrant NewRefreshToken(const Snapshot& snapshot, const store::Client& client, store::Grant grant, int64_t now);

// A new refresh token in an existing family (the authorization_code grant: every token issued from a code joins the
// code's family, so a second use of the code revokes it); otherwise as NewRefreshToken, including the expiry of a
// new login from `now`. `grant` also carries session_id (the login session, for the id_token's sid on refresh).
NewGrant NewRefreshTokenInFamily(const Snapshot& snapshot, const store::Client& client, store::Grant grant,
                                 std::string family, int64_t now);

// The grant behind the refresh token of a login by `owner` (the grants that issue offline_access from a resource
// owner: password, token exchange, extension grants, authorization and device codes): client_id, subject, scopes =
// `granted`, the owner's auth_time, idp, amr, tenant and acr, and the snapshot of the owner's claims that an access
// token for `granted` carries (AccessTokenUserClaimTypes), which later refreshes put in their access tokens. A caller
// sets what its grant adds (session_id) and makes it a token with NewRefreshToken or NewRefreshTokenInFamily.
store::Grant RefreshGrantFromResourceOwner(const Snapshot& snapshot, const store::Client& client,
                                           std::string_view subject, const std::vector<std::string>& granted,
                                           const ResourceOwner& owner);

// The end of a grant that issues new grants without consuming one (password, token exchange, extension grants):
// stores `refresh` (when present) and the reference grant of `token` (when present) in one write transaction, then
// answers 200 with `token` and the refresh token's handle. Nothing to store: the answer without a write. A store
// failure answers as errors.h StoreFailureResponse(`what`, ...) (503 when the store is full, else 500) and no token
// is handed out.
http::Response StoreNewGrantsAndRespond(store::Store& store, std::optional<NewGrant> refresh, IssuedAccessToken token,
                                        std::string_view what);

// Where a presented handle's record is or was, and what it names: its chain key, or Sha256(handle) for a handle that
// names no chain; Sha256(handle) in either case; and, for a handle this server made, what ParseRefreshHandle read
// from it. LocateRefreshToken does this work on the handle (its MAC, its hashes) once per request, before any
// transaction, for every transaction of the request to use.
struct RefreshTokenLocation {
  std::string key;
  std::string hash;
  std::optional<RefreshHandle> name;

  // The chain the handle names; "" for a handle that names none.
  std::string_view chain() const { return name.has_value() ? std::string_view(name->chain) : std::string_view(); }
};
RefreshTokenLocation LocateRefreshToken(std::string_view handle, std::string_view handle_key);

// A successor's handle made ahead of the write transaction, so that its secret, MAC and hash are not made while the
// writer lock (shared by every process) is held: the handle of `family`'s `chain` at `generation`, the chain's key
// and the handle's check (records.h Grant::handle_check).
struct PreparedRefreshHandle {
  std::string family;
  std::string chain;
  int64_t generation = 0;
  std::string handle;
  std::string key;
  std::string handle_check;
};

// The handle that would replace `read`, the token found at `where` before the write transaction (the next
// generation of its chain), made under `handle_key`; nullopt when the handle names no chain or no handle can be made.
std::optional<PreparedRefreshHandle> PrepareSuccessorHandle(std::string_view handle_key,
                                                            const RefreshTokenLocation& where,
                                                            const store::Grant& read);

// The token that replaces `consumed` at `now` (OneTimeOnly rotation): same family, scopes and authentication data
// (auth_time, idp, amr, tenant, acr, session_id, claims), generation + 1, no predecessor (the caller sets it), its
// handle made under `handle_key` in `chain` ("": a new chain) and keyed by the chain: `prepared` when it is the
// handle of that family, chain and generation, else a new one.
NewGrant SuccessorRefreshToken(std::string_view handle_key, const store::Client& client, const store::Grant& consumed,
                               int64_t now, std::string_view chain, const PreparedRefreshHandle* prepared = nullptr);

// True if every scope in `requested` is in `granted`.
bool ScopesWithin(const std::vector<std::string>& requested, const std::vector<std::string>& granted);

// The refresh token at `where` as redemption sees it (step 1 above): NotFound if absent. A 43-char handle of older
// builds that was rotated is stored as a tombstone (store/records.h); while its successor is still there, unconsumed
// and in its family (the grace retry may issue again from it), the consumed grant is restored from that successor,
// so the retry issues exactly what the lost answer did. An old-generation handle (where.name) is the consumed grant
// step 1 describes, made from its chain's record (or, version 1, from the newest grant of its family).
Result<store::Grant> ReadRefreshToken(store::Txn& txn, const RefreshTokenLocation& where);

// Whether `grant` (found under some hash) can be redeemed by `client_id` at `now` at all (step 1 above).
bool IsLiveRefreshTokenOf(const store::Grant& grant, std::string_view client_id, int64_t now);

struct RefreshRedemption {
  enum class Outcome {
    kIssued,         // success: refresh_token is the handle to return (new, or the same for ReUse)
    kRejected,       // unknown, expired, another client's, user gone or inactive: nothing written
    kReuseDetected,  // a consumed token presented again: the family was revoked (answer invalid_grant)
    kScopeExceeded,  // more scope than granted: nothing written
  };
  Outcome outcome = Outcome::kRejected;
  bool retry = false;           // kIssued through the grace retry
  std::string refresh_token;    // kIssued only
  std::string family;           // the grant's family, when found
};

struct RefreshRedeemRequest {
  std::string_view handle;                   // as presented
  const RefreshTokenLocation* where = nullptr;  // LocateRefreshToken(handle, the snapshot's handle key); required
  const PreparedRefreshHandle* successor = nullptr;  // PrepareSuccessorHandle's, or null
  const store::Client* client = nullptr;
  const Snapshot* snapshot = nullptr;
  std::vector<std::string> scopes;           // the scope parameter's tokens (empty: the grant's own scopes)
  int64_t now = 0;
  int64_t reuse_grace_seconds = 0;
  const NewGrant* reference = nullptr;       // a reference access token to store on success, or null
};

// Steps 1-5 above, in `txn` (which must be a write transaction). A non-OK Status is a store failure: the caller's
// Update aborts and nothing is written.
Result<RefreshRedemption> RedeemRefreshToken(store::Txn& txn, const RefreshRedeemRequest& request);

}  // namespace tf::oauth
