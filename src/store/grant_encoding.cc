#include "store/grant_encoding.h"

#include <cjson/cJSON.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "util/base64.h"

namespace tf::store {
namespace {

constexpr uint64_t kMaxUint = (uint64_t{1} << 53) - 1;
constexpr char kGrantRecordVersion1 = 0x01;
constexpr int kKindCount = static_cast<int>(GrantKind::kConsent) + 1;

// Version 1: tagged fields.
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
  Status Uint(uint64_t* out) { return Leb128(kMaxUint, "an integer is larger than 2^53 - 1", out); }
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
  Status Fixed(size_t n, std::string* out) {
    if (n > left()) return Truncated();
    out->assign(in_.substr(pos_, n));
    pos_ += n;
    return Status::OK();
  }
  // A LEB128 integer of up to 2^54 - 1 (a zigzag difference of two times), shortest form.
  Status Wide(uint64_t* out) { return Leb128(2 * kMaxUint + 1, "a time is out of range", out); }
  // A LEB128 integer of at most `max`, in its shortest form; `too_large` says what a larger one is.
  Status Leb128(uint64_t max, const char* too_large, uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 63; shift += 7) {
      uint8_t b = 0;
      TF_RETURN_IF_ERROR(Byte(&b));
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        if (b == 0 && shift > 0) return Bad("an integer is not in its shortest form");
        if (v > max) return Bad(too_large);
        *out = v;
        return Status::OK();
      }
    }
    return Bad(too_large);
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

// A version 1 record, as builds before version 2 wrote it.
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

// ---- Version 2 ----

// Strings that every deployment stores over and over, written as their index: one byte. Append-only: an index never
// changes meaning, and a build refuses an index it does not know (a record of a newer build).
constexpr std::array<std::string_view, 31> kAtoms = {
    "",         "openid",  "profile",  "email",          "address",        "phone",              "offline_access",
    "pwd",      "mfa",     "otp",      "hwk",            "swk",            "sms",                "external",
    "local",    "sub",     "name",     "given_name",     "family_name",    "email_verified",     "preferred_username",
    "role",     "string",  "boolean",  "integer",        "double",         "json",               "S256",
    "plain",    "approved", "denied",
};
// A string's first integer: an atom index below kAtomSpace, else kAtomSpace + the length of the bytes that follow.
constexpr uint64_t kAtomSpace = 48;

// The members other than kind, created and expires, in the order of their bits in the record's field set (the ones a
// refresh token has first, so its set takes two bytes) and of their values after it.
enum Bit : unsigned {
  kBClientId, kBSubject, kBScopes, kBFamily, kBAuthTime, kBIdp, kBAmr, kBClaims, kBGeneration, kBPredecessor,
  kBAbsoluteExpires, kBTenant, kBAcr, kBSessionId, kBConsumedAt, kBSuccessor, kBAccessTokenJson, kBRedirectUri,
  kBNonce, kBCodeChallenge, kBCodeChallengeMethod, kBDeviceCodeHash, kBDecision, kBInterval, kBLastPoll, kBFailures,
  kBLockedUntil, kBHandleCheck, kBitCount,
};

constexpr size_t kHashSize = 32;
constexpr size_t kRawFamilySize = 16;

// The 16 bytes a family id of the form RandomHandle(16) makes (base64url, 22 characters) stands for; nullopt for any
// other family id (including a non-canonical spelling of the same bytes, which must read back as it was written).
std::optional<std::string> RawFamily(std::string_view family) {
  if (family.size() != 22) return std::nullopt;
  std::optional<std::string> raw = Base64UrlDecode(family);
  if (!raw.has_value() || raw->size() != kRawFamilySize || Base64UrlEncode(*raw) != family) return std::nullopt;
  return raw;
}

uint64_t ZigZag(int64_t d) {
  return d >= 0 ? static_cast<uint64_t>(d) << 1 : ((static_cast<uint64_t>(-(d + 1))) << 1) | 1;
}
int64_t UnZigZag(uint64_t z) {
  return (z & 1) != 0 ? -static_cast<int64_t>(z >> 1) - 1 : static_cast<int64_t>(z >> 1);
}

class V2Writer {
 public:
  V2Writer(std::string* out, int64_t created) : w_(out), out_(out), created_(created) {}

  void String(std::string_view s) {
    for (size_t i = 0; i < kAtoms.size(); ++i) {
      if (kAtoms[i] == s) {
        w_.Uint(i);
        return;
      }
    }
    w_.Uint(kAtomSpace + s.size());
    out_->append(s);
  }
  void List(const std::vector<std::string>& list) {
    w_.Uint(list.size());
    for (const std::string& s : list) String(s);
  }
  void Claims(const std::vector<ClaimValue>& claims) {
    w_.Uint(claims.size());
    for (const ClaimValue& c : claims) {
      String(c.type);
      String(c.value);
      String(c.value_type);
    }
  }
  void Family(std::string_view family) {
    if (std::optional<std::string> raw = RawFamily(family)) {
      w_.Uint(0);  // the empty string, which no family is: 16 raw bytes follow
      out_->append(*raw);
      return;
    }
    String(family);
  }
  void Time(int64_t t) { w_.Uint(ZigZag(t - created_)); }
  void Uint(uint64_t v) { w_.Uint(v); }
  void Raw(std::string_view s) { out_->append(s); }

