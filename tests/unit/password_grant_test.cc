// The password grant (RFC 6749 §4.3) end to end through oauth::Service over a real LMDB store in a temporary
// directory, with a ManualClock and cheap Argon2id parameters (m=1 MiB, t=1): parameter rules, acr_values (tenant,
// idp), scopes, the access token's user claims, the identical invalid_grant answers, lockout, concurrency and the
// upgrade of an imported ASP.NET Core Identity hash.
#include <cjson/cJSON.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "oauth/resource_owner.h"
#include "oauth/service.h"
#include "password/password_hash.h"
#include "store/records.h"
#include "store/store.h"
#include "token/jws.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::Basic;
using testing::Identity;
using testing::Json;
using testing::kNow;
using testing::RacingStore;
using testing::Scope;
constexpr char kIssuer[] = "https://auth.example.com";
constexpr char kInvalidGrantBody[] =
    R"({"error":"invalid_grant","error_description":"invalid username or password"})";

// ASP.NET Core Identity PasswordHasher v3 of "Pa55word!" (PBKDF2-HMAC-SHA256, 10000 iterations, salt 00..0f),
// made independently with Python: hashlib.pbkdf2_hmac('sha256', b'Pa55word!', bytes(range(16)), 10000, 32).
constexpr char kAspNetV3Hash[] = "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg8AFpj0T1prT+jZVt1TkaQi2JuFT+tAMS1LBckMqboKUQ==";

std::vector<std::string> Names(const cJSON* object) {
  std::vector<std::string> out;
  const cJSON* item;
  cJSON_ArrayForEach(item, object) { out.emplace_back(item->string); }
  return out;
}

class PasswordGrantTest : public testing::ServiceFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("password_grant_test"));

    config_.issuer = kIssuer;
    testing::UseCheapPasswordHashing(&config_);

    key_ = testing::NewSigningKey(token::Alg::kES256);
    ASSERT_NE(key_, nullptr);
    config_.access_token_signing_alg = "ES256";

    Put([&](store::Txn& t) -> Status {
      TF_RETURN_IF_ERROR(t.PutKey(testing::KeyRecordOf(*key_, kNow - 100)));

      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api1.read", {"email"})));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("api2")));
      TF_RETURN_IF_ERROR(t.PutApiScope(Scope("off", {"phone"}, /*enabled=*/false)));
      store::ApiResource api1;
      api1.name = "api1";
      api1.scopes = {"api1.read"};
      api1.user_claims = {"role"};
      TF_RETURN_IF_ERROR(t.PutApiResource(api1));
      store::ApiResource api2;
      api2.name = "api2";
      api2.scopes = {"api2"};
      api2.user_claims = {"department", "level"};
      TF_RETURN_IF_ERROR(t.PutApiResource(api2));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(Identity("openid", {"sub"})));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(Identity("profile", {"name"})));
      TF_RETURN_IF_ERROR(t.PutIdentityResource(Identity("gone", {"gone"}, /*enabled=*/false)));

      store::Client app;
      app.client_id = "app";
      app.client_secrets = {testing::HashedSecret("s3cret")};
      app.allowed_grant_types = {"password"};
      app.allowed_scopes = {"openid", "profile", "api1.read", "api2", "off", "gone", "unknown"};
      app.claims = {{"kind", "mobile", ""}};
      TF_RETURN_IF_ERROR(t.PutClient(app));

      store::Client pub;
      pub.client_id = "public";
      pub.require_client_secret = false;
      pub.allowed_grant_types = {"password"};
      pub.allowed_scopes = {"api2"};
      TF_RETURN_IF_ERROR(t.PutClient(pub));

      store::Client machine = app;
      machine.client_id = "machine";
      machine.allowed_grant_types = {"client_credentials"};
      TF_RETURN_IF_ERROR(t.PutClient(machine));

      store::Client reference = app;
      reference.client_id = "reference";
      reference.access_token_type = store::AccessTokenType::kReference;
      TF_RETURN_IF_ERROR(t.PutClient(reference));
      return Status::OK();
    });

    alice_ = AddUser("sub-alice", "alice", "", "Wonderland1",
                     {{"name", "Alice", ""},
                      {"email", "alice@example.com", ""},
                      {"role", "admin", ""},
                      {"role", "user", ""},
                      {"department", "R&D", ""},
                      {"level", "7", "http://www.w3.org/2001/XMLSchema#integer"},
                      {"phone", "555", ""},
                      {"tenant", "forged", ""},
                      {"sub", "forged", ""},
                      {"idp", "forged", ""}});
    NewService();
  }

  store::User AddUser(std::string subject, std::string username, std::string tenant, std::string_view password,
                      std::vector<store::ClaimValue> claims = {}) {
    store::User u;
    u.subject_id = std::move(subject);
    u.username = std::move(username);
    u.tenant = std::move(tenant);
    u.claims = std::move(claims);
    if (!password.empty()) u.password_hash = testing::CheapPasswordHash(password);
    Put([&](store::Txn& t) { return t.PutUser(u); });
    return u;
  }

  http::Response Post(const std::string& body, const std::string& authorization = Basic("app", "s3cret")) {
    return Handle(testing::FormPost("/connect/token", body, authorization));
  }

  http::Response Login(const std::string& username, const std::string& password, const std::string& extra = "") {
    return Post("grant_type=password&username=" + username + "&password=" + password + extra);
  }

  // A successful login's verified access-token claims (empty JSON text on failure).
  std::string Claims(const http::Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    Json body(r.body);
    if (!body.ok() || !body.Has("access_token")) return "";
    return testing::VerifiedJwsPayload(body.Str("access_token"), *key_);
  }

  void ExpectError(const http::Response& r, int status, std::string_view error, std::string_view description) {
    EXPECT_EQ(r.status, status) << r.body;
    Json body(r.body);
    ASSERT_TRUE(body.ok()) << r.body;
    EXPECT_EQ(body.Str("error"), error) << r.body;
    EXPECT_EQ(body.Str("error_description"), description) << r.body;
    EXPECT_EQ(log_.outcome, error);
  }

  void ExpectInvalidGrant(const http::Response& r) {
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, kInvalidGrantBody);
    EXPECT_EQ(r.headers, ReferenceInvalidGrantHeaders());
    EXPECT_EQ(log_.outcome, "invalid_grant");
  }

  static std::vector<std::pair<std::string, std::string>> ReferenceInvalidGrantHeaders() {
    return {{"Content-Type", "application/json"}, {"Cache-Control", "no-store"}, {"Pragma", "no-cache"},
            {"Vary", "Origin"}};
  }

  std::shared_ptr<const token::SigningKey> key_;
  store::User alice_;
};

