// SigningKey and JWS compact serialisation over OpenSSL 3 EVP (no deprecated RSA_* / EC_KEY_* calls).
//
// Thread-safety: a SigningKey holds its EVP_PKEY, kid and JWK text and two prepared contexts, all fixed at
// construction. Every Sign() and Verify() works on its own EVP_MD_CTX, copied from the prepared one with
// EVP_MD_CTX_copy_ex (which takes the template as const and only reads it, taking references on the key and the
// algorithm objects), so concurrent calls on one key share nothing mutable; OpenSSL 3 allows concurrent read-only use
// of one EVP_PKEY.
//
// Why prepared contexts: EVP_DigestSignInit_ex with a digest name looks up ("fetches") the digest and the signature
// algorithm in the provider store and sets up a fresh provider context every time, which costs about as much as
// a third of an ES256 signature. Copying a prepared context skips all of that. The copy also gets
// EVP_MD_CTX_FLAG_FINALISE, so EVP_DigestSign finalises it in place instead of duplicating it once more.
#include "token/jws.h"

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <vector>

#include "token/jwk.h"
#include "util/base64.h"
#include "util/cjson_ptr.h"
#include "util/crypto.h"
#include "util/json_writer.h"

namespace tf::token {
namespace {

constexpr int kMinRsaBits = 2048;
constexpr size_t kP256FieldBytes = 32;  // also the size of r and s in an ES256 signature
constexpr size_t kEd25519KeyBytes = 32;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// The last OpenSSL error on this thread, for a log line; also empties the thread's error queue.
std::string TakeOpenSslError() {
  const unsigned long e = ERR_peek_last_error();
  std::string msg;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg = std::string(": ") + buf;
  }
  ERR_clear_error();
  return msg;
}

// Never prompt for a passphrase: an encrypted PEM is refused rather than blocking a worker on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

bool IsRsa(Alg alg) { return alg == Alg::kRS256 || alg == Alg::kPS256; }

// Checks that `pkey` is the key type `alg` needs; the message names what was expected and what was found.
Status CheckKeyFitsAlg(Alg alg, const EVP_PKEY* pkey) {
  const std::string alg_name(AlgName(alg));
  const int id = EVP_PKEY_get_base_id(pkey);
  if (IsRsa(alg)) {
    if (id != EVP_PKEY_RSA) {
      return Status::InvalidArgument(alg_name + " needs an RSA key (not RSA-PSS restricted, EC or Ed25519)");
    }
    const int bits = EVP_PKEY_get_bits(pkey);
    if (bits < kMinRsaBits) {
      return Status::InvalidArgument(alg_name + " needs an RSA key of at least 2048 bits, this one has " +
                                     std::to_string(bits));
    }
    return Status::OK();
  }
  if (alg == Alg::kES256) {
    if (id != EVP_PKEY_EC) return Status::InvalidArgument("ES256 needs an EC P-256 key");
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument("ES256 needs an EC key on the named curve P-256 (prime256v1)");
    }
    if (std::string_view(group, len) != "prime256v1") {
      return Status::InvalidArgument("ES256 needs an EC key on curve P-256 (prime256v1), this one is on " +
                                     std::string(group, len));
    }
    return Status::OK();
  }
  if (id != EVP_PKEY_ED25519) return Status::InvalidArgument("EdDSA needs an Ed25519 key");
  return Status::OK();
}

// A BIGNUM parameter of the key as unsigned big-endian bytes; `pad_to` 0 means minimal length.
std::optional<std::string> BnParam(const EVP_PKEY* pkey, const char* name, size_t pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1 || raw == nullptr) {
    ERR_clear_error();
    return std::nullopt;
  }
  BnPtr bn(raw);
  const size_t need = static_cast<size_t>(BN_num_bytes(bn.get()));
  if (pad_to != 0 && need > pad_to) return std::nullopt;
  std::string out(pad_to != 0 ? pad_to : need, '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) < 0) {
    return std::nullopt;
  }
  return out;
}

