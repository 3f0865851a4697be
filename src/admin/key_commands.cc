#include "admin/key_commands.h"

#include <ostream>

#include "admin/keys.h"
#include "admin/keys_at_rest.h"
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
  auto kek = ConfiguredKek(ctx);
  if (!kek.ok()) return Fail(ctx, kek.status());
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto key = GenerateKey(**store, *alg, *ctx.io.clock, *kek ? &**kek : nullptr);
  if (!key.ok()) return Fail(ctx, key.status());
  return PrintKey(ctx, *key, "generated");
}

int CmdKeyImport(Context& ctx, const Parsed& p) {
  int code = kExitOk;
  auto alg = AlgOption(ctx, p, &code);
  if (!alg) return code;
  auto pem = ReadFile(p.args[0], ctx.io.in);
  if (!pem.ok()) return Fail(ctx, pem.status());
  auto kek = ConfiguredKek(ctx);
  if (!kek.ok()) return Fail(ctx, kek.status());
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto key = ImportKeyPem(**store, *alg, *pem, *ctx.io.clock, *kek ? &**kek : nullptr);
  if (!key.ok()) return Fail(ctx, key.status());
  return PrintKey(ctx, *key, "imported");
}

void PrintSealReport(Context& ctx, const SealReport& report, std::string_view verb, std::string_view none) {
  if (ctx.json) {
    CJsonPtr o = Object();
    Add(o.get(), "keys", static_cast<uint64_t>(report.keys));
    Add(o.get(), "session_key", report.session_key);
    Print(ctx.out(), o);
    return;
  }
  if (report.keys == 0 && !report.session_key) {
    ctx.out() << none << "\n";
    return;
  }
  ctx.out() << verb << " " << report.keys << (report.keys == 1 ? " signing key" : " signing keys")
            << (report.session_key ? " and the session key" : "") << "\n";
}

int CmdKeyEncrypt(Context& ctx, const Parsed&) {
  auto kek = RequiredKek(ctx);
  if (!kek.ok()) return Fail(ctx, kek.status());
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto report = SealKeysInClear(**store, *kek);
  if (!report.ok()) return Fail(ctx, report.status());
  PrintSealReport(ctx, *report, "encrypted", "nothing to do: every key is encrypted already");
  return kExitOk;
}

int CmdKekRotate(Context& ctx, const Parsed&) {
  auto kek = RequiredKek(ctx);
  if (!kek.ok()) return Fail(ctx, kek.status());
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto report = RotateKeyEncryptionKey(**store, ctx.config->key_encryption_key_file, *kek, ctx.config->database);
  if (!report.ok()) return Fail(ctx, report.status());
  PrintSealReport(ctx, *report, "re-encrypted", "no keys to re-encrypt");
  if (!ctx.json) {
    ctx.out() << ctx.config->key_encryption_key_file
              << " holds the new key-encryption key: restart the workers now (they hold the old one)\n";
  }
  return kExitOk;
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
