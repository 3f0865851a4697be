#include "admin/cli.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string_view>

#include "admin/clients.h"
#include "admin/copy.h"
#include "admin/database_owner.h"
#include "admin/grants.h"
#include "admin/import.h"
#include "admin/keys.h"
#include "admin/names.h"
#include "admin/session.h"
#include "admin/users.h"
#include "config/config.h"
#include "password/password_hash.h"
#include "store/lockout.h"
#include "store/pg_store.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/cjson_ptr.h"
#include "util/timestamp.h"

namespace tf::admin {
namespace {

// ---------------------------------------------------------------------------------------------------------------
// JSON output

CJsonPtr Object() { return CJsonPtr(cJSON_CreateObject()); }
CJsonPtr Array() { return CJsonPtr(cJSON_CreateArray()); }

void Add(cJSON* obj, const char* name, std::string_view v) {
  cJSON_AddItemToObject(obj, name, cJSON_CreateString(std::string(v).c_str()));
}
// Without this overload a string literal would silently choose the bool one.
[[maybe_unused]] void Add(cJSON* obj, const char* name, const char* v) { Add(obj, name, std::string_view(v)); }
void Add(cJSON* obj, const char* name, bool v) { cJSON_AddItemToObject(obj, name, cJSON_CreateBool(v)); }
void Add(cJSON* obj, const char* name, int64_t v) {
  cJSON_AddItemToObject(obj, name, cJSON_CreateNumber(static_cast<double>(v)));
}
void Add(cJSON* obj, const char* name, uint64_t v) { Add(obj, name, static_cast<int64_t>(v)); }
void AddDouble(cJSON* obj, const char* name, double v) { cJSON_AddItemToObject(obj, name, cJSON_CreateNumber(v)); }
void Add(cJSON* obj, const char* name, int v) { Add(obj, name, static_cast<int64_t>(v)); }
void Add(cJSON* obj, const char* name, unsigned v) { Add(obj, name, static_cast<int64_t>(v)); }
void Add(cJSON* obj, const char* name, CJsonPtr v) { cJSON_AddItemToObject(obj, name, v.release()); }
void Add(cJSON* obj, const char* name, const std::vector<std::string>& v) {
  CJsonPtr arr = Array();
  for (const auto& s : v) cJSON_AddItemToArray(arr.get(), cJSON_CreateString(s.c_str()));
  Add(obj, name, std::move(arr));
}
void AddNull(cJSON* obj, const char* name) { cJSON_AddItemToObject(obj, name, cJSON_CreateNull()); }

void Print(std::ostream& out, const CJsonPtr& doc) {
  std::unique_ptr<char, void (*)(void*)> text(cJSON_Print(doc.get()), cJSON_free);
  out << (text ? text.get() : "null") << "\n";
}

CJsonPtr KeyJson(const store::KeyRecord& k) {  // never the private key
  CJsonPtr o = Object();
  Add(o.get(), "kid", k.kid);
  Add(o.get(), "alg", k.alg);
  Add(o.get(), "state", store::KeyStateName(k.state));
  Add(o.get(), "created", k.created);
  Add(o.get(), "created_utc", FormatTimestamp(k.created));
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Command-line parsing

struct OptionSpec {
  std::string_view name;  // "--grant"
  bool takes_value;
  std::string_view help;
};

struct Parsed {
  std::vector<std::string> args;
  std::map<std::string, std::vector<std::string>, std::less<>> options;
  bool Has(std::string_view name) const { return options.find(name) != options.end(); }
  std::string Get(std::string_view name) const {
    auto it = options.find(name);
    return it == options.end() || it->second.empty() ? std::string() : it->second.back();
  }
  const std::vector<std::string>& All(std::string_view name) const {
    static const std::vector<std::string> kNone;
    auto it = options.find(name);
    return it == options.end() ? kNone : it->second;
  }
};

struct Context;
struct CommandDef {
  std::string_view name;      // "client secret add"
  std::string_view synopsis;  // after the name
  std::string_view help;
  std::vector<OptionSpec> options;
  size_t min_args, max_args;
  int (*run)(Context&, const Parsed&);
};

struct Context {
  const CliIo& io;
  const CommandDef* command = nullptr;
  bool json = false;
  std::string config_arg;  // --config, empty if not given
  std::optional<Config> config;

  std::ostream& out() { return *io.out; }
  std::ostream& err() { return *io.err; }
};

int Fail(Context& ctx, const Status& s) {
  ctx.err() << "tokenctl: " << s.message() << "\n";
  return kExitError;
}

int UsageError(Context& ctx, std::string_view message) {
  ctx.err() << "tokenctl: " << message << "\n";
  if (ctx.command != nullptr) {
    ctx.err() << "usage: tokenctl " << ctx.command->name << " " << ctx.command->synopsis << "\n";
  } else {
    ctx.err() << "usage: tokenctl [--config FILE] [--json] COMMAND ... (tokenctl --help lists the commands)\n";
  }
  return kExitUsage;
}

void Warn(Context& ctx, std::string_view message) { ctx.err() << "tokenctl: warning: " << message << "\n"; }

Status LoadConfiguration(Context& ctx) {
  if (ctx.config) return Status::OK();
  const std::string path = DefaultConfigPath(ctx.config_arg.empty() ? nullptr : ctx.config_arg.c_str());
  auto config = LoadConfig(path);
  if (!config.ok()) return config.status();
  ctx.config = std::move(config).value();
  return Status::OK();
}

bool DatabaseExists(const Config& config) {
  if (store::IsPostgresUri(config.database)) return true;  // the open says whether it is initialised
  struct stat st;
  return ::stat((config.database + "/data.mdb").c_str(), &st) == 0;
}

Result<std::unique_ptr<store::Store>> OpenStore(Context& ctx, bool read_only) {
  TF_RETURN_IF_ERROR(LoadConfiguration(ctx));
  if (!DatabaseExists(*ctx.config)) {
    return Status::NotFound("no database at " + store::RedactedDatabase(ctx.config->database) +
                            " (run: tokenctl init)");
  }
  store::StoreOptions options = store::StoreOptionsFromConfig(*ctx.config);
  options.read_only = read_only;
  return OpenStoreAsDirectoryOwner(options);
}

Result<std::string> ReadFile(const std::string& path, std::istream* stdin_stream) {
  std::ostringstream content;
  if (path == "-") {
    content << stdin_stream->rdbuf();
    return content.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::NotFound(path + ": " + std::strerror(errno));
  content << file.rdbuf();
  if (file.bad()) return Status::IOError(path + ": read failed");
  return content.str();
}

std::optional<token::Alg> AlgOption(Context& ctx, const Parsed& p, int* exit_code) {
  std::string name = p.Get("--alg");
  if (name.empty()) {
    Status s = LoadConfiguration(ctx);
    if (!s.ok()) {
      *exit_code = Fail(ctx, s);
      return std::nullopt;
    }
    name = ctx.config->access_token_signing_alg;
  }
  auto alg = token::ParseAlg(name);
  if (!alg) *exit_code = UsageError(ctx, "unknown algorithm '" + name + "' (RS256, PS256, ES256 or EdDSA)");
  return alg;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Commands

// Opens the store with `migrate`: a PostgreSQL schema older than this build's is upgraded (pg_store.h); an LMDB
// database is upgraded by any writable open.
int CmdMigrate(Context& ctx, const Parsed&) {
  Status s = LoadConfiguration(ctx);
  if (!s.ok()) return Fail(ctx, s);
  store::StoreOptions options = store::StoreOptionsFromConfig(*ctx.config);
  options.migrate = true;
  auto store = OpenStoreAsDirectoryOwner(options);
  if (!store.ok()) return Fail(ctx, store.status());
  const std::string database = store::RedactedDatabase(ctx.config->database);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "database", database);
    Add(o.get(), "schema", "current");
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "database " << database << ": schema is current\n";
  return kExitOk;
}

int CmdInit(Context& ctx, const Parsed& p) {
  Status s = LoadConfiguration(ctx);
  if (!s.ok()) return Fail(ctx, s);
  const bool no_key = p.Has("--no-key");
  auto report = Init(*ctx.config, *ctx.io.clock, !no_key);
  if (!report.ok()) return Fail(ctx, report.status());
  const bool changed =
      report->created_database || report->created_key.has_value() || report->created_id_token_key.has_value();
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "database", store::RedactedDatabase(ctx.config->database));
    Add(o.get(), "changed", changed);
    Add(o.get(), "created_database", report->created_database);
    if (report->created_key) {
      Add(o.get(), "created_key", KeyJson(*report->created_key));
    } else {
      AddNull(o.get(), "created_key");
    }
    Add(o.get(), "alg", report->alg);
    Add(o.get(), "current_kid", report->current_kid);
    if (report->created_id_token_key) {
      Add(o.get(), "created_id_token_key", KeyJson(*report->created_id_token_key));
    } else {
      AddNull(o.get(), "created_id_token_key");
    }
    Print(ctx.out(), o);
    return kExitOk;
  }
  const std::string database = store::RedactedDatabase(ctx.config->database);
  if (report->created_database) ctx.out() << "created database " << database << "\n";
  if (report->created_key) {
    ctx.out() << "created " << report->alg << " signing key " << report->created_key->kid << " (current)\n";
  }
  if (report->created_id_token_key) {
    ctx.out() << "created " << report->created_id_token_key->alg << " signing key "
              << report->created_id_token_key->kid << " (current; id_token_signing_alg)\n";
  }
  if (report->current_kid.empty()) {
    ctx.out() << (changed ? "" : "nothing to do: database " + database + " exists; ") << "no "
              << report->alg << " key is current (add one: tokenctl key import --alg " << report->alg
              << " FILE.pem, or tokenctl key generate --alg " << report->alg << ")\n";
  } else if (!changed) {
    ctx.out() << "nothing to do: database " << database << " exists and " << report->alg << " key "
              << report->current_kid << " is current\n";
  }
  return kExitOk;
}

void CountsJson(cJSON* o, const char* name, const ImportCounts& c) {
  CJsonPtr k = Object();
  Add(k.get(), "new", c.added);
  Add(k.get(), "updated", c.updated);
  Add(k.get(), "unchanged", c.unchanged);
  Add(o, name, std::move(k));
}

int CmdImport(Context& ctx, const Parsed& p) {
  const std::string& file = p.args[0];
  ImportOptions options;
  options.dry_run = p.Has("--dry-run");
  options.ignore_unknown = p.Has("--ignore-unknown");
  options.clock = ctx.io.clock;
  auto text = ReadFile(file, ctx.io.in);
  if (!text.ok()) return Fail(ctx, text.status());

  Status s = LoadConfiguration(ctx);
  if (!s.ok()) return Fail(ctx, s);
  options.password_params = Argon2ParamsFromConfig(*ctx.config);
  options.password_min_length = ctx.config->password_min_length;
  for (const ExtensionGrantConfig& g : ctx.config->extension_grants) {
    options.extension_grant_types.push_back(g.grant_type);
  }
  std::unique_ptr<store::Store> store;
  bool no_database = false;
  if (options.dry_run && !DatabaseExists(*ctx.config)) {
    no_database = true;  // validate the file alone: every record counts as new
  } else {
    auto opened = OpenStore(ctx, /*read_only=*/options.dry_run);
    if (!opened.ok()) return Fail(ctx, opened.status());
    store = std::move(opened).value();
  }

  ImportReport report;
  Status result = Import(*text, store.get(), options, &report);
  for (const std::string& w : report.warnings) Warn(ctx, file + ": " + w);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "file", file);
    Add(o.get(), "ok", result.ok());
    Add(o.get(), "dry_run", options.dry_run);
    Add(o.get(), "written", report.written);
    CountsJson(o.get(), "Clients", report.clients);
    CountsJson(o.get(), "ApiScopes", report.api_scopes);
    CountsJson(o.get(), "ApiResources", report.api_resources);
    CountsJson(o.get(), "IdentityResources", report.identity_resources);
    CountsJson(o.get(), "Users", report.users);
    Add(o.get(), "unknown", report.unknown);
    Add(o.get(), "warnings", report.warnings);
    Add(o.get(), "errors", report.errors);
    Print(ctx.out(), o);
  }
  if (!result.ok()) {
    for (const std::string& e : report.errors) ctx.err() << "tokenctl: " << file << ": " << e << "\n";
    const size_t n = report.errors.size();
    ctx.err() << "tokenctl: import failed (" << n << (n == 1 ? " error" : " errors")
              << "); nothing was written\n";
    return kExitError;
  }
  if (!ctx.json) {
    auto line = [&](std::string_view kind, const ImportCounts& c) {
      ctx.out() << std::left << std::setw(19) << (std::string(kind) + ":") << c.added << " new, " << c.updated
                << " updated, " << c.unchanged << " unchanged\n";
    };
    line("Clients", report.clients);
    line("ApiScopes", report.api_scopes);
    line("ApiResources", report.api_resources);
    line("IdentityResources", report.identity_resources);
    line("Users", report.users);
    if (options.dry_run) {
      ctx.out() << "dry run: nothing written"
                << (no_database ? " (no database yet: compared with an empty store)" : "") << "\n";
    } else {
      ctx.out() << "imported " << file << " into " << store::RedactedDatabase(ctx.config->database) << "\n";
    }
  }
  return kExitOk;
}

