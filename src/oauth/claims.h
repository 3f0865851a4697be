// Internal to oauth/: how a stored claim (store::ClaimValue) becomes a JWT or JSON member. One set of rules for
// access tokens (access_token.h), id_tokens (id_token.h) and the userinfo answer (userinfo.h):
//
//   value      the JSON type of store::ClaimValueJsonType: OpenID Connect Core §5.1's for the standard claims
//              (email_verified and phone_number_verified bool, updated_at number, address object), else the
//              ValueType's (boolean -> bool, integer -> int64 number, double -> number, json -> any JSON value,
//              normalised; IdentityServer's short names and the XML Schema URIs alike); a value that does not fit
//              its type (store::CheckClaimValue), and every other claim, is a JSON string.
//   repeated   a Type given several times becomes an array, in the order of the claims, at the place of its first
//              appearance.
//   protected  a claim whose final name (prefix + Type) is a protocol claim (kReservedClaims) or was already written
//              is skipped (logged at debug), so a stored claim can never forge `sub`, `iss`, `nonce`, ... or produce a
//              duplicate member.
//
// Thread-safety: pure functions (WriteClaims writes only to its arguments).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "util/json_writer.h"

namespace tf::oauth {

// Protocol claims: a stored user or client claim may never produce one of these names.
inline constexpr std::string_view kReservedClaims[] = {
    "iss", "nbf", "iat", "exp", "aud", "scope", "client_id", "sub", "jti", "auth_time",
    "idp", "amr", "acr", "tenant", "nonce", "sid", "cnf", "at_hash", "c_hash", "grant_id",
    "act", "may_act"};

bool IsReservedClaim(std::string_view name);

// One claim value as JSON text (see "value" above).
std::string ClaimValueJson(const store::ClaimValue& claim);

// Writes `claims` (names prefixed with `prefix`) whose Type is in `types` (every claim when `types` is null),
// following the rules above. Skips empty types, protocol claim names and names already in `written`, and adds the
// names it writes to `written`.
void WriteClaims(JsonWriter& w, std::string_view prefix, const std::vector<store::ClaimValue>& claims,
                 const std::vector<std::string>* types, std::set<std::string>& written);

}  // namespace tf::oauth
