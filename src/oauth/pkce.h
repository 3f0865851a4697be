// Proof Key for Code Exchange (RFC 7636): the checks of code_challenge at the authorize endpoint and of
// code_verifier at the token endpoint.
//
//   code_verifier   = 43*128 unreserved ( [A-Za-z0-9-._~] )                       (§4.1)
//   code_challenge  the same syntax (§4.2); for S256 it is base64url(SHA-256(ASCII(code_verifier))) without padding,
//                   so exactly 43 characters; for plain it equals the verifier
//   code_challenge_method  "S256" or "plain" (exact case); absent means "plain" (§4.3)
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace tf::oauth {

inline constexpr std::string_view kPkceS256 = "S256";
inline constexpr std::string_view kPkcePlain = "plain";

// 43..128 characters of [A-Za-z0-9-._~] (the syntax of both a verifier and a challenge).
bool IsValidPkceString(std::string_view value);

// Whether `verifier` (already checked with IsValidPkceString) matches the stored challenge under `method` ("S256"
// or "plain"); constant time in the final comparison. False for any other method.
bool PkceVerifierMatches(std::string_view verifier, std::string_view challenge, std::string_view method);

}  // namespace tf::oauth
