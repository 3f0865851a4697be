// The one configuration file: plain `key = value` lines, `#` comments, blank lines ignored. Every key, its default
// and its unit live in one table in config.cc (and, commented, in conf/tokenfcgi.conf). Unknown keys, repeated keys
// and bad values are errors that name the key and the line. Parsing is separate from use: Load() only produces a
// Config value. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/log.h"
#include "util/status.h"

namespace tf {

struct Config {
  // Where tokens say they come from (`iss`) and the base of every URL in discovery. Required. https, or http for
  // loopback hosts (127.0.0.1, ::1, localhost) only. No trailing slash.
  std::string issuer;
  std::string database = "/var/lib/tokenfcgi";      // LMDB environment directory
  uint64_t map_size = 1ull << 30;                    // bytes; accepts K/M/G suffixes; same for every process
  unsigned max_readers = 126;                        // LMDB reader slots; >= workers x threads + tokenctl
  uint64_t max_body_bytes = 64 * 1024;               // request bodies larger than this get 413
  unsigned max_form_params = 64;                     // more parameters than this is invalid_request
  std::string base_path;                             // "" or "/auth": prefixes every endpoint path
  LogLevel log_level = LogLevel::kInfo;
  std::string access_token_signing_alg = "RS256";    // RS256 | PS256 | ES256 | EdDSA
  bool scope_claim_as_array = false;                 // scope_claim_format = string | array (IdentityServer)
  std::string realm = "tokenfcgi";                   // WWW-Authenticate: Basic realm="..."
  int64_t clock_skew_seconds = 300;                  // tolerance for nbf/exp when checking tokens

  // Path under base_path, e.g. EndpointUrl("/connect/token") -> issuer + base_path + "/connect/token".
  std::string EndpointUrl(std::string_view path) const;
};

// Reads and validates the file. Errors look like: "/etc/tokenfcgi/tokenfcgi.conf:12: map_size: not a size: 'x'".
Result<Config> LoadConfig(const std::string& path);
Result<Config> ParseConfig(std::string_view text, std::string_view source_name);

// --config FILE, else $TOKENFCGI_CONFIG, else /etc/tokenfcgi/tokenfcgi.conf.
std::string DefaultConfigPath(const char* command_line_value);

}  // namespace tf
