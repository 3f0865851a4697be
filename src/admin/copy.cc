#include "admin/copy.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <iomanip>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "admin/grant_commands.h"
#include "admin/database_owner.h"
#include "store/pg_store.h"
#include "util/cjson_ptr.h"

namespace tf::admin {
namespace {

using store::Txn;

// Everything CopyStore writes, read from the source in one read transaction.
struct Snapshot {
  std::vector<store::ApiScope> api_scopes;
  std::vector<store::ApiResource> api_resources;
  std::vector<store::IdentityResource> identity_resources;
  std::vector<store::Client> clients;
  std::vector<store::KeyRecord> keys;
  std::optional<std::string> session_key;
  std::vector<store::User> users;
  std::vector<std::pair<std::string, store::FamilyRevocation>> revocations;
  std::vector<std::pair<std::string, store::Grant>> grants;
};

template <typename T>
Status Take(Result<T> r, T* out) {
  if (!r.ok()) return r.status();
  *out = std::move(r).value();
  return Status::OK();
}

Status ReadSnapshot(store::Store& from, Snapshot* s) {
  return from.Read([&](Txn& t) -> Status {
    TF_RETURN_IF_ERROR(Take(t.ListApiScopes(), &s->api_scopes));
    TF_RETURN_IF_ERROR(Take(t.ListApiResources(), &s->api_resources));
    TF_RETURN_IF_ERROR(Take(t.ListIdentityResources(), &s->identity_resources));
    TF_RETURN_IF_ERROR(Take(t.ListClients(), &s->clients));
    TF_RETURN_IF_ERROR(Take(t.ListKeys(), &s->keys));
    Result<std::string> session_key = t.GetSessionKey();
    if (session_key.ok()) {
      s->session_key = std::move(session_key).value();
    } else if (!session_key.status().IsNotFound()) {
      return session_key.status();
    }
    TF_RETURN_IF_ERROR(Take(t.ListUsers(), &s->users));
    TF_RETURN_IF_ERROR(Take(t.ListFamilyRevocations(), &s->revocations));
    return Take(t.ListGrants("", ""), &s->grants);
  });
}

// Writes `ops` into `to`, at most `batch` per write transaction; `done` runs after each commit with the number of
// operations it held.
Status WriteInBatches(store::Store& to, const std::vector<std::function<Status(Txn&)>>& ops, size_t batch,
                      const std::function<void(size_t first, size_t count)>& done) {
  for (size_t first = 0; first < ops.size(); first += batch) {
    const size_t count = std::min(batch, ops.size() - first);
    const Status written = to.Update([&](Txn& t) -> Status {
      for (size_t i = first; i < first + count; ++i) TF_RETURN_IF_ERROR(ops[i](t));
      return Status::OK();
    });
    if (!written.ok()) return written;
    done(first, count);
  }
  return Status::OK();
}

// Two locations that name the same store: the same URI, or the same directory.
bool SameLocation(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (store::IsPostgresUri(a) || store::IsPostgresUri(b)) return false;
  char ra[PATH_MAX], rb[PATH_MAX];
  return ::realpath(a.c_str(), ra) != nullptr && ::realpath(b.c_str(), rb) != nullptr && std::string(ra) == rb;
}

Result<std::unique_ptr<store::Store>> OpenLocation(const Config& config, const std::string& location,
                                                   bool source) {
  struct stat st;
  if (source && !store::IsPostgresUri(location) && ::stat((location + "/data.mdb").c_str(), &st) != 0) {
    return Status::NotFound("no database at " + location);
  }
  store::StoreOptions options = store::StoreOptionsFromConfig(config);
  options.path = location;
  options.read_only = source;
  options.create = !source;
  if (store::IsPostgresUri(location)) return store::OpenStore(options);
  return OpenStoreAsDirectoryOwner(options);
}

void AddCount(cJSON* o, const char* name, size_t n) { cJSON_AddNumberToObject(o, name, static_cast<double>(n)); }

void PrintReport(std::ostream& out, const std::string& from, const std::string& to, const CopyReport& r) {
  out << "copied " << store::RedactedDatabase(from) << " to " << store::RedactedDatabase(to) << "\n";
  auto row = [&](const char* name, size_t n, const std::string& note = "") {
    out << "  " << std::left << std::setw(20) << (std::string(name) + ":") << n << note << "\n";
  };
  row("ApiScopes", r.api_scopes);
  row("ApiResources", r.api_resources);
  row("IdentityResources", r.identity_resources);
  row("Clients", r.clients);
  row("Keys", r.keys);
  out << "  " << std::left << std::setw(20) << "SessionKey:" << (r.session_key ? "copied" : "none in the source")
      << "\n";
  row("Users", r.users);
  row("Revocations", r.revocations,
      r.expired_revocations ? " (" + std::to_string(r.expired_revocations) + " expired, left behind)" : "");
  row("Grants", r.grants,
      r.dead_grants ? " (" + std::to_string(r.dead_grants) + " expired or revoked, left behind)" : "");
  out << "in " << r.transactions << (r.transactions == 1 ? " write transaction" : " write transactions") << "\n";
}

void PrintJson(std::ostream& out, const std::string& from, const std::string& to, const CopyReport& r, bool ok) {
  CJsonPtr o(cJSON_CreateObject());
  cJSON_AddStringToObject(o.get(), "from", store::RedactedDatabase(from).c_str());
  cJSON_AddStringToObject(o.get(), "to", store::RedactedDatabase(to).c_str());
  cJSON_AddBoolToObject(o.get(), "ok", ok);
  AddCount(o.get(), "ApiScopes", r.api_scopes);
  AddCount(o.get(), "ApiResources", r.api_resources);
  AddCount(o.get(), "IdentityResources", r.identity_resources);
  AddCount(o.get(), "Clients", r.clients);
  AddCount(o.get(), "Keys", r.keys);
  cJSON_AddBoolToObject(o.get(), "SessionKey", r.session_key);
  AddCount(o.get(), "Users", r.users);
  AddCount(o.get(), "Revocations", r.revocations);
  AddCount(o.get(), "Grants", r.grants);
  AddCount(o.get(), "expired_revocations", r.expired_revocations);
  AddCount(o.get(), "dead_grants", r.dead_grants);
  AddCount(o.get(), "transactions", r.transactions);
  std::unique_ptr<char, void (*)(void*)> text(cJSON_Print(o.get()), cJSON_free);
  out << (text ? text.get() : "null") << "\n";
}

}  // namespace

Result<bool> StoreHasRecords(store::Store& store) {
  Result<store::StoreStats> stats = store.Stats();
  if (!stats.ok()) return stats.status();
  const store::StoreStats& s = *stats;
  return s.clients + s.api_scopes + s.api_resources + s.identity_resources + s.keys + s.users + s.grants +
             s.revoked_families >
         0;
}

Status CopyStore(store::Store& from, store::Store& to, const CopyOptions& options, CopyReport* report) {
  *report = CopyReport();
  if (options.batch == 0) return Status::InvalidArgument("copy: batch must be at least 1");
  if (!options.force) {
    Result<bool> has_records = StoreHasRecords(to);
    if (!has_records.ok()) return has_records.status();
    if (*has_records) {
      return Status::AlreadyExists("the target already holds records (copy into an empty store, or give --force to "
                                   "replace records of the same name and keep the others)");
    }
  }
  Snapshot s;
  TF_RETURN_IF_ERROR(ReadSnapshot(from, &s));

  // One list of writes, in the order of copy.h, each with the counter it moves once its batch has committed.
  std::vector<std::function<Status(Txn&)>> ops;
  std::vector<size_t*> counters;
  auto add = [&](std::function<Status(Txn&)> op, size_t* counter) {
    ops.push_back(std::move(op));
    counters.push_back(counter);
  };
  for (const auto& r : s.api_scopes) add([&r](Txn& t) { return t.PutApiScope(r); }, &report->api_scopes);
  for (const auto& r : s.api_resources) add([&r](Txn& t) { return t.PutApiResource(r); }, &report->api_resources);
  for (const auto& r : s.identity_resources) {
    add([&r](Txn& t) { return t.PutIdentityResource(r); }, &report->identity_resources);
  }
  for (const auto& r : s.clients) add([&r](Txn& t) { return t.PutClient(r); }, &report->clients);
  for (const auto& r : s.keys) add([&r](Txn& t) { return t.PutKey(r); }, &report->keys);
  size_t session_keys = 0;
  if (s.session_key) add([&s](Txn& t) { return t.PutSessionKey(*s.session_key); }, &session_keys);
  for (const auto& r : s.users) add([&r](Txn& t) { return t.PutUser(r); }, &report->users);

  std::set<std::string> revoked;
  for (const auto& [family, r] : s.revocations) {
    revoked.insert(family);
    if (r.keep_until <= options.now) {
      ++report->expired_revocations;
      continue;
    }
    // RevokeFamily records exactly (revoked_at, keep_until) in a store without the family's grants.
    add([&f = family, &rev = r](Txn& t) -> Status {
      return t.RevokeFamily(f, rev.revoked_at, rev.keep_until).status();
    }, &report->revocations);
  }
  for (const auto& [hash, g] : s.grants) {
    if (g.expires <= options.now || (!g.family.empty() && revoked.count(g.family) > 0)) {
      ++report->dead_grants;
      continue;
    }
    add([&h = hash, &grant = g](Txn& t) { return t.PutGrant(h, grant); }, &report->grants);
  }

  const Status written = WriteInBatches(to, ops, options.batch, [&](size_t first, size_t count) {
    for (size_t i = first; i < first + count; ++i) ++*counters[i];
    ++report->transactions;
  });
  report->session_key = session_keys > 0;
  return written;
}

int RunCopyCommand(const Config& config, const std::string& from, const std::string& to, const CopyOptions& options,
                   bool json, std::ostream& out, std::ostream& err) {
  auto fail = [&](const Status& s) {
    err << "tokenctl: " << s.message() << "\n";
    return kExitError;
  };
  if (SameLocation(from, to)) return fail(Status::InvalidArgument("copy: FROM and TO are the same database"));
  Result<std::unique_ptr<store::Store>> source = OpenLocation(config, from, true);
  if (!source.ok()) return fail(Status::IOError("copy: source: " + source.status().message()));
  Result<std::unique_ptr<store::Store>> target = OpenLocation(config, to, false);
  if (!target.ok()) return fail(Status::IOError("copy: target: " + target.status().message()));
  CopyReport report;
  const Status copied = CopyStore(**source, **target, options, &report);
  if (json) PrintJson(out, from, to, report, copied.ok());
  if (!copied.ok()) {
    if (report.transactions > 0) {
      err << "tokenctl: copy stopped after " << report.transactions
          << " committed write transactions; run it again with --force to finish\n";
    }
    return fail(copied);
  }
  if (!json) PrintReport(out, from, to, report);
  return kExitOk;
}

namespace cli {

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

}  // namespace cli
}  // namespace tf::admin
