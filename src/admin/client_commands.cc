#include "admin/client_commands.h"

#include <charconv>
#include <iomanip>
#include <ostream>

#include "admin/clients.h"
#include "admin/terminal.h"
#include "store/store.h"
#include "util/timestamp.h"

namespace tf::admin::cli {
namespace {

std::string SecretKind(const store::Secret& s) {
  if (s.type != "SharedSecret") return s.type;
  if (s.value.size() == 44) return "SharedSecret (SHA-256)";
  if (s.value.size() == 88) return "SharedSecret (SHA-512)";
  return "SharedSecret (unrecognised hash)";
}

void PrintSecretOnce(Context& ctx, const std::string& secret) {
  ctx.out() << "client secret (shown only now; only its SHA-256 hash is stored):\n" << secret << "\n";
}

Result<std::string> ReadSecretLine(Context& ctx, const std::string& client_id) {
  auto line = ReadLineQuietly(ctx.io, "secret for client " + client_id + ": ");
  if (!line) return Status::InvalidArgument("no secret on standard input (or use --generate)");
  return std::move(*line);
}

}  // namespace

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
  Table table({"CLIENT_ID", "TYPE", "ENABLED", "GRANTS", "SCOPES"});
  for (const auto& c : *clients) {
    table.AddRow({c.client_id, c.IsPublic() ? "public" : "confidential", c.enabled ? "yes" : "no",
                  Join(c.allowed_grant_types, ","), Join(c.allowed_scopes, " ")});
  }
  table.Print(ctx.out());
  return kExitOk;
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
    out << std::left << std::setw(24) << (std::string(name) + ":") << (value.empty() ? "-" : value) << "\n";
  };
  row("ClientId", c->client_id);
  row("ClientName", c->client_name);
  row("Enabled", c->enabled ? "yes" : "no");
  row("Type", c->IsPublic() ? "public (RequireClientSecret false)" : "confidential");
  row("AllowedGrantTypes", Join(c->allowed_grant_types, " "));
  row("AllowedScopes", Join(c->allowed_scopes, " "));
  row("AllowOfflineAccess", c->allow_offline_access ? "yes" : "no");
  row("RedirectUris", Join(c->redirect_uris, " "));
  row("PostLogoutRedirectUris", Join(c->post_logout_redirect_uris, " "));
  row("AllowedCorsOrigins", Join(c->allowed_cors_origins, " "));
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

int CmdClientAdd(Context& ctx, const Parsed& p) {
  NewClient spec;
  spec.client_id = p.args[0];
  spec.client_name = p.Get("--name");
  spec.is_public = p.Has("--public");
  spec.grant_types = p.All("--grant");
  spec.scopes = p.All("--scope");
  spec.redirect_uris = p.All("--redirect-uri");
  spec.post_logout_redirect_uris = p.All("--post-logout-redirect-uri");
  spec.cors_origins = p.All("--cors-origin");
  spec.allow_offline_access = p.Has("--offline-access");
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

}  // namespace tf::admin::cli
