// Tests for oauth/session.h: the signed session cookie (format, every refusal the header lists), the CSRF double
// submit, the Set-Cookie strings and FindCookie; and the session key's way from the store into the catalog snapshot.
#include "oauth/session.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <stdlib.h>

#include <cctype>
#include <filesystem>
#include <set>
#include <string>

#include "config/config.h"
#include "oauth/catalog.h"
#include "store/store.h"
#include "test_env.h"
#include "util/base64.h"
#include "util/crypto.h"

namespace tf::oauth {
namespace {

constexpr int64_t kNow = 1700000000;
const std::string kKey(32, '\x42');

Session MakeSession() {
  Session s;
  s.subject = "alice-1";
  s.tenant = "acme";
  s.idp = "local";
  s.amr = {"pwd"};
  s.auth_time = kNow - 10;
  s.sid = "sid-abc";
  s.expires = kNow + 3600;
  s.stamp = "stamp-1";
  return s;
}

// The documented format, built here independently of EncodeSession: "v1." b64url(payload) "." b64url(HMAC).
std::string Forge(std::string_view payload, std::string_view key = kKey, std::string_view version = "v1.") {
  std::string signed_part(version);
  signed_part += Base64UrlEncode(payload);
  const std::string mac = HmacSha256(key, std::string("session\0", 8) + signed_part);
  return signed_part + "." + Base64UrlEncode(mac);
}

constexpr char kCanonical[] =
    R"({"sub":"alice-1","tenant":"acme","idp":"local","amr":["pwd"],"auth_time":1699999990,"sid":"sid-abc",)"
    R"("exp":1700003600,"stamp":"stamp-1"})";

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

bool Accepted(std::string_view cookie, std::string_view key = kKey, int64_t now = kNow) {
  return DecodeSession(cookie, key, now).has_value();
}

TEST(SessionTest, EncodeDecodeRoundTrip) {
  const Session s = MakeSession();
  const std::string cookie = EncodeSession(s, kKey);
  std::optional<Session> d = DecodeSession(cookie, kKey, kNow);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->subject, s.subject);
  EXPECT_EQ(d->tenant, s.tenant);
  EXPECT_EQ(d->idp, s.idp);
  EXPECT_EQ(d->amr, s.amr);
  EXPECT_EQ(d->auth_time, s.auth_time);
  EXPECT_EQ(d->sid, s.sid);
  EXPECT_EQ(d->expires, s.expires);
  EXPECT_EQ(d->stamp, s.stamp);

  // Empty tenant, no amr, several amr values, and text that needs JSON escaping all survive.
  Session t = s;
  t.tenant = "";
  t.amr = {};
  t.subject = "quote\" back\\slash <tag> \xc3\xa9";
  d = DecodeSession(EncodeSession(t, kKey), kKey, kNow);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->tenant, "");
  EXPECT_TRUE(d->amr.empty());
  EXPECT_EQ(d->subject, t.subject);
  t.amr = {"pwd", "mfa", "external"};
  EXPECT_EQ(DecodeSession(EncodeSession(t, kKey), kKey, kNow)->amr, t.amr);
}

TEST(SessionTest, EncodingIsTheDocumentedFormat) {
  const std::string cookie = EncodeSession(MakeSession(), kKey);
  EXPECT_EQ(cookie, Forge(kCanonical));
  // Cookie-safe characters only: base64url and the two dots.
  for (char c : cookie) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') << c;
  }
  // Forge is right: the canonical payload, correctly signed, is accepted.
  EXPECT_TRUE(Accepted(Forge(kCanonical)));
}

