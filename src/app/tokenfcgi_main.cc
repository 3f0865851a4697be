// tokenfcgi: the FastCGI worker. Loads the configuration, opens the LMDB store once (we never fork, so "after any
// fork" holds trivially), builds one oauth::Service shared by every thread, and serves requests: FastCGI on the socket
// inherited on fd 0 or bound by --listen, or a single plain-CGI request when fd 0 is not a socket.
//
// Exit status: 0 after a clean shutdown (SIGTERM/SIGINT) or a successful --check-config; 1 when the configuration,
// an extension-grant plug-in (oauth/extension_grants.h), the store or the listening socket is unusable; 2 for a bad
// command line.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/config_keys.h"
#include "http/fcgi_server.h"
#include "http/listen_address.h"
#include "oauth/extension_grants.h"
#include "oauth/service.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

#ifndef TOKENFCGI_VERSION
#define TOKENFCGI_VERSION "0.1.0"
#endif

namespace tf {
namespace {

constexpr char kUsage[] =
    "Usage: tokenfcgi [--config FILE] [--listen ADDR] [--threads N] [--check-config] [--version] [--help]\n"
    "\n"
    "The tokenfcgi OAuth 2.0 token service, as a FastCGI program.\n"
    "\n"
    "  --config FILE    configuration file (default: $TOKENFCGI_CONFIG, else /etc/tokenfcgi/tokenfcgi.conf)\n"
    "  --listen ADDR    bind unix:/path or HOST:PORT (e.g. 127.0.0.1:9000, [::1]:9000) instead of using the\n"
    "                   FastCGI socket inherited on fd 0 (spawn-fcgi, mod_fcgid, systemd StandardInput=socket)\n"
    "  --threads N      serve N requests at once in this process (1 to 1024, default 1)\n"
    "  --check-config   check the configuration and that the database opens, then exit 0 (ok) or 1\n"
    "  --version        print the version and exit\n"
    "  --help           print this help and exit\n"
    "\n"
    "When fd 0 is not a socket and --listen is not given, tokenfcgi runs as a CGI program: it answers the one request\n"
    "described by the environment (REQUEST_METHOD, REQUEST_URI, CONTENT_LENGTH, ...) and stdin, and exits.\n"
    "SIGTERM or SIGINT: stop accepting, finish the requests in flight, exit 0.\n"
    "\n"
    "Configuration keys (key = value; each is documented in the sample tokenfcgi.conf):\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "tokenfcgi: %s\nTry 'tokenfcgi --help'.\n", message.c_str());
  return 2;
}

void PrintHelp() {
  std::fputs(kUsage, stdout);
  for (const ConfigKeyInfo& k : ConfigKeys()) {
    const bool required = std::strcmp(k.key, "issuer") == 0;
    std::printf("  %-26s %s%s%s\n", k.key,
                required ? "required" : (std::string("default ") + (k.default_value[0] ? k.default_value : "\"\""))
                                            .c_str(),
                k.unit[0] ? "; " : "", k.unit);
  }
}

// Only printable ASCII, at most `max` characters: safe to put in a log line.
std::string ForLog(std::string_view s, size_t max) {
  if (s.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c > 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > max) out += "...";
  return out;
}

// One per worker thread: calls the shared Service and writes the per-request log line.
class LoggingHandler final : public http::RequestHandler {
 public:
  explicit LoggingHandler(oauth::Service* service) : service_(service) {}

  http::Response Handle(const http::Request& request) override {
    const auto start = std::chrono::steady_clock::now();
    oauth::RequestLog log;
    http::Response response;
    try {
      response = service_->Handle(request, &log);
    } catch (const std::exception& e) {
      Logf(LogLevel::kError, "request failed: %s", e.what());
      response = http::Response();
      response.status = 500;
      response.SetHeader("Content-Type", "application/json");
      response.SetHeader("Cache-Control", "no-store");
      response.body = "{\"error\":\"server_error\"}";
      log.outcome = "server_error";
    }
    if (LogEnabled(LogLevel::kInfo)) {
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
      // Never the query string, the body or any header: they may carry secrets, codes or tokens.
      Logf(LogLevel::kInfo, "%s %s client=%s grant=%s outcome=%s status=%d us=%lld",
           ForLog(request.method, 16).c_str(), ForLog(request.path, 200).c_str(), ForLog(log.client_id, 100).c_str(),
           ForLog(log.grant_type, 100).c_str(), ForLog(log.outcome, 64).c_str(), response.status,
           static_cast<long long>(us.count()));
    }
    return response;
  }

