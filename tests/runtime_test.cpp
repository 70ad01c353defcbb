// The runtime's contract with the Lambda Runtime API, exercised through the emulator: a real
// bootstrap process (tests/echo) talking HTTP to a real Runtime API.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "devtools/lambda_local/http_server.h"
#include "devtools/lambda_local/sandbox.h"
#include "runtime/runtime.h"
#include "tests/test_support.h"

namespace {

using devtools::InvokeResult;
using devtools::Sandbox;
using devtools::SandboxOptions;
namespace json = boost::json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_dead_or_zombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

class RuntimeTest : public ::testing::Test {
 protected:
  Sandbox make_sandbox(devtools::FunctionConfig function = tests::echo_function()) {
    SandboxOptions options;
    options.log_fd = logs_.fd();
    return Sandbox(std::move(function), options);
  }
  static json::object parse(const InvokeResult& result) {
    return json::parse(result.payload).as_object();
  }

  tests::LogCapture logs_;
};

TEST_F(RuntimeTest, SuccessReturnsHandlerResponseAndContext) {
  auto sandbox = make_sandbox();
  const InvokeResult result = sandbox.invoke(R"({"hello":"world","n":[1,2,3]})");
  ASSERT_TRUE(result.ok) << result.payload;
  const auto body = parse(result);
  EXPECT_EQ(json::serialize(body.at("event")), R"({"hello":"world","n":[1,2,3]})");
  EXPECT_EQ(body.at("request_id").as_string(), result.request_id);
  EXPECT_EQ(body.at("function_arn").as_string(),
            "arn:aws:lambda:us-east-1:123456789012:function:echo");
  EXPECT_TRUE(result.cold_start);
  EXPECT_GT(result.init_duration.count(), 0);
}

TEST_F(RuntimeTest, ProjectErrorBecomesErrorTypeAndDocument) {
  auto sandbox = make_sandbox();
  const InvokeResult result =
      sandbox.invoke(R"({"throw":"InvalidInput","message":"no bucket named"})");
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.error_type, "InvalidInput");
  const auto body = parse(result);
  EXPECT_EQ(body.at("errorType").as_string(), "InvalidInput");
  EXPECT_EQ(body.at("errorMessage").as_string(), "no bucket named");
  EXPECT_TRUE(body.at("stackTrace").is_array());
  // The environment survives a handled error: same process next time.
  const auto pid = sandbox.pid();
  EXPECT_TRUE(sandbox.invoke("{}").ok);
  EXPECT_EQ(sandbox.pid(), pid);
}

TEST_F(RuntimeTest, ForeignExceptionsAreUnhandledErrorWithTheirType) {
  auto sandbox = make_sandbox();
  const InvokeResult standard = sandbox.invoke(R"({"throw":"std","message":"index 7"})");
  EXPECT_EQ(standard.error_type, "UnhandledError");
  EXPECT_EQ(parse(standard).at("errorMessage").as_string(), "std::out_of_range: index 7");
  const InvokeResult other = sandbox.invoke(R"({"throw":"int"})");
  EXPECT_EQ(other.error_type, "UnhandledError");
  EXPECT_EQ(parse(other).at("errorMessage").as_string(), "non-standard exception");
}

TEST_F(RuntimeTest, EventThatIsNotJsonIsInvalidInput) {
  auto sandbox = make_sandbox();
  const InvokeResult result = sandbox.invoke("{not json");
  EXPECT_EQ(result.error_type, "InvalidInput");
  EXPECT_NE(parse(result).at("errorMessage").as_string().find("not valid JSON"), std::string::npos);
}

TEST_F(RuntimeTest, InitFailureIsReportedToInvoker) {
  auto function = tests::echo_function();
  function.environment["ECHO_FAIL_INIT"] = "1";
  auto sandbox = make_sandbox(function);
  const InvokeResult result = sandbox.invoke("{}");
  ASSERT_FALSE(result.ok);
  EXPECT_EQ(result.error_type, "ConfigurationError");
  EXPECT_EQ(parse(result).at("errorMessage").as_string(), "ECHO_FAIL_INIT is set");
  EXPECT_FALSE(sandbox.pid().has_value()) << "a failed init leaves no environment behind";
}