TEST(SessionTest, TamperedPayloadIsRefused) {
  const std::string cookie = EncodeSession(MakeSession(), kKey);
  const size_t mac_dot = cookie.rfind('.');
  // Any one character of the payload changed.
  for (size_t i = 3; i < mac_dot; i += 7) {
    std::string bad = cookie;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(Accepted(bad)) << i;
  }
  // Another subject with the original MAC.
  const std::string other = Forge(Replace(kCanonical, "alice-1", "admin"));
  EXPECT_FALSE(Accepted(other.substr(0, other.rfind('.')) + cookie.substr(mac_dot)));
  // A longer exp with the original MAC.
  const std::string later = Forge(Replace(kCanonical, "1700003600", "1900000000"));
  EXPECT_FALSE(Accepted(later.substr(0, later.rfind('.')) + cookie.substr(mac_dot)));
}

TEST(SessionTest, TamperedMacIsRefused) {
  const std::string cookie = EncodeSession(MakeSession(), kKey);
  const size_t mac_dot = cookie.rfind('.');
  std::string flipped = cookie;
  flipped[mac_dot + 5] = flipped[mac_dot + 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(Accepted(flipped));
  EXPECT_FALSE(Accepted(cookie.substr(0, cookie.size() - 1)));         // truncated MAC
  EXPECT_FALSE(Accepted(cookie.substr(0, mac_dot + 1)));               // empty MAC
  EXPECT_FALSE(Accepted(cookie.substr(0, mac_dot)));                   // no MAC at all
  EXPECT_FALSE(Accepted(cookie + "AAAA"));                              // longer MAC
  EXPECT_FALSE(Accepted(cookie.substr(0, mac_dot + 1) + Base64UrlEncode(std::string(32, '\0'))));
  // The MAC of another session.
  Session other = MakeSession();
  other.sid = "sid-other";
  const std::string other_cookie = EncodeSession(other, kKey);
  EXPECT_FALSE(Accepted(cookie.substr(0, mac_dot) + other_cookie.substr(other_cookie.rfind('.'))));
  // A plain SHA-256 of the signed part instead of the HMAC.
  EXPECT_FALSE(Accepted(cookie.substr(0, mac_dot + 1) + Base64UrlEncode(Sha256(cookie.substr(0, mac_dot)))));
}

TEST(SessionTest, WrongKeyIsRefused) {
  const std::string cookie = EncodeSession(MakeSession(), kKey);
  std::string other_key = kKey;
  other_key[31] = '\x43';
  EXPECT_FALSE(Accepted(cookie, other_key));
  EXPECT_FALSE(Accepted(cookie, ""));  // a store without a key accepts nothing
  EXPECT_FALSE(Accepted(EncodeSession(MakeSession(), ""), ""));
  // The MAC is labelled: a MAC over the signed part without "session\0" does not verify.
  const std::string signed_part = cookie.substr(0, cookie.rfind('.'));
  EXPECT_FALSE(Accepted(signed_part + "." + Base64UrlEncode(HmacSha256(kKey, signed_part))));
}

TEST(SessionTest, ExpiredIsRefused) {
  Session s = MakeSession();
  const std::string cookie = EncodeSession(s, kKey);
  EXPECT_TRUE(Accepted(cookie, kKey, s.expires - 1));
  EXPECT_FALSE(Accepted(cookie, kKey, s.expires));       // dead at exp
  EXPECT_FALSE(Accepted(cookie, kKey, s.expires + 1000));
}

TEST(SessionTest, FutureAuthTimeIsRefused) {
  Session s = MakeSession();
  s.auth_time = kNow + 60;  // another worker's clock may run a minute ahead
  EXPECT_TRUE(Accepted(EncodeSession(s, kKey)));
  s.auth_time = kNow + 61;
  EXPECT_FALSE(Accepted(EncodeSession(s, kKey)));
  s.auth_time = kNow + 86400;
  EXPECT_FALSE(Accepted(EncodeSession(s, kKey)));
}

TEST(SessionTest, UnknownMemberIsRefused) {
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, R"("exp":)", R"("admin":true,"exp":)"))));
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, R"("sub")", R"("Sub")"))));  // names are case-sensitive
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, "}", R"(,"x":null})"))));
}

