// Tests for store/records.h: the JSON shape of the configuration records and users (IdentityServer's PascalCase
// names), the import rules (defaults, enums, dates, unknown properties, error paths), the user invariants (no
// plaintext password, password-hash shapes, username normalisation) and the shared-secret check.
#include "store/records.h"

#include <cjson/cJSON.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace tf::store {
namespace {

// SHA-256 and SHA-512 of "secret", base64, as IdentityServer's "secret".Sha256() / .Sha512() store them
// (computed independently with `printf secret | openssl dgst -sha256 -binary | base64`).
constexpr char kSecretSha256[] = "K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols=";
constexpr char kSecretSha512[] =
    "vSsar3708Jvp9Szi2NWZZ02Bqp1qRCFpbcTZPdBhnWgs5WtNZKnvCXdhztmeD2cmW192CF5bDufKRpayrW/isg==";
constexpr int64_t k2030 = 1893456000;  // 2030-01-01T00:00:00Z

// Parses `text` and runs one of the FromJson functions on it.
template <typename R, typename Fn>
Result<R> FromText(const std::string& text, Fn fn, std::string_view path, std::vector<std::string>* unknown) {
  cJSON* json = cJSON_Parse(text.c_str());
  EXPECT_NE(json, nullptr) << text;
  Result<R> r = fn(json, path, unknown);
  cJSON_Delete(json);
  return r;
}

Result<Client> ParseClient(const std::string& text, std::vector<std::string>* unknown = nullptr,
                           std::string_view path = "Clients[0]") {
  std::vector<std::string> ignored;
  return FromText<Client>(text, ClientFromJson, path, unknown != nullptr ? unknown : &ignored);
}

template <typename R, typename Fn>
Result<R> RoundTrip(const R& r, Fn fn, std::vector<std::string>* unknown) {
  return FromText<R>(ToJson(r), fn, "", unknown);
}

std::vector<std::string> PropertyNames(const std::string& json) {
  cJSON* o = cJSON_Parse(json.c_str());
  std::vector<std::string> names;
  for (const cJSON* e = o != nullptr ? o->child : nullptr; e != nullptr; e = e->next) names.emplace_back(e->string);
  cJSON_Delete(o);
  return names;
}

Secret MakeSecret(std::string value, std::optional<int64_t> expiration = std::nullopt,
                  std::string type = "SharedSecret") {
  Secret s;
  s.type = std::move(type);
  s.value = std::move(value);
  s.expiration = expiration;
  return s;
}

Client FullClient() {
  Client c;
  c.client_id = "app";
  c.client_name = "App";
  c.description = "An \"app\" with \\ and \xc3\xa9";
  c.client_uri = "https://app.example";
  c.logo_uri = "https://app.example/logo.png";
  c.enabled = false;
  c.protocol_type = "saml";
  c.client_secrets = {MakeSecret(kSecretSha256, k2030), MakeSecret(kSecretSha512)};
  c.client_secrets[0].description = "primary";
  c.require_client_secret = false;
  c.allowed_grant_types = {"client_credentials", "authorization_code"};
  c.require_pkce = false;
  c.allow_plain_text_pkce = true;
  c.require_request_object = true;
  c.allow_access_tokens_via_browser = true;
  c.redirect_uris = {"https://app.example/cb"};
  c.post_logout_redirect_uris = {"https://app.example/bye"};
  c.front_channel_logout_uri = "https://app.example/fc";
  c.front_channel_logout_session_required = false;
  c.back_channel_logout_uri = "https://app.example/bc";
  c.back_channel_logout_session_required = false;
  c.allow_offline_access = true;
  c.allowed_scopes = {"openid", "api1"};
  c.always_include_user_claims_in_id_token = true;
  c.identity_token_lifetime = 11;
  c.allowed_identity_token_signing_algorithms = {"ES256"};
  c.access_token_lifetime = 12;
  c.authorization_code_lifetime = 13;
  c.absolute_refresh_token_lifetime = 14;
  c.sliding_refresh_token_lifetime = 15;
  c.consent_lifetime = 16;
  c.refresh_token_usage = RefreshTokenUsage::kReUse;
  c.update_access_token_claims_on_refresh = true;
  c.refresh_token_expiration = TokenExpiration::kSliding;
  c.access_token_type = AccessTokenType::kReference;
  c.enable_local_login = false;
  c.identity_provider_restrictions = {"Google"};
  c.include_jwt_id = false;
  c.claims = {ClaimValue{"role", "admin", "string"}};
  c.always_send_client_claims = true;
  c.client_claims_prefix = "";
  c.pair_wise_subject_salt = "salt";
  c.user_sso_lifetime = 17;
  c.user_code_type = "Numeric";
  c.device_code_lifetime = 18;
  c.polling_interval = 19;
  c.allowed_cors_origins = {"https://app.example"};
  c.require_consent = true;
  c.allow_remember_consent = false;
  c.properties = {{"tier", "gold"}, {"owner", "ops"}};
  return c;
}

void ExpectSameSecrets(const std::vector<Secret>& a, const std::vector<Secret>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].type, b[i].type);
    EXPECT_EQ(a[i].value, b[i].value);
    EXPECT_EQ(a[i].description, b[i].description);
    EXPECT_EQ(a[i].expiration, b[i].expiration);
  }
}

