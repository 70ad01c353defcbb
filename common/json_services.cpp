#include "common/json_services.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <future>
#include <thread>

#include "runtime/errors.h"

namespace common {

namespace json = boost::json;

JsonServiceClient::JsonServiceClient(ServiceInfo service, std::string target_prefix,
                                     std::string content_type, ClientOptions options)
    : client_(std::move(service), std::move(options)),
      target_prefix_(std::move(target_prefix)),
      content_type_(std::move(content_type)) {}

json::object JsonServiceClient::call(const std::string& operation, const json::object& input) {
  AwsRequest request;
  request.operation = operation;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"content-type", content_type_}, {"x-amz-target", target_prefix_ + operation}};
  request.body = json::serialize(input);
  const AwsResponse response = client_.send(std::move(request));
  if (response.body.empty()) return {};
  boost::system::error_code error;
  json::value parsed = json::parse(response.body, error);
  if (error || !parsed.is_object()) {
    throw AwsError("MalformedResponse", operation + " answered with unreadable JSON", "",
                   static_cast<int>(response.status), true);
  }
  return std::move(parsed.as_object());
}

// ---- DynamoDB -------------------------------------------------------------------------------

namespace {

void add_condition(json::object& input, const Condition& condition) {
  if (!condition.expression.empty()) input["ConditionExpression"] = condition.expression;
  if (!condition.names.empty()) input["ExpressionAttributeNames"] = condition.names;
  if (!condition.values.empty()) input["ExpressionAttributeValues"] = condition.values;
  if (condition.return_item_on_failure) input["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD";
}

}  // namespace

const ServiceInfo& DynamoDbClient::service_info() {
  static const ServiceInfo info{"dynamodb", "DYNAMODB", "dynamodb", Protocol::Json};
  return info;
}

DynamoDbClient::DynamoDbClient(ClientOptions options)
    : json_(service_info(), "DynamoDB_20120810.", "application/x-amz-json-1.0",
            std::move(options)) {}
DynamoDbClient::DynamoDbClient()
    : DynamoDbClient(ClientOptions::from_environment(service_info())) {}

void DynamoDbClient::put_item(const std::string& table, const json::object& item,
                              const Condition& condition) {
  json::object input{{"TableName", table}, {"Item", item}};
  add_condition(input, condition);
  json_.call("PutItem", input);
}

json::object DynamoDbClient::update_item(const std::string& table, const json::object& key,
                                         const std::string& update_expression,
                                         const Condition& condition,
                                         const std::string& return_values) {
  json::object input{{"TableName", table},
                     {"Key", key},
                     {"UpdateExpression", update_expression},
                     {"ReturnValues", return_values}};
  add_condition(input, condition);
  json::object output = json_.call("UpdateItem", input);
  if (auto* attributes = output.if_contains("Attributes"); attributes && attributes->is_object()) {
    return attributes->as_object();
  }
  return {};
}

std::optional<json::object> DynamoDbClient::get_item(const std::string& table,
                                                     const json::object& key,
                                                     bool consistent_read) {
  json::object output = json_.call(
      "GetItem", {{"TableName", table}, {"Key", key}, {"ConsistentRead", consistent_read}});
  if (auto* item = output.if_contains("Item"); item && item->is_object()) return item->as_object();
  return std::nullopt;
}

void DynamoDbClient::query(const QueryInput& query_input,
                           const std::function<bool(std::vector<json::object>&)>& on_page) {
  json::object input{{"TableName", query_input.table},
                     {"KeyConditionExpression", query_input.key_condition},
                     {"ConsistentRead", query_input.consistent_read},
                     {"ScanIndexForward", query_input.scan_forward}};
  if (!query_input.index.empty()) input["IndexName"] = query_input.index;
  if (!query_input.filter.empty()) input["FilterExpression"] = query_input.filter;
  if (!query_input.names.empty()) input["ExpressionAttributeNames"] = query_input.names;
  if (!query_input.values.empty()) input["ExpressionAttributeValues"] = query_input.values;
  if (!query_input.projection.empty()) input["ProjectionExpression"] = query_input.projection;
  if (query_input.limit > 0) input["Limit"] = query_input.limit;
  while (true) {
    json::object output = json_.call("Query", input);
    std::vector<json::object> items;
    if (auto* found = output.if_contains("Items")) {
      for (auto& item : found->as_array()) items.push_back(std::move(item.as_object()));
    }
    if (!on_page(items)) return;
    auto* last = output.if_contains("LastEvaluatedKey");
    if (last == nullptr || !last->is_object() || last->as_object().empty()) return;
    input["ExclusiveStartKey"] = *last;
  }
}

std::vector<json::object> DynamoDbClient::query_all(const QueryInput& input) {
  std::vector<json::object> all;
  query(input, [&](std::vector<json::object>& items) {
    for (auto& item : items) all.push_back(std::move(item));
    return true;
  });
  return all;
}

void DynamoDbClient::batch_write(const std::string& table,
                                 const std::vector<json::object>& writes) {
  const RetryPolicy& retry = json_.client().options().retry;
  for (std::size_t start = 0; start < writes.size(); start += kMaxBatchWriteItems) {
    const std::size_t end = std::min(writes.size(), start + kMaxBatchWriteItems);
    json::array pending(writes.begin() + static_cast<std::ptrdiff_t>(start),
                        writes.begin() + static_cast<std::ptrdiff_t>(end));
    for (int attempt = 1; !pending.empty(); ++attempt) {
      json::object output =
          json_.call("BatchWriteItem", {{"RequestItems", json::object{{table, pending}}}});
      pending.clear();
      if (auto* unprocessed = output.if_contains("UnprocessedItems")) {
        if (auto* left = unprocessed->as_object().if_contains(table)) pending = left->as_array();
      }
      if (pending.empty()) break;
      if (attempt >= retry.max_attempts) {
        throw AwsError("UnprocessedItems",
                       std::to_string(pending.size()) + " items still unprocessed after " +
                           std::to_string(attempt) + " attempts",
                       "", 200, true, true);
      }
      std::this_thread::sleep_for(retry.backoff(attempt, true));
    }
  }
}

void DynamoDbClient::transact_write(const json::array& items) {
  if (items.empty() || items.size() > kMaxTransactItems) {
    throw runtime::InvalidInput("TransactWriteItems takes 1 to 100 items, not " +
                                std::to_string(items.size()));
  }
  json_.call("TransactWriteItems", {{"TransactItems", items}});
}

// ---- Step Functions -------------------------------------------------------------------------

const ServiceInfo& StepFunctionsClient::service_info() {
  static const ServiceInfo info{"states", "SFN", "states", Protocol::Json};
  return info;
}

StepFunctionsClient::StepFunctionsClient(ClientOptions options)
    : json_(service_info(), "AWSStepFunctions.", "application/x-amz-json-1.0", std::move(options)) {
}
StepFunctionsClient::StepFunctionsClient()
    : StepFunctionsClient(ClientOptions::from_environment(service_info())) {}

StartedExecution StepFunctionsClient::start_execution(const std::string& state_machine_arn,
                                                      const std::string& name,
                                                      const std::string& input) {
  json::object output = json_.call(
      "StartExecution", {{"stateMachineArn", state_machine_arn}, {"name", name}, {"input", input}});
  return StartedExecution{std::string(output.at("executionArn").as_string()), false};
}

json::object StepFunctionsClient::describe_execution(const std::string& execution_arn) {
  return json_.call("DescribeExecution", {{"executionArn", execution_arn}});
}

// ---- Glue -----------------------------------------------------------------------------------

const ServiceInfo& GlueClient::service_info() {
  static const ServiceInfo info{"glue", "GLUE", "glue", Protocol::Json};
  return info;
}

GlueClient::GlueClient(ClientOptions options)
    : json_(service_info(), "AWSGlue.", "application/x-amz-json-1.1", std::move(options)) {}
GlueClient::GlueClient() : GlueClient(ClientOptions::from_environment(service_info())) {}

void GlueClient::start_crawler(const std::string& name) {
  json_.call("StartCrawler", {{"Name", name}});
}

json::object GlueClient::get_crawler(const std::string& name) {
  json::object output = json_.call("GetCrawler", {{"Name", name}});
  return output.at("Crawler").as_object();
}

json::object GlueClient::get_table(const std::string& database, const std::string& table) {
  json::object output = json_.call("GetTable", {{"DatabaseName", database}, {"Name", table}});
  return output.at("Table").as_object();
}

json::array GlueClient::batch_create_partition(const std::string& database,
                                               const std::string& table,
                                               const json::array& partitions) {
  json::object output = json_.call(
      "BatchCreatePartition",
      {{"DatabaseName", database}, {"TableName", table}, {"PartitionInputList", partitions}});
  if (auto* errors = output.if_contains("Errors"); errors && errors->is_array()) {
    return errors->as_array();
  }
  return {};
}

// ---- SQS ------------------------------------------------------------------------------------

const ServiceInfo& SqsClient::service_info() {
  static const ServiceInfo info{"sqs", "SQS", "sqs", Protocol::Json};
  return info;
}

SqsClient::SqsClient(ClientOptions options)
    : json_(service_info(), "AmazonSQS.", "application/x-amz-json-1.0", std::move(options)) {}
SqsClient::SqsClient() : SqsClient(ClientOptions::from_environment(service_info())) {}

std::string SqsClient::get_queue_url(const std::string& name) {
  return std::string(json_.call("GetQueueUrl", {{"QueueName", name}}).at("QueueUrl").as_string());
}

std::vector<std::string> SqsClient::send_message_batch(const std::string& queue_url,
                                                       const std::vector<std::string>& bodies) {
  if (bodies.empty() || bodies.size() > 10) {
    throw runtime::InvalidInput("SendMessageBatch takes 1 to 10 messages");
  }
  json::array entries;
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    entries.push_back({{"Id", std::to_string(i)}, {"MessageBody", bodies[i]}});
  }
  json::object output =
      json_.call("SendMessageBatch", {{"QueueUrl", queue_url}, {"Entries", entries}});
  std::vector<std::string> failed;
  if (auto* errors = output.if_contains("Failed"); errors && errors->is_array()) {
    for (const auto& entry : errors->as_array()) failed.emplace_back(entry.at("Id").as_string());
  }
  return failed;
}

