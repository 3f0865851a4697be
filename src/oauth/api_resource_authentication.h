// Authentication of an API resource (IdentityServer's ApiResource, authenticated with one of its ApiSecrets) at the
// introspection endpoint (RFC 7662 §2.1: "the endpoint MUST require some form of authorization"). This is
// IdentityServer's model: a resource server introspects with its resource Name and a secret.
//
// The credential is found as a client's is (client_authentication.h), in exactly one place:
//   Authorization: Basic (basic_auth.h)   the resource Name as the user id, the secret as the password
//   client_id and client_secret in the body
// A resource matches when it is enabled, its Name equals the presented id exactly, and the secret matches one of its
// ApiSecrets (store::MatchesAnySecret: hashed, constant-time, expired secrets never match). There is no public
// resource: a missing secret never matches.
//
// No match is not an error answer here: the introspection endpoint then tries client authentication and answers one
// byte-identical 401 invalid_client for every failure. So this function only says which resource, if any, the
// credential proves. Basic together with a body client_secret, a body client_id that differs from the Basic one, a
// malformed Basic header, and a secret longer than store::kMaxClientSecretLength all prove nothing.
//
// Thread-safety: pure function of its arguments.
#pragma once

#include <cstdint>
#include <string>

#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/form.h"
#include "store/records.h"

namespace tf::oauth {

struct ApiResourceAuthentication {
  const store::ApiResource* resource = nullptr;  // points into the snapshot; null when nothing matched
  std::string claimed_name;                      // the id the request presented (Basic or body), for the log
};

ApiResourceAuthentication AuthenticateApiResource(const http::Request& request, const Form& form,
                                                  const Snapshot& snapshot, int64_t now);

}  // namespace tf::oauth
