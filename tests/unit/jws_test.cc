#include "token/jws.h"

#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "test_env.h"
#include "token/jwk.h"
#include "util/base64.h"
#include "util/crypto.h"

namespace tf::token {
namespace {

// ---- Independent helpers: raw OpenSSL and cJSON, nothing from jws.cc ----

using tf::testing::PkeyPtr;

struct JsonFree {
  void operator()(cJSON* p) const { cJSON_Delete(p); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonFree>;

std::string Member(const cJSON* obj, const char* name) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, name);
  return cJSON_IsString(item) ? std::string(item->valuestring) : std::string();
}

std::string B64(const cJSON* obj, const char* name) {
  auto v = Base64UrlDecode(Member(obj, name));
  return v ? *v : std::string();
}

// Builds the public key described by a JWK text (RSA, EC P-256 or OKP Ed25519) with EVP_PKEY_fromdata.
PkeyPtr PublicKeyFromJwk(const std::string& jwk_json) {
  JsonPtr jwk(cJSON_Parse(jwk_json.c_str()));
  if (!jwk) return nullptr;
  const std::string kty = Member(jwk.get(), "kty");
  if (kty == "OKP") {
    const std::string x = B64(jwk.get(), "x");
    return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  std::string point;
  const char* type = nullptr;
  if (kty == "RSA") {
    type = "RSA";
    const std::string nb = B64(jwk.get(), "n"), eb = B64(jwk.get(), "e");
    n = BN_bin2bn(reinterpret_cast<const unsigned char*>(nb.data()), static_cast<int>(nb.size()), nullptr);
    e = BN_bin2bn(reinterpret_cast<const unsigned char*>(eb.data()), static_cast<int>(eb.size()), nullptr);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  } else if (kty == "EC") {
    type = "EC";
    point = "\x04" + B64(jwk.get(), "x") + B64(jwk.get(), "y");
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  }
  EVP_PKEY* pkey = nullptr;
  if (type != nullptr) {
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
    if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
      pkey = nullptr;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
  }
  BN_free(n);
  BN_free(e);
  OSSL_PARAM_BLD_free(bld);
  return PkeyPtr(pkey);
}

// The DER and signature-check helpers are test_env.h's (raw EVP calls, nothing from jws.cc).
using tf::testing::DerInteger;
using tf::testing::EcdsaRsToDer;
using tf::testing::IndependentVerify;

std::string PemOf(EVP_PKEY* pkey, bool traditional = false, const char* passphrase = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (passphrase != nullptr) {
    PEM_write_bio_PrivateKey(bio, pkey, EVP_aes_256_cbc(), reinterpret_cast<const unsigned char*>(passphrase),
                             static_cast<int>(strlen(passphrase)), nullptr, nullptr);
  } else if (traditional) {
    PEM_write_bio_PrivateKey_traditional(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string Flip(std::string s, size_t i) {
  s[i] = static_cast<char>(s[i] ^ 1);
  return s;
}

// ---- Per-algorithm tests ----

class JwsAlgTest : public ::testing::TestWithParam<Alg> {};

TEST_P(JwsAlgTest, GeneratedKeyHasThumbprintKidAndPublicJwk) {
  const Alg alg = GetParam();
  auto key = SigningKey::Generate(alg);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ((*key)->alg(), alg);
  EXPECT_EQ((*key)->kid().size(), 43u);

  JsonPtr jwk(cJSON_Parse((*key)->PublicJwkJson().c_str()));
  ASSERT_TRUE(jwk);
  EXPECT_EQ(Member(jwk.get(), "use"), "sig");
  EXPECT_EQ(Member(jwk.get(), "alg"), AlgName(alg));
  EXPECT_EQ(Member(jwk.get(), "kid"), (*key)->kid());
  for (const char* priv : {"d", "p", "q", "dp", "dq", "qi"}) {
    EXPECT_EQ(cJSON_GetObjectItemCaseSensitive(jwk.get(), priv), nullptr) << priv;
  }
  // Recompute the RFC 7638 thumbprint from the JWK's own members.
  const std::string kty = Member(jwk.get(), "kty");
  std::string canonical;
  if (alg == Alg::kRS256 || alg == Alg::kPS256) {
    ASSERT_EQ(kty, "RSA");
    EXPECT_EQ(Member(jwk.get(), "e"), "AQAB");
    EXPECT_EQ(B64(jwk.get(), "n").size(), 256u);
    canonical = R"({"e":")" + Member(jwk.get(), "e") + R"(","kty":"RSA","n":")" + Member(jwk.get(), "n") + "\"}";
  } else if (alg == Alg::kES256) {
    ASSERT_EQ(kty, "EC");
    EXPECT_EQ(Member(jwk.get(), "crv"), "P-256");
    EXPECT_EQ(B64(jwk.get(), "x").size(), 32u);
    EXPECT_EQ(B64(jwk.get(), "y").size(), 32u);
    canonical = R"({"crv":"P-256","kty":"EC","x":")" + Member(jwk.get(), "x") + R"(","y":")" +
                Member(jwk.get(), "y") + "\"}";
  } else {
    ASSERT_EQ(kty, "OKP");
    EXPECT_EQ(Member(jwk.get(), "crv"), "Ed25519");
    EXPECT_EQ(B64(jwk.get(), "x").size(), 32u);
    canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + Member(jwk.get(), "x") + "\"}";
  }
  EXPECT_EQ((*key)->kid(), Base64UrlEncode(Sha256(canonical)));
  // Two fresh keys differ.
  auto other = SigningKey::Generate(alg);
  ASSERT_TRUE(other.ok());
  EXPECT_NE((*other)->kid(), (*key)->kid());
}

TEST_P(JwsAlgTest, SignJwsVerifiesIndependently) {
  const Alg alg = GetParam();
  auto key = SigningKey::Generate(alg);
  ASSERT_TRUE(key.ok());
  const std::string payload = R"({"iss":"https://id.example","sub":"alice","exp":1700000000})";
  auto jws = SignJws(**key, "at+jwt", payload);
  ASSERT_TRUE(jws.ok()) << jws.status().ToString();

  auto parts = SplitJws(*jws);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->header_json,
            R"({"alg":")" + std::string(AlgName(alg)) + R"(","kid":")" + (*key)->kid() + R"(","typ":"at+jwt"})");
  JsonPtr header(cJSON_Parse(parts->header_json.c_str()));
  ASSERT_TRUE(header);
  EXPECT_EQ(Member(header.get(), "alg"), AlgName(alg));
  EXPECT_EQ(Member(header.get(), "kid"), (*key)->kid());
  EXPECT_EQ(Member(header.get(), "typ"), "at+jwt");
  EXPECT_EQ(parts->payload_json, payload);
  EXPECT_EQ(parts->signing_input, jws->substr(0, jws->rfind('.')));

  const size_t expected_sig = (alg == Alg::kRS256 || alg == Alg::kPS256) ? 256 : 64;
  EXPECT_EQ(parts->signature.size(), expected_sig);

  PkeyPtr pub = PublicKeyFromJwk((*key)->PublicJwkJson());
  ASSERT_TRUE(pub);
  EXPECT_TRUE(IndependentVerify(alg, pub.get(), parts->signing_input, parts->signature));
  EXPECT_TRUE((*key)->Verify(parts->signing_input, parts->signature));

  // Tampering with the payload or the signature breaks both verifiers.
  const std::string tampered_input =
      Base64UrlEncode(parts->header_json) + "." + Base64UrlEncode(R"({"iss":"https://id.example","sub":"admin"})");
  EXPECT_FALSE((*key)->Verify(tampered_input, parts->signature));
  EXPECT_FALSE(IndependentVerify(alg, pub.get(), tampered_input, parts->signature));
  EXPECT_FALSE((*key)->Verify(parts->signing_input, Flip(parts->signature, 10)));
  EXPECT_FALSE((*key)->Verify(parts->signing_input, parts->signature.substr(1)));
  EXPECT_FALSE((*key)->Verify(parts->signing_input, ""));

  // Another key of the same kind does not verify it.
  auto other = SigningKey::Generate(alg);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)->Verify(parts->signing_input, parts->signature));
}

TEST_P(JwsAlgTest, PemRoundTripKeepsKid) {
  const Alg alg = GetParam();
  auto key = SigningKey::Generate(alg);
  ASSERT_TRUE(key.ok());
  const std::string pem = (*key)->PrivatePem();
  EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << "not PKCS#8";
  auto again = SigningKey::FromPrivatePem(alg, pem);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->kid(), (*key)->kid());
  EXPECT_EQ((*again)->PublicJwkJson(), (*key)->PublicJwkJson());
  auto sig = (*again)->Sign("input");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE((*key)->Verify("input", *sig));
}

TEST_P(JwsAlgTest, SignIsSafeFromManyThreads) {
  const Alg alg = GetParam();
  auto key = SigningKey::Generate(alg);
  ASSERT_TRUE(key.ok());
  std::shared_ptr<const SigningKey> k = *key;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string payload = "{\"n\":" + std::to_string(t * 100 + i) + "}";
        auto jws = SignJws(*k, "JWT", payload);
        if (!jws.ok()) continue;
        auto parts = SplitJws(*jws);
        if (parts && parts->payload_json == payload && k->Verify(parts->signing_input, parts->signature)) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 40);
}

