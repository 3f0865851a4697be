// The token requests for tokens issued from a stored grant: by the authorization-code grant (from the code) and by
// the refresh-token grant (from the refresh token). Both copy the grant's fields into the requests in exactly the
// same way, here:
//   subject                 grant.subject
//   grant_id                grant.family (access token only): revoking the family makes the token inactive
//   auth_time               grant.auth_time, or grant.created when the login time is unknown
//   idp, amr, acr           the grant's, as recorded at login; tenant too (access token only)
//   sid                     grant.session_id (id_token only)
//   include_client_claims   the client's AlwaysSendClientClaims (access token only)
// What differs between the grants (the scopes, which user claims, nonce, user claims in the id_token) is the
// caller's.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "oauth/access_token.h"
#include "oauth/id_token.h"
#include "store/records.h"

namespace tf::oauth {

// `claims`: the user's claims to choose from (access_token.h selects by scope).
AccessTokenRequest AccessTokenRequestFromGrant(const store::Client& client, const store::Grant& grant,
                                               std::vector<std::string> scopes,
                                               std::vector<store::ClaimValue> claims);

// `access_token`: the access token issued alongside (for at_hash).
IdTokenRequest IdTokenRequestFromGrant(const store::Client& client, const store::Grant& grant,
                                       std::vector<std::string> scopes, std::string access_token);

}  // namespace tf::oauth