 private:
  Writer w_;
  std::string* out_;
  int64_t created_;
};

class V2Reader {
 public:
  explicit V2Reader(std::string_view in) : r_(in) {}
  Reader& base() { return r_; }
  void set_created(int64_t created) { created_ = created; }

  Status String(std::string* out) {
    uint64_t v = 0;
    TF_RETURN_IF_ERROR(r_.Uint(&v));
    if (v < kAtomSpace) {
      if (v >= kAtoms.size()) return Reader::Bad("unknown atom " + std::to_string(v) + " (a record of a newer build?)");
      out->assign(kAtoms[v]);
      return Status::OK();
    }
    return r_.Fixed(v - kAtomSpace, out);
  }
  Status List(std::vector<std::string>* out) {
    uint64_t n = 0;
    TF_RETURN_IF_ERROR(r_.Count(1, &n));
    out->resize(n);
    for (std::string& s : *out) TF_RETURN_IF_ERROR(String(&s));
    return Status::OK();
  }
  Status Claims(std::vector<ClaimValue>* out) {
    uint64_t n = 0;
    TF_RETURN_IF_ERROR(r_.Count(3, &n));
    out->resize(n);
    for (ClaimValue& c : *out) {
      TF_RETURN_IF_ERROR(String(&c.type));
      TF_RETURN_IF_ERROR(String(&c.value));
      TF_RETURN_IF_ERROR(String(&c.value_type));
    }
    return Status::OK();
  }
  Status Family(std::string* out) {
    TF_RETURN_IF_ERROR(String(out));
    if (!out->empty()) return Status::OK();
    std::string raw;
    TF_RETURN_IF_ERROR(r_.Fixed(kRawFamilySize, &raw));
    *out = Base64UrlEncode(raw);
    return Status::OK();
  }
  Status Time(int64_t* out) {
    uint64_t z = 0;
    TF_RETURN_IF_ERROR(r_.Wide(&z));
    *out = created_ + UnZigZag(z);  // |difference| <= 2^53, created < 2^53: no overflow; ValidateGrant checks range
    return Status::OK();
  }
  Status Time(std::optional<int64_t>* out) {
    int64_t t = 0;
    TF_RETURN_IF_ERROR(Time(&t));
    *out = t;
    return Status::OK();
  }
  Status Hash(std::string* out) { return r_.Fixed(kHashSize, out); }

