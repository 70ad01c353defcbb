// What the JSON services' clients read from an answer that succeeded: the fields callers need, or
// MalformedResponse (retryable) for anything else, never boost's system_error.
#include <gtest/gtest.h>

#include "common/json_services.h"
#include "common/s3.h"

namespace {

using common::Answer;

void expect_malformed(const std::function<void()>& read, const std::string& what) {
  try {
    read();
    ADD_FAILURE() << what << " was read";
  } catch (const common::AwsError& error) {
    EXPECT_EQ(error.code(), "MalformedResponse") << what;
    EXPECT_TRUE(error.retryable()) << what;
  }
}

TEST(JsonAnswers, QueryPagesCarryTheirItemsAndTheKeyToGoOnFrom) {
  const auto page = common::DynamoDbClient::query_page(Answer::parse(
      "Query",
      R"({"Items":[{"pk":{"S":"a"}},{"pk":{"S":"b"}}],"LastEvaluatedKey":{"pk":{"S":"b"}}})"));
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[1].at("pk").at("S").as_string(), "b");
  ASSERT_TRUE(page.last_evaluated_key.has_value());
  EXPECT_FALSE(common::DynamoDbClient::query_page(
                   Answer::parse("Query", R"({"Items":[],"LastEvaluatedKey":{}})"))
                   .last_evaluated_key.has_value())
      << "an empty key is the last page";
  EXPECT_TRUE(common::DynamoDbClient::query_page(Answer::parse("Query", "")).items.empty());
}

TEST(JsonAnswers, AnswersOfAnotherShapeAreMalformedResponses) {
  expect_malformed([] { Answer::parse("Query", "{\"Items\":"); }, "cut JSON");
  expect_malformed([] { Answer::parse("Query", "[1]"); }, "a list");
  expect_malformed(
      [] { common::DynamoDbClient::query_page(Answer::parse("Query", R"({"Items":"x"})")); },
      "Items a string");
  expect_malformed(
      [] { common::DynamoDbClient::query_page(Answer::parse("Query", R"({"Items":[1]})")); },
      "an item a number");
  expect_malformed(
      [] {
        common::DynamoDbClient::unprocessed_items(
            Answer::parse("BatchWriteItem", R"({"UnprocessedItems":{"t":{}}})"), "t");
      },
      "unprocessed items an object");
  expect_malformed(
      [] { common::StepFunctionsClient::started_execution(Answer::parse("StartExecution", "{}")); },
      "no executionArn");
  expect_malformed(
      [] {
        common::GlueClient::partition_errors(
            Answer::parse("BatchCreatePartition", R"({"Errors":[{"ErrorDetail":{}}]})"));
      },
      "an error without its code");
}

}  // namespace

namespace {

// What S3's headers say of an object that decides what is checked: the whole size behind a range,
// how it is encrypted, and whether its ETag is the MD5 of its bytes.
TEST(S3Answers, ARangeStatesTheWholeSizeAndTheEncryptionSaysWhetherTheEtagIsAnMd5) {
  EXPECT_EQ(common::content_range_total("bytes 0-99/1234"), 1234u);
  EXPECT_EQ(common::content_range_total("bytes */77"), 77u);
  EXPECT_FALSE(common::content_range_total("bytes 0-99/*").has_value());
  EXPECT_FALSE(common::content_range_total("").has_value());
  common::AwsResponse ranged{206,
                             {{"content-length", "100"},
                              {"content-range", "bytes 0-99/1234"},
                              {"x-amz-server-side-encryption", "aws:kms"}},
                             ""};
  const auto head = common::S3Client::head_result(ranged);
  EXPECT_EQ(head.size, 100u);
  EXPECT_EQ(head.object_size, 1234u);
  EXPECT_EQ(head.encryption, "aws:kms");
  common::AwsResponse customer{
      200,
      {{"content-length", "5"}, {"x-amz-server-side-encryption-customer-algorithm", "AES256"}},
      ""};
  EXPECT_EQ(common::S3Client::head_result(customer).object_size, 5u);
  EXPECT_EQ(common::S3Client::head_result(customer).encryption, "SSE-C");

  const std::string md5 = "\"d41d8cd98f00b204e9800998ecf8427e\"";
  EXPECT_TRUE(common::etag_is_md5(md5, ""));
  EXPECT_TRUE(common::etag_is_md5(md5, "AES256"));
  for (const char* encryption : {"aws:kms", "aws:kms:dsse", "SSE-C"})
    EXPECT_FALSE(common::etag_is_md5(md5, encryption)) << encryption;
  EXPECT_FALSE(common::etag_is_md5("\"d41d8cd98f00b204e9800998ecf8427e-2\"", ""));
  EXPECT_FALSE(common::etag_is_md5("d41d8cd98f00b204e9800998ecf8427e", "")) << "unquoted";
}

}  // namespace
