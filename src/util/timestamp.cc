#include "util/timestamp.h"

#include <charconv>
#include <ctime>

namespace tf {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Exactly `count` digits at `pos`.
bool ParseDigits(std::string_view s, size_t pos, size_t count, int* out) {
  if (pos + count > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

bool At(std::string_view s, size_t pos, char c) { return pos < s.size() && s[pos] == c; }

std::optional<int64_t> ParseUnixSeconds(std::string_view s) {
  int64_t seconds = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return seconds;
}

}  // namespace

std::optional<int64_t> ParseTimestamp(std::string_view s) {
  if (s.empty()) return std::nullopt;
  if (s.find_first_not_of("0123456789") == std::string_view::npos) return ParseUnixSeconds(s);

  //   2030-01-01T00:00:00.250+02:00
  //   0123456789012345678901
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!ParseDigits(s, 0, 4, &year) || !At(s, 4, '-') || !ParseDigits(s, 5, 2, &month) || !At(s, 7, '-') ||
      !ParseDigits(s, 8, 2, &day)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) return std::nullopt;
  if (day > kDays[month - 1] + (month == 2 && IsLeapYear(year) ? 1 : 0)) return std::nullopt;
  int64_t offset = 0;
  if (s.size() > 10) {
    if (!(At(s, 10, 'T') || At(s, 10, 't')) || !ParseDigits(s, 11, 2, &hour) || !At(s, 13, ':') ||
        !ParseDigits(s, 14, 2, &minute) || !At(s, 16, ':') || !ParseDigits(s, 17, 2, &second)) {
      return std::nullopt;
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    size_t pos = 19;
    if (At(s, pos, '.')) {
      const size_t start = ++pos;
      while (pos < s.size() && IsDigit(s[pos])) ++pos;
      if (pos == start) return std::nullopt;
    }
    if (At(s, pos, 'Z') || At(s, pos, 'z')) {
      ++pos;
    } else if (At(s, pos, '+') || At(s, pos, '-')) {
      int oh, om;
      if (!ParseDigits(s, pos + 1, 2, &oh) || !At(s, pos + 3, ':') || !ParseDigits(s, pos + 4, 2, &om) || oh > 23 ||
          om > 59) {
        return std::nullopt;
      }
      offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
  }
  const int64_t t = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400 +
                    hour * 3600 + minute * 60 + second - offset;
  if (t < 0) return std::nullopt;
  return t;
}

std::string FormatTimestamp(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace tf
