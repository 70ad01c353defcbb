#pragma once
// Calendar dates and the ways log producers write them into object keys.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace common {

struct Date {
  int year = 0;
  int month = 0;
  int day = 0;

  // Strict YYYY-MM-DD naming a real calendar day.
  static std::optional<Date> parse(std::string_view text);
  // The UTC date of an RFC 3339 time ("2026-11-23T01:00:00Z", as EventBridge sends it).
  static std::optional<Date> from_time(std::string_view rfc3339);
  static Date from_time_point(std::chrono::system_clock::time_point time);

  std::string iso() const;  // YYYY-MM-DD
  Date previous() const;
  Date next() const;
  bool operator==(const Date&) const = default;
  auto operator<=>(const Date&) const = default;
};

// The forms a key may carry the date in: YYYY-MM-DD, YYYY-M-D, YYYY/MM/DD/, YYYY/M/D/, YYYYMMDD.
std::vector<std::string> date_forms(const Date& date);

// Whether the key carries the date in one of those forms, as a whole: the digits around it must
// not continue the number (2026-11-2 is not in 2026-11-25, 20261122 is not in 1202611223).
bool key_has_date(std::string_view key, const Date& date);

// S3's LastModified (2026-11-23T09:44:11.000Z); nullopt when it is not one.
std::optional<std::chrono::system_clock::time_point> parse_s3_time(std::string_view text);

// A time to the second in UTC, as records and RFC 3339 write it: 2026-11-16T00:00:00Z.
std::string format_utc_seconds(std::chrono::sys_seconds time);

}  // namespace common