TEST(ClientJson, RoundTripKeepsEveryProperty) {
  const Client c = FullClient();
  std::vector<std::string> unknown;
  Result<Client> r = RoundTrip(c, ClientFromJson, &unknown);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(unknown.empty());
  const Client& p = *r;
  EXPECT_EQ(p.client_id, c.client_id);
  EXPECT_EQ(p.client_name, c.client_name);
  EXPECT_EQ(p.description, c.description);
  EXPECT_EQ(p.client_uri, c.client_uri);
  EXPECT_EQ(p.logo_uri, c.logo_uri);
  EXPECT_EQ(p.enabled, c.enabled);
  EXPECT_EQ(p.protocol_type, c.protocol_type);
  ExpectSameSecrets(p.client_secrets, c.client_secrets);
  EXPECT_EQ(p.require_client_secret, c.require_client_secret);
  EXPECT_EQ(p.allowed_grant_types, c.allowed_grant_types);
  EXPECT_EQ(p.require_pkce, c.require_pkce);
  EXPECT_EQ(p.allow_plain_text_pkce, c.allow_plain_text_pkce);
  EXPECT_EQ(p.require_request_object, c.require_request_object);
  EXPECT_EQ(p.allow_access_tokens_via_browser, c.allow_access_tokens_via_browser);
  EXPECT_EQ(p.redirect_uris, c.redirect_uris);
  EXPECT_EQ(p.post_logout_redirect_uris, c.post_logout_redirect_uris);
  EXPECT_EQ(p.front_channel_logout_uri, c.front_channel_logout_uri);
  EXPECT_EQ(p.front_channel_logout_session_required, c.front_channel_logout_session_required);
  EXPECT_EQ(p.back_channel_logout_uri, c.back_channel_logout_uri);
  EXPECT_EQ(p.back_channel_logout_session_required, c.back_channel_logout_session_required);
  EXPECT_EQ(p.allow_offline_access, c.allow_offline_access);
  EXPECT_EQ(p.allowed_scopes, c.allowed_scopes);
  EXPECT_EQ(p.always_include_user_claims_in_id_token, c.always_include_user_claims_in_id_token);
  EXPECT_EQ(p.identity_token_lifetime, c.identity_token_lifetime);
  EXPECT_EQ(p.allowed_identity_token_signing_algorithms, c.allowed_identity_token_signing_algorithms);
  EXPECT_EQ(p.access_token_lifetime, c.access_token_lifetime);
  EXPECT_EQ(p.authorization_code_lifetime, c.authorization_code_lifetime);
  EXPECT_EQ(p.absolute_refresh_token_lifetime, c.absolute_refresh_token_lifetime);
  EXPECT_EQ(p.sliding_refresh_token_lifetime, c.sliding_refresh_token_lifetime);
  EXPECT_EQ(p.consent_lifetime, c.consent_lifetime);
  EXPECT_EQ(p.refresh_token_usage, c.refresh_token_usage);
  EXPECT_EQ(p.update_access_token_claims_on_refresh, c.update_access_token_claims_on_refresh);
  EXPECT_EQ(p.refresh_token_expiration, c.refresh_token_expiration);
  EXPECT_EQ(p.access_token_type, c.access_token_type);
  EXPECT_EQ(p.enable_local_login, c.enable_local_login);
  EXPECT_EQ(p.identity_provider_restrictions, c.identity_provider_restrictions);
  EXPECT_EQ(p.include_jwt_id, c.include_jwt_id);
  ASSERT_EQ(p.claims.size(), 1u);
  EXPECT_EQ(p.claims[0].type, "role");
  EXPECT_EQ(p.claims[0].value, "admin");
  EXPECT_EQ(p.claims[0].value_type, "string");
  EXPECT_EQ(p.always_send_client_claims, c.always_send_client_claims);
  EXPECT_EQ(p.client_claims_prefix, c.client_claims_prefix);
  EXPECT_EQ(p.pair_wise_subject_salt, c.pair_wise_subject_salt);
  EXPECT_EQ(p.user_sso_lifetime, c.user_sso_lifetime);
  EXPECT_EQ(p.user_code_type, c.user_code_type);
  EXPECT_EQ(p.device_code_lifetime, c.device_code_lifetime);
  EXPECT_EQ(p.polling_interval, c.polling_interval);
  EXPECT_EQ(p.allowed_cors_origins, c.allowed_cors_origins);
  EXPECT_EQ(p.require_consent, c.require_consent);
  EXPECT_EQ(p.allow_remember_consent, c.allow_remember_consent);
  EXPECT_EQ(p.properties, c.properties);
  EXPECT_EQ(ToJson(p), ToJson(c));
}

TEST(ClientJson, ToJsonIsCompactVersionedAndWritesEveryProperty) {
  const std::string json = ToJson(Client{.client_id = "c"});
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_EQ(json.rfind("{\"v\":1,\"ClientId\":\"c\",", 0), 0u) << json;
  const std::vector<std::string> names = PropertyNames(json);
  EXPECT_EQ(names.size(), 50u);  // "v" and the 49 IdentityServer properties
  const std::set<std::string> set(names.begin(), names.end());
  for (const char* n : {"ClientSecrets", "AllowedGrantTypes", "AccessTokenLifetime", "RefreshTokenUsage",
                        "ConsentLifetime", "PollingInterval", "Properties", "Claims", "AllowRememberConsent"}) {
    EXPECT_TRUE(set.count(n)) << n;
  }
  // Absent optional values are written as null, enums by name, secrets with Unix-seconds expirations.
  EXPECT_NE(json.find("\"ConsentLifetime\":null"), std::string::npos);
  EXPECT_NE(json.find("\"RefreshTokenUsage\":\"OneTimeOnly\""), std::string::npos);
  EXPECT_NE(json.find("\"AccessTokenType\":\"Jwt\""), std::string::npos);
  const std::string with_secret = ToJson(Client{.client_id = "c", .client_secrets = {MakeSecret("x", k2030)}});
  EXPECT_NE(with_secret.find("\"Expiration\":1893456000"), std::string::npos) << with_secret;
}

