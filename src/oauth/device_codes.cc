#include "oauth/device_codes.h"

#include <algorithm>

#include "oauth/user_code.h"
#include "util/crypto.h"

namespace tf::oauth {
namespace {

// A grant that is a live device code of any client.
bool IsLiveDeviceCode(const store::Grant& g, int64_t now) {
  return g.kind == store::GrantKind::kDeviceCode && now < g.expires && !g.family.empty();
}

}  // namespace

int64_t PollingIntervalOf(const store::Client& client) {
  return std::max<int64_t>(1, client.polling_interval.value_or(kDefaultPollingInterval));
}

int64_t DeviceCodeLifetimeOf(const store::Client& client) { return std::max<int64_t>(1, client.device_code_lifetime); }

Result<IssuedDeviceCode> IssueDeviceCode(store::Txn& txn, const store::Client& client,
                                         const std::vector<std::string>& scopes, int64_t now) {
  IssuedDeviceCode out;
  out.device = NewHandle();
  store::Grant& d = out.device.grant;
  d.kind = store::GrantKind::kDeviceCode;
  d.client_id = client.client_id;
  d.scopes = scopes;
  d.created = now;
  d.expires = now + DeviceCodeLifetimeOf(client);
  d.family = RandomHandle(16);
  d.interval = PollingIntervalOf(client);

  const bool numeric = UserCodeIsNumeric(client.user_code_type);
  for (int attempt = 0; attempt < kUserCodeAttempts; ++attempt) {
    std::string code = NewUserCode(numeric);
    const std::string key = UserCodeKey(code);
    Result<store::Grant> existing = txn.GetGrant(key);
    if (existing.ok() && now < existing->expires) continue;  // in use: draw another
    if (!existing.ok() && !existing.status().IsNotFound()) return existing.status();
    store::Grant u;
    u.kind = store::GrantKind::kUserCode;
    u.client_id = client.client_id;
    u.created = now;
    u.expires = d.expires;
    u.family = d.family;
    u.device_code_hash = out.device.key;
    TF_RETURN_IF_ERROR(txn.PutGrant(key, u));
    TF_RETURN_IF_ERROR(txn.PutGrant(out.device.key, d));
    out.user_code = std::move(code);
    return out;
  }
  return Status::ResourceExhausted("no free user code was found");
}

Result<std::optional<PendingDeviceCode>> FindPendingDeviceCode(store::Txn& txn, std::string_view user_code,
                                                               int64_t now) {
  Result<store::Grant> u = txn.GetGrant(UserCodeKey(user_code));
  if (!u.ok()) return u.status().IsNotFound() ? Result<std::optional<PendingDeviceCode>>(std::nullopt) : u.status();
  if (u->kind != store::GrantKind::kUserCode || now >= u->expires || u->device_code_hash.size() != 32) {
    return std::optional<PendingDeviceCode>();
  }
  Result<store::Grant> d = txn.GetGrant(u->device_code_hash);
  if (!d.ok()) return d.status().IsNotFound() ? Result<std::optional<PendingDeviceCode>>(std::nullopt) : d.status();
  if (!IsLiveDeviceCode(*d, now) || d->client_id != u->client_id || !d->decision.empty() ||
      d->consumed_at.has_value()) {
    return std::optional<PendingDeviceCode>();
  }
  return std::optional<PendingDeviceCode>(PendingDeviceCode{u->device_code_hash, std::move(d).value()});
}

Result<DeviceDecision> DecideDeviceCode(store::Txn& txn, std::string_view user_code, int64_t now,
                                        const std::optional<DeviceLogin>& login) {
  Result<std::optional<PendingDeviceCode>> pending = FindPendingDeviceCode(txn, user_code, now);
  if (!pending.ok()) return pending.status();
  if (!pending->has_value()) return DeviceDecision::kGone;
  store::Grant& d = (*pending)->device;
  if (login.has_value()) {
    d.decision = std::string(kDecisionApproved);
    d.subject = login->subject;
    d.auth_time = login->auth_time;
    d.idp = login->idp;
    d.amr = login->amr;
    d.tenant = login->tenant;
    d.session_id = login->session_id;
    d.acr = login->acr;
  } else {
    d.decision = std::string(kDecisionDenied);
  }
  TF_RETURN_IF_ERROR(txn.PutGrant((*pending)->device_code_hash, d));
  return DeviceDecision::kRecorded;
}

DevicePoll DeviceCodeState(const store::Grant& d, std::string_view client_id, int64_t now) {
  // 1.
  if (d.kind != store::GrantKind::kDeviceCode || d.client_id != client_id || d.family.empty() ||
      d.consumed_at.has_value()) {
    return DevicePoll::kInvalid;
  }
  // 2.-4.: a decided code is answered at once.
  if (now >= d.expires) return DevicePoll::kExpired;
  if (d.decision == kDecisionDenied) return DevicePoll::kDenied;
  if (d.decision == kDecisionApproved) return DevicePoll::kApproved;
  return DevicePoll::kPending;
}

namespace {

// 5. pending
Result<DevicePoll> PollPending(store::Txn& txn, std::string_view device_code_hash, store::Grant& d, int64_t now) {
  if (d.last_poll.has_value() && now - *d.last_poll < d.interval - kPollLeeway) {
    d.interval += kSlowDownSeconds;
    TF_RETURN_IF_ERROR(txn.PutGrant(device_code_hash, d));
    return DevicePoll::kTooFast;
  }
  d.last_poll = now;
  TF_RETURN_IF_ERROR(txn.PutGrant(device_code_hash, d));
  return DevicePoll::kPending;
}

}  // namespace

Result<DevicePoll> PollDeviceCode(store::Txn& txn, std::string_view device_code_hash, std::string_view client_id,
                                  int64_t now, const std::vector<const NewGrant*>* issued) {
  Result<store::Grant> found = txn.GetGrant(device_code_hash);
  if (!found.ok()) {
    if (found.status().IsNotFound()) return DevicePoll::kInvalid;
    return found.status();
  }
  store::Grant& d = *found;
  const DevicePoll state = DeviceCodeState(d, client_id, now);
  if (state == DevicePoll::kPending) return PollPending(txn, device_code_hash, d, now);
  if (state != DevicePoll::kApproved || issued == nullptr) return state;
  for (const NewGrant* g : *issued) {
    if (g != nullptr && g->grant.family != d.family) {
      return Status::InvalidArgument("a grant issued from a device code is not in the device code's family");
    }
  }
  d.consumed_at = now;
  TF_RETURN_IF_ERROR(txn.PutGrant(device_code_hash, d));
  for (const NewGrant* g : *issued) {
    if (g != nullptr) TF_RETURN_IF_ERROR(txn.PutGrant(g->key, g->grant));
  }
  return DevicePoll::kRedeemed;
}

}  // namespace tf::oauth
