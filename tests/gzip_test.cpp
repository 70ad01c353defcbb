// What may enter an output, decided by content (common/gzip.h): the checks S3 never sees.
#include "common/gzip.h"

#include <gtest/gtest.h>

namespace {

using common::ContentKind;

TEST(Content, GzipMembersAreCheckedWholeAndTheirTextsLastByteKept) {
  const std::string two = common::gzip("first\n") + common::gzip("second, no newline");
  const auto whole = common::check_content(two);
  EXPECT_EQ(whole.kind, ContentKind::kGzip);
  EXPECT_EQ(whole.last_byte, 'e');
  EXPECT_EQ(common::gunzip(two), "first\nsecond, no newline");

  // Fed in pieces of any size, the same verdict.
  common::GzipChecker checker;
  for (std::size_t i = 0; i < two.size(); i += 3) EXPECT_TRUE(checker.feed(two.substr(i, 3)));
  EXPECT_EQ(checker.finish().kind, ContentKind::kGzip);
}

TEST(Content, BrokenGzipIsUnsafeWithItsReason) {
  const std::string member = common::gzip(std::string(5000, 'x') + "\n");
  const auto truncated = common::check_content(member.substr(0, member.size() - 4));
  EXPECT_EQ(truncated.kind, ContentKind::kUnsafe);
  EXPECT_EQ(truncated.reason, "gzip data ends inside a member (truncated)");
  EXPECT_THROW(common::gunzip(member.substr(0, member.size() - 4)), std::runtime_error);

  std::string corrupt = member;
  corrupt[corrupt.size() - 6] ^= 0x55;  // the CRC
  EXPECT_EQ(common::check_content(corrupt).kind, ContentKind::kUnsafe);
  EXPECT_EQ(common::check_content(member + "trailing junk").reason,
            "bytes after the last gzip member are not gzip");
  EXPECT_EQ(common::check_content(common::gzip(std::string("a\0b\n", 4))).reason,
            "gzip of binary content (NUL bytes)");
}

TEST(Content, BinaryFormatsAreNotTextButTextThatLooksCloseIs) {
  EXPECT_EQ(common::check_content(std::string("BZh91AY&SY\x01\x02", 12)).reason, "bzip2 content");
  EXPECT_EQ(common::check_content(std::string("\x28\xb5\x2f\xfd\x00", 5)).reason, "zstd content");
  EXPECT_EQ(common::check_content("PAR1....PAR1").reason, "Parquet content");
  EXPECT_EQ(common::check_content(std::string("text\0more\n", 10)).reason,
            "binary content (NUL bytes)");
  const auto text = common::check_content("BZh is how this line starts\n");
  EXPECT_EQ(text.kind, ContentKind::kText);
  EXPECT_EQ(text.last_byte, '\n');
  EXPECT_EQ(common::check_content("").kind, ContentKind::kEmpty);
}

}  // namespace