int CmdClientList(Context& ctx, const Parsed&) {
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto clients = ListClients(**store);
  if (!clients.ok()) return Fail(ctx, clients.status());
  if (ctx.json) {
    CJsonPtr arr = Array();
    for (const auto& c : *clients) {
      CJsonPtr o = Object();
      Add(o.get(), "ClientId", c.client_id);
      Add(o.get(), "ClientName", c.client_name);
      Add(o.get(), "Enabled", c.enabled);
      Add(o.get(), "RequireClientSecret", c.require_client_secret);
      Add(o.get(), "AllowedGrantTypes", c.allowed_grant_types);
      Add(o.get(), "AllowedScopes", c.allowed_scopes);
      Add(o.get(), "SecretCount", static_cast<int64_t>(c.client_secrets.size()));
      cJSON_AddItemToArray(arr.get(), o.release());
    }
    Print(ctx.out(), arr);
    return kExitOk;
  }
  if (clients->empty()) {
    ctx.out() << "no clients\n";
    return kExitOk;
  }
  size_t width = 9;
  for (const auto& c : *clients) width = std::max(width, c.client_id.size());
  ctx.out() << std::left << std::setw(static_cast<int>(width) + 2) << "CLIENT_ID" << std::setw(14) << "TYPE"
            << std::setw(10) << "ENABLED" << std::setw(32) << "GRANTS"
            << "SCOPES\n";
  for (const auto& c : *clients) {
    ctx.out() << std::left << std::setw(static_cast<int>(width) + 2) << c.client_id << std::setw(14)
              << (c.IsPublic() ? "public" : "confidential") << std::setw(10) << (c.enabled ? "yes" : "no")
              << std::setw(32) << (c.allowed_grant_types.empty() ? "-" : Join(c.allowed_grant_types, ","))
              << (c.allowed_scopes.empty() ? "-" : Join(c.allowed_scopes, " ")) << "\n";
  }
  return kExitOk;
}

std::string SecretKind(const store::Secret& s) {
  if (s.type != "SharedSecret") return s.type;
  if (s.value.size() == 44) return "SharedSecret (SHA-256)";
  if (s.value.size() == 88) return "SharedSecret (SHA-512)";
  return "SharedSecret (unrecognised hash)";
}

int CmdClientShow(Context& ctx, const Parsed& p) {
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto c = GetClient(**store, p.args[0]);
  if (!c.ok()) return Fail(ctx, c.status());
  if (ctx.json) {
    CJsonPtr record(cJSON_Parse(store::ToJson(*c).c_str()));
    if (!record) return Fail(ctx, Status::Internal("client record is not JSON"));
    Print(ctx.out(), record);
    return kExitOk;
  }
  auto& out = ctx.out();
  auto row = [&](std::string_view name, const std::string& value) {
    out << std::left << std::setw(22) << (std::string(name) + ":") << (value.empty() ? "-" : value) << "\n";
  };
  row("ClientId", c->client_id);
  row("ClientName", c->client_name);
  row("Enabled", c->enabled ? "yes" : "no");
  row("Type", c->IsPublic() ? "public (RequireClientSecret false)" : "confidential");
  row("AllowedGrantTypes", Join(c->allowed_grant_types, " "));
  row("AllowedScopes", Join(c->allowed_scopes, " "));
  row("AccessTokenLifetime", std::to_string(c->access_token_lifetime) + " s");
  row("AccessTokenType", c->access_token_type == store::AccessTokenType::kJwt ? "Jwt" : "Reference");
  row("ClientSecrets", std::to_string(c->client_secrets.size()));
  for (size_t i = 0; i < c->client_secrets.size(); ++i) {
    const store::Secret& s = c->client_secrets[i];
    out << "  [" << i << "] " << SecretKind(s);
    if (!s.description.empty()) out << " \"" << s.description << "\"";
    if (s.expiration) {
      out << (*s.expiration <= ctx.io.clock->NowSeconds() ? " expired " : " expires ")
          << FormatTimestamp(*s.expiration);
    }
    out << "\n";
  }
  if (!c->claims.empty()) row("Claims", std::to_string(c->claims.size()));
  out << "(tokenctl --json client show " << c->client_id << " prints every property)\n";
  return kExitOk;
}

void PrintSecretOnce(Context& ctx, const std::string& secret) {
  ctx.out() << "client secret (shown only now; only its SHA-256 hash is stored):\n" << secret << "\n";
}

