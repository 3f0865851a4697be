// The tokenctl command line, as a library function so that tests can drive it without a process:
//
//   tokenctl [--config FILE] [--json] COMMAND ...
//
// The command table, every command's synopsis and help, and option parsing live in cli.cc; the commands themselves
// in the *_commands.cc files beside the admin functions they call (command.h is what they share).
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
// and installs signal handlers that restore them (terminal.h).
#pragma once

#include <string>
#include <vector>

#include "admin/cli_io.h"

namespace tf::admin {

// `args` excludes the program name.
int RunTokenctl(const std::vector<std::string>& args, const CliIo& io);

}  // namespace tf::admin
