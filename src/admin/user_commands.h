// tokenctl user ...: the commands over admin/users.h (add, show, list, passwd, disable, enable, unlock, remove).
#pragma once

#include "admin/command.h"
#include "store/records.h"

namespace tf::admin::cli {

// The options that name a user instead of a subject id: --username NAME [--tenant T]; the second form puts them
// before `more`.
const std::vector<OptionSpec>& UserRefOptions();
std::vector<OptionSpec> UserRefOptions(std::vector<OptionSpec> more);

// Prints "user 'alice' (subject ...) <what>", or the user as JSON with --json; returns kExitOk.
int PrintUserChange(Context& ctx, const store::User& u, std::string_view what);

int CmdUserAdd(Context& ctx, const Parsed& p);
int CmdUserShow(Context& ctx, const Parsed& p);
int CmdUserList(Context& ctx, const Parsed& p);
int CmdUserPasswd(Context& ctx, const Parsed& p);
int CmdUserDisable(Context& ctx, const Parsed& p);
int CmdUserEnable(Context& ctx, const Parsed& p);
int CmdUserUnlock(Context& ctx, const Parsed& p);
int CmdUserRemove(Context& ctx, const Parsed& p);

}  // namespace tf::admin::cli
