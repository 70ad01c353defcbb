// ManifestBuilder as Lambda runs it, against moto: the ledger, bad records, and the sweep that
// repairs a manifest whose execution was never started.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <map>
#include <set>

#include "common/s3.h"
#include "runtime/clock.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

class ManifestBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = tests::unique_name("ledger");
    work_ = tests::unique_name("work");
    ASSERT_TRUE(tests::create_buckets(moto_, {work_}));
    ASSERT_EQ(tests::aws_cli(
                  moto_,
                  "dynamodb create-table --table-name " + table_ +
                      " --billing-mode PAY_PER_REQUEST --attribute-definitions"
                      " AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S"
                      " AttributeName=open_pk,AttributeType=S AttributeName=open_sk,AttributeType=S"
                      " --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE"
                      " --global-secondary-indexes '[{\"IndexName\":\"open\",\"KeySchema\":["
                      "{\"AttributeName\":\"open_pk\",\"KeyType\":\"HASH\"},{\"AttributeName\":"
                      "\"open_sk\",\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":"
                      "\"ALL\"}}]'")
                  .exit_code,
              0);
    const auto machine = tests::aws_cli(
        moto_, "stepfunctions create-state-machine --name " + tests::unique_name("manifests") +
                   " --role-arn arn:aws:iam::123456789012:role/r --definition "
                   "'{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true}}}'");
    ASSERT_EQ(machine.exit_code, 0) << machine.err;
    machine_ = std::string(json::parse(machine.out).at("stateMachineArn").as_string());
  }

  std::map<std::string, std::string> environment(const std::string& machine = "") const {
    return {{"LEDGER_TABLE", table_},
            {"WORK_BUCKET", work_},
            {"BATCHING_BUCKETS", "other-logs,logs-bucket"},
            {"STATE_MACHINE_ARN", machine.empty() ? machine_ : machine},
            {"MANIFEST_SIZE", "3"},
            {"SWEEP_AFTER_S", "0"}};
  }

  static std::string body(const std::string& bucket, const std::string& key, int size = 10,
                          const std::string& time = "2026-03-05T10:00:00.000Z",
                          const std::string& etag = "abc") {
    return json::serialize(json::object{
        {"Records", json::array{json::object{
                        {"eventTime", time},
                        {"eventName", "ObjectCreated:Put"},
                        {"s3", json::object{{"bucket", json::object{{"name", bucket}}},
                                            {"object", json::object{{"key", key},
                                                                    {"size", size},
                                                                    {"eTag", etag}}}}}}}}});
  }

  static json::object batch(const std::vector<std::pair<std::string, std::string>>& messages) {
    json::array records;
    for (const auto& [id, text] : messages)
      records.push_back(json::object{{"messageId", id}, {"body", text}});
    return {{"Records", records}};
  }

  json::array ledger() {
    return json::parse(tests::aws_cli(moto_, "dynamodb scan --table-name " + table_).out)
        .at("Items")
        .as_array();
  }

  std::map<std::string, std::string> file_states() { return tests::ledger_file_states(ledger()); }

  // A flush scheduled at `time` (Scheduler gives it), by default now.
  std::int64_t flush(const std::map<std::string, std::string>& env, const std::string& time = "") {
    json::object event{{"action", "flush"}};
    if (!time.empty()) event["time"] = time;
    const auto run = tests::invoke_handler(moto_, "ManifestBuilder", event, env);
    EXPECT_EQ(run.exit_code, 0) << run.logs;
    return run.exit_code == 0 ? run.response.at("manifests_started").as_int64() : -1;
  }

  std::size_t executions() {
    return json::parse(tests::aws_cli(
                           moto_, "stepfunctions list-executions --state-machine-arn " + machine_)
                           .out)
        .at("executions")
        .as_array()
        .size();
  }

  // A moto of its own: the shared one runs other tests' executions, and moto 5.2.1's executing
  // Step Functions cannot always start one while others run (the builder only needs
  // StartExecution to be recorded, which plain moto does).
  tests::MotoServer server_;
  tests::MotoFixture moto_{server_.endpoint(),
                           {server_.access_key_id(), server_.secret_access_key(), ""}};
  std::string table_, work_, machine_;
};

