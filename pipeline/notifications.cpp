#include "pipeline/notifications.h"

#include <boost/json/parse.hpp>

#include "common/s3.h"
#include "common/sigv4.h"
#include "pipeline/record_fields.h"
#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

namespace {

CreatedObject checked(CreatedObject object, const std::string& time) {
  if (!common::valid_bucket_name(object.bucket))
    throw runtime::InvalidInput("the notification names no valid bucket");
  if (object.key.empty()) throw runtime::InvalidInput("the notification names no object key");
  const auto date = common::Date::from_time(time);
  if (!date) throw runtime::InvalidInput("the notification has no event time");
  object.date = *date;
  object.event_time = time;
  return object;
}

// S3's own notification document ({"Records": [{"eventName": "ObjectCreated:Put", "s3": ...}]}).
std::vector<CreatedObject> objects_of_s3_notification(const json::object& document) {
  std::vector<CreatedObject> objects;
  const auto* records = document.if_contains("Records");
  if (records == nullptr || !records->is_array())
    throw runtime::InvalidInput("an S3 notification needs \"Records\"");
  for (const auto& value : records->get_array()) {
    const RecordFields record(value, "a notification record");
    if (!record.optional_text("eventName").starts_with("ObjectCreated:")) continue;
    const RecordFields s3 = record.member("s3");
    const RecordFields object = s3.member("object");
    CreatedObject created;
    created.bucket = s3.member("bucket").optional_text("name");
    created.key = common::url_decode(object.optional_text("key"), /*plus_is_space=*/true);
    created.size = object.count("size");
    created.etag = common::quoted_etag(object.optional_text("eTag"));
    created.version_id = object.optional_text("versionId");
    objects.push_back(checked(std::move(created), record.optional_text("eventTime")));
  }
  return objects;
}

// EventBridge's "Object Created" (keys there are not URL-encoded).
std::vector<CreatedObject> objects_of_eventbridge(const json::object& event) {
  const RecordFields fields(event, "an EventBridge event");
  if (fields.optional_text("detail-type") != "Object Created") return {};
  const RecordFields detail = fields.member("detail");
  const RecordFields object = detail.member("object");
  CreatedObject created;
  created.bucket = detail.member("bucket").optional_text("name");
  created.key = object.optional_text("key");
  created.size = object.count("size");
  created.etag = common::quoted_etag(object.optional_text("etag"));
  created.version_id = object.optional_text("version-id");
  return {checked(std::move(created), fields.optional_text("time"))};
}

}  // namespace

std::vector<CreatedObject> objects_of_message(std::string_view body) {
  boost::system::error_code error;
  const json::value parsed = json::parse(body, error);
  if (error || !parsed.is_object()) throw runtime::InvalidInput("the message is not a JSON object");
  const auto& document = parsed.get_object();
  const RecordFields fields(document, "the message");
  if (fields.optional_text("Event") == "s3:TestEvent") return {};
  if (fields.optional_text("Type") == "Notification") {  // SNS
    return objects_of_message(fields.optional_text("Message"));
  }
  if (document.contains("detail-type")) return objects_of_eventbridge(document);
  if (document.contains("Records")) return objects_of_s3_notification(document);
  throw runtime::InvalidInput("the message is neither an S3, SNS nor EventBridge notification");
}

}  // namespace pipeline
