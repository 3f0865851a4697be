// OpenID Connect id_tokens (oauth/id_token.h): the claims, the signing-key choice, at_hash (none for EdDSA), and
// the user claims of the granted identity scopes. Signatures are checked with raw OpenSSL EVP calls against keys the
// test generated itself, and at_hash against the OpenID Connect Core example and an EVP_Digest computed here.
#include "oauth/id_token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "oauth/catalog.h"
#include "store/records.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::kNow;
constexpr char kIssuer[] = "https://auth.example.com";

using token::Alg;
using testing::Identity;
using testing::IndependentVerify;
using testing::Json;
using testing::PkeyPtr;

// base64url(left half of EVP_Digest(md, text)).
std::string IndependentHalfHash(const EVP_MD* md, std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(text.data(), text.size(), digest, &len, md, nullptr), 1);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), len / 2));
}

class IdTokenTest : public ::testing::Test {
 protected:
  // One key per algorithm for the whole suite; the RSA ones are fixed test keys (RSA key generation is slow).
  static void SetUpTestSuite() {
    keys_[static_cast<int>(Alg::kRS256)] = testing::FixedRsaPkey(0);
    keys_[static_cast<int>(Alg::kPS256)] = testing::FixedRsaPkey(1);
    for (Alg alg : {Alg::kES256, Alg::kEdDSA}) keys_[static_cast<int>(alg)] = testing::NewPkey(alg);
  }
  static void TearDownTestSuite() {
    for (PkeyPtr& k : keys_) k.reset();
  }

  void SetUp() override {
    config_.issuer = kIssuer;
    for (const PkeyPtr& k : keys_) ASSERT_NE(k, nullptr);
    client_.client_id = "app";
    client_.identity_token_lifetime = 600;
    Build({Alg::kRS256, Alg::kPS256, Alg::kES256, Alg::kEdDSA});
  }

  // A snapshot with the client and current keys for `algs`.
  void Build(const std::vector<Alg>& algs) {
    std::vector<store::KeyRecord> keys;
    for (Alg alg : algs) {
      store::KeyRecord k;
      k.alg = std::string(token::AlgName(alg));
      k.kid = k.alg;
      k.state = store::KeyState::kCurrent;
      k.private_pem = testing::PrivatePemOf(keys_[static_cast<int>(alg)].get());
      keys.push_back(k);
    }
    std::vector<store::IdentityResource> identity = {
        Identity("openid", {"sub"}),
        Identity("profile", {"name", "given_name", "email_verified", "age", "role", "nonce", "sub"}),
        Identity("email", {"email", "email_verified"}),
        Identity("off", {"secret"}, /*enabled=*/false),
    };
    store::ApiScope api;
    api.name = "api";
    api.user_claims = {"department"};
    snapshot_ = BuildSnapshot(config_, 1, {client_}, {api}, {}, identity, keys);
  }

  IdTokenRequest Request() const {
    IdTokenRequest r;
    r.client = &snapshot_->clients.at("app");
    r.subject = "sub-alice";
    r.scopes = {"openid", "profile", "api"};
    r.auth_time = kNow - 50;
    r.idp = "local";
    r.amr = {"pwd"};
    r.acr = "urn:example:loa:2";
    r.sid = "session-1";
    r.nonce = "n-0S6_WzA2Mj";
    r.access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
    r.user_claims = {{"name", "Alice", ""},
                     {"given_name", "Alice", ""},
                     {"email", "alice@example.com", ""},
                     {"email_verified", "true", "http://www.w3.org/2001/XMLSchema#boolean"},
                     {"age", "42", "http://www.w3.org/2001/XMLSchema#integer"},
                     {"role", "admin", ""},
                     {"role", "user", ""},
                     {"nonce", "forged", ""},
                     {"sub", "forged", ""},
                     {"secret", "x", ""},
                     {"department", "R&D", ""}};
    return r;
  }