int CmdClientAdd(Context& ctx, const Parsed& p) {
  NewClient spec;
  spec.client_id = p.args[0];
  spec.client_name = p.Get("--name");
  spec.is_public = p.Has("--public");
  spec.grant_types = p.All("--grant");
  spec.scopes = p.All("--scope");
  if (p.Has("--lifetime")) {
    const std::string v = p.Get("--lifetime");
    int64_t seconds = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (ec != std::errc() || ptr != v.data() + v.size() || seconds <= 0) {
      return UsageError(ctx, "--lifetime: not a positive number of seconds: '" + v + "'");
    }
    spec.access_token_lifetime = seconds;
  }
  if (spec.is_public && p.Has("--generate-secret")) {
    return UsageError(ctx, "--public and --generate-secret exclude each other: a public client has no secret");
  }
  std::string secret;
  if (p.Has("--generate-secret")) {
    secret = GenerateClientSecret();
    store::Secret stored;
    stored.value = store::HashSecret(secret);
    stored.description = "generated by tokenctl client add";
    spec.secrets.push_back(stored);
  }
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  for (const ExtensionGrantConfig& g : ctx.config->extension_grants) {
    spec.extension_grant_types.push_back(g.grant_type);
  }
  std::vector<std::string> warnings;
  auto client = AddClient(**store, spec, &warnings);
  if (!client.ok()) return Fail(ctx, client.status());
  for (const auto& w : warnings) Warn(ctx, w);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "client_id", client->client_id);
    Add(o.get(), "public", client->IsPublic());
    if (!secret.empty()) Add(o.get(), "client_secret", secret);
    Add(o.get(), "warnings", warnings);
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "added " << (client->IsPublic() ? "public" : "confidential") << " client " << client->client_id
            << "\n";
  if (!secret.empty()) PrintSecretOnce(ctx, secret);
  return kExitOk;
}

int CmdClientRemove(Context& ctx, const Parsed& p) {
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  Status s = RemoveClient(**store, p.args[0]);
  if (!s.ok()) return Fail(ctx, s);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "client_id", p.args[0]);
    Add(o.get(), "removed", true);
    Print(ctx.out(), o);
  } else {
    ctx.out() << "removed client " << p.args[0] << "\n";
  }
  return kExitOk;
}

// The terminal settings to put back if a signal ends tokenctl while echo is off (see cli.h). Written only while no
// handler is installed; read only by the handler.
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

// One line from `in` (nullopt at end of input). On a terminal the prompt goes to `err` and echo is off while reading;
// echo goes off before the prompt appears, so nothing typed after the prompt is ever echoed.
std::optional<std::string> ReadLineQuietly(Context& ctx, const std::string& prompt) {
  std::optional<EchoOff> echo_off;
  if (ctx.io.stdin_is_terminal) {
    echo_off.emplace(ctx.io.terminal_fd);
    ctx.err() << prompt << std::flush;
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(*ctx.io.in, line));
  echo_off.reset();
  if (ctx.io.stdin_is_terminal) ctx.err() << "\n";  // the Enter that was not echoed
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

Result<std::string> ReadSecretLine(Context& ctx, const std::string& client_id) {
  auto line = ReadLineQuietly(ctx, "secret for client " + client_id + ": ");
  if (!line) return Status::InvalidArgument("no secret on standard input (or use --generate)");
  return std::move(*line);
}

// A new password: one line from standard input, or on a terminal a prompt without echo, asked twice. Never from the
// command line, never echoed, never in a message.
Result<std::string> ReadNewPassword(Context& ctx, const std::string& who) {
  auto password = ReadLineQuietly(ctx, "new password for " + who + ": ");
  if (!password) {
    return Status::InvalidArgument("no password on standard input (one line; --no-password makes a user who cannot "
                                   "sign in with a password)");
  }
  if (password->empty()) {
    return Status::InvalidArgument("the password is empty (--no-password makes a user who cannot sign in with a "
                                   "password)");
  }
  TF_RETURN_IF_ERROR(LoadConfiguration(ctx));
  TF_RETURN_IF_ERROR(ValidateNewPassword(*password, ctx.config->password_min_length));
  if (ctx.io.stdin_is_terminal) {
    auto again = ReadLineQuietly(ctx, "repeat the new password: ");
    if (!again || *again != *password) return Status::InvalidArgument("the two passwords differ; nothing changed");
  }
  return std::move(*password);
}

int CmdClientSecretAdd(Context& ctx, const Parsed& p) {
  const std::string& client_id = p.args[0];
  NewSecret secret;
  secret.description = p.Get("--description");
  if (p.Has("--expires")) {
    auto t = ParseTimestamp(p.Get("--expires"));
    if (!t) return UsageError(ctx, "--expires: not a time like 2030-01-01, 2030-01-01T00:00:00Z or Unix seconds: '" + p.Get("--expires") + "'");
    secret.expiration = *t;
  }
  const bool generate = p.Has("--generate");
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  if (generate) {
    secret.secret = GenerateClientSecret();
  } else {
    auto line = ReadSecretLine(ctx, client_id);
    if (!line.ok()) return Fail(ctx, line.status());
    secret.secret = std::move(line).value();
  }
  std::vector<std::string> warnings;
  Status s = AddClientSecret(**store, client_id, secret, *ctx.io.clock, &warnings);
  if (!s.ok()) return Fail(ctx, s);
  for (const auto& w : warnings) Warn(ctx, w);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "client_id", client_id);
    if (generate) Add(o.get(), "client_secret", secret.secret);
    if (secret.expiration) {
      Add(o.get(), "expires", FormatTimestamp(*secret.expiration));
    } else {
      AddNull(o.get(), "expires");
    }
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "added a secret to client " << client_id;
  if (secret.expiration) ctx.out() << " (expires " << FormatTimestamp(*secret.expiration) << ")";
  ctx.out() << "\n";
  if (generate) PrintSecretOnce(ctx, secret.secret);
  return kExitOk;
}

int PrintKey(Context& ctx, const store::KeyRecord& k, std::string_view verb) {
  if (ctx.json) {
    Print(ctx.out(), KeyJson(k));
  } else {
    ctx.out() << verb << " " << k.alg << " key " << k.kid << " (" << store::KeyStateName(k.state) << ")\n";
    if (k.state == store::KeyState::kNext) {
      ctx.out() << "it is published in the JWKS now; make it sign with: tokenctl key rotate --alg " << k.alg << "\n";
    }
  }
  return kExitOk;
}

int CmdKeyGenerate(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto alg = AlgOption(ctx, p, &code);
  if (!alg) return code;
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto key = GenerateKey(**store, *alg, *ctx.io.clock);
  if (!key.ok()) return Fail(ctx, key.status());
  return PrintKey(ctx, *key, "generated");
}

int CmdKeyImport(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto alg = AlgOption(ctx, p, &code);
  if (!alg) return code;
  auto pem = ReadFile(p.args[0], ctx.io.in);
  if (!pem.ok()) return Fail(ctx, pem.status());
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto key = ImportKeyPem(**store, *alg, *pem, *ctx.io.clock);
  if (!key.ok()) return Fail(ctx, key.status());
  return PrintKey(ctx, *key, "imported");
}

int CmdKeyList(Context& ctx, const Parsed&) {
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto keys = ListKeys(**store);
  if (!keys.ok()) return Fail(ctx, keys.status());
  if (ctx.json) {
    CJsonPtr arr = Array();
    for (const auto& k : *keys) cJSON_AddItemToArray(arr.get(), KeyJson(k).release());
    Print(ctx.out(), arr);
    return kExitOk;
  }
  if (keys->empty()) {
    ctx.out() << "no keys (tokenctl key generate --alg RS256 makes one)\n";
    return kExitOk;
  }
  ctx.out() << std::left << std::setw(45) << "KID" << std::setw(7) << "ALG" << std::setw(9) << "STATE"
            << "CREATED\n";
  for (const auto& k : *keys) {
    ctx.out() << std::left << std::setw(45) << k.kid << std::setw(7) << k.alg << std::setw(9)
              << store::KeyStateName(k.state) << FormatTimestamp(k.created) << "\n";
  }
  return kExitOk;
}

int CmdKeyRotate(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto alg = AlgOption(ctx, p, &code);
  if (!alg) return code;
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto rotation = RotateKeys(**store, *alg);
  if (!rotation.ok()) return Fail(ctx, rotation.status());
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "alg", token::AlgName(*alg));
    Add(o.get(), "current", KeyJson(rotation->current));
    if (rotation->retired) {
      Add(o.get(), "retired", KeyJson(*rotation->retired));
    } else {
      AddNull(o.get(), "retired");
    }
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << token::AlgName(*alg) << ": key " << rotation->current.kid << " is now current\n";
  if (rotation->retired) {
    ctx.out() << token::AlgName(*alg) << ": key " << rotation->retired->kid
              << " is retired (still in the JWKS until: tokenctl key remove " << rotation->retired->kid << ")\n";
  }
  return kExitOk;
}

