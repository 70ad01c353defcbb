// The daily aggregation end to end: template.yaml brought up locally (moto + lambda-local), the
// real aggregate_daily definition executed by moto's Step Functions, results checked with the aws
// CLI and the system's gzip.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <thread>

#include "common/gzip.h"
#include "common/s3.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

class DailyAggregation : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string command =
        "exec " + tests::source_path("tools/local-stack").string() + " --state-dir " +
        state_.path().string() +
        " --parameter ControlTowerBucket=e2e-ct --parameter OrganizationId=o-e2etest001"
        " --parameter OtherBuckets=e2e-other --parameter DelayWindowSeconds=0"
        " --parameter CrawlerMode=crawler --parameter CrawlerNames=e2e-crawler" +
        (faults() > 0 ? " --faults " + std::to_string(faults()) : std::string()) + " 2>&1";
    stack_ = std::make_unique<tests::BackgroundProcess>(command, "local stack ready");
    const std::string& line = stack_->ready_line();
    info_ = json::parse(line.substr(line.find('{'))).as_object();
    moto_.endpoint = std::string(info_.at("endpoint").as_string());
    moto_.credentials = {"testing", "testing", ""};
    s3_ = std::make_unique<common::S3Client>(tests::moto_options(moto_));
    destination_ = std::string(info_.at("resources").at("DestinationBucket").as_string());
    work_ = std::string(info_.at("resources").at("WorkBucket").as_string());
  }

  json::object run(const std::string& name, const std::string& input) {
    const std::string machine(
        info_.at("state_machines").at("AggregateDailyStateMachine").as_string());
    const auto started =
        tests::aws_cli(moto_, "stepfunctions start-execution --state-machine-arn " + machine +
                                  " --name " + name + " --input '" + input + "'");
    EXPECT_EQ(started.exit_code, 0) << started.err;
    const std::string arn(json::parse(started.out).at("executionArn").as_string());
    json::object description;
    for (int i = 0; i < 300; ++i) {
      description =
          json::parse(
              tests::aws_cli(moto_, "stepfunctions describe-execution --execution-arn " + arn).out)
              .as_object();
      if (description.at("status").as_string() != "RUNNING") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return description;
  }

  std::string fetch(const std::string& bucket, const std::string& key) {
    tests::TempDir dir;
    const auto path = (dir.path() / "object").string();
    EXPECT_EQ(tests::aws_cli(moto_, "s3 cp 's3://" + bucket + "/" + key + "' " + path).exit_code,
              0);
    return tests::run_command((key.ends_with(".gz") ? "gzip -dc " : "cat ") + path).out;
  }

  // Seeds both buckets, runs the day and checks everything the daily aggregation promises.
  void run_day_and_check(const std::string& execution_name) {
    const auto seeded =
        tests::run_command(tests::source_path("tools/seed-logs").string() + " --endpoint " +
                           moto_.endpoint + " --bucket e2e-ct --organization o-e2etest001" +
                           " --date 2026-03-05 --files 6 --versioned");
    ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
    ASSERT_EQ(tests::aws_cli(moto_, "s3api create-bucket --bucket e2e-other").exit_code, 0);
    std::map<std::string, std::string> other = {
        {"alb/2026-03-05/a.log", "alb line 1\nalb line 2\n"},
        {"app/2026-3-5/no-final-newline.log", "app line 1\napp line 2"},
        {"app/2026-3-5/not-really.gz", "plain text in a .gz name\n"},
        {"app/2026-3-5/real.json.gz", common::gzip("{\"Records\":[]}")},
        {"flow/20260305/x.log", "flow\n"},
        {"alb/2026-03-04/yesterday.log", "not today\n"}};
    for (const auto& [key, body] : other) s3_->put_object("e2e-other", key, body);
    ASSERT_EQ(tests::aws_cli(
                  moto_,
                  "glue create-crawler --name e2e-crawler --role arn:aws:iam::123456789012:role/g"
                  " --database-name local_gluedatabase --targets "
                  "'{\"S3Targets\":[{\"Path\":\"s3://x\"}]}'")
                  .exit_code,
              0);

    // The day's originals, as they were: what the outputs must hold.
    std::map<std::string, std::string> original_text;
    auto is_today = [](const std::string& key) {
      return key.find("2026/03/05/") != std::string::npos ||
             key.find("2026/3/5/") != std::string::npos ||
             key.find("2026-03-05") != std::string::npos ||
             key.find("2026-3-5") != std::string::npos || key.find("20260305") != std::string::npos;
    };
    for (const std::string bucket : {"e2e-ct", "e2e-other"}) {
      for (const auto& object : s3_->list_all(bucket)) {
        if (!is_today(object.key)) continue;
        const std::string bytes = s3_->get_object(bucket, object.key);
        original_text[object.key] = common::is_gzip(bytes) ? common::gunzip(bytes) : bytes;
      }
    }
    ASSERT_EQ(original_text.size(), 3u * 2u * 8u + 5u);

    const auto execution = run(execution_name, R"({"date":"2026-03-05"})");
    ASSERT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);

    // Every output holds its sources' text in order, each starting on a line of its own.
    std::size_t combined = 0;
    for (const auto& receipt_object :
         s3_->list_all(work_, "work/" + execution_name + "/receipts/")) {
      const auto receipt = json::parse(s3_->get_object(work_, receipt_object.key)).as_object();
      for (const auto& output : receipt.at("outputs").as_array()) {
        const std::string key(output.at("key").as_string());
        std::string expected;
        for (const auto& source : output.at("sources").as_array()) {
          const std::string& text = original_text.at(std::string(source.at("key").as_string()));
          expected += text;
          if (!text.empty() && text.back() != '\n') expected += "\n";
          ++combined;
        }
        EXPECT_EQ(fetch(destination_, key), expected) << key;
      }
    }
    EXPECT_EQ(combined, original_text.size()) << "every file of the day is in exactly one output";

    // The day's originals are gone in every version; the other day is untouched.
    for (const std::string bucket : {"e2e-ct", "e2e-other"}) {
      common::VersionListOptions options;
      s3_->for_each_version_page(bucket, options, [&](common::VersionPage& page) {
        for (const auto& version : page.versions)
          EXPECT_FALSE(is_today(version.key)) << bucket << "/" << version.key;
        return true;
      });
    }
    EXPECT_EQ(s3_->get_object("e2e-other", "alb/2026-03-04/yesterday.log"), "not today\n");
    EXPECT_EQ(s3_->list_all("e2e-ct").size(), 3u * 2u * 8u) << "the day before is all still there";
    EXPECT_TRUE(s3_->list_multipart_uploads(destination_).empty());
    EXPECT_EQ(
        tests::aws_cli(moto_, "glue get-crawler --name e2e-crawler --query Crawler.State").out,
        "\"RUNNING\"\n");
  }

  virtual double faults() const { return 0.0; }

  tests::TempDir state_;
  std::unique_ptr<tests::BackgroundProcess> stack_;
  json::object info_;
  tests::MotoFixture moto_;
  std::unique_ptr<common::S3Client> s3_;
  std::string destination_, work_;
};

