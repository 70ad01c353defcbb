// SQS message bodies reach ManifestBuilder from anyone who may send to its queue: S3
// notifications, SNS-wrapped and EventBridge ones. Any body gives the objects it announces or a
// named InvalidInput, and every object it gives has a bucket and a key.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pipeline/notifications.h"
#include "runtime/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    for (const auto& object : pipeline::objects_of_message(
             std::string_view(reinterpret_cast<const char*>(data), size))) {
      if (object.bucket.empty() || object.key.empty()) __builtin_trap();
    }
  } catch (const runtime::InvalidInput&) {
  }
  return 0;
}
