// Dates come from event input and from object keys. Whatever the bytes:
// - Date::parse accepts only a real day written YYYY-MM-DD, and writes it back the same way;
// - a key made of a date's form alone carries that date, and a day's keys never carry the next's;
// - parse_s3_time and Date::from_time never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/dates.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (const auto date = common::Date::parse(text)) {
    if (date->iso() != text) __builtin_trap();
    if (date->month < 1 || date->month > 12 || date->day < 1 || date->day > 31) __builtin_trap();
    for (const auto& form : common::date_forms(*date)) {
      if (!common::key_has_date("logs/" + form + "/a.log", *date)) __builtin_trap();
      if (common::key_has_date("logs/" + form + "/a.log", date->next())) __builtin_trap();
    }
  }
  common::Date::from_time(text);
  common::parse_s3_time(text);
  const auto some_day = common::Date::parse("2026-03-05");
  common::key_has_date(text, *some_day);
  return 0;
}