int CmdSessionRotateKey(Context& ctx, const Parsed&) {
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto rotation = RotateSessionKey(**store);
  if (!rotation.ok()) return Fail(ctx, rotation.status());
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "rotated", true);
    Add(o.get(), "config_generation", rotation->config_generation);
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "session key replaced: every login session and open login form is now invalid (config generation "
            << rotation->config_generation << ")\n";
  return kExitOk;
}

int CmdKeyRetire(Context& ctx, const Parsed& p) {
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto key = RetireKey(**store, p.args[0], p.Has("--force"));
  if (!key.ok()) return Fail(ctx, key.status());
  return PrintKey(ctx, *key, "retired");
}

int CmdKeyRemove(Context& ctx, const Parsed& p) {
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  Status s = RemoveKey(**store, p.args[0]);
  if (!s.ok()) return Fail(ctx, s);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "kid", p.args[0]);
    Add(o.get(), "removed", true);
    Print(ctx.out(), o);
  } else {
    ctx.out() << "removed key " << p.args[0] << "\n";
  }
  return kExitOk;
}

// How much of the map is in use, in percent (0 without a map).
double UsedPercent(const store::StoreStats& s) {
  return s.map_size ? 100.0 * static_cast<double>(s.used_bytes) / static_cast<double>(s.map_size) : 0;
}

int CmdStats(Context& ctx, const Parsed&) {
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto stats = (*store)->Stats();
  if (!stats.ok()) return Fail(ctx, stats.status());
  const store::StoreStats& s = *stats;
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "database", store::RedactedDatabase(ctx.config->database));
    Add(o.get(), "config_generation", s.config_generation);
    Add(o.get(), "clients", s.clients);
    Add(o.get(), "api_scopes", s.api_scopes);
    Add(o.get(), "api_resources", s.api_resources);
    Add(o.get(), "identity_resources", s.identity_resources);
    Add(o.get(), "keys", s.keys);
    Add(o.get(), "users", s.users);
    Add(o.get(), "grants", s.grants);
    Add(o.get(), "revoked_families", s.revoked_families);
    Add(o.get(), "map_size", s.map_size);
    Add(o.get(), "used_bytes", s.used_bytes);
    AddDouble(o.get(), "used_percent", UsedPercent(s));
    Add(o.get(), "max_readers", s.max_readers);
    Add(o.get(), "readers_in_use", s.readers_in_use);
    Print(ctx.out(), o);
    return kExitOk;
  }
  auto& out = ctx.out();
  auto row = [&](std::string_view name, const std::string& value) {
    out << std::left << std::setw(20) << name << value << "\n";
  };
  row("database", store::RedactedDatabase(ctx.config->database));
  row("config generation", std::to_string(s.config_generation));
  row("clients", std::to_string(s.clients));
  row("api scopes", std::to_string(s.api_scopes));
  row("api resources", std::to_string(s.api_resources));
  row("identity resources", std::to_string(s.identity_resources));
  row("keys", std::to_string(s.keys));
  row("users", std::to_string(s.users));
  row("grants", std::to_string(s.grants));
  row("revoked families", std::to_string(s.revoked_families));
  const double pct = UsedPercent(s);
  std::ostringstream used;
  used << s.used_bytes << " of " << s.map_size << " bytes (" << std::fixed << std::setprecision(1) << pct
       << "%; tokenctl map grow before it nears 100%)";
  row("map used", used.str());
  row("readers", std::to_string(s.readers_in_use) + " of " + std::to_string(s.max_readers) + " in use");
  return kExitOk;
}

int CmdMapGrow(Context& ctx, const Parsed& p) {
  uint64_t bytes = 0;
  if (!ParseSizeValue(p.args[0], &bytes)) {
    return UsageError(ctx, "not a size (a number of bytes, optionally with K, M, G or T): '" + p.args[0] + "'");
  }
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  Status s = (*store)->GrowMap(bytes);
  if (!s.ok()) return Fail(ctx, s);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "map_size", bytes);
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "map grown to " << bytes << " bytes; running workers adopt it at their next transaction\n";
  return kExitOk;
}