std::vector<SqsMessage> SqsClient::receive_messages(const std::string& queue_url, int max_messages,
                                                    int wait_seconds, int visibility_timeout) {
  json::object input{{"QueueUrl", queue_url},
                     {"MaxNumberOfMessages", max_messages},
                     {"WaitTimeSeconds", wait_seconds},
                     {"MessageSystemAttributeNames", json::array{"ApproximateReceiveCount"}}};
  if (visibility_timeout >= 0) input["VisibilityTimeout"] = visibility_timeout;
  json::object output = json_.call("ReceiveMessage", input);
  std::vector<SqsMessage> messages;
  if (auto* found = output.if_contains("Messages"); found && found->is_array()) {
    for (const auto& entry : found->as_array()) {
      const auto& message = entry.as_object();
      SqsMessage parsed{std::string(message.at("MessageId").as_string()),
                        std::string(message.at("ReceiptHandle").as_string()),
                        std::string(message.at("Body").as_string()), 0};
      if (auto* attributes = message.if_contains("Attributes")) {
        if (auto* count = attributes->as_object().if_contains("ApproximateReceiveCount")) {
          parsed.receive_count = std::atoi(std::string(count->as_string()).c_str());
        }
      }
      messages.push_back(std::move(parsed));
    }
  }
  return messages;
}

void SqsClient::delete_message_batch(const std::string& queue_url,
                                     const std::vector<std::string>& receipt_handles) {
  for (std::size_t start = 0; start < receipt_handles.size(); start += 10) {
    json::array entries;
    for (std::size_t i = start; i < std::min(receipt_handles.size(), start + 10); ++i) {
      entries.push_back({{"Id", std::to_string(i)}, {"ReceiptHandle", receipt_handles[i]}});
    }
    json_.call("DeleteMessageBatch", {{"QueueUrl", queue_url}, {"Entries", entries}});
  }
}

}  // namespace common
