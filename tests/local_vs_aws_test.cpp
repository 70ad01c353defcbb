// What the local stack emulates where moto alone is more lenient than AWS, each shown by the run
// it changes: IAM enforced per function (a role missing one action fails the run), Distributed Map
// failure tolerance, backfills through startExecution.sync:2, EventBridge Scheduler's input, and
// SSE-KMS log buckets. Results are read with the aws CLI, not with our client.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "common/dates.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

constexpr const char* kDay = "2026-03-05";

class OnTheLocalStack : public ::testing::Test {
 protected:
  // Starts the stack from template.yaml, or from a copy of it with `replace` replaced by `with`.
  void start(const std::string& arguments, const std::string& replace = "",
             const std::string& with = "") {
    std::string template_argument;
    if (!replace.empty()) {
      std::ifstream in(tests::source_path("template.yaml"));
      std::string text{std::istreambuf_iterator<char>(in), {}};
      const auto at = text.find(replace);
      ASSERT_NE(at, std::string::npos) << "template.yaml no longer holds: " << replace;
      ASSERT_EQ(text.find(replace, at + 1), std::string::npos) << "not unique: " << replace;
      text.replace(at, replace.size(), with);
      const auto path = templates_.path() / "template.yaml";
      std::ofstream(path) << text;
      template_argument = " --template " + path.string();
    }
    stack_ = std::make_unique<tests::LocalStack>(arguments + template_argument);
    destination_ = stack_->resource("DestinationBucket");
  }

  const tests::MotoFixture& moto() const { return stack_->moto(); }

  json::value aws(const std::string& arguments) {
    const auto result = tests::aws_cli(moto(), arguments + " --output json");
    EXPECT_EQ(result.exit_code, 0) << arguments << ": " << result.err;
    return result.out.empty() ? json::value() : json::parse(result.out);
  }

  void create_bucket(const std::string& bucket) { aws("s3api create-bucket --bucket " + bucket); }

  void put(const std::string& bucket, const std::string& key, const std::string& body) {
    tests::TempDir dir;
    std::ofstream(dir.path() / "body") << body;
    aws("s3api put-object --bucket " + bucket + " --key '" + key + "' --body " +
        (dir.path() / "body").string());
  }

  // The bucket's keys as the aws CLI lists them.
  std::set<std::string> keys(const std::string& bucket) { return tests::cli_keys(moto(), bucket); }

  std::string start_execution(const std::string& machine, const std::string& input) {
    const auto started = aws("stepfunctions start-execution --state-machine-arn " +
                             stack_->state_machine(machine) + " --input '" + input + "'");
    return std::string(started.at("executionArn").as_string());
  }

  json::object run(const std::string& machine, const std::string& input) {
    return stack_->wait_for(start_execution(machine, input));
  }

  // The names of the states the execution left, in order, from its history.
  std::vector<std::string> states_exited(const std::string& execution_arn) {
    std::vector<std::string> names;
    const auto history =
        aws("stepfunctions get-execution-history --execution-arn " + execution_arn);
    for (const auto& event : history.at("events").as_array())
      if (const auto* exited = event.as_object().if_contains("stateExitedEventDetails"))
        names.emplace_back(exited->at("name").as_string());
    return names;
  }

  // Four folders of the day in one bucket: four groups, each with one output.
  std::map<std::string, std::string> seed_four_groups(const std::string& bucket) {
    create_bucket(bucket);
    std::map<std::string, std::string> files;
    for (const char* folder : {"alb", "app", "vpc", "waf"})
      files[std::string(folder) + "/" + kDay + "/a.log"] = std::string(folder) + " line\n";
    for (const auto& [key, body] : files) put(bucket, key, body);
    return files;
  }

  // Bucket ct-logs as Control Tower fills it for organisation o-proj000001 (tools/seed-logs): two
  // CloudTrail files a day per account and region, with their digests and Config files.
  void seed_control_tower(int accounts, const std::string& regions) {
    create_bucket("ct-logs");
    const auto seeded = tests::run_command(
        tests::credentials_env(moto()) + tests::source_path("tools/seed-logs").string() +
        " --endpoint " + moto().endpoint + " --bucket ct-logs --organization o-proj000001 --date " +
        kDay + " --accounts " + std::to_string(accounts) + " --regions " + regions + " --files 2");
    ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  }

