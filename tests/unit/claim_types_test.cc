// Claim value types: the ValueType names accepted (IdentityServer's short names and the XML Schema URIs,
// store/records.h), the JSON type each claim takes in tokens and userinfo (OpenID Connect Core §5.1's for the
// standard claims, oauth/claims.h), and `tokenctl import` refusing an unknown ValueType or a value that does not fit,
// naming the record.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "admin/import.h"
#include "oauth/claims.h"
#include "util/json_writer.h"
#include "store/records.h"
#include "test_env.h"

namespace tf {
namespace {

using store::ClaimJsonType;
using store::ClaimValue;

constexpr char kXsd[] = "http://www.w3.org/2001/XMLSchema#";

TEST(ClaimTypesTest, ShortNamesAndXmlSchemaUris) {
  EXPECT_EQ(store::ParseClaimValueType(""), ClaimJsonType::kString);
  EXPECT_EQ(store::ParseClaimValueType("string"), ClaimJsonType::kString);
  EXPECT_EQ(store::ParseClaimValueType("boolean"), ClaimJsonType::kBoolean);
  EXPECT_EQ(store::ParseClaimValueType("integer"), ClaimJsonType::kInteger);
  EXPECT_EQ(store::ParseClaimValueType("double"), ClaimJsonType::kDouble);
  EXPECT_EQ(store::ParseClaimValueType("json"), ClaimJsonType::kJson);
  const std::string xsd = kXsd;
  EXPECT_EQ(store::ParseClaimValueType(xsd + "boolean"), ClaimJsonType::kBoolean);
  EXPECT_EQ(store::ParseClaimValueType(xsd + "integer"), ClaimJsonType::kInteger);
  EXPECT_EQ(store::ParseClaimValueType(xsd + "integer64"), ClaimJsonType::kInteger);
  EXPECT_EQ(store::ParseClaimValueType(xsd + "long"), ClaimJsonType::kInteger);
  EXPECT_EQ(store::ParseClaimValueType(xsd + "double"), ClaimJsonType::kDouble);
  EXPECT_EQ(store::ParseClaimValueType(xsd + "string"), ClaimJsonType::kString);
  EXPECT_EQ(store::ParseClaimValueType(xsd + "dateTime"), ClaimJsonType::kString);
  for (const std::string& bad : std::vector<std::string>{"bool", "Boolean", "int", "number", "object", "#boolean",
                                                        xsd + "json", xsd + "bool", "http://example.com/x#boolean",
                                                        xsd}) {
    EXPECT_EQ(store::ParseClaimValueType(bad), std::nullopt) << bad;
  }
}

// The JSON a claim becomes in a token or the userinfo answer.
std::string Emitted(const std::string& type, const std::string& value, const std::string& value_type = "") {
  return oauth::ClaimValueJson(ClaimValue{type, value, value_type});
}

TEST(ClaimTypesTest, ValuesTakeTheirType) {
  EXPECT_EQ(Emitted("flag", "true", "boolean"), "true");
  EXPECT_EQ(Emitted("flag", "False", std::string(kXsd) + "boolean"), "false");
  EXPECT_EQ(Emitted("age", "42", "integer"), "42");
  EXPECT_EQ(Emitted("age", "-7", std::string(kXsd) + "integer"), "-7");
  EXPECT_EQ(Emitted("ratio", "0.5", "double"), "0.5");
  EXPECT_EQ(Emitted("ratio", "-1e3", std::string(kXsd) + "double"), "-1e3");
  EXPECT_EQ(Emitted("roles", "[ \"a\", \"b\" ]", "json"), R"(["a","b"])");
  EXPECT_EQ(Emitted("name", "Alice", ""), R"("Alice")");
  EXPECT_EQ(Emitted("when", "2024-01-01T00:00:00Z", std::string(kXsd) + "dateTime"), R"("2024-01-01T00:00:00Z")");
  // A value that does not fit its type (only an older record can hold one) stays a string.
  EXPECT_EQ(Emitted("flag", "yes", "boolean"), R"("yes")");
  EXPECT_EQ(Emitted("age", "4x", "integer"), R"("4x")");
  EXPECT_EQ(Emitted("ratio", "1.", "double"), R"("1.")");
  EXPECT_EQ(Emitted("ratio", "nan", "double"), R"("nan")");
  EXPECT_EQ(Emitted("roles", "[1,", "json"), R"("[1,")");
  EXPECT_EQ(Emitted("x", "true", "unknown-type"), R"("true")");
}

TEST(ClaimTypesTest, StandardClaimsTakeTheirOpenIdConnectTypeWhateverTheValueType) {
  EXPECT_EQ(Emitted("email_verified", "true"), "true");
  EXPECT_EQ(Emitted("email_verified", "true", "string"), "true");
  EXPECT_EQ(Emitted("phone_number_verified", "False", "integer"), "false");
  EXPECT_EQ(Emitted("updated_at", "1700000000"), "1700000000");
  EXPECT_EQ(Emitted("updated_at", "1700000000", "string"), "1700000000");
  EXPECT_EQ(Emitted("address", R"({"country": "NZ", "locality": "Wellington"})"),
            R"({"country":"NZ","locality":"Wellington"})");
  EXPECT_EQ(Emitted("address", "Main Street 1"), R"("Main Street 1")");  // not an object: left a string
  EXPECT_EQ(Emitted("name", "42", "integer"), R"("42")");
  EXPECT_EQ(Emitted("email", "true", "boolean"), R"("true")");
  EXPECT_EQ(Emitted("birthdate", "1999", "integer"), R"("1999")");
}

TEST(ClaimTypesTest, CheckClaimValueNamesTheProblem) {
  EXPECT_TRUE(store::CheckClaimValue({"email_verified", "true", "boolean"}).ok());
  EXPECT_TRUE(store::CheckClaimValue({"custom", "anything", ""}).ok());
  const Status unknown = store::CheckClaimValue({"custom", "x", "bool"});
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.message().find("unknown ValueType 'bool'"), std::string::npos) << unknown.message();
  const Status verified = store::CheckClaimValue({"email_verified", "yes", ""});
  EXPECT_NE(verified.message().find("'email_verified' must be true or false"), std::string::npos);
  EXPECT_FALSE(store::CheckClaimValue({"updated_at", "yesterday", ""}).ok());
  EXPECT_FALSE(store::CheckClaimValue({"address", "[1]", "json"}).ok());
  EXPECT_FALSE(store::CheckClaimValue({"n", "9223372036854775808", "integer"}).ok());  // beyond int64
  EXPECT_TRUE(store::CheckClaimValue({"n", "-9223372036854775808", "integer"}).ok());
  EXPECT_FALSE(store::CheckClaimValue({"j", std::string("1\0", 2), "json"}).ok());
}

TEST(ClaimTypesTest, WriteClaimsKeepsTypesInArrays) {
  JsonWriter w;
  std::set<std::string> written;
  const std::vector<ClaimValue> claims = {{"level", "1", "integer"}, {"level", "2", "integer"},
                                          {"email_verified", "True", ""}};
  oauth::WriteClaims(w, "", claims, nullptr, written);
  EXPECT_EQ(std::move(w).Finish(), R"({"level":[1,2],"email_verified":true})");
}

admin::ImportReport ImportDryRun(const std::string& json) {
  admin::ImportOptions options;
  options.dry_run = true;
  admin::ImportReport report;
  (void)admin::Import(json, nullptr, options, &report);
  return report;
}

TEST(ClaimTypesTest, ImportRefusesUnknownValueTypesNamingTheRecord) {
  admin::ImportReport ok = ImportDryRun(R"({"Users":[{"SubjectId":"1","Username":"alice","Claims":[
      {"Type":"email_verified","Value":"true","ValueType":"boolean"},
      {"Type":"level","Value":"3","ValueType":"http://www.w3.org/2001/XMLSchema#integer"},
      {"Type":"address","Value":"{\"country\":\"NZ\"}","ValueType":"json"}]}]})");
  EXPECT_TRUE(ok.errors.empty()) << ok.errors.front();

  admin::ImportReport user = ImportDryRun(R"({"Users":[{"SubjectId":"1","Username":"alice","Claims":[
      {"Type":"name","Value":"Alice"},{"Type":"level","Value":"3","ValueType":"int32"}]}]})");
  ASSERT_EQ(user.errors.size(), 1u);
  EXPECT_EQ(user.errors[0].rfind("Users[0].Claims[1] of user 'alice': unknown ValueType 'int32'", 0), 0u)
      << user.errors[0];

  admin::ImportReport client = ImportDryRun(R"({"Clients":[{"ClientId":"svc","Claims":[
      {"Type":"tier","Value":"gold","ValueType":"enum"}]}]})");
  ASSERT_EQ(client.errors.size(), 1u);
  EXPECT_EQ(client.errors[0].rfind("Clients[0].Claims[0] of client 'svc': unknown ValueType 'enum'", 0), 0u)
      << client.errors[0];

  admin::ImportReport standard = ImportDryRun(R"({"Users":[{"SubjectId":"1","Username":"bob","Claims":[
      {"Type":"email_verified","Value":"yes"}]}]})");
  ASSERT_EQ(standard.errors.size(), 1u);
  EXPECT_NE(standard.errors[0].find("'email_verified' must be true or false"), std::string::npos);
}

}  // namespace
}  // namespace tf
