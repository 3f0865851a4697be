// tokenctl init, import, stats, map grow and backup: the commands over the database as a whole.
#pragma once

#include "admin/command.h"

namespace tf::admin::cli {

int CmdInit(Context& ctx, const Parsed& p);
int CmdMigrate(Context& ctx, const Parsed& p);
int CmdImport(Context& ctx, const Parsed& p);
int CmdStats(Context& ctx, const Parsed& p);
int CmdMapGrow(Context& ctx, const Parsed& p);
int CmdBackup(Context& ctx, const Parsed& p);

}  // namespace tf::admin::cli
