// tokenfcgi: the FastCGI worker. Loads the configuration, opens the LMDB store once (we never fork, so "after any
// fork" holds trivially), builds one oauth::Service shared by every thread, and serves requests: FastCGI on the socket
// inherited on fd 0 or bound by --listen, or a single plain-CGI request when fd 0 is not a socket.
//
// Exit status: 0 after a clean shutdown (SIGTERM, SIGINT or SIGHUP) or a successful --check-config; 1 when the
// configuration, an extension-grant plug-in (oauth/extension_grants.h), the store, the key-encryption key that the
// database's keys need (key_encryption_key_file) or the listening socket is unusable;
// 2 for a bad command line.
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
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
#include "oauth/catalog.h"
#include "oauth/extension_grants.h"
#include "oauth/service.h"
#include "password/hash_helper.h"
#include "store/pg_store.h"
#include "store/store.h"
#include "token/jws.h"
#include "token/key_encryption.h"
#include "util/clock.h"
#include "util/log.h"

#ifndef TOKENFCGI_VERSION
#define TOKENFCGI_VERSION "0.1.0"
#endif

namespace tf {
namespace {

constexpr char kUsage[] =
    "Usage: tokenfcgi [--config FILE] [--listen ADDR [--socket-user U] [--socket-group G] [--socket-mode M]]\n"
    "                 [--threads N] [--backlog N] [--check-config] [--version] [--help]\n"
    "\n"
    "The tokenfcgi OAuth 2.0 token service, as a FastCGI program.\n"
    "\n"
    "  --config FILE    configuration file (default: $TOKENFCGI_CONFIG, else /etc/tokenfcgi/tokenfcgi.conf)\n"
    "  --listen ADDR    bind unix:/path or HOST:PORT (e.g. 127.0.0.1:9000, [::1]:9000) instead of using the\n"
    "                   FastCGI socket inherited on fd 0 (spawn-fcgi, mod_fcgid, systemd StandardInput=socket)\n"
    "  --socket-user U, --socket-group G, --socket-mode M\n"
    "                   with --listen unix:/path: the socket file's owner, group (names or numbers) and octal mode\n"
    "                   (default: the worker's own user and group, 0660), as spawn-fcgi's -U, -G and -M; a worker\n"
    "                   that is not root can give the socket only to a group it belongs to\n"
    "  --threads N      serve N requests at once in this process (1 to 1024, default 1)\n"
    "  --backlog N      listen backlog of the --listen socket: connections that wait for a free thread (1 to\n"
    "                   65535; default the system's maximum, /proc/sys/net/core/somaxconn); an inherited socket\n"
    "                   keeps its creator's (spawn-fcgi -b, systemd Backlog=)\n"
    "  --check-config   check the configuration, the database and the keys a request needs, changing nothing;\n"
    "                   exit 0 (ok) or 1\n"
    "  --version        print the version and exit\n"
    "  --help           print this help and exit\n"
    "\n"
    "When fd 0 is not a socket and --listen is not given, tokenfcgi runs as a CGI program: it answers the one request\n"
    "described by the environment (REQUEST_METHOD, REQUEST_URI, CONTENT_LENGTH, ...) and stdin, and exits.\n"
    "SIGTERM, SIGINT or SIGHUP: stop accepting, finish the requests in flight, exit 0. SIGUSR1 is ignored.\n"
    "\n"
    "Configuration keys (key = value; each is documented in the sample tokenfcgi.conf):\n";

int UsageError(const std::string& message) {
  std::fprintf(stderr, "tokenfcgi: %s\nTry 'tokenfcgi --help'.\n", message.c_str());
  return 2;
}

// A user or group id written as a number (0 to 2^31-1).
bool ParseId(std::string_view text, int* id) {
  if (text.empty() || text.size() > 10) return false;
  long long n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (n > 0x7fffffff) return false;
  *id = static_cast<int>(n);
  return true;
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

// One per worker thread: calls the shared Service and writes the per-request log line.
class LoggingHandler final : public http::RequestHandler {
 public:
  explicit LoggingHandler(oauth::Service* service) : service_(service) {}

  http::Response Handle(const http::Request& request) override {
    const auto start = std::chrono::steady_clock::now();
    auto log = std::make_shared<oauth::RequestLog>();
    http::Response response;
    try {
      response = service_->Handle(request, log.get());
    } catch (const std::exception& e) {
      Logf(LogLevel::kError, "request failed: %s", e.what());
      response = http::Response();
      response.status = 500;
      response.SetHeader("Content-Type", "application/json");
      response.SetHeader("Cache-Control", "no-store");
      response.body = "{\"error\":\"server_error\"}";
      log->outcome = "server_error";
    }
    // After the answer: a deferred one (a write committed by another thread) is logged by that thread, with the
    // time it waited. `request` is valid until then (request.h).
    return http::Then(std::move(response), [&request, log, start](http::Response r) {
      if (LogEnabled(LogLevel::kInfo)) {
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
        // Never the query string, the body or any header: they may carry secrets, codes or tokens.
        Logf(LogLevel::kInfo, "%s %s client=%s grant=%s outcome=%s status=%d us=%lld",
             SanitizeForLog(request.method, 16).c_str(), SanitizeForLog(request.path, 200).c_str(),
             SanitizeForLog(log->client_id, 100).c_str(), SanitizeForLog(log->grant_type, 100).c_str(),
             SanitizeForLog(log->outcome, 64).c_str(), r.status, static_cast<long long>(us.count()));
      }
      return r;
    });
  }

 private:
  oauth::Service* service_;
};

struct Options {
  std::optional<std::string> config;
  std::string listen;
  int socket_uid = -1;
  int socket_gid = -1;
  std::optional<unsigned> socket_mode;
  unsigned threads = 1;
  int backlog = 0;  // 0: http::DefaultListenBacklog()
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
    } else if (arg == "--socket-user") {
      if (!take_value() || value.empty()) return UsageError("--socket-user needs a user name or number");
      const std::string name(value);
      const struct passwd* pw = getpwnam(name.c_str());
      if (pw == nullptr && !ParseId(value, &o->socket_uid)) {
        return UsageError("--socket-user: no user '" + SanitizeForLog(value, 64) + "'");
      }
      if (pw != nullptr) o->socket_uid = static_cast<int>(pw->pw_uid);
    } else if (arg == "--socket-group") {
      if (!take_value() || value.empty()) return UsageError("--socket-group needs a group name or number");
      const std::string name(value);
      const struct group* gr = getgrnam(name.c_str());
      if (gr == nullptr && !ParseId(value, &o->socket_gid)) {
        return UsageError("--socket-group: no group '" + SanitizeForLog(value, 64) + "'");
      }
      if (gr != nullptr) o->socket_gid = static_cast<int>(gr->gr_gid);
    } else if (arg == "--socket-mode") {
      if (!take_value()) return UsageError("--socket-mode needs an octal mode");
      unsigned mode = 0;
      bool ok = !value.empty() && value.size() <= 4;
      for (char c : value) {
        if (c < '0' || c > '7') ok = false;
        mode = mode * 8 + static_cast<unsigned>(c - '0');
      }
      if (!ok || mode > 0777) return UsageError("--socket-mode must be an octal mode such as 0660");
      o->socket_mode = mode;
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
    } else if (arg == "--backlog") {
      if (!take_value()) return UsageError("--backlog needs a number");
      unsigned long n = 0;
      bool ok = !value.empty() && value.size() <= 5;
      for (char c : value) {
        if (c < '0' || c > '9') ok = false;
        n = n * 10 + static_cast<unsigned long>(c - '0');
      }
      if (!ok || n < 1 || n > 65535) return UsageError("--backlog must be a number from 1 to 65535");
      o->backlog = static_cast<int>(n);
    } else {
      return UsageError("unknown argument '" + SanitizeForLog(arg, 64) + "'");
    }
  }
  const bool socket_options = o->socket_uid != -1 || o->socket_gid != -1 || o->socket_mode.has_value();
  if (socket_options && o->listen.rfind("unix:", 0) != 0) {
    return UsageError("--socket-user, --socket-group and --socket-mode need --listen unix:/path");
  }
  return -1;
}

// --check-config: what a request would need, without changing anything. The database must be initialised (it is
// opened read-only, so nothing is created in an empty directory), and the configuration snapshot must load with a
// current signing key for every algorithm the configuration signs with and a session key. Exit status 0 or 1.
int CheckConfig(const Config& config, const std::string& config_path, const token::KeyEncryptionKey* kek,
                const Status& kek_problem) {
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "tokenfcgi: %s: %s\n", config_path.c_str(), what.c_str());
    return 1;
  };
  const std::string database = store::RedactedDatabase(config.database);
  struct stat st;
  if (!store::IsPostgresUri(config.database) && ::stat((config.database + "/data.mdb").c_str(), &st) != 0) {
    return fail("database " + database + ": not initialised (no data.mdb): run tokenctl init");
  }
  store::StoreOptions store_options = store::StoreOptionsFromConfig(config);
  store_options.read_only = true;
  Result<std::unique_ptr<store::Store>> store = store::OpenStore(store_options);
  if (!store.ok()) return fail("database " + database + ": " + store.status().message());
  Result<store::StoreStats> stats = (*store)->Stats();
  if (!stats.ok()) return fail("database " + database + ": " + stats.status().message());
  Result<oauth::KeysAtRest> at_rest = oauth::CheckKeysAtRest(**store, kek, kek_problem.message());
  if (!at_rest.ok()) return fail(at_rest.status().message());
  oauth::Catalog catalog(config, store->get(), kek);
  Result<std::shared_ptr<const oauth::Snapshot>> snapshot = catalog.Current();
  if (!snapshot.ok()) return fail("cannot load the configuration from the database: " + snapshot.status().message());
  for (const std::string* alg : {&config.access_token_signing_alg, &config.id_token_signing_alg}) {
    std::optional<token::Alg> parsed = token::ParseAlg(*alg);
    if (!parsed || (*snapshot)->CurrentKey(*parsed) == nullptr) {
      return fail("no current " + *alg + " signing key (every token request would answer 500): run "
                  "tokenctl key generate --alg " + *alg);
    }
  }
  if ((*snapshot)->session_key.empty()) {
    return fail("database " + database + ": no valid session key: run tokenctl session rotate-key");
  }
  if (!kek_problem.ok() && at_rest->clear > 0) {
    std::fprintf(stderr, "tokenfcgi: %s: warning: %s; the keys are stored in clear\n", config_path.c_str(),
                 kek_problem.message().c_str());
  } else if (kek != nullptr && at_rest->clear > 0) {
    std::fprintf(stderr, "tokenfcgi: %s: warning: %zu keys are stored in clear: encrypt them with tokenctl key "
                 "encrypt\n", config_path.c_str(), at_rest->clear);
  }
  std::printf("tokenfcgi: %s: configuration ok; database %s: %llu clients, %llu keys; keys at rest: %zu "
              "encrypted, %zu in clear\n", config_path.c_str(),
              database.c_str(), static_cast<unsigned long long>(stats->clients),
              static_cast<unsigned long long>(stats->keys), at_rest->sealed, at_rest->clear);
  return 0;
}