  std::string output_prefix(const std::string& bucket, const std::string& folder) {
    return "aggregated/" + bucket + "/date=" + kDay + "/" + tests::output_name(folder);
  }

  // CombineLogFiles' policies, to which a test adds a statement.
  static constexpr const char* kCombinePolicies =
      "        - Statement:\n"
      "            # Plans, progress and receipts; the ledger's records of its outputs. It writes "
      "its\n";

  // A statement refusing CombineLogFiles the writes of one group's outputs, and its policies.
  static std::string deny_outputs_of(const std::string& prefix) {
    return "        - Statement:\n"
           "            - Effect: Deny\n"
           "              Action: s3:PutObject\n"
           "              Resource: !Sub \"${DestinationBucket.Arn}/" +
           prefix + "*\"\n" + kCombinePolicies;
  }

  tests::TempDir templates_;
  std::unique_ptr<tests::LocalStack> stack_;
  std::string destination_;
};

// Lambda and Step Functions would otherwise log to groups nobody made, kept forever.
TEST_F(OnTheLocalStack, EveryFunctionAndStateMachineLogsToAGroupOfItsOwnThatExpires) {
  start("--parameter LogRetentionInDays=14");
  std::map<std::string, std::int64_t> retention;
  const auto groups = aws("logs describe-log-groups");
  for (const auto& group : groups.at("logGroups").as_array()) {
    const auto& object = group.as_object();
    const auto* days = object.if_contains("retentionInDays");
    retention[std::string(object.at("logGroupName").as_string())] =
        days != nullptr ? days->to_number<std::int64_t>() : 0;
  }
  for (const char* function : {"GetFiles", "DetermineOperationType", "CombineLogFiles",
                               "DeleteOriginals", "CrawlerTrigger", "ManifestBuilder"}) {
    EXPECT_EQ(retention[std::string("/aws/lambda/local/") + function], 14) << function;
  }
  for (const char* machine : {"aggregate-daily", "aggregate-history", "process-manifest"}) {
    EXPECT_EQ(retention[std::string("/aws/vendedlogs/states/local-") + machine], 14) << machine;
  }
  EXPECT_EQ(retention.size(), 9u) << "one group per function and state machine, no other";
  // lambda-local tells each function its group (AWS_LAMBDA_LOG_GROUP_NAME), as Lambda does.
  std::ifstream config(stack_->state_directory() / "functions.json");
  const auto functions =
      json::parse(std::string(std::istreambuf_iterator<char>(config), {})).at("functions");
  EXPECT_EQ(functions.at("CombineLogFilesFunction").at("log_group").as_string(),
            "/aws/lambda/local/CombineLogFiles");
  // State machines log errors only, without the execution's data, to their own group.
  const auto machine = aws("stepfunctions describe-state-machine --state-machine-arn " +
                           stack_->state_machine("AggregateDailyStateMachine"));
  const auto& logging = machine.at("loggingConfiguration");
  EXPECT_EQ(logging.at("level").as_string(), "ERROR");
  EXPECT_FALSE(logging.at("includeExecutionData").as_bool());
  EXPECT_EQ(logging.at("destinations").at(0).at("cloudWatchLogsLogGroup").at("logGroupArn"),
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/"
            "local-aggregate-daily:*");
  const auto versioning = aws("s3api get-bucket-versioning --bucket " + destination_);
  EXPECT_EQ(versioning.at("Status").as_string(), "Enabled")
      << "the destination is versioned, as the template makes it on AWS";
}

TEST_F(OnTheLocalStack, ARoleMissingOneActionItsCallsNeedFailsTheRunWithAccessDenied) {
  // CombineLogFiles lists the destination's open uploads before every output.
  start("--parameter OtherBuckets=iam-logs --parameter DelayWindowSeconds=0",
        "              Action: s3:ListBucketMultipartUploads\n",
        "              Action: s3:GetBucketLocation\n");
  const auto files = seed_four_groups("iam-logs");

  const auto execution = run("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");

  EXPECT_EQ(execution.at("status").as_string(), "FAILED") << json::serialize(execution);
  EXPECT_EQ(execution.at("error").as_string(), "GroupsFailed");
  const std::string log = stack_->function_log("CombineLogFilesFunction");
  EXPECT_NE(log.find("AccessDenied"), std::string::npos) << log;
  std::set<std::string> originals;
  for (const auto& [key, body] : files) originals.insert(key);
  EXPECT_EQ(keys("iam-logs"), originals) << "nothing is deleted";
  EXPECT_TRUE(keys(destination_).empty());
}