TEST(ClientJson, MissingPropertiesTakeIdentityServerDefaults) {
  Result<Client> r = ParseClient(R"({"ClientId":"c"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ToJson(*r), ToJson(Client{.client_id = "c"}));
  EXPECT_TRUE(r->enabled);
  EXPECT_TRUE(r->require_client_secret);
  EXPECT_TRUE(r->require_pkce);
  EXPECT_EQ(r->protocol_type, "oidc");
  EXPECT_EQ(r->access_token_lifetime, 3600);
  EXPECT_EQ(r->identity_token_lifetime, 300);
  EXPECT_EQ(r->absolute_refresh_token_lifetime, 2592000);
  EXPECT_EQ(r->sliding_refresh_token_lifetime, 1296000);
  EXPECT_EQ(r->refresh_token_usage, RefreshTokenUsage::kOneTimeOnly);
  EXPECT_EQ(r->refresh_token_expiration, TokenExpiration::kAbsolute);
  EXPECT_EQ(r->client_claims_prefix, "client_");
  EXPECT_FALSE(r->consent_lifetime.has_value());
}

TEST(ClientJson, NullMeansAbsent) {
  Result<Client> r = ParseClient(
      R"({"ClientId":"c","AccessTokenLifetime":null,"ConsentLifetime":null,"ClientName":null,"RedirectUris":null,
          "ClientSecrets":[{"Value":"x","Expiration":null,"Description":null}]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->access_token_lifetime, 3600);
  EXPECT_FALSE(r->consent_lifetime.has_value());
  ASSERT_EQ(r->client_secrets.size(), 1u);
  EXPECT_FALSE(r->client_secrets[0].expiration.has_value());
  EXPECT_EQ(r->client_secrets[0].type, "SharedSecret");
}

TEST(ClientJson, RecordVersionIsAcceptedAndChecked) {
  EXPECT_TRUE(ParseClient(R"({"v":1,"ClientId":"c"})").ok());
  Result<Client> r = ParseClient(R"({"v":2,"ClientId":"c"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("Clients[0].v: ", 0), 0u) << r.status().message();
}

TEST(ClientJson, EnumsByNameOrNumber) {
  Result<Client> r = ParseClient(R"({"ClientId":"c","RefreshTokenUsage":"ReUse","RefreshTokenExpiration":0,
                                     "AccessTokenType":"reference"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->refresh_token_usage, RefreshTokenUsage::kReUse);
  EXPECT_EQ(r->refresh_token_expiration, TokenExpiration::kSliding);
  EXPECT_EQ(r->access_token_type, AccessTokenType::kReference);

  r = ParseClient(R"({"ClientId":"c","RefreshTokenUsage":0,"RefreshTokenExpiration":"Absolute","AccessTokenType":1})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->refresh_token_usage, RefreshTokenUsage::kReUse);
  EXPECT_EQ(r->refresh_token_expiration, TokenExpiration::kAbsolute);
  EXPECT_EQ(r->access_token_type, AccessTokenType::kReference);
}

TEST(ClientJson, BadEnumNamesThePathAndTheChoices) {
  for (const char* bad : {R"("Forever")", "2", "-1", "0.5", "true", "[]"}) {
    Result<Client> r = ParseClient(std::string(R"({"ClientId":"c","RefreshTokenUsage":)") + bad + "}");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "Clients[0].RefreshTokenUsage: expected ReUse, OneTimeOnly, 0 or 1") << bad;
  }
}

// The one retention rule for family revocation records: the token endpoint, the revocation endpoint and tokenctl
// all keep a record until now + this (refresh_grant_test, revocation_test and grants_admin_test pin each caller).
TEST(FamilyRevocationRetention, LongestAccessTokenLifetimePlusSkew) {
  EXPECT_EQ(FamilyRevocationRetention({}, 0), 0);
  EXPECT_EQ(FamilyRevocationRetention({}, 300), 300);
  Client a, b, c;
  a.access_token_lifetime = 600;
  b.access_token_lifetime = 7200;
  c.access_token_lifetime = 3600;
  EXPECT_EQ(FamilyRevocationRetention({a, b, c}, 0), 7200);
  EXPECT_EQ(FamilyRevocationRetention({a, b, c}, 300), 7500);
  EXPECT_EQ(FamilyRevocationRetention({a}, 5), 605);
}

TEST(ClientJson, DatesIsoOrUnixSeconds) {
  struct Case {
    const char* json;
    int64_t want;
  } cases[] = {
      {R"("2030-01-01T00:00:00Z")", k2030},
      {"1893456000", k2030},
      {R"("2030-01-01T00:00:00.123Z")", k2030},
      {R"("2030-01-01T02:00:00+02:00")", k2030},
      {R"("2029-12-31T23:30:00-00:30")", k2030},
      {R"("2030-01-01")", k2030},
      {R"("2030-01-01t00:00:00z")", k2030},
      {R"("1893456000")", k2030},  // util/timestamp.h's grammar, as tokenctl --expires reads it
      {R"("2028-02-29T12:34:56Z")", 1835440496},
      {R"("1970-01-01T00:00:00Z")", 0},
  };
  for (const Case& c : cases) {
    Result<Client> r =
        ParseClient(std::string(R"({"ClientId":"c","ClientSecrets":[{"Value":"x","Expiration":)") + c.json + "}]}");
    ASSERT_TRUE(r.ok()) << c.json << ": " << r.status().ToString();
    EXPECT_EQ(r->client_secrets[0].expiration, c.want) << c.json;
  }
}

TEST(ClientJson, BadDatesNameThePath) {
  for (const char* bad : {R"("2030-01-01T00:00:00")", R"("2030-13-01T00:00:00Z")", R"("2030-02-29T00:00:00Z")",
                          R"("2030-01-01T24:00:00Z")", R"("2030-01-01T00:00:00ZZ")", R"("2030-1-1")",
                          R"("tomorrow")", R"("")", R"("1969-12-31T23:59:59Z")", "1.5", "true", "{}"}) {
    Result<Client> r =
        ParseClient(std::string(R"({"ClientId":"c","ClientSecrets":[{"Value":"x"},{"Value":"y","Expiration":)") +
                    bad + "}]}");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("Clients[0].ClientSecrets[1].Expiration: expected an ISO-8601 UTC date", 0),
              0u)
        << bad << " -> " << r.status().message();
  }
}

TEST(ClientJson, UnknownPropertiesAreListedWithPaths) {
  std::vector<std::string> unknown;
  Result<Client> r = ParseClient(
      R"({"ClientId":"c","AllowedGrantType":["x"],"RequireDPoP":true,
          "ClientSecrets":[{"Value":"x"},{"Value":"y","Foo":1}],
          "Claims":[{"Type":"a","Value":"b","Bar":null}]})",
      &unknown, "Clients[2]");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(unknown, (std::vector<std::string>{"Clients[2].AllowedGrantType", "Clients[2].RequireDPoP",
                                               "Clients[2].ClientSecrets[1].Foo", "Clients[2].Claims[0].Bar"}));
  // Known properties were still read.
  EXPECT_EQ(r->client_secrets.size(), 2u);
  // "v" is only a property of whole records, not of nested objects.
  unknown.clear();
  ASSERT_TRUE(ParseClient(R"({"ClientId":"c","ClientSecrets":[{"v":1,"Value":"x"}]})", &unknown).ok());
  EXPECT_EQ(unknown, (std::vector<std::string>{"Clients[0].ClientSecrets[0].v"}));
}

