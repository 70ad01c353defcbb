// The notification bodies ManifestBuilder reads from its queue, in-process: what is announced is
// read, what is malformed is InvalidInput (the record goes back to the queue, then to the
// dead-letter queue), never another exception.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>

#include "pipeline/notifications.h"
#include "runtime/errors.h"
#include "tests/test_support.h"

namespace {

using pipeline::objects_of_message;

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

// Only "object created" notifications are files to batch: a delete, a restore, S3's test event
// announce nothing. A file's day is the UTC day of its event, whatever date its key carries.
TEST(ManifestMessages, OnlyCreatedObjectsAreAnnouncedOnTheDayOfTheirEvent) {
  auto notification = boost::json::parse(first_body("sqs_s3_notifications.json"));
  auto& record = notification.at("Records").at(0).as_object();
  record["eventTime"] = "2026-03-06T00:00:01.000Z";
  record["s3"].as_object()["object"].as_object()["key"] = "web/2026-03-05/late.log";
  const auto created = objects_of_message(boost::json::serialize(notification));
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].date.iso(), "2026-03-06") << "the event's day, not the key's";
  EXPECT_EQ(created[0].key, "web/2026-03-05/late.log");

  for (const char* other :
       {"ObjectRemoved:Delete", "ObjectRestore:Completed", "LifecycleExpiration:Delete"}) {
    record["eventName"] = other;
    EXPECT_TRUE(objects_of_message(boost::json::serialize(notification)).empty()) << other;
  }
  EXPECT_TRUE(objects_of_message(
                  R"({"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-03-05T10:00:00Z",)"
                  R"("Bucket":"replay-app-logs","RequestId":"r","HostId":"h"})")
                  .empty());
}

}  // namespace
