#include "password/password_hash.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "password/hash_helper.h"
#include "util/base64.h"

#include <argon2.h>

namespace tf {
namespace {

// CPU seconds the calling thread has used. The timing tests compare work, not wall-clock time: Argon2 with one lane
// and PBKDF2 run in the calling thread, and other processes on a busy machine stretch wall-clock time, not this.
double ThreadCpuSeconds() {
  timespec ts{};
  EXPECT_EQ(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts), 0);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Small Argon2id parameters keep most tests fast; one test uses the defaults.
constexpr Argon2Params kFast{1024, 1, 1};

std::string HashOrDie(std::string_view password, const Argon2Params& params) {
  Result<std::string> h = HashPassword(password, params);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : std::string();
}

bool Matches(std::string_view stored, std::string_view password, const Argon2Params& current = kFast) {
  return VerifyPassword(stored, password, current).match;
}

// --- Argon2id, PHC strings ---

TEST(PasswordHashTest, DefaultsAreOwaspMinimum) {
  Argon2Params d;
  EXPECT_EQ(d.memory_kib, 19456u);
  EXPECT_EQ(d.iterations, 2u);
  EXPECT_EQ(d.parallelism, 1u);
  EXPECT_EQ(kMaxPasswordLength, 100u);  // IdentityServer InputLengthRestrictions.Password
}

TEST(PasswordHashTest, RoundTripWithDefaultParams) {
  const Argon2Params d;
  std::string h = HashOrDie("correct horse battery staple", d);
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << h;
  PasswordCheck ok = VerifyPassword(h, "correct horse battery staple", d);
  EXPECT_TRUE(ok.match);
  EXPECT_FALSE(ok.needs_rehash);
  EXPECT_FALSE(VerifyPassword(h, "correct horse battery stapl", d).match);
}

TEST(PasswordHashTest, RoundTripAndWrongPassword) {
  std::string h = HashOrDie("s3cret", kFast);
  PasswordCheck ok = VerifyPassword(h, "s3cret", kFast);
  EXPECT_TRUE(ok.match);
  EXPECT_FALSE(ok.needs_rehash);
  for (const char* wrong : {"S3cret", "s3cret ", "s3cre", "", "s3cret\n"}) {
    PasswordCheck bad = VerifyPassword(h, wrong, kFast);
    EXPECT_FALSE(bad.match) << wrong;
    EXPECT_FALSE(bad.needs_rehash) << wrong;
  }
  // Non-ASCII passwords are bytes (UTF-8) like any other.
  std::string u = HashOrDie("p\xc3\xa4ssw\xc3\xb6rd", kFast);
  EXPECT_TRUE(Matches(u, "p\xc3\xa4ssw\xc3\xb6rd"));
  EXPECT_FALSE(Matches(u, "passwrd"));
}

TEST(PasswordHashTest, PhcFormatAndFreshSalt) {
  std::string a = HashOrDie("same password", kFast);
  std::string b = HashOrDie("same password", kFast);
  EXPECT_NE(a, b);  // a fresh salt each time
  for (const std::string& h : {a, b}) {
    // $argon2id$v=19$m=1024,t=1,p=1$<22 chars: 16 bytes>$<43 chars: 32 bytes>
    const std::string prefix = "$argon2id$v=19$m=1024,t=1,p=1$";
    ASSERT_EQ(h.rfind(prefix, 0), 0u) << h;
    std::string rest = h.substr(prefix.size());
    size_t dollar = rest.find('$');
    ASSERT_NE(dollar, std::string::npos) << h;
    std::string salt = rest.substr(0, dollar);
    std::string tag = rest.substr(dollar + 1);
    EXPECT_EQ(salt.size(), 22u) << h;
    EXPECT_EQ(tag.size(), 43u) << h;
    EXPECT_EQ(rest.find('='), std::string::npos) << "no base64 padding: " << h;
    std::string padded_salt = salt + "==";
    std::string padded_tag = tag + "=";
    ASSERT_TRUE(Base64Decode(padded_salt).has_value()) << h;
    ASSERT_TRUE(Base64Decode(padded_tag).has_value()) << h;
    EXPECT_EQ(Base64Decode(padded_salt)->size(), 16u);
    EXPECT_EQ(Base64Decode(padded_tag)->size(), 32u);
  }
  EXPECT_TRUE(Matches(a, "same password"));
  EXPECT_TRUE(Matches(b, "same password"));
  // libargon2's own verifier reads what we write.
  EXPECT_EQ(argon2id_verify(a.c_str(), "same password", 13), ARGON2_OK);
  EXPECT_EQ(argon2id_verify(a.c_str(), "same passwore", 13), ARGON2_VERIFY_MISMATCH);
}

// Known answers from the Argon2 reference implementation's tests (P-H-C/phc-winner-argon2 src/test.c, also in its
// README: `echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1`). They check our parsing and our computation
// against an independent encoder, not against ourselves.
TEST(PasswordHashTest, ReferenceImplementationVectors) {
  struct Vector {
    const char* password;
    const char* phc;
  } vectors[] = {
      {"password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
      {"password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
      {"password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
  };
  for (const Vector& v : vectors) {
    PasswordCheck ok = VerifyPassword(v.phc, v.password, kFast);
    EXPECT_TRUE(ok.match) << v.phc;
    EXPECT_TRUE(ok.needs_rehash) << v.phc;  // other m/t/p, and an 8-byte salt
    EXPECT_FALSE(Matches(v.phc, "passwore")) << v.phc;
  }
  // The argon2i form of the same input is another algorithm and is not accepted.
  EXPECT_FALSE(Matches("$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E",
                       "password"));
}

TEST(PasswordHashTest, NeedsRehashWhenParamsDiffer) {
  std::string h = HashOrDie("pw", kFast);
  EXPECT_FALSE(VerifyPassword(h, "pw", kFast).needs_rehash);
  for (Argon2Params other : {Argon2Params{2048, 1, 1}, Argon2Params{1024, 2, 1}, Argon2Params{1024, 1, 2}}) {
    PasswordCheck c = VerifyPassword(h, "pw", other);
    EXPECT_TRUE(c.match);
    EXPECT_TRUE(c.needs_rehash) << other.memory_kib << "," << other.iterations << "," << other.parallelism;
  }
  // Not on a mismatch: there is nothing to rehash.
  EXPECT_FALSE(VerifyPassword(h, "wrong", Argon2Params{2048, 1, 1}).needs_rehash);
  // After a rehash with the new params, no further rehash.
  Argon2Params next{2048, 1, 2};
  std::string h2 = HashOrDie("pw", next);
  EXPECT_EQ(h2.rfind("$argon2id$v=19$m=2048,t=1,p=2$", 0), 0u) << h2;
  PasswordCheck c2 = VerifyPassword(h2, "pw", next);
  EXPECT_TRUE(c2.match);
  EXPECT_FALSE(c2.needs_rehash);
}

// PHC strings made directly with libargon2's own encoder, with salt and tag lengths HashPassword never writes.
std::string Argon2Encoded(std::string_view password, size_t salt_len, size_t tag_len, const Argon2Params& p) {
  const std::string salt(salt_len, 'S');
  std::string out(argon2_encodedlen(p.iterations, p.memory_kib, p.parallelism, static_cast<uint32_t>(salt_len),
                                    static_cast<uint32_t>(tag_len), Argon2_id),
                  '\0');
  int rc = argon2id_hash_encoded(p.iterations, p.memory_kib, p.parallelism, password.data(), password.size(),
                                 salt.data(), salt.size(), tag_len, out.data(), out.size());
  EXPECT_EQ(rc, ARGON2_OK) << argon2_error_message(rc);
  out.resize(out.find('\0'));
  return out;
}

TEST(PasswordHashTest, SaltAndTagLengths) {
  // Our own format: 16-byte salt, 32-byte tag, current params: no rehash.
  std::string ours = Argon2Encoded("pw", 16, 32, kFast);
  EXPECT_EQ(VerifyPassword(ours, "pw", kFast).match, true);
  EXPECT_EQ(VerifyPassword(ours, "pw", kFast).needs_rehash, false);
  // Other lengths within the bounds verify, and are rehashed into ours.
  for (auto [salt_len, tag_len] : {std::pair<size_t, size_t>{8, 32}, {64, 32}, {16, 16}, {16, 64}, {32, 48}}) {
    std::string h = Argon2Encoded("pw", salt_len, tag_len, kFast);
    PasswordCheck c = VerifyPassword(h, "pw", kFast);
    EXPECT_TRUE(c.match) << h;
    EXPECT_TRUE(c.needs_rehash) << h;
    EXPECT_FALSE(Matches(h, "pW")) << h;
  }
  // Outside them: refused even with the right password.
  for (auto [salt_len, tag_len] : {std::pair<size_t, size_t>{65, 32}, {16, 15}, {16, 8}, {16, 65}}) {
    std::string h = Argon2Encoded("pw", salt_len, tag_len, kFast);
    PasswordCheck c = VerifyPassword(h, "pw", kFast);
    EXPECT_FALSE(c.match) << h;
    EXPECT_FALSE(c.needs_rehash) << h;
  }
}

TEST(PasswordHashTest, TamperedPhcDoesNotMatch) {
  const std::string h = HashOrDie("pw", kFast);
  ASSERT_TRUE(Matches(h, "pw"));
  const size_t tag_at = h.rfind('$') + 1;
  const size_t salt_at = h.rfind('$', tag_at - 2) + 1;
  auto flip = [](std::string s, size_t i) {
    s[i] = s[i] == 'A' ? 'B' : 'A';
    return s;
  };
  EXPECT_FALSE(Matches(flip(h, tag_at), "pw"));       // tag
  EXPECT_FALSE(Matches(flip(h, tag_at + 20), "pw"));
  EXPECT_FALSE(Matches(flip(h, salt_at), "pw"));      // salt
  std::string params_changed = h;
  params_changed.replace(params_changed.find("m=1024"), 6, "m=1032");
  EXPECT_FALSE(Matches(params_changed, "pw"));
  std::string t_changed = h;
  t_changed.replace(t_changed.find("t=1"), 3, "t=2");
  EXPECT_FALSE(Matches(t_changed, "pw"));
  std::string truncated_tag = h.substr(0, h.size() - 1);
  EXPECT_FALSE(Matches(truncated_tag, "pw"));
}

TEST(PasswordHashTest, MalformedPhcIsRejectedWithoutCrash) {
  const std::string h = HashOrDie("pw", kFast);
  const std::string salt_and_tag = h.substr(h.find("$", std::string("$argon2id$v=19$").size()));  // "$salt$tag"
  const std::string params_etc = "$argon2id$v=19$m=1024,t=1,p=1";
  ASSERT_TRUE(Matches(params_etc + salt_and_tag, "pw"));
  const std::vector<std::string> bad = {
      "$",
      "$argon2id",
      "$argon2id$",
      "$argon2id$v=19$",
      "$argon2id$v=19$m=1024,t=1,p=1",
      "$argon2id$v=19$m=1024,t=1,p=1$",
      "$argon2id$v=19$m=1024,t=1,p=1$$",
      params_etc + salt_and_tag + "$",
      params_etc + salt_and_tag + "=",
      params_etc + salt_and_tag + " ",
      " " + params_etc + salt_and_tag,
      "$argon2id$v=16$m=1024,t=1,p=1" + salt_and_tag,           // only version 19
      "$argon2id$m=1024,t=1,p=1" + salt_and_tag,                 // version required
      "$argon2id$v=19$t=1,m=1024,p=1" + salt_and_tag,            // canonical order only
      "$argon2id$v=19$m=01024,t=1,p=1" + salt_and_tag,           // leading zero
      "$argon2id$v=19$m=1024,t=1,p=1,keyid=x" + salt_and_tag,
      "$argon2id$v=19$m=-1024,t=1,p=1" + salt_and_tag,
      "$argon2id$v=19$m=1024,t=0,p=1" + salt_and_tag,            // t below 1
      "$argon2id$v=19$m=1024,t=1,p=0" + salt_and_tag,            // p below 1
      "$argon2id$v=19$m=4,t=1,p=1" + salt_and_tag,               // m below 8
      "$argon2id$v=19$m=16,t=1,p=4" + salt_and_tag,              // m below 8 x p
      "$argon2id$v=19$m=4194305,t=1,p=1" + salt_and_tag,         // m above the cap: never allocated
      "$argon2id$v=19$m=99999999999999999999,t=1,p=1" + salt_and_tag,
      "$argon2id$v=19$m=1024,t=101,p=1" + salt_and_tag,          // t above the cap
      "$argon2id$v=19$m=1024,t=4294967295,p=1" + salt_and_tag,
      "$argon2id$v=19$m=1024,t=1,p=65" + salt_and_tag,           // p above the cap
      "$argon2i$v=19$m=1024,t=1,p=1" + salt_and_tag,
      "$argon2d$v=19$m=1024,t=1,p=1" + salt_and_tag,
      "$ARGON2ID$v=19$m=1024,t=1,p=1" + salt_and_tag,
      "$argon2id$v=19$m=1024,t=1,p=1$c29tZQ$" + h.substr(h.rfind('$') + 1),       // 4-byte salt
      "$argon2id$v=19$m=1024,t=1,p=1$" + std::string(100, 'A') + h.substr(h.rfind('$')),  // 75-byte salt
      params_etc + "$" + h.substr(h.rfind('$') + 1) + "$AAAAAAAA",                // 6-byte tag
      params_etc + "$" + h.substr(h.rfind('$') + 1) + "$" + std::string(90, 'A'),  // 67-byte tag
      params_etc + "$c29tZXNhbHQ!$" + h.substr(h.rfind('$') + 1),                 // bad alphabet
      params_etc + "$c29tZXNhbHQ=$" + h.substr(h.rfind('$') + 1),                 // padding
      params_etc + "$c29tZXNhbHQxY$" + h.substr(h.rfind('$') + 1),                // 4n+1 characters
      params_etc + "$c29tZXNhbHR$" + h.substr(h.rfind('$') + 1),                  // non-zero trailing bits
      std::string("$argon2id$v=19$m=1024,t=1,p=1\0$", 31) + salt_and_tag.substr(1),
  };
  for (const std::string& s : bad) {
    PasswordCheck c = VerifyPassword(s, "pw", kFast);
    EXPECT_FALSE(c.match) << s;
    EXPECT_FALSE(c.needs_rehash) << s;
  }
}

TEST(PasswordHashTest, HashPasswordRejectsBadInput) {
  EXPECT_FALSE(HashPassword("", kFast).ok());
  Result<std::string> too_long = HashPassword(std::string(kMaxPasswordLength + 1, 'x'), kFast);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(too_long.status().message().find("xxxx"), std::string::npos);  // never echoes the password
  EXPECT_TRUE(HashPassword(std::string(kMaxPasswordLength, 'x'), kFast).ok());
  for (Argon2Params p : {Argon2Params{7, 1, 1}, Argon2Params{1024, 0, 1}, Argon2Params{1024, 1, 0},
                         Argon2Params{16, 1, 4}, Argon2Params{1024, 101, 1}, Argon2Params{1024, 1, 65},
                         Argon2Params{kArgon2MaxMemoryKib + 1, 1, 1}}) {
    Result<std::string> r = HashPassword("pw", p);
    EXPECT_FALSE(r.ok()) << p.memory_kib << "," << p.iterations << "," << p.parallelism;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  }
  EXPECT_TRUE(HashPassword("pw", Argon2Params{32, 1, 4}).ok());  // exactly 8 KiB per lane
}

TEST(PasswordHashTest, OverlongPasswordNeverMatches) {
  // Even a stored hash of a long password (made by some other system) is refused beyond the limit, so the work per
  // attempt stays bounded.
  const std::string at_limit(kMaxPasswordLength, 'y');
  std::string h = HashOrDie(at_limit, kFast);
  EXPECT_TRUE(Matches(h, at_limit));
  EXPECT_FALSE(Matches(h, at_limit + "y"));
  // Identity v3 hashes of 100 and 101 times 'y' (PBKDF2-HMAC-SHA256, 1 iteration, salt 00..0f), made by:
  // /usr/bin/python3 -c "import hashlib,base64,struct; s=bytes(range(16)); p=b'y'*101;
  // print(base64.b64encode(b'\x01'+struct.pack('>III',1,1,16)+s+hashlib.pbkdf2_hmac('sha256',p,s,1,32)).decode())"
  // (and p=b'y'*100). The 101-byte one is correct, yet refused.
  EXPECT_TRUE(Matches("AQAAAAEAAAABAAAAEAABAgMEBQYHCAkKCwwNDg++PAe9BlVIks54spsQ5Q0h3kOvIhKfvLf0m0nMR8ELmQ==",
                      std::string(kMaxPasswordLength, 'y')));
  EXPECT_FALSE(Matches("AQAAAAEAAAABAAAAEAABAgMEBQYHCAkKCwwNDg/uiHcFUDWFUxkcXYO8Upxr8oY7n2ERhFpno3TeyvZCeA==",
                       std::string(kMaxPasswordLength + 1, 'y')));
}

// --- ASP.NET Core Identity PasswordHasher ---

// Generated independently of this code with Python's hashlib (random salts), by:
//
// /usr/bin/python3 -c '
// import hashlib, base64, os, struct
// def v2(pw):
//     salt = os.urandom(16)
//     return base64.b64encode(b"\x00" + salt + hashlib.pbkdf2_hmac("sha1", pw.encode(), salt, 1000, 32)).decode()
// def v3(pw, prf, it, salt_len=16, key_len=32):
//     salt = os.urandom(salt_len)
//     name = ["sha1", "sha256", "sha512"][prf]
//     key = hashlib.pbkdf2_hmac(name, pw.encode(), salt, it, key_len)
//     return base64.b64encode(b"\x01" + struct.pack(">III", prf, it, salt_len) + salt + key).decode()
// for pw, h in [("Passw0rd!", v2("Passw0rd!")), ("alice", v2("alice")),
//               ("Passw0rd!", v3("Passw0rd!", 0, 1000)), ("Passw0rd!", v3("Passw0rd!", 1, 10000)),
//               ("Passw0rd!", v3("Passw0rd!", 2, 100000)), ("s\u00e9same \u00fcber", v3("s\u00e9same \u00fcber", 2, 1)),
//               ("bob", v3("bob", 1, 12345, 32, 64)), ("carol", v3("carol", 2, 2, 20, 16))]:
//     print(repr(pw), h)'
//
// v3 with HMACSHA256 and 10000 iterations is Identity's .NET Core 3-6 default; HMACSHA512 with 100000 is .NET 7+.
struct IdentityVector {
  const char* password;
  const char* hash;
  const char* what;
};
const IdentityVector kIdentityVectors[] = {
    {"Passw0rd!", "ANGdnx8ua8IvOsC5lYahjde48PLVhUAeTgbxvCzbIeRE3fWPuV2+ZzI00gM0703zQQ==", "v2"},
    {"alice", "AIi25SjbjR1XbUkFc6oGze5KzH1qnjLak7yJIOl440DL2lHioPuX7zXzi56gsQTC3g==", "v2"},
    {"Passw0rd!", "AQAAAAAAAAPoAAAAEC9RvuzcDAec7Dqo2XwXnopR5Q24dUeb8YpzsYzImDj7qZltZqeb0IFitsymlpp6gQ==",
     "v3 SHA1 1000"},
    {"Passw0rd!", "AQAAAAEAACcQAAAAEDtgwNFwUBbKcbfNTrcgzh2D7Io1g94YsOpCzslSlo5PIx2KjS0GIypeSFSK7LBdxw==",
     "v3 SHA256 10000"},
    {"Passw0rd!", "AQAAAAIAAYagAAAAEAR3fKp2/Og5V074PTgAsBLvE2wYUFvE2fP2X1JMIuCyo2Pg0G1B376ZTH/Em5juYQ==",
     "v3 SHA512 100000"},
    {"s\xc3\xa9same \xc3\xbc" "ber",
     "AQAAAAIAAAABAAAAEOGY/h8+HONT0VjXZKAlIVDc0RgP1fxM1q2KWX0GTRMc80AVMOmRdtu0oby827Y5uQ==", "v3 SHA512 1, UTF-8"},
    {"bob",
     "AQAAAAEAADA5AAAAIAiNU735aDmohQ+N77vN15oEuh2dHK/VwwoiYnTMdtcW2byqZToKFuCdrG2eanNJ6eXKmDAw70etNJHNoKFqAJr6zeRNvUp"
     "W+hfVVM9e0LyUyAbMdkYrYZQs8pZOWs6v0Q==",
     "v3 SHA256 12345, 32-byte salt, 64-byte subkey"},
    {"carol", "AQAAAAIAAAACAAAAFEw6sFRv+JFOEz97olYxwNyQ4ufPYQ5RmjFwe9DVHBxY3bPzDA==",
     "v3 SHA512 2, 20-byte salt, 16-byte subkey"},
};

TEST(PasswordHashTest, IdentityVectorsMatchAndNeedRehash) {
  for (const IdentityVector& v : kIdentityVectors) {
    PasswordCheck ok = VerifyPassword(v.hash, v.password, kFast);
    EXPECT_TRUE(ok.match) << v.what;
    EXPECT_TRUE(ok.needs_rehash) << v.what;  // always upgraded to Argon2id
    PasswordCheck bad = VerifyPassword(v.hash, std::string(v.password) + "x", kFast);
    EXPECT_FALSE(bad.match) << v.what;
    EXPECT_FALSE(bad.needs_rehash) << v.what;
    EXPECT_FALSE(Matches(v.hash, "")) << v.what;
  }
}

// Rewrites one byte of the decoded Identity hash and re-encodes it.
std::string PatchIdentity(const char* hash, size_t at, uint8_t value) {
  std::string raw = *Base64Decode(hash);
  raw[at] = static_cast<char>(value);
  return Base64Encode(raw);
}

std::string IdentityRaw(const char* hash) { return *Base64Decode(hash); }

// Correct v3 hashes of "dave" (PBKDF2-HMAC-SHA256, 1 iteration, salt bytes 0, 1, 2, ...) at and beyond the salt and
// subkey bounds, made by:
// /usr/bin/python3 -c '
// import hashlib, base64, struct
// def v3(pw, prf, it, salt, key_len):
//     name = ["sha1", "sha256", "sha512"][prf]
//     key = hashlib.pbkdf2_hmac(name, pw.encode(), salt, it, key_len)
//     return base64.b64encode(b"\x01" + struct.pack(">III", prf, it, len(salt)) + salt + key).decode()
// for salt_len, key_len in [(15, 32), (257, 32), (16, 65), (256, 64), (16, 16)]:
//     print(salt_len, key_len, v3("dave", 1, 1, bytes(i % 256 for i in range(salt_len)), key_len))'
TEST(PasswordHashTest, IdentitySaltAndSubkeyBounds) {
  // Within: 256-byte salt with 64-byte subkey, 16-byte salt with 16-byte subkey.
  EXPECT_TRUE(Matches(
      "AQAAAAEAAAABAAABAAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDRE"
      "VGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX"
      "mJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6e"
      "rr7O3u7/Dx8vP09fb3+Pn6+/z9/v+qbQsW1BFs9XJmIWBWkrRXNTJcxUSai56/lhM+UCWFe8UqsKNnLcdGa6xazPhGhRHN9GMAAF2EtACmxGAC"
      "yUyI",
      "dave"));
  EXPECT_TRUE(Matches("AQAAAAEAAAABAAAAEAABAgMEBQYHCAkKCwwNDg/EoyzTV/RzAKqgISxuIrOP", "dave"));
  // Beyond: 15-byte salt (Identity itself refuses under 128 bits), 257-byte salt, 65-byte subkey.
  EXPECT_FALSE(Matches("AQAAAAEAAAABAAAADwABAgMEBQYHCAkKCwwNDuJQ6OEduq6D6tzqbAfa5UboZuGwntqtgo3T0LRAJAI0", "dave"));
  EXPECT_FALSE(Matches(
      "AQAAAAEAAAABAAABAQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj9AQUJDRE"
      "VGR0hJSktMTU5PUFFSU1RVVldYWVpbXF1eX2BhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ent8fX5/gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX"
      "mJmam5ydnp+goaKjpKWmp6ipqqusra6vsLGys7S1tre4ubq7vL2+v8DBwsPExcbHyMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5ufo6e"
      "rr7O3u7/Dx8vP09fb3+Pn6+/z9/v8AwDhvDO5t4xOCxdgUvP0S9kSHx9sWQni8jK7C3A9xRvc=",
      "dave"));
  EXPECT_FALSE(Matches(
      "AQAAAAEAAAABAAAAEAABAgMEBQYHCAkKCwwNDg/EoyzTV/RzAKqgISxuIrOPLElvme9j1XsGo1OKjv9/0es5aFJWrwmC9ijQO2W3mp6qOv5zmy1g"
      "86Tp/0xxqnp2cA==",
      "dave"));
}

TEST(PasswordHashTest, IdentityIterationCapRefusesBeforeWorking) {
  // INT_MAX iterations of PBKDF2-HMAC-SHA512 would run for hours; above the cap it must be refused at once. (The
  // bound here is generous: the point is "no work", not speed.)
  std::string raw(1, '\x01');
  for (uint32_t x : {2u, 0x7fffffffu, 16u}) {
    for (int shift = 24; shift >= 0; shift -= 8) raw += static_cast<char>((x >> shift) & 0xff);
  }
  raw += std::string(16, 's') + std::string(32, 'k');
  const double start = ThreadCpuSeconds();
  EXPECT_FALSE(Matches(Base64Encode(raw), "pw"));
  EXPECT_LT(ThreadCpuSeconds() - start, 5.0);
}

TEST(PasswordHashTest, TamperedIdentityHashesDoNotMatch) {
  const IdentityVector& v2 = kIdentityVectors[0];
  const IdentityVector& v3 = kIdentityVectors[3];  // SHA256, 10000
  const std::string raw2 = IdentityRaw(v2.hash);
  const std::string raw3 = IdentityRaw(v3.hash);
  // Flip a salt byte and a subkey byte.
  EXPECT_FALSE(Matches(PatchIdentity(v2.hash, 1, static_cast<uint8_t>(raw2[1]) ^ 1), v2.password));
  EXPECT_FALSE(Matches(PatchIdentity(v2.hash, 48, static_cast<uint8_t>(raw2[48]) ^ 0x80), v2.password));
  EXPECT_FALSE(Matches(PatchIdentity(v3.hash, 13, static_cast<uint8_t>(raw3[13]) ^ 1), v3.password));
  EXPECT_FALSE(Matches(PatchIdentity(v3.hash, raw3.size() - 1, static_cast<uint8_t>(raw3.back()) ^ 1),
                       v3.password));
  // Another PRF or iteration count than the one the hash was made with.
  EXPECT_FALSE(Matches(PatchIdentity(v3.hash, 4, 2), v3.password));             // SHA512 instead of SHA256
  EXPECT_FALSE(Matches(PatchIdentity(v3.hash, 8, 0x11), v3.password));          // 10001 iterations
  // The v2 layout read as v3 and vice versa.
  EXPECT_FALSE(Matches(PatchIdentity(v2.hash, 0, 1), v2.password));
  EXPECT_FALSE(Matches(PatchIdentity(v3.hash, 0, 0), v3.password));
}

TEST(PasswordHashTest, MalformedIdentityHashesAreRejectedWithoutCrash) {
  const IdentityVector& v2 = kIdentityVectors[0];
  const IdentityVector& v3 = kIdentityVectors[3];
  const std::string raw2 = IdentityRaw(v2.hash);
  const std::string raw3 = IdentityRaw(v3.hash);
  auto header = [](uint32_t prf, uint32_t iterations, uint32_t salt_len) {
    std::string h(1, '\x01');
    for (uint32_t x : {prf, iterations, salt_len}) {
      for (int shift = 24; shift >= 0; shift -= 8) h += static_cast<char>((x >> shift) & 0xff);
    }
    return h;
  };
  const std::string salt16(16, 's'), key32(32, 'k');
  std::vector<std::string> bad = {
      "",
      "=",
      "A",
      "AA==",
      "not base64!",
      std::string(v2.hash) + "\n",
      std::string(v2.hash).substr(0, std::string(v2.hash).size() - 2),  // padding removed
      Base64Encode(raw2.substr(0, 48)),                                   // v2 one byte short
      Base64Encode(raw2 + "x"),                                           // v2 one byte long
      Base64Encode(raw3.substr(0, 12)),                                   // v3 header cut
      Base64Encode(raw3.substr(0, 13)),                                   // v3 header only
      Base64Encode(raw3.substr(0, 13 + 16)),                              // no subkey
      Base64Encode(raw3.substr(0, 13 + 16 + 15)),                         // 15-byte subkey
      PatchIdentity(v3.hash, 0, 2),                                       // unknown version byte
      PatchIdentity(v3.hash, 0, 0xff),
      PatchIdentity(v3.hash, 4, 3),                                       // unknown prf
      PatchIdentity(v3.hash, 1, 0x80),                                    // prf 0x80000001
      Base64Encode(header(1, 0, 16) + salt16 + key32),                    // zero iterations
      Base64Encode(header(1, kPbkdf2MaxIterations + 1, 16) + salt16 + key32),  // absurd iterations: no work done
      Base64Encode(header(1, 0xffffffffu, 16) + salt16 + key32),
      Base64Encode(header(1, 1000, 15) + std::string(15, 's') + key32),   // salt under 128 bits
      Base64Encode(header(1, 1000, 257) + std::string(257, 's') + key32), // salt over the cap
      Base64Encode(header(1, 1000, 0xffffffffu) + salt16 + key32),        // salt length beyond the data
      Base64Encode(header(1, 1000, 40) + salt16 + key32),                 // salt eats the subkey
      Base64Encode(header(2, 1000, 16) + salt16 + std::string(65, 'k')),  // subkey over the cap
      std::string(kMaxStoredHashLength + 4, 'A'),                         // too long to consider
  };
  for (const std::string& s : bad) {
    PasswordCheck c = VerifyPassword(s, v3.password, kFast);
    EXPECT_FALSE(c.match) << s;
    EXPECT_FALSE(c.needs_rehash) << s;
  }
  // Garbage of every length and byte value: never a crash (ASan/UBSan build checks reads).
  std::string junk;
  for (int i = 0; i < 300; ++i) {
    junk += static_cast<char>((i * 37 + 11) & 0xff);
    EXPECT_FALSE(Matches(junk, "pw"));
    EXPECT_FALSE(Matches(Base64Encode(junk), "pw"));
    EXPECT_FALSE(Matches("\x01" + junk, "pw"));
  }
}

// --- Unknown users ---

TEST(PasswordHashTest, DummyVerificationTakesAboutAsLongAsARealOne) {
  const Argon2Params p{4096, 2, 1};
  const std::string stored = HashOrDie("real password", p);
  VerifyDummyPassword("warm up", p);  // the first call makes the dummy hash
  auto time_of = [](auto&& f) {
    const int kRounds = 5;
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < kRounds; ++i) f();
    return ThreadCpuSeconds() - start;
  };
  const double real = time_of([&] { EXPECT_FALSE(VerifyPassword(stored, "guess", p).match); });
  const double dummy = time_of([&] { VerifyDummyPassword("guess", p); });
  ASSERT_GT(real, 0.0);
  const double ratio = dummy / real;
  EXPECT_GT(ratio, 0.3) << "dummy " << dummy << " s, real " << real << " s";
  EXPECT_LT(ratio, 3.0) << "dummy " << dummy << " s, real " << real << " s";
  // A dummy verification that did nothing would be orders of magnitude faster; one with other params much slower.
}

TEST(PasswordHashTest, DummyVerificationScalesWithParams) {
  // The dummy hash follows the params it is given: 16x the memory costs clearly more than 1x.
  const Argon2Params small{1024, 1, 1};
  const Argon2Params big{16384, 1, 1};
  VerifyDummyPassword("x", small);
  VerifyDummyPassword("x", big);
  auto time_of = [](const Argon2Params& p) {
    const double start = ThreadCpuSeconds();
    for (int i = 0; i < 5; ++i) VerifyDummyPassword("guess", p);
    return ThreadCpuSeconds() - start;
  };
  EXPECT_GT(time_of(big), 3 * time_of(small));
}

TEST(PasswordHashTest, DummyVerificationIsThreadSafe) {
  const Argon2Params p{512, 1, 1};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&p] {
      for (int i = 0; i < 10; ++i) VerifyDummyPassword("pw", p);
    });
  }
  for (std::thread& t : threads) t.join();
  // Afterwards it still does the work (it did not cache a failure).
  const double start = ThreadCpuSeconds();
  VerifyDummyPassword("pw", Argon2Params{8192, 1, 1});
  VerifyDummyPassword("pw", Argon2Params{8192, 1, 1});
  EXPECT_GT(ThreadCpuSeconds() - start, 100e-6);
}

TEST(PasswordHashTest, ConcurrentHashAndVerify) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &ok] {
      std::string pw = "password-" + std::to_string(t);
      Result<std::string> h = HashPassword(pw, Argon2Params{512, 1, 1});
      ok[t] = h.ok() && VerifyPassword(*h, pw, Argon2Params{512, 1, 1}).match &&
              !VerifyPassword(*h, pw + "!", Argon2Params{512, 1, 1}).match;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

// The work runs on another thread at nice 19, this thread's priority is untouched, its hashing counts as this
// thread's, and what it throws reaches the caller.
TEST(PasswordHashTest, RunAtBackgroundPriority) {
  const int own_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  const HashWork before = ThreadHashWork();
  int work_nice = 0;
  pid_t work_tid = 0;
  RunAtBackgroundPriority([&] {
    work_nice = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
    work_tid = gettid();
    (void)HashPassword("pw", Argon2Params{64, 1, 1});
  });
  EXPECT_EQ(work_nice, 19);
  EXPECT_NE(work_tid, gettid());
  EXPECT_EQ(getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), own_nice);
  EXPECT_EQ(ThreadHashWork().argon2_calls, before.argon2_calls + 1);
  EXPECT_EQ(ThreadHashWork().argon2_background_calls, before.argon2_background_calls + 1);
  EXPECT_EQ(ThreadHashWork().argon2_kib_passes, before.argon2_kib_passes + 64);
  (void)HashPassword("pw", Argon2Params{64, 1, 1});  // here, not in the background
  EXPECT_EQ(ThreadHashWork().argon2_background_calls, before.argon2_background_calls + 1);
  EXPECT_THROW(RunAtBackgroundPriority([] { throw std::runtime_error("from the hashing thread"); }),
               std::runtime_error);
}

