// The tokenctl command line, as a library function so that tests can drive it without a process:
//
//   tokenctl [--config FILE] [--json] COMMAND ...
//
// The command table, every command's synopsis and help, and the mapping from Status to exit codes live in cli.cc.
// Output: human-readable text on `out` by default, one JSON document with --json. Warnings and errors go to `err`,
// one line each, prefixed "tokenctl: ". Exit codes: 0 success, 1 error, 2 usage error.
//
// The configuration file is --config FILE, else $TOKENFCGI_CONFIG, else /etc/tokenfcgi/tokenfcgi.conf; the store
// path, map_size and max_readers come from it. Nothing secret is ever printed except a secret tokenctl has just
// generated, exactly once.
//
// Passwords (`user add`, `user passwd`) are read the same way as secrets, never from the command line: one line from
// `in`, or, on a terminal, a prompt with echo off, asked twice.
//
// Not thread-safe with itself: while it reads a secret with echo off it keeps the saved terminal settings in a global
// and installs handlers for SIGINT, SIGTERM, SIGHUP and SIGQUIT that restore them before the signal takes
// its default effect; the previous handlers are put back once the line is read.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "util/clock.h"

namespace tf::admin {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct CliIo {
  std::istream* in;              // a secret (`client secret add`) or a password (`user add`, `user passwd`): one line
  std::ostream* out;
  std::ostream* err;
  const Clock* clock;
  // When true: prompt on `err`, turn echo off on terminal_fd while reading a secret, and ask for a new password
  // twice. terminal_fd is the descriptor `in` reads from (-1: none, e.g. in tests; echo is then left alone).
  bool stdin_is_terminal = false;
  int terminal_fd = 0;
};

// `args` excludes the program name.
int RunTokenctl(const std::vector<std::string>& args, const CliIo& io);

}  // namespace tf::admin