// DER tags of an ECDSA-Sig-Value (RFC 3279 §2.2.3): SEQUENCE { r INTEGER, s INTEGER }.
constexpr unsigned char kDerSequence = 0x30;
constexpr unsigned char kDerInteger = 0x02;
// Over P-256 the whole DER value is at most 2 + 2 * (2 + 33) = 72 bytes, so every length fits the short form (< 128).
constexpr size_t kMaxEcdsaDerBytes = 2 + 2 * (2 + kP256FieldBytes + 1);

// DER ECDSA-Sig-Value -> r||s, each left-padded to 32 bytes (RFC 7518 §3.4). Parsed directly (no ECDSA_SIG and
// BIGNUM allocations): short-form lengths, two positive INTEGERs of at most 32 significant bytes, nothing after.
std::optional<std::string> EcdsaDerToJose(const unsigned char* der, size_t der_len) {
  if (der_len < 8 || der_len > kMaxEcdsaDerBytes || der[0] != kDerSequence || der[1] != der_len - 2) {
    return std::nullopt;
  }
  std::string out(2 * kP256FieldBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  size_t pos = 2;
  for (size_t part = 0; part < 2; ++part) {  // r, then s
    if (pos + 2 > der_len || der[pos] != kDerInteger) return std::nullopt;
    size_t n = der[pos + 1];
    pos += 2;
    if (n == 0 || n > der_len - pos) return std::nullopt;
    const unsigned char* v = der + pos;
    pos += n;
    if ((v[0] & 0x80) != 0) return std::nullopt;  // negative: never a valid r or s
    while (n > 0 && v[0] == 0) {                   // the sign byte and any other leading zeros
      ++v;
      --n;
    }
    if (n > kP256FieldBytes) return std::nullopt;
    std::memcpy(o + part * kP256FieldBytes + (kP256FieldBytes - n), v, n);
  }
  if (pos != der_len) return std::nullopt;
  return out;
}

// r||s (exactly 64 bytes) -> DER ECDSA-Sig-Value, minimal encoding: leading zero bytes dropped (one kept for zero),
// a 0x00 sign byte added when the top bit is set.
std::optional<std::vector<unsigned char>> EcdsaJoseToDer(std::string_view jose) {
  if (jose.size() != 2 * kP256FieldBytes) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(jose.data());
  std::vector<unsigned char> out;
  out.reserve(kMaxEcdsaDerBytes);
  out.push_back(kDerSequence);
  out.push_back(0);  // the length, filled in below
  for (size_t part = 0; part < 2; ++part) {
    const unsigned char* v = in + part * kP256FieldBytes;
    size_t n = kP256FieldBytes;
    while (n > 1 && v[0] == 0) {
      ++v;
      --n;
    }
    const bool sign_byte = (v[0] & 0x80) != 0;
    out.push_back(kDerInteger);
    out.push_back(static_cast<unsigned char>(n + (sign_byte ? 1 : 0)));
    if (sign_byte) out.push_back(0);
    out.insert(out.end(), v, v + n);
  }
  out[1] = static_cast<unsigned char>(out.size() - 2);
  return out;
}

// Sets up `ctx` for signing or verifying with `alg`: SHA-256 (none for Ed25519), and for PS256 the PSS padding
// with MGF1-SHA-256 and a 32-byte salt.
bool InitContext(EVP_MD_CTX* ctx, Alg alg, EVP_PKEY* pkey, bool sign) {
  const char* md = alg == Alg::kEdDSA ? nullptr : "SHA256";
  EVP_PKEY_CTX* pctx = nullptr;
  const int rc = sign ? EVP_DigestSignInit_ex(ctx, &pctx, md, nullptr, nullptr, pkey, nullptr)
                      : EVP_DigestVerifyInit_ex(ctx, &pctx, md, nullptr, nullptr, pkey, nullptr);
  if (rc != 1) return false;
  if (alg == Alg::kPS256) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", nullptr) != 1) {
      return false;
    }
  } else if (alg == Alg::kRS256) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  }
  return true;
}

