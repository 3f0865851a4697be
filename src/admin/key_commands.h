// tokenctl key ...: the commands over admin/keys.h (generate, import, list, rotate, retire, remove), and over
// admin/keys_at_rest.h (key encrypt, kek rotate).
#pragma once

#include <optional>

#include "admin/command.h"
#include "store/records.h"
#include "token/key_encryption.h"

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

// The configured key-encryption key (nullopt: key_encryption_key_file is not set), for the commands that write keys.
Result<std::optional<token::KeyEncryptionKey>> ConfiguredKek(Context& ctx);

}  // namespace tf::admin::cli
