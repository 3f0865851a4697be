#include "admin/terminal.h"

#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <istream>
#include <iterator>
#include <ostream>

namespace tf::admin {
namespace {

// The terminal settings to put back if a signal ends tokenctl while echo is off (see terminal.h). Written only while
// no handler is installed; read only by the handler.
struct termios g_saved_termios;
int g_termios_fd = -1;
constexpr int kRestoreSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

extern "C" void RestoreTerminalAndRaise(int sig) {
  tcsetattr(g_termios_fd, TCSANOW, &g_saved_termios);  // async-signal-safe
  signal(sig, SIG_DFL);
  raise(sig);
}

// Echo off on `fd` for the lifetime of the object, with the settings restored even if a signal (Ctrl-C) ends the
// process meanwhile.
class EchoOff {
 public:
  explicit EchoOff(int fd) {
    if (fd < 0 || tcgetattr(fd, &g_saved_termios) != 0) return;
    g_termios_fd = fd;
    struct sigaction action = {};
    action.sa_handler = RestoreTerminalAndRaise;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < std::size(kRestoreSignals); ++i) sigaction(kRestoreSignals[i], &action, &previous_[i]);
    struct termios quiet = g_saved_termios;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    active_ = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
    if (!active_) RestoreHandlers();
  }
  ~EchoOff() {
    if (!active_) return;
    tcsetattr(g_termios_fd, TCSANOW, &g_saved_termios);
    RestoreHandlers();
  }
  EchoOff(const EchoOff&) = delete;
  EchoOff& operator=(const EchoOff&) = delete;

 private:
  void RestoreHandlers() {
    for (size_t i = 0; i < std::size(kRestoreSignals); ++i) sigaction(kRestoreSignals[i], &previous_[i], nullptr);
    g_termios_fd = -1;
  }
  bool active_ = false;
  struct sigaction previous_[std::size(kRestoreSignals)] = {};
};

}  // namespace

std::optional<std::string> ReadLineQuietly(const CliIo& io, std::string_view prompt) {
  std::optional<EchoOff> echo_off;
  if (io.stdin_is_terminal) {
    echo_off.emplace(io.terminal_fd);
    *io.err << prompt << std::flush;
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(*io.in, line));
  echo_off.reset();
  if (io.stdin_is_terminal) *io.err << "\n";  // the Enter that was not echoed
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace tf::admin
