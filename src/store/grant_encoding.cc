#include "store/grant_encoding.h"

#include <cjson/cJSON.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace tf::store {
namespace {

constexpr uint64_t kMaxUint = (uint64_t{1} << 53) - 1;
constexpr int kKindCount = static_cast<int>(GrantKind::kConsent) + 1;

enum Tag : uint8_t {
  kKind = 1, kClientId, kSubject, kScopes, kCreated, kExpires, kAbsoluteExpires, kFamily, kConsumedAt, kSuccessor,
  kAuthTime, kIdp, kAmr, kTenant, kAcr, kSessionId, kClaims, kAccessTokenJson, kRedirectUri, kNonce, kCodeChallenge,
  kCodeChallengeMethod, kDeviceCodeHash, kDecision, kInterval, kLastPoll, kFailures, kLockedUntil, kGeneration,
  kPredecessor,
};

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void Uint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void Bytes(std::string_view s) {
    Uint(s.size());
    out_->append(s);
  }

  // Fields, each left out at its default.
  void UintField(Tag tag, int64_t v) {
    if (v == 0) return;
    out_->push_back(static_cast<char>(tag));
    Uint(static_cast<uint64_t>(v));
  }
  void TimeField(Tag tag, const std::optional<int64_t>& v) {
    if (!v.has_value()) return;
    out_->push_back(static_cast<char>(tag));
    Uint(static_cast<uint64_t>(*v));
  }
  void BytesField(Tag tag, std::string_view s) {
    if (s.empty()) return;
    out_->push_back(static_cast<char>(tag));
    Bytes(s);
  }
  void ListField(Tag tag, const std::vector<std::string>& list) {
    if (list.empty()) return;
    out_->push_back(static_cast<char>(tag));
    Uint(list.size());
    for (const std::string& s : list) Bytes(s);
  }
  void ClaimsField(Tag tag, const std::vector<ClaimValue>& claims) {
    if (claims.empty()) return;
    out_->push_back(static_cast<char>(tag));
    Uint(claims.size());
    for (const ClaimValue& c : claims) {
      Bytes(c.type);
      Bytes(c.value);
      Bytes(c.value_type);
    }
  }

 private:
  std::string* out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool done() const { return pos_ == in_.size(); }
  size_t left() const { return in_.size() - pos_; }

  Status Byte(uint8_t* out) {
    if (done()) return Truncated();
    *out = static_cast<uint8_t>(in_[pos_++]);
    return Status::OK();
  }
  Status Uint(uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 63; shift += 7) {
      uint8_t b = 0;
      TF_RETURN_IF_ERROR(Byte(&b));
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) return Bad("an integer is not in its shortest form");
        if (v > kMaxUint) return Bad("an integer is larger than 2^53 - 1");
        *out = v;
        return Status::OK();
      }
    }
    return Bad("an integer is larger than 2^53 - 1");
  }
  Status Int(int64_t* out) {
    uint64_t v = 0;
    TF_RETURN_IF_ERROR(Uint(&v));
    *out = static_cast<int64_t>(v);
    return Status::OK();
  }
  Status Time(std::optional<int64_t>* out) {
    int64_t v = 0;
    TF_RETURN_IF_ERROR(Int(&v));
    *out = v;
    return Status::OK();
  }
  Status Bytes(std::string* out) {
    uint64_t n = 0;
    TF_RETURN_IF_ERROR(Uint(&n));
    if (n > left()) return Truncated();
    out->assign(in_.substr(pos_, n));
    pos_ += n;
    return Status::OK();
  }
  // A count of items that take at least `min_item` bytes each: never more than the bytes left can hold.
  Status Count(size_t min_item, uint64_t* out) {
    TF_RETURN_IF_ERROR(Uint(out));
    if (*out > left() / min_item) return Truncated();
    return Status::OK();
  }
  Status List(std::vector<std::string>* out) {
    uint64_t n = 0;
    TF_RETURN_IF_ERROR(Count(1, &n));
    out->resize(n);
    for (std::string& s : *out) TF_RETURN_IF_ERROR(Bytes(&s));
    return Status::OK();
  }
  Status Claims(std::vector<ClaimValue>* out) {
    uint64_t n = 0;
    TF_RETURN_IF_ERROR(Count(3, &n));
    out->resize(n);
    for (ClaimValue& c : *out) {
      TF_RETURN_IF_ERROR(Bytes(&c.type));
      TF_RETURN_IF_ERROR(Bytes(&c.value));
      TF_RETURN_IF_ERROR(Bytes(&c.value_type));
    }
    return Status::OK();
  }

  static Status Bad(std::string_view what) { return Status::InvalidArgument("grant record: " + std::string(what)); }
  static Status Truncated() { return Bad("truncated"); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

Status ReadField(Reader& r, uint8_t tag, Grant* g) {
  switch (tag) {
    case kKind: {
      uint64_t kind = 0;
      TF_RETURN_IF_ERROR(r.Uint(&kind));
      if (kind >= static_cast<uint64_t>(kKindCount)) return Reader::Bad("unknown grant kind");
      g->kind = static_cast<GrantKind>(kind);
      return Status::OK();
    }
    case kClientId: return r.Bytes(&g->client_id);
    case kSubject: return r.Bytes(&g->subject);
    case kScopes: return r.List(&g->scopes);
    case kCreated: return r.Int(&g->created);
    case kExpires: return r.Int(&g->expires);
    case kAbsoluteExpires: return r.Time(&g->absolute_expires);
    case kFamily: return r.Bytes(&g->family);
    case kConsumedAt: return r.Time(&g->consumed_at);
    case kSuccessor: return r.Bytes(&g->successor);
    case kAuthTime: return r.Time(&g->auth_time);
    case kIdp: return r.Bytes(&g->idp);
    case kAmr: return r.List(&g->amr);
    case kTenant: return r.Bytes(&g->tenant);
    case kAcr: return r.Bytes(&g->acr);
    case kSessionId: return r.Bytes(&g->session_id);
    case kClaims: return r.Claims(&g->claims);
    case kAccessTokenJson: return r.Bytes(&g->access_token_json);
    case kRedirectUri: return r.Bytes(&g->redirect_uri);
    case kNonce: return r.Bytes(&g->nonce);
    case kCodeChallenge: return r.Bytes(&g->code_challenge);
    case kCodeChallengeMethod: return r.Bytes(&g->code_challenge_method);
    case kDeviceCodeHash: return r.Bytes(&g->device_code_hash);
    case kDecision: return r.Bytes(&g->decision);
    case kInterval: return r.Int(&g->interval);
    case kLastPoll: return r.Time(&g->last_poll);
    case kFailures: return r.Int(&g->failures);
    case kLockedUntil: return r.Time(&g->locked_until);
    case kGeneration: return r.Int(&g->generation);
    case kPredecessor: return r.Bytes(&g->predecessor);
    default: return Reader::Bad("unknown field " + std::to_string(tag) + " (a record of a newer build?)");
  }
}

Result<Grant> DecodeBinary(std::string_view stored) {
  Reader r(stored.substr(1));
  Grant g;
  uint8_t last = 0;
  int required = 0;  // kind, created and expires are always written: without one, the record was cut
  while (!r.done()) {
    uint8_t tag = 0;
    TF_RETURN_IF_ERROR(r.Byte(&tag));
    if (tag <= last) return Reader::Bad("fields out of order or repeated");
    TF_RETURN_IF_ERROR(ReadField(r, tag, &g));
    if (tag == kKind || tag == kCreated || tag == kExpires) ++required;
    last = tag;
  }
  if (required != 3) return Reader::Bad("kind, created or expires is missing");
  TF_RETURN_IF_ERROR(ValidateGrant(g));
  return g;
}

struct CJsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};

}  // namespace