// A context prepared by InitContext for `pkey`, to be copied by ReadyContext; nullptr if it cannot be prepared or
// this OpenSSL cannot copy it (then ReadyContext initialises a fresh context per call, as before).
EVP_MD_CTX* NewTemplate(Alg alg, EVP_PKEY* pkey, bool sign) {
  MdCtxPtr tmpl(EVP_MD_CTX_new());
  MdCtxPtr probe(EVP_MD_CTX_new());
  if (!tmpl || !probe || !InitContext(tmpl.get(), alg, pkey, sign) ||
      EVP_MD_CTX_copy_ex(probe.get(), tmpl.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return tmpl.release();
}

// A context ready for one signature or verification with `pkey`: a copy of `tmpl` when there is one, else freshly
// initialised. nullptr on failure (the OpenSSL error is left on the queue).
MdCtxPtr ReadyContext(const EVP_MD_CTX* tmpl, Alg alg, EVP_PKEY* pkey, bool sign) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return nullptr;
  if (tmpl != nullptr) {
    if (EVP_MD_CTX_copy_ex(ctx.get(), tmpl) != 1) return nullptr;
  } else if (!InitContext(ctx.get(), alg, pkey, sign)) {
    return nullptr;
  }
  // One-shot use: EVP_DigestSign/EVP_DigestVerify may finalise this context in place rather than on a duplicate.
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
  return ctx;
}

}  // namespace

namespace internal {

std::string ThumbprintFromJwkMembers(
    std::initializer_list<std::pair<std::string_view, std::string_view>> members) {
  std::vector<std::pair<std::string_view, std::string_view>> sorted(members);
  std::sort(sorted.begin(), sorted.end());
  std::string json = "{";
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i != 0) json.push_back(',');
    AppendJsonString(json, sorted[i].first);
    json.push_back(':');
    AppendJsonString(json, sorted[i].second);
  }
  json.push_back('}');
  return Base64UrlEncode(Sha256(json));
}

Result<PublicJwk> MakePublicJwk(Alg alg, const EVP_PKEY* pkey) {
  const std::string_view alg_name = AlgName(alg);
  PublicJwk jwk;
  CJsonPtr obj(cJSON_CreateObject());
  if (!obj) return Status::Internal("out of memory building a JWK");
  auto add = [&obj](const char* name, std::string_view value) {
    cJSON_AddItemToObject(obj.get(), name, cJSON_CreateString(std::string(value).c_str()));
  };
  const int id = EVP_PKEY_get_base_id(pkey);
  if (IsRsa(alg)) {
    if (id != EVP_PKEY_RSA) return Status::InvalidArgument("not an RSA key");
    auto n = BnParam(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
    auto e = BnParam(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
    if (!n || !e) return Status::Internal("cannot read the RSA public key" + TakeOpenSslError());
    const std::string n64 = Base64UrlEncode(*n), e64 = Base64UrlEncode(*e);
    jwk.kid = ThumbprintFromJwkMembers({{"e", e64}, {"kty", "RSA"}, {"n", n64}});
    add("kty", "RSA");
    add("use", "sig");
    add("alg", alg_name);
    add("kid", jwk.kid);
    add("n", n64);
    add("e", e64);
  } else if (alg == Alg::kES256) {
    if (id != EVP_PKEY_EC) return Status::InvalidArgument("not an EC key");
    auto x = BnParam(pkey, OSSL_PKEY_PARAM_EC_PUB_X, kP256FieldBytes);
    auto y = BnParam(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, kP256FieldBytes);
    if (!x || !y) return Status::Internal("cannot read the EC public key" + TakeOpenSslError());
    const std::string x64 = Base64UrlEncode(*x), y64 = Base64UrlEncode(*y);
    jwk.kid = ThumbprintFromJwkMembers({{"crv", "P-256"}, {"kty", "EC"}, {"x", x64}, {"y", y64}});
    add("kty", "EC");
    add("use", "sig");
    add("alg", alg_name);
    add("kid", jwk.kid);
    add("crv", "P-256");
    add("x", x64);
    add("y", y64);
  } else {
    if (id != EVP_PKEY_ED25519) return Status::InvalidArgument("not an Ed25519 key");
    unsigned char raw[kEd25519KeyBytes];
    size_t len = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != kEd25519KeyBytes) {
      return Status::Internal("cannot read the Ed25519 public key" + TakeOpenSslError());
    }
    const std::string x64 = Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(raw), len));
    jwk.kid = ThumbprintFromJwkMembers({{"crv", "Ed25519"}, {"kty", "OKP"}, {"x", x64}});
    add("kty", "OKP");
    add("use", "sig");
    add("alg", alg_name);
    add("kid", jwk.kid);
    add("crv", "Ed25519");
    add("x", x64);
  }
  char* text = cJSON_PrintUnformatted(obj.get());
  if (text == nullptr) return Status::Internal("out of memory printing a JWK");
  jwk.json = text;
  cJSON_free(text);
  return jwk;
}

}  // namespace internal

