// The Amplify export as the template wires it, on the local stack: the weekly schedule fired as
// EventBridge Scheduler fires it starts process_amplify_logs, which plans from the configuration
// in Parameter Store and exports two apps through tools/moto-local's GenerateAccessLogs stand-in:
// one in this account, one in another (read as the export's role there) whose ranges Amplify
// refuses until they are halved twice. Every hour of the week is stored once, in one object per
// app where the amplify_logs table projects it, and a run again replaces rather than adds.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

constexpr std::int64_t kWeekStart = 1794787200;  // 2026-11-16T00:00:00Z
constexpr std::int64_t kHour = 3600;

class AmplifyExport : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<tests::LocalStack>("--parameter AmplifyApps=/amplify/apps");
    register_app("123456789012", "d1shop", 14 * 24 * kHour);
    register_app("222222222222", "d2blog", 2 * 24 * kHour);  // 7 days -> 3.5 -> 1.75
    const json::array apps{json::object{{"appId", "d1shop"},
                                        {"domainName", "www.example.com"},
                                        {"appName", "shop"},
                                        {"region", "eu-west-1"},
                                        {"accountId", "123456789012"}},
                           json::object{{"appId", "d2blog"},
                                        {"domainName", "www.example.com"},
                                        {"appName", "blog"},
                                        {"region", "eu-west-1"},
                                        {"accountId", "222222222222"}}};
    std::ofstream(dir_.path() / "apps.json") << json::serialize(json::object{{"apps", apps}});
    const auto put = aws("ssm put-parameter --name /amplify/apps --type String --value file://" +
                         (dir_.path() / "apps.json").string());
    ASSERT_EQ(put.exit_code, 0) << put.err;
    destination_ = stack_->resource("DestinationBucket");
  }

  tests::CommandResult aws(const std::string& arguments) {
    return tests::aws_cli(stack_->moto(), arguments);
  }

  void register_app(const std::string& account, const std::string& id, std::int64_t max_range) {
    ASSERT_TRUE(tests::register_amplify_app(stack_->moto(), {{"accountId", account},
                                                             {"region", "eu-west-1"},
                                                             {"appId", id},
                                                             {"domainName", "www.example.com"},
                                                             {"maxRangeSeconds", max_range}}));
  }

  // How many ranges the stand-in was asked for, by app id.
  std::map<std::string, std::size_t> requests() {
    std::map<std::string, std::size_t> counts;
    for (const auto& [id, ranges] : tests::amplify_requests(stack_->moto()))
      counts[id] = ranges.size();
    return counts;
  }

  std::set<std::string> keys() { return tests::cli_keys(stack_->moto(), destination_); }

  // Each hour's request in the object, counted; `headers` counts the header lines.
  std::map<std::int64_t, int> rows(const std::string& key, int& headers) {
    const auto copied = aws("s3 cp 's3://" + destination_ + "/" + key + "' " +
                            (dir_.path() / "object.csv").string());
    EXPECT_EQ(copied.exit_code, 0) << copied.err;
    std::ifstream in(dir_.path() / "object.csv");
    std::map<std::int64_t, int> counted;
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("date,time,")) {
        ++headers;
      } else if (const auto page = line.find("/page/"); page != std::string::npos) {
        ++counted[std::stoll(line.substr(page + 6))];
      } else {
        ADD_FAILURE() << "not a request: " << line.substr(0, 40);
      }
    }
    return counted;
  }

  void expect_the_week_once(const std::string& key) {
    int headers = 0;
    const auto counted = rows(key, headers);
    EXPECT_EQ(headers, 1) << key;
    ASSERT_EQ(counted.size(), 7u * 24u) << key;
    EXPECT_EQ(counted.begin()->first, kWeekStart) << key;
    EXPECT_EQ(counted.rbegin()->first, kWeekStart + 7 * 24 * kHour - kHour) << key;
    for (const auto& [time, count] : counted) EXPECT_EQ(count, 1) << key << " at " << time;
  }

  tests::TempDir dir_;
  std::unique_ptr<tests::LocalStack> stack_;
  std::string destination_;
};