// A group of up to ShortGroupMaxFiles files runs in an Express child execution, a larger one in
// a Standard child: the two Map Runs of one day share the groups between them, and each group is
// combined and cleaned up the same way.
TEST_F(OnTheLocalStack, ShortGroupsRunAsExpressChildrenAndLongOnesAsStandard) {
  start(
      "--parameter OtherBuckets=sized-logs --parameter DelayWindowSeconds=0"
      " --parameter ShortGroupMaxFiles=1");
  auto files = seed_four_groups("sized-logs");
  const std::string second = std::string("app/") + kDay + "/b.log";
  put("sized-logs", second, "app second line\n");

  const std::string arn = start_execution("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");
  const auto execution = stack_->wait_for(arn);

  ASSERT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
  EXPECT_TRUE(keys("sized-logs").empty()) << "every original is combined and deleted";
  std::set<std::string> expected;
  for (const char* folder : {"alb", "app", "vpc", "waf"})
    expected.insert(output_prefix("sized-logs", std::string(folder) + "/" + kDay + "/") +
                    "-0001.log");
  EXPECT_EQ(keys(destination_), expected);

  std::map<std::string, int> succeeded;  // Map Run label -> its children that succeeded
  const auto runs = aws("stepfunctions list-map-runs --execution-arn " + arn);
  for (const auto& listed : runs.at("mapRuns").as_array()) {
    const std::string run_arn(listed.at("mapRunArn").as_string());
    const auto map_run = aws("stepfunctions describe-map-run --map-run-arn " + run_arn);
    const std::string label = run_arn.substr(run_arn.find('/') + 1);
    succeeded[label.substr(0, label.find(':'))] =
        map_run.at("itemCounts").at("succeeded").to_number<int>();
  }
  EXPECT_EQ(succeeded, (std::map<std::string, int>{{"long-groups", 1}, {"short-groups", 3}}))
      << json::serialize(runs);
  const auto machine = aws("stepfunctions describe-state-machine --state-machine-arn " +
                           stack_->resource("AggregateDailyStateMachine"));
  EXPECT_NE(std::string(machine.at("definition").as_string()).find(R"("ExecutionType": "EXPRESS")"),
            std::string::npos)
      << "the definition deployed is the template's, Express children and all";
}

TEST_F(OnTheLocalStack, OriginalsItMayNotDeleteAreReportedAndTheRestDeleted) {
  // A bucket policy or an object lock refuses some deletes in an organisation's log archive.
  start("--parameter OtherBuckets=kept-logs --parameter DelayWindowSeconds=0",
        "        LogGroup: !Ref DeleteOriginalsLogGroup\n      Environment:\n        Variables:\n"
        "          SEAL_KEY_ID: !GetAtt SealKey.Arn\n      Policies:\n",
        "        LogGroup: !Ref DeleteOriginalsLogGroup\n      Environment:\n        Variables:\n"
        "          SEAL_KEY_ID: !GetAtt SealKey.Arn\n      Policies:\n"
        "        - Statement:\n"
        "            - Effect: Deny\n"
        "              Action: [s3:DeleteObject, s3:DeleteObjectVersion]\n"
        "              Resource: arn:aws:s3:::kept-logs/app/*\n");
  seed_four_groups("kept-logs");

  const auto execution = run("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");

  EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
  EXPECT_EQ(keys("kept-logs"), std::set<std::string>{std::string("app/") + kDay + "/a.log"});
  EXPECT_EQ(keys(destination_).size(), 4u) << "every group was combined";
  const std::string log = stack_->function_log("DeleteOriginalsFunction");
  EXPECT_NE(log.find(R"("OriginalsNotDeleted":1)"), std::string::npos) << log;
  std::size_t failure_files = 0;
  for (const auto& key : tests::cli_keys(moto(), stack_->resource("WorkBucket"), "work/"))
    failure_files += key.find("/delete-failures/") != std::string::npos;
  EXPECT_EQ(failure_files, 1u) << "the keys it could not delete are written down";
}