INSTANTIATE_TEST_SUITE_P(AllAlgs, JwsAlgTest,
                         ::testing::Values(Alg::kRS256, Alg::kPS256, Alg::kES256, Alg::kEdDSA),
                         [](const ::testing::TestParamInfo<Alg>& p) { return std::string(AlgName(p.param)); });

// ---- Algorithm-specific behaviour ----

TEST(JwsTest, Ps256IsRandomisedPssAndRs256IsDeterministicPkcs1) {
  auto rs = SigningKey::Generate(Alg::kRS256);
  ASSERT_TRUE(rs.ok());
  auto a = (*rs)->Sign("x");
  auto b = (*rs)->Sign("x");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);

  // The same RSA key loaded for PS256 makes salted (different) signatures that PKCS#1 v1.5 rejects.
  auto ps = SigningKey::FromPrivatePem(Alg::kPS256, (*rs)->PrivatePem());
  ASSERT_TRUE(ps.ok());
  auto c = (*ps)->Sign("x");
  auto d = (*ps)->Sign("x");
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_NE(*c, *d);
  PkeyPtr pub = PublicKeyFromJwk((*rs)->PublicJwkJson());
  EXPECT_TRUE(IndependentVerify(Alg::kPS256, pub.get(), "x", *c));
  EXPECT_FALSE(IndependentVerify(Alg::kRS256, pub.get(), "x", *c));
  EXPECT_FALSE(IndependentVerify(Alg::kPS256, pub.get(), "x", *a));
  EXPECT_FALSE((*rs)->Verify("x", *c));
  EXPECT_FALSE((*ps)->Verify("x", *a));
}

