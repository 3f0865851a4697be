#include "oauth/resource_owner.h"

#include <chrono>

#include "oauth/request_log.h"
#include "password/hash_helper.h"
#include "store/lockout.h"
#include "util/log.h"

namespace tf::oauth {

bool PasswordChecksBusy(const Status& status) {
  return status.code() == Status::Code::kResourceExhausted && status.message() == kPasswordChecksBusy;
}

Result<std::optional<store::User>> ValidateResourceOwnerPassword(store::Store& store, const Config& config,
                                                                 int64_t now, std::string_view tenant,
                                                                 std::string_view username,
                                                                 std::string_view password) {
  const Argon2Params params = Argon2ParamsFromConfig(config);

  // 1. Find the user (a read transaction; nothing is held afterwards).
  std::optional<store::User> found;
  Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<store::User> u = txn.FindUserByName(tenant, username);
    if (u.ok()) {
      found = std::move(u).value();
      return Status::OK();
    }
    return u.status().IsNotFound() ? Status::OK() : u.status();
  });
  if (!st.ok()) return st;

  // 2. The slow part, outside any transaction, holding one of this process's password check slots. Always one full
  // verification, whatever the user's state.
  PasswordCheckSlots& slots = PasswordCheckSlots::Process();
  if (!slots.Enter(PasswordCheckConcurrency(config.password_hash_concurrency),
                   std::chrono::milliseconds(config.password_hash_wait_ms))) {
    Logf(LogLevel::kDebug, "password login: every password check slot stayed busy for %lld ms",
         static_cast<long long>(config.password_hash_wait_ms));
    return Status::ResourceExhausted(std::string(kPasswordChecksBusy));
  }
  PasswordCheckJob job;
  job.user_found = found.has_value() && !found->password_hash.empty();
  if (job.user_found) job.stored = found->password_hash;
  job.password = std::string(password);
  job.params = params;
  job.rehash_if_needed = found.has_value() && found->is_active && !store::IsLockedOut(*found, now);
  PasswordCheckResult checked;
  {
    struct Held {  // the slot is given back however this block is left
      PasswordCheckSlots& slots;
      ~Held() { slots.Leave(); }
    } held{slots};
    checked = CheckPasswordInBackground(job);
  }
  const PasswordCheck check = checked.check;
  std::string upgraded_hash = std::move(checked.upgraded_hash);
  if (!checked.rehash_error.empty()) {
    Logf(LogLevel::kWarn, "password login: cannot rehash the password of subject %s: %s",
         SanitizeForLog(found->subject_id).c_str(), checked.rehash_error.c_str());
  }
  if (!found.has_value()) {
    Logf(LogLevel::kDebug, "password login: no such user");
    return std::optional<store::User>();
  }

  // 3. Decide and record on a fresh copy of the record, in one write transaction.
  std::optional<store::User> valid;
  const int max_failures = static_cast<int>(config.lockout_max_failures);
  st = store.Update([&](store::Txn& txn) -> Status {
    valid.reset();
    Result<store::User> fresh = txn.GetUser(found->subject_id);
    if (!fresh.ok()) {
      if (!fresh.status().IsNotFound()) return fresh.status();
      Logf(LogLevel::kDebug, "password login: subject %s was removed meanwhile",
           SanitizeForLog(found->subject_id).c_str());
      return Status::OK();
    }
    store::User& user = *fresh;
    if (user.password_hash != found->password_hash || user.tenant != found->tenant ||
        store::NormalizeUsername(user.username) != store::NormalizeUsername(found->username)) {
      Logf(LogLevel::kDebug, "password login: subject %s changed meanwhile", SanitizeForLog(user.subject_id).c_str());
      return Status::OK();
    }
    if (store::IsLockedOut(user, now)) {
      Logf(LogLevel::kDebug, "password login: subject %s is locked out", SanitizeForLog(user.subject_id).c_str());
      return Status::OK();
    }
    if (!check.match) {
      const int64_t count_before = user.access_failed_count;
      const std::optional<int64_t> end_before = user.lockout_end;
      store::RecordFailedLogin(&user, now, max_failures, config.lockout_seconds);
      if (store::IsLockedOut(user, now)) {
        Logf(LogLevel::kWarn, "password login: subject %s locked out for %lld s after %d failed logins",
             SanitizeForLog(user.subject_id).c_str(), static_cast<long long>(config.lockout_seconds), max_failures);
      } else {
        Logf(LogLevel::kDebug, "password login: wrong password for subject %s",
             SanitizeForLog(user.subject_id).c_str());
      }
      // Lockout disabled (lockout_max_failures = 0): nothing changed, nothing to write.
      if (user.access_failed_count == count_before && user.lockout_end == end_before) return Status::OK();
      return txn.PutUser(user);
    }
    if (!user.is_active) {
      Logf(LogLevel::kDebug, "password login: subject %s is disabled", SanitizeForLog(user.subject_id).c_str());
      return Status::OK();
    }
    const bool changed = user.access_failed_count != 0 || user.lockout_end.has_value() || !upgraded_hash.empty();
    store::RecordSuccessfulLogin(&user);
    if (!upgraded_hash.empty()) user.password_hash = upgraded_hash;
    valid = user;
    return changed ? txn.PutUser(user) : Status::OK();
  });
  if (!st.ok()) {
    valid.reset();
    return st;
  }
  return valid;
}

}  // namespace tf::oauth
