// Log format and level selection as Lambda's advanced logging controls define them, observed in
// what a real bootstrap writes.
#include <unistd.h>

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>
#include <regex>
#include <set>

#include "devtools/lambda_local/sandbox.h"
#include "runtime/logging.h"
#include "tests/test_support.h"

namespace {

using devtools::Sandbox;
namespace json = boost::json;

constexpr const char* kLogAll =
    R"({"log":[{"level":"TRACE","message":"t"},{"level":"DEBUG","message":"d"},)"
    R"({"level":"INFO","message":"i"},{"level":"WARN","message":"w"},)"
    R"({"level":"ERROR","message":"e"},{"level":"FATAL","message":"f"}]})";

struct EchoRun {
  std::vector<std::string> lines;
  std::vector<json::object> records;  // JSON lines that carry a level
  std::vector<std::string> request_ids;
};

EchoRun run_echo(const std::string& format, const std::string& level,
                 std::map<std::string, std::string> environment = {}, int invocations = 1) {
  tests::LogCapture logs;
  auto function = tests::echo_function();
  function.log_format = format;
  function.log_level = level;
  function.environment = std::move(environment);
  devtools::SandboxOptions options;
  options.log_fd = logs.fd();
  EchoRun run;
  {
    Sandbox sandbox(function, options);
    for (int i = 0; i < invocations; ++i)
      run.request_ids.push_back(sandbox.invoke(kLogAll).request_id);
  }
  run.lines = logs.lines();
  for (auto& record : logs.json_lines()) {
    if (record.contains("level")) run.records.push_back(record);
  }
  return run;
}

std::vector<std::string> messages(const EchoRun& run) {
  std::vector<std::string> result;
  for (const auto& record : run.records) {
    if (record.at("level").as_string() != "ERROR" || record.at("message").as_string() == "e") {
      result.emplace_back(record.at("message").as_string());
    }
  }
  return result;
}

TEST(Logging, JsonLinesCarryTimestampLevelRequestIdAndColdStart) {
  const EchoRun run = run_echo("JSON", "DEBUG", {}, 2);
  ASSERT_EQ(messages(run),
            (std::vector<std::string>{"d", "i", "w", "e", "f", "d", "i", "w", "e", "f"}));
  const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");
  for (std::size_t i = 0; i < run.records.size(); ++i) {
    const auto& record = run.records[i];
    EXPECT_TRUE(std::regex_match(std::string(record.at("timestamp").as_string()), rfc3339))
        << json::serialize(record);
    EXPECT_EQ(record.at("source").as_string(), "echo") << "extra fields are kept";
    const bool first = i < 5;
    EXPECT_EQ(record.at("requestId").as_string(), run.request_ids[first ? 0 : 1]);
    EXPECT_EQ(record.at("cold_start").as_bool(), first);
  }
}

// Lambda sends each invocation's X-Ray trace header; every JSON line of it carries the Root, as
// Powertools writes it, so CloudWatch Logs Insights leads from a line to its trace.
TEST(Logging, JsonLinesCarryTheInvocationsXrayTraceId) {
  const EchoRun run = run_echo("JSON", "INFO", {}, 2);
  ASSERT_FALSE(run.records.empty());
  const std::regex root(R"(1-[0-9a-f]{8}-[0-9a-f]{24})");
  std::set<std::string> traces;
  for (const auto& record : run.records) {
    ASSERT_TRUE(record.contains("xray_trace_id")) << json::serialize(record);
    const std::string trace(record.at("xray_trace_id").as_string());
    EXPECT_TRUE(std::regex_match(trace, root)) << trace;
    traces.insert(trace);
  }
  EXPECT_EQ(traces.size(), 2u) << "each invocation has its own trace";
}

TEST(Logging, XrayRootIsReadFromAnyPositionOfTheHeader) {
  EXPECT_EQ(runtime::log::xray_root("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
            "1-5759e988-bd862e3fe1be46a994272793");
  EXPECT_EQ(runtime::log::xray_root("Parent=53995c3f42cd8ad8;Root=1-abc;Sampled=0"), "1-abc");
  EXPECT_EQ(runtime::log::xray_root("Parent=53995c3f42cd8ad8"), "");
  EXPECT_EQ(runtime::log::xray_root(""), "");
}

TEST(Logging, LevelThresholdFiltersLowerLevels) {
  EXPECT_EQ(messages(run_echo("JSON", "WARN")), (std::vector<std::string>{"w", "e", "f"}));
  EXPECT_EQ(messages(run_echo("JSON", "TRACE")),
            (std::vector<std::string>{"t", "d", "i", "w", "e", "f"}));
  EXPECT_EQ(messages(run_echo("JSON", "")), (std::vector<std::string>{"i", "w", "e", "f"}))
      << "INFO by default";
}

TEST(Logging, LogLevelIsTheFallbackAndLambdaLevelWins) {
  EXPECT_EQ(messages(run_echo("JSON", "", {{"LOG_LEVEL", "error"}})),
            (std::vector<std::string>{"e", "f"}));
  EXPECT_EQ(messages(run_echo("JSON", "FATAL", {{"LOG_LEVEL", "DEBUG"}})),
            (std::vector<std::string>{"f"}));
}

TEST(Logging, TextFormatIsTabSeparatedWithRequestId) {
  const EchoRun run = run_echo("Text", "INFO");
  EXPECT_TRUE(run.records.empty()) << "no JSON in Text format";
  const std::regex line(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\tWARN\t)" +
                        run.request_ids[0] + R"(\tw source="echo")");
  int matched = 0;
  for (const auto& text : run.lines) matched += std::regex_match(text, line) ? 1 : 0;
  EXPECT_EQ(matched, 1);
}

// In-process: a level below the threshold must not even convert its arguments.
struct CountsConversions {
  static inline int conversions = 0;
};
void tag_invoke(const json::value_from_tag&, json::value& value, const CountsConversions&) {
  ++CountsConversions::conversions;
  value = "converted";
}

TEST(Logging, DisabledLevelsDoNoWork) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  runtime::log::set_output_fd(pipe_fds[1]);
  setenv("AWS_LAMBDA_LOG_LEVEL", "WARN", 1);
  runtime::log::configure_from_environment();
  CountsConversions::conversions = 0;
  runtime::log::debug("skipped", "value", CountsConversions{});
  EXPECT_EQ(CountsConversions::conversions, 0);
  EXPECT_FALSE(runtime::log::enabled(runtime::log::Level::Info));
  runtime::log::warn("kept", "value", CountsConversions{});
  EXPECT_EQ(CountsConversions::conversions, 1);
  runtime::log::set_output_fd(1);
  close(pipe_fds[1]);
  char buffer[512] = {};
  const auto got = read(pipe_fds[0], buffer, sizeof buffer - 1);
  close(pipe_fds[0]);
  const std::string written(buffer, got > 0 ? static_cast<std::size_t>(got) : 0);
  EXPECT_EQ(written.find("skipped"), std::string::npos);
  EXPECT_NE(written.find("kept"), std::string::npos);
  unsetenv("AWS_LAMBDA_LOG_LEVEL");
}

TEST(Logging, ParseLevelAcceptsLambdaNames) {
  runtime::log::Level level{};
  EXPECT_TRUE(runtime::log::parse_level("warning", level));
  EXPECT_EQ(level, runtime::log::Level::Warn);
  EXPECT_TRUE(runtime::log::parse_level("Trace", level));
  EXPECT_EQ(level, runtime::log::Level::Trace);
  EXPECT_FALSE(runtime::log::parse_level("verbose", level));
}

}  // namespace
