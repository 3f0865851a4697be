// tokenctl import: IdentityServer configuration JSON into the store, all or nothing.
#include "admin/import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "password/password_hash.h"
#include "store/store.h"
#include "util/clock.h"
#include "test_env.h"

namespace tf::admin {
namespace {

class ImportTest : public testing::StoreFixture {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(OpenStore("tf_import_test")); }

  ImportReport Run(std::string_view json, ImportOptions options = {}) {
    options.password_params = params_;
    if (options.clock == nullptr) options.clock = &clock_;
    ImportReport report;
    Status s = Import(json, store_.get(), options, &report);
    EXPECT_EQ(s.ok(), report.errors.empty()) << s.ToString();
    return report;
  }

  std::vector<store::Client> Clients() {
    std::vector<store::Client> out;
    EXPECT_TRUE(store_->Read([&](store::Txn& txn) {
                        auto c = txn.ListClients();
                        if (!c.ok()) return c.status();
                        out = *c;
                        return Status::OK();
                      }).ok());
    return out;
  }
  std::optional<store::Client> Client(std::string_view id) {
    for (auto& c : Clients()) {
      if (c.client_id == id) return c;
    }
    return std::nullopt;
  }
  size_t CountAll() {
    size_t n = 0;
    EXPECT_TRUE(store_->Read([&](store::Txn& txn) {
                        n = txn.ListClients()->size() + txn.ListApiScopes()->size() + txn.ListApiResources()->size() +
                            txn.ListIdentityResources()->size() + txn.ListUsers()->size();
                        return Status::OK();
                      }).ok());
    return n;
  }
  std::optional<store::User> User(std::string_view subject) {
    std::optional<store::User> out;
    EXPECT_TRUE(store_->Read([&](store::Txn& txn) {
                        auto u = txn.GetUser(subject);
                        if (u.ok()) out = *u;
                        return Status::OK();
                      }).ok());
    return out;
  }
  void SetLockout(std::string_view subject, int64_t failed, std::optional<int64_t> end) {
    ASSERT_TRUE(store_->Update([&](store::Txn& txn) {
                        auto u = txn.GetUser(subject);
                        if (!u.ok()) return u.status();
                        u->access_failed_count = failed;
                        u->lockout_end = end;
                        return txn.PutUser(*u);
                      }).ok());
  }
  std::string DataFile() {
    std::ifstream f(dir_ + "/db/data.mdb", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }

  ManualClock clock_{1700000000};
  Argon2Params params_{256, 1, 1};  // small, to keep the tests fast
};

bool Contains(const std::vector<std::string>& v, std::string_view needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

constexpr std::string_view kEveryKind = R"({
  "IdentityResources": [ { "Name": "openid", "UserClaims": ["sub"] }, { "Name": "profile" } ],
  "ApiScopes": [ { "Name": "api1", "DisplayName": "API one" }, { "Name": "api2" } ],
  "ApiResources": [ { "Name": "orders", "Scopes": ["api1", "api2"], "AllowedAccessTokenSigningAlgorithms": ["ES256"] } ],
  "Clients": [
    { "ClientId": "m2m", "AllowedGrantTypes": ["client_credentials"], "AllowedScopes": ["api1"],
      "ClientSecrets": [ { "Value": "zVd/4lYev/I1BdsLsAYwDHzey9RrwOA8RJr6+sosJb8=", "Expiration": "2030-01-01T00:00:00Z" } ],
      "AccessTokenLifetime": 600 },
    { "ClientId": "spa", "RequireClientSecret": false, "AllowedGrantTypes": ["authorization_code"],
      "AllowedScopes": ["openid", "profile", "api2", "offline_access"], "RedirectUris": ["https://app/cb"] }
  ]
})";

TEST_F(ImportTest, ImportsEveryRecordKind) {
  ImportReport r = Run(kEveryKind);
  EXPECT_TRUE(r.written);
  EXPECT_EQ(r.clients.added, 2);
  EXPECT_EQ(r.api_scopes.added, 2);
  EXPECT_EQ(r.api_resources.added, 1);
  EXPECT_EQ(r.identity_resources.added, 2);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  EXPECT_EQ(CountAll(), 7u);

  auto m2m = Client("m2m");
  ASSERT_TRUE(m2m);
  EXPECT_EQ(m2m->access_token_lifetime, 600);
  ASSERT_EQ(m2m->client_secrets.size(), 1u);
  EXPECT_EQ(m2m->client_secrets[0].value, "zVd/4lYev/I1BdsLsAYwDHzey9RrwOA8RJr6+sosJb8=");
  EXPECT_EQ(m2m->client_secrets[0].expiration, 1893456000);
  auto spa = Client("spa");
  ASSERT_TRUE(spa);
  EXPECT_TRUE(spa->IsPublic());
  EXPECT_EQ(spa->redirect_uris, std::vector<std::string>{"https://app/cb"});

  std::vector<store::ApiResource> apis;
  ASSERT_TRUE(store_->Read([&](store::Txn& txn) {
                      apis = *txn.ListApiResources();
                      return Status::OK();
                    }).ok());
  ASSERT_EQ(apis.size(), 1u);
  EXPECT_EQ(apis[0].scopes, (std::vector<std::string>{"api1", "api2"}));
  EXPECT_EQ(apis[0].allowed_access_token_signing_algorithms, std::vector<std::string>{"ES256"});
}

TEST_F(ImportTest, MissingPropertiesTakeIdentityServerDefaults) {
  Run(R"({"Clients": [ { "ClientId": "c" } ]})");
  auto c = Client("c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_token_lifetime, 3600);
  EXPECT_TRUE(c->require_pkce);
  EXPECT_TRUE(c->require_client_secret);
  EXPECT_TRUE(c->enabled);
  EXPECT_EQ(c->refresh_token_usage, store::RefreshTokenUsage::kOneTimeOnly);
  EXPECT_EQ(c->access_token_type, store::AccessTokenType::kJwt);
  EXPECT_EQ(c->client_claims_prefix, "client_");
}

TEST_F(ImportTest, EnumsAcceptNamesAndNumbers) {
  ImportReport r = Run(R"({"Clients": [
    { "ClientId": "names", "RefreshTokenUsage": "ReUse", "RefreshTokenExpiration": "Sliding", "AccessTokenType": "Reference" },
    { "ClientId": "numbers", "RefreshTokenUsage": 0, "RefreshTokenExpiration": 0, "AccessTokenType": 1 }
  ]})");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  for (const char* id : {"names", "numbers"}) {
    auto c = Client(id);
    ASSERT_TRUE(c) << id;
    EXPECT_EQ(c->refresh_token_usage, store::RefreshTokenUsage::kReUse) << id;
    EXPECT_EQ(c->refresh_token_expiration, store::TokenExpiration::kSliding) << id;
    EXPECT_EQ(c->access_token_type, store::AccessTokenType::kReference) << id;
  }
}