TEST(JwsTest, Es256RejectsSignaturesThatAreNot64Bytes) {
  auto key = SigningKey::Generate(Alg::kES256);
  ASSERT_TRUE(key.ok());
  auto sig = (*key)->Sign("x");
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->size(), 64u);
  EXPECT_TRUE((*key)->Verify("x", *sig));
  // The DER form of a valid signature is not a JWS signature.
  EXPECT_FALSE((*key)->Verify("x", EcdsaRsToDer(*sig)));
  EXPECT_FALSE((*key)->Verify("x", *sig + std::string(1, '\0')));
  EXPECT_FALSE((*key)->Verify("x", std::string(64, '\0')));
}

// RFC 8017 8.1.2 and 8.2.2, step 1: an RSA signature that is not exactly as long as the modulus is invalid. OpenSSL
// reads a shorter one as a number with leading zeros, so a valid signature whose first byte is 0 (one in 256) would
// verify with that byte cut off. PS256 is randomised: sign until such a signature comes up.
TEST(JwsTest, RsaSignaturesMustBeAsLongAsTheModulus) {
  auto key = SigningKey::Generate(Alg::kPS256);
  ASSERT_TRUE(key.ok());
  std::string sig;
  for (int i = 0; i < 20000 && (sig.empty() || sig[0] != '\0'); ++i) {
    auto s = (*key)->Sign("x");
    ASSERT_TRUE(s.ok());
    sig = *s;
  }
  ASSERT_EQ(sig[0], '\0') << "no signature with a leading zero byte in 20,000";
  ASSERT_EQ(sig.size(), 256u);
  EXPECT_TRUE((*key)->Verify("x", sig));
  EXPECT_FALSE((*key)->Verify("x", sig.substr(1)));
  EXPECT_FALSE((*key)->Verify("x", std::string(1, '\0') + sig));
  auto rs = SigningKey::Generate(Alg::kRS256);
  ASSERT_TRUE(rs.ok());
  auto rs_sig = (*rs)->Sign("x");
  ASSERT_TRUE(rs_sig.ok());
  EXPECT_FALSE((*rs)->Verify("x", std::string(1, '\0') + *rs_sig));
}