TEST_F(DailyAggregation, CombinesTheDayDeletesExactlyItsOriginalsAndStartsTheCrawler) {
  run_day_and_check("e2e-2026-03-05");
}

// The functions reach AWS through the fault proxy: throttling, 500s, resets before and after the
// request was acted on, delays, 200s carrying errors. Same promises, same checks.
class DailyAggregationThroughFaults : public DailyAggregation {
 protected:
  double faults() const override { return 0.1; }
};

TEST_F(DailyAggregationThroughFaults, TenPercentFaultsChangeNothingInTheResult) {
  run_day_and_check("e2e-faults");
  const std::string proxy(info_.at("function_endpoint").as_string());
  const auto stats = json::parse(tests::run_command("curl -s " + proxy + "/fault-proxy/stats").out);
  std::int64_t injected = 0;
  for (const auto& [kind, count] : stats.at("faults").as_object()) {
    if (kind != "none") injected += count.as_int64();
  }
  EXPECT_GT(injected, 20) << "the run really went through faults: " << json::serialize(stats);
}

TEST_F(DailyAggregation, ADayWithNoFilesSucceedsAndChangesNothing) {
  for (const char* bucket : {"e2e-ct", "e2e-other"}) {
    ASSERT_EQ(
        tests::aws_cli(moto_, std::string("s3api create-bucket --bucket ") + bucket).exit_code, 0);
  }
  const auto execution = run("e2e-empty", R"({"date":"2026-01-01"})");
  EXPECT_EQ(std::string(execution.at("status").as_string()), "SUCCEEDED")
      << json::serialize(execution);
  EXPECT_TRUE(s3_->list_all(destination_).empty());
}

TEST_F(DailyAggregation, AConfiguredBucketThatDoesNotExistFailsTheRun) {
  const auto execution = run("e2e-missing", R"({"date":"2026-03-05"})");
  EXPECT_EQ(std::string(execution.at("status").as_string()), "FAILED");
}

TEST_F(DailyAggregation, BadInputFailsWithANamedError) {
  const auto no_day = run("e2e-no-day", R"({"day":"tomorrow"})");
  EXPECT_EQ(no_day.at("status").as_string(), "FAILED");
  const auto bad_day = run("e2e-bad-day", R"({"date":"2026-02-30"})");
  EXPECT_EQ(bad_day.at("status").as_string(), "FAILED");
  EXPECT_TRUE(s3_->list_all(destination_).empty());
}

}  // namespace