// Found by session_fuzz: we never sign a string that is not UTF-8 (JsonWriter would replace the bytes), so such a
// string is not a session we wrote, and accepting it would hand a subject that no user can have to the caller.
TEST(SessionTest, InvalidUtf8IsRefused) {
  EXPECT_TRUE(Accepted(Forge(kCanonical)));
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, R"("sub":"alice-1")", "\"sub\":\"alice\x96\""))));
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, R"("sid":"sid-abc")", "\"sid\":\"\xC3\""))));
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, R"(["pwd"])", "[\"pw\xFF\"]"))));
}

TEST(SessionTest, MissingMemberIsRefused) {
  const char* members[] = {R"("sub":"alice-1",)", R"("tenant":"acme",)", R"("idp":"local",)", R"("amr":["pwd"],)",
                           R"("auth_time":1699999990,)", R"("sid":"sid-abc",)", R"(,"stamp":"stamp-1")"};
  for (const char* m : members) {
    EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, m, "")))) << m;
  }
  EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, R"("exp":1700003600,)", ""))));
  EXPECT_FALSE(Accepted(Forge("{}")));
}

TEST(SessionTest, MistypedOrMalformedPayloadIsRefused) {
  const std::pair<const char*, const char*> edits[] = {
      {R"("sub":"alice-1")", R"("sub":17)"},
      {R"("sub":"alice-1")", R"("sub":"")"},            // empty subject
      {R"("sid":"sid-abc")", R"("sid":"")"},            // empty session id
      {R"("sid":"sid-abc")", R"("sid":null)"},
      {R"("tenant":"acme")", R"("tenant":["acme"])"},
      {R"("idp":"local")", R"("idp":true)"},
      {R"("amr":["pwd"])", R"("amr":"pwd")"},
      {R"("amr":["pwd"])", R"("amr":["pwd",1])"},
      {R"("amr":["pwd"])", R"("amr":{"0":"pwd"})"},
      {R"("auth_time":1699999990)", R"("auth_time":"1699999990")"},
      {R"("auth_time":1699999990)", R"("auth_time":-5)"},
      {R"("exp":1700003600)", R"("exp":1700003600.5)"},
      {R"("exp":1700003600)", R"("exp":1e300)"},
      {R"("exp":1700003600)", R"("exp":"never")"},
      {R"("sid":"sid-abc")", R"("sid":"sid-abc","sid":"sid-abc")"},  // repeated member
      {R"("sub":"alice-1")", R"("sub":"alice-1","sub":"root")"},
      {"}", "} "},                                        // anything after the object
      {"}", "}{}"},
  };
  for (const auto& [from, to] : edits) {
    EXPECT_FALSE(Accepted(Forge(Replace(kCanonical, from, to)))) << to;
  }
  EXPECT_FALSE(Accepted(Forge("[1,2]")));
  EXPECT_FALSE(Accepted(Forge("null")));
  EXPECT_FALSE(Accepted(Forge("")));
  EXPECT_FALSE(Accepted(Forge("{\"sub\":")));  // truncated JSON
  EXPECT_FALSE(Accepted(Forge(std::string(kCanonical) + std::string(1, '\0'))));
}

TEST(SessionTest, WrongVersionIsRefused) {
  EXPECT_FALSE(Accepted(Forge(kCanonical, kKey, "v2.")));
  EXPECT_FALSE(Accepted(Forge(kCanonical, kKey, "V1.")));
  EXPECT_FALSE(Accepted(Forge(kCanonical, kKey, "v0.")));
  EXPECT_FALSE(Accepted(Forge(kCanonical, kKey, "")));
  const std::string good = Forge(kCanonical);
  EXPECT_FALSE(Accepted(good.substr(3)));          // prefix dropped
  EXPECT_FALSE(Accepted("v2." + good.substr(3)));  // prefix swapped under a v1 MAC
  EXPECT_FALSE(Accepted(""));
  EXPECT_FALSE(Accepted("v1."));
  EXPECT_FALSE(Accepted("v1.."));
}

