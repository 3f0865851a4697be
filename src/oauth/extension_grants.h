// Extension-grant plug-ins (include/tokenfcgi/extension_grant.h): loading the configured shared libraries once per
// worker process, and checking what a plug-in answers before anything is issued.
//
// ExtensionGrantPlugins::Load dlopen()s every `extension_grant` of the configuration (config.h) with RTLD_NOW |
// RTLD_LOCAL, finds tf_extension_grant_entry, checks the ABI version and calls init(). Any failure is an error whose
// message names the grant type and the library, e.g.
//   "extension grant urn:x:y: /usr/lib/.../lib.so: ABI version 2, this worker speaks 1"
// and the worker stops with it (one log line). The plug-ins are destroyed (destroy(), then dlclose) in reverse
// order when the ExtensionGrantPlugins is destroyed.
//
// The worker installs its plug-ins once, before serving (InstallExtensionGrants); the token endpoint looks the
// grant_type up with FindExtensionGrant after the built-in table (grant.h) and calls HandleExtensionGrant
// (grant_extension.cc).
//
// ValidateExtensionGrantResult copies a plug-in's result into C++ values and checks every rule of the header:
//   status       TF_EXTENSION_GRANT_OK or TF_EXTENSION_GRANT_ERROR
//   strings      a NULL data pointer only with size 0; UTF-8 (utf8.h) without NUL
//   OK           subject 1..TF_EXTENSION_GRANT_MAX_SUBJECT bytes; at most TF_EXTENSION_GRANT_MAX_CLAIMS claims, each
//                type 1..TF_EXTENSION_GRANT_MAX_CLAIM_TYPE bytes and not a protocol claim (claims.h), each value at
//                most TF_EXTENSION_GRANT_MAX_CLAIM_VALUE bytes; at most TF_EXTENSION_GRANT_MAX_SCOPES scopes, each
//                one of the request's scopes (duplicates dropped; none = all of the request's); lifetime 0 (the
//                client's) or 1..max_lifetime seconds; no error code alongside
//   ERROR        error one of invalid_request, invalid_grant, unauthorized_client, invalid_scope, invalid_target;
//                error_description at most TF_EXTENSION_GRANT_MAX_ERROR_DESCRIPTION bytes of %x20-21 / %x23-5B /
//                %x5D-7E (RFC 6749 §5.2)
// A broken rule is InvalidArgument with a message saying which (never the value), which the endpoint logs with the
// plug-in's name before answering 500 server_error.
//
// Thread-safety: Load and InstallExtensionGrants run once, before serving threads start; FindExtensionGrant and a
// plug-in's handle() may then be called from any number of threads (the plug-in's contract, see the header).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "store/records.h"
#include "tokenfcgi/extension_grant.h"
#include "util/status.h"

namespace tf::oauth {

// One configured and initialised plug-in.
struct ExtensionGrant {
  std::string grant_type;
  std::string library;                       // the configured path
  std::string name;                          // the plug-in's own name (printable ASCII), for log lines
  const tf_extension_grant_plugin* plugin = nullptr;
  void* state = nullptr;                     // from init()
  void* handle = nullptr;                    // from dlopen()
};

class ExtensionGrantPlugins {
 public:
  ExtensionGrantPlugins() = default;
  ~ExtensionGrantPlugins();
  ExtensionGrantPlugins(const ExtensionGrantPlugins&) = delete;
  ExtensionGrantPlugins& operator=(const ExtensionGrantPlugins&) = delete;

  // Loads every plug-in of config.extension_grants (none: an empty set).
  static Result<std::unique_ptr<ExtensionGrantPlugins>> Load(const Config& config);

  const ExtensionGrant* Find(std::string_view grant_type) const;
  const std::vector<ExtensionGrant>& grants() const { return grants_; }

 private:
  std::vector<ExtensionGrant> grants_;
};

// The process's plug-ins (held until exit, or until replaced). Call before serving starts.
void InstallExtensionGrants(std::shared_ptr<const ExtensionGrantPlugins> plugins);
// The installed plug-in for `grant_type`, or null.
const ExtensionGrant* FindExtensionGrant(std::string_view grant_type);

// A plug-in's answer after validation.
struct ExtensionGrantOutcome {
  bool ok = false;
  // ok
  std::string subject;
  std::vector<store::ClaimValue> claims;
  std::vector<std::string> scopes;           // never empty: the request's scopes when the plug-in named none
  int64_t lifetime = 0;                      // 0 = the client's AccessTokenLifetime
  // !ok
  std::string error;
  std::string error_description;
};

Result<ExtensionGrantOutcome> ValidateExtensionGrantResult(const tf_extension_grant_result& result,
                                                           const std::vector<std::string>& requested_scopes,
                                                           int64_t max_lifetime);

}  // namespace tf::oauth
