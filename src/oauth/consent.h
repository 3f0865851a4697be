// Consent: the page where a user lets a client have the scopes it asks for, shared by /connect/authorize (clients with
// RequireConsent, or prompt=consent) and the device verification page (device_page.h), and the remembered answers.
//
// The page (ConsentPage): the client's display name (ClientName, else ClientId), each scope with its DisplayName
// (else its Name), its Description and "(required)" when Required, an optional warning (the device page's RFC 8628
// §5.4 text), an optional "Remember my decision" checkbox (tf_remember=1; offered when the client's
// AllowRememberConsent), the hidden fields, and two submit buttons named by `decision_field` with the values
// "approve" and "deny". The look and the headers are html.h's (no script, no framing).
//
// Remembered consent (AllowRememberConsent): one grant per user and client,
//   key    ConsentKey(subject, client_id) = SHA-256("consent\0" subject "\0" client_id)
//   value  Grant{kind consent, client_id, subject, scopes (every scope the user allowed the client), created,
//                expires = created + ConsentLifetime (no ConsentLifetime: kConsentNoExpiry), family = RandomHandle(16)}
// so `tokenctl grants list --kind consent` shows them, `tokenctl grants revoke --subject S` (or --client, or the
// family) forgets them like any grant of the user, and `tokenctl gc` collects them once expired. RememberConsent
// replaces the record with the union of the old and new scopes. HasRememberedConsent is true when a live record
// covers every requested scope.
//
// Thread-safety: pure functions of their arguments plus the store or Txn they are given.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/request.h"
#include "oauth/snapshot.h"
#include "store/records.h"
#include "store/store.h"
#include "util/status.h"

namespace tf::oauth {

inline constexpr int64_t kConsentNoExpiry = 253402300799;  // 9999-12-31T23:59:59Z

struct ConsentScope {
  std::string name;
  std::string display_name;   // DisplayName, else the name
  std::string description;
  bool required = false;
};

// The scopes as the page shows them, in the given order (offline_access has a fixed text).
std::vector<ConsentScope> DescribeScopes(const Snapshot& snapshot, const std::vector<std::string>& scopes);

struct ConsentView {
  std::string action;              // absolute URL the form posts to
  std::string client_name;
  std::vector<ConsentScope> scopes;
  std::vector<std::pair<std::string, std::string>> hidden;
  std::string decision_field;      // the buttons' name
  bool offer_remember = false;
  std::string warning;             // "" = none
  std::string user_code;           // shown when not "" (the device page)
  std::string redirect_uri;        // where the answer redirects ("" = nowhere): its origin joins the CSP form-action
};

http::Response ConsentPage(const ConsentView& view);

std::string ConsentKey(std::string_view subject, std::string_view client_id);

Result<bool> HasRememberedConsent(store::Store& store, std::string_view subject, std::string_view client_id,
                                  const std::vector<std::string>& scopes, int64_t now);

Status RememberConsent(store::Txn& txn, const store::Client& client, std::string_view subject,
                       const std::vector<std::string>& scopes, int64_t now);

}  // namespace tf::oauth
