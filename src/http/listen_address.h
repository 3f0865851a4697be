// The --listen address syntax of the FastCGI adapter, parsed apart from binding so it can be unit-tested:
//
//   ""              the listening socket inherited on fd 0 (spawn-fcgi, mod_fcgid, systemd StandardInput=socket)
//   "unix:/path"    a Unix-domain socket bound by us (a stale socket file is replaced; mode 0660)
//   "HOST:PORT"     a TCP socket on HOST, which is required ("127.0.0.1:9000", "localhost:9000", "[::1]:9000"),
//                   so that nothing listens on all interfaces unless an operator writes "0.0.0.0:9000" on purpose.
//
// Internal to http/. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "util/status.h"

namespace tf::http {

struct ListenAddress {
  enum class Kind { kInherited, kUnix, kTcp };
  Kind kind = Kind::kInherited;
  std::string path;  // kUnix
  std::string host;  // kTcp, without IPv6 brackets
  std::string port;  // kTcp, decimal 1..65535
};

Result<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace tf::http
