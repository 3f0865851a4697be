#include "oauth/refresh_tokens.h"

#include <algorithm>

#include "oauth/errors.h"
#include "oauth/grant_family.h"
#include "oauth/request_log.h"
#include "util/crypto.h"
#include "util/log.h"

namespace tf::oauth {

void SetNewRefreshTokenExpiry(const store::Client& client, int64_t now, store::Grant* grant) {
  grant->created = now;
  grant->absolute_expires.reset();
  if (client.refresh_token_expiration == store::TokenExpiration::kAbsolute) {
    grant->expires = now + client.absolute_refresh_token_lifetime;
    return;
  }
  if (client.absolute_refresh_token_lifetime > 0) grant->absolute_expires = now + client.absolute_refresh_token_lifetime;
  grant->expires = SlidingRefreshTokenExpiry(client, *grant, now);
}

int64_t SlidingRefreshTokenExpiry(const store::Client& client, const store::Grant& grant, int64_t now) {
  const int64_t sliding = now + client.sliding_refresh_token_lifetime;
  return grant.absolute_expires.has_value() ? std::min(sliding, *grant.absolute_expires) : sliding;
}

NewGrant NewRefreshToken(const store::Client& client, store::Grant grant, int64_t now) {
  NewGrant g = NewHandle();
  g.grant = std::move(grant);
  g.grant.kind = store::GrantKind::kRefreshToken;
  g.grant.family = RandomHandle(16);
  g.grant.consumed_at.reset();
  g.grant.successor.clear();
  SetNewRefreshTokenExpiry(client, now, &g.grant);
  return g;
}

NewGrant NewRefreshTokenInFamily(const store::Client& client, store::Grant grant, std::string family, int64_t now) {
  NewGrant g = NewRefreshToken(client, std::move(grant), now);
  g.grant.family = std::move(family);
  return g;
}

store::Grant RefreshGrantFromResourceOwner(const Snapshot& snapshot, const store::Client& client,
                                           std::string_view subject, const std::vector<std::string>& granted,
                                           const ResourceOwner& owner) {
  store::Grant g;
  g.client_id = client.client_id;
  g.subject = std::string(subject);
  g.scopes = granted;
  g.auth_time = owner.auth_time;
  g.idp = owner.idp;
  g.amr = owner.amr;
  g.tenant = owner.tenant;
  g.acr = owner.acr;
  const std::vector<std::string> types = AccessTokenUserClaimTypes(snapshot, granted, AudienceResources(snapshot, granted));
  for (const store::ClaimValue& c : owner.claims) {
    if (std::find(types.begin(), types.end(), c.type) != types.end()) g.claims.push_back(c);
  }
  return g;
}

http::Response StoreNewGrantsAndRespond(store::Store& store, std::optional<NewGrant> refresh, IssuedAccessToken token,
                                        std::string_view what) {
  if (refresh.has_value() || token.reference.has_value()) {
    const Status st = store.Update([&](store::Txn& txn) -> Status {
      if (refresh.has_value()) TF_RETURN_IF_ERROR(txn.PutGrant(refresh->handle_hash, refresh->grant));
      if (token.reference.has_value()) {
        TF_RETURN_IF_ERROR(txn.PutGrant(token.reference->handle_hash, token.reference->grant));
      }
      return Status::OK();
    });
    if (!st.ok()) {
      return StoreFailureResponse(std::string(what) + ": storing the new grants", st,
                                  "the server cannot issue tokens at the moment");
    }
    if (refresh.has_value()) token.refresh_token = std::move(refresh->handle);
  }
  return AccessTokenResponse(token);
}

NewGrant SuccessorRefreshToken(const store::Client& client, const store::Grant& consumed, int64_t now) {
  NewGrant g = NewHandle();
  g.grant = consumed;
  g.grant.created = now;
  g.grant.consumed_at.reset();
  g.grant.successor.clear();
  // Absolute: the original expiry stays. Sliding: a new window from now, never past the cap the family started with.
  if (client.refresh_token_expiration == store::TokenExpiration::kSliding) {
    g.grant.expires = SlidingRefreshTokenExpiry(client, consumed, now);
  }
  return g;
}

bool ScopesWithin(const std::vector<std::string>& requested, const std::vector<std::string>& granted) {
  return std::all_of(requested.begin(), requested.end(), [&](const std::string& s) {
    return std::find(granted.begin(), granted.end(), s) != granted.end();
  });
}

Result<store::Grant> ReadRefreshToken(store::Txn& txn, std::string_view hash) {
  Result<store::Grant> grant = txn.GetGrant(hash);
  if (!grant.ok() || !grant->consumed_at.has_value() || grant->successor.empty()) return grant;
  Result<store::Grant> successor = txn.GetGrant(grant->successor);
  if (!successor.ok()) {
    if (successor.status().IsNotFound()) return grant;
    return successor.status();
  }
  if (successor->kind != store::GrantKind::kRefreshToken || successor->family != grant->family ||
      successor->consumed_at.has_value()) {
    return grant;
  }
  return store::RestoredFromSuccessor(*grant, *successor);
}

bool IsLiveRefreshTokenOf(const store::Grant& grant, std::string_view client_id, int64_t now) {
  return grant.kind == store::GrantKind::kRefreshToken && grant.client_id == client_id && now < grant.expires &&
         !grant.family.empty();
}

namespace {

using Outcome = RefreshRedemption::Outcome;

// The one allowed retry of a consumed token (see the header): within the grace period, with its successor unused.
Result<bool> IsAllowedRetry(store::Txn& txn, const store::Grant& consumed, int64_t now, int64_t grace) {
  if (grace <= 0 || !consumed.consumed_at.has_value() || now > *consumed.consumed_at + grace) return false;
  if (consumed.successor.empty()) return false;  // the retry was spent already
  Result<store::Grant> successor = txn.GetGrant(consumed.successor);
  if (!successor.ok()) {
    if (successor.status().IsNotFound()) return false;
    return successor.status();
  }
  return successor->kind == store::GrantKind::kRefreshToken && successor->family == consumed.family &&
         !successor->consumed_at.has_value();
}

}  // namespace

Result<RefreshRedemption> RedeemRefreshToken(store::Txn& txn, const RefreshRedeemRequest& request) {
  const store::Client& client = *request.client;
  const std::string hash = Sha256(request.handle);
  RefreshRedemption out;

  // 1. The grant itself.
  Result<store::Grant> found = ReadRefreshToken(txn, hash);
  if (!found.ok()) {
    if (found.status().IsNotFound()) return out;
    return found.status();
  }
  store::Grant& grant = *found;
  if (!IsLiveRefreshTokenOf(grant, client.client_id, request.now)) return out;
  out.family = grant.family;

  // 2. Reuse of a consumed token, or the one retry the grace period allows.
  bool retry = false;
  if (grant.consumed_at.has_value()) {
    Result<bool> allowed = IsAllowedRetry(txn, grant, request.now, request.reuse_grace_seconds);
    if (!allowed.ok()) return allowed.status();
    if (!*allowed) {
      TF_RETURN_IF_ERROR(RevokeGrantFamily(txn, *request.snapshot, grant.family, request.now));
      Logf(LogLevel::kWarn, "refresh token reuse by client %s: its grant family %s is revoked",
           SanitizeForLog(client.client_id).c_str(), grant.family.c_str());
      out.outcome = Outcome::kReuseDetected;
      return out;
    }
    retry = true;
  }

  // 3. The user must still exist and be active.
  Result<store::User> user = txn.GetUser(grant.subject);
  if (!user.ok()) {
    if (user.status().IsNotFound()) return out;
    return user.status();
  }
  if (!user->is_active) return out;

  // 4. Narrowing only.
  if (!ScopesWithin(request.scopes, grant.scopes)) {
    out.outcome = Outcome::kScopeExceeded;
    return out;
  }

  // 5. Rotate, or reuse the handle.
  if (client.refresh_token_usage == store::RefreshTokenUsage::kReUse && !grant.consumed_at.has_value()) {
    if (client.refresh_token_expiration == store::TokenExpiration::kSliding) {
      grant.expires = SlidingRefreshTokenExpiry(client, grant, request.now);
      TF_RETURN_IF_ERROR(txn.PutGrant(hash, grant));
    }
    out.refresh_token = std::string(request.handle);
  } else {
    if (retry) {
      const Status removed = txn.RemoveGrant(grant.successor);
      if (!removed.ok() && !removed.IsNotFound()) return removed;
    }
    NewGrant successor = SuccessorRefreshToken(client, grant, request.now);
    if (retry) {
      grant.successor.clear();  // the retry is spent
    } else {
      grant.consumed_at = request.now;
      grant.successor = successor.handle_hash;
    }
    TF_RETURN_IF_ERROR(txn.PutGrant(hash, grant));
    TF_RETURN_IF_ERROR(txn.PutGrant(successor.handle_hash, successor.grant));
    out.refresh_token = std::move(successor.handle);
  }
  if (request.reference != nullptr) {
    TF_RETURN_IF_ERROR(txn.PutGrant(request.reference->handle_hash, request.reference->grant));
  }
  out.outcome = Outcome::kIssued;
  out.retry = retry;
  return out;
}

}  // namespace tf::oauth
