// The path of every endpoint under {base_path}, in one place: the router (service.cc) matches them, discovery
// (discovery.cc) and the HTML forms (authorize.cc) turn them into absolute URLs with config.EndpointUrl(path).
// Paths match exactly: no trailing slash, no percent-decoding.
#pragma once

#include <string_view>

namespace tf::oauth {

inline constexpr std::string_view kAuthorizePath = "/connect/authorize";
inline constexpr std::string_view kTokenPath = "/connect/token";
inline constexpr std::string_view kUserinfoPath = "/connect/userinfo";
inline constexpr std::string_view kRevocationPath = "/connect/revocation";
inline constexpr std::string_view kIntrospectionPath = "/connect/introspect";
inline constexpr std::string_view kDeviceAuthorizationPath = "/connect/deviceauthorization";
inline constexpr std::string_view kDevicePath = "/device";
inline constexpr std::string_view kDiscoveryPath = "/.well-known/openid-configuration";
inline constexpr std::string_view kJwksPath = "/.well-known/openid-configuration/jwks";

}  // namespace tf::oauth
