#include "tests/aws_test_support.h"

#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "common/http.h"
#include "common/json_services.h"
#include "common/sigv4.h"
#include "common/sqs.h"

namespace tests {

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) {
    throw std::runtime_error(path + " is missing: run the tests through ctest (it starts moto)");
  }
  return line;
}

}  // namespace

MotoFixture moto_fixture(bool second) {
  MotoFixture moto;
  // The S3 client's tests are also run against the benchmarks' S3 stand-in (bench/s3_standin),
  // so a benchmark never measures a behaviour S3 does not have. It checks no signature.
  if (const char* standin = std::getenv("TESTS_S3_STANDIN_ENDPOINT"); standin && *standin) {
    moto.endpoint = standin;
    moto.credentials = {"standin", "standin", ""};
    return moto;
  }
  const std::string dir = second ? MOTO_AUTH_DIR : MOTO_DIR;
  moto.endpoint = read_first_line(dir + "/endpoint");
  const std::string line = read_first_line(dir + "/endpoint.credentials");
  const auto space = line.find(' ');
  moto.credentials = {line.substr(0, space), line.substr(space + 1), ""};
  return moto;
}

common::ClientOptions moto_options(const MotoFixture& moto, const std::string& endpoint_override) {
  common::ClientOptions options;
  options.region = "us-east-1";
  options.credentials = moto.credentials;
  options.endpoint =
      common::parse_endpoint_url(endpoint_override.empty() ? moto.endpoint : endpoint_override);
  options.retry = common::RetryPolicy{};
  return options;
}

std::string seal_key(const MotoFixture& moto) {
  static std::mutex mutex;
  static std::map<std::string, std::string> keys;  // by endpoint
  std::lock_guard lock(mutex);
  if (const auto known = keys.find(moto.endpoint); known != keys.end()) return known->second;
  const auto made = aws_cli(moto,
                            "kms create-key --key-spec HMAC_256 --key-usage GENERATE_VERIFY_MAC "
                            "--description 'test seal key' --query KeyMetadata.Arn --output text");
  if (made.exit_code != 0) throw std::runtime_error("kms create-key failed: " + made.err);
  std::string arn = made.out;
  while (!arn.empty() && std::isspace(static_cast<unsigned char>(arn.back()))) arn.pop_back();
  return keys[moto.endpoint] = arn;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const unsigned salt = std::random_device{}() % 100000;
  return prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(salt);
}

std::string credentials_env(const MotoFixture& moto) {
  return "AWS_ACCESS_KEY_ID='" + moto.credentials.access_key_id + "' AWS_SECRET_ACCESS_KEY='" +
         moto.credentials.secret_access_key + "' AWS_DEFAULT_REGION=us-east-1 ";
}

CommandResult aws_cli(const MotoFixture& moto, const std::string& arguments,
                      const std::string& endpoint) {
  return run_command(credentials_env(moto) + "aws --endpoint-url " +
                     (endpoint.empty() ? moto.endpoint : endpoint) + " " + arguments);
}

MotoFixture user_allowed(const MotoFixture& moto, const std::string& name,
                         const std::string& action, const std::string& resource) {
  const auto check = [](const CommandResult& result, const std::string& what) {
    if (result.exit_code != 0) throw std::runtime_error(what + ": " + result.err);
    return result;
  };
  check(aws_cli(moto, "iam create-user --user-name " + name), "create-user");
  const boost::json::value policy = {
      {"Version", "2012-10-17"},
      {"Statement", {{{"Effect", "Allow"}, {"Action", action}, {"Resource", resource}}}}};
  check(aws_cli(moto, "iam put-user-policy --user-name " + name +
                          " --policy-name only --policy-document '" +
                          boost::json::serialize(policy) + "'"),
        "put-user-policy");
  const auto key = boost::json::parse(
      check(aws_cli(moto, "iam create-access-key --user-name " + name + " --output json"),
            "create-access-key")
          .out);
  return {moto.endpoint,
          {std::string(key.at("AccessKey").at("AccessKeyId").as_string()),
           std::string(key.at("AccessKey").at("SecretAccessKey").as_string()), ""}};
}

