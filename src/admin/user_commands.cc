#include "admin/user_commands.h"

#include <iomanip>
#include <ostream>
#include <utility>

#include "admin/terminal.h"
#include "admin/users.h"
#include "config/config.h"
#include "password/password_hash.h"
#include "store/lockout.h"
#include "util/timestamp.h"

namespace tf::admin::cli {
namespace {

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

// USER (a username in the tenant, or else a subject id), --username NAME or --subject ID; --tenant T with the first
// two.
std::optional<UserRef> UserRefArgument(Context& ctx, const Parsed& p, int* exit_code) {
  const int given = (p.args.empty() ? 0 : 1) + (p.Has("--username") ? 1 : 0) + (p.Has("--subject") ? 1 : 0);
  if (given != 1) {
    *exit_code = UsageError(ctx, given == 0 ? "missing argument: a username or subject id (USER), --username NAME or "
                                              "--subject ID"
                                            : "name the user once: USER, --username NAME or --subject ID");
    return std::nullopt;
  }
  if (p.Has("--subject")) {
    if (p.Has("--tenant")) {
      *exit_code = UsageError(ctx, "--tenant does not go with --subject: a subject id names one user in every tenant");
      return std::nullopt;
    }
    return UserRef::BySubject(p.Get("--subject"));
  }
  if (p.Has("--username")) return UserRef::ByName(p.Get("--tenant"), p.Get("--username"));
  return UserRef::ByNameOrSubject(p.Get("--tenant"), p.args[0]);
}

// A new password: one line from standard input, or on a terminal a prompt without echo, asked twice. Never from the
// command line, never echoed, never in a message.
Result<std::string> ReadNewPassword(Context& ctx, const std::string& who) {
  auto password = ReadLineQuietly(ctx.io, "new password for " + who + ": ");
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
    auto again = ReadLineQuietly(ctx.io, "repeat the new password: ");
    if (!again || *again != *password) return Status::InvalidArgument("the two passwords differ; nothing changed");
  }
  return std::move(*password);
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

}  // namespace

const std::vector<OptionSpec>& UserRefOptions() {
  static const std::vector<OptionSpec> kUserRefOptions = {
      {"--username", true, "name the user by username only"},
      {"--subject", true, "name the user by subject id only"},
      {"--tenant", true, "the tenant of USER or --username (default: users without a tenant)"},
  };
  return kUserRefOptions;
}

std::vector<OptionSpec> UserRefOptions(std::vector<OptionSpec> more) {
  more.insert(more.begin(), UserRefOptions().begin(), UserRefOptions().end());
  return more;
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
  Table table({"SUBJECT_ID", "USERNAME", "TENANT", "ACTIVE", "PASSWORD", "LOCKED"});
  for (const auto& u : *users) {
    table.AddRow({u.subject_id, u.username, u.tenant, u.is_active ? "yes" : "no", PasswordScheme(u.password_hash),
                  store::IsLockedOut(u, now) ? "until " + FormatTimestamp(*u.lockout_end) : std::string("no")});
  }
  table.Print(ctx.out());
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

}  // namespace tf::admin::cli
