// Device codes (RFC 8628): issued by the device authorization endpoint (device_authorization.h), decided by the user
// on the verification page (device_page.h), polled and redeemed once by the device_code grant (grant_device_code.cc).
//
//   device_code  = RandomHandle(32)       43 chars of [A-Za-z0-9_-], 256 bits
//   key          = Sha256(device_code) -> Grant{kind device_code, client_id, scopes, created, expires = created +
//                  DeviceCodeLifetime, family = RandomHandle(16) (every token issued from it joins this family),
//                  interval = PollingInterval, last_poll = none, decision = ""}
//   user code    (user_code.h) key UserCodeKey(normal form) -> Grant{kind user_code, client_id, created, expires (the
//                  device code's), family (the device code's, so revoking the family removes both),
//                  device_code_hash = the key above}
// Both records are written in one write transaction. A user code is unique among live codes: a key that holds a
// user code that has not expired yet is never overwritten; a fresh code is drawn instead (at most
// kUserCodeAttempts times, then ResourceExhausted).
//
// The decision (DecideDeviceCode), in one write transaction: the user code must lead to a live, undecided device
// code; then decision = "approved" with the user's login (subject, auth_time, idp, amr, tenant, session_id), or
// "denied". Anything else (unknown, expired, decided) is kGone: the page answers it with one neutral message.
//
// Polling (PollDeviceCode), in ONE write transaction with the poll's answer:
//   1. absent, not a device code, another client's, or redeemed already (consumed_at)  -> kInvalid   (invalid_grant)
//   2. now >= expires                                                                   -> kExpired   (expired_token)
//   3. denied                                                                           -> kDenied    (access_denied)
//   4. approved: the tokens the caller built are stored and consumed_at = now            -> kRedeemed
//      (without tokens, because the caller's read saw the code still pending: kApproved, nothing written; the
//      device_code grant answers it authorization_pending, and the next poll finds it approved on its read)
//   5. pending: a poll is too fast when last_poll is set and now - last_poll < interval - kPollLeeway; then
//      interval += kSlowDownSeconds and last_poll is NOT moved               -> kTooFast (slow_down)
//      otherwise last_poll = now                                             -> kPending (authorization_pending)
// So the first poll after issuance is never too fast (no last_poll yet); a rejected poll does not push the window
// forward (only accepted polls set last_poll), so a client that waits the interval it was told always gets through;
// the leeway of one second absorbs the clock's one-second resolution and request jitter; and a decided code is
// answered at once, however soon the poll comes (steps 2-4 come before 5).
//
// Thread-safety: pure functions of their arguments plus the Txn they are given (one thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oauth/reference_tokens.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

inline constexpr std::string_view kDeviceCodeGrantType = "urn:ietf:params:oauth:grant-type:device_code";
// RFC 8628 §3.5 error codes of the token endpoint.
inline constexpr std::string_view kAuthorizationPending = "authorization_pending";
inline constexpr std::string_view kSlowDown = "slow_down";
inline constexpr std::string_view kAccessDenied = "access_denied";
inline constexpr std::string_view kExpiredToken = "expired_token";

inline constexpr int64_t kDefaultPollingInterval = 5;   // seconds, when the client has no PollingInterval
inline constexpr int64_t kSlowDownSeconds = 5;          // RFC 8628 §3.5
inline constexpr int64_t kPollLeeway = 1;               // seconds (see step 5)
inline constexpr int kUserCodeAttempts = 10;
// Device codes longer than this are invalid_grant without a lookup.
inline constexpr size_t kMaxDeviceCodeLength = 100;

inline constexpr std::string_view kDecisionApproved = "approved";
inline constexpr std::string_view kDecisionDenied = "denied";

// The client's polling interval (PollingInterval, at least 1) and device code lifetime (DeviceCodeLifetime, at
// least 1) in seconds.
int64_t PollingIntervalOf(const store::Client& client);
int64_t DeviceCodeLifetimeOf(const store::Client& client);

struct IssuedDeviceCode {
  NewGrant device;         // handle = the device_code
  std::string user_code;   // normal form (user_code.h)
};

// Stores a new device code for `client` and `scopes` and its user code in `txn` (see above).
Result<IssuedDeviceCode> IssueDeviceCode(store::Txn& txn, const store::Client& client,
                                         const std::vector<std::string>& scopes, int64_t now);

// The live, undecided device code behind a user code (normal form), or nullopt (unknown, expired, decided).
struct PendingDeviceCode {
  std::string device_code_hash;
  store::Grant device;
};
Result<std::optional<PendingDeviceCode>> FindPendingDeviceCode(store::Txn& txn, std::string_view user_code,
                                                               int64_t now);

// The user's login, recorded on approval.
struct DeviceLogin {
  std::string subject;
  int64_t auth_time = 0;
  std::string idp;
  std::vector<std::string> amr;
  std::string tenant;
  std::string session_id;
  std::string acr;  // the `acr` claim of the login ("" = none): login_provider.h's LoginAcr
};

enum class DeviceDecision { kRecorded, kGone };
// Records approval (login given) or denial (login nullopt) for the user code, if it is still pending.
Result<DeviceDecision> DecideDeviceCode(store::Txn& txn, std::string_view user_code, int64_t now,
                                        const std::optional<DeviceLogin>& login);

enum class DevicePoll { kInvalid, kExpired, kDenied, kApproved, kRedeemed, kTooFast, kPending };
// Steps 1-3 above and the decision, from the record `d` alone: kInvalid, kExpired, kDenied (settled: a poll's answer
// that no later change can alter), kApproved, or kPending (step 5 decides between kPending and kTooFast).
DevicePoll DeviceCodeState(const store::Grant& d, std::string_view client_id, int64_t now);
// Steps 1-5 above. `issued`: null while the caller has built no tokens; else the grants to store on redemption
// (each in the device code's family; null entries skipped; one in another family is InvalidArgument). kPending,
// kTooFast and kRedeemed need the caller's Update to commit (they write the polling state or the redemption).
Result<DevicePoll> PollDeviceCode(store::Txn& txn, std::string_view device_code_hash, std::string_view client_id,
                                  int64_t now, const std::vector<const NewGrant*>* issued);

}  // namespace tf::oauth
