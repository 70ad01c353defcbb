// lambda-local as a user runs it: `invoke` to replay an event file, `serve` as the Lambda Invoke
// API in front of moto (checked with curl and the aws CLI, not with our own client).
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "devtools/lambda_local/function_config.h"
#include "devtools/lambda_local/invoke_api.h"
#include "tests/test_support.h"

namespace {

namespace json = boost::json;

std::string lambda_local() {
  return tests::bin_path("lambda-local").string();
}

TEST(LambdaLocalInvoke, ReplaysAnEventFileAndPrintsTheResponse) {
  const auto result = tests::run_command(lambda_local() + " invoke echo " +
                                         tests::source_path("events/echo.json").string());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto body = json::parse(result.out).as_object();
  EXPECT_EQ(body.at("event").at("message").as_string(), "hello from events/echo.json");
  EXPECT_NE(result.err.find("echo received a sample event"), std::string::npos)
      << "the function's logs go to stderr";
  EXPECT_NE(result.err.find("REPORT RequestId: "), std::string::npos);
}

TEST(LambdaLocalInvoke, FunctionErrorExitsOneWithTheErrorDocument) {
  const auto result =
      tests::run_command("echo '{\"throw\":\"InvalidInput\",\"message\":\"bad date\"}' | " +
                         lambda_local() + " invoke echo -");
  EXPECT_EQ(result.exit_code, 1);
  const auto body = json::parse(result.out).as_object();
  EXPECT_EQ(body.at("errorType").as_string(), "InvalidInput");
  EXPECT_NE(result.err.find("echo failed: InvalidInput"), std::string::npos);
}

TEST(LambdaLocalInvoke, TimeoutOptionIsEnforced) {
  const auto result = tests::run_command("echo '{\"sleep_ms\":3000}' | " + lambda_local() +
                                         " invoke echo - --timeout 0.3");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(json::parse(result.out).at("errorType").as_string(), "Sandbox.Timedout");
}

// The file `sam local invoke --env-vars` reads serves lambda-local too: every function's
// Parameters, then the function's own section, then --env.
TEST(LambdaLocalInvoke, ReadsSamEnvVarsFilesFunctionSectionOverParameters) {
  tests::TempDir dir;
  std::ofstream(dir.path() / "env.json")
      << R"({"Parameters": {"WORK_BUCKET": "from-parameters", "LOG_LEVEL": "WARN"},)"
         R"( "echo": {"WORK_BUCKET": "from-function"}, "OtherFunction": {"LOG_LEVEL": "DEBUG"}})";
  std::ofstream(dir.path() / "event.json")
      << R"({"bucket": "${WORK_BUCKET}", "level": "${LOG_LEVEL}"})";
  const std::string invoke = lambda_local() + " invoke echo " +
                             (dir.path() / "event.json").string() + " --env-vars " +
                             (dir.path() / "env.json").string();
  const auto result = tests::run_command(invoke);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto event = json::parse(result.out).at("event");
  EXPECT_EQ(event.at("bucket").as_string(), "from-function");
  EXPECT_EQ(event.at("level").as_string(), "WARN");
  const auto overridden = tests::run_command(invoke + " --env WORK_BUCKET=from-command-line");
  EXPECT_EQ(json::parse(overridden.out).at("event").at("bucket").as_string(), "from-command-line");
  std::ofstream(dir.path() / "broken.json") << R"({"echo": "WORK_BUCKET=x"})";
  const auto broken =
      tests::run_command(lambda_local() + " invoke echo " + (dir.path() / "event.json").string() +
                         " --env-vars " + (dir.path() / "broken.json").string());
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("echo is not an object"), std::string::npos) << broken.err;
}

// Against real AWS a function gets the caller's credentials as Lambda gives a role's: from a
// profile's credential_process (how SSO and assume-role profiles are used), and an SSO profile
// it cannot resolve is named with the way to export its credentials.
TEST(LambdaLocalInvoke, AgainstAwsTheFunctionGetsTheProfilesCredentials) {
  tests::TempDir dir;
  std::ofstream(dir.path() / "config")
      << "[profile with-process]\ncredential_process = echo '{\"Version\": 1, \"AccessKeyId\": "
         "\"ASIAFROMPROCESS\", \"SecretAccessKey\": \"s\", \"SessionToken\": \"t\"}'\n"
         "[profile org-sso]\nsso_session = org\nsso_account_id = 111111111111\n";
  std::ofstream(dir.path() / "event.json") << R"({"key": "${AWS_ACCESS_KEY_ID}"})";
  const std::string environment =
      "env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u "
      "AWS_SESSION_TOKEN -u LAMBDA_LOCAL_CONFIG AWS_CONFIG_FILE=" +
      (dir.path() / "config").string() + " AWS_SHARED_CREDENTIALS_FILE=/nonexistent ";
  const std::string invoke =
      lambda_local() + " invoke echo " + (dir.path() / "event.json").string();
  const auto with_process = tests::run_command(environment + "AWS_PROFILE=with-process " + invoke);
  ASSERT_EQ(with_process.exit_code, 0) << with_process.err;
  EXPECT_EQ(json::parse(with_process.out).at("event").at("key").as_string(), "ASIAFROMPROCESS");
  const auto sso = tests::run_command(environment + "AWS_PROFILE=org-sso " + invoke);
  EXPECT_NE(sso.err.find("aws configure export-credentials --profile org-sso --format env"),
            std::string::npos)
      << sso.err;
}

