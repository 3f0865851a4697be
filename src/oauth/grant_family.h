// Revoking a grant family: every grant descending from one original grant (a login's refresh token and all its
// rotations, and the reference access tokens issued from them) dies together. Used by refresh-token reuse detection
// (refresh_tokens.h), by the revocation endpoint (RFC 7009) and by tokenctl.
//
// RevokeGrantFamily deletes every grant of `family` and records the revocation until
//     keep_until = now + snapshot.family_revocation_retention (store::FamilyRevocationRetention: the longest
//     access-token lifetime + clock skew)
// so that introspection can still answer "active": false for a JWT access token carrying "grant_id": <family> until
// the last such token has expired by itself. Idempotent: revoking a dead family again extends nothing that matters
// and deletes nothing more. It runs inside the caller's write transaction (Store::Update), so it commits or aborts
// with whatever else the caller decides there.
//
// Thread-safety: as the Txn it is given (one thread).
#pragma once

#include <cstdint>
#include <string_view>

#include "oauth/catalog.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

Status RevokeGrantFamily(store::Txn& txn, const Snapshot& snapshot, std::string_view family, int64_t now);

}  // namespace tf::oauth