// The hashing threads compute with memory they keep (of the largest computation so far): the same hashes as
// libargon2's own allocation, whatever the sizes in turn, from callers overlapping on several threads.
TEST(PasswordHashTest, BackgroundHashesMatchHashesMadeHere) {
  const Argon2Params small{64, 1, 1}, large{1024, 2, 2};
  std::vector<std::thread> callers;
  std::vector<int> ok(6, 0);
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&, i] {
      const Argon2Params& params = i % 2 ? large : small;
      const std::string password = "pw-" + std::to_string(i);
      Result<std::string> here = HashPassword(password, params);
      Result<std::string> there = Status::Internal("not run");
      bool verified_there = false;
      RunAtBackgroundPriority([&] {
        there = HashPassword(password, params);
        verified_there = here.ok() && VerifyPassword(*here, password, params).match &&
                         !VerifyPassword(*here, "wrong", params).match;
      });
      ok[static_cast<size_t>(i)] = here.ok() && there.ok() && verified_there &&
                                   VerifyPassword(*there, password, params).match;
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(ok, std::vector<int>(6, 1));
}

// A stored hash cheaper than the configured cost (or not Argon2id at all) is topped up to the configured m x t, the
// work VerifyDummyPassword does for an unknown user.
// The hashing helper the worker starts (`tokenfcgi --hash-helper`, from the build tree beside this test) answers
// every kind of check as the check made here does, and the hashing work it did counts on the calling thread, so that
// the tests comparing work for known and unknown users hold through it too.
TEST(PasswordHashTest, HashingHelperAnswersAsTheCheckMadeHere) {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  ASSERT_GT(n, 0);
  std::string exe(self, static_cast<size_t>(n));
  exe = exe.substr(0, exe.rfind('/')) + "/../tokenfcgi";
  ASSERT_EQ(access(exe.c_str(), X_OK), 0) << exe << " is not built";
  ASSERT_TRUE(StartHashHelper(exe, 2).ok());
  ASSERT_GT(HashHelperPid(), 0);

  const Argon2Params params{8192, 2, 1};
  Result<std::string> cheaper = HashPassword("Right-pass-1", Argon2Params{4096, 1, 1});
  ASSERT_TRUE(cheaper.ok());
  std::vector<PasswordCheckJob> jobs(6);
  for (PasswordCheckJob& job : jobs) {
    job.user_found = true;
    job.stored = *cheaper;
    job.params = params;
    job.rehash_if_needed = true;
  }
  jobs[0].password = "Right-pass-1";                 // a match that needs a rehash
  jobs[1].password = "Wrong-pass-1";
  jobs[2].user_found = false;                        // no such user
  jobs[2].stored.clear();
  jobs[2].password = "Anything-1";
  jobs[3].stored = "not a hash";
  jobs[3].password = "Right-pass-1";
  jobs[4].password = std::string(5000, 'x');         // longer than any password
  jobs[5].password = "Right-pass-1";                 // a match, not asked to rehash
  jobs[5].rehash_if_needed = false;
  const auto work_of = [](const auto& run) {
    const HashWork before = ThreadHashWork();
    run();
    const HashWork after = ThreadHashWork();
    return HashWork{after.argon2_calls - before.argon2_calls,
                    after.argon2_background_calls - before.argon2_background_calls,
                    after.argon2_kib_passes - before.argon2_kib_passes,
                    after.pbkdf2_iterations - before.pbkdf2_iterations};
  };
  for (const PasswordCheckJob& job : jobs) {  // the dummy hash each side makes once, out of the comparison
    (void)RunPasswordCheck(job);
    (void)CheckPasswordInBackground(job);
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    SCOPED_TRACE(i);
    PasswordCheckResult here, there;
    const HashWork here_work = work_of([&] { here = RunPasswordCheck(jobs[i]); });
    const HashWork there_work = work_of([&] { there = CheckPasswordInBackground(jobs[i]); });
    EXPECT_EQ(there.check.match, here.check.match);
    EXPECT_EQ(there.check.needs_rehash, here.check.needs_rehash);
    EXPECT_EQ(there.upgraded_hash.empty(), here.upgraded_hash.empty());
    EXPECT_EQ(there.rehash_error, here.rehash_error);
    if (i == 0) {
      EXPECT_FALSE(there.upgraded_hash.empty()) << "the rehash case made no hash";
    }
    if (!there.upgraded_hash.empty()) {
      const PasswordCheck upgraded = VerifyPassword(there.upgraded_hash, jobs[i].password, params);
      EXPECT_TRUE(upgraded.match);
      EXPECT_FALSE(upgraded.needs_rehash);
    }
    EXPECT_EQ(there_work.argon2_calls, here_work.argon2_calls);
    EXPECT_EQ(there_work.argon2_kib_passes, here_work.argon2_kib_passes);
    EXPECT_EQ(there_work.pbkdf2_iterations, here_work.pbkdf2_iterations);
    EXPECT_EQ(there_work.argon2_background_calls, there_work.argon2_calls);  // none of it on the calling thread
  }
  EXPECT_GT(HashHelperPid(), 0) << "the helper went away";
}

