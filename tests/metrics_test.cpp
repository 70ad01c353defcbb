// EMF lines: the shape Powertools emits, checked key by key against its published example.
#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "devtools/lambda_local/sandbox.h"
#include "runtime/logging.h"
#include "runtime/metrics.h"
#include "tests/test_support.h"

namespace {

namespace json = boost::json;

json::object powertools_example() {
  std::ifstream in(tests::source_path("tests/fixtures/powertools_emf.json"));
  std::ostringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_object();
}

// Same keys at every level and the same JSON kinds; `skip` holds the example's metric names,
// which are values of the example rather than part of the format.
void expect_same_shape(const json::value& ours, const json::value& theirs, const std::string& where,
                       const std::set<std::string>& skip = {}) {
  const bool both_numbers = ours.is_number() && theirs.is_number();
  ASSERT_TRUE(both_numbers || ours.kind() == theirs.kind()) << where;
  if (ours.is_object()) {
    for (const auto& [key, value] : theirs.as_object()) {
      if (skip.contains(std::string(key))) continue;
      ASSERT_TRUE(ours.as_object().contains(key)) << where << "." << key;
      expect_same_shape(ours.as_object().at(key), value, where + "." + std::string(key));
    }
  } else if (ours.is_array() && !theirs.as_array().empty()) {
    for (const auto& item : ours.as_array())
      expect_same_shape(item, theirs.as_array()[0], where + "[]");
  }
}

std::vector<json::object> emf_lines(const tests::LogCapture& logs) {
  std::vector<json::object> lines;
  for (auto& line : logs.json_lines()) {
    if (line.contains("_aws")) lines.push_back(line);
  }
  return lines;
}

TEST(Metrics, LinesHaveThePowertoolsShapeAndNamespace) {
  tests::LogCapture logs;
  auto function = tests::echo_function();
  function.environment["POWERTOOLS_METRICS_NAMESPACE"] = "LogArchive";
  function.environment["POWERTOOLS_SERVICE_NAME"] = "aggregator";
  devtools::SandboxOptions options;
  options.log_fd = logs.fd();
  {
    devtools::Sandbox sandbox(function, options);
    ASSERT_TRUE(sandbox
                    .invoke(R"({"metrics":[{"name":"FilesCombined","unit":"Count","value":3},)"
                            R"({"name":"BytesCombined","unit":"Bytes","value":1024},)"
                            R"({"name":"FilesCombined","unit":"Count","value":4}]})")
                    .ok);
    ASSERT_TRUE(sandbox.invoke("{}").ok);
  }
  const auto lines = emf_lines(logs);
  ASSERT_EQ(lines.size(), 1u) << "one line per invocation that recorded metrics, none otherwise";
  const auto& line = lines[0];
  const auto example = powertools_example();
  std::set<std::string> example_metric_names;
  for (const auto& metric :
       example.at("_aws").at("CloudWatchMetrics").at(0).at("Metrics").as_array()) {
    example_metric_names.emplace(metric.at("Name").as_string());
  }
  ASSERT_EQ(example_metric_names.size(), 1u);
  expect_same_shape(line, example, "emf", example_metric_names);
  const auto& directive = line.at("_aws").at("CloudWatchMetrics").as_array()[0].as_object();
  EXPECT_EQ(directive.at("Namespace").as_string(), "LogArchive");
  EXPECT_EQ(json::serialize(directive.at("Dimensions")), R"([["service"]])");
  EXPECT_EQ(json::serialize(directive.at("Metrics")),
            R"([{"Name":"FilesCombined","Unit":"Count"},{"Name":"BytesCombined","Unit":"Bytes"}])");
  EXPECT_EQ(line.at("service").as_string(), "aggregator");
  EXPECT_EQ(line.at("FilesCombined").as_int64(), 7) << "values under one name are summed";
  EXPECT_EQ(line.at("BytesCombined").as_int64(), 1024);
  EXPECT_TRUE(line.at("_aws").at("Timestamp").is_int64());
}

TEST(Metrics, AtMostOneHundredMetricsPerLine) {
  for (int i = 0; i < 150; ++i) {
    runtime::metrics::add("Metric" + std::to_string(i), runtime::metrics::Unit::Count, i);
  }
  const auto lines = runtime::metrics::take_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(
      lines[0].at("_aws").at("CloudWatchMetrics").as_array()[0].at("Metrics").as_array().size(),
      100u);
  EXPECT_EQ(
      lines[1].at("_aws").at("CloudWatchMetrics").as_array()[0].at("Metrics").as_array().size(),
      50u);
  EXPECT_EQ(lines[1].at("Metric149").as_int64(), 149);
  EXPECT_TRUE(runtime::metrics::take_lines().empty()) << "taking the lines clears them";
}

TEST(Metrics, FractionalValuesStayFractional) {
  runtime::metrics::add("Latency", runtime::metrics::Unit::Milliseconds, 1.5);
  const auto lines = runtime::metrics::take_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_DOUBLE_EQ(lines[0].at("Latency").as_double(), 1.5);
}

}  // namespace

// Lambda's log-level filter as its documentation states it: a JSON line's "level" decides, and a
// line whose level is missing or not a level name counts as INFO.
bool lambda_keeps(const json::object& line, runtime::log::Level threshold) {
  runtime::log::Level level = runtime::log::Level::Info;
  if (const auto* named = line.if_contains("level"); named != nullptr && named->is_string()) {
    if (!runtime::log::parse_level(named->as_string(), level)) level = runtime::log::Level::Info;
  }
  return level >= threshold;
}

// An operator who sets LogLevel to WARN or ERROR to quieten the logs keeps the metrics (the
// dashboard and OriginalsNotDeletedAlarm read them): Lambda would drop a level-less EMF line.
TEST(Metrics, LinesSurviveLambdasFilterAtEveryApplicationLogLevel) {
  for (const char* level : {"DEBUG", "INFO", "WARN", "ERROR", "FATAL"}) {
    tests::LogCapture logs;
    auto function = tests::echo_function();
    function.log_format = "JSON";
    function.log_level = level;
    devtools::SandboxOptions options;
    options.log_fd = logs.fd();
    {
      devtools::Sandbox sandbox(function, options);
      ASSERT_TRUE(
          sandbox.invoke(R"({"metrics":[{"name":"FilesCombined","unit":"Count","value":3}]})").ok);
    }
    const auto lines = emf_lines(logs);
    ASSERT_EQ(lines.size(), 1u) << level;
    runtime::log::Level threshold{};
    ASSERT_TRUE(runtime::log::parse_level(level, threshold));
    EXPECT_TRUE(lambda_keeps(lines[0], threshold)) << level << ": " << json::serialize(lines[0]);
    EXPECT_EQ(lines[0].at("FilesCombined").as_int64(), 3);
  }
}