TEST_F(ImportTest, WrappedInIdentityServerSection) {
  ImportReport r = Run(R"({"IdentityServer": {"ApiScopes": [{"Name": "api1"}],
                          "Clients": [{"ClientId": "w", "AllowedScopes": ["api1"]}]}})");
  EXPECT_TRUE(r.written);
  EXPECT_EQ(r.clients.added, 1);
  EXPECT_EQ(r.api_scopes.added, 1);
  EXPECT_TRUE(Client("w"));
}

TEST_F(ImportTest, WrappedPathsNameTheSection) {
  ImportReport r = Run(R"({"IdentityServer": {"Clients": [{"ClientId": "ok"}, {"ClientId": "w", "Bogus": 1}]}})");
  EXPECT_TRUE(Contains(r.errors, "IdentityServer.Clients[1].Bogus")) << r.errors.front();
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, OtherAppsettingsSectionsAreSkippedWithOneNote) {
  constexpr std::string_view kAppsettings =
      R"({"Logging": {"LogLevel": {"Default": "Information"}}, "AllowedHosts": "*",
          "IdentityServer": {"Clients": [{"ClientId": "a"}]}})";
  ImportReport r = Run(kAppsettings);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_TRUE(r.unknown.empty());
  EXPECT_TRUE(Contains(r.warnings, "Logging, AllowedHosts: not IdentityServer configuration; skipped"));
  EXPECT_TRUE(r.written);
  EXPECT_TRUE(Client("a"));
}

// A stock appsettings.json as .NET reads it: comments, trailing commas, users beside the section.
TEST_F(ImportTest, AppsettingsWithCommentsTrailingCommasAndUsersBesideTheSection) {
  ImportReport r = Run(R"(// appsettings.json
{
  /* the application's own settings */
  "Logging": { "LogLevel": { "Default": "Information", }, },
  "IdentityServer": {
    "Clients": [
      { "ClientId": "a", "ClientName": "has // and /* inside", }, // a trailing comment
    ],
  },
  "Users": [ { "SubjectId": "1", "Username": "alice" } ],
})");
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
  EXPECT_TRUE(r.written);
  ASSERT_TRUE(Client("a"));
  EXPECT_EQ(Client("a")->client_name, "has // and /* inside");
  EXPECT_TRUE(Contains(r.warnings, "Logging: not IdentityServer configuration; skipped"));
  EXPECT_EQ(r.users.added, 1);

  r = Run(R"({"IdentityServer": {"Users": []}, "Users": []})");
  EXPECT_TRUE(Contains(r.errors, "Users: found both beside and inside the IdentityServer section"));
}

