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
#include <string_view>
#include <vector>

#include "admin/cli_io.h"

namespace tf::admin {

// `args` excludes the program name.
int RunTokenctl(const std::vector<std::string>& args, const CliIo& io);

// The command table as documentation reads it, in the order of `tokenctl --help`: tokenctl(8)'s COMMANDS section is
// made from it (tests/unit/man_pages_test.cc checks that the page matches).
struct CommandDoc {
  std::string_view name;      // "client secret add"
  std::string_view synopsis;  // after the name; may hold "\n" + indentation where it wraps
  std::string_view help;      // paragraphs separated by blank lines; an "example(s):" paragraph is verbatim
  struct Option {
    std::string_view name;  // "--grant"
    bool takes_value;
    std::string_view help;
  };
  std::vector<Option> options;
};
std::vector<CommandDoc> CommandDocs();

}  // namespace tf::admin