  // Issues, checks the header and the signature with OpenSSL, and returns the claims text.
  std::string IssueAndVerify(const IdTokenRequest& request, Alg expected_alg) {
    Result<std::string> jwt = IssueIdToken(config_, *snapshot_, clock_, request);
    EXPECT_TRUE(jwt.ok()) << jwt.status().ToString();
    if (!jwt.ok()) return "";
    std::optional<token::JwsParts> parts = token::SplitJws(*jwt);
    EXPECT_TRUE(parts.has_value());
    if (!parts) return "";
    Json header(parts->header_json);
    EXPECT_EQ(header.Str("typ"), "JWT");
    EXPECT_EQ(header.Str("alg"), token::AlgName(expected_alg));
    EXPECT_EQ(header.Str("kid"), snapshot_->CurrentKey(expected_alg)->kid());
    EXPECT_TRUE(IndependentVerify(expected_alg, keys_[static_cast<int>(expected_alg)].get(), parts->signing_input,
                                  parts->signature));
    return parts->payload_json;
  }

  Config config_;
  store::Client client_;
  static PkeyPtr keys_[4];
  std::shared_ptr<const Snapshot> snapshot_;
  ManualClock clock_{kNow};
};

PkeyPtr IdTokenTest::keys_[4];

TEST_F(IdTokenTest, AccessTokenHashKnownAnswers) {
  // OpenID Connect Core 1.0, Appendix A.3/A.4: this access token has at_hash 77QmUPtjPfzWtF2AnpK9RQ (RS256).
  const std::string token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
  EXPECT_EQ(AccessTokenHash(Alg::kRS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
  EXPECT_EQ(AccessTokenHash(Alg::kPS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
  EXPECT_EQ(AccessTokenHash(Alg::kES256, token), "77QmUPtjPfzWtF2AnpK9RQ");
  // EdDSA: OpenID Connect names no hash, so there is no at_hash.
  EXPECT_EQ(AccessTokenHash(Alg::kEdDSA, token), "");
  for (const std::string& t : std::vector<std::string>{"", "a", "another.token.value", std::string(300, 'z')}) {
    EXPECT_EQ(AccessTokenHash(Alg::kRS256, t), IndependentHalfHash(EVP_sha256(), t));
    EXPECT_EQ(AccessTokenHash(Alg::kEdDSA, t), "");
  }
}

TEST_F(IdTokenTest, IdentityClaimTypesOfGrantedEnabledIdentityResources) {
  EXPECT_EQ(IdentityClaimTypes(*snapshot_, {"openid", "email", "profile", "api", "off", "unknown"}),
            (std::vector<std::string>{"sub", "email", "email_verified", "name", "given_name", "age", "role",
                                      "nonce"}));
  EXPECT_EQ(IdentityClaimTypes(*snapshot_, {"api"}), std::vector<std::string>{});
  EXPECT_EQ(IdentityClaimTypes(*snapshot_, {"off"}), std::vector<std::string>{});
}

TEST_F(IdTokenTest, ClaimsAndSignatureWithTheDefaultAlgorithm) {
  const std::string payload = IssueAndVerify(Request(), Alg::kRS256);
  Json claims(payload);
  ASSERT_TRUE(claims.IsObject()) << payload;
  EXPECT_EQ(claims.Names(), (std::vector<std::string>{"iss", "sub", "aud", "iat", "nbf", "exp", "auth_time", "nonce",
                                                       "at_hash", "sid", "idp", "amr", "acr"}));
  EXPECT_EQ(claims.Str("iss"), kIssuer);
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("aud"), "app");  // a string, not an array
  EXPECT_EQ(claims.Num("iat"), kNow);
  EXPECT_EQ(claims.Num("nbf"), kNow);
  EXPECT_EQ(claims.Num("exp"), kNow + 600);
  EXPECT_EQ(claims.Num("auth_time"), kNow - 50);
  EXPECT_EQ(claims.Str("nonce"), "n-0S6_WzA2Mj");
  EXPECT_EQ(claims.Str("at_hash"), "77QmUPtjPfzWtF2AnpK9RQ");
  EXPECT_EQ(claims.Str("sid"), "session-1");
  EXPECT_EQ(claims.Str("idp"), "local");
  EXPECT_EQ(claims.Raw("amr"), R"(["pwd"])");
  EXPECT_EQ(claims.Str("acr"), "urn:example:loa:2");
}

TEST_F(IdTokenTest, OptionalClaimsAreOmittedWhenEmpty) {
  IdTokenRequest r = Request();
  r.nonce.clear();
  r.access_token.clear();
  r.sid.clear();
  r.acr.clear();
  Json claims(IssueAndVerify(r, Alg::kRS256));
  EXPECT_EQ(claims.Names(),
            (std::vector<std::string>{"iss", "sub", "aud", "iat", "nbf", "exp", "auth_time", "idp", "amr"}));
}

TEST_F(IdTokenTest, ConfiguredAlgorithmWhenTheClientListsNone) {
  config_.id_token_signing_alg = "ES256";
  Json claims(IssueAndVerify(Request(), Alg::kES256));
  EXPECT_EQ(claims.Str("at_hash"), "77QmUPtjPfzWtF2AnpK9RQ");
}

TEST_F(IdTokenTest, ClientAlgorithmsInOrderFirstWithACurrentKey) {
  client_.allowed_identity_token_signing_algorithms = {"PS256", "EdDSA"};
  Build({Alg::kRS256, Alg::kEdDSA});  // no PS256 key: EdDSA signs, although RS256 has a key and is configured
  Json claims(IssueAndVerify(Request(), Alg::kEdDSA));
  // No at_hash for EdDSA (Authlib and go-oidc refuse the SHA-512 one); the other claims are there.
  EXPECT_FALSE(claims.Has("at_hash")) << claims.Raw("at_hash");
  EXPECT_EQ(claims.Str("nonce"), "n-0S6_WzA2Mj");

  Build({Alg::kRS256, Alg::kPS256, Alg::kEdDSA});
  Json ps(IssueAndVerify(Request(), Alg::kPS256));
  EXPECT_EQ(ps.Str("at_hash"), "77QmUPtjPfzWtF2AnpK9RQ");
}

TEST_F(IdTokenTest, NoCurrentKeyIsAnInternalError) {
  client_.allowed_identity_token_signing_algorithms = {"PS256", "bogus"};
  Build({Alg::kRS256, Alg::kES256});
  Result<std::string> jwt = IssueIdToken(config_, *snapshot_, clock_, Request());
  ASSERT_FALSE(jwt.ok());
  EXPECT_EQ(jwt.status().code(), Status::Code::kInternal);
  EXPECT_NE(jwt.status().message().find("PS256"), std::string::npos);

  client_.allowed_identity_token_signing_algorithms.clear();
  config_.id_token_signing_alg = "RS256";
  Build({Alg::kES256});
  EXPECT_FALSE(SelectIdTokenSigningKey(config_, *snapshot_, snapshot_->clients.at("app")).ok());
}

TEST_F(IdTokenTest, UserClaimsOnlyWithAlwaysIncludeUserClaimsInIdToken) {
  Json without(IssueAndVerify(Request(), Alg::kRS256));
  EXPECT_FALSE(without.Has("name"));
  EXPECT_EQ(without.Str("sub"), "sub-alice");

  client_.always_include_user_claims_in_id_token = true;
  Build({Alg::kRS256});
  Json claims(IssueAndVerify(Request(), Alg::kRS256));
  ASSERT_TRUE(claims.IsObject());
  EXPECT_EQ(claims.Str("name"), "Alice");
  EXPECT_EQ(claims.Str("given_name"), "Alice");
  EXPECT_EQ(claims.Raw("email_verified"), "true");  // ValueType boolean
  EXPECT_EQ(claims.Raw("age"), "42");               // ValueType integer
  EXPECT_EQ(claims.Raw("role"), R"(["admin","user"])");
  // Protocol claims are never overwritten by a stored claim of the same name.
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("nonce"), "n-0S6_WzA2Mj");
  // Not granted (email), disabled resource (secret), API scope claims (department): absent.
  EXPECT_FALSE(claims.Has("email"));
  EXPECT_FALSE(claims.Has("secret"));
  EXPECT_FALSE(claims.Has("department"));

  // Without a nonce in the request, a stored "nonce" claim still cannot appear.
  IdTokenRequest r = Request();
  r.nonce.clear();
  Json no_nonce(IssueAndVerify(r, Alg::kRS256));
  EXPECT_FALSE(no_nonce.Has("nonce"));
}

}  // namespace
}  // namespace tf::oauth
