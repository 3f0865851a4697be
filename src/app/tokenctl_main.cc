// tokenctl: the admin tool. All of the command line lives in admin/cli.cc (RunTokenctl) so tests can drive it; this
// file only binds it to the process's streams and clock.
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "admin/cli.h"
#include "util/clock.h"

int main(int argc, char** argv) {
  // The database is shared by the service user's group (files 0660): keep group read/write out of the umask, and
  // keep others out, whatever umask the administrator's shell has (runuser -u tokenfcgi inherits 022).
  const mode_t inherited = ::umask(0);
  ::umask((inherited | 0007) & ~0070);
  std::vector<std::string> args(argv + 1, argv + argc);
  tf::admin::CliIo io;
  io.in = &std::cin;
  io.out = &std::cout;
  io.err = &std::cerr;
  io.clock = tf::SystemClock::Default();
  io.stdin_is_terminal = isatty(STDIN_FILENO) == 1;
  io.terminal_fd = STDIN_FILENO;
  const int code = tf::admin::RunTokenctl(args, io);
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "tokenctl: writing to standard output failed\n";
    return 1;
  }
  return code;
}
