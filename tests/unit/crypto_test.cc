#include "util/crypto.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>

namespace tf {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

TEST(CryptoTest, Sha256KnownVectors) {
  // FIPS 180-2 appendix B.1 and the empty string.
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256(std::string("a\0b", 3)).size(), 32u);
  EXPECT_NE(Sha256(std::string("a\0b", 3)), Sha256("a"));
}

TEST(CryptoTest, Sha512KnownVector) {
  EXPECT_EQ(Hex(Sha512("abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(CryptoTest, RandomBytesHasTheRequestedLength) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(1).size(), 1u);
  EXPECT_EQ(RandomBytes(64).size(), 64u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

// Bytes are drawn ahead per thread: across many refills, of every size up to and past the buffer's, no draw repeats.
TEST(CryptoTest, RandomBytesNeverRepeatAcrossRefills) {
  std::set<std::string> seen;
  for (size_t i = 0; i < 3000; ++i) {
    const size_t n = 8 + i % 300;
    const std::string r = RandomBytes(n);
    ASSERT_EQ(r.size(), n);
    EXPECT_TRUE(seen.insert(r.substr(0, 8)).second) << "repeated bytes at draw " << i;
  }
}

// A forked child and its parent never hand out the same bytes, although the child starts with a copy of the
// parent's memory, bytes drawn ahead included.
TEST(CryptoTest, AForkedChildDrawsItsOwnRandomBytes) {
  (void)RandomBytes(1);  // the parent's thread has bytes drawn ahead
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string r = RandomBytes(32);
    _exit(write(fds[1], r.data(), r.size()) == 32 ? 0 : 1);
  }
  close(fds[1]);
  const std::string mine = RandomBytes(32);
  std::string child(32, '\0');
  size_t got = 0;
  while (got < child.size()) {
    const ssize_t n = read(fds[0], child.data() + got, child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, 32u);
  EXPECT_NE(Hex(child), Hex(mine));
}

TEST(CryptoTest, RandomHandleIs43UnreservedCharactersAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string h = RandomHandle(32);
    ASSERT_EQ(h.size(), 43u) << h;
    for (char c : h) {
      EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_')
          << h;
    }
    EXPECT_TRUE(seen.insert(h).second) << "repeated handle";
  }
  EXPECT_EQ(RandomHandle().size(), 43u);
  EXPECT_EQ(RandomHandle(16).size(), 22u);
}

TEST(CryptoTest, ConstantTimeEqualsTruthTable) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "Secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));  // prefix, different lengths
  EXPECT_FALSE(ConstantTimeEquals("secret2", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals("a", ""));
  // Embedded NULs are data, not terminators.
  const std::string a("ab\0cd", 5), b("ab\0ce", 5), c("ab", 2);
  EXPECT_TRUE(ConstantTimeEquals(a, std::string("ab\0cd", 5)));
  EXPECT_FALSE(ConstantTimeEquals(a, b));
  EXPECT_FALSE(ConstantTimeEquals(a, c));
  EXPECT_FALSE(ConstantTimeEquals(c, a));
}

// RFC 4231 §4.2-§4.8: every HMAC-SHA-256 test case (case 5's result is truncated to 128 bits by the RFC).
TEST(CryptoTest, HmacSha256Rfc4231TestCases) {
  struct Case {
    std::string key, data, mac;
  };
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<char>(i));
  const std::string long_key(131, '\xaa');
  const Case cases[] = {
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {key4, std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {long_key, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {long_key,
       "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
       "hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const Case& c : cases) {
    const std::string mac = HmacSha256(c.key, c.data);
    EXPECT_EQ(mac.size(), 32u);
    EXPECT_EQ(Hex(mac), c.mac) << c.data;
  }
  // Test case 5: only the first 128 bits are given.
  EXPECT_EQ(Hex(HmacSha256(std::string(20, '\x0c'), "Test With Truncation")).substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
}

TEST(CryptoTest, HmacSha256EdgeCases) {
  // An empty key and empty data are valid HMAC inputs (value from Python's hmac module).
  EXPECT_EQ(Hex(HmacSha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  // Embedded NULs are data: "a\0b" is not "a".
  EXPECT_EQ(Hex(HmacSha256("k", std::string("a\0b", 3))),
            "982872ff8422d2d84de2d26d7900850ff9f3b3275079b02813b572f9ff0ef0b2");
  EXPECT_NE(HmacSha256("k", std::string("a\0b", 3)), HmacSha256("k", "a"));
  // RFC 2104 pads a short key with zeros, so "k" and "k\0" are the same key: a property of HMAC itself, and why the
  // store's session key is always exactly 32 bytes.
  EXPECT_EQ(HmacSha256(std::string("k\0", 2), "a"), HmacSha256("k", "a"));
  // Not a plain hash, and the key matters.
  EXPECT_NE(HmacSha256("k", "data"), Sha256("data"));
  EXPECT_NE(HmacSha256("k1", "data"), HmacSha256("k2", "data"));
}

}  // namespace
}  // namespace tf
