// Authorization codes (RFC 6749 §4.1): issued by the authorize endpoint (authorize.h), redeemed once by the
// authorization_code grant (grant_authorization_code.cc).
//
//   family  = RandomHandle(16)          every token issued from the code joins this family, so one
//                                       RevokeGrantFamily reaches all of them
//   handle  = base64url(0x01 | family (16 bytes decoded) | secret (RAND_bytes(32))): 66 chars of [A-Za-z0-9_-]
//   key     = AuthorizationCodeKey(handle) = FamilyKeyPrefix(family) | the first 16 bytes of SHA-256(handle)
//             -> Grant{kind authorization_code, client_id, subject, scopes, created, expires = created +
//             AuthorizationCodeLifetime, family, redirect_uri (as sent to authorize; "" when none was sent), nonce,
//             code_challenge, code_challenge_method, auth_time, idp, amr, tenant, acr, session_id}
// The key is a chain key of the code's family (store.h), as the key of the refresh token issued from it is: the two
// records sit side by side in the store, so a redemption (the code consumed, its refresh token stored) and a
// revocation of the family (both deleted) each write one leaf of the B-tree, and the code needs no family index
// entry. The handle needs no MAC: a forged handle names a family and hashes to a key that holds nothing, and 128
// bits of SHA-256 stand between a guessed handle and a real code's key. Codes of older builds (RandomHandle(32), 43
// characters, under Sha256(handle)) are still found: AuthorizationCodeKey returns Sha256(code) for any string that
// is not a handle of the form above.
//
// Redemption (RedeemAuthorizationCode) runs inside ONE Store::Update, so parallel requests with the same code from
// any number of processes serialise on LMDB's writer lock: exactly one succeeds.
//   1. absent, not a code, another client's, or expired (now >= expires)   -> kRejected, nothing written
//   2. consumed_at already set, and the replay proves possession (`replay_proves_possession`: the client authenticated
//      as a confidential client, or the request's code_verifier matches the code's challenge)
//                                                                          -> kReuseDetected: the family is revoked
//      (grant_family.h: the refresh tokens and reference tokens issued from the code are deleted, and JWT access
//      tokens carrying grant_id = family introspect inactive) in the same transaction (RFC 6749 §4.1.2). The code
//      record itself is in the family and goes with it, so a third use is simply unknown (kRejected).
//      The revocation is a WRITE: the caller's Update callback must return OK (commit) on kReuseDetected, and answer
//      invalid_grant afterwards; returning an error there would abort the transaction and undo the revocation.
//      consumed_at set WITHOUT such proof                                  -> kReplayWithoutProof, nothing written: a
//      used code is all a public client's stolen-code replay has, and letting it revoke would hand anyone who saw
//      the code (a log, a Referer, browser history) the power to sign the victim out. The legitimate client always
//      has its proof, so a double redemption by the client itself still revokes.
//   3. otherwise: consumed_at = now (the record stays until `expires` so a second use is detected), and the grants
//      the caller built (a refresh token, a reference access token) are stored in the same transaction -> kRedeemed
// Everything that needs no write (redirect_uri, PKCE, user active) is checked by the caller in a read transaction
// before, and the tokens are signed outside any transaction; step 1 is repeated here because the world may have
// moved in between.
//
// Thread-safety: pure functions of their arguments plus the Txn they are given (one thread).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "oauth/catalog.h"
#include "oauth/reference_tokens.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

// Codes longer than this are invalid_grant without a lookup (IdentityServer's InputLengthRestrictions.AuthorizationCode).
inline constexpr size_t kMaxAuthorizationCodeLength = 100;

// Where the code `code` (as presented) is stored: see the layout above.
std::string AuthorizationCodeKey(std::string_view code);

// A new code: `grant` arrives with client_id, subject, scopes, redirect_uri, nonce, code_challenge(_method) and the
// authentication data (auth_time, idp, amr, tenant, acr, session_id); kind, created, expires and family are set here.
NewGrant NewAuthorizationCode(const store::Client& client, store::Grant grant, int64_t now);

// Step 1 without a write: `grant` is an authorization code of `client_id`, not expired at `now`, with a family. The
// grant handler uses it on its read transaction; RedeemAuthorizationCode applies it again on fresh data.
bool IsLiveAuthorizationCodeOf(const store::Grant& grant, std::string_view client_id, int64_t now);

enum class CodeRedemption { kRedeemed, kRejected, kReuseDetected, kReplayWithoutProof };

// Steps 1-3 above in `txn` (a write transaction). `issued` are grants to store on success (each in the code's
// family; null entries are skipped; one in another family is InvalidArgument, so a token could never outlive a
// revocation of the code). A non-OK Status is a store failure: the caller's Update aborts and nothing is written.
// Every outcome, kReuseDetected included, needs the caller's Update to commit (see step 2).
Result<CodeRedemption> RedeemAuthorizationCode(store::Txn& txn, const Snapshot& snapshot, std::string_view code_hash,
                                               std::string_view client_id, int64_t now,
                                               const std::vector<const NewGrant*>& issued,
                                               bool replay_proves_possession);

}  // namespace tf::oauth