TEST_F(ImportTest, ErrorOffsetsCountCommentsAsWritten) {
  const std::string text = "{ /* c */ \"Clients\": [\n  // note\n  {\"ClientId\" \"a\"}\n]}";
  const size_t offset = text.find("\"a\"");
  ImportReport r = Run(text);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("line 3, column"), std::string::npos) << r.errors[0];
  EXPECT_NE(r.errors[0].find("byte " + std::to_string(offset)), std::string::npos) << r.errors[0];
  EXPECT_TRUE(Contains(Run("{\"Clients\": [] /* open").errors, "malformed JSON"));
}

TEST_F(ImportTest, SectionBesideTheWrapperIsAnError) {
  ImportReport r = Run(R"({"IdentityServer": {}, "Clients": [{"ClientId": "a"}]})");
  EXPECT_TRUE(Contains(r.errors, "Clients: found beside the IdentityServer section"));
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, ReimportUpdatesInPlaceAndKeepsOthers) {
  Run(R"({"Clients": [{"ClientId": "a", "AccessTokenLifetime": 100}, {"ClientId": "b"}],
          "ApiScopes": [{"Name": "s1"}]})");
  ImportReport r = Run(R"({"Clients": [{"ClientId": "a", "AccessTokenLifetime": 200}, {"ClientId": "c"}],
                          "ApiScopes": [{"Name": "s1"}]})");
  EXPECT_EQ(r.clients.added, 1);
  EXPECT_EQ(r.clients.updated, 1);
  EXPECT_EQ(r.clients.unchanged, 0);
  EXPECT_EQ(r.api_scopes.unchanged, 1);
  EXPECT_EQ(Client("a")->access_token_lifetime, 200);
  EXPECT_TRUE(Client("b")) << "records not in the file are kept";
  EXPECT_TRUE(Client("c"));
  EXPECT_EQ(Clients().size(), 3u);
}

TEST_F(ImportTest, UnchangedReimportDoesNotMoveTheConfigGeneration) {
  Run(R"({"Clients": [{"ClientId": "a"}]})");
  auto before = store_->ConfigGeneration();
  ASSERT_TRUE(before.ok());
  ImportReport r = Run(R"({"Clients": [{"ClientId": "a"}]})");
  EXPECT_EQ(r.clients.unchanged, 1);
  EXPECT_EQ(*store_->ConfigGeneration(), *before);
}

TEST_F(ImportTest, UnknownPropertyFailsWithItsPathAndWritesNothing) {
  ImportReport r = Run(R"({"ApiScopes": [{"Name": "fine"}],
                          "Clients": [{"ClientId": "a"}, {"ClientId": "b", "AllowedGrantType": ["client_credentials"]}]})");
  EXPECT_FALSE(r.written);
  EXPECT_EQ(r.unknown, std::vector<std::string>{"Clients[1].AllowedGrantType"});
  EXPECT_TRUE(Contains(r.errors, "Clients[1].AllowedGrantType: unknown property"));
  EXPECT_EQ(CountAll(), 0u);
}

// ---- Users -----------------------------------------------------------------------------------------------------

// ASP.NET Core Identity PasswordHasher v3 of "Pass123$": PBKDF2-HMAC-SHA256, 10000 iterations, salt 00..0f, made
// independently with Python's hashlib.pbkdf2_hmac.
constexpr std::string_view kIdentityV3Hash =
    "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw+GN2LDK6Da6EHX9EHqyiEU6w==";

constexpr std::string_view kAlice = R"({"Users": [{"SubjectId": "1", "Username": "alice",
  "Password": "alice-Secret-42", "Claims": [{"Type": "email", "Value": "alice@example.com"}]}]})";