TEST_F(OnTheLocalStack, AFailedGroupWithinToleranceIsReportedAndTheOthersComplete) {
  const std::string failing = output_prefix("tolerant-logs", std::string("app/") + kDay + "/");
  start(
      "--parameter OtherBuckets=tolerant-logs --parameter DelayWindowSeconds=0"
      " --parameter ToleratedFailedGroupsPercentage=50",
      kCombinePolicies, deny_outputs_of(failing));
  const auto files = seed_four_groups("tolerant-logs");

  const std::string arn = start_execution("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");
  const auto execution = stack_->wait_for(arn);

  EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
  EXPECT_EQ(keys("tolerant-logs"), std::set<std::string>{std::string("app/") + kDay + "/a.log"})
      << "the failed group's original is kept, the others' are deleted";
  std::set<std::string> expected;
  for (const char* folder : {"alb", "vpc", "waf"})
    expected.insert(output_prefix("tolerant-logs", std::string(folder) + "/" + kDay + "/") +
                    "-0001.log");
  EXPECT_EQ(keys(destination_), expected);
  const auto runs = aws("stepfunctions list-map-runs --execution-arn " + arn);
  ASSERT_EQ(runs.at("mapRuns").as_array().size(), 1u);
  const auto map_run = aws("stepfunctions describe-map-run --map-run-arn " +
                           std::string(runs.at("mapRuns").at(0).at("mapRunArn").as_string()));
  EXPECT_EQ(map_run.at("itemCounts").at("failed").to_number<int>(), 1) << json::serialize(map_run);
  EXPECT_EQ(map_run.at("itemCounts").at("succeeded").to_number<int>(), 3);
}

TEST_F(OnTheLocalStack, FailedGroupsBeyondToleranceFailTheRunAfterRegisteringWhatCompleted) {
  const std::string failing = output_prefix("strict-logs", std::string("app/") + kDay + "/");
  // The default tolerance (10 %) is less than one group in four.
  start("--parameter OtherBuckets=strict-logs --parameter DelayWindowSeconds=0", kCombinePolicies,
        deny_outputs_of(failing));
  seed_four_groups("strict-logs");

  const std::string arn = start_execution("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");
  const auto execution = stack_->wait_for(arn);

  EXPECT_EQ(execution.at("status").as_string(), "FAILED") << json::serialize(execution);
  EXPECT_EQ(execution.at("error").as_string(), "GroupsFailed");
  EXPECT_TRUE(keys("strict-logs").count(std::string("app/") + kDay + "/a.log"))
      << "the failed group's original is kept";
  const auto exited = states_exited(arn);
  EXPECT_NE(std::find(exited.begin(), exited.end(), "Register what completed"), exited.end())
      << "the groups that completed are registered before the run fails";
}

TEST_F(OnTheLocalStack, ABackfillRunsEveryDayAndReportsTheOneThatFailed) {
  const std::string bucket = "backfill-logs";
  start("--parameter OtherBuckets=" + bucket + " --parameter DelayWindowSeconds=0",
        kCombinePolicies, deny_outputs_of("aggregated/" + bucket + "/date=2026-03-05/"));
  create_bucket(bucket);
  for (const char* day : {"2026-03-04", "2026-03-05", "2026-03-06"})
    put(bucket, std::string("alb/") + day + "/a.log", std::string(day) + "\n");

  const std::string arn = start_execution("AggregateHistoryStateMachine",
                                          R"({"start_date":"2026-03-04","end_date":"2026-03-06"})");
  const auto execution = stack_->wait_for(arn);

  EXPECT_EQ(execution.at("status").as_string(), "FAILED") << json::serialize(execution);
  EXPECT_EQ(execution.at("error").as_string(), "DaysFailed");
  EXPECT_EQ(keys(bucket), std::set<std::string>{"alb/2026-03-05/a.log"});
  EXPECT_EQ(keys(destination_),
            (std::set<std::string>{"aggregated/" + bucket + "/date=2026-03-04/" +
                                       tests::output_name("alb/2026-03-04/") + "-0001.log",
                                   "aggregated/" + bucket + "/date=2026-03-06/" +
                                       tests::output_name("alb/2026-03-06/") + "-0001.log"}));

  const auto progress = tests::run_command(tests::credentials_env(moto()) +
                                           tests::source_path("tools/backfill-progress").string() +
                                           " --endpoint " + moto().endpoint + " --json " + arn);
  EXPECT_EQ(progress.exit_code, 1) << "a failed day is a failure: " << progress.err;
  const auto report = json::parse(progress.out);
  EXPECT_EQ(json::serialize(report.at("counts")),
            R"({"done":2,"failed":1,"running":0,"not started":0})");
  const auto& failed_day = report.at("days").at("2026-03-05");
  EXPECT_EQ(failed_day.at("state").as_string(), "failed");
  EXPECT_EQ(failed_day.at("error").as_string(), "GroupsFailed");
  EXPECT_NE(std::string(failed_day.at("rerun").as_string())
                .find(R"('{"date": "2026-03-05", "buckets": ["backfill-logs"]}')"),
            std::string::npos)
      << failed_day.at("rerun");
  const auto text = tests::run_command(tests::credentials_env(moto()) +
                                       tests::source_path("tools/backfill-progress").string() +
                                       " --endpoint " + moto().endpoint + " " + arn);
  EXPECT_NE(text.out.find("3 days: 2 done, 1 failed, 0 running, 0 not started"), std::string::npos)
      << text.out;
}

