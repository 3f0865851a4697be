// What a tokenctl command reads and writes: its standard streams, the clock, whether standard input is a terminal,
// and the exit codes. Kept apart from cli.h so that the command files (client_commands.cc, ...) and the terminal
// handling can use it without depending on the command table.
#pragma once

#include <iosfwd>

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

}  // namespace tf::admin