int CmdBackup(Context& ctx, const Parsed& p) {
  const std::string& dir = p.args[0];
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Fail(ctx, Status::IOError(dir + ": " + std::strerror(errno)));
  }
  // The copy holds the private signing keys: create it without group-write or world access (tokenctl is
  // single-threaded, so changing the process umask around the call is safe).
  const mode_t saved_umask = ::umask(027);
  Status s = (*store)->Backup(dir);
  ::umask(saved_umask);
  if (!s.ok()) return Fail(ctx, s);
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "database", store::RedactedDatabase(ctx.config->database));
    Add(o.get(), "backup", dir);
    Print(ctx.out(), o);
  } else {
    ctx.out() << "backup of " << store::RedactedDatabase(ctx.config->database) << " written to " << dir
              << "/data.mdb\n";
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Users

// "alice (subject 3f9..., tenant acme)": how the user commands name a user in their output.
std::string UserLabel(const store::User& u) {
  return "'" + u.username + "' (subject " + u.subject_id + (u.tenant.empty() ? "" : ", tenant " + u.tenant) + ")";
}

// Everything about a user except the password hash, of which only the scheme is shown.
CJsonPtr UserJson(const store::User& u, int64_t now) {
  CJsonPtr o = Object();
  Add(o.get(), "SubjectId", u.subject_id);
  Add(o.get(), "Username", u.username);
  Add(o.get(), "Tenant", u.tenant);
  Add(o.get(), "IsActive", u.is_active);
  Add(o.get(), "PasswordScheme", PasswordScheme(u.password_hash));
  CJsonPtr claims = Array();
  for (const auto& c : u.claims) {
    CJsonPtr claim = Object();
    Add(claim.get(), "Type", c.type);
    Add(claim.get(), "Value", c.value);
    if (!c.value_type.empty()) Add(claim.get(), "ValueType", c.value_type);
    cJSON_AddItemToArray(claims.get(), claim.release());
  }
  Add(o.get(), "Claims", std::move(claims));
  Add(o.get(), "AccessFailedCount", u.access_failed_count);
  Add(o.get(), "LockedOut", store::IsLockedOut(u, now));
  if (u.lockout_end) {
    Add(o.get(), "LockoutEnd", *u.lockout_end);
    Add(o.get(), "LockoutEndUtc", FormatTimestamp(*u.lockout_end));
  } else {
    AddNull(o.get(), "LockoutEnd");
    AddNull(o.get(), "LockoutEndUtc");
  }
  if (u.created) {
    Add(o.get(), "Created", *u.created);
  } else {
    AddNull(o.get(), "Created");
  }
  return o;
}

std::string LockoutText(const store::User& u, int64_t now) {
  std::string text = store::IsLockedOut(u, now) ? "locked until " + FormatTimestamp(*u.lockout_end)
                                                : std::string("not locked");
  text += ", " + std::to_string(u.access_failed_count) + " failed " +
          (u.access_failed_count == 1 ? "attempt" : "attempts") + " since the last lockout or success";
  return text;
}

const std::vector<OptionSpec> kUserRefOptions = {
    {"--username", true, "name the user by username instead of subject id"},
    {"--tenant", true, "the tenant of --username (default: users without a tenant)"},
};

std::vector<OptionSpec> UserRefOptions(std::vector<OptionSpec> more) {
  more.insert(more.begin(), kUserRefOptions.begin(), kUserRefOptions.end());
  return more;
}

// USER (a subject id), or --username NAME [--tenant T].
std::optional<UserRef> UserRefArgument(Context& ctx, const Parsed& p, int* exit_code) {
  if (p.Has("--username")) {
    if (!p.args.empty()) {
      *exit_code = UsageError(ctx, "give either a subject id or --username, not both");
      return std::nullopt;
    }
    return UserRef::ByName(p.Get("--tenant"), p.Get("--username"));
  }
  if (p.Has("--tenant")) {
    *exit_code = UsageError(ctx, "--tenant names a user only together with --username");
    return std::nullopt;
  }
  if (p.args.empty()) {
    *exit_code = UsageError(ctx, "missing argument: a subject id, or --username NAME [--tenant T]");
    return std::nullopt;
  }
  return UserRef::BySubject(p.args[0]);
}

int PrintUserChange(Context& ctx, const store::User& u, std::string_view what) {
  if (ctx.json) {
    Print(ctx.out(), UserJson(u, ctx.io.clock->NowSeconds()));
  } else {
    ctx.out() << "user " << UserLabel(u) << " " << what << "\n";
  }
  return kExitOk;
}

int CmdUserAdd(Context& ctx, const Parsed& p) {
  NewUser spec;
  spec.username = p.args[0];
  spec.tenant = p.Get("--tenant");
  spec.subject_id = p.Get("--subject");
  if (p.Has("--subject") && spec.subject_id.empty()) return UsageError(ctx, "--subject must not be empty");
  for (const std::string& claim : p.All("--claim")) {
    const size_t eq = claim.find('=');
    if (eq == std::string::npos || eq == 0) return UsageError(ctx, "--claim: expected TYPE=VALUE, got '" + claim + "'");
    spec.claims.push_back(store::ClaimValue{claim.substr(0, eq), claim.substr(eq + 1), ""});
    if (Status c = store::CheckClaimValue(spec.claims.back()); !c.ok()) return UsageError(ctx, "--claim: " + c.message());
  }
  spec.is_active = !p.Has("--inactive");
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  Status s = CheckNewUser(**store, spec);  // before asking for a password
  if (!s.ok()) return Fail(ctx, s);
  if (!p.Has("--no-password")) {
    auto password = ReadNewPassword(ctx, "'" + spec.username + "'");
    if (!password.ok()) return Fail(ctx, password.status());
    spec.password = std::move(password).value();
  }
  auto user = AddUser(**store, spec, Argon2ParamsFromConfig(*ctx.config), *ctx.io.clock);
  if (!user.ok()) return Fail(ctx, user.status());
  if (!spec.password) Warn(ctx, "user '" + spec.username + "' has no password and cannot sign in with one");
  return PrintUserChange(ctx, *user, spec.password ? "added" : "added without a password");
}

int CmdUserShow(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto ref = UserRefArgument(ctx, p, &code);
  if (!ref) return code;
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto u = GetUser(**store, *ref);
  if (!u.ok()) return Fail(ctx, u.status());
  const int64_t now = ctx.io.clock->NowSeconds();
  if (ctx.json) {
    Print(ctx.out(), UserJson(*u, now));
    return kExitOk;
  }
  auto& out = ctx.out();
  auto row = [&](std::string_view name, const std::string& value) {
    out << std::left << std::setw(12) << (std::string(name) + ":") << (value.empty() ? "-" : value) << "\n";
  };
  row("SubjectId", u->subject_id);
  row("Username", u->username);
  row("Tenant", u->tenant);
  row("IsActive", u->is_active ? "yes" : "no (cannot sign in)");
  const std::string scheme = PasswordScheme(u->password_hash);
  row("Password", scheme == "none" ? "none (cannot sign in with a password)" : scheme + " hash");
  row("Lockout", LockoutText(*u, now));
  row("Created", u->created ? FormatTimestamp(*u->created) : "");
  row("Claims", u->claims.empty() ? "" : std::to_string(u->claims.size()));
  for (const auto& c : u->claims) out << "  " << c.type << " = " << c.value << "\n";
  return kExitOk;
}

int CmdUserList(Context& ctx, const Parsed& p) {
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  std::optional<std::string> tenant;
  if (p.Has("--tenant")) tenant = p.Get("--tenant");
  auto users = ListUsers(**store, tenant);
  if (!users.ok()) return Fail(ctx, users.status());
  const int64_t now = ctx.io.clock->NowSeconds();
  if (ctx.json) {
    CJsonPtr arr = Array();
    for (const auto& u : *users) cJSON_AddItemToArray(arr.get(), UserJson(u, now).release());
    Print(ctx.out(), arr);
    return kExitOk;
  }
  if (users->empty()) {
    ctx.out() << "no users" << (tenant ? (tenant->empty() ? " without a tenant" : " in tenant " + *tenant) : "")
              << "\n";
    return kExitOk;
  }
  size_t subject_width = 10, name_width = 8, tenant_width = 6;
  for (const auto& u : *users) {
    subject_width = std::max(subject_width, u.subject_id.size());
    name_width = std::max(name_width, u.username.size());
    tenant_width = std::max(tenant_width, u.tenant.size());
  }
  auto& out = ctx.out();
  out << std::left << std::setw(static_cast<int>(subject_width) + 2) << "SUBJECT_ID"
      << std::setw(static_cast<int>(name_width) + 2) << "USERNAME" << std::setw(static_cast<int>(tenant_width) + 2)
      << "TENANT" << std::setw(8) << "ACTIVE" << std::setw(20) << "PASSWORD"
      << "LOCKED\n";
  for (const auto& u : *users) {
    out << std::left << std::setw(static_cast<int>(subject_width) + 2) << u.subject_id
        << std::setw(static_cast<int>(name_width) + 2) << u.username
        << std::setw(static_cast<int>(tenant_width) + 2) << (u.tenant.empty() ? "-" : u.tenant) << std::setw(8)
        << (u.is_active ? "yes" : "no") << std::setw(20) << PasswordScheme(u.password_hash)
        << (store::IsLockedOut(u, now) ? "until " + FormatTimestamp(*u.lockout_end) : std::string("no")) << "\n";
  }
  return kExitOk;
}

int CmdUserPasswd(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto ref = UserRefArgument(ctx, p, &code);
  if (!ref) return code;
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto existing = GetUser(**store, *ref);  // before asking for a password
  if (!existing.ok()) return Fail(ctx, existing.status());
  std::optional<std::string> password;
  if (!p.Has("--no-password")) {
    auto read = ReadNewPassword(ctx, UserLabel(*existing));
    if (!read.ok()) return Fail(ctx, read.status());
    password = std::move(read).value();
  }
  auto user = SetPassword(**store, UserRef::BySubject(existing->subject_id), password,
                          Argon2ParamsFromConfig(*ctx.config));
  if (!user.ok()) return Fail(ctx, user.status());
  return PrintUserChange(ctx, *user,
                         password ? "has a new password (lockout cleared, login sessions ended)"
                                  : "has no password now and cannot sign in with one (lockout cleared, login "
                                    "sessions ended)");
}

template <typename Change>
int ChangeUser(Context& ctx, const Parsed& p, Change change, std::string_view what) {
  int code = kExitOk;
  auto ref = UserRefArgument(ctx, p, &code);
  if (!ref) return code;
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  Result<store::User> user = change(**store, *ref);
  if (!user.ok()) return Fail(ctx, user.status());
  return PrintUserChange(ctx, *user, what);
}

int CmdUserDisable(Context& ctx, const Parsed& p) {
  return ChangeUser(
      ctx, p, [](store::Store& s, const UserRef& r) { return SetActive(s, r, false); },
      "is disabled (and signed out of every login session)");
}

int CmdUserEnable(Context& ctx, const Parsed& p) {
  return ChangeUser(
      ctx, p, [](store::Store& s, const UserRef& r) { return SetActive(s, r, true); }, "is enabled");
}

int CmdUserUnlock(Context& ctx, const Parsed& p) {
  return ChangeUser(
      ctx, p, [](store::Store& s, const UserRef& r) { return UnlockUser(s, r); },
      "is unlocked (failed attempts reset to 0)");
}

int CmdUserRemove(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto ref = UserRefArgument(ctx, p, &code);
  if (!ref) return code;
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto user = RemoveUser(**store, *ref);
  if (!user.ok()) return Fail(ctx, user.status());
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "SubjectId", user->subject_id);
    Add(o.get(), "Username", user->username);
    Add(o.get(), "Tenant", user->tenant);
    Add(o.get(), "removed", true);
    Print(ctx.out(), o);
  } else {
    ctx.out() << "removed user " << UserLabel(*user) << "\n";
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------------------
// Grants and garbage collection

// The value of an option that, when given, must not be empty ("" would silently mean "any").
bool NonEmptyOption(Context& ctx, const Parsed& p, std::string_view name, std::string* value, int* exit_code) {
  if (!p.Has(name)) return true;
  *value = p.Get(name);
  if (value->empty()) {
    *exit_code = UsageError(ctx, std::string(name) + " needs a non-empty value");
    return false;
  }
  return true;
}

std::string Plural(size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

CJsonPtr GrantJson(const GrantEntry& e, int64_t now) {  // never a handle: the store does not have one
  const store::Grant& g = e.grant;
  CJsonPtr o = Object();
  Add(o.get(), "id", e.id);
  Add(o.get(), "kind", store::GrantKindName(g.kind));
  Add(o.get(), "client_id", g.client_id);
  Add(o.get(), "subject", g.subject);
  Add(o.get(), "scopes", g.scopes);
  Add(o.get(), "created", g.created);
  Add(o.get(), "created_utc", FormatTimestamp(g.created));
  Add(o.get(), "expires", g.expires);
  Add(o.get(), "expires_utc", FormatTimestamp(g.expires));
  Add(o.get(), "expired", g.expires <= now);
  if (g.absolute_expires) {
    Add(o.get(), "absolute_expires", *g.absolute_expires);
  } else {
    AddNull(o.get(), "absolute_expires");
  }
  Add(o.get(), "family", g.family);
  if (g.consumed_at) {
    Add(o.get(), "consumed_at", *g.consumed_at);
  } else {
    AddNull(o.get(), "consumed_at");
  }
  if (!g.successor.empty()) {
    Add(o.get(), "successor", GrantId(g.successor));
  } else {
    AddNull(o.get(), "successor");
  }
  if (g.auth_time) {
    Add(o.get(), "auth_time", *g.auth_time);
  } else {
    AddNull(o.get(), "auth_time");
  }
  Add(o.get(), "idp", g.idp);
  Add(o.get(), "amr", g.amr);
  Add(o.get(), "tenant", g.tenant);
  return o;
}

int CmdGrantsList(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  GrantFilter filter;
  if (!NonEmptyOption(ctx, p, "--client", &filter.client_id, &code) ||
      !NonEmptyOption(ctx, p, "--subject", &filter.subject, &code)) {
    return code;
  }
  if (p.Has("--kind")) {
    filter.kind = ParseGrantKind(p.Get("--kind"));
    if (!filter.kind) {
      return UsageError(ctx, "unknown grant kind '" + p.Get("--kind") +
                                 "' (refresh_token, reference_token, authorization_code, device_code, user_code, "
                                 "user_code_throttle or consent)");
    }
  }
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto grants = ListGrants(**store, filter);
  if (!grants.ok()) return Fail(ctx, grants.status());
  const int64_t now = ctx.io.clock->NowSeconds();
  if (ctx.json) {
    CJsonPtr arr = Array();
    for (const auto& e : *grants) cJSON_AddItemToArray(arr.get(), GrantJson(e, now).release());
    Print(ctx.out(), arr);
    return kExitOk;
  }
  if (grants->empty()) {
    ctx.out() << "no grants\n";
    return kExitOk;
  }
  size_t client_width = 6, subject_width = 7, expired = 0;
  for (const auto& e : *grants) {
    client_width = std::max(client_width, e.grant.client_id.size());
    subject_width = std::max(subject_width, e.grant.subject.size());
    if (e.grant.expires <= now) ++expired;
  }
  auto& out = ctx.out();
  out << std::left << std::setw(static_cast<int>(kGrantIdLength) + 2) << "ID" << std::setw(20) << "KIND"
      << std::setw(static_cast<int>(client_width) + 2) << "CLIENT" << std::setw(static_cast<int>(subject_width) + 2)
      << "SUBJECT" << std::setw(22) << "CREATED" << std::setw(22) << "EXPIRES" << std::setw(22) << "CONSUMED"
      << std::setw(24) << "FAMILY"
      << "SCOPES\n";
  for (const auto& e : *grants) {
    const store::Grant& g = e.grant;
    out << std::left << std::setw(static_cast<int>(kGrantIdLength) + 2) << e.id << std::setw(20) << store::GrantKindName(g.kind)
        << std::setw(static_cast<int>(client_width) + 2) << g.client_id
        << std::setw(static_cast<int>(subject_width) + 2) << (g.subject.empty() ? "-" : g.subject) << std::setw(22)
        << FormatTimestamp(g.created) << std::setw(22) << FormatTimestamp(g.expires) << std::setw(22)
        << (g.consumed_at ? FormatTimestamp(*g.consumed_at) : "-") << std::setw(24)
        << (g.family.empty() ? "-" : g.family) << (g.scopes.empty() ? "-" : Join(g.scopes, " ")) << "\n";
  }
  out << Plural(grants->size(), "grant", "grants");
  if (expired) out << " (" << expired << " expired: tokenctl gc deletes them)";
  out << "\n";
  return kExitOk;
}

int CmdSessionRevoke(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  std::string subject;
  if (!NonEmptyOption(ctx, p, "--subject", &subject, &code)) return code;
  if (subject.empty()) return UsageError(ctx, "say whose sessions to revoke: --subject SUB");
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto user = RevokeSessions(**store, UserRef::BySubject(subject));
  if (!user.ok()) return Fail(ctx, user.status());
  return PrintUserChange(ctx, *user, "is signed out: every login session of the user is now invalid");
}

// --batch N of gc and grants revoke: false (with *code set) on a usage error.
bool BatchOption(Context& ctx, const Parsed& p, size_t* batch, int* code) {
  *batch = kDefaultGcBatch;
  if (!p.Has("--batch")) return true;
  const std::string v = p.Get("--batch");
  size_t n = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || ptr != v.data() + v.size() || n == 0 || n > kMaxGcBatch) {
    *code = UsageError(ctx, "--batch: not a number from 1 to " + std::to_string(kMaxGcBatch) + ": '" + v + "'");
    return false;
  }
  *batch = n;
  return true;
}

int CmdGrantsRevoke(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  size_t batch = kDefaultGcBatch;
  if (!BatchOption(ctx, p, &batch, &code)) return code;
  RevokeSelector selector;
  if (!NonEmptyOption(ctx, p, "--family", &selector.family, &code) ||
      !NonEmptyOption(ctx, p, "--id", &selector.id_prefix, &code) ||
      !NonEmptyOption(ctx, p, "--client", &selector.client_id, &code) ||
      !NonEmptyOption(ctx, p, "--subject", &selector.subject, &code)) {
    return code;
  }
  const int kinds = (p.Has("--family") ? 1 : 0) + (p.Has("--id") ? 1 : 0) +
                    ((p.Has("--client") || p.Has("--subject")) ? 1 : 0);
  if (kinds != 1) {
    return UsageError(ctx, kinds == 0 ? "say what to revoke: --family, --id, --client or --subject"
                                      : "--family, --id and --client/--subject cannot be combined");
  }
  if (p.All("--family").size() > 1 || p.All("--id").size() > 1 || p.All("--client").size() > 1 ||
      p.All("--subject").size() > 1) {
    return UsageError(ctx, "each option may be given once");
  }
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto report =
      RevokeGrants(**store, selector, ctx.io.clock->NowSeconds(), ctx.config->clock_skew_seconds, batch);
  if (!report.ok()) return Fail(ctx, report.status());
  // Revoking a subject's grants signs the user out: their login sessions end too (security stamp).
  bool sessions_revoked = false;
  if (!selector.subject.empty()) {
    auto user = RevokeSessions(**store, UserRef::BySubject(selector.subject));
    if (!user.ok() && !user.status().IsNotFound()) return Fail(ctx, user.status());
    sessions_revoked = user.ok();
  }
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "grants", static_cast<uint64_t>(report->grants));
    Add(o.get(), "families", static_cast<uint64_t>(report->families.size()));
    Add(o.get(), "family_ids", report->families);
    if (!selector.subject.empty()) Add(o.get(), "sessions_revoked", sessions_revoked);  // the user exists
    Print(ctx.out(), o);
    return kExitOk;
  }
  if (!selector.family.empty() && report->families.empty()) {
    ctx.out() << "family " << selector.family << " was already revoked: nothing to do\n";
    return kExitOk;
  }
  ctx.out() << "revoked " << Plural(report->grants, "grant", "grants") << " in "
            << Plural(report->families.size(), "family", "families") << "\n";
  if (sessions_revoked) ctx.out() << "ended every login session of subject " << selector.subject << "\n";
  return kExitOk;
}