TEST_F(ImportTest, UserPlaintextPasswordIsHashedAndNeverStored) {
  ImportReport r = Run(kAlice);
  ASSERT_TRUE(r.written) << r.errors.front();
  EXPECT_EQ(r.users.added, 1);
  auto alice = User("1");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->username, "alice");
  EXPECT_EQ(alice->password_hash.rfind("$argon2id$v=19$m=256,t=1,p=1$", 0), 0u) << alice->password_hash;
  EXPECT_TRUE(VerifyPassword(alice->password_hash, "alice-Secret-42", params_).match);
  EXPECT_FALSE(VerifyPassword(alice->password_hash, "alice-Secret-43", params_).match);
  EXPECT_EQ(alice->created, 1700000000);
  ASSERT_EQ(alice->claims.size(), 1u);
  EXPECT_EQ(alice->claims[0].value, "alice@example.com");
  EXPECT_EQ(store::ToJson(*alice).find("alice-Secret-42"), std::string::npos);
  store_.reset();  // flush and close before reading the file
  EXPECT_EQ(DataFile().find("alice-Secret-42"), std::string::npos) << "the plaintext password is in data.mdb";
  EXPECT_NE(DataFile().find("alice@example.com"), std::string::npos) << "the check above can see the file";
}

TEST_F(ImportTest, UserPasswordHashIsStoredAsIs) {
  auto phc = HashPassword("bob-password", params_);
  ASSERT_TRUE(phc.ok());
  ImportReport r = Run(R"({"Users": [{"SubjectId": "b", "Username": "bob", "PasswordHash": ")" + *phc +
                       R"("}, {"SubjectId": "c", "Username": "carol", "PasswordHash": ")" +
                       std::string(kIdentityV3Hash) + R"("}]})");
  ASSERT_TRUE(r.written) << r.errors.front();
  EXPECT_EQ(User("b")->password_hash, *phc);
  EXPECT_EQ(User("c")->password_hash, kIdentityV3Hash);
  EXPECT_TRUE(VerifyPassword(User("c")->password_hash, "Pass123$", params_).match);
}

TEST_F(ImportTest, UserWithPasswordAndPasswordHashIsAnError) {
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": "pw-one",
                                      "PasswordHash": ")" + std::string(kIdentityV3Hash) + R"("}]})");
  EXPECT_TRUE(Contains(r.errors, "Users[0]: both Password and PasswordHash")) << r.errors.front();
  EXPECT_FALSE(Contains(r.errors, "pw-one")) << "a password never appears in a message";
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, UserPasswordMustBeANonEmptyStringOfAtMost100Bytes) {
  EXPECT_TRUE(Contains(Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": 7}]})").errors,
                       "Users[0].Password: expected a string"));
  EXPECT_TRUE(Contains(Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": ""}]})").errors,
                       "Users[0].Password: empty"));
  const std::string long_password(101, 'p');
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": ")" + long_password + R"("}]})");
  EXPECT_TRUE(Contains(r.errors, "Users[0].Password: longer than 100 bytes"));
  EXPECT_FALSE(Contains(r.errors, long_password));
  EXPECT_EQ(CountAll(), 0u);
  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": ")" + std::string(100, 'p') + R"("}]})");
  EXPECT_TRUE(r.written) << "100 bytes is allowed";
}

TEST_F(ImportTest, UnrecognisedPasswordHashIsAnErrorThatHidesTheValue) {
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a"},
                                     {"SubjectId": "2", "Username": "b", "PasswordHash": "hunter2-plain"}]})");
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].rfind("Users[1].PasswordHash", 0), 0u) << r.errors[0];
  EXPECT_FALSE(Contains(r.errors, "hunter2-plain"));
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, DuplicateUsersInOneFileAreErrors) {
  ImportReport r =
      Run(R"({"Users": [{"SubjectId": "1", "Username": "alice"}, {"SubjectId": "2", "Username": "ALICE"}]})");
  EXPECT_TRUE(Contains(r.errors, "Users[1].Username: duplicate Username 'ALICE' with no tenant (also at Users[0]"))
      << r.errors.front();
  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Tenant": "t"}, {"SubjectId": "1", "Username": "b"}]})");
  EXPECT_TRUE(Contains(r.errors, "Users[1].SubjectId: duplicate SubjectId '1' (also at Users[0])"));
  EXPECT_EQ(CountAll(), 0u);
  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "alice", "Tenant": "t1"},
                        {"SubjectId": "2", "Username": "alice", "Tenant": "t2"},
                        {"SubjectId": "3", "Username": "alice"}]})");
  EXPECT_TRUE(r.written) << "one username per tenant: " << r.errors.front();
  EXPECT_EQ(r.users.added, 3);
}