TEST_F(ManifestBuilderTest, OnlyTheRecordsItCouldNotTakeAreFailedAndNothingOfThemIsWritten) {
  const auto run = tests::invoke_handler(
      moto_, "ManifestBuilder",
      batch({{"good", body("logs-bucket", "app/2026-03-05/a+b.log")},
             {"not-json", "{{{"},
             {"unknown-shape", R"({"hello":"world"})"},
             {"s3-prefix", body("s3://logs-bucket", "app/x.log")},
             {"test-event", R"({"Service":"Amazon S3","Event":"s3:TestEvent"})"},
             {"empty", body("logs-bucket", "app/2026-03-05/empty.log", 0)}}),
      environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response),
            R"({"batchItemFailures":[{"itemIdentifier":"not-json"},)"
            R"({"itemIdentifier":"unknown-shape"},{"itemIdentifier":"s3-prefix"}]})");
  EXPECT_EQ(run.logs.find("world"), std::string::npos) << "bodies are never logged";
  EXPECT_EQ(file_states(),
            (std::map<std::string, std::string>{{"app/2026-03-05/a b.log", "PENDING"},
                                                {"app/2026-03-05/empty.log", "EMPTY"}}))
      << "'+' decoded to a space; the zero-byte object recorded but never pending";

  const auto again = tests::invoke_handler(
      moto_, "ManifestBuilder",
      batch({{"redelivered", body("logs-bucket", "app/2026-03-05/a+b.log")}}), environment());
  EXPECT_EQ(json::serialize(again.response), R"({"batchItemFailures":[]})");
  EXPECT_EQ(ledger().size(), 3u) << "a redelivery changes nothing (two files, one partition)";

  // The key written again the same day, with other content: an original of its own.
  const auto rewritten =
      tests::invoke_handler(moto_, "ManifestBuilder",
                            batch({{"rewritten", body("logs-bucket", "app/2026-03-05/a+b.log", 12,
                                                      "2026-03-05T11:00:00.000Z", "def")}}),
                            environment());
  EXPECT_EQ(json::serialize(rewritten.response), R"({"batchItemFailures":[]})");
  std::multiset<std::string> etags;
  for (const auto& item : ledger()) {
    if (item.at("pk").at("S").as_string().starts_with("F#") &&
        item.at("key").at("S").as_string() == "app/2026-03-05/a b.log") {
      etags.insert(std::string(item.at("etag").at("S").as_string()));
    }
  }
  EXPECT_EQ(etags, (std::multiset<std::string>{"\"abc\"", "\"def\""}))
      << "both writes recorded, each etag quoted as HEAD and listings give it";

  const auto bad =
      tests::invoke_handler(moto_, "ManifestBuilder", json::object{{"action", "x"}}, environment());
  EXPECT_EQ(bad.response.at("errorType").as_string(), "InvalidInput");
}

// INCLUDE_/EXCLUDE_PREFIXES and _SUFFIXES choose the objects worth batching: an object must match
// an include of each kind given and no exclude; the rest are taken from the queue, not recorded.
TEST_F(ManifestBuilderTest, FiltersRecordOnlyTheObjectsTheyLetThrough) {
  auto env = environment();
  env["INCLUDE_PREFIXES"] = "app/,web/";
  env["EXCLUDE_PREFIXES"] = "app/private/";
  env["INCLUDE_SUFFIXES"] = ".log,.gz";
  env["EXCLUDE_SUFFIXES"] = ".tmp.gz";
  const auto run = tests::invoke_handler(
      moto_, "ManifestBuilder",
      batch({{"1", body("logs-bucket", "app/2026-03-05/kept.log")},
             {"2", body("logs-bucket", "web/2026-03-05/kept.gz")},
             {"3", body("logs-bucket", "other/2026-03-05/not-included.log")},
             {"4", body("logs-bucket", "app/private/2026-03-05/excluded.log")},
             {"5", body("logs-bucket", "app/2026-03-05/wrong-suffix.json")},
             {"6", body("logs-bucket", "web/2026-03-05/excluded.tmp.gz")}}),
      env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})")
      << "filtered records are done with, not failed";
  EXPECT_EQ(file_states(),
            (std::map<std::string, std::string>{{"app/2026-03-05/kept.log", "PENDING"},
                                                {"web/2026-03-05/kept.gz", "PENDING"}}));
}

