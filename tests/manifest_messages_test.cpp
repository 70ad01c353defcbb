// The notification bodies ManifestBuilder reads from its queue, in-process: what is announced is
// read, what is malformed is InvalidInput (the record goes back to the queue, then to the
// dead-letter queue), never another exception.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>

#include "functions/manifest_builder/handler.h"
#include "runtime/errors.h"
#include "tests/test_support.h"

namespace {

using functions::manifest_builder::objects_of_message;

std::string first_body(const char* sample) {
  std::ifstream in(
      tests::source_path(std::string("events/functions/ManifestBuilderFunction/") + sample));
  const auto event = boost::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  return std::string(event.at("Records").at(0).at("body").as_string());
}

TEST(ManifestMessages, EachShapeOfTheSamplesIsRead) {
  for (const char* sample :
       {"sqs_s3_notifications.json", "sqs_sns_wrapped.json", "sqs_eventbridge.json"}) {
    const auto objects = objects_of_message(first_body(sample));
    ASSERT_FALSE(objects.empty()) << sample;
    EXPECT_EQ(objects[0].bucket, "replay-app-logs") << sample;
    EXPECT_GT(objects[0].size, 0u) << sample;
  }
}

// Found by fuzzing: a negative size escaped as boost's system_error.
TEST(ManifestMessages, ASizeThatIsNotAWholeNumberOfBytesIsInvalidInput) {
  auto event = boost::json::parse(first_body("sqs_eventbridge.json"));
  for (const auto& size :
       {boost::json::value(-16), boost::json::value(1.5), boost::json::value("12")}) {
    event.at("detail").at("object").as_object()["size"] = size;
    EXPECT_THROW(objects_of_message(boost::json::serialize(event)), runtime::InvalidInput) << size;
  }
}

}  // namespace
