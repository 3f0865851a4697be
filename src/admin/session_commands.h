// tokenctl session rotate-key and session revoke: the commands over admin/session.h and RevokeSessions.
#pragma once

#include "admin/command.h"

namespace tf::admin::cli {

int CmdSessionRotateKey(Context& ctx, const Parsed& p);
int CmdSessionRevoke(Context& ctx, const Parsed& p);

}  // namespace tf::admin::cli
