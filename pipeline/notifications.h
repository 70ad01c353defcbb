#pragma once
// S3 "object created" notifications, as a queue receives them: S3's own document, wrapped by SNS,
// or EventBridge's "Object Created". Keys in S3's document are URL-decoded ('+' is a space);
// EventBridge's are not encoded. s3:TestEvent and events other than "object created" announce
// nothing.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/dates.h"

namespace pipeline {

// One object from a notification.
struct CreatedObject {
  std::string bucket;
  std::string key;  // decoded
  std::uint64_t size = 0;
  std::string etag;  // quoted, as S3's headers and listings give it
  std::string version_id;
  common::Date date;       // the UTC day of the event
  std::string event_time;  // as the notification gives it (RFC 3339)
};

// The objects a message body announces: empty for s3:TestEvent and for events that are not
// "object created". InvalidInput for a body that is none of the three shapes, or malformed, or
// that names a bucket S3 would not allow, no key, or no event time.
std::vector<CreatedObject> objects_of_message(std::string_view body);

}  // namespace pipeline
