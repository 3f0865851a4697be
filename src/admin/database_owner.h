// Opening the database from tokenctl when tokenctl runs as root but the database belongs to the service user.
//
// The workers run as the service user (tokenfcgi under the Debian package), which owns the database directory. An
// administrator who runs tokenctl as root would otherwise leave root-owned files behind: a lock.mdb that LMDB creates
// with the caller's owner locks every worker out, and so does a data.mdb restored with `cp` as root. So, when the
// effective user is root and the directory belongs to another user, OpenStoreAsDirectoryOwner
//   - refuses, saying why and what to run, when data.mdb or lock.mdb already exists with another owner than the
//     directory's (the workers could not open it);
//   - gives every file the open creates to the directory's owner and group, mode 0660.
// In every other case (not root, a root-owned directory, or a PostgreSQL database) it is store::OpenStore.
//
// Thread-compatible; meant for the tokenctl process.
#pragma once

#include <memory>

#include "store/store.h"
#include "util/status.h"

namespace tf::admin {

Result<std::unique_ptr<store::Store>> OpenStoreAsDirectoryOwner(const store::StoreOptions& options);

}  // namespace tf::admin