TEST_F(PasswordGrantTest, HappyPathWithEveryClaim) {
  config_.acr_claim = true;
  config_.lockout_max_failures = 5;
  NewService();
  AddUser("sub-alice-acme", "alice", "acme", "Acme-pass",
          {{"email", "alice@acme.example", ""}, {"role", "owner", ""}, {"name", "Alice A.", ""}});
  http::Response r = Login("alice", "Acme-pass",
                           "&scope=openid+profile+api1.read+api2&acr_values=urn%3Amfa+tenant%3Aacme+idp%3Alocal+lvl2");
  const std::string payload = Claims(r);
  Json body(r.body);
  EXPECT_EQ(body.Str("token_type"), "Bearer");
  EXPECT_EQ(body.Num("expires_in"), 3600);
  EXPECT_EQ(body.Str("scope"), "openid profile api1.read api2");
  EXPECT_FALSE(body.Has("refresh_token"));
  EXPECT_FALSE(body.Has("id_token"));

  Json claims(payload);
  ASSERT_TRUE(claims.ok()) << payload;
  EXPECT_EQ(claims.Str("iss"), kIssuer);
  EXPECT_EQ(claims.Str("sub"), "sub-alice-acme");
  EXPECT_EQ(claims.Str("client_id"), "app");
  EXPECT_EQ(claims.Num("auth_time"), kNow);
  EXPECT_EQ(claims.Num("iat"), kNow);
  EXPECT_EQ(claims.Num("exp"), kNow + 3600);
  EXPECT_EQ(claims.Str("idp"), "local");
  EXPECT_EQ(claims.Strings("amr"), (std::vector<std::string>{"pwd"}));
  EXPECT_EQ(claims.Str("tenant"), "acme");
  EXPECT_EQ(claims.Str("acr"), "1");  // local_acr, never the requested values
  EXPECT_EQ(claims.Strings("aud"), (std::vector<std::string>{"api1", "api2"}));
  EXPECT_EQ(claims.Str("scope"), "openid profile api1.read api2");
  EXPECT_EQ(claims.Str("jti").size(), 22u);
  // email (api1.read's UserClaims) and role (api1's); not name (profile is an identity resource).
  EXPECT_EQ(claims.Str("email"), "alice@acme.example");
  EXPECT_EQ(claims.Str("role"), "owner");
  EXPECT_EQ(Names(claims.root()),
            (std::vector<std::string>{"iss", "nbf", "iat", "exp", "aud", "scope", "client_id", "sub", "auth_time",
                                      "idp", "amr", "tenant", "acr", "jti", "email", "role"}));
  EXPECT_EQ(log_.grant_type, "password");
  EXPECT_EQ(log_.client_id, "app");
  EXPECT_EQ(log_.outcome, "ok");
}

TEST_F(PasswordGrantTest, UserClaimsFollowTheGrantedApiScopesAndResources) {
  Json claims(Claims(Login("alice", "Wonderland1", "&scope=api1.read")));
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
  EXPECT_EQ(claims.Str("email"), "alice@example.com");
  EXPECT_EQ(claims.Strings("role"), (std::vector<std::string>{"admin", "user"}));  // repeated type -> array
  EXPECT_FALSE(claims.Has("department"));
  EXPECT_FALSE(claims.Has("phone"));   // only a disabled scope asks for it
  EXPECT_FALSE(claims.Has("name"));
  EXPECT_FALSE(claims.Has("tenant"));  // no tenant:NAME, and the user's own "tenant" claim cannot forge it
  EXPECT_EQ(claims.Str("idp"), "local");
  EXPECT_FALSE(claims.Has("acr"));
  EXPECT_FALSE(claims.Has("client_kind"));  // client claims need AlwaysSendClientClaims

  Json other(Claims(Login("alice", "Wonderland1", "&scope=api2")));
  EXPECT_EQ(other.Str("department"), "R&D");
  EXPECT_EQ(other.Num("level"), 7);  // ValueType integer
  EXPECT_FALSE(other.Has("email"));
  EXPECT_FALSE(other.Has("role"));

  Json identity_only(Claims(Login("alice", "Wonderland1", "&scope=openid+profile")));
  EXPECT_EQ(identity_only.Str("aud"), std::string(kIssuer) + "/resources");
  EXPECT_FALSE(identity_only.Has("email"));
  EXPECT_FALSE(identity_only.Has("name"));
}