int CmdGc(Context& ctx, const Parsed& p) {
  size_t batch = kDefaultGcBatch;
  int code = kExitOk;
  if (!BatchOption(ctx, p, &batch, &code)) return code;
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto report = CollectGarbage(**store, *ctx.io.clock, batch);
  if (!report.ok()) return Fail(ctx, report.status());
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "grants", static_cast<uint64_t>(report->grants));
    Add(o.get(), "revocations", static_cast<uint64_t>(report->revocations));
    Add(o.get(), "batches", static_cast<uint64_t>(report->batches));
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "removed " << Plural(report->grants, "grant", "grants") << " and "
            << Plural(report->revocations, "revocation record", "revocation records") << "\n";
  return kExitOk;
}

int CmdCopy(Context& ctx, const Parsed& p) {
  CopyOptions options;
  int code = kExitOk;
  if (!BatchOption(ctx, p, &options.batch, &code)) return code;
  options.force = p.Has("--force");
  options.now = ctx.io.clock->NowSeconds();
  Status s = LoadConfiguration(ctx);
  if (!s.ok()) return Fail(ctx, s);
  return RunCopyCommand(*ctx.config, p.args[0], p.args[1], options, ctx.json, ctx.out(), ctx.err());
}

// ---------------------------------------------------------------------------------------------------------------
// The command table

