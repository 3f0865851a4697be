#include "util/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <string>

#include "util/clock.h"

namespace tf {
namespace {

// Runs `fn` with fd 2 redirected into a pipe and returns what it wrote.
template <typename Fn>
std::string CaptureStderr(Fn fn) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const int saved = dup(2);
  dup2(fds[1], 2);
  fn();
  dup2(saved, 2);
  close(saved);
  close(fds[1]);
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  return out;
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { SetLogLevel(LogLevel::kInfo); }
};

TEST_F(LogTest, ParsesTheFourLevelNames) {
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  for (const char* bad : {"", "INFO", "warning", "trace", "info "}) EXPECT_FALSE(ParseLogLevel(bad)) << bad;
}

TEST_F(LogTest, LevelFiltersLessSevereLines) {
  SetLogLevel(LogLevel::kWarn);
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_EQ(CaptureStderr([] { Logf(LogLevel::kInfo, "hidden %d", 1); }), "");
  SetLogLevel(LogLevel::kDebug);
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
}

TEST_F(LogTest, WritesOnePrefixedLine) {
  const std::string out = CaptureStderr([] { Logf(LogLevel::kWarn, "client %s: %d", "app", 42); });
  EXPECT_EQ(out, "tokenfcgi[" + std::to_string(getpid()) + "]: warn: client app: 42\n");
}

TEST_F(LogTest, NewlinesInTheMessageCannotStartANewLine) {
  const std::string out = CaptureStderr([] { Logf(LogLevel::kError, "a\nb\rc"); });
  EXPECT_EQ(out, "tokenfcgi[" + std::to_string(getpid()) + "]: error: a b c\n");
}

TEST_F(LogTest, TruncatesLongLinesAt4KiB) {
  const std::string big(10000, 'x');
  const std::string out = CaptureStderr([&] { Logf(LogLevel::kInfo, "%s", big.c_str()); });
  ASSERT_FALSE(out.empty());
  EXPECT_LE(out.size(), 4097u);
  EXPECT_GE(out.size(), 4000u);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
}

// The one helper every log line and error message passes outside text through.
TEST(SanitizeForLogTest, PrintableAsciiWithoutBlanksCutAndNeverEmpty) {
  EXPECT_EQ(SanitizeForLog("web-app_1.x"), "web-app_1.x");
  EXPECT_EQ(SanitizeForLog(""), "-");
  EXPECT_EQ(SanitizeForLog("a b\tc\nd\re"), "a?b?c?d?e");  // a blank would run into the next field
  EXPECT_EQ(SanitizeForLog(std::string("x\0y", 3)), "x?y");
  EXPECT_EQ(SanitizeForLog("caf\xc3\xa9\x7f"), "caf???");
  EXPECT_EQ(SanitizeForLog(std::string(kMaxLoggedLength, 'a')), std::string(kMaxLoggedLength, 'a'));
  EXPECT_EQ(SanitizeForLog(std::string(kMaxLoggedLength + 1, 'a')), std::string(kMaxLoggedLength, 'a') + "...");
  EXPECT_EQ(SanitizeForLog("abcdef", 3), "abc...");
  EXPECT_EQ(SanitizeForLog(SanitizeForLog(std::string(100, 'a')), 100), SanitizeForLog(std::string(100, 'a')));
  // Messages keep their blanks; control characters still go.
  EXPECT_EQ(SanitizeForLog("cannot open file\nx", 100, Blanks::kKeep), "cannot open file?x");
  EXPECT_EQ(SanitizeForLog("", 100, Blanks::kKeep), "-");
}

TEST(ClockTest, SystemClockIsNowAndManualClockMoves) {
  const int64_t before = static_cast<int64_t>(time(nullptr));
  const int64_t now = SystemClock::Default()->NowSeconds();
  EXPECT_GE(now, before);
  EXPECT_LE(now, before + 5);
  EXPECT_EQ(SystemClock::Default(), SystemClock::Default());
  ManualClock clock(1000);
  clock.Advance(5);
  EXPECT_EQ(clock.NowSeconds(), 1005);
}

}  // namespace
}  // namespace tf
