// Reference access tokens: for a client with AccessTokenType = Reference, the access token is an opaque handle
// instead of a JWT, and the claims the JWT would have carried stay in the store, where resource servers read them
// through introspection (RFC 7662).
//
//   handle  = RandomHandle(32): base64url(RAND_bytes(32)), 43 chars of [A-Za-z0-9_-], 256 bits
//   key     = Sha256(handle)            (the handle itself is never stored)
//   value   = Grant{kind reference_token, client_id, subject ("" for client_credentials), scopes, created = iat,
//                   expires = exp, family (the grant family when issued from one, else a RandomHandle(16) of its
//                   own: every grant has a family), auth_time, idp, amr, tenant, acr,
//                   access_token_json = the claims JSON of the token, exactly as a JWT would carry it}
//
// The grant is built here and written by the caller in its own write transaction, together with whatever else the
// request stores (a new refresh token), so a response never names a token that was not stored.
//
// Thread-safety: pure functions (RandomHandle is thread-safe).
#pragma once

#include <cstdint>
#include <string>

#include "store/records.h"

namespace tf::oauth {

// A grant about to be stored: the handle goes to the client once, only its hash goes to the store.
struct NewGrant {
  std::string handle;        // RandomHandle(32), or a refresh handle (refresh_tokens.h)
  std::string key;           // the store key, 32 raw bytes: Sha256(handle), or a refresh handle's chain key
  store::Grant grant;
};

// A fresh handle and its hash.
NewGrant NewHandle();

// The reference token for an access token whose claims are `claims_json`: `token` arrives with client_id, subject,
// scopes (the token's granted scopes), family and the authentication data filled in; kind, created (= iat), expires
// (= exp) and access_token_json are set here.
NewGrant NewReferenceToken(store::Grant token, std::string claims_json, int64_t iat, int64_t exp);

}  // namespace tf::oauth