TEST(PasswordHashTest, VerifyPasswordAtLeastAtTopsUpCheaperHashes) {
  const Argon2Params current{64, 3, 1};
  const uint64_t wanted = 64 * 3;
  auto work = [](auto&& f) {
    const uint64_t before = ThreadHashWork().argon2_kib_passes;
    f();
    return ThreadHashWork().argon2_kib_passes - before;
  };
  VerifyDummyPassword("warm-up", current);
  EXPECT_EQ(work([&] { VerifyDummyPassword("guess", current); }), wanted);
  Result<std::string> cheap = HashPassword("right-1", Argon2Params{40, 1, 1});
  Result<std::string> same = HashPassword("right-2", current);
  Result<std::string> dear = HashPassword("right-3", Argon2Params{64, 4, 1});
  ASSERT_TRUE(cheap.ok() && same.ok() && dear.ok());
  PasswordCheck check;
  EXPECT_EQ(work([&] { check = VerifyPasswordAtLeastAt(*cheap, "guess", current); }), wanted);
  EXPECT_FALSE(check.match);
  EXPECT_EQ(work([&] { check = VerifyPasswordAtLeastAt(*cheap, "right-1", current); }), wanted);
  EXPECT_TRUE(check.match);
  EXPECT_TRUE(check.needs_rehash);
  EXPECT_EQ(work([&] { check = VerifyPasswordAtLeastAt(*same, "right-2", current); }), wanted);
  EXPECT_TRUE(check.match);
  EXPECT_FALSE(check.needs_rehash);
  EXPECT_EQ(work([&] { (void)VerifyPasswordAtLeastAt(*dear, "guess", current); }), 64u * 4);  // its own cost
  EXPECT_EQ(work([&] { (void)VerifyPasswordAtLeastAt("not a hash", "guess", current); }), wanted);
  // Without the top-up, the cheap hash costs its own m x t only: what made existing users answer faster.
  EXPECT_EQ(work([&] { (void)VerifyPassword(*cheap, "guess", current); }), 40u);
}

TEST(PasswordHashTest, PasswordCheckSlotsBoundConcurrentChecks) {
  PasswordCheckSlots& slots = PasswordCheckSlots::Process();
  ASSERT_TRUE(slots.Enter(2, std::chrono::milliseconds(0)));
  ASSERT_TRUE(slots.Enter(2, std::chrono::milliseconds(0)));
  EXPECT_FALSE(slots.Enter(2, std::chrono::milliseconds(20)));  // a bounded wait, then no slot
  EXPECT_TRUE(slots.Enter(3, std::chrono::milliseconds(0)));     // the limit is the caller's
  slots.Leave();
  // A waiter is woken by Leave.
  std::atomic<bool> entered{false};
  std::thread waiter([&] { entered = slots.Enter(2, std::chrono::seconds(60)); });
  slots.Leave();
  waiter.join();
  EXPECT_TRUE(entered.load());
  slots.Leave();
  slots.Leave();
  EXPECT_EQ(PasswordCheckConcurrency(3), 3u);
  EXPECT_GE(PasswordCheckConcurrency(0), 1u);
}

}  // namespace
}  // namespace tf