TEST_F(PasswordGrantTest, ClientClaimsOnlyWithAlwaysSendClientClaims) {
  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->always_send_client_claims = true;
    return t.PutClient(*c);
  });
  Json claims(Claims(Login("alice", "Wonderland1", "&scope=api2")));
  EXPECT_EQ(claims.Str("client_kind"), "mobile");
  EXPECT_EQ(claims.Str("sub"), "sub-alice");

  // With an empty prefix, a client claim can neither forge a protocol claim nor repeat a user claim's name.
  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->client_claims_prefix = "";
    c->claims.push_back({"email", "client@example.com", ""});
    c->claims.push_back({"sub", "forged", ""});
    c->claims.push_back({"amr", "forged", ""});
    return t.PutClient(*c);
  });
  Json bare(Claims(Login("alice", "Wonderland1", "&scope=api1.read")));
  EXPECT_EQ(bare.Str("kind"), "mobile");
  EXPECT_EQ(bare.Str("email"), "alice@example.com");
  EXPECT_EQ(bare.Str("sub"), "sub-alice");
  EXPECT_EQ(bare.Strings("amr"), (std::vector<std::string>{"pwd"}));
  const std::vector<std::string> names = Names(bare.root());
  EXPECT_EQ(std::count(names.begin(), names.end(), "email"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "sub"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "amr"), 1);
}

TEST_F(PasswordGrantTest, AcrStatesTheLevelTheLoginMetNeverTheRequestedValues) {
  Json claims(Claims(Login("alice", "Wonderland1", "&scope=api2&acr_values=urn%3Amfa")));
  EXPECT_FALSE(claims.Has("acr"));  // acr_claim off
  config_.acr_claim = true;
  NewService();
  Json with(Claims(Login("alice", "Wonderland1", "&scope=api2&acr_values=urn%3Amfa+urn%3Amfa+b")));
  EXPECT_EQ(with.Str("acr"), "1");  // local_acr's default; the unsatisfiable urn:mfa is ignored
  Json none(Claims(Login("alice", "Wonderland1", "&scope=api2&acr_values=idp%3Alocal")));
  EXPECT_EQ(none.Str("acr"), "1");
  config_.local_acr = "urn:example:password";
  NewService();
  EXPECT_EQ(Json(Claims(Login("alice", "Wonderland1", "&scope=api2"))).Str("acr"), "urn:example:password");
  config_.local_acr.clear();
  NewService();
  EXPECT_FALSE(Json(Claims(Login("alice", "Wonderland1", "&scope=api2&acr_values=urn%3Amfa"))).Has("acr"));
}

TEST_F(PasswordGrantTest, OmittedScopeGrantsAllAllowedEnabledScopes) {
  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->allow_offline_access = true;
    c->allowed_scopes.push_back("offline_access");
    return t.PutClient(*c);
  });
  http::Response r = Login("alice", "Wonderland1");
  Json body(r.body);
  // Not off, gone or unknown; offline_access last, because the client has AllowOfflineAccess (as IdentityServer).
  EXPECT_EQ(body.Str("scope"), "openid profile api1.read api2 offline_access");
  EXPECT_TRUE(body.Has("refresh_token"));
}

TEST_F(PasswordGrantTest, ScopeRules) {
  ExpectError(Login("alice", "Wonderland1", "&scope=offline_access"), 400, "invalid_scope",
              "offline_access is not allowed for this client");
  ExpectError(Login("alice", "Wonderland1", "&scope=api2+nope"), 400, "invalid_scope",
              "a requested scope is unknown or not allowed for this client");
  ExpectError(Login("alice", "Wonderland1", "&scope=off"), 400, "invalid_scope",
              "a requested scope is unknown or not allowed for this client");
  ExpectError(Login("alice", "Wonderland1", "&scope=gone"), 400, "invalid_scope",
              "a requested scope is unknown or not allowed for this client");
  ExpectError(Login("alice", "Wonderland1", "&scope=unknown"), 400, "invalid_scope",
              "a requested scope is unknown or not allowed for this client");
  ExpectError(Login("alice", "Wonderland1", "&scope=" + std::string(301, 'a')), 400, "invalid_scope",
              "the scope parameter is too long");
  // The public client is not allowed openid.
  ExpectError(Post("grant_type=password&username=alice&password=Wonderland1&scope=openid&client_id=public", ""),
              400, "invalid_scope", "a requested scope is unknown or not allowed for this client");

  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->allow_offline_access = true;
    return t.PutClient(*c);
  });
  // With AllowOfflineAccess, offline_access is granted (refresh_grant_test.cc covers the refresh token).
  EXPECT_EQ(Json(Login("alice", "Wonderland1", "&scope=openid+offline_access").body).Str("scope"),
            "openid offline_access");
  // A scope error is not a failed login.
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
}

