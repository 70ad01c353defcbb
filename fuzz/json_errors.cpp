// DynamoDB's, Step Functions', Glue's and SQS's answers to a failed call are JSON documents the
// retry and error decisions read: any body gives a named error code, reduced to the bare name
// ("com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" and "Name:http://..." give
// the name), with a cancellation reason for each entry of CancellationReasons.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/aws_client.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (const long status : {400L, 500L}) {
    const auto details = common::parse_error(common::Protocol::Json, status, {}, body);
    if (details.code.empty()) __builtin_trap();
    if (details.code.find('#') != std::string::npos) __builtin_trap();
    if (details.code.find(':') != std::string::npos) __builtin_trap();
    if (details.http_status != status) __builtin_trap();
  }
  return 0;
}
