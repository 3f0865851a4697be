// tokenctl client ...: the commands over admin/clients.h (list, show, add, remove, secret add).
#pragma once

#include "admin/command.h"

namespace tf::admin::cli {

int CmdClientList(Context& ctx, const Parsed& p);
int CmdClientShow(Context& ctx, const Parsed& p);
int CmdClientAdd(Context& ctx, const Parsed& p);
int CmdClientRemove(Context& ctx, const Parsed& p);
int CmdClientSecretAdd(Context& ctx, const Parsed& p);

}  // namespace tf::admin::cli