TEST(LambdaLocalInvoke, UsageErrorsExitTwo) {
  EXPECT_EQ(tests::run_command(lambda_local() + " invoke").exit_code, 2);
  const auto unknown = tests::run_command(lambda_local() + " invoke no_such_function /dev/null");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown function 'no_such_function'"), std::string::npos);
  EXPECT_EQ(tests::run_command(lambda_local() + " frobnicate").exit_code, 2);
  EXPECT_EQ(tests::run_command(lambda_local() + " --help").exit_code, 0);
}

TEST(LambdaLocalConfig, BadConfigNamesTheField) {
  tests::TempDir dir;
  const auto path = dir.path() / "config.json";
  std::ofstream(path) << R"({"functions":{"echo":{"timeout":3}}})";
  EXPECT_THROW(
      {
        try {
          devtools::load_config(path);
        } catch (const std::runtime_error& error) {
          EXPECT_STREQ(error.what(), "functions.echo.bootstrap is required");
          throw;
        }
      },
      std::runtime_error);
}

TEST(LambdaLocalConfig, FunctionNamesFromArnsAndQualifiers) {
  using devtools::function_name_from_identifier;
  EXPECT_EQ(function_name_from_identifier("echo"), "echo");
  EXPECT_EQ(function_name_from_identifier("arn:aws:lambda:eu-west-1:123456789012:function:echo"),
            "echo");
  EXPECT_EQ(
      function_name_from_identifier("arn:aws:lambda:eu-west-1:123456789012:function:echo:live"),
      "echo");
  EXPECT_EQ(function_name_from_identifier("123456789012:function:echo"), "echo");
  EXPECT_EQ(function_name_from_identifier("echo:$LATEST"), "echo");
  EXPECT_EQ(
      devtools::invocation_target(
          "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aecho/invocations"),
      "arn:aws:lambda:us-east-1:1:function:echo");
  EXPECT_FALSE(devtools::invocation_target("/2015-03-31/functions/echo").has_value());
  // Prefix and suffix overlap: no name, and no read before the path (found by fuzzing).
  EXPECT_FALSE(devtools::invocation_target("/2015-03-31/functions/invocations").has_value());
}

// One moto and one `lambda-local serve` in front of it for the whole suite.
class LambdaLocalServe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    moto_ = new tests::MotoServer();
    setenv("AWS_ACCESS_KEY_ID", moto_->access_key_id().c_str(), 1);
    setenv("AWS_SECRET_ACCESS_KEY", moto_->secret_access_key().c_str(), 1);
    setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    config_dir_ = new tests::TempDir();
    std::ofstream(config_dir_->path() / "functions.json")
        << R"({"functions":{"echo":{"bootstrap":")" << tests::bin_path("echo").string()
        << R"(","timeout":2,"max_concurrency":3}}})";
    serve_ = new tests::BackgroundProcess("exec " + lambda_local() + " serve --port 0 --config " +
                                              (config_dir_->path() / "functions.json").string() +
                                              " --upstream " + moto_->endpoint(),
                                          "lambda-local serving");
    const std::string& line = serve_->ready_line();
    const auto start = line.find("http://");
    endpoint_ = line.substr(start, line.find(' ', start) - start);
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete moto_;
    delete config_dir_;
  }

  static inline tests::TempDir* config_dir_ = nullptr;
  static inline tests::MotoServer* moto_ = nullptr;
  static inline tests::BackgroundProcess* serve_ = nullptr;
  static inline std::string endpoint_;
};

