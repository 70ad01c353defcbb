// DynamoDB's, Step Functions' and Glue's answers to a call that succeeded are read into
// typed results: whatever the body, each decoder returns a result or refuses the answer as
// AwsError "MalformedResponse" (any other exception escapes and fails the run), and what it
// returns holds what callers rely on: a Query page's LastEvaluatedKey is never an empty object.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/json_services.h"

namespace {

template <typename Decode>
void decode_or_refuse(const common::Answer& answer, Decode decode) {
  try {
    decode(answer);
  } catch (const common::AwsError& error) {
    if (error.code() != "MalformedResponse" || !error.retryable()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::optional<common::Answer> answer;
  try {
    answer = common::Answer::parse("Fuzz", body);
  } catch (const common::AwsError& error) {
    if (error.code() != "MalformedResponse") __builtin_trap();
    return 0;
  }
  decode_or_refuse(*answer, [](const common::Answer& a) {
    const auto page = common::DynamoDbClient::query_page(a);
    if (page.last_evaluated_key && page.last_evaluated_key->empty()) __builtin_trap();
  });
  decode_or_refuse(*answer, [](const common::Answer& a) {
    common::DynamoDbClient::unprocessed_items(a, "ledger");
  });
  decode_or_refuse(*answer, [](const common::Answer& a) { a.object("Item"); });
  decode_or_refuse(*answer, [](const common::Answer& a) {
    if (common::StepFunctionsClient::started_execution(a).execution_arn != a.string("executionArn"))
      __builtin_trap();
  });
  decode_or_refuse(*answer,
                   [](const common::Answer& a) { a.member("Table").member("StorageDescriptor"); });
  decode_or_refuse(*answer,
                   [](const common::Answer& a) { common::GlueClient::partition_errors(a); });
  return 0;
}