TEST(ClientJson, UnknownPropertyIsAnErrorWithoutAList) {
  cJSON* json = cJSON_Parse(R"({"ClientId":"c","Colour":"red"})");
  Result<Client> r = ClientFromJson(json, "Clients[0]", nullptr);
  cJSON_Delete(json);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Clients[0].Colour: unknown property");
}

TEST(ClientJson, BadValuesStartWithTheJsonPath) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {R"({"ClientId":"c","AccessTokenLifetime":-1})", "Clients[0].AccessTokenLifetime: expected a non-negative integer"},
      {R"({"ClientId":"c","AccessTokenLifetime":"3600"})",
       "Clients[0].AccessTokenLifetime: expected a non-negative integer"},
      {R"({"ClientId":"c","AccessTokenLifetime":1.5})", "Clients[0].AccessTokenLifetime: expected a non-negative integer"},
      {R"({"ClientId":"c","ConsentLifetime":-5})", "Clients[0].ConsentLifetime: expected a non-negative integer"},
      {R"({"ClientId":"c","Enabled":"yes"})", "Clients[0].Enabled: expected true or false"},
      {R"({"ClientId":"c","ClientName":7})", "Clients[0].ClientName: expected a string"},
      {R"({"ClientId":"c","RedirectUris":"https://x"})", "Clients[0].RedirectUris: expected an array of strings"},
      {R"({"ClientId":"c","RedirectUris":["https://x",3]})", "Clients[0].RedirectUris[1]: expected a string"},
      {R"({"ClientId":"c","Properties":{"a":"b","c":1}})", "Clients[0].Properties.c: expected a string"},
      {R"({"ClientId":"c","ClientSecrets":[{"Type":"SharedSecret"}]})", "Clients[0].ClientSecrets[0].Value: required"},
      {R"({"ClientId":"c","ClientSecrets":["K7gN"]})", "Clients[0].ClientSecrets[0]: expected an object"},
      {R"({"ClientId":"c","Claims":[{"Value":"v"}]})", "Clients[0].Claims[0].Type: required"},
      {R"({"ClientName":"no id"})", "Clients[0].ClientId: required"},
      {R"({"ClientId":""})", "Clients[0].ClientId: required"},
      {R"({"ClientId":null})", "Clients[0].ClientId: required"},
      {R"({"ClientId":"c","ClientId":"d"})", "Clients[0].ClientId: duplicate property"},
      {R"(["ClientId"])", "Clients[0]: expected an object"},
  };
  for (const Case& c : cases) {
    Result<Client> r = ParseClient(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << c.json;
    EXPECT_EQ(r.status().message(), c.message) << c.json;
  }
}

TEST(ClientJson, ClientIdLength) {
  EXPECT_TRUE(ParseClient(R"({"ClientId":")" + std::string(100, 'a') + "\"}").ok());
  Result<Client> r = ParseClient(R"({"ClientId":")" + std::string(101, 'a') + "\"}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("Clients[0].ClientId: ", 0), 0u);
}

TEST(ClientJson, EmptyPathGivesBarePropertyNames) {
  std::vector<std::string> unknown;
  Result<Client> r = FromText<Client>(R"({"ClientId":"c","X":1,"AccessTokenLifetime":true})", ClientFromJson, "",
                                      &unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "AccessTokenLifetime: expected a non-negative integer");
}

TEST(ResourceJson, ApiScopeRoundTripAndDefaults) {
  ApiScope s{.name = "api1.read", .display_name = "Read", .description = "d", .enabled = false, .required = true,
             .emphasize = true, .show_in_discovery_document = false, .user_claims = {"role"},
             .properties = {{"k", "v"}}};
  std::vector<std::string> unknown;
  Result<ApiScope> r = RoundTrip(s, ApiScopeFromJson, &unknown);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, s.name);
  EXPECT_EQ(r->display_name, s.display_name);
  EXPECT_EQ(r->description, s.description);
  EXPECT_EQ(r->enabled, s.enabled);
  EXPECT_EQ(r->required, s.required);
  EXPECT_EQ(r->emphasize, s.emphasize);
  EXPECT_EQ(r->show_in_discovery_document, s.show_in_discovery_document);
  EXPECT_EQ(r->user_claims, s.user_claims);
  EXPECT_EQ(r->properties, s.properties);
  EXPECT_TRUE(unknown.empty());

  r = FromText<ApiScope>(R"({"Name":"x"})", ApiScopeFromJson, "ApiScopes[0]", &unknown);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->enabled);
  EXPECT_TRUE(r->show_in_discovery_document);
  EXPECT_FALSE(r->required);

  r = FromText<ApiScope>(R"({"DisplayName":"x"})", ApiScopeFromJson, "ApiScopes[3]", &unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "ApiScopes[3].Name: required");
}