TEST_F(LambdaLocalServe, AwsCliInvokesByNameAndGetsTheResponse) {
  tests::TempDir dir;
  const auto out = dir.path() / "out.json";
  const auto result = tests::run_command(
      "aws --endpoint-url " + endpoint_ +
      " lambda invoke --function-name echo --payload '{\"n\":7}' " + out.string());
  ASSERT_EQ(result.exit_code, 0) << result.err << result.out;
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(json::parse(text).at("event").at("n").as_int64(), 7);
  EXPECT_NE(result.out.find("\"StatusCode\": 200"), std::string::npos) << result.out;
}

TEST_F(LambdaLocalServe, ArnPathAndFunctionErrorHeader) {
  const std::string arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho";
  const auto result =
      tests::run_command("curl -s -i -X POST -d '{\"throw\":\"InvalidInput\"}' " + endpoint_ +
                         "/2015-03-31/functions/" + arn + "/invocations");
  ASSERT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("HTTP/1.1 200"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("X-Amz-Function-Error: Unhandled"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("\"errorType\":\"InvalidInput\""), std::string::npos);
}

TEST_F(LambdaLocalServe, UnknownFunctionIsResourceNotFound) {
  const auto result = tests::run_command("curl -s -i -X POST -d '{}' " + endpoint_ +
                                         "/2015-03-31/functions/nope/invocations");
  EXPECT_NE(result.out.find("HTTP/1.1 404"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("ResourceNotFoundException"), std::string::npos);
}

TEST_F(LambdaLocalServe, ConcurrentInvocationsScaleOutToWarmSandboxes) {
  // A sandbox serves one invocation at a time: three invocations that all wait until all three
  // have arrived can only finish if three processes serve them.
  tests::TempDir dir;
  const auto gate = dir.path() / "all-arrived";
  std::string command;
  for (int i = 0; i < 3; ++i) {
    const auto arrived = dir.path() / ("arrived-" + std::to_string(i));
    command += "curl -s -X POST -d '{\"arrive\":\"" + arrived.string() + "\",\"wait_for\":\"" +
               gate.string() + "\"}' " + endpoint_ + "/2015-03-31/functions/echo/invocations > " +
               (dir.path() / std::to_string(i)).string() + " & ";
  }
  tests::BackgroundProcess invocations(command + "wait", "");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto arrived = [&] {
    int count = 0;
    for (int i = 0; i < 3; ++i)
      count += std::filesystem::exists(dir.path() / ("arrived-" + std::to_string(i)));
    return count;
  };
  while (arrived() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(arrived(), 3) << "the three invocations were served at the same time";
  std::ofstream(gate) << "go";
  std::set<std::int64_t> pids;
  for (int i = 0; i < 3; ++i) {
    const auto response = dir.path() / std::to_string(i);
    while (std::filesystem::file_size(response) == 0 &&
           std::chrono::steady_clock::now() < deadline + std::chrono::seconds(5))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::ifstream in(response);
    const std::string body((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(body.empty()) << "invocation " << i << " never answered";
    pids.insert(json::parse(body).at("pid").as_int64());
  }
  EXPECT_EQ(pids.size(), 3u);
}

TEST_F(LambdaLocalServe, OtherRequestsAreForwardedToMotoUnchanged) {
  // Signed by the aws CLI for the serve endpoint, created through it, seen directly in moto.
  tests::TempDir dir;
  const auto body = dir.path() / "object.txt";
  std::ofstream(body) << "line one\nline two\n";
  ASSERT_EQ(tests::run_command("aws --endpoint-url " + endpoint_ + " s3 mb s3://forwarded-bucket")
                .exit_code,
            0);
  ASSERT_EQ(tests::run_command("aws --endpoint-url " + endpoint_ + " s3 cp " + body.string() +
                               " 's3://forwarded-bucket/a key+with spaces.txt'")
                .exit_code,
            0);
  const auto listed = tests::run_command("aws --endpoint-url " + moto_->endpoint() +
                                         " s3api list-objects-v2 --bucket forwarded-bucket");
  EXPECT_NE(listed.out.find("a key+with spaces.txt"), std::string::npos)
      << listed.out << listed.err;
  const auto head = tests::run_command(
      "aws --endpoint-url " + endpoint_ +
      " s3api head-object --bucket forwarded-bucket --key 'a key+with spaces.txt'");
  EXPECT_EQ(head.exit_code, 0) << head.err;
  EXPECT_NE(head.out.find("\"ContentLength\": 18"), std::string::npos) << head.out;
  const auto fetched = tests::run_command("aws --endpoint-url " + endpoint_ +
                                          " s3 cp 's3://forwarded-bucket/a key+with spaces.txt' -");
  EXPECT_EQ(fetched.out, "line one\nline two\n");
}

}  // namespace
