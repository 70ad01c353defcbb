#include "common/json_services.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <future>
#include <thread>

#include "common/hashing.h"
#include "common/pagination.h"
#include "runtime/errors.h"

namespace common {

namespace json = boost::json;

JsonServiceClient::JsonServiceClient(ServiceInfo service, std::string target_prefix,
                                     std::string content_type, ClientOptions options)
    : client_(std::move(service), std::move(options)),
      target_prefix_(std::move(target_prefix)),
      content_type_(std::move(content_type)) {}

Answer::Answer(std::string operation, json::object fields)
    : operation_(std::move(operation)), fields_(std::move(fields)) {}

Answer Answer::parse(const std::string& operation, std::string_view body, long status) {
  Answer answer(operation, {});
  answer.status_ = status;
  if (body.empty()) return answer;
  boost::system::error_code error;
  json::value parsed = json::parse(body, error);
  if (error || !parsed.is_object()) answer.malformed("unreadable JSON");
  answer.fields_ = std::move(parsed.as_object());
  return answer;
}

void Answer::malformed(std::string_view what) const {
  throw AwsError("MalformedResponse", operation_ + " answered with " + std::string(what), "",
                 static_cast<int>(status_), true);
}

const json::value* Answer::find(std::string_view name, bool required) const {
  const json::value* value = fields_.if_contains(name);
  if (value == nullptr && required) malformed("no \"" + std::string(name) + "\"");
  return value;
}

std::string Answer::string(std::string_view name) const {
  const json::value* value = find(name, true);
  if (!value->is_string()) malformed("a \"" + std::string(name) + "\" that is not a string");
  return std::string(value->get_string());
}

std::optional<std::string> Answer::optional_string(std::string_view name) const {
  if (find(name, false) == nullptr) return std::nullopt;
  return string(name);
}

std::optional<json::object> Answer::object(std::string_view name) const {
  const json::value* value = find(name, false);
  if (value == nullptr) return std::nullopt;
  if (!value->is_object()) malformed("a \"" + std::string(name) + "\" that is not an object");
  return value->get_object();
}

Answer Answer::member(std::string_view name) const {
  find(name, true);
  Answer inner(operation_, *object(name));
  inner.status_ = status_;
  return inner;
}

json::array Answer::array(std::string_view name) const {
  const json::value* value = find(name, false);
  if (value == nullptr) return {};
  if (!value->is_array()) malformed("a \"" + std::string(name) + "\" that is not a list");
  return value->get_array();
}

std::vector<Answer> Answer::objects(std::string_view name) const {
  std::vector<Answer> entries;
  for (auto& entry : array(name)) {
    if (!entry.is_object()) malformed("an entry of \"" + std::string(name) + "\" not an object");
    entries.emplace_back(operation_, std::move(entry.get_object()));
    entries.back().status_ = status_;
  }
  return entries;
}

AwsRequest JsonServiceClient::request(const std::string& operation,
                                      const json::object& input) const {
  AwsRequest request;
  request.operation = operation;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"content-type", content_type_}, {"x-amz-target", target_prefix_ + operation}};
  request.body = json::serialize(input);
  return request;
}

Answer JsonServiceClient::call(const std::string& operation, const json::object& input) {
  const AwsResponse response = client_.send(request(operation, input));
  return Answer::parse(operation, response.body, response.status);
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
  return json_.call("UpdateItem", input).object("Attributes").value_or(json::object{});
}

std::optional<json::object> DynamoDbClient::get_item(const std::string& table,
                                                     const json::object& key,
                                                     bool consistent_read) {
  return json_
      .call("GetItem", {{"TableName", table}, {"Key", key}, {"ConsistentRead", consistent_read}})
      .object("Item");
}

QueryPage DynamoDbClient::query_page(const Answer& answer) {
  QueryPage page;
  for (const auto& item : answer.objects("Items")) page.items.push_back(item.fields());
  page.last_evaluated_key = answer.object("LastEvaluatedKey");
  if (page.last_evaluated_key && page.last_evaluated_key->empty()) page.last_evaluated_key.reset();
  return page;
}

json::array DynamoDbClient::unprocessed_items(const Answer& answer, const std::string& table) {
  if (!answer.object("UnprocessedItems")) return {};
  return answer.member("UnprocessedItems").array(table);
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
  // The marker is the last page's LastEvaluatedKey; {} asks for the first page.
  const Pager<QueryPage, json::object> pager{
      [&](const json::object& start) {
        json::object page_input = input;
        if (!start.empty()) page_input["ExclusiveStartKey"] = start;
        return json_.request("Query", page_input);
      },
      [](const std::string& body) { return query_page(Answer::parse("Query", body)); },
      [](const QueryPage& page) { return page.last_evaluated_key; }};
  paginate<QueryPage, json::object>(json_.client(), pager, json::object{},
                                    [&](QueryPage& page) { return on_page(page.items); });
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
      pending = unprocessed_items(
          json_.call("BatchWriteItem", {{"RequestItems", json::object{{table, pending}}}}), table);
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
  return started_execution(
      json_.call("StartExecution",
                 {{"stateMachineArn", state_machine_arn}, {"name", name}, {"input", input}}));
}

