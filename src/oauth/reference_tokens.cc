#include "oauth/reference_tokens.h"

#include "util/crypto.h"

namespace tf::oauth {

NewGrant NewHandle() {
  NewGrant g;
  g.handle = RandomHandle(32);
  g.key = Sha256(g.handle);
  return g;
}

NewGrant NewReferenceToken(store::Grant token, std::string claims_json, int64_t iat, int64_t exp) {
  NewGrant g = NewHandle();
  g.grant = std::move(token);
  g.grant.kind = store::GrantKind::kReferenceToken;
  g.grant.created = iat;
  g.grant.expires = exp;
  g.grant.access_token_json = std::move(claims_json);
  return g;
}

}  // namespace tf::oauth
