#include "oauth/grant_family.h"

#include "oauth/request_log.h"
#include "util/log.h"

namespace tf::oauth {

Status RevokeGrantFamily(store::Txn& txn, const Snapshot& snapshot, std::string_view family, int64_t now) {
  if (family.empty()) return Status::InvalidArgument("a grant family id is empty");
  const int64_t keep_until = now + snapshot.family_revocation_retention;
  Result<size_t> removed = txn.RevokeFamily(family, now, keep_until);
  if (!removed.ok()) return removed.status();
  // The family id is not a credential (it is in every access token of the family), so it may be logged.
  Logf(LogLevel::kInfo, "grant family %s revoked: %zu grant(s) deleted", SanitizeForLog(family).c_str(), *removed);
  return Status::OK();
}

}  // namespace tf::oauth
