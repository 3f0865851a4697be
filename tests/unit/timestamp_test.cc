// The one timestamp grammar (util/timestamp.h), shared by stored records and tokenctl.
#include <gtest/gtest.h>

#include "util/timestamp.h"

namespace tf {
namespace {

constexpr int64_t k2030 = 1893456000;  // 2030-01-01T00:00:00Z

TEST(TimestampTest, AcceptsTheGrammar) {
  EXPECT_EQ(ParseTimestamp("1893456000"), k2030);
  EXPECT_EQ(ParseTimestamp("0"), 0);
  EXPECT_EQ(ParseTimestamp("2030-01-01"), k2030);
  EXPECT_EQ(ParseTimestamp("2030-01-01T00:00:00Z"), k2030);
  EXPECT_EQ(ParseTimestamp("2030-01-01t00:00:00z"), k2030);
  EXPECT_EQ(ParseTimestamp("2030-01-01T00:00:00.250Z"), k2030);
  EXPECT_EQ(ParseTimestamp("2030-01-01T02:00:00+02:00"), k2030);
  EXPECT_EQ(ParseTimestamp("2029-12-31T23:30:00-00:30"), k2030);
  EXPECT_EQ(ParseTimestamp("2024-02-29T12:00:00Z"), 1709208000);
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), 0);
}

TEST(TimestampTest, RefusesTheRest) {
  for (const char* bad : {"", "-5", "1.5", "tomorrow", "2030-01-01T00:00:00", "2030-01-01T00:00", "2030-1-1",
                          "2030-13-01", "2030-00-10", "2030-01-00", "2023-02-29", "2030-04-31T00:00:00Z",
                          "2030-01-01T24:00:00Z", "2030-01-01T00:60:00Z", "2030-01-01T00:00:60Z",
                          "2030-01-01T00:00:00ZZ", "2030-01-01T00:00:00.Z", "2030-01-01T00:00:00+0200",
                          "2030-01-01T00:00:00+24:00", "2030-01-01 00:00:00Z", "2030-01-01x",
                          "1969-12-31T23:59:59Z", "1970-01-01T00:00:00+00:01", "99999999999999999999"}) {
    EXPECT_FALSE(ParseTimestamp(bad).has_value()) << bad;
  }
}

TEST(TimestampTest, FormatReadsBack) {
  EXPECT_EQ(FormatTimestamp(k2030), "2030-01-01T00:00:00Z");
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01T00:00:00Z");
  for (int64_t t : {int64_t{0}, int64_t{1709208000}, k2030 + 86399}) {
    EXPECT_EQ(ParseTimestamp(FormatTimestamp(t)), t);
  }
}

}  // namespace
}  // namespace tf
