// The verification page of the device flow, GET|POST {base_path}/device (RFC 8628 §3.3): the user enters the code
// shown on the device, signs in, and approves or denies the device's request. Plain HTML forms (html.h: the same
// headers as the login form, CSP without scripts, no framing); no JavaScript; every page has a labelled field or
// buttons, a heading, and its error text in an element the field names with aria-describedby.
//
// Parameters: the query string of a GET, the form body of a POST (application/x-www-form-urlencoded, decoded strictly
// as at /connect/authorize; anything else is a 400 error page).
//   GET  [user_code=...]   the code form, prefilled from verification_uri_complete; nothing is looked up yet
//   POST tf_device=code|login|approve|deny, csrf, user_code [, username, password, tenant]
// Every POST first passes the CSRF check of the login form (session.h: cookie __Host-tf_csrf and the signed token
// in "csrf"; every page sets a fresh pair) -> else 400 "the form has expired; go back and try again". Then:
//   1. throttle (RFC 8628 §5.1): a client address (REMOTE_ADDR), and a signed-in session (its sid), that entered
//      kMaxUserCodeFailures wrong codes is refused for kUserCodeLockSeconds: 429 with the code form and "Too many
//      wrong codes..."; the code is not even looked up. Failures are counted in the store (user_code_throttle
//      grants, records.h, under UserCodeThrottleKey), so every worker counts toward the same limit; they are not
//      reset by a right code (anyone can make a right code with a device client of their own); each failure is
//      logged at warn with the (sanitised) address and the count, never the code.
//   2. the code (user_code.h's NormalizeUserCode, then device_codes.h's FindPendingDeviceCode): unknown, expired,
//      already decided, or its client gone or disabled -> the code form again with the one neutral message
//      kUserCodeNotUsable, and a failure counted.
//   3. sign-in with the first of config login_providers the client may use (login_provider.h), as /connect/authorize:
//        local        a usable session cookie (authorize.h's UsableLocalSession; no older than
//                     session_lifetime_seconds and the client's UserSsoLifetime), else the login form (html.h's
//                     LoginPage posting tf_device=login here); its POST checks the credentials exactly as the
//                     authorize form (resource_owner.h), and a success starts a session (cookie set)
//        remote_user  REMOTE_USER as set by the web server (else 401 page); FindOrProvisionRemoteUser (else 403 page);
//                     the session cookie is (re)set
//      no provider the client may use -> 400 error page.
//   4. tf_device=approve|deny: the decision is recorded in one write transaction (DecideDeviceCode); a code decided,
//      expired or gone meanwhile gets the neutral message. Otherwise the approval page (consent.h): the display name
//      (ClientName, else ClientId), every requested scope with its DisplayName (else Name), Description and whether
//      it is Required, the user code, the RFC 8628 §5.4 warning (approve only a code shown by a device you are
//      holding), and two submit buttons, Approve and Deny.
// A store failure is a 500 error page (logged). The request log's outcome: "device_form", "login_form",
// "invalid_credentials", "device_consent", "approved", "denied", "user_code_invalid", "user_code_throttled",
// "error_page".
//
// Thread-safety: as the Service.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/request.h"
#include "oauth/catalog.h"
#include "oauth/request_log.h"
#include "store/store.h"
#include "util/clock.h"

namespace tf::oauth {

inline constexpr int64_t kMaxUserCodeFailures = 5;
inline constexpr int64_t kUserCodeLockSeconds = 60;
inline constexpr int64_t kUserCodeFailureWindow = 900;   // a failure is forgotten this long after the first one
inline constexpr std::string_view kUserCodeNotUsable =
    "This code is not valid. It may have expired or been used already. Check the code shown on your device.";

// The store key of the throttle record of one address ("addr") or one session ("sid"): 32 raw bytes.
std::string UserCodeThrottleKey(std::string_view kind, std::string_view value);

// Counts one failed entry on a throttle record (a fresh one when `record` is expired): at kMaxUserCodeFailures the
// record is locked until now + kUserCodeLockSeconds and its count starts again. Pure; the caller stores it.
void RecordUserCodeFailure(store::Grant* record, bool exists, int64_t now);

http::Response HandleDevicePage(const http::Request& request, Catalog& catalog, const Config& config,
                                const Clock& clock, store::Store* store, RequestLog* log);

}  // namespace tf::oauth