// Talks to the bootstrap directly: /init/error with the error-type header, then exit non-zero.
TEST(RuntimeInit, InitErrorPostsAndExitsNonZero) {
  std::mutex mutex;
  std::string path, type, body;
  devtools::HttpServer api(0, [&](devtools::tcp::socket& socket) {
    boost::beast::flat_buffer buffer;
    while (auto request = devtools::read_request(socket, buffer, 1 << 20)) {
      {
        std::lock_guard lock(mutex);
        path = std::string(request->target());
        type = std::string((*request)["Lambda-Runtime-Function-Error-Type"]);
        body = request->body();
      }
      auto response = devtools::make_response(devtools::http::status::accepted, *request, "{}");
      boost::beast::http::write(socket, response);
    }
  });
  const std::string command = "AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(api.port()) +
                              " ECHO_FAIL_INIT=1 " + tests::bin_path("echo").string() +
                              " >/dev/null";
  const auto result = tests::run_command(command);
  api.stop();
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(path, "/2018-06-01/runtime/init/error");
  EXPECT_EQ(type, "ConfigurationError");
  const auto document = json::parse(body).as_object();
  EXPECT_EQ(document.at("errorType").as_string(), "ConfigurationError");
  EXPECT_EQ(document.at("errorMessage").as_string(), "ECHO_FAIL_INIT is set");
}

