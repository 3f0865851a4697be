// tokenctl key ...: the commands over admin/keys.h (generate, import, list, rotate, retire, remove).
#pragma once

#include "admin/command.h"
#include "store/records.h"

namespace tf::admin::cli {

// kid, alg, state, created (never the private key).
CJsonPtr KeyJson(const store::KeyRecord& k);

int CmdKeyGenerate(Context& ctx, const Parsed& p);
int CmdKeyImport(Context& ctx, const Parsed& p);
int CmdKeyList(Context& ctx, const Parsed& p);
int CmdKeyRotate(Context& ctx, const Parsed& p);
int CmdKeyRetire(Context& ctx, const Parsed& p);
int CmdKeyRemove(Context& ctx, const Parsed& p);
int CmdKeyEncrypt(Context& ctx, const Parsed& p);
int CmdKekRotate(Context& ctx, const Parsed& p);

}  // namespace tf::admin::cli