// Only the batching buckets are batched: a notification for another bucket (the Control Tower
// archive, whose originals DeleteAfterBatch would then delete; anything a forged message names)
// is taken from the queue, counted and not recorded; none at all is a configuration error.
TEST_F(ManifestBuilderTest, NotificationsForBucketsThatAreNotBatchedAreNotRecorded) {
  const auto run = tests::invoke_handler(
      moto_, "ManifestBuilder",
      batch({{"batched", body("logs-bucket", "app/2026-03-05/kept.log")},
             {"archive", body("aws-controltower-logs-111111111111-eu-west-1",
                              "o-abc/AWSLogs/111111111111/CloudTrail/eu-west-1/2026/03/05/t.gz")},
             {"forged", body("someone-elses-bucket", "x/2026-03-05/y.log")}}),
      environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})")
      << "refused notifications are done with, not retried";
  EXPECT_EQ(file_states(),
            (std::map<std::string, std::string>{{"app/2026-03-05/kept.log", "PENDING"}}));
  EXPECT_NE(run.logs.find("aws-controltower-logs-111111111111-eu-west-1"), std::string::npos)
      << run.logs;
  EXPECT_NE(run.logs.find(R"("NotificationsRefused":2)"), std::string::npos) << run.logs;
  auto none = environment();
  none["BATCHING_BUCKETS"] = "";
  const auto unconfigured = tests::invoke_handler(moto_, "ManifestBuilder", batch({}), none);
  EXPECT_EQ(unconfigured.response.at("errorType").as_string(), "ConfigurationError")
      << unconfigured.logs;
}

// The builder claims the files, then cannot start the execution (here: the state machine it
// names does not exist, as if it had crashed between the two). The sweep starts it, once.
TEST_F(ManifestBuilderTest, AManifestClaimedButNeverStartedIsStartedOnceByTheSweep) {
  const std::string missing = machine_ + "-missing";
  const auto run = tests::invoke_handler(moto_, "ManifestBuilder",
                                         batch({{"1", body("logs-bucket", "d/2026-03-05/1.log")},
                                                {"2", body("logs-bucket", "d/2026-03-05/2.log")},
                                                {"3", body("logs-bucket", "d/2026-03-05/3.log")}}),
                                         environment(missing));
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(json::serialize(run.response), R"({"batchItemFailures":[]})")
      << "the records were taken; the start is the sweep's to finish";
  int claimed = 0;
  for (const auto& item : ledger()) {
    if (item.at("pk").at("S").as_string().starts_with("F#"))
      claimed += item.at("state").at("S").as_string() == "CLAIMED";
  }
  EXPECT_EQ(claimed, 3);
  EXPECT_EQ(executions(), 0u);

  for (int sweep = 0; sweep < 2; ++sweep) {
    const auto swept = tests::invoke_handler(moto_, "ManifestBuilder",
                                             json::object{{"action", "sweep"}}, environment());
    ASSERT_EQ(swept.exit_code, 0) << swept.logs;
    EXPECT_EQ(swept.response.at("manifests_started").as_int64(), sweep == 0 ? 1 : 0);
  }
  EXPECT_EQ(executions(), 1u) << "exactly once";
}

// A crash after StartExecution but before the manifest item recorded it: the sweep's start finds
// ExecutionAlreadyExists, takes that execution as the manifest's, and starts no second one.
TEST_F(ManifestBuilderTest, ASweepFindingTheExecutionAlreadyStartedTakesItAndStartsNoOther) {
  const auto run = tests::invoke_handler(moto_, "ManifestBuilder",
                                         batch({{"1", body("logs-bucket", "d/2026-03-05/1.log")},
                                                {"2", body("logs-bucket", "d/2026-03-05/2.log")},
                                                {"3", body("logs-bucket", "d/2026-03-05/3.log")}}),
                                         environment(machine_ + "-missing"));
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  std::string manifest_id;
  for (const auto& item : ledger()) {
    if (item.at("pk").at("S").as_string().starts_with("M#"))
      manifest_id = std::string(item.at("sk").at("S").as_string());
  }
  ASSERT_FALSE(manifest_id.empty()) << "a manifest was cut";
  const auto started = tests::aws_cli(moto_, "stepfunctions start-execution --state-machine-arn " +
                                                 machine_ + " --name " + manifest_id +
                                                 " --input '{\"started\":\"before the crash\"}'");
  ASSERT_EQ(started.exit_code, 0) << started.err;
  const std::string execution_arn(json::parse(started.out).at("executionArn").as_string());

  const auto swept = tests::invoke_handler(moto_, "ManifestBuilder",
                                           json::object{{"action", "sweep"}}, environment());
  ASSERT_EQ(swept.exit_code, 0) << swept.logs;
  EXPECT_EQ(swept.response.at("manifests_started").as_int64(), 1);
  EXPECT_EQ(executions(), 1u) << "the one started before, no second";
  for (const auto& item : ledger()) {
    if (!item.at("pk").at("S").as_string().starts_with("M#")) continue;
    EXPECT_EQ(item.at("execution_arn").at("S").as_string(), execution_arn) << item;
    EXPECT_FALSE(item.as_object().contains("open_pk")) << "no longer the sweep's: " << item;
  }
}