TEST(RuntimeInit, MissingRuntimeApiIsAClearFailure) {
  const auto result = tests::run_command("env -u AWS_LAMBDA_RUNTIME_API " +
                                         tests::bin_path("echo").string() + " 2>&1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.out.find("AWS_LAMBDA_RUNTIME_API is not set"), std::string::npos) << result.out;
}

TEST_F(RuntimeTest, DeadlineAndRemainingTimeFollowTheTimeout) {
  auto sandbox = make_sandbox(tests::echo_function(std::chrono::milliseconds(4000)));
  const std::int64_t before = now_ms();
  const InvokeResult result = sandbox.invoke(R"({"sleep_ms":300})");
  ASSERT_TRUE(result.ok) << result.payload;
  const auto body = parse(result);
  const std::int64_t deadline = body.at("deadline_ms").as_int64();
  EXPECT_GE(deadline, before + 4000 - 50);
  EXPECT_LE(deadline, now_ms() + 4000);
  // Measured after the 300 ms sleep: at most timeout - 300 ms remains.
  const std::int64_t remaining = body.at("remaining_ms").as_int64();
  EXPECT_LE(remaining, 4000 - 300);
  EXPECT_GT(remaining, 2000);
}

TEST_F(RuntimeTest, TraceIdIsSetPerInvocationAndClearedWhenAbsent) {
  auto sandbox = make_sandbox();
  const std::string trace =
      "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  const auto with = parse(sandbox.invoke("{}", trace));
  EXPECT_EQ(with.at("env_trace_id").as_string(), trace);
  EXPECT_EQ(with.at("trace_id").as_string(), trace);
  const auto without = parse(sandbox.invoke("{}", std::nullopt));
  EXPECT_TRUE(without.at("env_trace_id").is_null()) << json::serialize(without);
  EXPECT_EQ(without.at("trace_id").as_string(), "");
}

TEST_F(RuntimeTest, ThousandSequentialInvocationsOnOneProcess) {
  auto sandbox = make_sandbox();
  std::set<std::string> request_ids;
  std::set<std::int64_t> pids;
  for (int i = 0; i < 1000; ++i) {
    const InvokeResult result = sandbox.invoke(R"({"i":)" + std::to_string(i) + "}");
    ASSERT_TRUE(result.ok) << i << ": " << result.payload;
    const auto body = parse(result);
    ASSERT_EQ(body.at("event").at("i").as_int64(), i);
    EXPECT_EQ(result.cold_start, i == 0);
    request_ids.insert(result.request_id);
    pids.insert(body.at("pid").as_int64());
  }
  EXPECT_EQ(request_ids.size(), 1000u);
  EXPECT_EQ(pids.size(), 1u);
  EXPECT_EQ(sandbox.runtime_api_connections(), 1u) << "one reused connection to the Runtime API";
}

TEST_F(RuntimeTest, ResponseOverSixMegabytesIsAClearError) {
  auto sandbox = make_sandbox();
  // A JSON string of N bytes serialises to N + 2 (the quotes).
  const std::size_t limit = runtime::kMaxResponseBytes;
  const InvokeResult fits =
      sandbox.invoke(R"({"response_bytes":)" + std::to_string(limit - 2) + "}");
  ASSERT_TRUE(fits.ok) << fits.error_type;
  EXPECT_EQ(fits.payload.size(), limit);
  const InvokeResult too_big =
      sandbox.invoke(R"({"response_bytes":)" + std::to_string(limit - 1) + "}");
  ASSERT_FALSE(too_big.ok);
  EXPECT_EQ(too_big.error_type, "ResponseTooLarge");
  EXPECT_NE(parse(too_big).at("errorMessage").as_string().find("6291557 bytes"), std::string::npos);
  EXPECT_TRUE(sandbox.invoke("{}").ok) << "the process survives an oversized response";
}

TEST_F(RuntimeTest, TimeoutKillsTheProcessAndTheNextInvocationStartsAfresh) {
  auto sandbox = make_sandbox(tests::echo_function(std::chrono::milliseconds(500)));
  const auto first_pid = parse(sandbox.invoke("{}")).at("pid").as_int64();
  const InvokeResult timed_out = sandbox.invoke(R"({"sleep_ms":5000})");
  ASSERT_FALSE(timed_out.ok);
  EXPECT_EQ(timed_out.error_type, "Sandbox.Timedout");
  EXPECT_NE(
      parse(timed_out).at("errorMessage").as_string().find("Task timed out after 0.50 seconds"),
      std::string::npos);
  // Killed at its 0.5 s timeout, long before the 5 s sleep would have ended.
  EXPECT_LT(timed_out.duration, std::chrono::milliseconds(4000));
  EXPECT_EQ(kill(static_cast<pid_t>(first_pid), 0), -1) << "the timed-out process was killed";
  const InvokeResult next = sandbox.invoke("{}");
  ASSERT_TRUE(next.ok);
  EXPECT_TRUE(next.cold_start);
  EXPECT_NE(parse(next).at("pid").as_int64(), first_pid);
}

TEST_F(RuntimeTest, CrashIsReportedAndTheEnvironmentRestarts) {
  auto sandbox = make_sandbox();
  const InvokeResult exited = sandbox.invoke(R"({"exit":3})");
  EXPECT_EQ(exited.error_type, "Runtime.ExitError");
  EXPECT_NE(parse(exited).at("errorMessage").as_string().find("exit status 3"), std::string::npos);
  const InvokeResult aborted = sandbox.invoke(R"({"abort":true})");
  EXPECT_EQ(aborted.error_type, "Runtime.ExitError");
  EXPECT_NE(parse(aborted).at("errorMessage").as_string().find("signal: Aborted"),
            std::string::npos);
  const InvokeResult next = sandbox.invoke("{}");
  EXPECT_TRUE(next.ok);
  EXPECT_TRUE(next.cold_start);
}

TEST_F(RuntimeTest, CrashWhileIdleIsNoticedOnTheNextInvocation) {
  auto sandbox = make_sandbox();
  ASSERT_TRUE(sandbox.invoke("{}").ok);
  const auto pid = sandbox.pid();
  ASSERT_TRUE(pid.has_value());
  kill(*pid, SIGKILL);
  // SIGKILL lands asynchronously; once the process is a zombie its sockets are closed.
  for (int i = 0; i < 200 && !is_dead_or_zombie(*pid); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const InvokeResult next = sandbox.invoke("{}");
  EXPECT_TRUE(next.ok) << next.payload;
  EXPECT_TRUE(next.cold_start);
}

TEST_F(RuntimeTest, MissingBootstrapIsInvalidEntrypoint) {
  auto function = tests::echo_function();
  function.bootstrap = "/nonexistent/bootstrap";
  auto sandbox = make_sandbox(function);
  const InvokeResult result = sandbox.invoke("{}");
  EXPECT_EQ(result.error_type, "Runtime.InvalidEntrypoint");
}

TEST_F(RuntimeTest, PlatformLinesReportEachInvocation) {
  auto sandbox = make_sandbox();
  const InvokeResult result = sandbox.invoke("{}");
  int start = 0, end = 0, report = 0;
  for (const auto& line : logs_.lines()) {
    if (line == "START RequestId: " + result.request_id + " Version: $LATEST") ++start;
    if (line == "END RequestId: " + result.request_id) ++end;
    if (line.starts_with("REPORT RequestId: " + result.request_id) &&
        line.find("Init Duration") != std::string::npos) {
      ++report;
    }
  }
  EXPECT_EQ(start, 1);
  EXPECT_EQ(end, 1);
  EXPECT_EQ(report, 1);
}

}  // namespace