TEST_F(ImportTest, UserReimportKeepsLockoutAndDoesNotRehash) {
  ASSERT_TRUE(Run(kAlice).written);
  const std::string hash = User("1")->password_hash;
  SetLockout("1", 2, 1700000900);
  clock_.Advance(100);

  ImportReport r = Run(kAlice);
  EXPECT_EQ(r.users.unchanged, 1) << "the same plaintext password again is no change";
  EXPECT_EQ(r.users.updated, 0);
  EXPECT_EQ(User("1")->password_hash, hash);

  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "Alice", "Password": "alice-Secret-42", "IsActive": false}]})");
  EXPECT_EQ(r.users.updated, 1);
  auto alice = User("1");
  EXPECT_EQ(alice->username, "Alice");
  EXPECT_FALSE(alice->is_active);
  EXPECT_TRUE(alice->claims.empty());
  EXPECT_EQ(alice->password_hash, hash) << "a verified password keeps its hash";
  EXPECT_EQ(alice->access_failed_count, 2) << "lockout state is the store's";
  EXPECT_EQ(alice->lockout_end, 1700000900);
  EXPECT_EQ(alice->created, 1700000000) << "Created stays";

  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "Alice", "Password": "new-Secret-43", "IsActive": false}]})");
  EXPECT_EQ(r.users.updated, 1);
  alice = User("1");
  EXPECT_NE(alice->password_hash, hash);
  EXPECT_TRUE(VerifyPassword(alice->password_hash, "new-Secret-43", params_).match);
  EXPECT_EQ(alice->access_failed_count, 2);
}

TEST_F(ImportTest, UserReimportRehashesWhenTheParametersChanged) {
  ASSERT_TRUE(Run(kAlice).written);
  const std::string hash = User("1")->password_hash;
  params_ = Argon2Params{512, 1, 1};
  ImportReport r = Run(kAlice);
  EXPECT_EQ(r.users.updated, 1);
  EXPECT_EQ(User("1")->password_hash.rfind("$argon2id$v=19$m=512,t=1,p=1$", 0), 0u);
  EXPECT_EQ(Run(kAlice).users.unchanged, 1);
}

TEST_F(ImportTest, UserWithoutPasswordKeepsTheStoredOne) {
  ASSERT_TRUE(Run(kAlice).written);
  const std::string hash = User("1")->password_hash;
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "alice", "Claims": []}]})");
  EXPECT_EQ(r.users.updated, 1);
  EXPECT_EQ(User("1")->password_hash, hash);
  EXPECT_FALSE(Contains(r.warnings, "cannot sign in")) << "the stored password still works";
  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "alice", "PasswordHash": ""}]})");
  EXPECT_EQ(r.users.updated, 1);
  EXPECT_EQ(User("1")->password_hash, "") << "an explicit empty PasswordHash removes the password";
  r = Run(R"({"Users": [{"SubjectId": "2", "Username": "nopw"}]})");
  EXPECT_TRUE(Contains(r.warnings, "Users[0]: no Password or PasswordHash, so 'nopw' cannot sign in"));
}

TEST_F(ImportTest, UserUnknownPropertiesAreReportedWithPaths) {
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": "pw-123456"},
                                     {"SubjectId": "2", "Username": "b", "Colour": "red", "LockoutEnd": 1900000000,
                                      "Claims": [{"Type": "t", "Value": "v", "Issuer": "x"}]}]})");
  EXPECT_EQ(r.unknown,
            (std::vector<std::string>{"Users[1].Colour", "Users[1].LockoutEnd", "Users[1].Claims[0].Issuer"}));
  EXPECT_TRUE(Contains(r.errors, "Users[1].Colour: unknown property"));
  EXPECT_FALSE(Contains(r.unknown, "Password")) << "Password is an import property";
  EXPECT_EQ(CountAll(), 0u);

  ImportOptions ignore;
  ignore.ignore_unknown = true;
  r = Run(R"({"Users": [{"SubjectId": "2", "Username": "b", "LockoutEnd": 1900000000, "AccessFailedCount": 4}]})",
          ignore);
  EXPECT_TRUE(r.written);
  EXPECT_FALSE(User("2")->lockout_end) << "lockout state is never imported";
  EXPECT_EQ(User("2")->access_failed_count, 0);
}

TEST_F(ImportTest, UsernameOfAStoreUserNotInTheFileIsAnError) {
  ASSERT_TRUE(Run(kAlice).written);
  ImportReport r = Run(R"({"Clients": [{"ClientId": "c"}],
                          "Users": [{"SubjectId": "2", "Username": "ALICE", "Password": "pw-123456"}]})");
  EXPECT_TRUE(Contains(r.errors, "Users[0].Username: 'ALICE' with no tenant already belongs to subject '1'"))
      << r.errors.front();
  EXPECT_FALSE(r.written);
  EXPECT_FALSE(User("2"));
  EXPECT_FALSE(Client("c")) << "nothing written";
}