TEST_F(PasswordGrantTest, ClientMustBeAllowedTheGrant) {
  ExpectError(Post("grant_type=password&username=alice&password=Wonderland1", Basic("machine", "s3cret")), 400,
              "unauthorized_client", "the client is not allowed the password grant");
  // A Reference client gets an opaque access token (refresh_grant_test.cc checks what is stored).
  http::Response r = Post("grant_type=password&username=alice&password=Wonderland1", Basic("reference", "s3cret"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json(r.body).Str("access_token").size(), 43u);
}

TEST_F(PasswordGrantTest, PublicClientMayUseTheGrant) {
  AddUser("sub-bob", "bob", "", "Bobs-pass");
  Json claims(Claims(Post("grant_type=password&username=bob&password=Bobs-pass&client_id=public", "")));
  EXPECT_EQ(claims.Str("sub"), "sub-bob");
  EXPECT_EQ(claims.Str("client_id"), "public");
  EXPECT_EQ(claims.Str("scope"), "api2");
}

TEST_F(PasswordGrantTest, MissingAndOverlongCredentialsAreInvalidRequest) {
  ExpectError(Post("grant_type=password&password=Wonderland1"), 400, "invalid_request", "username is missing");
  ExpectError(Post("grant_type=password&username=alice&password="), 400, "invalid_request", "password is missing");
  ExpectError(Post("grant_type=password&username=alice"), 400, "invalid_request", "password is missing");
  const std::string hundred(100, 'p');
  ExpectError(Login(std::string(101, 'u'), "x"), 400, "invalid_request", "username is too long");
  ExpectError(Login("alice", hundred + "p"), 400, "invalid_request", "password is too long");
  // Over-long values are refused before the user is looked at: no failed login is counted.
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
  // 100 of each is allowed (and merely wrong).
  ExpectInvalidGrant(Login(std::string(100, 'u'), hundred));
  ExpectInvalidGrant(Login("alice", hundred));
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 1);
}

TEST_F(PasswordGrantTest, InvalidGrantAnswersAreByteIdentical) {
  AddUser("sub-nopw", "nopw", "", "");
  store::User disabled = AddUser("sub-disabled", "disabled", "", "Right-pass");
  disabled.is_active = false;
  Put([&](store::Txn& t) { return t.PutUser(disabled); });
  store::User locked = AddUser("sub-locked", "locked", "", "Right-pass");
  locked.lockout_end = kNow + 60;
  Put([&](store::Txn& t) { return t.PutUser(locked); });
  AddUser("sub-acme", "carol", "acme", "Right-pass");

  ExpectInvalidGrant(Login("nobody", "Right-pass"));                                  // unknown user
  ExpectInvalidGrant(Login("alice", "wrong"));                                        // wrong password
  ExpectInvalidGrant(Login("alice", "wonderland1"));                                  // passwords are case-sensitive
  ExpectInvalidGrant(Login("disabled", "Right-pass"));                                // IsActive false
  ExpectInvalidGrant(Login("locked", "Right-pass"));                                  // locked out
  ExpectInvalidGrant(Login("nopw", "anything"));                                      // no password hash
  ExpectInvalidGrant(Login("carol", "Right-pass"));                                   // other tenant
  ExpectInvalidGrant(Login("carol", "Right-pass", "&acr_values=tenant%3Aother"));     // wrong tenant
  ExpectInvalidGrant(Login("alice", "Wonderland1", "&acr_values=tenant%3Aacme"));     // not in that tenant
  // The disabled user's correct password changes nothing; the locked user's lockout is not extended.
  EXPECT_EQ(StoredUser("sub-disabled").access_failed_count, 0);
  EXPECT_EQ(StoredUser("sub-locked").lockout_end, kNow + 60);
  EXPECT_EQ(StoredUser("sub-locked").access_failed_count, 0);
  // Carol in acme signs in with her tenant.
  Json claims(Claims(Login("carol", "Right-pass", "&acr_values=tenant%3Aacme")));
  EXPECT_EQ(claims.Str("sub"), "sub-acme");
  EXPECT_EQ(claims.Str("tenant"), "acme");
}

TEST_F(PasswordGrantTest, UsernamesIgnoreAsciiCase) {
  Json claims(Claims(Login("ALICE", "Wonderland1", "&scope=api2")));
  EXPECT_EQ(claims.Str("sub"), "sub-alice");
}

