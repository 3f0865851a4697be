// The discovery document (RFC 8414 metadata at the OpenID Connect path /.well-known/openid-configuration) and the
// JWKS (RFC 7517) at /.well-known/openid-configuration/jwks. Both are rendered once per configuration snapshot from
// what is actually configured, never from the request (a forged Host cannot change them).
//
// Discovery members:
//   issuer, jwks_uri, authorization_endpoint, token_endpoint, userinfo_endpoint, end_session_endpoint,
//   revocation_endpoint, introspection_endpoint config.issuer and config.EndpointUrl(path)
//   scopes_supported                            enabled identity resources, then enabled API scopes, each with
//                                               ShowInDiscoveryDocument, then offline_access when an enabled client
//                                               has AllowOfflineAccess
//   claims_supported                            the claims an id_token carries (sub iss aud exp iat auth_time nonce
//                                               at_hash sid idp amr acr), then the UserClaims of those identity
//                                               resources and API scopes and of the enabled API resources shown in
//                                               discovery (deduplicated)
//   grant_types_supported                       the grant table (grant.h)
//   response_types_supported                    ["code"]
//   response_modes_supported                    ["query","form_post"]
//   code_challenge_methods_supported            ["S256"], plus "plain" when an enabled client has AllowPlainTextPkce
//   subject_types_supported                     ["public"]
//   id_token_signing_alg_values_supported       the algorithms that could sign an id_token and have a current key:
//                                               config.id_token_signing_alg and every enabled client's
//                                               AllowedIdentityTokenSigningAlgorithms, each once, RS256 first
//   authorization_response_iss_parameter_supported  true (RFC 9207: authorize redirects carry iss)
//   token_endpoint_auth_methods_supported, revocation_endpoint_auth_methods_supported
//                                               ["client_secret_basic","client_secret_post"], plus "none" when an
//                                               enabled client is public (RequireClientSecret false)
//   introspection_endpoint_auth_methods_supported  ["client_secret_basic","client_secret_post"]
//   request_parameter_supported, request_uri_parameter_supported  false (no request objects)
// JWKS: {"keys":[...]} with the public JWK of every loaded key, current then next then retired.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace tf::oauth {

struct Snapshot;

std::string RenderDiscoveryDocument(const Config& config, const Snapshot& snapshot);
std::string RenderJwks(const Snapshot& snapshot);

}  // namespace tf::oauth