TEST_F(OnTheLocalStack, TheNightlyScheduleFiredAsSchedulerFiresItAggregatesTheDayBefore) {
  start("--parameter OtherBuckets=nightly-logs --parameter DelayWindowSeconds=0");
  create_bucket("nightly-logs");
  put("nightly-logs", "alb/2026-03-05/a.log", "the day before\n");
  put("nightly-logs", "alb/2026-03-06/a.log", "the day itself\n");

  const auto fired = tests::run_command(tests::source_path("tools/local-stack").string() +
                                        " --state-dir " + stack_->state_directory().string() +
                                        " --fire Nightly@2026-03-06T01:00:00Z");
  ASSERT_EQ(fired.exit_code, 0) << fired.err;
  const std::string arn = fired.out.substr(0, fired.out.find('\n'));
  const auto execution = stack_->wait_for(arn);

  EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
  EXPECT_EQ(json::parse(std::string(execution.at("input").as_string())),
            json::parse(R"({"time":"2026-03-06T01:00:00Z"})"))
      << "Scheduler's input, its context attribute replaced";
  EXPECT_EQ(keys(destination_),
            std::set<std::string>{"aggregated/nightly-logs/date=2026-03-05/" +
                                  tests::output_name("alb/2026-03-05/") + "-0001.log"});
  EXPECT_EQ(keys("nightly-logs"), std::set<std::string>{"alb/2026-03-06/a.log"});
}

