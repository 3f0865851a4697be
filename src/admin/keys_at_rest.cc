#include "admin/keys_at_rest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "util/log.h"

namespace tf::admin {
namespace {

Status Errno(const std::string& what) { return Status::IOError(what + ": " + std::strerror(errno)); }

// Directory part of a path ("." for a bare name).
std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Seals with `seal_with` every key in clear, and with `reseal` also every sealed key (opened with `open_with` first).
// A sealed key that does not open with `open_with` stops it with InvalidArgument naming the key.
Status SealInTxn(store::Txn& txn, const token::KeyEncryptionKey& open_with, const token::KeyEncryptionKey& seal_with,
                 bool reseal, SealReport* report) {
  *report = SealReport();
  Result<std::vector<store::KeyRecord>> keys = txn.ListKeys();
  if (!keys.ok()) return keys.status();
  for (store::KeyRecord& k : *keys) {
    const bool sealed = token::IsSealedPrivateKey(k.private_pem);
    Result<std::string> pem = token::OpenPrivateKey(&open_with, k.kid, k.private_pem);
    if (!pem.ok()) return Status::InvalidArgument("signing key " + SanitizeForLog(k.kid) + " " + pem.status().message());
    if (sealed && !reseal) continue;
    k.private_pem = token::SealPrivateKey(seal_with, k.kid, *pem);
    TF_RETURN_IF_ERROR(txn.PutKey(k));
    ++report->keys;
  }
  Result<std::string> stored = txn.GetSessionKey();
  if (stored.status().IsNotFound()) return Status::OK();
  if (!stored.ok()) return stored.status();
  const bool sealed = token::IsSealedSessionKey(*stored);
  Result<std::string> key = token::OpenSessionKey(&open_with, *stored);
  if (!key.ok()) return Status::InvalidArgument("the session key " + key.status().message());
  if (sealed && !reseal) return Status::OK();
  TF_RETURN_IF_ERROR(txn.PutSessionKey(token::SealSessionKey(seal_with, *key)));
  report->session_key = true;
  return Status::OK();
}

}  // namespace

Result<std::optional<token::KeyEncryptionKey>> LoadKeyEncryptionKey(const Config& config) {
  if (config.key_encryption_key_file.empty()) return std::optional<token::KeyEncryptionKey>();
  Result<token::KeyEncryptionKey> kek = token::ReadKeyEncryptionKeyFile(config.key_encryption_key_file);
  if (!kek.ok()) return kek.status();
  return std::optional<token::KeyEncryptionKey>(std::move(kek).value());
}

Status WriteKeyEncryptionKeyFile(const std::string& path, const token::KeyEncryptionKey& kek,
                                 const std::string& database_dir) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
  if (fd < 0) {
    if (errno == EEXIST) return Status::AlreadyExists("key_encryption_key_file " + path + " exists already");
    return Errno("key_encryption_key_file " + path);
  }
  Status s;
  struct stat dir;
  const bool adopt = ::geteuid() == 0 && ::stat(database_dir.c_str(), &dir) == 0 && S_ISDIR(dir.st_mode) &&
                     dir.st_uid != 0;
  const std::string& bytes = kek.bytes();
  if (::fchmod(fd, 0400) != 0) {
    s = Errno("key_encryption_key_file " + path);
  } else if (adopt && ::fchown(fd, dir.st_uid, dir.st_gid) != 0) {
    s = Errno("key_encryption_key_file " + path + ": cannot give it to the database directory's owner");
  } else if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()) || ::fsync(fd) != 0) {
    s = Errno("key_encryption_key_file " + path + ": write");
  }
  if (::close(fd) != 0 && s.ok()) s = Errno("key_encryption_key_file " + path + ": close");
  if (!s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  // The new name must survive a crash as the content does.
  const int dfd = ::open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

Result<bool> HoldsSealedKeys(store::Store& store) {
  bool sealed = false;
  TF_RETURN_IF_ERROR(store.Read([&](store::Txn& txn) -> Status {
    sealed = false;
    Result<std::vector<store::KeyRecord>> keys = txn.ListKeys();
    if (!keys.ok()) return keys.status();
    for (const store::KeyRecord& k : *keys) sealed = sealed || token::IsSealedPrivateKey(k.private_pem);
    Result<std::string> session_key = txn.GetSessionKey();
    if (session_key.ok()) sealed = sealed || token::IsSealedSessionKey(*session_key);
    return Status::OK();
  }));
  return sealed;
}

Result<SealReport> SealKeysInClear(store::Store& store, const token::KeyEncryptionKey& kek) {
  SealReport report;
  TF_RETURN_IF_ERROR(store.Update([&](store::Txn& txn) { return SealInTxn(txn, kek, kek, false, &report); }));
  return report;
}

Result<SealReport> RotateKeyEncryptionKey(store::Store& store, const std::string& path,
                                          const token::KeyEncryptionKey& old_kek, const std::string& database_dir) {
  const std::string staged = path + ".new";
  const token::KeyEncryptionKey new_kek = token::KeyEncryptionKey::Generate();
  Status written = WriteKeyEncryptionKeyFile(staged, new_kek, database_dir);
  if (written.code() == Status::Code::kAlreadyExists) {
    return Status::AlreadyExists(staged + " exists: an earlier kek rotate stopped half-way. If the workers refuse "
                                 "to start with " + path + ", run: mv " + staged + " " + path +
                                 "; otherwise remove " + staged + " and rotate again");
  }
  TF_RETURN_IF_ERROR(written);
  SealReport report;
  const Status sealed =
      store.Update([&](store::Txn& txn) { return SealInTxn(txn, old_kek, new_kek, true, &report); });
  if (!sealed.ok()) {
    ::unlink(staged.c_str());
    return sealed;
  }
  if (::rename(staged.c_str(), path.c_str()) != 0) {
    return Errno("the keys are sealed with the key in " + staged + " now, but renaming it to " + path +
                 " failed (rename it by hand)");
  }
  const int dfd = ::open(DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return report;
}

}  // namespace tf::admin
