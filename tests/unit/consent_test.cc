// Remembered consent (consent.h) over a real LMDB store: the record's key and shape, coverage of the requested
// scopes, the union on a second approval, ConsentLifetime, and revocation by subject; and the consent page's markup.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "admin/grants.h"
#include "oauth/consent.h"
#include "oauth/html.h"
#include "store/records.h"
#include "test_env.h"

namespace tf::oauth {
namespace {

using testing::kNow;

class ConsentTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OpenStore("consent_test"));
    client_.client_id = "web";
  }

  void Remember(const std::vector<std::string>& scopes, int64_t now = kNow) {
    Put([&](store::Txn& t) { return RememberConsent(t, client_, "alice", scopes, now); });
  }

  bool Has(const std::vector<std::string>& scopes, int64_t now = kNow, const std::string& client = "web") {
    Result<bool> r = HasRememberedConsent(*store_, "alice", client, scopes, now);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && *r;
  }

  store::Client client_;
};

TEST_F(ConsentTest, CoversOnlyWhatWasAllowed) {
  EXPECT_FALSE(Has({"openid"}));
  Remember({"openid", "api1"});
  EXPECT_TRUE(Has({"openid"}));
  EXPECT_TRUE(Has({"api1", "openid"}));
  EXPECT_FALSE(Has({"openid", "profile"}));
  EXPECT_FALSE(Has({"openid"}, kNow, "other"));
  Remember({"profile"});  // a later approval adds to the record
  EXPECT_TRUE(Has({"openid", "profile", "api1"}));
  EXPECT_TRUE(Has({"openid"}, kConsentNoExpiry - 1));  // no ConsentLifetime: no expiry
}

TEST_F(ConsentTest, ConsentLifetimeAndRevocation) {
  client_.consent_lifetime = 100;
  Remember({"openid"});
  EXPECT_TRUE(Has({"openid"}, kNow + 99));
  EXPECT_FALSE(Has({"openid"}, kNow + 100));
  Result<std::vector<admin::GrantEntry>> listed = admin::ListGrants(*store_, {"", "alice", store::GrantKind::kConsent});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].handle_hash, ConsentKey("alice", "web"));
  EXPECT_FALSE((*listed)[0].grant.family.empty());
  admin::RevokeSelector by_subject;
  by_subject.subject = "alice";
  ASSERT_TRUE(admin::RevokeGrants(*store_, by_subject, kNow).ok());
  EXPECT_FALSE(Has({"openid"}));
}

TEST(ConsentPageTest, EscapesAndOffersRemember) {
  ConsentView v;
  v.action = "https://auth.example.com/connect/authorize";
  v.redirect_uri = "https://app.example/cb";
  v.client_name = "<b>App</b>";
  v.scopes = {{"api1", "Read <files>", "desc \"x\"", true}};
  v.hidden = {{"state", "\"><script>"}};
  v.decision_field = "tf_consent";
  v.offer_remember = true;
  http::Response r = ConsentPage(v);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("<b>App"), std::string::npos);
  EXPECT_EQ(r.body.find("<script>"), std::string::npos);
  EXPECT_NE(r.body.find("Read &lt;files&gt;</strong> (required)"), std::string::npos);
  EXPECT_NE(r.body.find("name=\"tf_remember\""), std::string::npos);
  EXPECT_NE(r.body.find("name=\"tf_consent\" value=\"approve\""), std::string::npos);
  EXPECT_NE(r.body.find("name=\"tf_consent\" value=\"deny\""), std::string::npos);
  const std::string csp = testing::HeaderOf(r, "Content-Security-Policy");
  EXPECT_NE(csp.find("form-action https://auth.example.com https://app.example"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  v.offer_remember = false;
  EXPECT_EQ(ConsentPage(v).body.find("tf_remember"), std::string::npos);
}

}  // namespace
}  // namespace tf::oauth