const std::vector<CommandDef>& Commands() {
  static const std::vector<CommandDef> kCommands = {
      {"init", "[--no-key]",
       "Creates the database directory and databases if missing, and a current signing key for the configured\n"
       "access_token_signing_alg (and for id_token_signing_alg, when it differs) if there is none. Running it\n"
       "again changes nothing and says so. --no-key makes no key: import existing ones (e.g. IdentityServer's\n"
       "signing keys, so tokens it issued keep verifying) with tokenctl key import.",
       {{"--no-key", false, "create the database only; add keys with key import or key generate"}}, 0, 0, CmdInit},
      {"migrate", "",
       "Upgrades the database's schema to this release's version (a PostgreSQL database: workers refuse an older\n"
       "schema until then; an LMDB database is upgraded by any writable open). Running it again changes nothing.",
       {}, 0, 0, CmdMigrate},
      {"import", "FILE.json [--dry-run] [--ignore-unknown]",
       "Imports IdentityServer configuration JSON (Clients, ApiScopes, ApiResources, IdentityResources, optionally\n"
       "inside an \"IdentityServer\" section) and Users (IdentityServer's TestUser shape: SubjectId, Username,\n"
       "Password or PasswordHash, IsActive, Claims, Tenant) in one transaction. A plaintext Password is hashed with\n"
       "Argon2id (password_hash_* in the config) and never stored; PasswordHash takes an Argon2id PHC string or an\n"
       "ASP.NET Core Identity hash as is. Existing users are updated in place and keep their lockout state.\n"
       "Unknown properties and bad values are reported with their JSON paths and nothing is written. FILE may be -\n"
       "for standard input.\n\n"
       "example:\n"
       "  {\"Users\": [{\"SubjectId\": \"1\", \"Username\": \"alice\", \"Password\": \"alice-password\",\n"
       "              \"Claims\": [{\"Type\": \"email\", \"Value\": \"alice@example.com\"}]}]}",
       {{"--dry-run", false, "validate and report, write nothing"},
        {"--ignore-unknown", false, "report unknown properties as warnings and import the rest"}},
       1, 1, CmdImport},
      {"client list", "", "Lists the clients: id, type, enabled, grant types, scopes.", {}, 0, 0, CmdClientList},
      {"client show", "ID",
       "Shows one client (--json: every stored property; secrets appear only as their hashes).", {}, 1, 1,
       CmdClientShow},
      {"client add",
       "ID [--name NAME] [--public] [--grant GT]... [--scope S]... [--generate-secret] [--lifetime SECONDS]",
       "Adds a client. --generate-secret prints a new secret once and stores only its hash.",
       {{"--name", true, "ClientName"},
        {"--public", false, "a public client (RequireClientSecret false)"},
        {"--grant", true, "an allowed grant type (repeatable), e.g. client_credentials"},
        {"--scope", true, "an allowed scope (repeatable)"},
        {"--generate-secret", false, "generate a secret and print it once"},
        {"--lifetime", true, "AccessTokenLifetime in seconds (default 3600)"}},
       1, 1, CmdClientAdd},
      {"client remove", "ID", "Removes a client.", {}, 1, 1, CmdClientRemove},
      {"client secret add", "ID [--generate] [--description TEXT] [--expires 2030-01-01T00:00:00Z]",
       "Adds a secret to a confidential client. The secret is read from standard input (one line) unless\n"
       "--generate, which prints a new 256-bit secret once. Only base64(SHA-256(secret)) is stored.",
       {{"--generate", false, "generate the secret and print it once"},
        {"--description", true, "a note kept with the secret"},
        {"--expires", true, "expiry time: 2030-01-01 (midnight UTC), 2030-01-01T00:00:00Z (or +hh:mm), Unix seconds"}},
       1, 1, CmdClientSecretAdd},
      {"key generate", "[--alg RS256|PS256|ES256|EdDSA]",
       "Generates a signing key: current if the algorithm has no current key, else next (published in the JWKS,\n"
       "signing after key rotate). Fails if the algorithm already has a next key. --alg defaults to the\n"
       "configured access_token_signing_alg.",
       {{"--alg", true, "RS256, PS256, ES256 or EdDSA"}}, 0, 0, CmdKeyGenerate},
      {"key list", "", "Lists the signing keys: kid, alg, state, created.", {}, 0, 0, CmdKeyList},
      {"key rotate", "[--alg ALG]",
       "Makes the algorithm's next key current and retires the old current key (it stays in the JWKS).",
       {{"--alg", true, "RS256, PS256, ES256 or EdDSA"}}, 0, 0, CmdKeyRotate},
      {"key retire", "KID [--force]",
       "Retires a next or current key (a current one only with --force: its algorithm then cannot sign until\n"
       "another key is current).",
       {{"--force", false, "allow retiring the current key"}}, 1, 1, CmdKeyRetire},
      {"key remove", "KID", "Removes a retired key; it leaves the JWKS.", {}, 1, 1, CmdKeyRemove},
      {"key import", "FILE.pem [--alg ALG]",
       "Imports a PEM private key (PKCS#8 or traditional), placed as current or next like key generate.",
       {{"--alg", true, "RS256, PS256, ES256 or EdDSA"}}, 1, 1, CmdKeyImport},
      {"session rotate-key", "",
       "Replaces the session key (32 new random bytes) that signs the authorize endpoint's login-session cookies\n"
       "and login-form CSRF tokens: every user must sign in again, and a login form open in a browser must be\n"
       "reloaded. Issued tokens stay valid. Workers pick the new key up on their next request.",
       {}, 0, 0, CmdSessionRotateKey},
      {"session revoke", "--subject SUB",
       "Signs one user out of every browser: moves the user's security stamp, so each of their login sessions\n"
       "is refused at its next use (authorize, prompt=none, the device page). Issued tokens stay valid; revoke\n"
       "them with grants revoke --subject, which also does this. user passwd and user disable do it too.",
       {{"--subject", true, "the user's subject id"}}, 0, 0, CmdSessionRevoke},
      {"user add", "USERNAME [--tenant T] [--subject ID] [--claim TYPE=VALUE]... [--inactive] [--no-password]",
       "Adds a user. The password is read from standard input (one line), or asked for twice without echo on a\n"
       "terminal; never from the command line. Only its Argon2id hash is stored. --no-password makes a user who\n"
       "cannot sign in with a password. The subject id (the tokens' sub) defaults to a random 22-character id.\n\n"
       "examples:\n"
       "  tokenctl user add alice --claim name='Alice Smith' --claim email=alice@example.com\n"
       "  printf '%s\\n' \"$PASSWORD\" | tokenctl user add bob --tenant acme --subject 1001",
       {{"--tenant", true, "the tenant (acr_values tenant:NAME); default none"},
        {"--subject", true, "the subject id (sub claim); default a random id"},
        {"--claim", true, "a user claim TYPE=VALUE (repeatable), e.g. email=alice@example.com"},
        {"--inactive", false, "add the user disabled (IsActive false)"},
        {"--no-password", false, "do not read a password: the user cannot sign in with one"}},
       1, 1, CmdUserAdd},
      {"user show", "USER | --username NAME [--tenant T]",
       "Shows a user: subject, username, tenant, active flag, the password hash's scheme (never the hash),\n"
       "lockout state and claims. USER is a subject id.\n\n"
       "examples:\n"
       "  tokenctl user show 1001\n"
       "  tokenctl --json user show --username bob --tenant acme",
       kUserRefOptions, 0, 1, CmdUserShow},
      {"user list", "[--tenant T]",
       "Lists users: subject, username, tenant, active, password scheme, lockout. --tenant T lists one tenant's\n"
       "users (--tenant '' those without a tenant).",
       {{"--tenant", true, "only this tenant's users"}}, 0, 0, CmdUserList},
      {"user passwd", "USER | --username NAME [--tenant T] [--no-password]",
       "Sets a new password, read like user add's (standard input, or a prompt without echo, asked twice). Also\n"
       "clears the lockout state. --no-password removes the password instead.\n\n"
       "examples:\n"
       "  tokenctl user passwd --username alice\n"
       "  printf '%s\\n' \"$PASSWORD\" | tokenctl user passwd 1001",
       UserRefOptions({{"--no-password", false, "remove the password: the user cannot sign in with one"}}), 0, 1,
       CmdUserPasswd},
      {"user disable", "USER | --username NAME [--tenant T]",
       "Disables a user (IsActive false): the password grant refuses it as it refuses a wrong password.",
       kUserRefOptions, 0, 1, CmdUserDisable},
      {"user enable", "USER | --username NAME [--tenant T]", "Enables a disabled user (IsActive true).",
       kUserRefOptions, 0, 1, CmdUserEnable},
      {"user unlock", "USER | --username NAME [--tenant T]",
       "Ends a lockout at once and resets the count of failed password attempts to 0.", kUserRefOptions, 0, 1,
       CmdUserUnlock},
      {"user remove", "USER | --username NAME [--tenant T]", "Removes a user.", kUserRefOptions, 0, 1,
       CmdUserRemove},
      {"grants list", "[--client ID] [--subject SUB] [--kind KIND]",
       "Lists the stored grants (refresh tokens, reference access tokens, authorization and device codes), oldest\n"
       "first: id, kind, client, subject, created, expires, consumed, family, scopes. The id is the first 12\n"
       "characters of base64url(SHA-256(token)): it names the grant for `grants revoke --id`, and is not the token,\n"
       "which the database does not hold. Expired grants stay listed until `tokenctl gc` deletes them.\n\n"
       "examples:\n"
       "  tokenctl grants list --client app --subject 1001\n"
       "  tokenctl --json grants list --kind refresh_token",
       {{"--client", true, "only this client's grants"},
        {"--subject", true, "only this subject's (user's) grants"},
        {"--kind", true,
         "refresh_token, reference_token, authorization_code, device_code, user_code, user_code_throttle or "
         "consent"}},
       0, 0, CmdGrantsList},
      {"grants revoke", "--family F | --id ID | --client ID [--subject SUB] | --subject SUB [--batch N]",
       "Revokes whole grant families: every refresh token and reference access token descending from the same\n"
       "original grant is dead at once and deleted (N per write transaction, so workers never wait long), and JWT\n"
       "access tokens issued from the family introspect as inactive until the longest AccessTokenLifetime has\n"
       "passed. --id takes a grant id from\n"
       "`grants list` (or its start; an id that matches several grants is refused and nothing is revoked).\n"
       "--client and --subject revoke every family with a grant of that client and/or subject.\n\n"
       "examples:\n"
       "  tokenctl grants revoke --subject 1001            # sign a user out everywhere\n"
       "  tokenctl grants revoke --client app --subject 1001\n"
       "  tokenctl grants revoke --id 3q2-7wAAb1Jx",
       {{"--family", true, "one family, by its id (FAMILY in grants list; grant_id in access tokens)"},
        {"--id", true, "the family of the grant with this id (or id prefix)"},
        {"--client", true, "every family with a grant of this client"},
        {"--subject", true, "every family with a grant of this subject"},
        {"--batch", true, "grants deleted per write transaction, 1..100000 (default 500)"}},
       0, 0, CmdGrantsRevoke},
      {"gc", "[--batch N]",
       "Deletes expired grants and expired family-revocation records, N (default 500) per write transaction,\n"
       "until none is left, and reports how many it removed. Safe to run from cron or a systemd timer while\n"
       "workers serve: each batch is one short transaction. The Debian package runs it hourly\n"
       "(tokenfcgi-gc.timer).",
       {{"--batch", true, "records per write transaction, 1..100000 (default 500)"}}, 0, 0, CmdGc},
      {"stats", "", "Shows the store's record counts, map usage and readers.", {}, 0, 0, CmdStats},
      {"map grow", "SIZE",
       "Grows the LMDB map (the most the database can hold) to SIZE bytes (K, M, G, T suffixes) while workers\n"
       "serve: each running process adopts the new size at its next transaction, and a process started later\n"
       "with a smaller map_size in its configuration uses the grown size too. A map never shrinks.\n\n"
       "examples:\n"
       "  tokenctl map grow 4G",
       {}, 1, 1, CmdMapGrow},
      {"backup", "DIR", "Writes a compacted, consistent copy of the database to DIR/data.mdb while workers serve.",
       {}, 1, 1, CmdBackup},
      {"copy", "FROM TO [--force] [--batch N]",
       "Copies a whole store (clients, resources, keys, the session key, users, live grants, family revocations)\n"
       "from the database FROM into the database TO, each an LMDB directory or a postgresql:// connection URI, so\n"
       "tokens issued from FROM keep working against TO. FROM is read in one consistent snapshot while workers\n"
       "serve; TO is written in short transactions and created when missing. Expired grants stay behind.\n\n"
       "examples:\n"
       "  tokenctl copy /var/lib/tokenfcgi/db postgresql://tokenfcgi@db1/tokenfcgi",
       {{"--force", false, "copy into a store that holds records: same-named records are replaced, others kept"},
        {"--batch", true, "records per write transaction, 1..100000 (default 500)"}},
       2, 2, CmdCopy},
  };
  return kCommands;
}

