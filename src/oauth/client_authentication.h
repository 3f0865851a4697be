// Client authentication at the token endpoint (RFC 6749 §2.3, §3.2.1), shared by every grant and by the revocation
// and introspection endpoints.
//
// Accepted methods (exactly one per request):
//   client_secret_basic  Authorization: Basic (basic_auth.h) — the id and secret from the header
//   client_secret_post   client_id and client_secret in the body
//   none                 client_id alone in the body, for a public client (RequireClientSecret = false)
// A header with another scheme (e.g. Bearer) is ignored: the client did not use Basic.
//
// Outcomes:
//   400 invalid_request  Basic together with a body client_secret (two methods at once), or a body client_id that
//                        differs from the Basic one (the same id in both places is accepted)
//   401 invalid_client   everything else that fails, all with byte-identical answers (errors.h): no credentials, a
//                        malformed Basic header, a client_id or client_secret longer than 100 characters
//                        (IdentityServer's InputLengthRestrictions), an unknown or disabled client, a confidential
//                        client without a secret or with a wrong or expired one, a public client that presents a
//                        secret it does not have
// Secrets are checked with store::MatchesAnySecret (hashed, constant-time comparison).
//
// Thread-safety: pure function of its arguments.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/form.h"
#include "store/records.h"

namespace tf::oauth {

enum class ClientAuthenticationMethod { kClientSecretBasic, kClientSecretPost, kNone };

struct ClientAuthentication {
  const store::Client* client = nullptr;   // points into the snapshot; null on failure
  ClientAuthenticationMethod method = ClientAuthenticationMethod::kNone;
  http::Response error;                    // the answer to send when client is null
  std::string claimed_client_id;           // the id the request presented (Basic or body), for the log; may be ""
};

ClientAuthentication AuthenticateClient(const http::Request& request, const Form& form, const Snapshot& snapshot,
                                        const Config& config, int64_t now);

}  // namespace tf::oauth
