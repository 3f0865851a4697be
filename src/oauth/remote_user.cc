#include "oauth/remote_user.h"

#include "oauth/request_log.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/utf8.h"

namespace tf::oauth {
namespace {

// 1..store::kMaxUsernameLength bytes of valid UTF-8 without control characters (a JSON record and a log line must be able to hold it).
bool IsUsableRemoteUser(std::string_view name) {
  if (name.empty() || name.size() > store::kMaxUsernameLength) return false;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return IsValidUtf8(name);
}

// The user named (tenant, name), or nullopt when there is none. Store failures are errors.
Result<std::optional<store::User>> FindByName(store::Txn& txn, std::string_view tenant, std::string_view name) {
  Result<store::User> u = txn.FindUserByName(tenant, name);
  if (u.ok()) return std::optional<store::User>(std::move(u).value());
  if (u.status().IsNotFound()) return std::optional<store::User>();
  return u.status();
}

std::optional<store::User> ActiveOnly(std::optional<store::User> user) {
  if (user.has_value() && !user->is_active) {
    Logf(LogLevel::kDebug, "remote_user login: subject %s is disabled", SanitizeForLog(user->subject_id).c_str());
    return std::nullopt;
  }
  return user;
}

}  // namespace

Result<RemoteUserName> MapRemoteUser(const Config& config, std::string_view remote_user) {
  const Status unusable = Status::InvalidArgument("the web server passed an unusable REMOTE_USER");
  if (!IsUsableRemoteUser(remote_user)) return unusable;
  RemoteUserName name{config.remote_user_tenant, std::string(remote_user)};
  if (config.remote_user_tenant_mapping == RemoteUserTenantMapping::kUserAtTenant) {
    const size_t at = remote_user.rfind('@');
    if (at != std::string_view::npos) {
      const std::string_view user = remote_user.substr(0, at);
      const std::string_view tenant = remote_user.substr(at + 1);
      if (user.empty() || tenant.empty()) return unusable;  // the whole name is at most 100 bytes, so is the tenant
      name.username = std::string(user);
      name.tenant = std::string(tenant);
    }
  }
  return name;
}

Result<std::optional<store::User>> FindOrProvisionRemoteUser(store::Store& store, const Config& config,
                                                             const RemoteUserName& name, int64_t now) {
  const std::string_view tenant = name.tenant;
  const std::string_view remote_user = name.username;

  std::optional<store::User> found;
  Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<std::optional<store::User>> u = FindByName(txn, tenant, remote_user);
    if (!u.ok()) return u.status();
    found = std::move(u).value();
    return Status::OK();
  });
  if (!st.ok()) return st;
  if (found.has_value()) return ActiveOnly(std::move(found));
  if (!config.remote_user_provision) {
    Logf(LogLevel::kDebug, "remote_user login: no such user and provisioning is off");
    return std::optional<store::User>();
  }

  // Provision in one write transaction. The name is looked up again inside it: when another worker created the user
  // since the read above, that user is returned. LMDB's single writer makes this check-then-insert atomic, so PutUser
  // cannot meet the name (AlreadyExists) here.
  bool created = false;
  st = store.Update([&](store::Txn& txn) -> Status {
    created = false;
    Result<std::optional<store::User>> u = FindByName(txn, tenant, remote_user);
    if (!u.ok()) return u.status();
    found = std::move(u).value();
    if (found.has_value()) return Status::OK();
    store::User user;
    for (;;) {  // a fresh SubjectId: never replace an existing record (a 128-bit collision, but PutUser would replace)
      user.subject_id = RandomHandle(16);
      Result<store::User> existing = txn.GetUser(user.subject_id);
      if (!existing.ok() && existing.status().IsNotFound()) break;
      if (!existing.ok()) return existing.status();
    }
    user.username = std::string(remote_user);
    user.tenant = std::string(tenant);
    user.is_active = true;
    user.created = now;
    TF_RETURN_IF_ERROR(txn.PutUser(user));
    found = std::move(user);
    created = true;
    return Status::OK();
  });
  if (!st.ok()) return st;
  if (created) {
    Logf(LogLevel::kInfo, "remote_user login: provisioned subject %s in tenant %s",
         SanitizeForLog(found->subject_id).c_str(), SanitizeForLog(found->tenant).c_str());
  }
  return ActiveOnly(std::move(found));
}

}  // namespace tf::oauth
