#pragma once
// Helpers for tests that talk to the shared moto fixtures: client options pointed at moto, unique
// resource names (tests run in parallel against one server), and the aws CLI as an independent
// client for checking results.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/aws_client.h"
#include "common/s3.h"
#include "tests/test_support.h"

namespace tests {

struct MotoFixture {
  std::string endpoint;
  common::Credentials credentials;
};

// The moto started by the `moto` CTest fixture (with second=true, the fixture's other server: the
// two share the suite's load). Both check every signature; the credentials are their
// administrator's. With TESTS_S3_STANDIN_ENDPOINT set, the S3 stand-in at that URL instead.
MotoFixture moto_fixture(bool second = false);

common::ClientOptions moto_options(const MotoFixture& moto,
                                   const std::string& endpoint_override = "");

// A name no other test uses: prefix-<pid>-<counter>-<random>, lower case.
std::string unique_name(const std::string& prefix);

// A KMS HMAC key on the fixture's moto (KeySpec HMAC_256), made once per process and fixture with
// the aws CLI: the seal key (SEAL_KEY_ID) the functions that seal and check the ledger are given
// when a test names none.
std::string seal_key(const MotoFixture& moto);

// Creates the buckets with the aws CLI; false (and a message on stderr) if one fails.
bool create_buckets(const MotoFixture& moto, const std::vector<std::string>& buckets);

// `AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_DEFAULT_REGION=us-east-1 `: a command
// line's prefix that signs as the fixture's administrator (tools/seed-logs, boto3 scripts).
std::string credentials_env(const MotoFixture& moto);

// Runs the aws CLI against `endpoint` with the fixture's credentials.
CommandResult aws_cli(const MotoFixture& moto, const std::string& arguments,
                      const std::string& endpoint = "");

// An IAM user of the fixture's moto allowed `action` on `resource` and nothing else, as a fixture
// that signs as that user (an insider, for the tests of what they cannot do).
MotoFixture user_allowed(const MotoFixture& moto, const std::string& name,
                         const std::string& action, const std::string& resource);

// The bucket's state as the aws CLI (an independent client) reads it, for assertions about S3.
// Keys under `prefix`, every page:
std::set<std::string> cli_keys(const MotoFixture& moto, const std::string& bucket,
                               const std::string& prefix = "");
// Each version of `key` (delete markers aside) as {version id, ETag}, newest first:
std::vector<std::pair<std::string, std::string>> cli_versions(const MotoFixture& moto,
                                                              const std::string& bucket,
                                                              const std::string& key);
// Multipart uploads still open in the bucket:
std::size_t cli_open_uploads(const MotoFixture& moto, const std::string& bucket);

// A receipt CombineLogFiles wrote, each output's summary replaced by the ledger record its
// "index" points at (with the summary's version id, without its seal): what tests compare
// outputs against. Throws
// when a summary and its record disagree on the key or the number of originals.
boost::json::object receipt_with_indexes(common::S3Client& s3, const std::string& bucket,
                                         const std::string& key);

// build/bin/fault-proxy in front of `upstream` with `arguments` (--rate, --faults, --seed, ...).
class FaultProxy {
 public:
  FaultProxy(const std::string& upstream, const std::string& arguments);
  const std::string& url() const { return url_; }
  // GET /fault-proxy/stats: faults injected, traffic by operation.
  boost::json::value stats() const;

 private:
  BackgroundProcess process_;
  std::string url_;
};

struct Invocation {
  int exit_code = -1;
  boost::json::value response;  // null when the output was not JSON
  std::string logs;
};

// Runs one of our bootstraps (build/bin/<executable>) on `event` through lambda-local invoke,
// with moto as its AWS and `environment` as its configuration.
Invocation invoke_function(const MotoFixture& moto, const std::string& executable,
                           const boost::json::value& event,
                           const std::map<std::string, std::string>& environment);

// The name DetermineOperationType gives the outputs of another bucket's folder: a readable slug and
// the hash of the exact folder, so no two folders share it.
std::string output_name(const std::string& directory);

// ManifestBuilder's ledger, from a DynamoDB scan's Items: each file item's object key → its state.
std::map<std::string, std::string> ledger_file_states(const boost::json::array& items);

// tools/moto-local's GenerateAccessLogs stand-in: registers an app ({"accountId", "region",
// "appId", "domainName", and optionally "maxRangeSeconds", "intervalSeconds", "lineBytes"});
// false when the stand-in refused it.
bool register_amplify_app(const MotoFixture& moto, const boost::json::object& app);
// The ranges the stand-in was asked for ([startTime, endTime], as sent), by app id.
std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> amplify_requests(
    const MotoFixture& moto);

// tools/local-stack: template.yaml on its own moto and lambda-local, for end-to-end tests.
class LocalStack {
 public:
  explicit LocalStack(const std::string& extra_arguments = "");
  const boost::json::object& info() const { return info_; }
  const MotoFixture& moto() const { return moto_; }
  // Holds functions.json (lambda-local's config of the stack's functions) and stack.json.
  std::filesystem::path state_directory() const { return state_.path(); }
  std::string resource(const std::string& logical_id) const;
  std::string state_machine(const std::string& logical_id) const;
  // The function's log (locally, its log group is a file).
  std::string function_log(const std::string& logical_id) const;
  // Invokes a function through lambda-local's Invoke API (as Lambda's event sources do).
  Invocation invoke(const std::string& logical_id, const boost::json::value& event) const;
  // Polls until the execution is no longer RUNNING (or 10 minutes pass).
  boost::json::object wait_for(const std::string& execution_arn) const;

 private:
  TempDir state_;
  std::unique_ptr<BackgroundProcess> process_;
  boost::json::object info_;
  MotoFixture moto_;
};

// S3's "object created" notification of one object, as S3 writes it (the key URL-encoded, a space
// as '+'; the ETag without its quotes), created at 2026-03-05T10:00:00.000Z.
boost::json::object s3_object_created(const std::string& bucket, const std::string& key,
                                      std::uint64_t size, std::string etag);

// Lambda's SQS event source, locally: `pollers` loops each receive a batch of up to 10 (hidden
// for `visibility_s`), invoke `function` with it, and delete what the function did not name in
// batchItemFailures (all of it stays when the invocation failed), until the queue has been empty
// three receives in a row.
struct EventSourceRun {
  int invocations = 0;
  int failed_records = 0;  // left for redelivery
};
EventSourceRun run_sqs_event_source(const LocalStack& stack, const std::string& queue_url,
                                    const std::string& function, int pollers, int visibility_s = 1);

}  // namespace tests