StartedExecution StepFunctionsClient::started_execution(const Answer& answer) {
  return StartedExecution{answer.string("executionArn")};
}

json::object StepFunctionsClient::describe_execution(const std::string& execution_arn) {
  const Answer answer = json_.call("DescribeExecution", {{"executionArn", execution_arn}});
  answer.string("status");  // what every caller reads
  return answer.fields();
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
  return json_.call("GetCrawler", {{"Name", name}}).member("Crawler").fields();
}

json::object GlueClient::storage_descriptor(const std::string& database, const std::string& table) {
  return json_.call("GetTable", {{"DatabaseName", database}, {"Name", table}})
      .member("Table")
      .member("StorageDescriptor")
      .fields();
}

std::vector<GlueClient::PartitionError> GlueClient::partition_errors(const Answer& answer) {
  std::vector<PartitionError> errors;
  for (const auto& entry : answer.objects("Errors")) {
    const Answer detail = entry.member("ErrorDetail");
    errors.push_back(
        {detail.string("ErrorCode"), detail.optional_string("ErrorMessage").value_or("")});
  }
  return errors;
}

std::vector<GlueClient::PartitionError> GlueClient::batch_create_partition(
    const std::string& database, const std::string& table, const json::array& partitions) {
  return partition_errors(json_.call(
      "BatchCreatePartition",
      {{"DatabaseName", database}, {"TableName", table}, {"PartitionInputList", partitions}}));
}

// ---- CloudTrail -----------------------------------------------------------------------------

const ServiceInfo& CloudTrailClient::service_info() {
  static const ServiceInfo info{"cloudtrail", "CLOUDTRAIL", "cloudtrail", Protocol::Json};
  return info;
}

CloudTrailClient::CloudTrailClient(ClientOptions options)
    : json_(service_info(), "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.",
            "application/x-amz-json-1.1", std::move(options)) {}
CloudTrailClient::CloudTrailClient()
    : CloudTrailClient(ClientOptions::from_environment(service_info())) {}

std::vector<CloudTrailPublicKey> CloudTrailClient::public_keys(const Answer& answer) {
  std::vector<CloudTrailPublicKey> keys;
  for (const auto& entry : answer.objects("PublicKeyList")) {
    auto der = base64_decode(entry.string("Value"));
    if (!der) entry.malformed("a public key Value that is not base64");
    const auto seconds = [&](const char* name) {
      const auto* value = entry.fields().if_contains(name);
      return value != nullptr && value->is_number() ? value->to_number<double>() : 0.0;
    };
    keys.push_back({entry.string("Fingerprint"), std::move(*der), seconds("ValidityStartTime"),
                    seconds("ValidityEndTime")});
  }
  return keys;
}

std::vector<CloudTrailPublicKey> CloudTrailClient::list_public_keys(double start, double end) {
  std::vector<CloudTrailPublicKey> keys;
  const Pager<Answer, std::string> pager{
      [&](const std::string& token) {
        json::object input{{"StartTime", start}, {"EndTime", end}};
        if (!token.empty()) input["NextToken"] = token;
        return json_.request("ListPublicKeys", input);
      },
      [](const std::string& body) { return Answer::parse("ListPublicKeys", body); },
      [](const Answer& page) { return page.optional_string("NextToken"); }};
  paginate<Answer, std::string>(json_.client(), pager, "", [&](Answer& page) {
    auto found = public_keys(page);
    keys.insert(keys.end(), found.begin(), found.end());
    return true;
  });
  return keys;
}

// ---- Secrets Manager and SSM Parameter Store ------------------------------------------------

std::string SecretsClient::secret_string(const std::string& secret_id) {
  static const ServiceInfo info{"secretsmanager", "SECRETS_MANAGER", "secretsmanager",
                                Protocol::Json};
  JsonServiceClient json(info, "secretsmanager.", "application/x-amz-json-1.1",
                         ClientOptions::from_environment(info));
  return json.call("GetSecretValue", {{"SecretId", secret_id}}).string("SecretString");
}

std::string SecretsClient::parameter_value(const std::string& name) {
  static const ServiceInfo info{"ssm", "SSM", "ssm", Protocol::Json};
  JsonServiceClient json(info, "AmazonSSM.", "application/x-amz-json-1.1",
                         ClientOptions::from_environment(info));
  return json.call("GetParameter", {{"Name", name}, {"WithDecryption", true}})
      .member("Parameter")
      .string("Value");
}

}  // namespace common