TEST_F(PasswordGrantTest, SameUsernameInTwoTenants) {
  AddUser("sub-alice-acme", "alice", "acme", "Acme-pass");
  AddUser("sub-alice-globex", "Alice", "globex", "Globex-pass");
  Json none(Claims(Login("alice", "Wonderland1", "&scope=api2")));
  EXPECT_EQ(none.Str("sub"), "sub-alice");
  EXPECT_FALSE(none.Has("tenant"));
  Json acme(Claims(Login("alice", "Acme-pass", "&scope=api2&acr_values=tenant%3Aacme")));
  EXPECT_EQ(acme.Str("sub"), "sub-alice-acme");
  EXPECT_EQ(acme.Str("tenant"), "acme");
  Json globex(Claims(Login("alice", "Globex-pass", "&scope=api2&acr_values=tenant%3Aglobex")));
  EXPECT_EQ(globex.Str("sub"), "sub-alice-globex");
  EXPECT_EQ(globex.Str("tenant"), "globex");
  // Each password works only in its own tenant; a failure counts against that tenant's user only.
  ExpectInvalidGrant(Login("alice", "Acme-pass", "&acr_values=tenant%3Aglobex"));
  ExpectInvalidGrant(Login("alice", "Globex-pass"));
  EXPECT_EQ(StoredUser("sub-alice-globex").access_failed_count, 1);
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 1);
  EXPECT_EQ(StoredUser("sub-alice-acme").access_failed_count, 0);
  // Tenants compare exactly.
  ExpectInvalidGrant(Login("alice", "Acme-pass", "&acr_values=tenant%3AACME"));
}

TEST_F(PasswordGrantTest, AcrValuesErrorsAreInvalidRequest) {
  ExpectError(Login("alice", "Wonderland1", "&acr_values=tenant%3Aa+tenant%3Ab"), 400, "invalid_request",
              "acr_values names more than one tenant");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=idp%3Alocal+idp%3Alocal"), 400, "invalid_request",
              "acr_values names more than one identity provider");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=tenant%3A"), 400, "invalid_request",
              "the tenant in acr_values is empty");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=tenant%3A" + std::string(101, 't')), 400,
              "invalid_request", "the tenant in acr_values is too long");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=" + std::string(301, 'x')), 400, "invalid_request",
              "acr_values is too long");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=a%09b"), 400, "invalid_request",
              "acr_values contains a control character");
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
}

TEST_F(PasswordGrantTest, IdentityProviderRules) {
  Json local(Claims(Login("alice", "Wonderland1", "&scope=api2&acr_values=idp%3Alocal")));
  EXPECT_EQ(local.Str("idp"), "local");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=idp%3Aremote_user"), 400, "invalid_request",
              "the identity provider is not enabled");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=idp%3Agoogle"), 400, "invalid_request",
              "the identity provider is not enabled");

  config_.login_providers = {"local", "remote_user"};
  NewService();
  ExpectError(Login("alice", "Wonderland1", "&acr_values=idp%3Aremote_user"), 400, "invalid_request",
              "the identity provider cannot check passwords");

  // The client's IdentityProviderRestrictions, when not empty, limit the providers (the default "local" too).
  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->identity_provider_restrictions = {"remote_user"};
    return t.PutClient(*c);
  });
  ExpectError(Login("alice", "Wonderland1"), 400, "invalid_request", "the client is not allowed the identity provider");
  ExpectError(Login("alice", "Wonderland1", "&acr_values=idp%3Alocal"), 400, "invalid_request",
              "the client is not allowed the identity provider");
  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->identity_provider_restrictions = {"local"};
    return t.PutClient(*c);
  });
  Claims(Login("alice", "Wonderland1", "&acr_values=idp%3Alocal"));
  ExpectError(Login("alice", "Wonderland1", "&acr_values=idp%3Aremote_user"), 400, "invalid_request",
              "the client is not allowed the identity provider");

  // "local" off in the configuration: the password grant has no provider.
  config_.login_providers = {"remote_user"};
  NewService();
  ExpectError(Login("alice", "Wonderland1"), 400, "invalid_request", "the identity provider is not enabled");
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
}

TEST_F(PasswordGrantTest, EnableLocalLoginFalseRefusesLocal) {
  Put([&](store::Txn& t) -> Status {
    Result<store::Client> c = t.GetClient("app");
    if (!c.ok()) return c.status();
    c->enable_local_login = false;
    return t.PutClient(*c);
  });
  ExpectError(Login("alice", "Wonderland1"), 400, "invalid_request", "the client is not allowed the identity provider");
}

TEST_F(PasswordGrantTest, LockoutAfterConsecutiveFailures) {
  config_.lockout_max_failures = 3;
  config_.lockout_seconds = 300;
  NewService();
  // Two failures, then a success resets the count.
  ExpectInvalidGrant(Login("alice", "bad1"));
  ExpectInvalidGrant(Login("alice", "bad2"));
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 2);
  Claims(Login("alice", "Wonderland1"));
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);

  // Three consecutive failures lock the user for 300 s.
  for (int i = 0; i < 3; ++i) ExpectInvalidGrant(Login("alice", "bad"));
  store::User u = StoredUser("sub-alice");
  EXPECT_EQ(u.lockout_end, kNow + 300);
  EXPECT_EQ(u.access_failed_count, 0);

  // While locked, the right password fails identically, and failures neither extend nor count.
  clock_.Advance(100);
  ExpectInvalidGrant(Login("alice", "Wonderland1"));
  ExpectInvalidGrant(Login("alice", "bad"));
  u = StoredUser("sub-alice");
  EXPECT_EQ(u.lockout_end, kNow + 300);
  EXPECT_EQ(u.access_failed_count, 0);
  clock_.Advance(199);  // one second before the end
  ExpectInvalidGrant(Login("alice", "Wonderland1"));

  // The lockout ends with the clock; a success clears it.
  clock_.Advance(1);
  Json claims(Claims(Login("alice", "Wonderland1")));
  EXPECT_EQ(claims.Num("auth_time"), kNow + 300);
  u = StoredUser("sub-alice");
  EXPECT_FALSE(u.lockout_end.has_value());
  EXPECT_EQ(u.access_failed_count, 0);
}

