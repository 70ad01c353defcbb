// Every sample in events/ replayed against the local stack, the way the README tells a user to:
// function events through `lambda-local invoke <Function> <file>` (${WORK_BUCKET} and the like
// filled in from the function's environment), state machine inputs through StartExecution. The
// stack is seeded with what the samples name (tools/seed-logs' fixed seed, and a few app logs).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/s3.h"
#include "tests/aws_test_support.h"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

json::value read_json(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
}

class Replay : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<tests::LocalStack>(
        "--parameter ControlTowerBucket=replay-control-tower-logs"
        " --parameter OrganizationId=o-replay0001 --parameter OtherBuckets=replay-app-logs"
        " --parameter DelayWindowSeconds=0 --sink --parameter "
        "ForwarderSources=s3://replay-app-logs/web/ --parameter ParquetConversion=true"
        " --parameter AccountIds=111111111111 --parameter AmplifyApps=/replay/amplify-apps");
    const auto& moto = stack_->moto();
    ASSERT_TRUE(tests::create_buckets(moto, {"replay-control-tower-logs", "replay-app-logs"}));
    const auto seeded = tests::run_command(
        tests::credentials_env(moto) + tests::source_path("tools/seed-logs").string() +
        " --endpoint " + moto.endpoint +
        " --bucket replay-control-tower-logs --organization o-replay0001 --date 2026-03-05"
        " --accounts 1 --regions eu-west-1 --files 3 --versioned");
    ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
    common::S3Client s3(tests::moto_options(moto));
    s3.put_object("replay-app-logs", "app/2026-03-05/app.log", "app line 1\napp line 2\n");
    // The Amplify samples' app, in an account of its own (read as the export's role there).
    const auto chunk = read_json(
        tests::source_path("events/functions/AmplifyLogExporterFunction/export_chunk.json"));
    const auto& app = chunk.at("app");
    ASSERT_TRUE(tests::register_amplify_app(moto, {{"accountId", app.at("accountId")},
                                                   {"region", app.at("region")},
                                                   {"appId", app.at("appId")},
                                                   {"domainName", app.at("domainName")}}));
    const fs::path apps = stack_->state_directory() / "amplify-apps.json";
    std::ofstream(apps) << json::serialize(json::object{{"apps", json::array{app}}});
    ASSERT_EQ(tests::aws_cli(moto,
                             "ssm put-parameter --name /replay/amplify-apps --type String "
                             "--value file://" +
                                 apps.string())
                  .exit_code,
              0);
    const auto objects = read_json(tests::source_path("tests/fixtures/replay_objects.json"));
    for (const auto& [key, body] : objects.as_object()) {
      s3.put_object("replay-app-logs", std::string(key), std::string(body.as_string()));
    }
  }

  tests::CommandResult replay(const std::string& function, const fs::path& event) {
    return tests::run_command(tests::source_path("build/bin/lambda-local").string() + " invoke " +
                              function + " '" + event.string() + "' --config " +
                              (stack_->state_directory() / "functions.json").string());
  }

  json::object run(const std::string& machine, const std::string& name, const fs::path& input) {
    std::string text = json::serialize(read_json(input));
    const auto started =
        tests::aws_cli(stack_->moto(), "stepfunctions start-execution --state-machine-arn " +
                                           stack_->state_machine(machine) + " --name " + name +
                                           " --input '" + text + "'");
    EXPECT_EQ(started.exit_code, 0) << started.err << moto_log_tail();
    if (started.exit_code != 0) return {};
    return stack_->wait_for(std::string(json::parse(started.out).at("executionArn").as_string()));
  }

  std::string moto_log_tail() {
    return tests::run_command("tail -30 " + (stack_->state_directory() / "moto.log").string()).out;
  }

  std::unique_ptr<tests::LocalStack> stack_;
};