 private:
  Reader r_;
  int64_t created_ = 0;
};

// Whether each member is written: not at its default, as in version 1.
uint64_t FieldSet(const Grant& g) {
  const bool present[kBitCount] = {
      !g.client_id.empty(),        !g.subject.empty(),       !g.scopes.empty(),
      !g.family.empty(),           g.auth_time.has_value(),  !g.idp.empty(),
      !g.amr.empty(),              !g.claims.empty(),        g.generation != 0,
      !g.predecessor.empty(),      g.absolute_expires.has_value(), !g.tenant.empty(),
      !g.acr.empty(),              !g.session_id.empty(),    g.consumed_at.has_value(),
      !g.successor.empty(),        !g.access_token_json.empty(), !g.redirect_uri.empty(),
      !g.nonce.empty(),            !g.code_challenge.empty(), !g.code_challenge_method.empty(),
      !g.device_code_hash.empty(), !g.decision.empty(),     g.interval != 0,
      g.last_poll.has_value(),     g.failures != 0,          g.locked_until.has_value(),
      !g.handle_check.empty(),
  };
  uint64_t set = 0;
  for (unsigned b = 0; b < kBitCount; ++b) {
    if (present[b]) set |= uint64_t{1} << b;
  }
  return set;
}

std::string EncodeV2(const Grant& g) {
  std::string out;
  out.reserve(160);
  out.push_back(kGrantRecordVersion);
  out.push_back(static_cast<char>(g.kind));
  V2Writer w(&out, g.created);
  const uint64_t set = FieldSet(g);
  w.Uint(set);
  w.Uint(static_cast<uint64_t>(g.created));
  w.Time(g.expires);
  for (unsigned b = 0; b < kBitCount; ++b) {
    if ((set & (uint64_t{1} << b)) == 0) continue;
    switch (static_cast<Bit>(b)) {
      case kBClientId: w.String(g.client_id); break;
      case kBSubject: w.String(g.subject); break;
      case kBScopes: w.List(g.scopes); break;
      case kBFamily: w.Family(g.family); break;
      case kBAuthTime: w.Time(*g.auth_time); break;
      case kBIdp: w.String(g.idp); break;
      case kBAmr: w.List(g.amr); break;
      case kBClaims: w.Claims(g.claims); break;
      case kBGeneration: w.Uint(static_cast<uint64_t>(g.generation)); break;
      case kBPredecessor: w.Raw(g.predecessor); break;
      case kBAbsoluteExpires: w.Time(*g.absolute_expires); break;
      case kBTenant: w.String(g.tenant); break;
      case kBAcr: w.String(g.acr); break;
      case kBSessionId: w.String(g.session_id); break;
      case kBConsumedAt: w.Time(*g.consumed_at); break;
      case kBSuccessor: w.Raw(g.successor); break;
      case kBAccessTokenJson: w.String(g.access_token_json); break;
      case kBRedirectUri: w.String(g.redirect_uri); break;
      case kBNonce: w.String(g.nonce); break;
      case kBCodeChallenge: w.String(g.code_challenge); break;
      case kBCodeChallengeMethod: w.String(g.code_challenge_method); break;
      case kBDeviceCodeHash: w.Raw(g.device_code_hash); break;
      case kBDecision: w.String(g.decision); break;
      case kBInterval: w.Uint(static_cast<uint64_t>(g.interval)); break;
      case kBLastPoll: w.Time(*g.last_poll); break;
      case kBFailures: w.Uint(static_cast<uint64_t>(g.failures)); break;
      case kBLockedUntil: w.Time(*g.locked_until); break;
      case kBHandleCheck: w.Raw(g.handle_check); break;
      case kBitCount: break;
    }
  }
  return out;
}

Status ReadV2Field(V2Reader& r, Bit bit, Grant* g) {
  switch (bit) {
    case kBClientId: return r.String(&g->client_id);
    case kBSubject: return r.String(&g->subject);
    case kBScopes: return r.List(&g->scopes);
    case kBFamily: return r.Family(&g->family);
    case kBAuthTime: return r.Time(&g->auth_time);
    case kBIdp: return r.String(&g->idp);
    case kBAmr: return r.List(&g->amr);
    case kBClaims: return r.Claims(&g->claims);
    case kBGeneration: return r.base().Int(&g->generation);
    case kBPredecessor: return r.Hash(&g->predecessor);
    case kBAbsoluteExpires: return r.Time(&g->absolute_expires);
    case kBTenant: return r.String(&g->tenant);
    case kBAcr: return r.String(&g->acr);
    case kBSessionId: return r.String(&g->session_id);
    case kBConsumedAt: return r.Time(&g->consumed_at);
    case kBSuccessor: return r.Hash(&g->successor);
    case kBAccessTokenJson: return r.String(&g->access_token_json);
    case kBRedirectUri: return r.String(&g->redirect_uri);
    case kBNonce: return r.String(&g->nonce);
    case kBCodeChallenge: return r.String(&g->code_challenge);
    case kBCodeChallengeMethod: return r.String(&g->code_challenge_method);
    case kBDeviceCodeHash: return r.Hash(&g->device_code_hash);
    case kBDecision: return r.String(&g->decision);
    case kBInterval: return r.base().Int(&g->interval);
    case kBLastPoll: return r.Time(&g->last_poll);
    case kBFailures: return r.base().Int(&g->failures);
    case kBLockedUntil: return r.Time(&g->locked_until);
    case kBHandleCheck: return r.base().Fixed(kHandleCheckSize, &g->handle_check);
    case kBitCount: break;
  }
  return Reader::Bad("unknown field");
}

Result<Grant> DecodeV2(std::string_view stored) {
  V2Reader r(stored.substr(1));
  Grant g;
  uint8_t kind = 0;
  TF_RETURN_IF_ERROR(r.base().Byte(&kind));
  if (kind >= kKindCount) return Reader::Bad("unknown grant kind");
  g.kind = static_cast<GrantKind>(kind);
  uint64_t set = 0;
  TF_RETURN_IF_ERROR(r.base().Uint(&set));
  if (set >> kBitCount != 0) return Reader::Bad("unknown field (a record of a newer build?)");
  TF_RETURN_IF_ERROR(r.base().Int(&g.created));
  r.set_created(g.created);
  TF_RETURN_IF_ERROR(r.Time(&g.expires));
  for (unsigned b = 0; b < kBitCount; ++b) {
    if ((set & (uint64_t{1} << b)) != 0) TF_RETURN_IF_ERROR(ReadV2Field(r, static_cast<Bit>(b), &g));
  }
  if (!r.base().done()) return Reader::Bad("trailing bytes");
  TF_RETURN_IF_ERROR(ValidateGrant(g));
  return g;
}

struct CJsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};

}  // namespace

std::string EncodeGrant(const Grant& g) { return EncodeV2(g); }

Result<Grant> DecodeGrant(std::string_view stored) {
  if (stored.empty()) return Reader::Bad("empty");
  if (stored[0] == kGrantRecordVersion) return DecodeV2(stored);
  if (stored[0] == kGrantRecordVersion1) return DecodeBinary(stored);
  if (stored[0] != '{') return Reader::Bad("unknown record format");
  const std::unique_ptr<cJSON, CJsonDeleter> json(cJSON_ParseWithLength(stored.data(), stored.size()));
  if (json == nullptr) return Reader::Bad("stored record is not JSON");
  return GrantFromJson(json.get(), "");
}

}  // namespace tf::store
