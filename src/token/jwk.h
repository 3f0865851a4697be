// Internal to token/: the public JWK (RFC 7517/7518/8037) of an EVP_PKEY and its RFC 7638 thumbprint. Exposed in a
// header only so tests can check the thumbprint against the RFCs' own example keys. Thread-safe (pure functions).
//
//   kid = base64url( SHA-256( '{"e":"AQAB","kty":"RSA","n":"0vx7...Kgw"}' ) )    43 characters
//           required members only, sorted by name, no whitespace:
//           RSA: e, kty, n      EC: crv, kty, x, y      OKP: crv, kty, x
//           n, e: unsigned big-endian, no leading zero bytes; EC x, y: 32 bytes each (left-padded); OKP x: 32 bytes.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "token/jws.h"
#include "util/status.h"

namespace tf::token::internal {

struct PublicJwk {
  std::string kid;   // RFC 7638 thumbprint, base64url
  std::string json;  // compact: kty, use "sig", alg, kid, then n/e | crv/x/y | crv/x
};

// The public half of `pkey` (RSA, EC P-256 or Ed25519) as a JWK for `alg`. Does not check key sizes.
Result<PublicJwk> MakePublicJwk(Alg alg, const EVP_PKEY* pkey);

// RFC 7638 §3: SHA-256 over the members (name, string value) as a compact JSON object with names sorted, then
// base64url. Values must not need JSON escaping (base64url text and fixed names such as "RSA" or "P-256" never do).
std::string ThumbprintFromJwkMembers(std::initializer_list<std::pair<std::string_view, std::string_view>> members);

}  // namespace tf::token::internal