TEST(SessionTest, BadBase64IsRefused) {
  // A correctly MAC'd cookie whose payload is not base64url: '+' and '/' (plain base64), padding, junk.
  for (const std::string& payload_text : {std::string("ab+c"), std::string("ab/c"), std::string("YWJj="),
                                          std::string("a b"), std::string("a"), std::string("$$$$")}) {
    const std::string signed_part = "v1." + payload_text;
    const std::string mac = HmacSha256(kKey, std::string("session\0", 8) + signed_part);
    EXPECT_FALSE(Accepted(signed_part + "." + Base64UrlEncode(mac))) << payload_text;
  }
  // A MAC that is not base64url.
  const std::string good = Forge(kCanonical);
  const std::string mac_text = good.substr(good.rfind('.') + 1);
  std::string plus = mac_text;
  plus[0] = '+';
  EXPECT_FALSE(Accepted(good.substr(0, good.rfind('.') + 1) + plus));
  EXPECT_FALSE(Accepted(good + "="));
}

TEST(SessionTest, OversizeIsRefused) {
  // The largest cookie that fits in 4096 bytes is accepted; one byte more is refused.
  Session s = MakeSession();
  size_t n = 1;
  for (; n < 4096; ++n) {
    s.subject = std::string(n, 'a');
    if (EncodeSession(s, kKey).size() > 4096) break;
  }
  s.subject = std::string(n - 1, 'a');
  EXPECT_LE(EncodeSession(s, kKey).size(), 4096u);
  EXPECT_TRUE(Accepted(EncodeSession(s, kKey)));
  s.subject = std::string(n, 'a');
  EXPECT_GT(EncodeSession(s, kKey).size(), 4096u);
  EXPECT_FALSE(Accepted(EncodeSession(s, kKey)));
  s.subject = std::string(100000, 'a');
  EXPECT_FALSE(Accepted(EncodeSession(s, kKey)));
}

