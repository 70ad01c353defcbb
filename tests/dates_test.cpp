// Dates and the date forms in keys: what decides which files of another bucket belong to a day.
#include <gtest/gtest.h>

#include "common/dates.h"

namespace {

using common::Date;

TEST(Dates, ParseIsStrictAboutRealDays) {
  EXPECT_EQ(Date::parse("2026-03-05"), (Date{2026, 3, 5}));
  EXPECT_EQ(Date::parse("2024-02-29"), (Date{2024, 2, 29}));
  EXPECT_FALSE(Date::parse("2026-02-29"));
  EXPECT_FALSE(Date::parse("2026-13-01"));
  EXPECT_FALSE(Date::parse("2026-3-5"));
  EXPECT_FALSE(Date::parse("2026-03-05T00:00:00Z"));
  EXPECT_FALSE(Date::parse(""));
}

// Found by fuzzing: a year past 2261 overflowed system_clock's nanoseconds (undefined behaviour,
// and a wrong day where it did not trap).
TEST(Dates, TimesOutsideWhatS3AndSchedulersGiveAreRefused) {
  EXPECT_FALSE(Date::from_time("7026-03-05T01:00:00Z"));
  EXPECT_FALSE(common::parse_s3_time("9999-12-31T23:59:59.000Z"));
  EXPECT_FALSE(common::parse_s3_time("1969-12-31T23:59:59Z"));
  EXPECT_EQ(Date::from_time("2199-12-31T23:59:59Z"), (Date{2199, 12, 31}));
  EXPECT_EQ(Date::from_time("1970-01-01T00:00:00Z"), (Date{1970, 1, 1}));
}

TEST(Dates, PreviousAndNextCrossMonthsAndYears) {
  EXPECT_EQ(Date::parse("2026-01-01")->previous(), (Date{2025, 12, 31}));
  EXPECT_EQ(Date::parse("2024-03-01")->previous(), (Date{2024, 2, 29}));
  EXPECT_EQ(Date::parse("2026-02-28")->next(), (Date{2026, 3, 1}));
  EXPECT_EQ(Date::from_time("2026-03-06T01:00:00Z"), (Date{2026, 3, 6}));
  EXPECT_FALSE(Date::from_time("2026-03-06"));
}

TEST(Dates, KeysCarryTheDateInFiveForms) {
  const Date day{2026, 3, 5};
  for (const char* key :
       {"alb/2026-03-05/a.log", "app/2026-3-5/b.log", "x/2026/03/05/c.log", "y/2026/3/5/d.log",
        "z/log-20260305.txt", "2026-03-05", "prefix_20260305_suffix.gz"}) {
    EXPECT_TRUE(common::key_has_date(key, day)) << key;
  }
}

TEST(Dates, NumbersThatMerelyContainTheDateDoNotMatch) {
  const Date day{2026, 3, 5};
  for (const char* key :
       {"w/2026-03-15/later.log", "app/2026-3-50/x.log", "v/20260305123/f.log", "v/120260305/f.log",
        "y/2026/3/50/d.log", "y/2026/3/5x/d.log", "2026-03-04/a.log"}) {
    EXPECT_FALSE(common::key_has_date(key, day)) << key;
  }
  // A later occurrence still counts when the first one is part of a longer number.
  EXPECT_TRUE(common::key_has_date("120260305/20260305.log", day));
}

TEST(Dates, TwoDigitMonthsAndDaysHaveOneSpelling) {
  EXPECT_EQ(common::date_forms(Date{2026, 11, 22}).size(), 3u);
  EXPECT_EQ(common::date_forms(Date{2026, 3, 5}).size(), 5u);
}

TEST(Dates, S3TimesParseToThePointInTime) {
  const auto time = common::parse_s3_time("2026-11-23T09:44:11.250Z");
  ASSERT_TRUE(time);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count(),
            1795427051250);
  EXPECT_FALSE(common::parse_s3_time("Mon, 23 Nov 2026 09:44:11 GMT"));
}

}  // namespace
