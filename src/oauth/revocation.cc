#include "oauth/revocation.h"

#include "oauth/answer_after_write.h"
#include "oauth/client_authentication.h"
#include "oauth/errors.h"
#include "oauth/form_post.h"
#include "oauth/grant_family.h"
#include "oauth/refresh_tokens.h"
#include "oauth/request_log.h"
#include "util/log.h"

namespace tf::oauth {
namespace {

// What step 6 did, for the debug log only (never the token).
enum class Outcome { kUnknown, kFamilyRevoked, kReferenceTokenRemoved, kOtherClient, kNotRevocable };

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kUnknown: return "unknown token";
    case Outcome::kFamilyRevoked: return "refresh token family revoked";
    case Outcome::kReferenceTokenRemoved: return "reference access token removed";
    case Outcome::kOtherClient: return "token of another client left alone";
    case Outcome::kNotRevocable: return "grant kind not revocable here";
  }
  return "?";
}

// Step 6 inside one write transaction; with `dry_run` (in a read transaction) it only says what it would do.
Status Revoke(store::Txn& txn, const Snapshot& snapshot, std::string_view client_id, const RefreshTokenLocation& where,
              int64_t now, bool dry_run, Outcome* outcome) {
  // Any grant under Sha256(token), or a refresh token under its chain key; a rotated refresh token leaves no record
  // of its own, but its handle still names its family (refresh_tokens.h).
  Result<store::Grant> grant = ReadRefreshToken(txn, where);
  if (!grant.ok()) {
    if (grant.status().IsNotFound()) {
      *outcome = Outcome::kUnknown;
      return Status::OK();
    }
    return grant.status();
  }
  if (grant->client_id != client_id) {
    *outcome = Outcome::kOtherClient;
    return Status::OK();
  }
  switch (grant->kind) {
    case store::GrantKind::kRefreshToken:
      *outcome = Outcome::kFamilyRevoked;
      return dry_run ? Status::OK() : RevokeGrantFamily(txn, snapshot, grant->family, now);
    case store::GrantKind::kReferenceToken:
      *outcome = Outcome::kReferenceTokenRemoved;
      return dry_run ? Status::OK() : txn.RemoveGrant(where.hash);
    case store::GrantKind::kAuthorizationCode:
    case store::GrantKind::kDeviceCode:
    case store::GrantKind::kUserCode:
    case store::GrantKind::kUserCodeThrottle:
    case store::GrantKind::kConsent:
      break;
  }
  *outcome = Outcome::kNotRevocable;
  return Status::OK();
}

}  // namespace

http::Response HandleRevocationRequest(const http::Request& request, Catalog& catalog, const Config& config,
                                       const Clock& clock, store::Store* store, RequestLog* log) {
  FormPost post = ReadFormPost(request, catalog, config);
  if (!post.form.has_value()) return std::move(post.error);
  const Form& form = *post.form;
  const Snapshot& snapshot = *post.snapshot;
  const int64_t now = clock.NowSeconds();

  ClientAuthentication auth = AuthenticateClient(request, form, snapshot, config, now);
  log->client_id = SanitizeForLog(auth.claimed_client_id);
  if (auth.client == nullptr) return std::move(auth.error);

  const std::string_view token = form.Get("token");
  if (token.empty()) return OAuthError(400, kInvalidRequest, "token is missing");
  // token_type_hint is deliberately not read: see revocation.h, step 5.

  // The write below runs on the thread that commits it (answer_after_write.h): it owns what it uses. The snapshot
  // owns the client.
  struct Revocation {
    std::shared_ptr<const Snapshot> snapshot;
    const store::Client* client;
    RefreshTokenLocation where;
    int64_t now;
    Outcome outcome = Outcome::kUnknown;
  };
  auto rev = std::make_shared<Revocation>(
      Revocation{post.snapshot, auth.client, LocateRefreshToken(token, RefreshHandleKey(snapshot.session_key)), now});
  // A read first, so unknown tokens and tokens of other clients never take LMDB's one writer lock; the write
  // transaction then looks again, as the grant may have changed in between.
  const auto revoke = [rev](store::Txn& txn, bool dry_run) {
    return Revoke(txn, *rev->snapshot, rev->client->client_id, rev->where, rev->now, dry_run, &rev->outcome);
  };
  const auto answer = [rev, client_id = log->client_id](const Status& st) {
    if (!st.ok()) return StoreFailureResponse("revocation", st, "the server cannot revoke tokens at the moment");
    Logf(LogLevel::kDebug, "revocation by %s: %s", client_id.c_str(), OutcomeName(rev->outcome));
    http::Response r;
    r.status = 200;
    r.SetHeader("Cache-Control", "no-store");
    r.SetHeader("Pragma", "no-cache");
    return r;
  };
  const Status st = store->Read([&](store::Txn& txn) { return revoke(txn, /*dry_run=*/true); });
  if (!st.ok() || (rev->outcome != Outcome::kFamilyRevoked && rev->outcome != Outcome::kReferenceTokenRemoved)) {
    return answer(st);
  }
  return AnswerAfterWrite(store, [revoke](store::Txn& txn) { return revoke(txn, /*dry_run=*/false); }, answer);
}

}  // namespace tf::oauth
