#include "admin/grants.h"

#include <algorithm>
#include <set>
#include <utility>

#include "util/base64.h"

namespace tf::admin {
namespace {

constexpr store::GrantKind kAllKinds[] = {store::GrantKind::kRefreshToken, store::GrantKind::kReferenceToken,
                                          store::GrantKind::kAuthorizationCode, store::GrantKind::kDeviceCode,
                                          store::GrantKind::kUserCode,          store::GrantKind::kUserCodeThrottle,
                                          store::GrantKind::kConsent};

// base64url of a 32-byte SHA-256: 43 characters.
constexpr size_t kFullIdLength = 43;

bool IsBase64UrlText(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string FullGrantId(std::string_view key, std::string_view family) {
  return Base64UrlEncode(store::IsChainKey(key, family) ? key.substr(store::kFamilyKeyPrefixSize) : key);
}

std::string GrantId(std::string_view key, std::string_view family) {
  return FullGrantId(key, family).substr(0, kGrantIdLength);
}

std::optional<store::GrantKind> ParseGrantKind(std::string_view name) {
  for (store::GrantKind k : kAllKinds) {
    if (store::GrantKindName(k) == name) return k;
  }
  return std::nullopt;
}

Result<std::vector<GrantEntry>> ListGrants(store::Store& store, const GrantFilter& filter) {
  std::vector<GrantEntry> entries;
  Status s = store.Read([&](store::Txn& txn) -> Status {
    entries.clear();
    auto grants = txn.ListGrants(filter.client_id, filter.subject);
    if (!grants.ok()) return grants.status();
    for (auto& [hash, grant] : *grants) {
      // The store filters already; checking again keeps this function's promise whatever the backend does.
      if (!filter.client_id.empty() && grant.client_id != filter.client_id) continue;
      if (!filter.subject.empty() && grant.subject != filter.subject) continue;
      if (filter.kind && grant.kind != *filter.kind) continue;
      entries.push_back(GrantEntry{GrantId(hash, grant.family), hash, std::move(grant)});
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  std::sort(entries.begin(), entries.end(), [](const GrantEntry& a, const GrantEntry& b) {
    if (a.grant.created != b.grant.created) return a.grant.created < b.grant.created;
    return a.handle_hash < b.handle_hash;
  });
  return entries;
}

Result<int64_t> RevocationKeepUntil(store::Txn& txn, int64_t now, int64_t clock_skew_seconds) {
  auto clients = txn.ListClients();
  if (!clients.ok()) return clients.status();
  return now + store::FamilyRevocationRetention(*clients, clock_skew_seconds);
}

Result<RevokeReport> RevokeGrants(store::Store& store, const RevokeSelector& selector, int64_t now,
                                  int64_t clock_skew_seconds, size_t batch) {
  if (batch == 0 || batch > kMaxGcBatch) {
    return Status::InvalidArgument("batch must be 1.." + std::to_string(kMaxGcBatch));
  }
  const int kinds = (selector.family.empty() ? 0 : 1) + (selector.id_prefix.empty() ? 0 : 1) +
                    ((selector.client_id.empty() && selector.subject.empty()) ? 0 : 1);
  if (kinds == 0) return Status::InvalidArgument("say what to revoke: a family, a grant id, a client or a subject");
  if (kinds > 1) {
    return Status::InvalidArgument("give one of: a family, a grant id, or a client and/or subject");
  }
  if (!selector.id_prefix.empty() &&
      (selector.id_prefix.size() > kFullIdLength || !IsBase64UrlText(selector.id_prefix))) {
    return Status::InvalidArgument("'" + selector.id_prefix +
                                   "' is not a grant id (up to 43 characters of A-Z a-z 0-9 - _)");
  }

  // Everything is decided in a read transaction (the selection may scan every grant), then each family is revoked
  // with Store::RevokeFamilyInBatches: its revocation record first, then its grants `batch` per write transaction,
  // so no worker waits on this command for more than one short batch.
  int64_t keep_until = now;
  std::set<std::string> families;  // to revoke
  std::set<std::string> revoked;   // of those, already revoked before (finished, not reported)
  Status s = store.Read([&](store::Txn& txn) -> Status {
    auto until = RevocationKeepUntil(txn, now, clock_skew_seconds);
    if (!until.ok()) return until.status();
    keep_until = *until;

    if (!selector.family.empty()) {
      auto count = txn.CountFamilyGrants(selector.family);
      if (!count.ok()) return count.status();
      auto was = txn.GetFamilyRevocation(selector.family);
      if (!was.ok()) return was.status();
      if (*count == 0 && !was->has_value()) return Status::NotFound("no grants in family " + selector.family);
      families.insert(selector.family);
    } else if (!selector.id_prefix.empty()) {
      auto grants = txn.ListGrants("", "");
      if (!grants.ok()) return grants.status();
      const std::pair<std::string, store::Grant>* match = nullptr;
      size_t matches = 0;
      for (const auto& entry : *grants) {
        if (FullGrantId(entry.first, entry.second.family).rfind(selector.id_prefix, 0) == 0) {
          ++matches;
          match = &entry;
        }
      }
      if (matches == 0) return Status::NotFound("no grant has an id starting with " + selector.id_prefix);
      if (matches > 1) {
        return Status::InvalidArgument("grant id " + selector.id_prefix + " matches " + std::to_string(matches) +
                                       " grants: give more characters (nothing was revoked)");
      }
      families.insert(match->second.family);
    } else {
      auto grants = txn.ListGrants(selector.client_id, selector.subject);
      if (!grants.ok()) return grants.status();
      for (const auto& [hash, grant] : *grants) {
        if (!selector.client_id.empty() && grant.client_id != selector.client_id) continue;
        if (!selector.subject.empty() && grant.subject != selector.subject) continue;
        families.insert(grant.family);
      }
    }
    families.erase("");  // a grant without a family (a client_credentials reference token) has none to revoke
    for (const std::string& family : families) {
      auto was = txn.GetFamilyRevocation(family);
      if (!was.ok()) return was.status();
      if (was->has_value()) revoked.insert(family);
    }
    return Status::OK();
  });
  if (!s.ok()) return s;

  RevokeReport report;
  for (const std::string& family : families) {
    auto deleted = store.RevokeFamilyInBatches(family, now, keep_until, batch);
    if (!deleted.ok()) return deleted.status();
    report.grants += *deleted;
    if (revoked.count(family) == 0) report.families.push_back(family);
  }
  return report;
}

Result<GcReport> CollectGarbage(store::Store& store, const Clock& clock, size_t batch) {
  if (batch == 0 || batch > kMaxGcBatch) {
    return Status::InvalidArgument("batch must be 1.." + std::to_string(kMaxGcBatch));
  }
  // One instant for the whole run: what expires while it runs is left for the next run, so the loop ends.
  const int64_t now = clock.NowSeconds();
  GcReport report;
  for (;;) {
    auto r = store.CollectExpired(now, batch);
    if (!r.ok()) return r.status();
    ++report.batches;
    report.grants += r->grants;
    report.revocations += r->revocations;
    // A batch that removed nothing cannot make progress, whatever `more` says.
    if (!r->more || r->grants + r->revocations == 0) break;
  }
  return report;
}

}  // namespace tf::admin
