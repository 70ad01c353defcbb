#include "common/dates.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace common {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool read_number(std::string_view text, std::size_t offset, std::size_t digits, int& value) {
  if (offset + digits > text.size()) return false;
  value = 0;
  for (std::size_t i = offset; i < offset + digits; ++i) {
    if (!is_digit(text[i])) return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool valid(const Date& date) {
  return date.year >= 1970 && date.year <= 9999 && date.month >= 1 && date.month <= 12 &&
         date.day >= 1 && date.day <= days_in_month(date.year, date.month);
}

std::chrono::sys_days to_days(const Date& date) {
  return std::chrono::sys_days(std::chrono::year(date.year) /
                               std::chrono::month(static_cast<unsigned>(date.month)) /
                               std::chrono::day(static_cast<unsigned>(date.day)));
}

Date from_days(std::chrono::sys_days days) {
  const std::chrono::year_month_day ymd(days);
  return Date{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
              static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

}  // namespace

std::optional<Date> Date::parse(std::string_view text) {
  Date date;
  if (text.size() != 10 || text[4] != '-' || text[7] != '-' ||
      !read_number(text, 0, 4, date.year) || !read_number(text, 5, 2, date.month) ||
      !read_number(text, 8, 2, date.day) || !valid(date)) {
    return std::nullopt;
  }
  return date;
}

std::optional<Date> Date::from_time(std::string_view rfc3339) {
  if (rfc3339.size() < 11 || rfc3339[10] != 'T') return std::nullopt;
  const auto time = parse_s3_time(rfc3339);
  if (!time) return std::nullopt;
  return from_time_point(*time);
}

Date Date::from_time_point(std::chrono::system_clock::time_point time) {
  return from_days(std::chrono::floor<std::chrono::days>(time));
}

std::string Date::iso() const {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", year, month, day);
  return text;
}

Date Date::previous() const {
  return from_days(to_days(*this) - std::chrono::days(1));
}
Date Date::next() const {
  return from_days(to_days(*this) + std::chrono::days(1));
}

std::vector<std::string> date_forms(const Date& date) {
  char padded_dash[16], unpadded_dash[16], padded_slash[16], unpadded_slash[16], compact[16];
  std::snprintf(padded_dash, sizeof padded_dash, "%04d-%02d-%02d", date.year, date.month, date.day);
  std::snprintf(unpadded_dash, sizeof unpadded_dash, "%04d-%d-%d", date.year, date.month, date.day);
  std::snprintf(padded_slash, sizeof padded_slash, "%04d/%02d/%02d/", date.year, date.month,
                date.day);
  std::snprintf(unpadded_slash, sizeof unpadded_slash, "%04d/%d/%d/", date.year, date.month,
                date.day);
  std::snprintf(compact, sizeof compact, "%04d%02d%02d", date.year, date.month, date.day);
  std::vector<std::string> forms{padded_dash, unpadded_dash, padded_slash, unpadded_slash, compact};
  // Days and months below 10 are the only ones with two spellings.
  std::vector<std::string> unique;
  for (auto& form : forms) {
    if (std::find(unique.begin(), unique.end(), form) == unique.end())
      unique.push_back(std::move(form));
  }
  return unique;
}

bool key_has_date(std::string_view key, const Date& date) {
  for (const std::string& form : date_forms(date)) {
    for (std::size_t at = key.find(form); at != std::string_view::npos;
         at = key.find(form, at + 1)) {
      const bool digit_before = at > 0 && is_digit(key[at - 1]);
      const std::size_t end = at + form.size();
      const bool digit_after = is_digit(form.back()) && end < key.size() && is_digit(key[end]);
      if (!digit_before && !digit_after) return true;
    }
  }
  return false;
}

std::optional<std::chrono::system_clock::time_point> parse_s3_time(std::string_view text) {
  Date date;
  int hour = 0, minute = 0, second = 0;
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != ' ') || text[13] != ':' || text[16] != ':' ||
      !read_number(text, 0, 4, date.year) || !read_number(text, 5, 2, date.month) ||
      !read_number(text, 8, 2, date.day) || !read_number(text, 11, 2, hour) ||
      !read_number(text, 14, 2, minute) || !read_number(text, 17, 2, second) || !valid(date) ||
      hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  // system_clock counts nanoseconds in 64 bits: 1678 to 2261 only. A log written outside
  // 1970-2199 is no time S3 or a scheduler gives, and would overflow (found by fuzzing).
  if (date.year < 1970 || date.year > 2199) return std::nullopt;
  int millis = 0;
  if (text.size() >= 23 && text[19] == '.') read_number(text, 20, 3, millis);
  return std::chrono::system_clock::time_point(to_days(date)) + std::chrono::hours(hour) +
         std::chrono::minutes(minute) + std::chrono::seconds(second) +
         std::chrono::milliseconds(millis);
}

std::string format_utc_seconds(std::chrono::sys_seconds time) {
  const auto day = std::chrono::floor<std::chrono::days>(time);
  const std::chrono::hh_mm_ss clock{time - day};
  const std::chrono::year_month_day date{day};
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", int(date.year()),
                unsigned(date.month()), unsigned(date.day()), long(clock.hours().count()),
                long(clock.minutes().count()), long(clock.seconds().count()));
  return text;
}

}  // namespace common