TEST_F(PasswordGrantTest, FailuresAfterAnExpiredLockoutStartAFreshCount) {
  config_.lockout_max_failures = 2;
  NewService();
  ExpectInvalidGrant(Login("alice", "bad"));
  ExpectInvalidGrant(Login("alice", "bad"));
  EXPECT_EQ(StoredUser("sub-alice").lockout_end, kNow + 300);
  clock_.Advance(300);
  ExpectInvalidGrant(Login("alice", "bad"));
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 1);
  ExpectInvalidGrant(Login("alice", "bad"));
  EXPECT_EQ(StoredUser("sub-alice").lockout_end, kNow + 600);
}

TEST_F(PasswordGrantTest, LockoutDisabledWithZeroFailures) {
  config_.lockout_max_failures = 0;
  NewService();
  for (int i = 0; i < 8; ++i) ExpectInvalidGrant(Login("alice", "bad"));
  store::User u = StoredUser("sub-alice");
  EXPECT_EQ(u.access_failed_count, 0);
  EXPECT_FALSE(u.lockout_end.has_value());
  Claims(Login("alice", "Wonderland1"));
}

TEST_F(PasswordGrantTest, ConcurrentFailuresAllCount) {
  config_.lockout_max_failures = 1000;
  config_.password_hash_wait_ms = 60000;  // a bounded wait for a password check slot is tested elsewhere
  NewService();
  constexpr int kThreads = 6, kEach = 4;
  std::vector<std::thread> threads;
  std::vector<int> statuses(kThreads * kEach, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const http::Request r =
            testing::FormPost("/connect/token", "grant_type=password&username=alice&password=wrong" + std::to_string(t),
                              Basic("app", "s3cret"));
        statuses[t * kEach + i] = service_->HandleAndWait(r, nullptr).status;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int s : statuses) EXPECT_EQ(s, 400);
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, kThreads * kEach);
}

TEST_F(PasswordGrantTest, ConcurrentFailuresReachTheLockout) {
  config_.lockout_max_failures = 5;
  config_.password_hash_wait_ms = 60000;  // a bounded wait for a password check slot is tested elsewhere
  NewService();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      http::Request r;
      r.method = "POST";
      r.path = "/connect/token";
      r.content_type = "application/x-www-form-urlencoded";
      r.authorization = Basic("app", "s3cret");
      r.body = "grant_type=password&username=alice&password=wrong";
      (void)service_->HandleAndWait(r, nullptr);
    });
  }
  for (std::thread& t : threads) t.join();
  // 5 failures locked the user; the other 3 arrived while locked and changed nothing.
  store::User u = StoredUser("sub-alice");
  EXPECT_EQ(u.lockout_end, kNow + 300);
  EXPECT_EQ(u.access_failed_count, 0);
  ExpectInvalidGrant(Login("alice", "Wonderland1"));
}

TEST_F(PasswordGrantTest, AspNetIdentityHashIsUpgradedOnLogin) {
  store::User u;
  u.subject_id = "sub-migrated";
  u.username = "migrated";
  u.password_hash = kAspNetV3Hash;
  u.access_failed_count = 2;
  Put([&](store::Txn& t) { return t.PutUser(u); });

  // A wrong password leaves the hash alone (and counts).
  ExpectInvalidGrant(Login("migrated", "Pa55word"));
  EXPECT_EQ(StoredUser("sub-migrated").password_hash, kAspNetV3Hash);
  EXPECT_EQ(StoredUser("sub-migrated").access_failed_count, 3);

  Json claims(Claims(Login("migrated", "Pa55word%21", "&scope=api2")));
  EXPECT_EQ(claims.Str("sub"), "sub-migrated");
  const store::User after = StoredUser("sub-migrated");
  EXPECT_EQ(after.password_hash.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u) << after.password_hash;
  EXPECT_EQ(after.access_failed_count, 0);
  EXPECT_TRUE(VerifyPassword(after.password_hash, "Pa55word!", testing::kCheapArgon2).match);
  // The new hash works, and needs no further upgrade.
  Claims(Login("migrated", "Pa55word%21"));
  EXPECT_EQ(StoredUser("sub-migrated").password_hash, after.password_hash);
}