TEST(ResourceJson, ApiResourceRoundTrip) {
  ApiResource a{.name = "api1", .display_name = "API 1", .description = "d", .enabled = false,
                .show_in_discovery_document = false, .require_resource_indicator = true, .scopes = {"s1", "s2"},
                .api_secrets = {MakeSecret(kSecretSha256, 5)}, .user_claims = {"email"},
                .allowed_access_token_signing_algorithms = {"RS256", "ES256"}, .properties = {{"a", "b"}}};
  std::vector<std::string> unknown;
  Result<ApiResource> r = RoundTrip(a, ApiResourceFromJson, &unknown);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, a.name);
  EXPECT_EQ(r->display_name, a.display_name);
  EXPECT_EQ(r->description, a.description);
  EXPECT_EQ(r->enabled, a.enabled);
  EXPECT_EQ(r->show_in_discovery_document, a.show_in_discovery_document);
  EXPECT_EQ(r->require_resource_indicator, a.require_resource_indicator);
  EXPECT_EQ(r->scopes, a.scopes);
  ExpectSameSecrets(r->api_secrets, a.api_secrets);
  EXPECT_EQ(r->user_claims, a.user_claims);
  EXPECT_EQ(r->allowed_access_token_signing_algorithms, a.allowed_access_token_signing_algorithms);
  EXPECT_EQ(r->properties, a.properties);

  unknown.clear();
  r = FromText<ApiResource>(R"({"Name":"api1","ApiSecrets":[{"Value":"x","Expiration":"soon"}],"Scopez":[]})",
                            ApiResourceFromJson, "ApiResources[1]", &unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("ApiResources[1].ApiSecrets[0].Expiration: ", 0), 0u);
}

TEST(ResourceJson, IdentityResourceRoundTrip) {
  IdentityResource i{.name = "profile", .display_name = "Profile", .description = "d", .enabled = false,
                     .required = true, .emphasize = true, .show_in_discovery_document = false,
                     .user_claims = {"name", "family_name"}, .properties = {{"x", "y"}}};
  std::vector<std::string> unknown;
  Result<IdentityResource> r = RoundTrip(i, IdentityResourceFromJson, &unknown);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->name, i.name);
  EXPECT_EQ(r->display_name, i.display_name);
  EXPECT_EQ(r->description, i.description);
  EXPECT_EQ(r->enabled, i.enabled);
  EXPECT_EQ(r->required, i.required);
  EXPECT_EQ(r->emphasize, i.emphasize);
  EXPECT_EQ(r->show_in_discovery_document, i.show_in_discovery_document);
  EXPECT_EQ(r->user_claims, i.user_claims);
  EXPECT_EQ(r->properties, i.properties);

  r = FromText<IdentityResource>(R"({"Name":"openid","UserClaims":"sub"})", IdentityResourceFromJson,
                                 "IdentityResources[0]", &unknown);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "IdentityResources[0].UserClaims: expected an array of strings");
}

Result<KeyRecord> KeyFromText(const std::string& text) {
  cJSON* json = cJSON_Parse(text.c_str());
  Result<KeyRecord> r = KeyRecordFromJson(json, "keys/k1");
  cJSON_Delete(json);
  return r;
}

TEST(KeyJson, RoundTripAndLayout) {
  KeyRecord k{.kid = "k1", .alg = "ES256", .state = KeyState::kCurrent, .created = 1700000000,
              .private_pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"};
  const std::string json = ToJson(k);
  EXPECT_EQ(json,
            R"({"v":1,"Kid":"k1","Alg":"ES256","State":"current","Created":1700000000,)"
            R"("PrivateKeyPem":"-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"})");
  Result<KeyRecord> r = KeyFromText(json);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->kid, k.kid);
  EXPECT_EQ(r->alg, k.alg);
  EXPECT_EQ(r->state, k.state);
  EXPECT_EQ(r->created, k.created);
  EXPECT_EQ(r->private_pem, k.private_pem);
  for (KeyState s : {KeyState::kNext, KeyState::kRetired}) {
    k.state = s;
    Result<KeyRecord> again = KeyFromText(ToJson(k));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->state, s);
  }
  EXPECT_EQ(KeyStateName(KeyState::kCurrent), "current");
  EXPECT_EQ(KeyStateName(KeyState::kNext), "next");
  EXPECT_EQ(KeyStateName(KeyState::kRetired), "retired");
}

