#include "admin/database_owner.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <string>

namespace tf::admin {
namespace {

constexpr const char* kDatabaseFiles[] = {"data.mdb", "lock.mdb"};

std::string UserName(uid_t uid) {
  const struct passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? std::string(pw->pw_name) : "uid " + std::to_string(uid);
}

}  // namespace

Result<std::unique_ptr<store::Store>> OpenStoreAsDirectoryOwner(const store::StoreOptions& options) {
  struct stat dir;
  const bool adopt = ::geteuid() == 0 && ::stat(options.path.c_str(), &dir) == 0 && S_ISDIR(dir.st_mode) &&
                     dir.st_uid != 0;
  if (!adopt) return store::OpenStore(options);

  bool existed[std::size(kDatabaseFiles)] = {};
  for (size_t i = 0; i < std::size(kDatabaseFiles); ++i) {
    const std::string path = options.path + "/" + kDatabaseFiles[i];
    struct stat st;
    existed[i] = ::stat(path.c_str(), &st) == 0;
    if (existed[i] && st.st_uid != dir.st_uid) {
      const std::string owner = UserName(dir.st_uid);
      return Status::InvalidArgument(
          path + " belongs to " + UserName(st.st_uid) + " but the database directory to " + owner +
          ", so the workers could not open it; with the workers stopped, run: chown --reference=" + options.path +
          " " + path + " && chmod 0660 " + path + " (or delete lock.mdb), then run tokenctl again (as " + owner +
          ": runuser -u " + owner + " -- tokenctl ...)");
    }
  }
  Result<std::unique_ptr<store::Store>> store = store::OpenStore(options);
  if (!store.ok()) return store;
  for (size_t i = 0; i < std::size(kDatabaseFiles); ++i) {
    if (existed[i]) continue;
    const std::string path = options.path + "/" + kDatabaseFiles[i];
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;  // a read-only open creates no data.mdb
    if (::chown(path.c_str(), dir.st_uid, dir.st_gid) != 0 || ::chmod(path.c_str(), 0660) != 0) {
      return Status::IOError(path + ": cannot give it to the database directory's owner: " + std::strerror(errno));
    }
  }
  return store;
}

}  // namespace tf::admin