TEST(JwsTest, Es256SignaturesWithShortOrHighBitRAndSConvert) {
  // Sign's DER -> r||s conversion and Verify's r||s -> DER conversion are hand-written: check them on the awkward
  // values. About one signature in 128 has r or s with a zero first byte (a shorter DER INTEGER, left-padded in
  // r||s); about three in four have r or s with the top bit set (a DER INTEGER with a 0x00 sign byte).
  auto key = SigningKey::Generate(Alg::kES256);
  ASSERT_TRUE(key.ok());
  PkeyPtr pub = PublicKeyFromJwk((*key)->PublicJwkJson());
  ASSERT_TRUE(pub);
  bool short_seen = false, high_seen = false;
  for (int i = 0; i < 5000 && !(short_seen && high_seen); ++i) {
    const std::string input = "input " + std::to_string(i);
    auto sig = (*key)->Sign(input);
    ASSERT_TRUE(sig.ok());
    ASSERT_EQ(sig->size(), 64u);
    const auto r0 = static_cast<unsigned char>((*sig)[0]), s0 = static_cast<unsigned char>((*sig)[32]);
    const bool is_short = r0 == 0 || s0 == 0, is_high = r0 >= 0x80 || s0 >= 0x80;
    if (!is_short && !(is_high && !high_seen)) continue;
    short_seen = short_seen || is_short;
    high_seen = high_seen || is_high;
    EXPECT_TRUE(IndependentVerify(Alg::kES256, pub.get(), input, *sig)) << i;
    EXPECT_TRUE((*key)->Verify(input, *sig)) << i;
    EXPECT_FALSE((*key)->Verify(input + "x", *sig)) << i;
  }
  EXPECT_TRUE(short_seen);
  EXPECT_TRUE(high_seen);
}

TEST(JwsTest, EcCoordinatesAreLeftPaddedTo32Bytes) {
  // About one key in 128 has x or y below 2^248; keep generating until one turns up.
  for (int i = 0; i < 5000; ++i) {
    auto key = SigningKey::Generate(Alg::kES256);
    ASSERT_TRUE(key.ok());
    JsonPtr jwk(cJSON_Parse((*key)->PublicJwkJson().c_str()));
    const std::string x = B64(jwk.get(), "x"), y = B64(jwk.get(), "y");
    ASSERT_EQ(x.size(), 32u);
    ASSERT_EQ(y.size(), 32u);
    if (x[0] == 0 || y[0] == 0) {
      PkeyPtr pub = PublicKeyFromJwk((*key)->PublicJwkJson());
      ASSERT_TRUE(pub);
      auto sig = (*key)->Sign("x");
      ASSERT_TRUE(sig.ok());
      EXPECT_TRUE(IndependentVerify(Alg::kES256, pub.get(), "x", *sig));
      return;
    }
  }
  FAIL() << "no key with a leading zero coordinate";
}

// ---- RFC example thumbprints ----