std::string_view AlgName(Alg alg) {
  switch (alg) {
    case Alg::kRS256: return "RS256";
    case Alg::kPS256: return "PS256";
    case Alg::kES256: return "ES256";
    case Alg::kEdDSA: return "EdDSA";
  }
  return "";
}

std::optional<Alg> ParseAlg(std::string_view name) {
  for (Alg alg : {Alg::kRS256, Alg::kPS256, Alg::kES256, Alg::kEdDSA}) {
    if (name == AlgName(alg)) return alg;
  }
  return std::nullopt;
}

SigningKey::SigningKey(Alg alg, EVP_PKEY* pkey) : alg_(alg), pkey_(pkey) {
  // The kid and the JWK are derived once here; an empty kid_ tells the factory that this failed.
  auto jwk = internal::MakePublicJwk(alg, pkey);
  if (jwk.ok()) {
    kid_ = std::move(jwk->kid);
    public_jwk_ = std::move(jwk->json);
  }
  sign_template_ = NewTemplate(alg, pkey, /*sign=*/true);
  verify_template_ = NewTemplate(alg, pkey, /*sign=*/false);
}

SigningKey::~SigningKey() {
  EVP_MD_CTX_free(sign_template_);
  EVP_MD_CTX_free(verify_template_);
  EVP_PKEY_free(pkey_);
}

namespace {

// A constructed key whose public JWK could not be derived is unusable.
Result<std::shared_ptr<const SigningKey>> CheckDerived(std::shared_ptr<const SigningKey> key) {
  if (key->kid().empty()) {
    return Status::Internal("cannot derive the public JWK of the " + std::string(AlgName(key->alg())) + " key");
  }
  return key;
}

}  // namespace

Result<std::shared_ptr<const SigningKey>> SigningKey::Generate(Alg alg) {
  EVP_PKEY* pkey = nullptr;
  switch (alg) {
    case Alg::kRS256:
    case Alg::kPS256:
      // The public exponent defaults to 65537.
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(kMinRsaBits));
      break;
    case Alg::kES256:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::kEdDSA:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
  }
  if (pkey == nullptr) {
    return Status::Internal("cannot generate a " + std::string(AlgName(alg)) + " key" + TakeOpenSslError());
  }
  return CheckDerived(std::shared_ptr<const SigningKey>(new SigningKey(alg, pkey)));
}

Result<std::shared_ptr<const SigningKey>> SigningKey::FromPrivatePem(Alg alg, std::string_view pem) {
  if (pem.empty() || pem.size() > static_cast<size_t>(INT_MAX)) {
    return Status::InvalidArgument("empty or oversized PEM private key");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("out of memory reading a PEM key");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!pkey) {
    TakeOpenSslError();  // the detail may quote the input; keep the message generic
    return Status::InvalidArgument(
        "not a PEM private key (PKCS#8 or traditional, unencrypted) for " + std::string(AlgName(alg)));
  }
  TF_RETURN_IF_ERROR(CheckKeyFitsAlg(alg, pkey.get()));
  return CheckDerived(std::shared_ptr<const SigningKey>(new SigningKey(alg, pkey.release())));
}