TEST(KeyJson, Errors) {
  Result<KeyRecord> r = KeyFromText(R"({"Kid":"k1","Alg":"ES256","State":"active","PrivateKeyPem":"p"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("keys/k1.State: ", 0), 0u) << r.status().message();
  r = KeyFromText(R"({"Kid":"k1","Alg":"ES256","PrivateKeyPem":"p","Extra":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "keys/k1.Extra: unknown property");
  r = KeyFromText(R"({"Alg":"ES256","PrivateKeyPem":"p"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "keys/k1.Kid: required");
  r = KeyFromText(R"({"Kid":"k1","Alg":"ES256"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "keys/k1.PrivateKeyPem: required");
}

// ---- Users --------------------------------------------------------------------------------------------------------

// ASP.NET Core Identity PasswordHasher values for "Pass123$" with salt 00..0f, made independently with Python:
//   v3: b"\x01" + struct.pack(">III", 1, 10000, 16) + salt + hashlib.pbkdf2_hmac("sha256", pw, salt, 10000, 32)
//   v2: b"\x00" + salt + hashlib.pbkdf2_hmac("sha1", pw, salt, 1000, 32)
constexpr char kAspNetV3[] = "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw+GN2LDK6Da6EHX9EHqyiEU6w==";
constexpr char kAspNetV2[] = "AAABAgMEBQYHCAkKCwwNDg/SaaHAl7vauRSIpQUnM3nnggdHLZ/qW4RymOESIFXHpg==";
constexpr char kArgon2id[] =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$qLml5cTkzK6ZXsD1Q5q1GkG2XPGbBOF1VLJ5sAB5IXc";

Result<User> ParseUser(const std::string& text, std::vector<std::string>* unknown = nullptr,
                       std::string_view path = "Users[0]") {
  std::vector<std::string> ignored;
  return FromText<User>(text, UserFromJson, path, unknown != nullptr ? unknown : &ignored);
}

User FullUser() {
  User u;
  u.subject_id = "818727";
  u.username = "Alice";
  u.tenant = "acme";
  u.is_active = false;
  u.password_hash = kArgon2id;
  u.claims = {ClaimValue{"name", "Alice Smith", ""}, ClaimValue{"email", "alice@example.com", "string"},
              ClaimValue{"address", R"({"country":"Germany"})", "json"}};
  u.access_failed_count = 3;
  u.lockout_end = k2030;
  u.created = 1700000000;
  return u;
}

TEST(UserJson, RoundTripKeepsEveryProperty) {
  const User u = FullUser();
  std::vector<std::string> unknown;
  Result<User> r = RoundTrip(u, UserFromJson, &unknown);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(unknown.empty());
  EXPECT_EQ(r->subject_id, u.subject_id);
  EXPECT_EQ(r->username, "Alice");  // the original spelling, not the index form
  EXPECT_EQ(r->tenant, u.tenant);
  EXPECT_EQ(r->is_active, false);
  EXPECT_EQ(r->password_hash, u.password_hash);
  ASSERT_EQ(r->claims.size(), 3u);
  EXPECT_EQ(r->claims[1].type, "email");
  EXPECT_EQ(r->claims[1].value, "alice@example.com");
  EXPECT_EQ(r->claims[1].value_type, "string");
  EXPECT_EQ(r->claims[2].value, R"({"country":"Germany"})");
  EXPECT_EQ(r->access_failed_count, 3);
  EXPECT_EQ(r->lockout_end, k2030);
  EXPECT_EQ(r->created, 1700000000);
  EXPECT_EQ(ToJson(*r), ToJson(u));
}

TEST(UserJson, LayoutIsVersionedWithEveryPropertyInOrder) {
  const std::string json = ToJson(User{.subject_id = "1", .username = "bob"});
  EXPECT_EQ(json,
            R"({"v":1,"SubjectId":"1","Username":"bob","Tenant":"","IsActive":true,"PasswordHash":"",)"
            R"("Claims":[],"AccessFailedCount":0,"LockoutEnd":null,"Created":null,"SecurityStamp":""})");
}

TEST(UserJson, MissingPropertiesTakeDefaults) {
  Result<User> r = ParseUser(R"({"SubjectId":"1","Username":"bob"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tenant, "");
  EXPECT_TRUE(r->is_active);
  EXPECT_EQ(r->password_hash, "");
  EXPECT_TRUE(r->claims.empty());
  EXPECT_EQ(r->access_failed_count, 0);
  EXPECT_FALSE(r->lockout_end.has_value());
  EXPECT_FALSE(r->created.has_value());
  EXPECT_EQ(r->security_stamp, "");  // a user stored before the stamp existed: no session of theirs is refused
  // null means absent, as for the other records
  r = ParseUser(R"({"SubjectId":"1","Username":"bob","IsActive":null,"LockoutEnd":null,"Tenant":null})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->is_active);
  EXPECT_FALSE(r->lockout_end.has_value());
}

TEST(UserJson, IdentityServerTestUserShapeWithHashAndDates) {
  std::vector<std::string> unknown;
  Result<User> r = ParseUser(std::string(R"({"SubjectId":"818727","Username":"alice","PasswordHash":")") +
                                 kAspNetV3 + R"(","IsActive":true,"Tenant":"acme",
          "Claims":[{"Type":"name","Value":"Alice Smith"},{"Type":"email_verified","Value":"true",
                     "ValueType":"http://www.w3.org/2001/XMLSchema#boolean"}],
          "LockoutEnd":"2030-01-01T00:00:00Z","Created":"2023-11-14T22:13:20Z"})",
                             &unknown);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(unknown.empty());
  EXPECT_EQ(r->password_hash, kAspNetV3);
  EXPECT_EQ(r->claims.size(), 2u);
  EXPECT_EQ(r->lockout_end, k2030);
  EXPECT_EQ(r->created, 1700000000);
  r = ParseUser(std::string(R"({"SubjectId":"2","Username":"b","PasswordHash":")") + kAspNetV2 + "\"}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
}

TEST(UserJson, PlaintextPasswordIsNeverAcceptedIntoARecord) {
  // The TestUser import shape has "Password"; only tokenctl import handles it (by hashing). Here it is unknown.
  std::vector<std::string> unknown;
  Result<User> r = ParseUser(R"({"SubjectId":"1","Username":"bob","Password":"hunter2","ProviderName":null})",
                             &unknown, "Users[4]");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(unknown, (std::vector<std::string>{"Users[4].Password", "Users[4].ProviderName"}));
  EXPECT_EQ(r->password_hash, "");
  EXPECT_EQ(ToJson(*r).find("hunter2"), std::string::npos);
  // Without an unknown list (how stored records are read) it is an error.
  cJSON* json = cJSON_Parse(R"({"SubjectId":"1","Username":"bob","Password":"hunter2"})");
  r = UserFromJson(json, "users/1", nullptr);
  cJSON_Delete(json);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "users/1.Password: unknown property");
}

TEST(UserJson, PasswordHashMustHaveAKnownShapeAndIsNeverEchoed) {
  const char* const bad[] = {
      "hunter2",                                   // a plaintext password in the wrong property
      "$argon2i$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA",  // Argon2i, not Argon2id
      "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA",       // no hash segment
      "$argon2id$v=19$$m=65536,t=2,p=1$c2FsdA$aGFzaA",  // empty segment
      "$argon2id$v=19$m=65536,t=2,p=1$c2Fs dA$aGFzaA",  // space
      "AgABAgMEBQYHCAkKCwwNDg/SaaHAl7vauRSIpQUnM3nnggdHLZ/qW4RymOESIFXHpg==",  // format marker 0x02
      "AAABAgMEBQYHCAkKCwwNDg/SaaHAl7vauRSIpQUnM3nnggdHLZ/qW4RymOESIFXH",      // v2 one byte short
      "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw8=",          // v3 subkey of 15 bytes
      "AQAAAAEAACcQAAAAQAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw+GN2LDK6Da6EHX9EHqyiEU6w==",  // salt length 64
      "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg85YlTdy7a7xOskYDDdNw+GN2LDK6Da6EHX9EHqyiEU6w",    // no padding
  };
  for (const char* hash : bad) {
    Result<User> r = ParseUser(std::string(R"({"SubjectId":"1","Username":"bob","PasswordHash":")") + hash + "\"}");
    ASSERT_FALSE(r.ok()) << hash;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind("Users[0].PasswordHash: expected an Argon2id PHC string", 0), 0u)
        << r.status().message();
    EXPECT_EQ(r.status().message().find(hash), std::string::npos) << "the value must not be echoed";
  }
  EXPECT_TRUE(ParseUser(std::string(R"({"SubjectId":"1","Username":"bob","PasswordHash":")") +
                        "$argon2id$m=65536,t=2,p=1$c2FsdA$aGFzaA\"}")
                  .ok());  // PHC without the optional version segment
}

TEST(UserJson, BadValuesStartWithTheJsonPath) {
  struct Case {
    std::string json;
    const char* message;
  } cases[] = {
      {R"({"Username":"bob"})", "Users[0].SubjectId: required"},
      {R"({"SubjectId":"","Username":"bob"})", "Users[0].SubjectId: required"},
      {R"({"SubjectId":")" + std::string(201, 's') + R"(","Username":"bob"})",
       "Users[0].SubjectId: longer than 200 characters"},
      {R"({"SubjectId":"1"})", "Users[0].Username: required"},
      {R"({"SubjectId":"1","Username":")" + std::string(101, 'u') + "\"}",
       "Users[0].Username: longer than 100 characters"},
      {R"({"SubjectId":"1","Username":"bob","Tenant":")" + std::string(101, 't') + "\"}",
       "Users[0].Tenant: longer than 100 characters"},
      {R"({"SubjectId":1,"Username":"bob"})", "Users[0].SubjectId: expected a string"},
      {R"({"SubjectId":"1","Username":"bob","IsActive":"yes"})", "Users[0].IsActive: expected true or false"},
      {R"({"SubjectId":"1","Username":"bob","AccessFailedCount":-1})",
       "Users[0].AccessFailedCount: expected a non-negative integer"},
      {R"({"SubjectId":"1","Username":"bob","LockoutEnd":"soon"})",
       "Users[0].LockoutEnd: expected an ISO-8601 UTC date (\"2030-01-01T00:00:00Z\") or Unix seconds"},
      {R"({"SubjectId":"1","Username":"bob","Created":"2030-01-01T00:00:00"})",
       "Users[0].Created: expected an ISO-8601 UTC date (\"2030-01-01T00:00:00Z\") or Unix seconds"},
      {R"({"SubjectId":"1","Username":"bob","Claims":[{"Value":"x"}]})", "Users[0].Claims[0].Type: required"},
      {R"({"SubjectId":"1","Username":"bob","Claims":{"name":"x"}})", "Users[0].Claims: expected an array of claims"},
      {R"({"SubjectId":"1","Username":"bob","Username":"eve"})", "Users[0].Username: duplicate property"},
      {R"({"v":2,"SubjectId":"1","Username":"bob"})",
       "Users[0].v: unsupported record version (expected 1)"},
  };
  for (const Case& c : cases) {
    Result<User> r = ParseUser(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << c.json;
    EXPECT_EQ(r.status().message(), c.message) << c.json;
  }
  // The limits themselves are allowed.
  EXPECT_TRUE(ParseUser(R"({"SubjectId":")" + std::string(200, 's') + R"(","Username":")" + std::string(100, 'u') +
                        R"(","Tenant":")" + std::string(100, 't') + "\"}")
                  .ok());
}

TEST(Identifiers, PrintableUtf8Only) {
  for (std::string_view ok : {"svc", "caf\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "a b", "x~!@#"}) {
    EXPECT_EQ(IdentifierProblem(ok), nullptr) << ok;
  }
  EXPECT_STREQ(IdentifierProblem(std::string("svc\0x", 5)), "contains a NUL character");
  for (std::string_view bad : {"a\nb", "\x1b[31m", "tab\t", "del\x7F", "c1\xC2\x85"}) {
    EXPECT_STREQ(IdentifierProblem(bad), "contains a control character") << bad;
  }
  for (std::string_view bad : {"\xC3", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "a\xE2\x82"}) {
    EXPECT_STREQ(IdentifierProblem(bad), "is not valid UTF-8") << bad;
  }
}

TEST(Identifiers, RecordsNameTheProperty) {
  EXPECT_EQ(ParseClient(R"({"ClientId":"a\nb"})").status().message(),
            "Clients[0].ClientId: contains a control character");
  EXPECT_EQ(ParseClient(R"({"ClientId":"ok","AllowedScopes":["api","x\u0007"]})").status().message(),
            "Clients[0].AllowedScopes[1]: contains a control character");
  std::vector<std::string> unknown;
  EXPECT_EQ(FromText<ApiScope>(R"({"Name":"s\u001b"})", ApiScopeFromJson, "ApiScopes[2]", &unknown)
                .status()
                .message(),
            "ApiScopes[2].Name: contains a control character");
  EXPECT_EQ(FromText<ApiResource>(R"({"Name":"r","Scopes":["\u0085"]})", ApiResourceFromJson, "ApiResources[0]",
                                  &unknown)
                .status()
                .message(),
            "ApiResources[0].Scopes[0]: contains a control character");
  User u{.subject_id = "1", .username = "bob\x01"};
  EXPECT_EQ(ValidateUser(u, "Users[0]").message(), "Users[0].Username: contains a control character");
  u.username = "bob";
  u.tenant = "\xC3(";
  EXPECT_EQ(ValidateUser(u).message(), "Tenant: is not valid UTF-8");
}

TEST(Identifiers, FindNulEscapeNamesThePlace) {
  EXPECT_EQ(FindNulEscape(R"({"Clients":[{"ClientId":"svc"}]})"), std::nullopt);
  EXPECT_EQ(FindNulEscape(R"({"Clients":[{"ClientId":"svc"},{"ClientId":"svc\u0000x"}]})"),
            "Clients[1].ClientId");
  EXPECT_EQ(FindNulEscape(R"({"IdentityServer":{"Users":[{"Claims":[{"Type":"a","Value":"\u0000"}]}]}})"),
            "IdentityServer.Users[0].Claims[0].Value");
  EXPECT_EQ(FindNulEscape(R"({"a":"\\u0000"})"), std::nullopt);  // an escaped backslash, then text
  EXPECT_EQ(FindNulEscape(R"({"a":"\\\u0000"})"), "a");
  EXPECT_EQ(FindNulEscape(R"({"x":1,"k\u0000":2})"), "k\\u0000");
  EXPECT_EQ(FindNulEscape(R"(["\u0000"])"), "[0]");
}

TEST(UserJson, ValidateUserRefusesNulBytesInTheIndexedNames) {
  // JSON text cannot carry NUL into these fields (cJSON strings end at NUL), but a User built in C++ can.
  User u{.subject_id = "1", .username = std::string("bob\0x", 5)};
  EXPECT_EQ(ValidateUser(u).message(), "Username: contains a NUL character");
  u.username = "bob";
  u.tenant = std::string("a\0b", 3);
  EXPECT_EQ(ValidateUser(u, "Users[1]").message(), "Users[1].Tenant: contains a NUL character");
  u.tenant = "";
  u.subject_id = std::string("\0", 1);
  EXPECT_EQ(ValidateUser(u).message(), "SubjectId: contains a NUL character");
  u.subject_id = "1";
  u.access_failed_count = -1;
  EXPECT_EQ(ValidateUser(u).message(), "AccessFailedCount: expected a non-negative integer");
  u.access_failed_count = 0;
  EXPECT_TRUE(ValidateUser(u).ok());
}

TEST(UserJson, NormalizeUsernameLowerCasesAsciiOnly) {
  EXPECT_EQ(NormalizeUsername("Alice.Smith@Example.COM"), "alice.smith@example.com");
  EXPECT_EQ(NormalizeUsername("bob_42-X"), "bob_42-x");
  EXPECT_EQ(NormalizeUsername("\xc3\x89ric"), "\xc3\x89ric");  // "Éric": non-ASCII bytes are left alone
  EXPECT_EQ(NormalizeUsername("@[`{"), "@[`{");                // the neighbours of A-Z and a-z
  EXPECT_EQ(NormalizeUsername(""), "");
}

TEST(Client, AllowsGrantTypeIsAnExactMatch) {
  Client c{.client_id = "c", .allowed_grant_types = {"client_credentials", "urn:ietf:params:oauth:grant-type:device_code"}};
  EXPECT_TRUE(c.AllowsGrantType("client_credentials"));
  EXPECT_TRUE(c.AllowsGrantType("urn:ietf:params:oauth:grant-type:device_code"));
  EXPECT_FALSE(c.AllowsGrantType("Client_Credentials"));
  EXPECT_FALSE(c.AllowsGrantType("client_credential"));
  EXPECT_FALSE(c.AllowsGrantType("client_credentials "));
  EXPECT_FALSE(c.AllowsGrantType(""));
  EXPECT_FALSE(c.AllowsGrantType("password"));
}

TEST(Secrets, HashSecretIsIdentityServersSha256) { EXPECT_EQ(HashSecret("secret"), kSecretSha256); }

TEST(Secrets, MatchesSha256AndSha512Values) {
  const int64_t now = 1700000000;
  EXPECT_TRUE(MatchesAnySecret({MakeSecret(kSecretSha256)}, "secret", now));
  EXPECT_TRUE(MatchesAnySecret({MakeSecret(kSecretSha512)}, "secret", now));
  EXPECT_TRUE(MatchesAnySecret({MakeSecret(HashSecret("other")), MakeSecret(kSecretSha512)}, "secret", now));
  EXPECT_TRUE(MatchesAnySecret({MakeSecret(kSecretSha256, std::nullopt, "sharedsecret")}, "secret", now));
}

TEST(Secrets, WrongSecretDoesNotMatch) {
  const int64_t now = 1700000000;
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256), MakeSecret(kSecretSha512)}, "Secret", now));
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256)}, "secret ", now));
  EXPECT_FALSE(MatchesAnySecret({}, "secret", now));
  // The stored value is a digest, not the secret: presenting the stored value itself must fail.
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256)}, kSecretSha256, now));
  // An empty presented secret never matches, even against the hash of "".
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(HashSecret(""))}, "", now));
}