TEST(SessionTest, SetCookieStrings) {
  const Session s = MakeSession();
  EXPECT_EQ(SessionSetCookie(s, kKey, kNow),
            "__Host-tf_session=" + EncodeSession(s, kKey) + "; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600");
  EXPECT_EQ(SessionSetCookie(s, kKey, s.expires - 1).substr(SessionSetCookie(s, kKey, s.expires - 1).rfind(';')),
            "; Max-Age=1");
  const std::string late = SessionSetCookie(s, kKey, s.expires + 50);  // never negative
  EXPECT_EQ(late.substr(late.rfind(';')), "; Max-Age=0");
  EXPECT_EQ(ClearSessionSetCookie(), "__Host-tf_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
  EXPECT_EQ(CsrfSetCookie("n0nce"), "__Host-tf_csrf=n0nce; Path=/; Secure; HttpOnly; SameSite=Strict");
  // __Host- cookies must not name a Domain; the CSRF cookie lives for the browser session only.
  for (const std::string& h : {SessionSetCookie(s, kKey, kNow), ClearSessionSetCookie(), CsrfSetCookie("n")}) {
    EXPECT_EQ(h.find("Domain"), std::string::npos) << h;
    EXPECT_EQ(h.find("Expires"), std::string::npos) << h;
  }
  EXPECT_EQ(CsrfSetCookie("n").find("Max-Age"), std::string::npos);
}

TEST(CsrfTest, NonceIsRandomAndCookieSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string n = NewCsrfNonce();
    EXPECT_EQ(n.size(), 22u);  // 16 random bytes
    for (char c : n) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << n;
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(CsrfTest, AcceptsTheTokenOfTheCookieNonce) {
  const std::string nonce = NewCsrfNonce();
  const std::string token = CsrfToken(kKey, nonce);
  EXPECT_EQ(token, CsrfToken(kKey, nonce));  // deterministic
  EXPECT_EQ(token, Base64UrlEncode(HmacSha256(kKey, std::string("csrf\0", 5) + nonce)));
  EXPECT_TRUE(CheckCsrf(kKey, nonce, token));
}

TEST(CsrfTest, RefusesEverythingElse) {
  const std::string nonce = NewCsrfNonce();
  const std::string token = CsrfToken(kKey, nonce);
  std::string other_key = kKey;
  other_key[0] = 'x';
  EXPECT_FALSE(CheckCsrf(other_key, nonce, token));                // wrong key (rotated)
  EXPECT_FALSE(CheckCsrf(kKey, NewCsrfNonce(), token));            // another browser's cookie
  EXPECT_FALSE(CheckCsrf(kKey, nonce, CsrfToken(kKey, "other")));  // another nonce's token
  EXPECT_FALSE(CheckCsrf(kKey, "", token));                        // no cookie
  EXPECT_FALSE(CheckCsrf(kKey, nonce, ""));                        // no form field
  EXPECT_FALSE(CheckCsrf(kKey, "", CsrfToken(kKey, "")));          // both empty, yet "matching"
  EXPECT_FALSE(CheckCsrf("", nonce, CsrfToken("", nonce)));        // no key
  EXPECT_FALSE(CheckCsrf(kKey, nonce, nonce));                     // the nonce itself
  EXPECT_FALSE(CheckCsrf(kKey, nonce, token.substr(1)));
  EXPECT_FALSE(CheckCsrf(kKey, nonce, token + "A"));
  EXPECT_FALSE(CheckCsrf(kKey, nonce, token + "="));
  std::string flipped = token;
  flipped[4] = flipped[4] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(CheckCsrf(kKey, nonce, flipped));
  // The labels keep the two MACs apart: a session cookie's MAC is no CSRF token for its signed part.
  const std::string cookie = EncodeSession(MakeSession(), kKey);
  const size_t dot = cookie.rfind('.');
  EXPECT_FALSE(CheckCsrf(kKey, cookie.substr(0, dot), cookie.substr(dot + 1)));
}

TEST(FindCookieTest, EdgeCases) {
  EXPECT_EQ(FindCookie("a=1; b=2", "b"), "2");
  EXPECT_EQ(FindCookie("a=1; b=2", "a"), "1");
  EXPECT_EQ(FindCookie("a=1;b=2", "b"), "2");                      // no space
  EXPECT_EQ(FindCookie("  a =  1  ;  b = 2 ", "a"), "1");          // spaces trimmed
  EXPECT_EQ(FindCookie("a=1; a=2", "a"), "1");                     // the first wins
  EXPECT_EQ(FindCookie("a=\"quoted value\"", "a"), "quoted value");
  EXPECT_EQ(FindCookie("a=\"", "a"), "\"");                        // a lone quote is not a quoted value
  EXPECT_EQ(FindCookie("a=b=c", "a"), "b=c");                      // '=' inside the value
  EXPECT_EQ(FindCookie("ab=1; a=2", "a"), "2");                    // names match exactly, not by prefix
  EXPECT_EQ(FindCookie("xa=1", "a"), "");
  EXPECT_EQ(FindCookie("A=1", "a"), "");                           // case-sensitive
  EXPECT_EQ(FindCookie("", "a"), "");
  EXPECT_EQ(FindCookie("a", "a"), "");                             // no '=': not a cookie
  EXPECT_EQ(FindCookie("junk; a=1;", "a"), "1");
  EXPECT_EQ(FindCookie(";;; ; a=1", "a"), "1");
  EXPECT_EQ(FindCookie("a=; b=2", "a"), "");
  EXPECT_EQ(FindCookie("a=1", ""), "");
  const std::string header = "theme=dark; __Host-tf_csrf=n0nce; __Host-tf_session=v1.abc.def; other=x";
  EXPECT_EQ(FindCookie(header, kSessionCookie), "v1.abc.def");
  EXPECT_EQ(FindCookie(header, kCsrfCookie), "n0nce");
  EXPECT_EQ(FindCookie("tf_session=forged", kSessionCookie), "");  // the prefix is part of the name
}

// ---- The session key from the store into the catalog snapshot --------------------------------------------------

class CatalogSessionKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/session_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.issuer = "https://id.example.com";
    config_.database = dir_;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<store::Store> Open(bool read_only) {
    store::StoreOptions o;
    o.path = dir_;
    o.create = !read_only;
    o.read_only = read_only;
    o.map_size = 16 << 20;
    auto s = store::Store::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::string StoredKey(store::Store& s) {
    std::string key;
    EXPECT_TRUE(s.Read([&](store::Txn& t) -> Status {
                   auto k = t.GetSessionKey();
                   if (!k.ok()) return k.status();
                   key = *k;
                   return Status::OK();
                 }).ok());
    return key;
  }

  // Writes (or, with nullptr, deletes) meta "session_key" with raw LMDB; no Store may be open.
  void RawSessionKey(const std::string* value) {
    testing::RawLmdb(dir_, true, [&](MDB_txn* txn) {
      MDB_dbi meta;
      ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
      MDB_val k{11, const_cast<char*>("session_key")};
      if (value == nullptr) {
        ASSERT_EQ(mdb_del(txn, meta, &k, nullptr), 0);
      } else {
        MDB_val v{value->size(), const_cast<char*>(value->data())};
        ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
      }
    });
  }

  std::string dir_;
  Config config_;
};

TEST_F(CatalogSessionKeyTest, SnapshotCarriesTheStoreKeyAndFollowsARotation) {
  std::unique_ptr<store::Store> s = Open(false);
  ASSERT_NE(s, nullptr);
  Catalog catalog(config_, s.get());
  auto snap = catalog.Current();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ((*snap)->session_key.size(), 32u);
  EXPECT_EQ((*snap)->session_key, StoredKey(*s));
  const std::string rotated(32, '\x11');
  ASSERT_TRUE(s->Update([&](store::Txn& t) { return t.PutSessionKey(rotated); }).ok());
  auto after = catalog.Current();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->session_key, rotated);
  EXPECT_GT((*after)->generation, (*snap)->generation);
}

TEST_F(CatalogSessionKeyTest, ReadOnlyDatabaseWithoutAKeyStillLoads) {
  {
    std::unique_ptr<store::Store> s = Open(false);
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(s->Update([](store::Txn& t) {
                   store::Client c;
                   c.client_id = "c1";
                   return t.PutClient(c);
                 }).ok());
  }
  // Take the key out, as in a database written before session keys existed.
  RawSessionKey(nullptr);
  std::unique_ptr<store::Store> ro = Open(true);
  ASSERT_NE(ro, nullptr);
  Catalog catalog(config_, ro.get());
  auto snap = catalog.Current();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ((*snap)->session_key, "");
  EXPECT_NE((*snap)->FindClient("c1"), nullptr);
}

TEST_F(CatalogSessionKeyTest, StoredKeyOfTheWrongSizeLeavesItEmptyAndTheSnapshotLoads) {
  ASSERT_NE(Open(false), nullptr);
  const std::string short_key = "only-16-bytes-xx";
  RawSessionKey(&short_key);
  std::unique_ptr<store::Store> s = Open(false);  // a writable open does not replace it silently
  ASSERT_NE(s, nullptr);
  Catalog catalog(config_, s.get());
  auto snap = catalog.Current();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ((*snap)->session_key, "");
  EXPECT_FALSE((*snap)->jwks_json.empty());  // every other endpoint keeps working
  // A rotation repairs it.
  ASSERT_TRUE(s->Update([](store::Txn& t) { return t.PutSessionKey(std::string(32, 'r')); }).ok());
  EXPECT_EQ((*catalog.Current())->session_key, std::string(32, 'r'));
}

TEST(BuildSnapshotTest, SessionKeyDefaultsToEmpty) {
  Config config;
  config.issuer = "https://id.example.com";
  EXPECT_EQ(BuildSnapshot(config, 1, {}, {}, {}, {}, {})->session_key, "");
  EXPECT_EQ(BuildSnapshot(config, 1, {}, {}, {}, {}, {}, kKey)->session_key, kKey);
}

}  // namespace
}  // namespace tf::oauth