TEST_F(OnTheLocalStack, LogBucketsUnderSseKmsAreReadWithTheKeyTheStackIsGiven) {
  const std::string granted = "arn:aws:kms:us-east-1:123456789012:key/1b2e5f7a-granted-key";
  const std::string other = "arn:aws:kms:us-east-1:123456789012:key/9c8d7e6f-other-key";
  start(
      "--parameter OtherBuckets=kms-logs,other-kms-logs --parameter DelayWindowSeconds=0"
      " --parameter LogsKmsKeyArn=" +
      granted);
  for (const auto& [bucket, key] :
       std::map<std::string, std::string>{{"kms-logs", granted}, {"other-kms-logs", other}}) {
    create_bucket(bucket);
    aws("s3api put-bucket-encryption --bucket " + bucket +
        " --server-side-encryption-configuration "
        "'{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":"
        "{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"" +
        key + "\"}}]}'");
    put(bucket, "alb/2026-03-05/a.log", bucket + " line\n");
  }

  run("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");

  EXPECT_TRUE(keys("kms-logs").empty()) << "combined with the stack's key, then deleted";
  EXPECT_EQ(keys("other-kms-logs"), std::set<std::string>{"alb/2026-03-05/a.log"})
      << "a key the stack was not given: the original stays";
  EXPECT_EQ(keys(destination_),
            std::set<std::string>{"aggregated/kms-logs/date=2026-03-05/" +
                                  tests::output_name("alb/2026-03-05/") + "-0001.log"});
  // Refused for want of the key: the group fails naming it, rather than leave the file out of
  // its output unseen (an AccessDenied is the role's, never the original's).
  const std::string log = stack_->function_log("CombineLogFilesFunction");
  EXPECT_NE(log.find(R"("errorType":"AwsError","errorMessage":"AccessDenied)"), std::string::npos)
      << log;
  EXPECT_EQ(log.find(R"("group":"other-kms-logs/alb/2026-03-05/")"), std::string::npos)
      << "nothing of the refused group was combined:\n"
      << log;
}

// BucketsEncryption SSE-KMS with OutputRetentionDays: the day's output is under the key the stack
// made (with an S3 Bucket Key) and under governance retention for a day, the work files under the
// same key, and the Athena results encrypted with it; the originals are still verified and deleted
// (each role uses the key through S3). An insider allowed every S3 action on the destination
// deletes no version of the output: S3's Object Lock refuses it, whatever IAM grants. (The bucket
// policy that keeps s3:BypassGovernanceRetention from them is AWS's to enforce: see the README.)
TEST_F(OnTheLocalStack, OutputsUnderTheStacksKeyAndRetentionOutliveAnInsider) {
  start(
      "--parameter OtherBuckets=locked-logs --parameter DelayWindowSeconds=0"
      " --parameter BucketsEncryption=SSE-KMS --parameter OutputRetentionDays=1");
  create_bucket("locked-logs");
  put("locked-logs", "alb/2026-03-05/a.log", "locked line\n");
  const auto uploaded = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());

  const auto done = run("AggregateDailyStateMachine", R"({"date":"2026-03-05"})");
  ASSERT_EQ(done.at("status").as_string(), "SUCCEEDED") << json::serialize(done);
  EXPECT_TRUE(keys("locked-logs").empty()) << "verified under the stack's key, then deleted";

  std::string key_arn = stack_->resource("BucketsKey");
  if (!key_arn.starts_with("arn:")) key_arn = "arn:aws:kms:us-east-1:123456789012:key/" + key_arn;
  const auto versions = aws("s3api list-object-versions --bucket " + destination_);
  ASSERT_EQ(versions.at("Versions").as_array().size(), 1u) << json::serialize(versions);
  const std::string output(versions.at("Versions").at(0).at("Key").as_string());
  const std::string version(versions.at("Versions").at(0).at("VersionId").as_string());
  const auto head = aws("s3api head-object --bucket " + destination_ + " --key '" + output +
                        "' --version-id " + version);
  EXPECT_EQ(head.at("ServerSideEncryption"), "aws:kms") << json::serialize(head);
  EXPECT_EQ(head.at("SSEKMSKeyId").as_string(), key_arn);
  EXPECT_EQ(head.at("BucketKeyEnabled"), true);
  EXPECT_EQ(head.at("ObjectLockMode"), "GOVERNANCE");
  // A day from the upload: between a day from before the run and a day from now.
  const std::string until(head.at("ObjectLockRetainUntilDate").as_string());
  const auto day_after = [](std::chrono::sys_seconds time) {
    return common::format_utc_seconds(time + std::chrono::days(1)).substr(0, 19);
  };
  EXPECT_GE(until.substr(0, 19), day_after(uploaded)) << until;
  EXPECT_LE(until.substr(0, 19),
            day_after(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())))
      << until;

  const std::string work = stack_->resource("WorkBucket");
  const auto ledger = keys(work);
  const auto record = std::find_if(ledger.begin(), ledger.end(), [](const std::string& key) {
    return key.starts_with("ledger/");
  });
  ASSERT_NE(record, ledger.end());
  const auto work_head = aws("s3api head-object --bucket " + work + " --key '" + *record + "'");
  EXPECT_EQ(work_head.at("ServerSideEncryption"), "aws:kms");
  EXPECT_EQ(work_head.at("SSEKMSKeyId").as_string(), key_arn);
  const auto group =
      aws("athena get-work-group --work-group " + stack_->resource("QueryWorkGroup"));
  const auto& results = group.at("WorkGroup").at("Configuration").at("ResultConfiguration");
  EXPECT_EQ(results.at("EncryptionConfiguration").at("EncryptionOption"), "SSE_KMS");
  EXPECT_EQ(results.at("EncryptionConfiguration").at("KmsKey").as_string(), key_arn);

  const auto insider =
      tests::user_allowed(moto(), "insider", "s3:*", "arn:aws:s3:::" + destination_ + "*");
  const auto deleted =
      tests::aws_cli(insider, "s3api delete-object --bucket " + destination_ + " --key '" + output +
                                  "' --version-id " + version);
  EXPECT_NE(deleted.exit_code, 0);
  EXPECT_NE(deleted.err.find("AccessDenied"), std::string::npos) << deleted.err;
  const auto after = aws("s3api list-object-versions --bucket " + destination_);
  ASSERT_EQ(after.at("Versions").as_array().size(), 1u) << json::serialize(after);
  EXPECT_EQ(after.at("Versions").at(0).at("VersionId").as_string(), version);
}