// Every ledger item (files, manifest, partition) expires TTL_DAYS after it is written.
TEST_F(ManifestBuilderTest, EveryLedgerItemExpiresTtlDaysAfterItIsWritten) {
  auto env = environment();
  env["TTL_DAYS"] = "2";
  const auto before = std::chrono::system_clock::now();
  const auto run = tests::invoke_handler(moto_, "ManifestBuilder",
                                         batch({{"1", body("logs-bucket", "d/2026-03-05/1.log")},
                                                {"2", body("logs-bucket", "d/2026-03-05/2.log")},
                                                {"3", body("logs-bucket", "d/2026-03-05/3.log")},
                                                {"4", body("logs-bucket", "d/2026-03-05/4.log")}}),
                                         env);
  const auto after = std::chrono::system_clock::now();
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto seconds = [](std::chrono::system_clock::time_point time) {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  };
  const std::int64_t two_days = 2 * 24 * 3600;
  std::set<std::string> kinds;
  for (const auto& item : ledger()) {
    const std::string pk(item.at("pk").at("S").as_string());
    kinds.insert(pk.substr(0, pk.find('#')));
    ASSERT_TRUE(item.as_object().contains("expires_at")) << item;
    const std::int64_t expires_at =
        std::stoll(std::string(item.at("expires_at").at("N").as_string()));
    EXPECT_GE(expires_at, seconds(before) + two_days - 1) << item;
    EXPECT_LE(expires_at, seconds(after) + two_days + 1) << item;
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"F", "M", "PARTITIONS"})) << "files, manifest, partition";
}

// Fewer files than MANIFEST_SIZE: a day that is over is cut by the next flush; today's files are
// cut once the oldest has waited MAX_AGE_S, and not before. Each flush is given its scheduled
// time, as Scheduler gives it: nothing depends on the clock or on the day turning mid-test.
TEST_F(ManifestBuilderTest, FlushCutsADayThatIsOverAndPendingFilesOlderThanMaxAge) {
  const auto received = std::chrono::system_clock::now();
  const std::string now = runtime::format_rfc3339_ms(received);
  const std::string today = now.substr(0, 10);
  // Before the records were received (they cannot be old yet), and well after.
  const std::string before = runtime::format_rfc3339_ms(received - std::chrono::seconds(1));
  const std::string two_hours_on = runtime::format_rfc3339_ms(received + std::chrono::hours(2));
  const auto run =
      tests::invoke_handler(moto_, "ManifestBuilder",
                            batch({{"1", body("logs-bucket", "d/2026-03-05/1.log")},
                                   {"2", body("logs-bucket", "d/2026-03-05/2.log")},
                                   {"3", body("logs-bucket", "d/" + today + "/1.log", 10, now)},
                                   {"4", body("logs-bucket", "d/" + today + "/2.log", 10, now)}}),
                            environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(executions(), 0u) << "two files a partition: under MANIFEST_SIZE";

  auto env = environment();
  env["MAX_AGE_S"] = "3600";
  EXPECT_EQ(flush(env, before), 1) << "the day that is over";
  EXPECT_EQ(flush(env, before), 0) << "nothing left that is over or old";
  const std::string old_one = "d/2026-03-05/1.log", old_two = "d/2026-03-05/2.log";
  const std::string new_one = "d/" + today + "/1.log", new_two = "d/" + today + "/2.log";
  EXPECT_EQ(
      file_states(),
      (std::map<std::string, std::string>{
          {old_one, "CLAIMED"}, {old_two, "CLAIMED"}, {new_one, "PENDING"}, {new_two, "PENDING"}}));

  EXPECT_EQ(flush(env, two_hours_on), 1) << "today's files, once older than MAX_AGE_S";
  EXPECT_EQ(
      file_states(),
      (std::map<std::string, std::string>{
          {old_one, "CLAIMED"}, {old_two, "CLAIMED"}, {new_one, "CLAIMED"}, {new_two, "CLAIMED"}}));
  EXPECT_EQ(executions(), 2u);
  // Each manifest file lists its partition's two files and nothing else.
  common::S3Client s3(tests::moto_options(moto_));
  std::set<std::string> listed;
  for (const auto& object : s3.list_all(work_, "work/")) {
    if (!object.key.ends_with("/manifest.json")) continue;
    const auto sources = json::parse(s3.get_object(work_, object.key)).as_array();
    EXPECT_EQ(sources.size(), 2u) << object.key;
    for (const auto& source : sources) listed.insert(std::string(source.at("key").as_string()));
  }
  EXPECT_EQ(listed, (std::set<std::string>{old_one, old_two, new_one, new_two}));
}

}  // namespace