std::string SigningKey::PrivatePem() const {
  // Secure-heap BIO when the secure heap is enabled; an ordinary memory BIO otherwise.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return std::string();
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return std::string();
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> SigningKey::Sign(std::string_view signing_input) const {
  MdCtxPtr ctx = ReadyContext(sign_template_, alg_, pkey_, /*sign=*/true);
  if (!ctx) {
    return Status::Internal("cannot start a " + std::string(AlgName(alg_)) + " signature" + TakeOpenSslError());
  }
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (alg_ == Alg::kES256) {
    std::array<unsigned char, kMaxEcdsaDerBytes> der;
    size_t der_len = der.size();
    if (EVP_DigestSign(ctx.get(), der.data(), &der_len, in, signing_input.size()) != 1) {
      return Status::Internal("ES256 signing failed" + TakeOpenSslError());
    }
    auto jose = EcdsaDerToJose(der.data(), der_len);
    if (!jose) return Status::Internal("ES256 signing produced an unexpected signature");
    return std::move(*jose);
  }
  const int max = EVP_PKEY_get_size(pkey_);
  if (max <= 0) return Status::Internal("cannot size the signature");
  std::string sig(static_cast<size_t>(max), '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, signing_input.size()) !=
      1) {
    return Status::Internal(std::string(AlgName(alg_)) + " signing failed" + TakeOpenSslError());
  }
  sig.resize(len);
  return sig;
}

bool SigningKey::Verify(std::string_view signing_input, std::string_view signature) const {
  MdCtxPtr ctx = ReadyContext(verify_template_, alg_, pkey_, /*sign=*/false);
  if (!ctx) {
    ERR_clear_error();
    return false;
  }
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  int rc;
  if (alg_ == Alg::kES256) {
    auto der = EcdsaJoseToDer(signature);
    if (!der) {
      ERR_clear_error();
      return false;
    }
    rc = EVP_DigestVerify(ctx.get(), der->data(), der->size(), in, signing_input.size());
  } else {
    // RFC 8017 8.1.2 and 8.2.2, step 1: an RSA signature of any length but the modulus's is invalid. OpenSSL would read
    // a shorter one as a number with leading zeros and accept a valid signature with its first zero bytes cut off.
    if ((alg_ == Alg::kRS256 || alg_ == Alg::kPS256) &&
        signature.size() != static_cast<size_t>(EVP_PKEY_get_size(pkey_))) {
      return false;
    }
    rc = EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(), in,
                          signing_input.size());
  }
  ERR_clear_error();
  return rc == 1;
}

Result<std::string> SignJws(const SigningKey& key, std::string_view typ, std::string_view payload_json) {
  std::string header;
  header.reserve(40 + key.kid().size() + typ.size());
  header += "{\"alg\":\"";
  header += AlgName(key.alg());
  header += "\",\"kid\":";
  AppendJsonString(header, key.kid());
  header += ",\"typ\":";
  AppendJsonString(header, typ);
  header += '}';

  const std::string header64 = Base64UrlEncode(header);
  const std::string payload64 = Base64UrlEncode(payload_json);
  std::string out;
  // Room for the signature too (RSA 4096 = 512 bytes -> 683 characters); a larger key just reallocates once.
  out.reserve(header64.size() + payload64.size() + 2 + 700);
  out += header64;
  out += '.';
  out += payload64;
  auto sig = key.Sign(out);
  if (!sig.ok()) return sig.status();
  out += '.';
  out += Base64UrlEncode(*sig);
  return out;
}

std::optional<JwsParts> SplitJws(std::string_view compact) {
  // Exactly three base64url parts; the header, the payload and the signature must all be non-empty (an unsecured
  // JWS with an empty signature, "alg":"none", is never accepted here).
  const size_t dot1 = compact.find('.');
  if (dot1 == std::string_view::npos) return std::nullopt;
  const size_t dot2 = compact.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return std::nullopt;
  if (compact.find('.', dot2 + 1) != std::string_view::npos) return std::nullopt;
  const std::string_view h = compact.substr(0, dot1);
  const std::string_view p = compact.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view s = compact.substr(dot2 + 1);
  if (h.empty() || p.empty() || s.empty()) return std::nullopt;
  auto header = Base64UrlDecode(h);
  auto payload = Base64UrlDecode(p);
  auto signature = Base64UrlDecode(s);
  if (!header || !payload || !signature) return std::nullopt;
  JwsParts parts;
  parts.header_json = std::move(*header);
  parts.payload_json = std::move(*payload);
  parts.signature = std::move(*signature);
  parts.signing_input = std::string(compact.substr(0, dot2));
  return parts;
}

}  // namespace tf::token