TEST_F(ImportTest, UsersOfTheFileMaySwapUsernames) {
  ASSERT_TRUE(Run(R"({"Users": [{"SubjectId": "1", "Username": "alice"}, {"SubjectId": "2", "Username": "bob"}]})")
                  .written);
  ImportReport r =
      Run(R"({"Users": [{"SubjectId": "1", "Username": "bob"}, {"SubjectId": "2", "Username": "alice"}]})");
  ASSERT_TRUE(r.written) << r.errors.front();
  EXPECT_EQ(r.users.updated, 2);
  ASSERT_TRUE(store_->Read([&](store::Txn& txn) {
                      EXPECT_EQ(txn.FindUserByName("", "bob")->subject_id, "1");
                      EXPECT_EQ(txn.FindUserByName("", "alice")->subject_id, "2");
                      return Status::OK();
                    }).ok());
}

TEST_F(ImportTest, UsersDryRunWritesAndHashesNothing) {
  ASSERT_TRUE(Run(kAlice).written);
  const std::string hash = User("1")->password_hash;
  ImportOptions dry;
  dry.dry_run = true;
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "alice", "Password": "changed-pw-1",
                                      "Claims": [{"Type": "email", "Value": "alice@example.com"}]},
                                     {"SubjectId": "2", "Username": "bob", "Password": "bob-pw-123"}]})",
                       dry);
  EXPECT_FALSE(r.written);
  EXPECT_EQ(r.users.updated, 1) << "a password that does not verify is a change, even unhashed";
  EXPECT_EQ(r.users.added, 1);
  EXPECT_EQ(User("1")->password_hash, hash);
  EXPECT_FALSE(User("2"));
  EXPECT_EQ(Run(kAlice, dry).users.unchanged, 1);
}

TEST_F(ImportTest, PasswordShorterThanTheMinimumIsAnErrorButHashesAreExempt) {
  ImportOptions options;
  options.password_min_length = 8;
  ImportReport r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": "seven77"}]})", options);
  EXPECT_TRUE(Contains(r.errors, "Users[0].Password: shorter than password_min_length (8 bytes)"));
  EXPECT_FALSE(Contains(r.errors, "seven77"));
  EXPECT_FALSE(r.written);
  r = Run(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": "eight888"}]})", options);
  EXPECT_TRUE(r.errors.empty()) << r.errors.front();
}

TEST_F(ImportTest, UsersInsideTheIdentityServerSection) {
  ImportReport r = Run(R"({"IdentityServer": {"Users": [{"SubjectId": "1", "Username": "a", "Bad": 1}]}})");
  EXPECT_EQ(r.unknown, std::vector<std::string>{"IdentityServer.Users[0].Bad"});
  r = Run(R"({"IdentityServer": {"Users": [{"SubjectId": "1", "Username": "a", "Password": "pw-123456"}]}})");
  EXPECT_TRUE(r.written);
  EXPECT_TRUE(User("1"));
}

TEST_F(ImportTest, UsersDoNotMoveTheConfigGeneration) {
  const uint64_t generation = *store_->ConfigGeneration();
  ASSERT_TRUE(Run(kAlice).written);
  EXPECT_EQ(*store_->ConfigGeneration(), generation);
}

TEST_F(ImportTest, IgnoreUnknownProceedsWithWarnings) {
  ImportOptions options;
  options.ignore_unknown = true;
  ImportReport r = Run(R"({"Clients": [{"ClientId": "b", "Colour": "blue"}], "Extra": true})", options);
  EXPECT_TRUE(r.written);
  EXPECT_EQ(r.unknown, (std::vector<std::string>{"Clients[0].Colour", "Extra"}));
  EXPECT_TRUE(Contains(r.warnings, "Clients[0].Colour"));
  EXPECT_TRUE(Contains(r.warnings, "Extra"));
  EXPECT_TRUE(Client("b"));
}

TEST_F(ImportTest, BadValueFailsAtomicallyAfterGoodRecords) {
  ImportReport r = Run(R"({"ApiScopes": [{"Name": "s"}],
                          "Clients": [{"ClientId": "good"}, {"ClientId": "bad", "AccessTokenLifetime": "soon"}]})");
  EXPECT_FALSE(r.written);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].rfind("Clients[1].AccessTokenLifetime", 0), 0u) << r.errors[0];
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, BadValueDoesNotTouchExistingRecords) {
  Run(R"({"Clients": [{"ClientId": "a", "AccessTokenLifetime": 100}]})");
  ImportReport r = Run(R"({"Clients": [{"ClientId": "a", "AccessTokenLifetime": 200}, {"ClientId": 7}]})");
  EXPECT_TRUE(Contains(r.errors, "Clients[1].ClientId"));
  EXPECT_EQ(Client("a")->access_token_lifetime, 100);
}

