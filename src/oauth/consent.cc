#include "oauth/consent.h"

#include <algorithm>

#include "oauth/html.h"
#include "oauth/scopes.h"
#include "util/crypto.h"

namespace tf::oauth {
namespace {

constexpr std::string_view kKeyLabel{"consent\0", 8};

}  // namespace

std::vector<ConsentScope> DescribeScopes(const Snapshot& snapshot, const std::vector<std::string>& scopes) {
  std::vector<ConsentScope> out;
  for (const std::string& scope : scopes) {
    ConsentScope c;
    c.name = scope;
    c.display_name = scope;
    if (auto it = snapshot.identity_resources.find(scope); it != snapshot.identity_resources.end()) {
      if (!it->second.display_name.empty()) c.display_name = it->second.display_name;
      c.description = it->second.description;
      c.required = it->second.required;
    } else if (auto s = snapshot.api_scopes.find(scope); s != snapshot.api_scopes.end()) {
      if (!s->second.display_name.empty()) c.display_name = s->second.display_name;
      c.description = s->second.description;
      c.required = s->second.required;
    } else if (scope == kOfflineAccess) {
      c.display_name = "Offline access";
      c.description = "Stay connected while you are away, until you revoke it";
    }
    out.push_back(std::move(c));
  }
  return out;
}

http::Response ConsentPage(const ConsentView& v) {
  const std::string heading = v.client_name + " wants to access your account";
  std::string m = "<h1>" + HtmlEscape(heading) + "</h1>\n";
  if (!v.warning.empty()) {
    m += "<p id=\"warning\" role=\"note\" style=\"background:#fef7e0;padding:.6rem;border-radius:4px\"><strong>";
    m += HtmlEscape(v.warning);
    m += "</strong></p>\n";
  }
  if (!v.user_code.empty()) m += "<p>Code: <strong>" + HtmlEscape(v.user_code) + "</strong></p>\n";
  m += "<p id=\"scopes-heading\">It asks for:</p>\n<ul aria-labelledby=\"scopes-heading\">\n";
  for (const ConsentScope& s : v.scopes) {
    m += "<li><strong>" + HtmlEscape(s.display_name) + "</strong>";
    if (s.required) m += " (required)";
    if (!s.description.empty()) m += ": " + HtmlEscape(s.description);
    m += "</li>\n";
  }
  m += "</ul>\n<form method=\"post\" action=\"" + HtmlEscape(v.action) + "\"";
  if (!v.warning.empty()) m += " aria-describedby=\"warning\"";
  m += ">\n";
  for (const auto& [name, value] : v.hidden) {
    m += "<input type=\"hidden\" name=\"" + HtmlEscape(name) + "\" value=\"" + HtmlEscape(value) + "\">\n";
  }
  if (v.offer_remember) {
    m += "<p><input id=\"tf_remember\" name=\"tf_remember\" type=\"checkbox\" value=\"1\" "
         "style=\"width:auto\"> <label for=\"tf_remember\" style=\"display:inline\">Remember my decision</label>"
         "</p>\n";
  }
  const std::string field = HtmlEscape(v.decision_field);
  m += "<button type=\"submit\" name=\"" + field + "\" value=\"approve\" autofocus>Approve</button>\n";
  m += "<button type=\"submit\" name=\"" + field + "\" value=\"deny\" style=\"background:#5f6368\">Deny</button>\n";
  m += "</form>\n";
  return HtmlPage(200, "Approve access", m, v.action, v.redirect_uri);
}

std::string ConsentKey(std::string_view subject, std::string_view client_id) {
  std::string data(kKeyLabel);
  data += subject;
  data += '\0';
  data += client_id;
  return Sha256(data);
}

Result<bool> HasRememberedConsent(store::Store& store, std::string_view subject, std::string_view client_id,
                                  const std::vector<std::string>& scopes, int64_t now) {
  bool covered = false;
  const Status st = store.Read([&](store::Txn& txn) -> Status {
    Result<store::Grant> g = txn.GetGrant(ConsentKey(subject, client_id));
    if (!g.ok()) return g.status().IsNotFound() ? Status::OK() : g.status();
    if (g->kind != store::GrantKind::kConsent || g->subject != subject || g->client_id != client_id ||
        now >= g->expires) {
      return Status::OK();
    }
    covered = std::all_of(scopes.begin(), scopes.end(), [&](const std::string& s) {
      return std::find(g->scopes.begin(), g->scopes.end(), s) != g->scopes.end();
    });
    return Status::OK();
  });
  if (!st.ok()) return st;
  return covered;
}

Status RememberConsent(store::Txn& txn, const store::Client& client, std::string_view subject,
                       const std::vector<std::string>& scopes, int64_t now) {
  const std::string key = ConsentKey(subject, client.client_id);
  store::Grant g;
  Result<store::Grant> old = txn.GetGrant(key);
  if (!old.ok() && !old.status().IsNotFound()) return old.status();
  if (old.ok() && old->kind == store::GrantKind::kConsent && now < old->expires) {
    g = std::move(old).value();
  } else {
    g.kind = store::GrantKind::kConsent;
    g.client_id = client.client_id;
    g.subject = std::string(subject);
    g.family = RandomHandle(16);
  }
  for (const std::string& s : scopes) {
    if (std::find(g.scopes.begin(), g.scopes.end(), s) == g.scopes.end()) g.scopes.push_back(s);
  }
  g.created = now;
  g.expires = client.consent_lifetime.has_value() ? now + std::max<int64_t>(1, *client.consent_lifetime)
                                                  : kConsentNoExpiry;
  return txn.PutGrant(key, g);
}

}  // namespace tf::oauth
