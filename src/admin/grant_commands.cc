#include "admin/grant_commands.h"

#include <charconv>
#include <ostream>

#include "admin/grants.h"
#include "admin/users.h"
#include "config/config.h"
#include "util/timestamp.h"

namespace tf::admin::cli {
namespace {

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
    Add(o.get(), "successor", GrantId(g.successor, g.family));
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

}  // namespace

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
  size_t expired = 0;
  Table table({"ID", "KIND", "CLIENT", "SUBJECT", "CREATED", "EXPIRES", "CONSUMED", "FAMILY", "SCOPES"});
  for (const auto& e : *grants) {
    const store::Grant& g = e.grant;
    if (g.expires <= now) ++expired;
    table.AddRow({e.id, std::string(store::GrantKindName(g.kind)), g.client_id, g.subject, FormatTimestamp(g.created),
                  FormatTimestamp(g.expires), g.consumed_at ? FormatTimestamp(*g.consumed_at) : "", g.family,
                  Join(g.scopes, " ")});
  }
  auto& out = ctx.out();
  table.Print(out);
  out << Plural(grants->size(), "grant", "grants");
  if (expired) out << " (" << expired << " expired: tokenctl gc deletes them)";
  out << "\n";
  return kExitOk;
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

}  // namespace tf::admin::cli