TEST_F(ImportTest, SectionMustBeAnArrayOfObjects) {
  EXPECT_TRUE(Contains(Run(R"({"Clients": {"ClientId": "a"}})").errors, "Clients: expected an array"));
  EXPECT_TRUE(Contains(Run(R"({"ApiScopes": ["api1"]})").errors, "ApiScopes[0]: expected an object"));
  EXPECT_TRUE(Contains(Run(R"([{"ClientId": "a"}])").errors, "expected a JSON object"));
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, DuplicateIdsInOneFileAreErrors) {
  ImportReport r = Run(R"({"Clients": [{"ClientId": "x"}, {"ClientId": "y"}, {"ClientId": "x"}]})");
  EXPECT_TRUE(Contains(r.errors, "Clients[2].ClientId: duplicate ClientId 'x' (also at Clients[0])"))
      << r.errors.front();
  r = Run(R"({"ApiScopes": [{"Name": "s"}, {"Name": "s"}]})");
  EXPECT_TRUE(Contains(r.errors, "ApiScopes[1].Name: duplicate Name 's'"));
  r = Run(R"({"ApiResources": [{"Name": "r"}, {"Name": "r"}]})");
  EXPECT_TRUE(Contains(r.errors, "ApiResources[1].Name: duplicate"));
  r = Run(R"({"IdentityResources": [{"Name": "openid"}, {"Name": "openid"}]})");
  EXPECT_TRUE(Contains(r.errors, "IdentityResources[1].Name: duplicate"));
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, RepeatedPropertyNameIsAnError) {
  ImportReport r = Run(R"({"Clients": [{"ClientId": "a", "AccessTokenLifetime": 1, "AccessTokenLifetime": 2}]})");
  EXPECT_TRUE(Contains(r.errors, "Clients[0].AccessTokenLifetime: property appears twice")) << r.errors.front();
  EXPECT_EQ(CountAll(), 0u);
}

TEST_F(ImportTest, MalformedJsonReportsTheByteOffset) {
  const std::string text = "{\"Clients\": [\n  {\"ClientId\": \"a\",; }\n]}";
  const size_t offset = text.find(",;") + 1;  // the ';'
  ImportReport r = Run(text);
  ASSERT_EQ(r.errors.size(), 1u);
  // cJSON stops on the offending byte or just after it.
  const bool at = r.errors[0].find("malformed JSON near byte " + std::to_string(offset) + " (line 2, column 20)") !=
                  std::string::npos;
  const bool after = r.errors[0].find("malformed JSON near byte " + std::to_string(offset + 1) +
                                      " (line 2, column 21)") != std::string::npos;
  EXPECT_TRUE(at || after) << r.errors[0];
  EXPECT_FALSE(r.written);
}

TEST_F(ImportTest, TrailingGarbageAndBadUtf8AreMalformed) {
  EXPECT_TRUE(Contains(Run(R"({"Clients": []} x)").errors, "malformed JSON near byte 16"));
  const std::string bad_utf8 = "{\"Clients\": [{\"ClientId\": \"\xC3\x28\"}]}";
  EXPECT_TRUE(Contains(Run(bad_utf8).errors, "invalid UTF-8 at byte " + std::to_string(bad_utf8.find('\xC3'))));
  EXPECT_TRUE(Contains(Run(std::string_view("{}\0{}", 5)).errors, "NUL byte at byte 2"));
}

TEST_F(ImportTest, DanglingReferencesAreWarnings) {
  ImportReport r = Run(R"({
    "ApiScopes": [{"Name": "api1"}],
    "ApiResources": [{"Name": "res", "Scopes": ["api1", "ghost"]}],
    "Clients": [{"ClientId": "c", "AllowedGrantTypes": ["client_credentials", "client_credential"],
                 "AllowedScopes": ["api1", "missing", "offline_access", "openid"]}]})");
  EXPECT_TRUE(r.written) << "warnings do not stop the import";
  EXPECT_TRUE(Contains(r.warnings, "Clients[0].AllowedScopes[1]: scope 'missing'"));
  EXPECT_TRUE(Contains(r.warnings, "Clients[0].AllowedScopes[3]: scope 'openid'"))
      << "openid is known only when an IdentityResource of that name exists";
  EXPECT_FALSE(Contains(r.warnings, "AllowedScopes[0]"));
  EXPECT_FALSE(Contains(r.warnings, "AllowedScopes[2]")) << "offline_access is always known";
  EXPECT_TRUE(Contains(r.warnings, "ApiResources[0].Scopes[1]: scope 'ghost'"));
  EXPECT_TRUE(Contains(r.warnings, "Clients[0].AllowedGrantTypes[1]: unknown grant type 'client_credential'"));
  EXPECT_FALSE(Contains(r.warnings, "AllowedGrantTypes[0]"));
  EXPECT_EQ(r.warnings.size(), 4u);
}