std::string EncodeGrant(const Grant& g) {
  std::string out;
  out.reserve(256);
  out.push_back(kGrantRecordVersion);
  Writer w(&out);
  out.push_back(static_cast<char>(kKind));
  w.Uint(static_cast<uint64_t>(g.kind));
  w.BytesField(kClientId, g.client_id);
  w.BytesField(kSubject, g.subject);
  w.ListField(kScopes, g.scopes);
  out.push_back(static_cast<char>(kCreated));
  w.Uint(static_cast<uint64_t>(g.created));
  out.push_back(static_cast<char>(kExpires));
  w.Uint(static_cast<uint64_t>(g.expires));
  w.TimeField(kAbsoluteExpires, g.absolute_expires);
  w.BytesField(kFamily, g.family);
  w.TimeField(kConsumedAt, g.consumed_at);
  w.BytesField(kSuccessor, g.successor);
  w.TimeField(kAuthTime, g.auth_time);
  w.BytesField(kIdp, g.idp);
  w.ListField(kAmr, g.amr);
  w.BytesField(kTenant, g.tenant);
  w.BytesField(kAcr, g.acr);
  w.BytesField(kSessionId, g.session_id);
  w.ClaimsField(kClaims, g.claims);
  w.BytesField(kAccessTokenJson, g.access_token_json);
  w.BytesField(kRedirectUri, g.redirect_uri);
  w.BytesField(kNonce, g.nonce);
  w.BytesField(kCodeChallenge, g.code_challenge);
  w.BytesField(kCodeChallengeMethod, g.code_challenge_method);
  w.BytesField(kDeviceCodeHash, g.device_code_hash);
  w.BytesField(kDecision, g.decision);
  w.UintField(kInterval, g.interval);
  w.TimeField(kLastPoll, g.last_poll);
  w.UintField(kFailures, g.failures);
  w.TimeField(kLockedUntil, g.locked_until);
  w.UintField(kGeneration, g.generation);
  w.BytesField(kPredecessor, g.predecessor);
  return out;
}

Result<Grant> DecodeGrant(std::string_view stored) {
  if (stored.empty()) return Reader::Bad("empty");
  if (stored[0] == kGrantRecordVersion) return DecodeBinary(stored);
  if (stored[0] != '{') return Reader::Bad("unknown record format");
  const std::unique_ptr<cJSON, CJsonDeleter> json(cJSON_ParseWithLength(stored.data(), stored.size()));
  if (json == nullptr) return Reader::Bad("stored record is not JSON");
  return GrantFromJson(json.get(), "");
}

}  // namespace tf::store