namespace {

boost::json::value cli_json(const MotoFixture& moto, const std::string& arguments) {
  const auto result = aws_cli(moto, arguments + " --output json");
  if (result.exit_code != 0) throw std::runtime_error("aws " + arguments + ": " + result.err);
  return result.out.empty() ? boost::json::value() : boost::json::parse(result.out);
}

const boost::json::array* field_array(const boost::json::value& value, const char* name) {
  const auto* field = value.is_object() ? value.as_object().if_contains(name) : nullptr;
  return field && field->is_array() ? &field->as_array() : nullptr;
}

}  // namespace

std::set<std::string> cli_keys(const MotoFixture& moto, const std::string& bucket,
                               const std::string& prefix) {
  std::set<std::string> keys;
  const auto listed =
      cli_json(moto, "s3api list-objects-v2 --bucket " + bucket + " --prefix '" + prefix + "'");
  if (const auto* contents = field_array(listed, "Contents"))
    for (const auto& object : *contents) keys.emplace(object.at("Key").as_string());
  return keys;
}

std::vector<std::pair<std::string, std::string>> cli_versions(const MotoFixture& moto,
                                                              const std::string& bucket,
                                                              const std::string& key) {
  std::vector<std::pair<std::string, std::string>> versions;
  const auto listed =
      cli_json(moto, "s3api list-object-versions --bucket " + bucket + " --prefix '" + key + "'");
  if (const auto* found = field_array(listed, "Versions"))
    for (const auto& version : *found)
      if (version.at("Key").as_string() == key)
        versions.emplace_back(std::string(version.at("VersionId").as_string()),
                              std::string(version.at("ETag").as_string()));
  return versions;
}

std::size_t cli_open_uploads(const MotoFixture& moto, const std::string& bucket) {
  const auto listed = cli_json(moto, "s3api list-multipart-uploads --bucket " + bucket);
  const auto* uploads = field_array(listed, "Uploads");
  return uploads ? uploads->size() : 0;
}

FaultProxy::FaultProxy(const std::string& upstream, const std::string& arguments)
    : process_(
          "exec " + bin_path("fault-proxy").string() + " --upstream " + upstream + " " + arguments,
          "fault-proxy listening"),
      url_(process_.ready_line().substr(process_.ready_line().find("http://"))) {}

boost::json::value FaultProxy::stats() const {
  return boost::json::parse(run_command("curl -s " + url_ + "/fault-proxy/stats").out);
}

bool create_buckets(const MotoFixture& moto, const std::vector<std::string>& buckets) {
  for (const auto& bucket : buckets) {
    const auto created = aws_cli(moto, "s3api create-bucket --bucket " + bucket);
    if (created.exit_code != 0) {
      std::fprintf(stderr, "cannot create bucket %s: %s\n", bucket.c_str(), created.err.c_str());
      return false;
    }
  }
  return true;
}

Invocation invoke_function(const MotoFixture& moto, const std::string& executable,
                           const boost::json::value& event,
                           const std::map<std::string, std::string>& environment) {
  TempDir dir;
  const auto event_path = dir.path() / "event.json";
  std::ofstream(event_path) << boost::json::serialize(event);
  std::map<std::string, std::string> settings{
      {"AWS_ENDPOINT_URL", moto.endpoint},
      {"AWS_ACCESS_KEY_ID", moto.credentials.access_key_id},
      {"AWS_SECRET_ACCESS_KEY", moto.credentials.secret_access_key},
      {"SEAL_KEY_ID", seal_key(moto)}};
  for (const auto& [name, value] : environment) settings[name] = value;
  std::string command = bin_path("lambda-local").string() + " invoke " +
                        bin_path(executable).string() + " " + event_path.string() +
                        " --timeout 120";
  for (const auto& [name, value] : settings) command += " --env '" + name + "=" + value + "'";
  const CommandResult result = run_command(command);
  Invocation invocation;
  invocation.exit_code = result.exit_code;
  invocation.logs = result.err;
  boost::system::error_code error;
  invocation.response = boost::json::parse(result.out, error);
  if (error) invocation.response = nullptr;
  return invocation;
}

}  // namespace tests