constexpr char kRfc7638N[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknj"
    "hMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qM"
    "QvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJ"
    "zKnqDKgw";

TEST(JwkThumbprintTest, Rfc7638Section3_1Example) {
  EXPECT_EQ(internal::ThumbprintFromJwkMembers({{"kty", "RSA"}, {"n", kRfc7638N}, {"e", "AQAB"}}),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  // The same key as an EVP_PKEY: n and e come back out as minimal big-endian bytes.
  PkeyPtr pkey = PublicKeyFromJwk(std::string(R"({"kty":"RSA","e":"AQAB","n":")") + kRfc7638N + "\"}");
  ASSERT_TRUE(pkey);
  auto jwk = internal::MakePublicJwk(Alg::kRS256, pkey.get());
  ASSERT_TRUE(jwk.ok()) << jwk.status().ToString();
  EXPECT_EQ(jwk->kid, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  JsonPtr obj(cJSON_Parse(jwk->json.c_str()));
  EXPECT_EQ(Member(obj.get(), "n"), kRfc7638N);
  EXPECT_EQ(Member(obj.get(), "e"), "AQAB");
  EXPECT_EQ(Member(obj.get(), "alg"), "RS256");
}

TEST(JwkThumbprintTest, Rfc8037AppendixA3Ed25519Example) {
  constexpr char kX[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
  PkeyPtr pkey = PublicKeyFromJwk(std::string(R"({"kty":"OKP","crv":"Ed25519","x":")") + kX + "\"}");
  ASSERT_TRUE(pkey);
  auto jwk = internal::MakePublicJwk(Alg::kEdDSA, pkey.get());
  ASSERT_TRUE(jwk.ok());
  EXPECT_EQ(jwk->kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

// ---- Key checks ----

Status::Code LoadCode(Alg alg, const std::string& pem) {
  auto key = SigningKey::FromPrivatePem(alg, pem);
  return key.ok() ? Status::Code::kOk : key.status().code();
}

TEST(JwsKeyTest, RejectsKeysThatDoNotFitTheAlg) {
  auto rsa = SigningKey::Generate(Alg::kRS256);
  auto ec = SigningKey::Generate(Alg::kES256);
  auto ed = SigningKey::Generate(Alg::kEdDSA);
  ASSERT_TRUE(rsa.ok() && ec.ok() && ed.ok());
  const std::string rsa_pem = (*rsa)->PrivatePem(), ec_pem = (*ec)->PrivatePem(), ed_pem = (*ed)->PrivatePem();
  EXPECT_EQ(LoadCode(Alg::kRS256, rsa_pem), Status::Code::kOk);
  EXPECT_EQ(LoadCode(Alg::kPS256, rsa_pem), Status::Code::kOk);
  EXPECT_EQ(LoadCode(Alg::kES256, rsa_pem), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kEdDSA, rsa_pem), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kRS256, ec_pem), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kPS256, ed_pem), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kES256, ed_pem), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kEdDSA, ec_pem), Status::Code::kInvalidArgument);
  auto msg = SigningKey::FromPrivatePem(Alg::kES256, rsa_pem);
  EXPECT_NE(msg.status().message().find("P-256"), std::string::npos) << msg.status().message();
}

TEST(JwsKeyTest, RejectsRsa1024AndOtherCurves) {
  PkeyPtr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
  ASSERT_TRUE(rsa1024);
  auto weak = SigningKey::FromPrivatePem(Alg::kRS256, PemOf(rsa1024.get()));
  ASSERT_FALSE(weak.ok());
  EXPECT_EQ(weak.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(weak.status().message().find("2048"), std::string::npos) << weak.status().message();
  EXPECT_EQ(LoadCode(Alg::kPS256, PemOf(rsa1024.get())), Status::Code::kInvalidArgument);

  PkeyPtr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  ASSERT_TRUE(p384);
  auto wrong_curve = SigningKey::FromPrivatePem(Alg::kES256, PemOf(p384.get()));
  ASSERT_FALSE(wrong_curve.ok());
  EXPECT_NE(wrong_curve.status().message().find("secp384r1"), std::string::npos) << wrong_curve.status().message();

  PkeyPtr ed448(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448"));
  ASSERT_TRUE(ed448);
  EXPECT_EQ(LoadCode(Alg::kEdDSA, PemOf(ed448.get())), Status::Code::kInvalidArgument);
}

TEST(JwsKeyTest, AcceptsTraditionalPemAndRejectsGarbageAndEncryptedKeys) {
  auto rsa = SigningKey::Generate(Alg::kRS256);
  auto ec = SigningKey::Generate(Alg::kES256);
  ASSERT_TRUE(rsa.ok() && ec.ok());
  for (const auto& key : {*rsa, *ec}) {
    const std::string pkcs8 = key->PrivatePem();
    BIO* bio = BIO_new_mem_buf(pkcs8.data(), static_cast<int>(pkcs8.size()));
    PkeyPtr pkey(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    ASSERT_TRUE(pkey);
    const std::string traditional = PemOf(pkey.get(), /*traditional=*/true);
    EXPECT_EQ(traditional.find("-----BEGIN PRIVATE KEY-----"), std::string::npos) << traditional.substr(0, 40);
    auto loaded = SigningKey::FromPrivatePem(key->alg(), traditional);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ((*loaded)->kid(), key->kid());

    // An encrypted key is refused (and never prompts for a passphrase).
    const std::string encrypted = PemOf(pkey.get(), false, "correct horse");
    ASSERT_NE(encrypted.find("ENCRYPTED"), std::string::npos);
    EXPECT_EQ(LoadCode(key->alg(), encrypted), Status::Code::kInvalidArgument);
  }
  EXPECT_EQ(LoadCode(Alg::kRS256, ""), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kRS256, "hello"), Status::Code::kInvalidArgument);
  EXPECT_EQ(LoadCode(Alg::kRS256, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Status::Code::kInvalidArgument);
  // A public key is not a signing key.
  const std::string public_pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
      "-----END PUBLIC KEY-----\n";
  EXPECT_EQ(LoadCode(Alg::kEdDSA, public_pem), Status::Code::kInvalidArgument);
}

// ---- Names, header, splitting ----

TEST(JwsTest, AlgNamesAreExactJoseNames) {
  for (Alg alg : {Alg::kRS256, Alg::kPS256, Alg::kES256, Alg::kEdDSA}) EXPECT_EQ(ParseAlg(AlgName(alg)), alg);
  EXPECT_EQ(AlgName(Alg::kEdDSA), "EdDSA");
  for (const char* bad : {"rs256", "RS256 ", "none", "HS256", "ES384", "Ed25519", ""}) {
    EXPECT_FALSE(ParseAlg(bad)) << bad;
  }
}

TEST(JwsTest, HeaderEscapesTyp) {
  auto key = SigningKey::Generate(Alg::kEdDSA);
  ASSERT_TRUE(key.ok());
  const std::string typ = "a\"b\\c\n";
  auto jws = SignJws(**key, typ, "{}");
  ASSERT_TRUE(jws.ok());
  auto parts = SplitJws(*jws);
  ASSERT_TRUE(parts);
  JsonPtr header(cJSON_Parse(parts->header_json.c_str()));
  ASSERT_TRUE(header) << parts->header_json;
  EXPECT_EQ(Member(header.get(), "typ"), typ);
  EXPECT_EQ(cJSON_GetArraySize(header.get()), 3);
}

TEST(JwsTest, SplitJwsDecodesThreeParts) {
  auto parts = SplitJws("YQ.Yg.Yw");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->header_json, "a");
  EXPECT_EQ(parts->payload_json, "b");
  EXPECT_EQ(parts->signature, "c");
  EXPECT_EQ(parts->signing_input, "YQ.Yg");
}

TEST(JwsTest, SplitJwsRejectsMalformed) {
  for (const char* bad : {"", "YQ", "YQ.Yg", "YQ.Yg.Yw.ZA", "YQ.Yg.Yw.", ".Yg.Yw", "YQ..Yw", "YQ.Yg.", "..",
                          "YQ==.Yg.Yw", "YQ.Yg==.Yw", "YQ.Yg.Yw==", "Y.Yg.Yw", "YQ.Y+.Yw", "YQ.Yg.Y/", "YQ .Yg.Yw",
                          "YR.Yg.Yw"}) {
    EXPECT_FALSE(SplitJws(bad)) << bad;
  }
}

}  // namespace
}  // namespace tf::token
