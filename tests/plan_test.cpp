// How DetermineOperationType splits a group into outputs: pure arithmetic, no S3.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "pipeline/plan.h"

namespace {

using namespace common;
using namespace pipeline;
constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kGiB = 1ull << 30;

std::vector<Source> sources(std::size_t count, std::uint64_t size,
                            const std::string& prefix = "k") {
  std::vector<Source> result;
  for (std::size_t i = 0; i < count; ++i) {
    char key[64];
    std::snprintf(key, sizeof key, "%s%06zu", prefix.c_str(), i);
    result.push_back(Source{key, size, "\"etag\"", ""});
  }
  return result;
}

TEST(Plan, SmallFilesMakeOneOutputInKeyOrder) {
  auto input = sources(1000, 2000);
  std::reverse(input.begin(), input.end());
  const auto outputs = plan_outputs(input, "dest/name", 5 * kGiB);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].key_base, "dest/name-0001");
  EXPECT_EQ(outputs[0].bytes, 2000000u);
  EXPECT_EQ(outputs[0].part_size, 8 * kMiB);
  EXPECT_TRUE(std::is_sorted(outputs[0].sources.begin(), outputs[0].sources.end(),
                             [](const Source& a, const Source& b) { return a.key < b.key; }));
}

TEST(Plan, OutputsNeverExceedTheByteLimitAndKeepEverySourceOnce) {
  const auto outputs = plan_outputs(sources(100, 300 * 1024), "dest/name", 4 * kMiB);
  std::size_t total = 0;
  std::set<std::string> keys;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    EXPECT_LE(outputs[i].bytes, 4 * kMiB);
    total += outputs[i].sources.size();
    for (const auto& source : outputs[i].sources) keys.insert(source.key);
  }
  EXPECT_EQ(outputs.size(), 8u);  // 13 files of 300 KiB fit in 4 MiB
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(keys.size(), 100u);
  EXPECT_EQ(outputs.back().key_base, "dest/name-0008");
}

TEST(Plan, LargeSourcesComeFirstSoEveryPartButTheLastIsBigEnough) {
  std::vector<Source> input = {{"a-small", 1000, "", ""},
                               {"b-large", 6 * kMiB, "", ""},
                               {"c-small", 2000, "", ""},
                               {"d-large", 7 * kMiB, "", ""}};
  const auto outputs = plan_outputs(input, "x", 5 * kGiB);
  ASSERT_EQ(outputs.size(), 1u);
  std::vector<std::string> order;
  for (const auto& source : outputs[0].sources) order.push_back(source.key);
  EXPECT_EQ(order, (std::vector<std::string>{"b-large", "d-large", "a-small", "c-small"}));
}

TEST(Plan, PartSizeGrowsWhenTenThousandPartsWouldNotHoldTheOutput) {
  // 200 GiB of 1 MiB files in one output: 8 MiB parts would need 25,600 parts.
  const auto outputs = plan_outputs(sources(200 * 1024, kMiB), "big", 1ull << 40, 1, 1ull << 30);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_GT(outputs[0].part_size, 8 * kMiB);
  EXPECT_EQ(outputs[0].part_size % kMiB, 0u);
  EXPECT_LE(parts_needed(outputs[0].sources, outputs[0].part_size), kMaxParts);
}

TEST(Plan, TooManyCopiedPartsSplitTheOutput) {
  // 10,500 sources of 6 MiB would each be a copied part: more than 10,000 parts.
  const auto outputs = plan_outputs(sources(10500, 6 * kMiB), "many", 1ull << 50);
  ASSERT_EQ(outputs.size(), 2u);
  for (const auto& output : outputs) {
    EXPECT_LE(parts_needed(output.sources, output.part_size), kMaxParts);
  }
}

TEST(Plan, AnOutputHoldsAtMostTenThousandOriginals) {
  const auto outputs = plan_outputs(sources(25000, 1024), "many", 5 * kGiB);
  ASSERT_EQ(outputs.size(), 3u);
  EXPECT_EQ(outputs[0].sources.size(), kMaxSourcesPerOutput);
  EXPECT_EQ(outputs[1].sources.size(), kMaxSourcesPerOutput);
  EXPECT_EQ(outputs[2].sources.size(), 5000u);
  EXPECT_EQ(outputs[0].sources.back().key, "k009999");
  EXPECT_EQ(outputs[1].sources.front().key, "k010000");
}

TEST(Plan, SourcesOverFiveGibibytesCopyInRanges) {
  EXPECT_EQ(parts_needed({{"huge", 12 * kGiB, "", ""}}, 8 * kMiB), 3u);
  EXPECT_EQ(parts_needed({{"small", 100, "", ""}, {"huge", 5 * kGiB, "", ""}}, 8 * kMiB), 2u);
}

TEST(Plan, OutputsOfAnEarlierRunAreNumberedAfterNeverOver) {
  const std::string base = "agg/CloudTrail/date=2026-03-05/CloudTrail_1_eu_2026-03-05";
  EXPECT_EQ(next_output_number({}, base), 1u);
  EXPECT_EQ(next_output_number({base + "-0001.gz", base + "-0002.log", base + "-0002.gz"}, base),
            3u);
  // Other names that merely start alike do not count.
  EXPECT_EQ(
      next_output_number(
          {base + "-0009x.gz", base + "-12.gz", base + "_more-0005.gz", base + "-0003"}, base),
      4u);
  const auto outputs = plan_outputs(sources(3, 1000), base, 5 * kGiB, 4);
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].key_base, base + "-0004");
}

TEST(Plan, ACopyNeverReplacesAnEarlierCopyOfTheSameName) {
  EXPECT_EQ(unused_key({}, "d/app.log.gz"), "d/app.log.gz");
  EXPECT_EQ(unused_key({"d/app.log.gz"}, "d/app.log.gz"), "d/app-0002.log.gz");
  EXPECT_EQ(unused_key({"d/app.log.gz", "d/app-0002.log.gz"}, "d/app.log.gz"), "d/app-0003.log.gz");
  EXPECT_EQ(unused_key({"d.x/app"}, "d.x/app"), "d.x/app-0002");
  EXPECT_EQ(unused_key({"d/.hidden"}, "d/.hidden"), "d/.hidden-0002");
}

}  // namespace
