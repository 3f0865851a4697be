// The discovery document (RFC 8414 metadata at the OpenID Connect path /.well-known/openid-configuration) and the
// JWKS (RFC 7517) at /.well-known/openid-configuration/jwks. Both are rendered once per configuration snapshot from
// what is actually configured, never from the request (a forged Host cannot change them).
//
// Discovery members:
//   issuer, token_endpoint, jwks_uri            config.issuer and config.EndpointUrl(path)
//   grant_types_supported                       the grant table (grant.h)
//   token_endpoint_auth_methods_supported       ["client_secret_basic","client_secret_post"]
//   scopes_supported                            enabled identity resources, then enabled API scopes, each with
//                                               ShowInDiscoveryDocument
//   claims_supported                            the UserClaims of those identity resources and API scopes and of the
//                                               enabled API resources shown in discovery (deduplicated)
// JWKS: {"keys":[...]} with the public JWK of every loaded key, current then next then retired.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"

namespace tf::oauth {

struct Snapshot;

inline constexpr std::string_view kTokenPath = "/connect/token";
inline constexpr std::string_view kDiscoveryPath = "/.well-known/openid-configuration";
inline constexpr std::string_view kJwksPath = "/.well-known/openid-configuration/jwks";

std::string RenderDiscoveryDocument(const Config& config, const Snapshot& snapshot);
std::string RenderJwks(const Snapshot& snapshot);

}  // namespace tf::oauth