TEST_F(AmplifyExport, TheWeeklyRunStoresEveryHourOfTwoAppsOnceOneOfThemThroughHalvedRanges) {
  const auto fired = tests::run_command(tests::source_path("tools/local-stack").string() +
                                        " --state-dir " + stack_->state_directory().string() +
                                        " --fire Weekly@2026-11-23T03:00:00Z");
  ASSERT_EQ(fired.exit_code, 0) << fired.err;
  const auto execution = stack_->wait_for(fired.out.substr(0, fired.out.find('\n')));
  ASSERT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
  EXPECT_EQ(json::parse(std::string(execution.at("output").as_string())),
            json::parse(R"({"from":"2026-11-16T00:00:00Z","to":"2026-11-23T00:00:00Z","apps":2})"));

  const std::string folder = "aggregated/type=amplify_logs/app=";
  const std::string shop = folder + "shop/date_export=2026-11-16/log_20261116_000000";
  const std::string blog = folder + "blog/date_export=2026-11-16/log_20261116_000000";
  ASSERT_EQ(keys(), (std::set<std::string>{blog, shop}));
  expect_the_week_once(shop);
  expect_the_week_once(blog);
  EXPECT_EQ(requests(), (std::map<std::string, std::size_t>{{"d1shop", 1}, {"d2blog", 7}}))
      << "blog: the week and its halves refused, four quarters served";

  // Where the table reads an app's export day is where the object is.
  const auto table = json::parse(aws("glue get-table --database-name " +
                                     stack_->resource("GlueDatabase") + " --name amplify_logs")
                                     .out)
                         .at("Table");
  std::string location(table.at("Parameters").at("storage.location.template").as_string());
  location.replace(location.find("${app}"), 6, "blog");
  location.replace(location.find("${date_export}"), 14, "2026-11-16");
  EXPECT_EQ(location, "s3://" + destination_ + "/" + blog.substr(0, blog.rfind('/') + 1));
  // Without a Control Tower bucket, its tables and questions are not made.
  const auto tables = aws("glue get-tables --database-name " + stack_->resource("GlueDatabase") +
                          " --query 'sort(TableList[].Name)' --output text");
  EXPECT_EQ(tables.out, "amplify_logs\tother_logs\n");
  const auto queries = aws("athena list-named-queries --work-group " +
                           stack_->resource("QueryWorkGroup") + " --query 'length(NamedQueryIds)'");
  EXPECT_EQ(queries.out, "5\n") << "the four Amplify questions and one bucket's lines on a day";

  // An operator's run of the same week replaces the objects: no hour twice, no third object.
  const auto again = aws("stepfunctions start-execution --state-machine-arn " +
                         stack_->state_machine("ProcessAmplifyLogsStateMachine") +
                         " --input '{\"from\": \"2026-11-16T00:00:00Z\", \"to\": "
                         "\"2026-11-23T00:00:00Z\"}'");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto rerun =
      stack_->wait_for(std::string(json::parse(again.out).at("executionArn").as_string()));
  ASSERT_EQ(rerun.at("status").as_string(), "SUCCEEDED") << json::serialize(rerun);
  EXPECT_EQ(keys(), (std::set<std::string>{blog, shop}));
  expect_the_week_once(blog);

  // The function's log names apps and keys, never a request.
  const std::string logged = stack_->function_log("AmplifyLogExporterFunction");
  EXPECT_NE(logged.find("exported an Amplify chunk"), std::string::npos);
  EXPECT_EQ(logged.find("/page/"), std::string::npos) << "a log line in the function's log";
}

TEST_F(AmplifyExport, ABadConfigurationFailsThePlanBeforeAmplifyIsAsked) {
  std::ofstream(dir_.path() / "bad.json")
      << R"({"apps": [{"appId": "d1shop", "domainName": "www.example.com", "appName": "shop",)"
      << R"( "region": "eu-west-1", "accountId": "123456789012", "AppName": "typo"}]})";
  ASSERT_EQ(aws("ssm put-parameter --overwrite --name /amplify/apps --type String --value file://" +
                (dir_.path() / "bad.json").string())
                .exit_code,
            0);
  const auto started = aws("stepfunctions start-execution --state-machine-arn " +
                           stack_->state_machine("ProcessAmplifyLogsStateMachine") +
                           " --input '{\"time\": \"2026-11-23T03:00:00Z\"}'");
  ASSERT_EQ(started.exit_code, 0) << started.err;
  const auto execution =
      stack_->wait_for(std::string(json::parse(started.out).at("executionArn").as_string()));
  EXPECT_EQ(execution.at("status").as_string(), "FAILED");
  EXPECT_EQ(execution.at("error").as_string(), "InvalidInput");
  EXPECT_NE(std::string(execution.at("cause").as_string()).find("unknown field \\\"AppName\\\""),
            std::string::npos)
      << json::serialize(execution);
  EXPECT_TRUE(keys().empty());
  EXPECT_EQ(requests(), (std::map<std::string, std::size_t>{{"d1shop", 0}, {"d2blog", 0}}));
}

}  // namespace