TEST_F(ImportTest, ConfiguredExtensionGrantTypesAreKnown) {
  ImportOptions options;
  options.extension_grant_types = {"urn:example:grant-type:partner"};
  ImportReport r = Run(R"({"Clients": [{"ClientId": "c", "AllowedGrantTypes": ["urn:example:grant-type:partner",
                                                                               "urn:example:grant-type:other"]}]})",
                       options);
  EXPECT_TRUE(r.written);
  EXPECT_FALSE(Contains(r.warnings, "AllowedGrantTypes[0]"));
  EXPECT_TRUE(
      Contains(r.warnings, "Clients[0].AllowedGrantTypes[1]: unknown grant type 'urn:example:grant-type:other'"));
}

TEST_F(ImportTest, SecretValuesThatAreNotHashesAreWarnings) {
  ImportReport r = Run(R"({
    "ApiResources": [{"Name": "res", "ApiSecrets": [{"Value": "plain-secret"}]}],
    "Clients": [{"ClientId": "c", "ClientSecrets": [
      {"Value": "zVd/4lYev/I1BdsLsAYwDHzey9RrwOA8RJr6+sosJb8="},
      {"Value": "secret"},
      {"Type": "X509Thumbprint", "Value": "ABCDEF"}]}]})");
  EXPECT_TRUE(r.written);
  EXPECT_TRUE(Contains(r.warnings, "Clients[0].ClientSecrets[1].Value: not base64 of a SHA-256"));
  EXPECT_FALSE(Contains(r.warnings, "ClientSecrets[0]")) << "a SHA-256 hash is what IdentityServer stores";
  EXPECT_FALSE(Contains(r.warnings, "ClientSecrets[2]")) << "other secret types are not hashes";
  EXPECT_TRUE(Contains(r.warnings, "ApiResources[0].ApiSecrets[0].Value"));
  EXPECT_EQ(r.warnings.size(), 2u);
}

TEST_F(ImportTest, ScopesInTheStoreCountAsKnown) {
  Run(R"({"ApiScopes": [{"Name": "api1"}], "IdentityResources": [{"Name": "openid"}]})");
  ImportReport r = Run(R"({"ApiResources": [{"Name": "res", "Scopes": ["api1"]}],
                          "Clients": [{"ClientId": "c", "AllowedScopes": ["api1", "openid"]}]})");
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
}

TEST_F(ImportTest, DryRunCountsButWritesNothing) {
  Run(R"({"Clients": [{"ClientId": "a"}]})");
  const uint64_t generation = *store_->ConfigGeneration();
  ImportOptions dry;
  dry.dry_run = true;
  ImportReport r = Run(R"({"Clients": [{"ClientId": "a", "AccessTokenLifetime": 5}, {"ClientId": "b"}]})", dry);
  EXPECT_FALSE(r.written);
  EXPECT_EQ(r.clients.updated, 1);
  EXPECT_EQ(r.clients.added, 1);
  EXPECT_FALSE(Client("b"));
  EXPECT_EQ(Client("a")->access_token_lifetime, 3600);
  EXPECT_EQ(*store_->ConfigGeneration(), generation);
}

TEST(ImportWithoutStoreTest, DryRunValidatesTheFileAlone) {
  ImportOptions dry;
  dry.dry_run = true;
  ImportReport r;
  EXPECT_TRUE(Import(R"({"ApiScopes": [{"Name": "s"}], "Clients": [{"ClientId": "a", "AllowedScopes": ["s", "t"]}]})",
                     nullptr, dry, &r)
                  .ok());
  EXPECT_EQ(r.clients.added, 1);
  EXPECT_EQ(r.api_scopes.added, 1);
  EXPECT_TRUE(Contains(r.warnings, "scope 't'"));
  EXPECT_TRUE(Import(R"({"Users": [{"SubjectId": "1", "Username": "a", "Password": "pw-123456"}]})", nullptr, dry, &r)
                  .ok());
  EXPECT_EQ(r.users.added, 1);
  ImportOptions write;
  EXPECT_FALSE(Import(R"({"Clients": []})", nullptr, write, &r).ok()) << "a real import needs a store";
}

}  // namespace
}  // namespace tf::admin
