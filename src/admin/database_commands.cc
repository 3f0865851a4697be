#include "admin/database_commands.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "admin/clients.h"
#include "admin/database_owner.h"
#include "admin/import.h"
#include "admin/key_commands.h"
#include "config/config.h"
#include "password/password_hash.h"
#include "store/pg_store.h"

namespace tf::admin::cli {
namespace {

// The database as output shows it: a PostgreSQL URI without its password.
std::string Shown(const Config& config) { return store::RedactedDatabase(config.database); }

void CountsJson(cJSON* o, const char* name, const ImportCounts& c) {
  CJsonPtr k = Object();
  Add(k.get(), "new", c.added);
  Add(k.get(), "updated", c.updated);
  Add(k.get(), "unchanged", c.unchanged);
  Add(o, name, std::move(k));
}

// How much of the map is in use, in percent (0 without a map).
double UsedPercent(const store::StoreStats& s) {
  return s.map_size ? 100.0 * static_cast<double>(s.used_bytes) / static_cast<double>(s.map_size) : 0;
}

}  // namespace

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
    Add(o.get(), "database", Shown(*ctx.config));
    Add(o.get(), "changed", changed);
    Add(o.get(), "created_database", report->created_database);
    if (report->created_key) {
      Add(o.get(), "created_key", KeyJson(*report->created_key));
    } else {
      AddNull(o.get(), "created_key");
    }
    Add(o.get(), "alg", report->alg);
    Add(o.get(), "current_kid", report->current_kid);
    Add(o.get(), "created_key_encryption_key_file", report->created_key_encryption_key_file);
    if (report->created_id_token_key) {
      Add(o.get(), "created_id_token_key", KeyJson(*report->created_id_token_key));
    } else {
      AddNull(o.get(), "created_id_token_key");
    }
    Print(ctx.out(), o);
    return kExitOk;
  }
  if (report->created_database) ctx.out() << "created database " << Shown(*ctx.config) << "\n";
  if (report->created_key_encryption_key_file) {
    ctx.out() << "created key_encryption_key_file " << ctx.config->key_encryption_key_file
              << " (mode 0400; keep a copy apart from the backups: without it the keys cannot be decrypted)\n";
  }
  if (report->created_key) {
    ctx.out() << "created " << report->alg << " signing key " << report->created_key->kid << " (current)\n";
  }
  if (report->created_id_token_key) {
    ctx.out() << "created " << report->created_id_token_key->alg << " signing key "
              << report->created_id_token_key->kid << " (current; id_token_signing_alg)\n";
  }
  if (report->current_kid.empty()) {
    ctx.out() << (changed ? "" : "nothing to do: database " + Shown(*ctx.config) + " exists; ") << "no "
              << report->alg << " key is current (add one: tokenctl key import --alg " << report->alg
              << " FILE.pem, or tokenctl key generate --alg " << report->alg << ")\n";
  } else if (!changed) {
    ctx.out() << "nothing to do: database " << Shown(*ctx.config) << " exists and " << report->alg << " key "
              << report->current_kid << " is current\n";
  }
  if (report->keys_in_clear) Warn(ctx, "signing keys are stored in clear: encrypt them with tokenctl key encrypt");
  return kExitOk;
}

// Opens the store with `migrate`: a PostgreSQL schema older than this build's is upgraded (pg_store.h); an LMDB
// database is upgraded by any writable open.
int CmdMigrate(Context& ctx, const Parsed&) {
  Status s = LoadConfiguration(ctx);
  if (!s.ok()) return Fail(ctx, s);
  store::StoreOptions options = store::StoreOptionsFromConfig(*ctx.config);
  options.migrate = true;
  auto store = OpenStoreAsDirectoryOwner(options);
  if (!store.ok()) return Fail(ctx, store.status());
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "database", Shown(*ctx.config));
    Add(o.get(), "schema", "current");
    Print(ctx.out(), o);
    return kExitOk;
  }
  ctx.out() << "database " << Shown(*ctx.config) << ": schema is current\n";
  return kExitOk;
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
      ctx.out() << "imported " << file << " into " << Shown(*ctx.config) << "\n";
    }
  }
  return kExitOk;
}

int CmdStats(Context& ctx, const Parsed&) {
  auto store = OpenStore(ctx, true);
  if (!store.ok()) return Fail(ctx, store.status());
  auto stats = (*store)->Stats();
  if (!stats.ok()) return Fail(ctx, stats.status());
  const store::StoreStats& s = *stats;
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "database", Shown(*ctx.config));
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
    Add(o.get(), "free_bytes", s.free_bytes);
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
  row("database", Shown(*ctx.config));
  row("config generation", std::to_string(s.config_generation));
  row("clients", std::to_string(s.clients));
  row("api scopes", std::to_string(s.api_scopes));
  row("api resources", std::to_string(s.api_resources));
  row("identity resources", std::to_string(s.identity_resources));
  row("keys", std::to_string(s.keys));
  row("users", std::to_string(s.users));
  row("grants", std::to_string(s.grants));
  row("revoked families", std::to_string(s.revoked_families));
  if (store::IsPostgresUri(ctx.config->database)) {  // no map, no free list, no reader table
    row("database size", std::to_string(s.used_bytes) + " bytes (pg_database_size)");
    return kExitOk;
  }
  const double pct = UsedPercent(s);
  std::ostringstream used;
  used << s.used_bytes << " of " << s.map_size << " bytes (" << std::fixed << std::setprecision(1) << pct
       << "%; tokenctl map grow before it nears 100%)";
  row("map used", used.str());
  // Free pages are reused before the file grows; a large share of them, left by a bulk load or a large cleanup,
  // slows the writes that land on them until a compacted backup is restored (docs/store.md).
  std::ostringstream free_list;
  free_list << s.free_bytes << " bytes (" << std::fixed << std::setprecision(1)
            << (s.used_bytes ? 100.0 * static_cast<double>(s.free_bytes) / static_cast<double>(s.used_bytes) : 0)
            << "% of the map used)";
  row("map free list", free_list.str());
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
    Add(o.get(), "database", Shown(*ctx.config));
    Add(o.get(), "backup", dir);
    Print(ctx.out(), o);
  } else {
    ctx.out() << "backup of " << Shown(*ctx.config) << " written to " << dir << "/data.mdb\n";
  }
  return kExitOk;
}

}  // namespace tf::admin::cli