 private:
  oauth::Service* service_;
};

struct Options {
  std::optional<std::string> config;
  std::string listen;
  unsigned threads = 1;
  bool check_config = false;
};

// Returns -1 to continue, or an exit status.
int ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take_value = [&]() -> bool {
      if (has_value) return true;
      if (i + 1 >= argc) return false;
      value = argv[++i];
      return true;
    };
    const bool flag = arg == "--help" || arg == "-h" || arg == "--version" || arg == "--check-config";
    if (flag && has_value) return UsageError(std::string(arg) + " takes no value");
    if (arg == "--help" || arg == "-h") {
      PrintHelp();
      return 0;
    } else if (arg == "--version") {
      std::printf("tokenfcgi %s\n", TOKENFCGI_VERSION);
      return 0;
    } else if (arg == "--check-config") {
      o->check_config = true;
    } else if (arg == "--config") {
      if (!take_value() || value.empty()) return UsageError("--config needs a FILE");
      o->config = std::string(value);
    } else if (arg == "--listen") {
      if (!take_value() || value.empty()) return UsageError("--listen needs an ADDR (unix:/path or HOST:PORT)");
      o->listen = std::string(value);
    } else if (arg == "--threads") {
      if (!take_value()) return UsageError("--threads needs a number");
      unsigned long n = 0;
      bool ok = !value.empty() && value.size() <= 4;
      for (char c : value) {
        if (c < '0' || c > '9') ok = false;
        n = n * 10 + static_cast<unsigned long>(c - '0');
      }
      if (!ok || n < 1 || n > 1024) return UsageError("--threads must be a number from 1 to 1024");
      o->threads = static_cast<unsigned>(n);
    } else {
      return UsageError("unknown argument '" + ForLog(arg, 64) + "'");
    }
  }
  return -1;
}

int Main(int argc, char** argv) {
  Options options;
  int rc = ParseArgs(argc, argv, &options);
  if (rc >= 0) return rc;
  if (Result<http::ListenAddress> a = http::ParseListenAddress(options.listen); !a.ok()) {
    return UsageError("--listen: " + a.status().message());  // a typo is a usage error, not a runtime one
  }

  const std::string config_path = DefaultConfigPath(options.config ? options.config->c_str() : nullptr);
  Result<Config> config = LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "tokenfcgi: %s\n", config.status().message().c_str());
    return 1;
  }
  SetLogLevel(config->log_level);

  const bool cgi = options.listen.empty() && !options.check_config && http::RunningAsCgi();
  if (cgi && std::getenv("REQUEST_METHOD") == nullptr) {
    std::fprintf(stderr,
                 "tokenfcgi: fd 0 is not a FastCGI socket and REQUEST_METHOD is not set: not started by a web "
                 "server; use --listen ADDR or spawn-fcgi (see --help)\n");
    return 2;
  }

  // Extension-grant plug-ins: loaded once, before anything is served; one that cannot be used stops the worker.
  Result<std::unique_ptr<oauth::ExtensionGrantPlugins>> plugins = oauth::ExtensionGrantPlugins::Load(*config);
  if (!plugins.ok()) {
    Logf(LogLevel::kError, "cannot start: %s", plugins.status().message().c_str());
    return 1;
  }
  oauth::InstallExtensionGrants(std::move(plugins).value());

  store::StoreOptions store_options;
  store_options.path = config->database;
  store_options.map_size = config->map_size;
  store_options.max_readers = config->max_readers;
  store_options.create = false;
  Result<std::unique_ptr<store::Store>> store = store::Store::Open(store_options);
  if (!store.ok()) {
    Logf(LogLevel::kError, "cannot open the database %s: %s", config->database.c_str(),
         store.status().message().c_str());
    return 1;
  }

  if (options.check_config) {
    Result<store::StoreStats> stats = (*store)->Stats();
    if (!stats.ok()) {
      std::fprintf(stderr, "tokenfcgi: database %s: %s\n", config->database.c_str(),
                   stats.status().message().c_str());
      return 1;
    }
    std::printf("tokenfcgi: %s: configuration ok; database %s: %llu clients, %llu keys\n", config_path.c_str(),
                config->database.c_str(), static_cast<unsigned long long>(stats->clients),
                static_cast<unsigned long long>(stats->keys));
    return 0;
  }

  oauth::Service service(*config, store->get(), SystemClock::Default());
  http::ServerOptions server;
  server.listen = options.listen;
  server.threads = options.threads;
  server.max_body_bytes = config->max_body_bytes;

  if (cgi) {
    LoggingHandler handler(&service);
    Status s = http::ServeCgiOnce(server, handler);
    if (!s.ok()) {
      Logf(LogLevel::kError, "%s", s.message().c_str());
      return 1;
    }
    return 0;
  }

  Logf(LogLevel::kInfo, "tokenfcgi %s starting: listen=%s threads=%u pid=%ld", TOKENFCGI_VERSION,
       options.listen.empty() ? "fd:0" : ForLog(options.listen, 200).c_str(), options.threads,
       static_cast<long>(getpid()));
  Status s = http::ServeFastCgi(server, [&service]() -> std::unique_ptr<http::RequestHandler> {
    return std::make_unique<LoggingHandler>(&service);
  });
  if (!s.ok()) {
    Logf(LogLevel::kError, "%s", s.message().c_str());
    return 1;
  }
  Logf(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace
}  // namespace tf

int main(int argc, char** argv) { return tf::Main(argc, argv); }
