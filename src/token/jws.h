// Signing keys and JWS compact serialisation (RFC 7515) for access tokens and id_tokens, over OpenSSL 3 EVP.
//
// A SigningKey owns one EVP_PKEY and its algorithm: RS256 (RSA 2048+, PKCS#1 v1.5), PS256 (RSA-PSS, salt = 32),
// ES256 (P-256; the signature is r||s, 64 bytes, as JWS requires, converted from DER), EdDSA (Ed25519). Its `kid` is
// the RFC 7638 JWK thumbprint of the public key, base64url:
//
//   kid = base64url( SHA-256( '{"e":"AQAB","kty":"RSA","n":"..."}' ) )   members sorted, no whitespace
//       RSA: e, kty, n     EC: crv, kty, x, y     OKP: crv, kty, x
//
// A SigningKey is immutable after creation; Sign() may be called from many threads at once. Each key prepares its
// signing and verification contexts once (algorithm fetch, digest, padding); every Sign()/Verify() works on a private
// copy of them, so no per-call algorithm lookup happens and concurrent calls share nothing mutable.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace tf::token {

enum class Alg { kRS256, kPS256, kES256, kEdDSA };

std::string_view AlgName(Alg alg);                      // "RS256", "PS256", "ES256", "EdDSA"
std::optional<Alg> ParseAlg(std::string_view name);     // exact JOSE names

class SigningKey {
 public:
  // A fresh key: RSA 2048 for RS256/PS256, P-256 for ES256, Ed25519 for EdDSA.
  static Result<std::shared_ptr<const SigningKey>> Generate(Alg alg);
  // A PKCS#8 or traditional PEM private key. The key type must suit `alg` (RSA >= 2048 bits for RS256/PS256,
  // P-256 for ES256, Ed25519 for EdDSA).
  static Result<std::shared_ptr<const SigningKey>> FromPrivatePem(Alg alg, std::string_view pem);

  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  Alg alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  std::string PrivatePem() const;       // PKCS#8 PEM, for the store
  // The public JWK as a JSON object text: kty, use "sig", alg, kid and the key members. No private members.
  const std::string& PublicJwkJson() const { return public_jwk_; }

  // The JWS signature over `signing_input` (raw bytes, not base64url).
  Result<std::string> Sign(std::string_view signing_input) const;
  // Verifies a raw signature; used by introspection and tests.
  bool Verify(std::string_view signing_input, std::string_view signature) const;

 private:
  SigningKey(Alg alg, EVP_PKEY* pkey);
  Alg alg_;
  EVP_PKEY* pkey_;
  // Initialised once for pkey_ and only ever read (copied) afterwards; nullptr when this OpenSSL cannot copy such a
  // context (then each call initialises its own).
  EVP_MD_CTX* sign_template_ = nullptr;
  EVP_MD_CTX* verify_template_ = nullptr;
  std::string kid_;
  std::string public_jwk_;
};

// header = {"alg":..., "kid":..., "typ": typ}; returns base64url(header) "." base64url(payload) "." base64url(sig).
// `payload_json` must already be the compact JSON text of the claims.
Result<std::string> SignJws(const SigningKey& key, std::string_view typ, std::string_view payload_json);

// Splits a compact JWS and returns its decoded parts without verifying anything. nullopt if malformed.
struct JwsParts {
  std::string header_json;
  std::string payload_json;
  std::string signature;       // raw bytes
  std::string signing_input;   // base64url(header) "." base64url(payload), as received
};
std::optional<JwsParts> SplitJws(std::string_view compact);

}  // namespace tf::token