namespace tests {

std::map<std::string, std::string> ledger_file_states(const boost::json::array& items) {
  std::map<std::string, std::string> state_of;
  for (const auto& item : items) {
    if (item.at("pk").at("S").as_string().starts_with("F#"))
      state_of[std::string(item.at("key").at("S").as_string())] =
          std::string(item.at("state").at("S").as_string());
  }
  return state_of;
}

LocalStack::LocalStack(const std::string& extra_arguments) {
  const std::string command = "exec " + source_path("tools/local-stack").string() +
                              " --state-dir " + state_.path().string() + " " + extra_arguments +
                              " 2>&1";
  process_ = std::make_unique<BackgroundProcess>(command, "local stack ready");
  const std::string& line = process_->ready_line();
  info_ = boost::json::parse(line.substr(line.find('{'))).as_object();
  moto_.endpoint = std::string(info_.at("endpoint").as_string());
  const auto& credentials = info_.at("credentials").as_object();
  moto_.credentials = {std::string(credentials.at("access_key_id").as_string()),
                       std::string(credentials.at("secret_access_key").as_string()), ""};
}

std::string LocalStack::resource(const std::string& logical_id) const {
  return std::string(info_.at("resources").at(logical_id).as_string());
}

std::string LocalStack::state_machine(const std::string& logical_id) const {
  return std::string(info_.at("state_machines").at(logical_id).as_string());
}

bool register_amplify_app(const MotoFixture& moto, const boost::json::object& app) {
  common::HttpRequest request;
  request.method = "POST";
  request.url = moto.endpoint + "/moto-local/amplify-apps";
  request.body = boost::json::serialize(app);
  return common::HttpEngine::shared().perform(std::move(request)).status == 204;
}

std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> amplify_requests(
    const MotoFixture& moto) {
  common::HttpRequest request;
  request.url = moto.endpoint + "/moto-local/amplify-apps";
  const auto apps =
      boost::json::parse(common::HttpEngine::shared().perform(std::move(request)).body);
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> ranges;
  for (const auto& app : apps.as_array()) {
    auto& asked = ranges[std::string(app.at("appId").as_string())];
    for (const auto& range : app.at("requests").as_array())
      asked.emplace_back(range.at(0).to_number<std::int64_t>(),
                         range.at(1).to_number<std::int64_t>());
  }
  return ranges;
}

std::string LocalStack::function_log(const std::string& logical_id) const {
  std::ifstream in(std::string(info_.at("logs").as_string()) + "/" + logical_id + ".log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Invocation LocalStack::invoke(const std::string& logical_id,
                              const boost::json::value& event) const {
  TempDir dir;
  const auto event_path = dir.path() / "event.json";
  const auto body_path = dir.path() / "response.json";
  const auto headers_path = dir.path() / "headers.txt";
  std::ofstream(event_path) << boost::json::serialize(event);
  const auto run = run_command("curl -s -X POST --data-binary @" + event_path.string() + " -o " +
                               body_path.string() + " -D " + headers_path.string() + " " +
                               std::string(info_.at("lambda_endpoint").as_string()) +
                               "/2015-03-31/functions/" + logical_id + "/invocations");
  Invocation invocation;
  std::ifstream headers(headers_path);
  const std::string header_text{std::istreambuf_iterator<char>(headers), {}};
  invocation.exit_code =
      run.exit_code != 0 ? run.exit_code
                         : (header_text.find("X-Amz-Function-Error") != std::string::npos ||
                                    header_text.find("x-amz-function-error") != std::string::npos
                                ? 1
                                : 0);
  std::ifstream body(body_path);
  const std::string text{std::istreambuf_iterator<char>(body), {}};
  boost::system::error_code error;
  invocation.response = boost::json::parse(text, error);
  if (error) invocation.response = nullptr;
  invocation.logs = run.err;
  return invocation;
}

boost::json::object LocalStack::wait_for(const std::string& execution_arn) const {
  common::StepFunctionsClient stepfunctions(moto_options(moto_));
  boost::json::object description;
  for (int i = 0; i < 2400; ++i) {
    description = stepfunctions.describe_execution(execution_arn);
    if (description.at("status").as_string() != "RUNNING") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return description;
}

std::string output_name(const std::string& directory) {
  std::string slug;
  for (char c : directory) {
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '=';
    slug.push_back(keep ? c : '_');
  }
  while (!slug.empty() && slug.back() == '_') slug.pop_back();
  while (!slug.empty() && slug.front() == '_') slug.erase(slug.begin());
  return (slug.empty() ? "root" : slug) + "-" + common::sha256_hex(directory).substr(0, 8);
}

boost::json::object receipt_with_indexes(common::S3Client& s3, const std::string& bucket,
                                         const std::string& key) {
  auto receipt = boost::json::parse(s3.get_object(bucket, key)).as_object();
  for (auto& output : receipt.at("outputs").as_array()) {
    const auto& summary = output.as_object();
    if (summary.contains("sources")) throw std::runtime_error("a receipt lists summaries");
    const auto& index = summary.at("index").as_object();
    auto record = boost::json::parse(s3.get_object(std::string(index.at("bucket").as_string()),
                                                   std::string(index.at("key").as_string())))
                      .as_object();
    if (record.at("key") != summary.at("key") ||
        record.at("sources").as_array().size() != index.at("count").to_number<std::size_t>())
      throw std::runtime_error("the index of " + boost::json::serialize(summary.at("key")) +
                               " is not its output's");
    record["version_id"] = summary.at("version_id");
    record.erase("seal");  // made anew by each process that writes the record
    output = std::move(record);
  }
  return receipt;
}

boost::json::object s3_object_created(const std::string& bucket, const std::string& key,
                                      std::uint64_t size, std::string etag) {
  std::string encoded = common::uri_encode(key, true);
  for (std::size_t at = encoded.find("%20"); at != std::string::npos; at = encoded.find("%20"))
    encoded.replace(at, 3, "+");
  std::erase(etag, '"');
  const boost::json::object object{{"key", encoded}, {"size", size}, {"eTag", etag}};
  return boost::json::object{
      {"Records", boost::json::array{boost::json::object{
                      {"eventVersion", "2.1"},
                      {"eventSource", "aws:s3"},
                      {"eventTime", "2026-03-05T10:00:00.000Z"},
                      {"eventName", "ObjectCreated:Put"},
                      {"s3", boost::json::object{{"bucket", boost::json::object{{"name", bucket}}},
                                                 {"object", object}}}}}}};
}

EventSourceRun run_sqs_event_source(const LocalStack& stack, const std::string& queue_url,
                                    const std::string& function, int pollers, int visibility_s) {
  std::mutex mutex;
  EventSourceRun total;
  std::vector<std::thread> threads;
  for (int t = 0; t < pollers; ++t) {
    threads.emplace_back([&] {
      common::SqsClient sqs(moto_options(stack.moto()));
      int idle = 0;
      while (idle < 3) {
        const auto messages = sqs.receive_messages(queue_url, 10, 1, visibility_s);
        if (messages.empty()) {
          ++idle;
          continue;
        }
        idle = 0;
        boost::json::array records;
        for (const auto& message : messages) {
          records.push_back(boost::json::object{{"messageId", message.message_id},
                                                {"receiptHandle", message.receipt_handle},
                                                {"body", message.body},
                                                {"eventSource", "aws:sqs"}});
        }
        const auto run = stack.invoke(function, boost::json::object{{"Records", records}});
        std::set<std::string> failed;
        if (run.exit_code != 0 || !run.response.is_object()) {
          for (const auto& message : messages) failed.insert(message.message_id);
        } else {
          for (const auto& failure : run.response.at("batchItemFailures").as_array())
            failed.insert(std::string(failure.at("itemIdentifier").as_string()));
        }
        std::vector<std::string> done;
        for (const auto& message : messages) {
          if (!failed.contains(message.message_id)) done.push_back(message.receipt_handle);
        }
        if (!done.empty()) sqs.delete_message_batch(queue_url, done);
        std::lock_guard lock(mutex);
        total.invocations += 1;
        total.failed_records += static_cast<int>(failed.size());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return total;
}

}  // namespace tests