// Projection mode (the default): the stack's Glue tables project the folders a daily run writes,
// so Athena finds a new day with nothing registered. Each output of a Control Tower day and of
// another bucket's day lies where its table's storage.location.template puts the partition values
// its key carries, each value within the table's projection; CloudTrail-Digest has no table; the
// saved queries are in the stack's workgroup and read tables that exist.
TEST_F(OnTheLocalStack, TheTablesProjectTheFoldersADailyRunWrites) {
  start(
      "--parameter ControlTowerBucket=ct-logs --parameter OrganizationId=o-proj000001"
      " --parameter OtherBuckets=app-logs --parameter DelayWindowSeconds=0");
  ASSERT_NO_FATAL_FAILURE(seed_control_tower(2, "eu-west-1,us-east-1"));
  seed_four_groups("app-logs");
  const auto execution =
      run("AggregateDailyStateMachine", std::string(R"({"date": ")") + kDay + R"("})");
  ASSERT_EQ(execution.at("status"), "SUCCEEDED") << json::serialize(execution);

  const std::string database = stack_->resource("GlueDatabase");
  const auto listed = aws("glue get-tables --database-name " + database);
  std::map<std::string, json::object> tables;
  for (const auto& table : listed.at("TableList").as_array())
    tables[std::string(table.at("Name").as_string())] = table.as_object();
  ASSERT_EQ(tables.size(), 3u) << json::serialize(listed);
  const std::map<std::string, std::string> table_of_folder{
      {"CloudTrail", "cloudtrail"}, {"Config", "config"}, {"app-logs", "other_logs"}};

  std::map<std::string, int> outputs_per_table;
  for (const auto& key : keys(destination_)) {
    const std::string rest = key.substr(std::string("aggregated/").size());
    const std::string folder = rest.substr(0, rest.find('/'));
    if (folder == "CloudTrail-Digest") continue;
    ASSERT_TRUE(table_of_folder.contains(folder)) << key;
    const auto& table = tables.at(table_of_folder.at(folder));
    const auto& parameters = table.at("Parameters").as_object();
    // The partition values the key carries: its key=value folders, and the bucket's folder.
    std::map<std::string, std::string> values;
    if (folder == "app-logs") values["bucket"] = folder;
    for (std::size_t at = 0; at < rest.size();) {
      const auto end = rest.find('/', at);
      if (end == std::string::npos) break;
      const std::string segment = rest.substr(at, end - at);
      if (const auto equals = segment.find('='); equals != std::string::npos)
        values[segment.substr(0, equals)] = segment.substr(equals + 1);
      at = end + 1;
    }
    std::set<std::string> partition_keys, carried;
    for (const auto& column : table.at("PartitionKeys").as_array())
      partition_keys.emplace(column.at("Name").as_string());
    for (const auto& [name, value] : values) carried.insert(name);
    EXPECT_EQ(partition_keys, carried) << key;
    std::string location(parameters.at("storage.location.template").as_string());
    for (const auto& [name, value] : values) {
      const std::string type(parameters.at("projection." + name + ".type").as_string());
      if (type == "enum") {
        const std::string allowed(parameters.at("projection." + name + ".values").as_string());
        EXPECT_NE(("," + allowed + ",").find("," + value + ","), std::string::npos)
            << name << "=" << value << " is outside " << allowed;
      } else if (type == "date") {
        EXPECT_EQ(parameters.at("projection." + name + ".format"), "yyyy-MM-dd");
        EXPECT_TRUE(common::Date::parse(value)) << value;
      } else {
        EXPECT_EQ(type, "injected") << name;
      }
      const std::string placeholder = "${" + name + "}";
      ASSERT_NE(location.find(placeholder), std::string::npos) << location;
      location.replace(location.find(placeholder), placeholder.size(), value);
    }
    EXPECT_EQ(location, "s3://" + destination_ + "/" + key.substr(0, key.rfind('/') + 1)) << key;
    ++outputs_per_table[folder];
  }
  EXPECT_GE(outputs_per_table["CloudTrail"], 4) << "two accounts in two regions";
  EXPECT_GE(outputs_per_table["Config"], 2);
  EXPECT_EQ(outputs_per_table["app-logs"], 4);

  const std::string workgroup = stack_->resource("QueryWorkGroup");
  const auto saved = aws("athena list-named-queries --work-group " + workgroup);
  ASSERT_EQ(saved.at("NamedQueryIds").as_array().size(), 5u) << json::serialize(saved);
  for (const auto& id : saved.at("NamedQueryIds").as_array()) {
    const auto query = aws("athena get-named-query --named-query-id " + std::string(id.as_string()))
                           .at("NamedQuery");
    EXPECT_EQ(query.at("Database").as_string(), database);
    const std::string text(query.at("QueryString").as_string());
    const auto from = text.find("FROM ");
    ASSERT_NE(from, std::string::npos) << text;
    const std::string table = text.substr(from + 5, text.find_first_of(" \n", from + 5) - from - 5);
    EXPECT_TRUE(tables.contains(table)) << table << " in " << query.at("Name");
  }
  const auto group = aws("athena get-work-group --work-group " + workgroup).at("WorkGroup");
  EXPECT_EQ(group.at("Configuration").at("ResultConfiguration").at("OutputLocation").as_string(),
            "s3://" + stack_->resource("WorkBucket") + "/work/athena-results/");
}

// ParquetConversion: after the day, its Parquet folder is emptied and Athena is asked to UNLOAD
// the day's CloudTrail events into it (moto records the query and runs nothing). Run again, the
// day's folder is emptied again and the same query is asked: one copy, never two.
TEST_F(OnTheLocalStack, ADayConvertedToParquetAgainHoldsOneCopy) {
  start(
      "--parameter ControlTowerBucket=ct-logs --parameter OrganizationId=o-proj000001"
      " --parameter DelayWindowSeconds=0 --parameter ParquetConversion=true"
      " --parameter AccountIds=111111111111,222222222222");
  ASSERT_NO_FATAL_FAILURE(seed_control_tower(1, "eu-west-1"));
  const std::string folder = std::string("aggregated-parquet/cloudtrail/date=") + kDay + "/";
  put(destination_, folder + "left by an earlier run.parquet", "stale");

  const std::string input = std::string(R"({"date": ")") + kDay + R"("})";
  std::vector<std::string> queries;
  for (int run_number = 1; run_number <= 2; ++run_number) {
    const auto execution = run("AggregateDailyStateMachine", input);
    ASSERT_EQ(execution.at("status"), "SUCCEEDED") << json::serialize(execution);
    ASSERT_TRUE(execution.contains("output")) << json::serialize(execution);
    const auto output = json::parse(execution.at("output").as_string());
    ASSERT_TRUE(output.as_object().contains("parquet_written")) << output;
    EXPECT_EQ(output.at("parquet_written").at("state"), "SUCCEEDED") << output;
    for (const auto& key : keys(destination_))
      EXPECT_FALSE(key.starts_with(folder)) << key << " was not cleared";
    const auto listed =
        aws("athena list-query-executions --work-group " + stack_->resource("QueryWorkGroup"));
    ASSERT_TRUE(listed.as_object().contains("QueryExecutionIds")) << listed;
    ASSERT_EQ(listed.at("QueryExecutionIds").as_array().size(),
              static_cast<std::size_t>(run_number));
    const auto latest = aws("athena get-query-execution --query-execution-id " +
                            std::string(listed.at("QueryExecutionIds").at(0).as_string()));
    queries.emplace_back(latest.at("QueryExecution").at("Query").as_string());
    put(destination_, folder + "written by run " + std::to_string(run_number), "parquet");
  }
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0], queries[1]) << "the same day, the same query";
  const std::string& query = queries[0];
  EXPECT_TRUE(query.starts_with("UNLOAD (SELECT ")) << query;
  EXPECT_NE(query.find(std::string("WHERE date = '") + kDay + "'"), std::string::npos) << query;
  const std::string to = "TO 's3://" + destination_ + "/" + folder + "'";
  EXPECT_NE(query.find(to), std::string::npos) << query;
  // The Parquet table reads the day where the UNLOAD wrote it.
  const auto table = aws("glue get-table --database-name " + stack_->resource("GlueDatabase") +
                         " --name cloudtrail_parquet")
                         .at("Table");
  std::string location(table.at("Parameters").at("storage.location.template").as_string());
  location.replace(location.find("${date}"), 7, kDay);
  EXPECT_EQ(location, "s3://" + destination_ + "/" + folder);
}

}  // namespace
