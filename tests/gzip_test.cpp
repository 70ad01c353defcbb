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

// What a forwarder streams: the text of an object decided by its first bytes, in any chunks.
std::string streamed(const std::string& bytes, std::size_t chunk, ContentKind* kind = nullptr) {
  std::string text;
  common::ContentStream stream([&](std::string_view piece) { text.append(piece); });
  for (std::size_t i = 0; i < bytes.size(); i += chunk) stream.feed(bytes.substr(i, chunk));
  stream.finish();
  if (kind) *kind = stream.kind();
  return text;
}

TEST(ContentStream, GzipOfManyMembersPlainTextAndAFakeGzAllGiveTheirText) {
  const std::string members = common::gzip("one\ntwo\n") + common::gzip("three, no newline");
  for (std::size_t chunk : {1, 3, 64, 1 << 20}) {
    ContentKind kind{};
    EXPECT_EQ(streamed(members, chunk, &kind), "one\ntwo\nthree, no newline") << chunk;
    EXPECT_EQ(kind, ContentKind::kGzip);
    // A ".gz" that holds text is text: the name is never asked.
    EXPECT_EQ(streamed("plain\nlines\n", chunk, &kind), "plain\nlines\n") << chunk;
    EXPECT_EQ(kind, ContentKind::kText);
  }
  ContentKind kind{};
  EXPECT_EQ(streamed("", 8, &kind), "");
  EXPECT_EQ(kind, ContentKind::kEmpty);
  EXPECT_EQ(streamed("x", 8, &kind), "x") << "shorter than any magic: text";
  EXPECT_EQ(kind, ContentKind::kText);
}

TEST(ContentStream, BinaryAndBrokenContentIsRefusedWithItsReason) {
  auto refusal = [](const std::string& bytes) {
    try {
      streamed(bytes, 5);
    } catch (const common::ContentRefused& refused) {
      return std::string(refused.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal(std::string("\x28\xb5\x2f\xfd", 4) + "zstd frame"), "zstd content");
  EXPECT_EQ(refusal(std::string("PAR1....") + "rest"), "Parquet content");
  EXPECT_EQ(refusal("text, then a NUL later on" + std::string(1, '\0')),
            "binary content (NUL bytes)");
  const std::string member = common::gzip(std::string(5000, 'x') + "\n");
  EXPECT_EQ(refusal(member.substr(0, member.size() - 4)),
            "gzip data ends inside a member (truncated)");
  EXPECT_EQ(refusal(member + "trailing junk"), "bytes after the last gzip member are not gzip");
}

}  // namespace