// After the configured Argon2id cost is raised, existing users still hold hashes of the old, cheaper cost until their
// next login. A failed login must do the same Argon2id work whether the user exists (with a cheap hash, an
// ASP.NET Core Identity hash or no password) or not: counted in KiB-passes, not timed.
TEST_F(PasswordGrantTest, ArgonWorkDoesNotDependOnWhetherTheUserExistsAfterACostChange) {
  store::User migrated;
  migrated.subject_id = "sub-migrated";
  migrated.username = "migrated";
  migrated.password_hash = kAspNetV3Hash;
  Put([&](store::Txn& t) { return t.PutUser(migrated); });
  AddUser("sub-nopass", "nopass", "", "");
  config_.password_hash_memory_kib = 2048;  // alice's hash has m=1024, t=1
  config_.password_hash_iterations = 2;
  NewService();
  const uint64_t configured = 2048 * 2;

  ExpectInvalidGrant(Login("nobody", "Warm-up-1"));  // the first dummy verification makes the dummy hash
  auto work_of = [&](const std::string& username) {
    const uint64_t before = ThreadHashWork().argon2_kib_passes;
    ExpectInvalidGrant(Login(username, "Wrong-pass-1"));
    return ThreadHashWork().argon2_kib_passes - before;
  };
  EXPECT_EQ(work_of("nobody"), configured);
  EXPECT_EQ(work_of("alice"), configured);
  EXPECT_EQ(work_of("migrated"), configured);
  EXPECT_EQ(work_of("nopass"), configured);
  // A successful login does the same verification work, then rehashes at the configured cost.
  const uint64_t before = ThreadHashWork().argon2_kib_passes;
  EXPECT_EQ(Login("alice", "Wonderland1").status, 200);
  EXPECT_EQ(ThreadHashWork().argon2_kib_passes - before, 2 * configured);
}

// Every Argon2id computation of a login, for a known or an unknown user, a failure or a success with a rehash, runs at
// background CPU priority, so that a flood of password requests yields the CPU to the cheap requests beside it.
TEST_F(PasswordGrantTest, PasswordHashingRunsAtBackgroundPriority) {
  config_.password_hash_memory_kib = 2048;  // alice's hash has m=1024, t=1: her successful login rehashes
  NewService();
  for (const auto& [username, password, status] :
       {std::make_tuple("nobody", "Wrong-pass-1", 400), std::make_tuple("alice", "Wrong-pass-1", 400),
        std::make_tuple("alice", "Wonderland1", 200)}) {
    const HashWork before = ThreadHashWork();
    EXPECT_EQ(Login(username, password).status, status) << username;
    const HashWork after = ThreadHashWork();
    EXPECT_GT(after.argon2_calls, before.argon2_calls) << username;
    EXPECT_EQ(after.argon2_background_calls - before.argon2_background_calls,
              after.argon2_calls - before.argon2_calls)
        << username;
  }
}

// Client authentication computes the same digests whether the client is unknown, has SHA-256 secrets or has
// SHA-512 secrets (imported from IdentityServer).
TEST_F(PasswordGrantTest, ClientSecretWorkDoesNotDependOnTheClient) {
  Put([&](store::Txn& t) {
    store::Client c;
    c.client_id = "imported";
    c.client_secrets = {store::Secret{}};
    c.client_secrets[0].value = Base64Encode(Sha512("imported-secret"));
    c.allowed_grant_types = {"password"};
    c.allowed_scopes = {"api2"};
    return t.PutClient(c);
  });
  NewService();
  auto work_of = [&](const std::string& client_id) {
    const DigestWork before = ThreadDigestWork();
    const http::Response r = Post("grant_type=password&username=alice&password=x", Basic(client_id, "wrong"));
    EXPECT_EQ(r.status, 401) << r.body;
    const DigestWork after = ThreadDigestWork();
    return std::make_pair(after.sha256 - before.sha256, after.sha512 - before.sha512);
  };
  work_of("nobody");  // the first request loads the configuration snapshot (key thumbprints are SHA-256 too)
  const auto unknown = work_of("nobody");
  EXPECT_EQ(unknown, std::make_pair(1ull, 1ull));
  EXPECT_EQ(work_of("app"), unknown);
  EXPECT_EQ(work_of("imported"), unknown);
}

// With every password check slot of the process taken, a password login waits password_hash_wait_ms and is then
// answered 503 temporarily_unavailable with Retry-After; once a slot is free, logins work again.
TEST_F(PasswordGrantTest, PasswordChecksBeyondTheConcurrencyAreTemporarilyUnavailable) {
  config_.password_hash_concurrency = 2;
  config_.password_hash_wait_ms = 0;
  NewService();
  PasswordCheckSlots& slots = PasswordCheckSlots::Process();
  ASSERT_TRUE(slots.Enter(2, std::chrono::milliseconds(0)));
  EXPECT_EQ(Login("alice", "Wonderland1").status, 200);  // one slot is still free
  ASSERT_TRUE(slots.Enter(2, std::chrono::milliseconds(0)));
  const uint64_t work_before = ThreadHashWork().argon2_calls;
  const http::Response busy = Login("alice", "Wonderland1");
  EXPECT_EQ(ThreadHashWork().argon2_calls, work_before);  // refused before any hashing
  slots.Leave();
  slots.Leave();
  ExpectError(busy, 503, "temporarily_unavailable", "too many password checks at once; retry shortly");
  EXPECT_EQ(testing::HeaderOf(busy, "Retry-After"), "1");
  EXPECT_EQ(testing::HeaderOf(busy, "Cache-Control"), "no-store");
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);  // nothing was counted against the user
  EXPECT_EQ(Login("alice", "Wonderland1").status, 200);
  // A full store is ResourceExhausted too, and is not mistaken for busy password checks.
  EXPECT_TRUE(PasswordChecksBusy(Status::ResourceExhausted(std::string(kPasswordChecksBusy))));
  EXPECT_FALSE(PasswordChecksBusy(Status::ResourceExhausted("mdb_put: database full: raise map_size")));
}

