// Reading a secret or a password from tokenctl's standard input without echoing it.
//
// This is the only place in tokenctl with global state and signal handling: while echo is off, the saved terminal
// settings live in a global and handlers for SIGINT, SIGTERM, SIGHUP and SIGQUIT restore them before the signal takes
// its default effect (so Ctrl-C at a password prompt does not leave the terminal silent); the previous handlers are
// put back once the line is read. Not thread-safe: one reader at a time per process.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "admin/cli_io.h"

namespace tf::admin {

// One line from `io.in` (nullopt at end of input), without a trailing '\r'. When io.stdin_is_terminal, `prompt` goes
// to `io.err` and echo is off on io.terminal_fd while reading; echo goes off before the prompt appears, so nothing
// typed after the prompt is ever echoed.
std::optional<std::string> ReadLineQuietly(const CliIo& io, std::string_view prompt);

}  // namespace tf::admin
