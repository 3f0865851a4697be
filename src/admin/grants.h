// Grant administration behind `tokenctl grants list`, `tokenctl grants revoke` and `tokenctl gc`.
//
// A grant (store::Grant: a refresh token, reference access token, authorization code or device code) is stored under
// SHA-256 of its handle, or a refresh token under its chain's key (store.h "Chain keys", oauth/refresh_tokens.h); the
// handle itself is never stored, so nothing here can print one. Operators name a grant by its id, the first 12
// characters of the base64url of its key, or of a chain key's last 16 bytes (its first 16 are the family's, shared
// by the family's chains):
//
//   id = base64url( SHA-256(handle) )[0..12)      e.g. "3q2-7wAAb1Jx"  (72 bits: unique in practice, not a token)
//   id = base64url( chain key[16..32) )[0..12)    a refresh token of this build
//
// Revocation always works on whole families (every grant descending from one original grant, see records.h):
// revoking one refresh token of a family and leaving its rotated successor alive would be no revocation at all.
// Each family is revoked with Store::RevokeFamilyInBatches, whose revocation record is kept until keep_until = now + the
// longest AccessTokenLifetime of any client, so introspection reports the family's JWT access tokens inactive until
// the last of them has expired anyway. The selection is made in one read transaction (it may scan every grant); then
// each family's revocation record is written in its own short write transaction (the family is dead for every worker
// from then on) and its grants are deleted at most `batch` per write transaction, so a worker's write waits for one
// batch at most. A family selected but given new grants meanwhile is still revoked whole: its index is walked in the
// write transactions.
//
// Garbage collection loops Store::CollectExpired, one short write transaction per batch, so workers serving tokens
// meanwhile wait at most one batch for LMDB's writer lock; it never holds a read transaction across batches.
//
// Thread-compatible: no state besides the store, which serialises writers itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/status.h"

namespace tf::admin {

// Length of a grant id (see above).
inline constexpr size_t kGrantIdLength = 12;

// The whole id of the grant under `key` whose family is `family`: base64url(key), or base64url(key[16..32)) for a
// chain key of `family`. What `grants revoke --id` matches a prefix of.
std::string FullGrantId(std::string_view key, std::string_view family);
// FullGrantId cut to kGrantIdLength characters.
std::string GrantId(std::string_view key, std::string_view family = "");

// "refresh_token", "reference_token", "authorization_code", "device_code", "user_code",
// "user_code_throttle", "consent" (store::GrantKindName) -> the kind.
std::optional<store::GrantKind> ParseGrantKind(std::string_view name);

struct GrantFilter {
  std::string client_id;                // "" = any client
  std::string subject;                  // "" = any subject
  std::optional<store::GrantKind> kind; // nullopt = any kind
};

struct GrantEntry {
  std::string id;            // GrantId(handle_hash, grant.family)
  std::string handle_hash;   // 32 raw bytes
  store::Grant grant;
};

// The grants matching every given filter, ordered by created, then id. Expired grants that gc has not removed yet
// are listed too (Grant::expires tells).
Result<std::vector<GrantEntry>> ListGrants(store::Store& store, const GrantFilter& filter);

// Records per write transaction of gc and revocation (tokenctl --batch).
inline constexpr size_t kDefaultGcBatch = 500;
inline constexpr size_t kMaxGcBatch = 100000;

// What to revoke: exactly one of family, id_prefix, or client_id and/or subject.
struct RevokeSelector {
  std::string family;     // one family, by its id
  std::string id_prefix;  // the family of the one grant whose id (or full base64url hash) starts with this
  std::string client_id;  // every family with a grant of this client (and subject, when given)
  std::string subject;    // every family with a grant of this subject (and client, when given)
};

struct RevokeReport {
  size_t grants = 0;                  // grants deleted
  std::vector<std::string> families;  // families revoked now (sorted); a family already revoked is not counted
};

// Revokes the selected families at `now`, `batch` (1..kMaxGcBatch) grant deletions per write transaction (see above).
//   - InvalidArgument: no selector, or more than one kind of selector, or an id prefix that is not base64url or is
//     longer than a full hash (43 characters).
//   - id prefix: NotFound if no grant matches; InvalidArgument "matches N grants" if several do (none is revoked and
//     none is named: give more characters).
//   - family: NotFound if the family has no grants and was never revoked; an already revoked family is not an error
//     (revocation is idempotent): it reports no family, and the grants it deletes (a revocation that was interrupted
//     left them).
//   - client and/or subject: matching nothing is not an error (0 grants, no family).
// The revocation record is kept until now + the longest AccessTokenLifetime + clock_skew_seconds: introspection
// accepts a JWT until exp + clock_skew_seconds, and the record must outlive every such JWT of the family.
Result<RevokeReport> RevokeGrants(store::Store& store, const RevokeSelector& selector, int64_t now,
                                  int64_t clock_skew_seconds = 0, size_t batch = kDefaultGcBatch);

// now + store::FamilyRevocationRetention of the stored clients: when a JWT access token issued from a family revoked
// at `now` has certainly expired, clock skew included.
Result<int64_t> RevocationKeepUntil(store::Txn& txn, int64_t now, int64_t clock_skew_seconds = 0);


struct GcReport {
  size_t grants = 0;       // expired grants deleted
  size_t revocations = 0;  // expired family-revocation records deleted
  size_t batches = 0;      // CollectExpired calls (write transactions)
};

// Deletes everything expired at the clock's time when the call starts, `batch` (1..kMaxGcBatch) records per write
// transaction, until Store::CollectExpired says there is no more. InvalidArgument for a batch out of range.
Result<GcReport> CollectGarbage(store::Store& store, const Clock& clock, size_t batch = kDefaultGcBatch);

}  // namespace tf::admin
