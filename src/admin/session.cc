#include "admin/session.h"

#include <string>

#include "util/crypto.h"

namespace tf::admin {

Result<SessionKeyRotation> RotateSessionKey(store::Store& store, const token::KeyEncryptionKey* kek) {
  const std::string key = kek != nullptr ? token::SealSessionKey(*kek, RandomBytes(token::kSessionKeySize))
                                         : RandomBytes(token::kSessionKeySize);
  SessionKeyRotation rotation;
  const Status written = store.Update([&](store::Txn& txn) -> Status {
    Result<uint64_t> generation = txn.ConfigGeneration();
    if (!generation.ok()) return generation.status();
    TF_RETURN_IF_ERROR(txn.PutSessionKey(key));
    // PutSessionKey moves the generation by one when this transaction commits (store.h).
    rotation.config_generation = *generation + 1;
    return Status::OK();
  });
  if (!written.ok()) return written;
  return rotation;
}

}  // namespace tf::admin
