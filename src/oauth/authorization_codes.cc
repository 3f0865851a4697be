#include "oauth/authorization_codes.h"

#include <optional>
#include <string>

#include "oauth/grant_family.h"
#include "util/base64.h"
#include "util/crypto.h"

namespace tf::oauth {
namespace {

constexpr char kCodeHandleVersion = 0x01;
constexpr size_t kFamilyBytes = 16, kSecretBytes = 32;
constexpr size_t kCodeHandleBytes = 1 + kFamilyBytes + kSecretBytes;
constexpr size_t kCodeHandleLength = (kCodeHandleBytes * 4 + 2) / 3;  // base64url without padding: 66
static_assert(kCodeHandleLength <= kMaxAuthorizationCodeLength);

}  // namespace

std::string AuthorizationCodeKey(std::string_view code) {
  if (code.size() == kCodeHandleLength) {
    const std::optional<std::string> bytes = Base64UrlDecode(code);
    if (bytes.has_value() && bytes->size() == kCodeHandleBytes && (*bytes)[0] == kCodeHandleVersion) {
      return store::FamilyChainKey(Base64UrlEncode(std::string_view(*bytes).substr(1, kFamilyBytes)), code);
    }
  }
  return Sha256(code);
}

NewGrant NewAuthorizationCode(const store::Client& client, store::Grant grant, int64_t now) {
  const std::string family = RandomBytes(kFamilyBytes);
  NewGrant g;
  g.grant = std::move(grant);
  g.grant.family = Base64UrlEncode(family);  // as RandomHandle(16) makes a family id
  g.handle = Base64UrlEncode(std::string(1, kCodeHandleVersion) + family + RandomBytes(kSecretBytes));
  g.key = store::FamilyChainKey(g.grant.family, g.handle);  // = AuthorizationCodeKey(g.handle), without decoding it
  g.grant.kind = store::GrantKind::kAuthorizationCode;
  g.grant.created = now;
  g.grant.expires = now + client.authorization_code_lifetime;
  g.grant.absolute_expires.reset();
  g.grant.consumed_at.reset();
  g.grant.successor.clear();
  return g;
}

bool IsLiveAuthorizationCodeOf(const store::Grant& grant, std::string_view client_id, int64_t now) {
  return grant.kind == store::GrantKind::kAuthorizationCode && grant.client_id == client_id && now < grant.expires &&
         !grant.family.empty();
}

Result<CodeRedemption> RedeemAuthorizationCode(store::Txn& txn, const Snapshot& snapshot, std::string_view code_hash,
                                               std::string_view client_id, int64_t now,
                                               const std::vector<const NewGrant*>& issued,
                                               bool replay_proves_possession) {
  // 1. The code itself.
  Result<store::Grant> found = txn.GetGrant(code_hash);
  if (!found.ok()) {
    if (found.status().IsNotFound()) return CodeRedemption::kRejected;
    return found.status();
  }
  store::Grant& code = *found;
  if (!IsLiveAuthorizationCodeOf(code, client_id, now)) return CodeRedemption::kRejected;

  // 2. A second use: everything issued from the code dies (RFC 6749 §4.1.2), when the replay proves possession.
  if (code.consumed_at.has_value()) {
    if (!replay_proves_possession) return CodeRedemption::kReplayWithoutProof;
    TF_RETURN_IF_ERROR(RevokeGrantFamily(txn, snapshot, code.family, now));
    return CodeRedemption::kReuseDetected;
  }

  // 3. Consume it and store what was issued from it.
  for (const NewGrant* g : issued) {
    if (g != nullptr && g->grant.family != code.family) {
      return Status::InvalidArgument("a grant issued from an authorization code is not in the code's family");
    }
  }
  code.consumed_at = now;
  TF_RETURN_IF_ERROR(txn.PutGrant(code_hash, code));
  for (const NewGrant* g : issued) {
    if (g == nullptr) continue;
    TF_RETURN_IF_ERROR(txn.PutGrant(g->key, g->grant));
  }
  return CodeRedemption::kRedeemed;
}

}  // namespace tf::oauth
