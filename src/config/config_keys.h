// The table of configuration keys behind config.h, exposed read-only so that `tokenfcgi --help` can list the keys and
// a unit test can check that conf/tokenfcgi.conf documents every one of them with its real default. The table is a
// constant array defined in config.cc; reading it is thread-safe.
#pragma once

#include <span>

namespace tf {

struct ConfigKeyInfo {
  const char* key;            // "map_size"
  const char* default_value;  // as written in the file: "1G"; "" when the key has no default (issuer)
  const char* unit;           // "bytes (K/M/G/T suffix)", "seconds", "" when unitless
  const char* doc;            // one sentence
};

std::span<const ConfigKeyInfo> ConfigKeys();

}  // namespace tf
