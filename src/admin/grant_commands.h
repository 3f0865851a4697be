// tokenctl grants list, grants revoke and gc: the commands over admin/grants.h.
#pragma once

#include "admin/command.h"

namespace tf::admin::cli {

int CmdGrantsList(Context& ctx, const Parsed& p);
int CmdGrantsRevoke(Context& ctx, const Parsed& p);
int CmdGc(Context& ctx, const Parsed& p);

}  // namespace tf::admin::cli
