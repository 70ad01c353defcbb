// What the JSON services' clients read from an answer that succeeded: the fields callers need, or
// MalformedResponse (retryable) for anything else, never boost's system_error.
#include <gtest/gtest.h>

#include "common/json_services.h"

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