int Main(int argc, char** argv) {
  // The password hashing helper a worker starts for itself (password/hash_helper.h); not for people to run.
  if (argc == 3 && std::string_view(argv[1]) == "--hash-helper") {
    const int channels = std::atoi(argv[2]);
    return channels >= 1 && channels <= 1024 ? HashHelperMain(static_cast<unsigned>(channels)) : 2;
  }
  // A stop signal that arrives while the worker starts waits for it to serve (http/fcgi_server.h).
  const sigset_t unblocked = http::BlockStopSignals();
  Options options;
  int rc = ParseArgs(argc, argv, &options);
  if (rc >= 0) return rc;
  Result<http::ListenAddress> listen_address = http::ParseListenAddress(options.listen);
  if (!listen_address.ok()) {
    return UsageError("--listen: " + listen_address.status().message());  // a typo is a usage error
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

  // The key-encryption key: read once, here, before anything is served. Whether its absence stops the worker
  // depends on the database (below): keys stored in clear keep working without it.
  std::optional<token::KeyEncryptionKey> kek;
  Status kek_problem;
  if (!config->key_encryption_key_file.empty()) {
    Result<token::KeyEncryptionKey> read = token::ReadKeyEncryptionKeyFile(config->key_encryption_key_file);
    if (read.ok()) {
      kek.emplace(std::move(read).value());
    } else {
      kek_problem = read.status();
    }
  }
  const token::KeyEncryptionKey* kek_ptr = kek ? &*kek : nullptr;
  if (options.check_config) return CheckConfig(*config, config_path, kek_ptr, kek_problem);

  // A PostgreSQL server that cannot be reached does not stop the worker: it serves what needs no database, answers
  // 503 to the rest and reconnects by itself (pg_store.h). A schema it does not know still stops it here.
  store::StoreOptions store_options = store::StoreOptionsFromConfig(*config);
  store_options.connect_later = true;
  Result<std::unique_ptr<store::Store>> store = store::OpenStore(store_options);
  if (!store.ok()) {
    Logf(LogLevel::kError, "cannot open the database %s: %s", store::RedactedDatabase(config->database).c_str(),
         store.status().message().c_str());
    return 1;
  }

  Result<oauth::KeysAtRest> at_rest = oauth::CheckKeysAtRest(**store, kek_ptr, kek_problem.message());
  if (!at_rest.ok() && at_rest.status().code() == Status::Code::kUnavailable) {
    // The keys are checked as the configuration loads instead (a key that does not open is logged and skipped).
    Logf(LogLevel::kError,
         "the database %s cannot be reached (%s): starting without it; requests that need it answer 503 until a "
         "reconnect succeeds (tried again after 0.1 s, doubling up to 5 s)",
         store::RedactedDatabase(config->database).c_str(), at_rest.status().message().c_str());
    at_rest = oauth::KeysAtRest{};
  }
  if (!at_rest.ok()) {
    Logf(LogLevel::kError, "cannot start: %s", at_rest.status().message().c_str());
    return 1;
  }
  if (!kek_problem.ok() && at_rest->clear > 0) {
    Logf(LogLevel::kWarn, "%s; the keys are stored in clear", kek_problem.message().c_str());
  } else if (kek_ptr != nullptr && at_rest->clear > 0) {
    Logf(LogLevel::kWarn, "%zu keys are stored in clear: encrypt them with tokenctl key encrypt", at_rest->clear);
  }

  oauth::Service service(*config, store->get(), SystemClock::Default(), kek_ptr);
  http::ServerOptions server;
  server.listen = options.listen;
  server.threads = options.threads;
  server.socket_uid = options.socket_uid;
  server.socket_gid = options.socket_gid;
  if (options.socket_mode) server.socket_mode = *options.socket_mode;
  server.backlog = options.backlog;
  server.max_body_bytes = config->max_body_bytes;

  if (cgi) {
    pthread_sigmask(SIG_SETMASK, &unblocked, nullptr);
    LoggingHandler handler(&service);
    Status s = http::ServeCgiOnce(server, handler);
    if (!s.ok()) {
      Logf(LogLevel::kError, "%s", s.message().c_str());
      return 1;
    }
    return 0;
  }

  service.StartReloadThread();
  // Password checks hash in a helper process at the lowest priority (password/hash_helper.h); while it is not
  // running (it could not start, or died and waits to be started again: both logged), on this process's own threads.
  (void)StartHashHelper("/proc/self/exe", PasswordCheckConcurrency(config->password_hash_concurrency));
  Logf(LogLevel::kInfo, "tokenfcgi %s starting: listen=%s threads=%u pid=%ld hashing helper pid=%ld",
       TOKENFCGI_VERSION, options.listen.empty() ? "fd:0" : SanitizeForLog(options.listen, 200).c_str(),
       options.threads, static_cast<long>(getpid()), HashHelperPid());
  // FastCGI has no authentication: whoever can connect to the socket sets REMOTE_USER. A Unix socket can be limited
  // to the web server's group; a TCP port on this host is open to every local user and process.
  const bool tcp = listen_address->kind == http::ListenAddress::Kind::kTcp ||
                   (listen_address->kind == http::ListenAddress::Kind::kInherited && http::InheritedSocketIsTcp());
  if (tcp && config->LoginProviderEnabled("remote_user")) {
    Logf(LogLevel::kWarn,
         "login_providers includes remote_user and the FastCGI socket is TCP (%s): any local process can connect "
         "and send REMOTE_USER, i.e. sign in as any user; listen on a unix: socket that only the web server's group "
         "can open instead",
         options.listen.empty() ? "fd:0" : SanitizeForLog(options.listen, 200).c_str());
  }
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