TEST_F(PasswordGrantTest, ArgonHashWithOtherParametersIsUpgraded) {
  Result<std::string> old_hash = HashPassword("Older-pass", Argon2Params{2048, 1, 1});
  ASSERT_TRUE(old_hash.ok());
  store::User u;
  u.subject_id = "sub-old";
  u.username = "old";
  u.password_hash = *old_hash;
  Put([&](store::Txn& t) { return t.PutUser(u); });
  Claims(Login("old", "Older-pass"));
  EXPECT_EQ(StoredUser("sub-old").password_hash.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u);
}

TEST_F(PasswordGrantTest, DisabledUserWithMigratedHashIsNotUpgraded) {
  store::User u;
  u.subject_id = "sub-m2";
  u.username = "m2";
  u.password_hash = kAspNetV3Hash;
  u.is_active = false;
  Put([&](store::Txn& t) { return t.PutUser(u); });
  ExpectInvalidGrant(Login("m2", "Pa55word%21"));
  EXPECT_EQ(StoredUser("sub-m2").password_hash, kAspNetV3Hash);
}

TEST_F(PasswordGrantTest, ChangesBetweenTheReadAndTheWriteMakeTheCheckStale) {
  RacingStore racing(store_.get());
  service_ = std::make_unique<Service>(config_, &racing, &clock_);
  // The password is changed (tokenctl user passwd) after it was verified against the old hash: refused, and the
  // new record is left alone.
  Result<std::string> new_hash = HashPassword("New-pass-1", testing::kCheapArgon2);
  ASSERT_TRUE(new_hash.ok());
  racing.BeforeNextUpdate([&](store::Store& s) {
    ASSERT_TRUE(s.Update([&](store::Txn& t) -> Status {
                   Result<store::User> u = t.GetUser("sub-alice");
                   if (!u.ok()) return u.status();
                   u->password_hash = *new_hash;
                   return t.PutUser(*u);
                 }).ok());
  });
  ExpectInvalidGrant(Login("alice", "Wonderland1"));
  EXPECT_EQ(StoredUser("sub-alice").password_hash, *new_hash);
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);
  // A wrong password checked against the old hash is not counted against the new one either.
  racing.BeforeNextUpdate([&](store::Store& s) {
    ASSERT_TRUE(s.Update([&](store::Txn& t) -> Status {
                   Result<store::User> u = t.GetUser("sub-alice");
                   if (!u.ok()) return u.status();
                   u->password_hash = "";
                   return t.PutUser(*u);
                 }).ok());
  });
  ExpectInvalidGrant(Login("alice", "bad"));
  EXPECT_EQ(StoredUser("sub-alice").access_failed_count, 0);

  // The user is removed meanwhile: refused, and not recreated.
  AddUser("sub-erin", "erin", "", "Erin-pass");
  racing.BeforeNextUpdate([&](store::Store& s) {
    ASSERT_TRUE(s.Update([&](store::Txn& t) { return t.RemoveUser("sub-erin"); }).ok());
  });
  ExpectInvalidGrant(Login("erin", "Erin-pass"));
  const Status st = store_->Read([&](store::Txn& t) { return t.GetUser("sub-erin").status(); });
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();

  // A lockout recorded meanwhile (by another worker) wins over a correct password.
  Put([&](store::Txn& t) -> Status {
    Result<store::User> u = t.GetUser("sub-alice");
    if (!u.ok()) return u.status();
    u->password_hash = *new_hash;
    return t.PutUser(*u);
  });
  racing.BeforeNextUpdate([&](store::Store& s) {
    ASSERT_TRUE(s.Update([&](store::Txn& t) -> Status {
                   Result<store::User> u = t.GetUser("sub-alice");
                   if (!u.ok()) return u.status();
                   u->lockout_end = kNow + 10;
                   return t.PutUser(*u);
                 }).ok());
  });
  ExpectInvalidGrant(Login("alice", "New-pass-1"));
  EXPECT_EQ(StoredUser("sub-alice").lockout_end, kNow + 10);
  // After the lockout, the new password works.
  clock_.Advance(10);
  Claims(Login("alice", "New-pass-1"));
}

TEST_F(PasswordGrantTest, DiscoveryListsThePasswordGrant) {
  http::Request r;
  r.method = "GET";
  r.path = "/.well-known/openid-configuration";
  Json doc(service_->HandleAndWait(r, &log_).body);
  const std::vector<std::string> types = doc.Strings("grant_types_supported");
  EXPECT_NE(std::find(types.begin(), types.end(), "password"), types.end());
}

}  // namespace
}  // namespace tf::oauth
