#pragma once
// The JSON-protocol services: DynamoDB, Step Functions, Glue and CloudTrail. Each is a thin typed
// layer over JsonServiceClient::call, which posts {"...": ...} with X-Amz-Target and parses the
// answer. DynamoDB items and keys are in DynamoDB's attribute-value JSON ({"pk": {"S": "..."}}).
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/aws_client.h"

namespace common {

// A service's JSON answer, read one way: unreadable JSON, a required field missing or any field
// of another type is AwsError "MalformedResponse" (retryable: a cut or garbled 200 is not the
// call's fault), never boost's system_error half-way through reading it.
class Answer {
 public:
  Answer(std::string operation, boost::json::object fields);
  // A 2xx answer's body; an empty one is {}.
  static Answer parse(const std::string& operation, std::string_view body, long status = 200);

  std::string string(std::string_view name) const;                          // required
  std::optional<std::string> optional_string(std::string_view name) const;  // absent: nullopt
  std::optional<boost::json::object> object(std::string_view name) const;   // absent: nullopt
  Answer member(std::string_view name) const;                               // required object
  std::vector<Answer> objects(std::string_view name) const;                 // absent: none
  boost::json::array array(std::string_view name) const;                    // absent: empty
  const boost::json::object& fields() const { return fields_; }
  [[noreturn]] void malformed(std::string_view what) const;

 private:
  const boost::json::value* find(std::string_view name, bool required) const;
  std::string operation_;
  boost::json::object fields_;
  long status_ = 200;
};

class JsonServiceClient {
 public:
  JsonServiceClient(ServiceInfo service, std::string target_prefix, std::string content_type,
                    ClientOptions options);
  Answer call(const std::string& operation, const boost::json::object& input);
  // The signed-to-be request of a call, for callers that page (common/pagination.h).
  AwsRequest request(const std::string& operation, const boost::json::object& input) const;
  AwsClient& client() { return client_; }

 private:
  AwsClient client_;
  std::string target_prefix_;
  std::string content_type_;
};

inline constexpr std::size_t kMaxBatchWriteItems = 25;
inline constexpr std::size_t kMaxTransactItems = 100;

struct Condition {
  std::string expression;  // empty: unconditional
  boost::json::object names;
  boost::json::object values;
  bool return_item_on_failure = false;  // ReturnValuesOnConditionCheckFailure=ALL_OLD
};

struct QueryInput {
  std::string table;
  std::string index;
  std::string key_condition;
  std::string filter;
  boost::json::object names;
  boost::json::object values;
  std::string projection;
  int limit = 0;  // per page; 0: DynamoDB's 1 MB pages
  bool consistent_read = false;
  bool scan_forward = true;
};

struct QueryPage {
  std::vector<boost::json::object> items;
  std::optional<boost::json::object> last_evaluated_key;  // absent or empty: the last page
};

class DynamoDbClient {
 public:
  explicit DynamoDbClient(ClientOptions options);
  DynamoDbClient();
  static const ServiceInfo& service_info();
  // What Query and BatchWriteItem answers are read into (MalformedResponse otherwise).
  static QueryPage query_page(const Answer& answer);
  static boost::json::array unprocessed_items(const Answer& answer, const std::string& table);

  // ConditionalCheckFailed when the condition does not hold.
  void put_item(const std::string& table, const boost::json::object& item,
                const Condition& condition = {});
  // Returns the Attributes DynamoDB sent back (per return_values).
  boost::json::object update_item(const std::string& table, const boost::json::object& key,
                                  const std::string& update_expression, const Condition& condition,
                                  const std::string& return_values = "NONE");
  std::optional<boost::json::object> get_item(const std::string& table,
                                              const boost::json::object& key,
                                              bool consistent_read = true);
  // Pages through the result; on_page returns false to stop.
  void query(const QueryInput& input,
             const std::function<bool(std::vector<boost::json::object>&)>& on_page);
  std::vector<boost::json::object> query_all(const QueryInput& input);
  // Any number of {"PutRequest": ...} / {"DeleteRequest": ...} entries, sent 25 at a time;
  // UnprocessedItems are sent again with backoff until none remain or attempts run out
  // (then TransientError).
  void batch_write(const std::string& table, const std::vector<boost::json::object>& writes);
  // All or nothing, at most 100 items (InvalidInput beyond); TransactionCanceled on failure.
  void transact_write(const boost::json::array& items);

  JsonServiceClient& raw() { return json_; }

 private:
  JsonServiceClient json_;
};

struct StartedExecution {
  std::string execution_arn;
};

class StepFunctionsClient {
 public:
  explicit StepFunctionsClient(ClientOptions options);
  StepFunctionsClient();
  static const ServiceInfo& service_info();
  static StartedExecution started_execution(const Answer& answer);

  // ExecutionAlreadyExists when the name was used with a different input.
  StartedExecution start_execution(const std::string& state_machine_arn, const std::string& name,
                                   const std::string& input);
  boost::json::object describe_execution(const std::string& execution_arn);

 private:
  JsonServiceClient json_;
};

class GlueClient {
 public:
  explicit GlueClient(ClientOptions options);
  GlueClient();
  static const ServiceInfo& service_info();

  void start_crawler(const std::string& name);  // CrawlerRunning when it already runs
  boost::json::object get_crawler(const std::string& name);
  // The table's StorageDescriptor (ResourceNotFound when the table does not exist).
  boost::json::object storage_descriptor(const std::string& database, const std::string& table);
  struct PartitionError {
    std::string code;  // AlreadyExistsException for a partition that exists, for instance
    std::string message;
  };
  static std::vector<PartitionError> partition_errors(const Answer& answer);
  // The partitions Glue refused, with why.
  std::vector<PartitionError> batch_create_partition(const std::string& database,
                                                     const std::string& table,
                                                     const boost::json::array& partitions);

 private:
  JsonServiceClient json_;
};

// A key CloudTrail signed digest files with: Value is a DER PKCS #1 RSAPublicKey.
struct CloudTrailPublicKey {
  std::string fingerprint;  // hex, as digests name it
  std::string der;
  double valid_from = 0;  // epoch seconds
  double valid_to = 0;
};

class CloudTrailClient {
 public:
  explicit CloudTrailClient(ClientOptions options);
  CloudTrailClient();
  static const ServiceInfo& service_info();
  static std::vector<CloudTrailPublicKey> public_keys(const Answer& answer);

  // The keys valid at some time in [start, end] (epoch seconds), every page.
  std::vector<CloudTrailPublicKey> list_public_keys(double start, double end);

 private:
  JsonServiceClient json_;
};

// A secret read at initialisation: a Secrets Manager secret's SecretString, or an SSM parameter's
// value decrypted (SecureString). Neither is ever logged.
class SecretsClient {
 public:
  static std::string secret_string(const std::string& secret_id);
  static std::string parameter_value(const std::string& name);
};

}  // namespace common
