#include "admin/key_commands.h"

#include <ostream>

#include "admin/keys.h"
#include "config/config.h"
#include "token/jws.h"
#include "util/timestamp.h"

namespace tf::admin::cli {
namespace {

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

}  // namespace

CJsonPtr KeyJson(const store::KeyRecord& k) {
  CJsonPtr o = Object();
  Add(o.get(), "kid", k.kid);
  Add(o.get(), "alg", k.alg);
  Add(o.get(), "state", store::KeyStateName(k.state));
  Add(o.get(), "created", k.created);
  Add(o.get(), "created_utc", FormatTimestamp(k.created));
  return o;
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
  Table table({"KID", "ALG", "STATE", "CREATED"});
  for (const auto& k : *keys) {
    table.AddRow({k.kid, k.alg, std::string(store::KeyStateName(k.state)), FormatTimestamp(k.created)});
  }
  table.Print(ctx.out());
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

}  // namespace tf::admin::cli