TEST_F(Replay, EverySampleEventIsTakenByItsFunctionOrStateMachine) {
  const fs::path events = tests::source_path("events");
  std::set<fs::path> samples;
  for (const auto& entry : fs::recursive_directory_iterator(events)) {
    if (entry.is_regular_file()) samples.insert(entry.path());
  }
  std::set<fs::path> replayed;

  // Functions in the order the pipeline calls them: each sample reads what the one before wrote.
  // ManifestBuilder's SQS batches before its scheduled flush and sweep.
  const std::vector<std::string> functions = {
      "GetFilesFunction",        "DetermineOperationTypeFunction", "CombineLogFilesFunction",
      "DeleteOriginalsFunction", "CrawlerTriggerFunction",         "ManifestBuilderFunction",
      "LogForwarderFunction",    "AmplifyLogExporterFunction"};
  for (const auto& function : functions) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(events / "functions" / function))
      files.push_back(entry.path());
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      const bool a_scheduled = read_json(a).as_object().contains("action");
      const bool b_scheduled = read_json(b).as_object().contains("action");
      return a_scheduled != b_scheduled ? b_scheduled : a < b;
    });
    for (const auto& file : files) {
      const auto run = replay(function, file);
      EXPECT_EQ(run.exit_code, 0) << file << "\n" << run.out << run.err;
      const auto response = json::parse(run.out);
      EXPECT_FALSE(response.is_object() && response.as_object().contains("errorType")) << file;
      if (response.is_object() && response.as_object().contains("batchItemFailures")) {
        EXPECT_TRUE(response.at("batchItemFailures").as_array().empty()) << file;
      }
      replayed.insert(file);
    }
  }
  // LogForwarder's samples sent the first web log's line twice (a notification and a backfill's
  // batch; the backfill's request sends nothing), and its backfill sends all four web logs.
  const fs::path forward = events / "state_machines/ForwardBackfillStateMachine/replay.json";
  const auto forwarded = run("ForwardBackfillStateMachine", "replay-forward", forward);
  EXPECT_EQ(forwarded.at("status").as_string(), "SUCCEEDED") << json::serialize(forwarded);
  replayed.insert(forward);
  const auto sink = json::parse(
      tests::run_command("curl -s " + std::string(stack_->info().at("sink").as_string()) +
                         "/_sink/stats")
          .out);
  EXPECT_EQ(sink.at("distinct_batches").to_number<int>(), 4) << "one per web log";
  EXPECT_EQ(sink.at("changed_duplicates").to_number<int>(), 0);
  EXPECT_EQ(sink.at("distinct_lines").to_number<int>(), 4) << sink;
  EXPECT_EQ(sink.at("lines").to_number<int>(), 4 + 2) << "the first web log's line twice again";

  // events/env.json, the settings `sam local invoke --env-vars` gives the samples, serves them as
  // well: GetFiles' day again, with the file's work bucket instead of the stack's, and as sam local
  // invoke runs a function: with the caller's credentials, not the function's role.
  ASSERT_TRUE(tests::create_buckets(stack_->moto(), {"replay-work"}));
  const auto& caller = stack_->moto().credentials;
  const auto with_env_vars = tests::run_command(
      tests::source_path("build/bin/lambda-local").string() + " invoke GetFiles '" +
      (events / "functions/GetFilesFunction/date.json").string() + "' --config " +
      (stack_->state_directory() / "functions.json").string() + " --env-vars '" +
      (events / "env.json").string() + "' --env AWS_ACCESS_KEY_ID=" + caller.access_key_id +
      " --env AWS_SECRET_ACCESS_KEY=" + caller.secret_access_key + " --env AWS_SESSION_TOKEN=");
  ASSERT_EQ(with_env_vars.exit_code, 0) << with_env_vars.out << with_env_vars.err;
  const auto listed_day = json::parse(with_env_vars.out);
  EXPECT_EQ(listed_day.at("groups").at("bucket").as_string(), "replay-work");
  EXPECT_GT(listed_day.at("file_count").as_int64(), 0);
  replayed.insert(events / "env.json");

  const auto echo = replay("echo", events / "echo.json");
  EXPECT_EQ(echo.exit_code, 0) << echo.err;
  replayed.insert(events / "echo.json");

  // The flush cut the web logs' manifest: process_manifest runs with what the builder gave it,
  // which has the sample's shape.
  const auto listed = json::parse(
      tests::aws_cli(stack_->moto(), "stepfunctions list-executions --state-machine-arn " +
                                         stack_->state_machine("ProcessManifestStateMachine"))
          .out);
  ASSERT_EQ(listed.at("executions").as_array().size(), 1u) << "one manifest of four web logs";
  const auto batch =
      stack_->wait_for(std::string(listed.at("executions").at(0).at("executionArn").as_string()));
  EXPECT_EQ(batch.at("status").as_string(), "SUCCEEDED") << json::serialize(batch);
  // ParquetConversion: the batch's own lines were written as Parquet by Athena.
  const auto converted = json::parse(batch.at("output").as_string());
  EXPECT_EQ(converted.at("parquet_written").at("state"), "SUCCEEDED") << converted;
  const std::string unload(converted.at("parquet_batch").at("query").as_string());
  EXPECT_NE(unload.find("/batch=" + std::string(converted.at("manifest_id").as_string()) + "/"),
            std::string::npos)
      << unload;
  const fs::path manifest_sample =
      events / "state_machines/ProcessManifestStateMachine/manifest.json";
  std::set<std::string> sample_keys, real_keys;
  const auto sample_input = read_json(manifest_sample);
  for (const auto& [key, value] : sample_input.as_object()) sample_keys.insert(key);
  const auto real = json::parse(batch.at("input").as_string());
  for (const auto& [key, value] : real.as_object()) real_keys.insert(key);
  EXPECT_EQ(sample_keys, real_keys);
  replayed.insert(manifest_sample);

  // A scheduled sample is what EventBridge Scheduler delivers: its schedule's Input in
  // template.yaml with its context attribute substituted.
  const auto expect_delivered = [&](const std::string& schedule, const std::string& time,
                                    const fs::path& sample) {
    std::ifstream template_file(tests::source_path("template.yaml"));
    const std::string text((std::istreambuf_iterator<char>(template_file)), {});
    const auto event = text.find("        " + schedule + ":\n");
    const auto input = text.find("Input: '", event);
    ASSERT_NE(event, std::string::npos) << schedule;
    ASSERT_NE(input, std::string::npos) << "the " << schedule << " schedule needs an Input";
    std::string delivered = text.substr(input + 8, text.find('\'', input + 8) - input - 8);
    const std::string attribute = "<aws.scheduler.scheduled-time>";
    delivered.replace(delivered.find(attribute), attribute.size(), time);
    EXPECT_EQ(json::serialize(json::parse(delivered)), json::serialize(read_json(sample)));
  };
  expect_delivered("Nightly", "2026-03-06T01:00:00Z",
                   events / "state_machines/AggregateDailyStateMachine/schedule.json");
  expect_delivered("Weekly", "2026-11-23T03:00:00Z",
                   events / "state_machines/ProcessAmplifyLogsStateMachine/schedule.json");
  // The Amplify export, scheduled and over an operator's window.
  for (const char* name : {"schedule", "window"}) {
    const fs::path input =
        events / "state_machines/ProcessAmplifyLogsStateMachine" / (std::string(name) + ".json");
    const auto execution =
        run("ProcessAmplifyLogsStateMachine", std::string("replay-amplify-") + name, input);
    EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
    replayed.insert(input);
  }
  // The day again through the state machine, named and scheduled (what GetFiles left for later).
  for (const char* name : {"day", "schedule"}) {
    const fs::path input =
        events / "state_machines/AggregateDailyStateMachine" / (std::string(name) + ".json");
    const auto execution = run("AggregateDailyStateMachine", std::string("replay-") + name, input);
    EXPECT_EQ(execution.at("status").as_string(), "SUCCEEDED") << json::serialize(execution);
    replayed.insert(input);
  }
  // The backfill runs each day of the range as an aggregate_daily execution (.sync:2).
  const fs::path range = events / "state_machines/AggregateHistoryStateMachine/range.json";
  const auto backfill = run("AggregateHistoryStateMachine", "replay-backfill", range);
  EXPECT_EQ(backfill.at("status").as_string(), "SUCCEEDED") << json::serialize(backfill);
  const auto days = json::parse(
      tests::aws_cli(stack_->moto(), "stepfunctions list-executions --state-machine-arn " +
                                         stack_->state_machine("AggregateDailyStateMachine"))
          .out);
  EXPECT_EQ(days.at("executions").as_array().size(), 2u + 5u) << "the two runs above, five days";
  replayed.insert(range);

  for (const auto& sample : samples) {
    EXPECT_TRUE(replayed.contains(sample)) << sample << " is in events/ but no test replays it";
  }
}

}  // namespace
