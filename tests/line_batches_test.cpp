// Lines into batches for an HTTP endpoint (pipeline/line_batches.h): bounds, numbering, ids that
// a replay repeats, and what happens to lines that are not JSON.
#include "pipeline/line_batches.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <vector>

#include "runtime/errors.h"

namespace {

using pipeline::BatchId;
using pipeline::BatchLimits;
using pipeline::LineBatch;
using pipeline::LineBatcher;
using pipeline::NonJsonLines;

const BatchId kObject{"logs", "app/2026/03/05/a.json.gz", "v1", 0, 0};

std::vector<LineBatch> batches_of(const std::string& text, BatchLimits limits,
                                  NonJsonLines non_json = NonJsonLines::kSend,
                                  std::size_t chunk = 1 << 20, std::uint64_t* dropped = nullptr) {
  std::vector<LineBatch> batches;
  LineBatcher batcher(kObject, limits, non_json,
                      [&](LineBatch&& batch) { batches.push_back(std::move(batch)); });
  for (std::size_t i = 0; i < text.size(); i += chunk) batcher.feed(text.substr(i, chunk));
  batcher.finish();
  if (dropped) *dropped = batcher.dropped();
  return batches;
}

TEST(LineBatches, BatchesAreBoundedByLinesAndBytesAndNumberTheirLines) {
  std::string text;
  for (int i = 1; i <= 10; ++i) text += "{\"n\":" + std::to_string(i) + "}\n";  // 8 or 9 bytes
  const auto by_lines = batches_of(text, {4, 1 << 20, 1024});
  ASSERT_EQ(by_lines.size(), 3u);
  EXPECT_EQ(by_lines[0].lines, 4u);
  EXPECT_EQ(by_lines[0].id.first_line, 1u);
  EXPECT_EQ(by_lines[0].id.last_line, 4u);
  EXPECT_EQ(by_lines[2].id.first_line, 9u);
  EXPECT_EQ(by_lines[2].id.last_line, 10u);
  EXPECT_EQ(by_lines[2].body, "{\"n\":9}\n{\"n\":10}\n");

  const auto by_bytes = batches_of(text, {1000, 20, 16});
  for (const auto& batch : by_bytes) EXPECT_LE(batch.body.size(), 20u) << batch.body;
  std::string joined;
  for (const auto& batch : by_bytes) joined += batch.body;
  EXPECT_EQ(joined, text) << "every line once, in order";
}

TEST(LineBatches, TheSameTextGivesTheSameBatchesWhateverItsChunks) {
  std::string text = "first\r\n\nthird\nfourth without newline";
  const auto whole = batches_of(text, {2, 1 << 20, 64});
  for (std::size_t chunk : {1, 2, 5}) {
    const auto pieces = batches_of(text, {2, 1 << 20, 64}, NonJsonLines::kSend, chunk);
    ASSERT_EQ(pieces.size(), whole.size()) << chunk;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(pieces[i].id, whole[i].id);
      EXPECT_EQ(pieces[i].body, whole[i].body);
    }
  }
  // The "\r" of "\r\n" goes, the empty second line is numbered but not sent, and the last line
  // counts without its newline.
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_EQ(whole[0].body, "first\nthird\n");
  EXPECT_EQ(whole[0].id.last_line, 3u);
  EXPECT_EQ(whole[1].body, "fourth without newline\n");
  EXPECT_EQ(whole[1].id.first_line, 4u);
}

TEST(LineBatches, AnIdNamesTheObjectVersionAndLinesAndIsSafeInAHeader) {
  BatchId id = kObject;
  id.first_line = 1;
  id.last_line = 1000;
  const std::string text = id.text();
  EXPECT_EQ(text.size(), 16u + std::string(":1-1000").size());
  EXPECT_TRUE(text.ends_with(":1-1000")) << text;
  EXPECT_EQ(text.find_first_not_of("0123456789abcdef:-"), std::string::npos) << text;
  BatchId other_version = id;
  other_version.version_id = "v2";
  EXPECT_NE(other_version.text(), text);
  BatchId awkward = id;
  awkward.key = "a/../b\n\"c\"\x01";
  EXPECT_EQ(awkward.text().find_first_not_of("0123456789abcdef:-"), std::string::npos);
}

TEST(LineBatches, LinesThatAreNotJsonAreSentWrappedOrDropped) {
  const std::string text = "{\"ok\":1}\nplain \"quoted\" text\n[1,2]\n{broken\n";
  EXPECT_EQ(batches_of(text, {}).at(0).body, text) << "kSend checks nothing";

  const auto wrapped = batches_of(text, {}, NonJsonLines::kWrap).at(0).body;
  EXPECT_EQ(wrapped,
            "{\"ok\":1}\n{\"raw\":\"plain \\\"quoted\\\" text\"}\n[1,2]\n{\"raw\":\"{broken\"}\n");

  std::uint64_t dropped = 0;
  const auto kept = batches_of(text, {}, NonJsonLines::kDrop, 1 << 20, &dropped);
  EXPECT_EQ(kept.at(0).body, "{\"ok\":1}\n[1,2]\n");
  EXPECT_EQ(dropped, 2u);
}

TEST(LineBatches, ALineLongerThanAllowedIsRefusedNamingIt) {
  const std::string text = "short\n" + std::string(100, 'x') + "\nafter\n";
  for (std::size_t chunk : {1, 7, 1 << 20}) {
    try {
      batches_of(text, {1000, 1 << 20, 64}, NonJsonLines::kSend, chunk);
      ADD_FAILURE() << "accepted at chunk " << chunk;
    } catch (const runtime::InvalidInput& refused) {
      EXPECT_STREQ(refused.what(), "line 2 is longer than 64 bytes");
    }
  }
  // Wrapping can make a line outgrow a batch: refused too, not sent over the limit.
  EXPECT_THROW(batches_of(std::string(30, '"') + "\n", {10, 40, 64}, NonJsonLines::kWrap),
               runtime::InvalidInput);
}

TEST(LineBatches, AnEmptyObjectGivesNoBatch) {
  EXPECT_TRUE(batches_of("", {}).empty());
  EXPECT_TRUE(batches_of("\n\n\r\n", {}).empty());
}

}  // namespace
