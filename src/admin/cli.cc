#include "admin/cli.h"

#include <iomanip>
#include <iostream>
#include <sstream>
#include <string_view>

#include "admin/client_commands.h"
#include "admin/command.h"
#include "admin/copy.h"
#include "admin/database_commands.h"
#include "admin/grant_commands.h"
#include "admin/key_commands.h"
#include "admin/session_commands.h"
#include "admin/user_commands.h"

namespace tf::admin {
namespace {

using namespace cli;  // NOLINT: the command layer's own names

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
       "ID [--name NAME] [--public] [--grant GT]... [--scope S]... [--generate-secret] [--lifetime SECONDS]\n"
       "    [--redirect-uri URI]... [--post-logout-redirect-uri URI]... [--cors-origin ORIGIN]... [--offline-access]",
       "Adds a client. --generate-secret prints a new secret once and stores only its hash. A grant type that is\n"
       "neither built in nor served by an extension_grant line of the configuration is refused, with the list of\n"
       "known ones. Every other client property can be set with tokenctl import.\n\n"
       "examples:\n"
       "  tokenctl client add svc --grant client_credentials --scope api1 --generate-secret\n"
       "  tokenctl client add web --public --grant authorization_code --scope openid --scope offline_access \\\n"
       "      --redirect-uri https://app.example/callback --post-logout-redirect-uri https://app.example/ \\\n"
       "      --cors-origin https://app.example --offline-access",
       {{"--name", true, "ClientName"},
        {"--public", false, "a public client (RequireClientSecret false)"},
        {"--grant", true, "an allowed grant type (repeatable), e.g. client_credentials"},
        {"--scope", true, "an allowed scope (repeatable)"},
        {"--generate-secret", false, "generate a secret and print it once"},
        {"--lifetime", true, "AccessTokenLifetime in seconds (default 3600)"},
        {"--redirect-uri", true, "an allowed redirect URI (repeatable; RedirectUris)"},
        {"--post-logout-redirect-uri", true, "an allowed post-logout redirect URI (repeatable)"},
        {"--cors-origin", true, "a browser origin allowed to call the token endpoint (repeatable)"},
        {"--offline-access", false, "allow refresh tokens (AllowOfflineAccess; scope offline_access)"}},
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
      {"key encrypt", "",
       "Encrypts every signing key and the session key that is stored in clear with the key-encryption key\n"
       "(key_encryption_key_file; tokenctl init creates it), in one transaction: afterwards the database and its\n"
       "backups hold no usable private key without that file. Login sessions and issued tokens stay valid.\n"
       "Restart the workers first, so they hold the key-encryption key; running it again changes nothing.",
       {}, 0, 0, CmdKeyEncrypt},
      {"kek rotate", "",
       "Replaces the key-encryption key: writes a new one to key_encryption_key_file.new, re-encrypts every key\n"
       "with it in one transaction, then renames the file over key_encryption_key_file. Restart the workers\n"
       "right after it: they hold the old key until they restart.",
       {}, 0, 0, CmdKekRotate},
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
      {"user show", "(USER | --username NAME) [--tenant T] | --subject ID",
       "Shows a user: subject, username, tenant, active flag, the password hash's scheme (never the hash),\n"
       "lockout state and claims. USER is a username (in the default tenant, or in --tenant T) or a subject id;\n"
       "a word that is the username of one user and the subject id of another is refused, naming both.\n\n"
       "examples:\n"
       "  tokenctl user show alice\n"
       "  tokenctl user show 1001\n"
       "  tokenctl --json user show --username bob --tenant acme",
       UserRefOptions(), 0, 1, CmdUserShow},
      {"user list", "[--tenant T]",
       "Lists users: subject, username, tenant, active, password scheme, lockout. --tenant T lists one tenant's\n"
       "users (--tenant '' those without a tenant).",
       {{"--tenant", true, "only this tenant's users"}}, 0, 0, CmdUserList},
      {"user passwd", "(USER | --username NAME) [--tenant T] | --subject ID [--no-password]",
       "Sets a new password, read like user add's (standard input, or a prompt without echo, asked twice). Also\n"
       "clears the lockout state. --no-password removes the password instead.\n\n"
       "examples:\n"
       "  tokenctl user passwd --username alice\n"
       "  printf '%s\\n' \"$PASSWORD\" | tokenctl user passwd 1001",
       UserRefOptions({{"--no-password", false, "remove the password: the user cannot sign in with one"}}), 0, 1,
       CmdUserPasswd},
      {"user disable", "(USER | --username NAME) [--tenant T] | --subject ID",
       "Disables a user (IsActive false): the password grant refuses it as it refuses a wrong password.",
       UserRefOptions(), 0, 1, CmdUserDisable},
      {"user enable", "(USER | --username NAME) [--tenant T] | --subject ID",
       "Enables a disabled user (IsActive true).", UserRefOptions(), 0, 1, CmdUserEnable},
      {"user unlock", "(USER | --username NAME) [--tenant T] | --subject ID",
       "Ends a lockout at once and resets the count of failed password attempts to 0.", UserRefOptions(), 0, 1,
       CmdUserUnlock},
      {"user remove", "(USER | --username NAME) [--tenant T] | --subject ID", "Removes a user.", UserRefOptions(), 0,
       1, CmdUserRemove},
      {"grants list", "[--client ID] [--subject SUB] [--kind KIND]",
       "Lists the stored grants (refresh tokens, reference access tokens, authorization and device codes), oldest\n"
       "first: id, kind, client, subject, created, expires, consumed, family, scopes. The id is the first 12\n"
       "characters of base64url of the grant's key (SHA-256(token); a refresh token's chain key less its family's\n"
       "half): it names the grant for `grants revoke --id`, and is not the token, which the database does not hold.\n"
       "Expired grants stay listed until `tokenctl gc` deletes them.\n\n"
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
  out << "\nUSER is a username (with --tenant T in a tenant) or a subject id; --username NAME or --subject ID in its\n"
         "place names the user one way only.\n"
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

// Reads the command's options (and the global ones) and positional arguments from args[pos...]. "--" ends options;
// "--name=value" is accepted. A word that begins with a single '-' and is no known option is a positional argument
// while the command still expects one (a kid or a client id may begin with '-'); a word that begins with "--" is
// always an option, so a misspelt option is reported rather than taken for an argument.
bool ParseArguments(Context& ctx, const std::vector<std::string>& args, size_t pos, const CommandDef& command,
                    Parsed* parsed, std::string* error) {
  const std::vector<OptionSpec>& specs = command.options;
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
    if (spec == nullptr && a[1] != '-' && parsed->args.size() < command.max_args) {
      parsed->args.push_back(a);
      continue;
    }
    if (spec == nullptr) {
      *error = "unknown option '" + name + "'";
      if (command.max_args > 0) *error += " (an argument that begins with '-' goes after --: ... -- " + a + ")";
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

std::vector<CommandDoc> CommandDocs() {
  std::vector<CommandDoc> docs;
  for (const CommandDef& c : Commands()) {
    CommandDoc doc{c.name, c.synopsis, c.help, {}};
    for (const OptionSpec& o : c.options) doc.options.push_back({o.name, o.takes_value, o.help});
    docs.push_back(std::move(doc));
  }
  return docs;
}

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
  if (!ParseArguments(ctx, args, pos, *command, &parsed, &error)) return UsageError(ctx, error);
  if (parsed.args.size() < command->min_args) return UsageError(ctx, "missing argument");
  if (parsed.args.size() > command->max_args) {
    return UsageError(ctx, "unexpected argument '" + parsed.args.back() + "'");
  }
  return command->run(ctx, parsed);
}

}  // namespace tf::admin
