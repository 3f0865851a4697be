// Validating an access token this service issued, for the endpoints that accept one (introspection, RFC 7662;
// userinfo, OIDC Core §5.3). One set of rules, so the two can never disagree about which tokens are alive:
//
//   JWT access token (has '.')  compact JWS; header alg and kid name a published key (current, next or retired)
//                               of that alg and the signature verifies with it; typ at+jwt (or application/at+jwt,
//                               any case); iss = config.issuer; exp present and now < exp + skew; nbf absent or
//                               nbf <= now + skew; if it carries grant_id, no revocation record for that family.
//   reference access token      SHA-256 of the handle is a reference_token grant, now < its expiry, its family
//                               not revoked; its claims are the stored access_token_json.
// skew = config.clock_skew_seconds. Anything else (refresh tokens, codes, garbage) is not an access token: nullopt.
// Only a store failure is an error Status.
//
// Thread-safety: pure function of its arguments (the store is thread-safe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "oauth/catalog.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

struct ValidAccessToken {
  std::string claims_json;   // the token's claims (JWT payload or the reference token's stored claims), as issued
  bool reference = false;    // a reference token (else a JWT)
  std::string client_id;     // the client_id claim (a reference token: its grant's client, which issued it)
  std::string family;        // the grant family: a JWT's grant_id claim ("" = none); a reference token's grant's
};

Result<std::optional<ValidAccessToken>> ValidateAccessToken(std::string_view token, const Snapshot& snapshot,
                                                            const Config& config, int64_t now, store::Store& store);

}  // namespace tf::oauth
