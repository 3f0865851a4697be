// The grant handlers of the token endpoint and the table that dispatches to them (disque/redis-style command table).
//
// By the time a handler runs, the token endpoint has checked the method, the body and its media type, decoded the
// form, authenticated the client (RFC 6749 §2.3) and matched grant_type to the handler. The handler applies its own
// grant's rules and returns the whole response (RFC 6749 §5.1 success or §5.2 error).
//
// Adding a grant (password, authorization_code, refresh_token, device_code, ...) is one new grant_<name>.cc with its
// handler plus one line in grant_table.cc; the dispatcher (token_endpoint.cc) and discovery (grant_types_supported
// is read from the table) need no change.
//
// Thread-safety: handlers are pure functions of their TokenRequest; everything they read is immutable for the
// duration of the request (the snapshot is shared read-only; the store is thread-safe).
#pragma once

#include <span>
#include <string_view>

#include "config/config.h"
#include "http/request.h"
#include "oauth/form.h"
#include "oauth/snapshot.h"
#include "store/records.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

// One token request after client authentication.
struct TokenRequest {
  const Form& form;                 // the decoded body (query-string parameters are ignored)
  const store::Client& client;      // the authenticated client
  const Snapshot& snapshot;         // configuration and keys, consistent for this request
  const Config& config;
  const Clock& clock;
  store::Store* store;              // for grants that read or redeem stored grants (codes, refresh tokens, ...)
};

using GrantHandler = http::Response (*)(const TokenRequest& request);

struct GrantType {
  std::string_view name;   // the grant_type value, e.g. "client_credentials"
  GrantHandler handler;
};

// Every grant type this server implements, in the order discovery lists them.
std::span<const GrantType> GrantTypes();

// RFC 6749 §4.4 (grant_client_credentials.cc).
http::Response HandleClientCredentials(const TokenRequest& request);

// RFC 6749 §4.3, the resource owner password credentials grant (grant_password.cc).
http::Response HandlePassword(const TokenRequest& request);

// RFC 6749 §6, refreshing an access token, with rotation and reuse detection (grant_refresh_token.cc,
// refresh_tokens.h).
http::Response HandleRefreshToken(const TokenRequest& request);

// RFC 6749 §4.1.3 with RFC 7636 (PKCE) and OpenID Connect Core §3.1.3: redeeming a code from the authorize endpoint
// (grant_authorization_code.cc, authorization_codes.h).
http::Response HandleAuthorizationCode(const TokenRequest& request);

// RFC 8628 §3.4, polling for and redeeming a device code (grant_device_code.cc, device_codes.h).
http::Response HandleDeviceCode(const TokenRequest& request);

// RFC 8693 token exchange, urn:ietf:params:oauth:grant-type:token-exchange (grant_token_exchange.cc,
// token_exchange.h).
http::Response HandleTokenExchange(const TokenRequest& request);

// A grant type served by a plug-in (grant_extension.cc, extension_grants.h). Not in the table: the token endpoint
// looks the plug-ins up after it (FindExtensionGrant).
struct ExtensionGrant;
http::Response HandleExtensionGrant(const ExtensionGrant& grant, const TokenRequest& request);

}  // namespace tf::oauth
