// tokenctl grants list, grants revoke and gc: the commands over admin/grants.h.
#pragma once

#include <cstddef>

#include "admin/command.h"

namespace tf::admin::cli {

int CmdGrantsList(Context& ctx, const Parsed& p);
int CmdGrantsRevoke(Context& ctx, const Parsed& p);
int CmdGc(Context& ctx, const Parsed& p);
// --batch N (records per write transaction) of gc, grants revoke and copy: false (with *code set) on a usage error.
bool BatchOption(Context& ctx, const Parsed& p, size_t* batch, int* code);

}  // namespace tf::admin::cli