TEST(Secrets, ExpiredSecretsNeverMatch) {
  const int64_t now = 1700000000;
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256, now)}, "secret", now));      // expiration == now
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256, now - 1)}, "secret", now));
  EXPECT_TRUE(MatchesAnySecret({MakeSecret(kSecretSha256, now + 1)}, "secret", now));
  EXPECT_TRUE(MatchesAnySecret({MakeSecret(kSecretSha256, now - 1), MakeSecret(kSecretSha512, now + 1)}, "secret", now));
}

TEST(Secrets, OnlySharedSecretsWithDigestValuesCount) {
  const int64_t now = 1700000000;
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256, std::nullopt, "X509Thumbprint")}, "secret", now));
  EXPECT_FALSE(MatchesAnySecret({MakeSecret(kSecretSha256, std::nullopt, "")}, "secret", now));
  EXPECT_FALSE(MatchesAnySecret({MakeSecret("not base64 at all!")}, "secret", now));
  EXPECT_FALSE(MatchesAnySecret({MakeSecret("K7gNU3sdo+OL0wNhqoVWhr3g6s1xYv72ol/pe/Unols")}, "secret", now));  // no pad
  EXPECT_FALSE(MatchesAnySecret({MakeSecret("c2VjcmV0")}, "secret", now));  // base64("secret"): plain, not hashed
  EXPECT_FALSE(MatchesAnySecret({MakeSecret("AAAAAAAAAAAAAAAAAAAAAA==")}, "secret", now));  // 16 bytes
}

}  // namespace
}  // namespace tf::store