const std::vector<OptionSpec> kGlobalOptions = {
    {"--config", true, "configuration file (default $TOKENFCGI_CONFIG, else /etc/tokenfcgi/tokenfcgi.conf)"},
    {"--json", false, "print one JSON document for scripts"},
};

void PrintGeneralHelp(std::ostream& out) {
  out << "usage: tokenctl [--config FILE] [--json] COMMAND ...\n\n"
         "Administers a tokenfcgi database: clients, resources, signing keys, users, grants.\n\ncommands:\n";
  for (const auto& c : Commands()) {
    out << "  " << c.name;
    if (!c.synopsis.empty()) out << " " << c.synopsis;
    out << "\n";
  }
  out << "\noptions:\n";
  for (const auto& o : kGlobalOptions) out << "  " << std::left << std::setw(16) << o.name << o.help << "\n";
  out << "\nUSER is a subject id, or --username NAME [--tenant T] in its place.\n"
         "tokenctl COMMAND --help describes one command. Exit status: 0 ok, 1 error, 2 usage error.\n";
}

void PrintCommandHelp(std::ostream& out, const CommandDef& c) {
  out << "usage: tokenctl [--config FILE] [--json] " << c.name;
  if (!c.synopsis.empty()) out << " " << c.synopsis;
  out << "\n\n" << c.help << "\n";
  if (!c.options.empty()) {
    out << "\noptions:\n";
    for (const auto& o : c.options) {
      out << "  " << std::left << std::setw(20) << (std::string(o.name) + (o.takes_value ? " VALUE" : ""))
          << o.help << "\n";
    }
  }
}

const OptionSpec* FindOption(const std::vector<OptionSpec>& specs, std::string_view name) {
  for (const auto& o : specs) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

// Reads options of `specs` (and the global ones) and positional arguments from args[pos...]. "--" ends options;
// "--name=value" is accepted.
bool ParseArguments(Context& ctx, const std::vector<std::string>& args, size_t pos,
                    const std::vector<OptionSpec>& specs, Parsed* parsed, std::string* error) {
  bool options_done = false;
  for (; pos < args.size(); ++pos) {
    const std::string& a = args[pos];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      parsed->args.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a, value;
    bool has_inline_value = false;
    if (const size_t eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_inline_value = true;
    }
    const OptionSpec* spec = FindOption(specs, name);
    if (spec == nullptr) spec = FindOption(kGlobalOptions, name);
    if (spec == nullptr) {
      *error = "unknown option '" + name + "'";
      return false;
    }
    if (spec->takes_value && !has_inline_value) {
      if (pos + 1 >= args.size()) {
        *error = "option " + name + " needs a value";
        return false;
      }
      value = args[++pos];
    } else if (!spec->takes_value && has_inline_value) {
      *error = "option " + name + " takes no value";
      return false;
    }
    if (name == "--config") {
      ctx.config_arg = value;
    } else if (name == "--json") {
      ctx.json = true;
    } else {
      parsed->options[name].push_back(value);
    }
  }
  return true;
}

}  // namespace

int RunTokenctl(const std::vector<std::string>& args, const CliIo& io) {
  Context ctx{io};
  size_t pos = 0;
  // Global options before the command.
  for (; pos < args.size() && args[pos].rfind("--", 0) == 0; ++pos) {
    const std::string& a = args[pos];
    if (a == "--help" || a == "-h") {
      PrintGeneralHelp(*io.out);
      return kExitOk;
    }
    if (a == "--json") {
      ctx.json = true;
    } else if (a == "--config") {
      if (pos + 1 >= args.size()) return UsageError(ctx, "option --config needs a value");
      ctx.config_arg = args[++pos];
    } else if (a.rfind("--config=", 0) == 0) {
      ctx.config_arg = a.substr(9);
    } else {
      return UsageError(ctx, "unknown option '" + a + "'");
    }
  }
  if (pos >= args.size()) return UsageError(ctx, "no command given");
  if (args[pos] == "help") {
    PrintGeneralHelp(*io.out);
    return kExitOk;
  }

  // The longest command name (up to three words) that matches the next arguments.
  const CommandDef* command = nullptr;
  size_t words = 0;
  for (const auto& c : Commands()) {
    std::istringstream name_words{std::string(c.name)};
    std::string w;
    size_t n = 0;
    bool match = true;
    while (name_words >> w) {
      if (pos + n >= args.size() || args[pos + n] != w) {
        match = false;
        break;
      }
      ++n;
    }
    if (match && n > words) {
      command = &c;
      words = n;
    }
  }
  if (command == nullptr) {
    // "client" or "key" alone, or with an unknown subcommand: list what exists.
    std::string group = args[pos];
    std::string known;
    for (const auto& c : Commands()) {
      if (c.name.rfind(group + " ", 0) == 0) known += (known.empty() ? "" : ", ") + std::string(c.name);
    }
    if (!known.empty()) {
      if (pos + 1 < args.size() && (args[pos + 1] == "--help" || args[pos + 1] == "-h")) {
        PrintGeneralHelp(*io.out);
        return kExitOk;
      }
      return UsageError(ctx, pos + 1 < args.size() ? "unknown command '" + group + " " + args[pos + 1] +
                                                         "' (known: " + known + ")"
                                                   : "'" + group + "' needs a subcommand: " + known);
    }
    return UsageError(ctx, "unknown command '" + group + "'");
  }
  ctx.command = command;
  pos += words;
  for (size_t i = pos; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--help" || args[i] == "-h") {
      PrintCommandHelp(*io.out, *command);
      return kExitOk;
    }
  }
  Parsed parsed;
  std::string error;
  if (!ParseArguments(ctx, args, pos, command->options, &parsed, &error)) return UsageError(ctx, error);
  if (parsed.args.size() < command->min_args) return UsageError(ctx, "missing argument");
  if (parsed.args.size() > command->max_args) {
    return UsageError(ctx, "unexpected argument '" + parsed.args.back() + "'");
  }
  return command->run(ctx, parsed);
}

}  // namespace tf::admin
