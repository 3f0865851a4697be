#include "admin/session_commands.h"

#include <ostream>

#include "admin/session.h"
#include "admin/user_commands.h"
#include "admin/users.h"

namespace tf::admin::cli {

int CmdSessionRotateKey(Context& ctx, const Parsed&) {
  auto kek = ConfiguredKek(ctx);
  if (!kek.ok()) return Fail(ctx, kek.status());
  auto store = OpenStore(ctx, false);
  if (!store.ok()) return Fail(ctx, store.status());
  auto rotation = RotateSessionKey(**store, *kek ? &**kek : nullptr);
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

}  // namespace tf::admin::cli
