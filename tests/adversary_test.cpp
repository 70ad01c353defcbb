// The adversary who can write the work bucket (s3:PutObject on all of it, nothing else: an insider,
// or any compromised role that writes work files), against the stack as the template builds it,
// each function under its own role. Every record they can write — receipts, ledger records,
// checkpoints, in the right folders or elsewhere — is handed to the function that reads it, and
// the never-combined CloudTrail versions of a day stay where they are, byte for byte, as the aws
// CLI reads them, while the function fails with a named error. A forged receipt fails first at
// its seal; each is then tried again sealed as CombineLogFiles seals (what a defect of
// CombineLogFiles' own could write), to show the checks behind the seal refuse it too.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/hashing.h"
#include "pipeline/layout.h"
#include "pipeline/records.h"
#include "pipeline/seal.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

constexpr const char* kCombinedDay = "2026-03-05";
constexpr const char* kVictimDay = "2026-03-06";

struct Victim {
  std::string key, version_id, bytes;
};

class AnInsiderWithTheWorkBucket : public ::testing::Test {
 protected:
  // One stack for the suite: a Control Tower bucket of two days, the first combined and deleted
  // by the real daily run, the second (the victims) never combined.
  static void SetUpTestSuite() {
    stack_ = new tests::LocalStack(
        "--parameter ControlTowerBucket=adv-ct --parameter OrganizationId=o-adversary1"
        " --parameter DelayWindowSeconds=0 --parameter OtherBuckets=adv-app"
        " --parameter DeleteAfterBatch=true");
    const auto& moto = stack_->moto();
    for (const char* bucket : {"adv-ct", "adv-app"})
      ASSERT_EQ(
          tests::aws_cli(moto, std::string("s3api create-bucket --bucket ") + bucket).exit_code, 0);
    const auto seeded = tests::run_command(
        tests::credentials_env(moto) + tests::source_path("tools/seed-logs").string() +
        " --endpoint " + moto.endpoint +
        " --bucket adv-ct --organization o-adversary1 --accounts 1 --regions eu-west-1"
        " --files 3 --versioned --date " +
        kVictimDay);
    ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
    const auto started =
        tests::aws_cli(moto, "stepfunctions start-execution --name adv-day --state-machine-arn " +
                                 stack_->state_machine("AggregateDailyStateMachine") +
                                 " --input '{\"date\": \"" + kCombinedDay + "\"}'");
    ASSERT_EQ(started.exit_code, 0) << started.err;
    const auto done =
        stack_->wait_for(std::string(json::parse(started.out).at("executionArn").as_string()));
    ASSERT_EQ(done.at("status").as_string(), "SUCCEEDED") << json::serialize(done);
    attacker_ = new tests::MotoFixture(user_allowed(
        "insider", "s3:PutObject", "arn:aws:s3:::" + stack_->resource("WorkBucket") + "/*"));
  }
  static void TearDownTestSuite() {
    delete stack_;
    delete attacker_;
    stack_ = nullptr;
  }

  static tests::MotoFixture user_allowed(const std::string& name, const std::string& action,
                                         const std::string& resource) {
    return tests::user_allowed(stack_->moto(), name, action, resource);
  }

  void SetUp() override {
    ASSERT_NE(stack_, nullptr);
    victims_ = victims();
    ASSERT_GE(victims_.size(), 3u) << "the victim day's CloudTrail files";
  }

  const tests::MotoFixture& moto() const { return stack_->moto(); }
  std::string work() const { return stack_->resource("WorkBucket"); }
  std::string destination() const { return stack_->resource("DestinationBucket"); }

  // The victim day's CloudTrail log versions, each read with the aws CLI.
  std::vector<Victim> victims() {
    std::vector<Victim> found;
    const auto listed = json::parse(
        tests::aws_cli(moto(), "s3api list-object-versions --bucket adv-ct --output json").out);
    for (const auto& version : listed.as_object().at("Versions").as_array()) {
      const std::string key(version.at("Key").as_string());
      if (key.find("/CloudTrail/") == std::string::npos ||
          key.find("/2026/03/06/") == std::string::npos)
        continue;
      const std::string id(version.at("VersionId").as_string());
      found.push_back({key, id, read_version(key, id)});
    }
    return found;
  }
  std::string read_version(const std::string& key, const std::string& version_id) {
    tests::TempDir dir;
    const auto read = tests::aws_cli(moto(), "s3api get-object --bucket adv-ct --key '" + key +
                                                 "' --version-id " + version_id + " " +
                                                 (dir.path() / "body").string());
    if (read.exit_code != 0) return "(gone: " + read.err + ")";
    std::ifstream in(dir.path() / "body", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A receipt planted at `key` as the insider (unsealed), then written there sealed as
  // CombineLogFiles seals: DeleteOriginals refuses the first for its seal and the second saying
  // `says`, deleting nothing either time.
  void expect_receipt_refused(const std::string& run_id, const std::string& group_id,
                              const std::string& key, const pipeline::Receipt& receipt,
                              const std::string& says) {
    plant(key, json::value_from(receipt));
    expect_refused(delete_with(run_id, group_id, work(), key), "VerificationFailed",
                   "is not trusted: it has no seal");
    pipeline::Seals seals(tests::moto_options(moto()), stack_->resource("SealKey"));
    auto sealed = json::value_from(receipt).as_object();
    seals.sealer().seal(sealed, work(), key);
    tests::TempDir dir;
    std::ofstream(dir.path() / "body") << json::serialize(sealed);
    ASSERT_EQ(tests::aws_cli(moto(), "s3api put-object --bucket " + work() + " --key '" + key +
                                         "' --body " + (dir.path() / "body").string())
                  .exit_code,
              0);
    expect_refused(delete_with(run_id, group_id, work(), key), "VerificationFailed", says);
  }

  // Writes `body` at s3://<work>/<key> as the insider (never with the stack's credentials).
  void plant(const std::string& key, const json::value& body) {
    tests::TempDir dir;
    std::ofstream(dir.path() / "body") << json::serialize(body);
    const auto put =
        tests::aws_cli(*attacker_, "s3api put-object --bucket " + work() + " --key '" + key +
                                       "' --body " + (dir.path() / "body").string());
    ASSERT_EQ(put.exit_code, 0) << put.err;
  }

  // A victim as a receipt or an index names it.
  static pipeline::Source source_of(const Victim& victim, const std::string& etag) {
    return pipeline::Source{victim.key, victim.bytes.size(), etag, victim.version_id};
  }
  std::string etag_of(const Victim& victim) { return "\"" + common::md5_hex(victim.bytes) + "\""; }

  // A real output of the combined day, and its sealed index, as the legitimate run left them.
  struct RealOutput {
    pipeline::OutputRef where;
    std::string index_key;
    std::string group_id;
  };
  RealOutput real_output() {
    const auto listed = json::parse(tests::aws_cli(moto(), "s3api list-objects-v2 --bucket " +
                                                               work() + " --prefix ledger/" +
                                                               kCombinedDay + "/ --output json")
                                        .out);
    const std::string index_key(listed.at("Contents").at(0).at("Key").as_string());
    const auto record =
        json::parse(tests::aws_cli(moto(), "s3 cp 's3://" + work() + "/" + index_key + "' -").out);
    const auto output = pipeline::read_record<pipeline::OutputRecord>(record);
    // ledger/<date>/<group file name>/<run>/<output>.json: the group's id is in the plan; its
    // folder name is all a receipt's index must match, so any receipt of the run tells it.
    const auto receipts =
        json::parse(tests::aws_cli(moto(), "s3api list-objects-v2 --bucket " + work() +
                                               " --prefix work/adv-day/receipts/ --output json")
                        .out);
    std::string group_id;
    for (const auto& object : receipts.at("Contents").as_array()) {
      const auto receipt = pipeline::read_record<pipeline::Receipt>(
          json::parse(tests::aws_cli(moto(), "s3 cp 's3://" + work() + "/" +
                                                 std::string(object.at("Key").as_string()) + "' -")
                          .out));
      for (const auto& summary : receipt.combined.outputs)
        if (summary.index && summary.index->key == index_key) group_id = receipt.group_id;
    }
    EXPECT_FALSE(group_id.empty()) << "no receipt of the run names " << index_key;
    return {output.where, index_key, group_id};
  }

  // Hands a receipt at `key` to DeleteOriginals as the run `run_id`'s result for `group_id`.
  tests::Invocation delete_with(const std::string& run_id, const std::string& group_id,
                                const std::string& bucket, const std::string& key) {
    return stack_->invoke(
        "DeleteOriginalsFunction",
        json::object{{"run_id", run_id},
                     {"group_id", group_id},
                     {"receipt", {{"bucket", bucket}, {"key", key}, {"count", 1}, {"bytes", 0}}}});
  }

  // The function failed with `error_type`, saying `says`, and every victim is as it was.
  void expect_refused(const tests::Invocation& run, const std::string& error_type,
                      const std::string& says) {
    ASSERT_TRUE(run.response.is_object()) << run.logs;
    EXPECT_EQ(run.response.at("errorType").as_string(), error_type)
        << json::serialize(run.response);
    EXPECT_NE(json::serialize(run.response).find(says), std::string::npos)
        << json::serialize(run.response);
    for (const auto& victim : victims_) {
      EXPECT_EQ(read_version(victim.key, victim.version_id), victim.bytes)
          << victim.key << " version " << victim.version_id << " is not as it was";
    }
  }

  pipeline::Receipt receipt_for(const std::string& group_id, const std::string& date) {
    pipeline::Receipt receipt;
    receipt.group_id = group_id;
    receipt.source_bucket = "adv-ct";
    receipt.destination_bucket = destination();
    receipt.date = date;
    return receipt;
  }

  std::vector<Victim> victims_;
  static tests::LocalStack* stack_;
  static tests::MotoFixture* attacker_;
};

tests::LocalStack* AnInsiderWithTheWorkBucket::stack_ = nullptr;
tests::MotoFixture* AnInsiderWithTheWorkBucket::attacker_ = nullptr;

// The insider's own credentials can do nothing but write the work bucket.
TEST_F(AnInsiderWithTheWorkBucket, CanWriteTheWorkBucketAndNothingElse) {
  const auto deleted =
      tests::aws_cli(*attacker_, "s3api delete-object --bucket adv-ct --key '" + victims_[0].key +
                                     "' --version-id " + victims_[0].version_id);
  EXPECT_NE(deleted.exit_code, 0);
  EXPECT_NE(deleted.err.find("AccessDenied"), std::string::npos) << deleted.err;
  EXPECT_EQ(read_version(victims_[0].key, victims_[0].version_id), victims_[0].bytes);
}

// A victim listed among the empty originals: S3 says it is not empty.
TEST_F(AnInsiderWithTheWorkBucket, AVictimListedAsEmptyStays) {
  auto receipt = receipt_for("g-empty", kVictimDay);
  for (const auto& victim : victims_)
    receipt.combined.empty_sources.push_back(source_of(victim, etag_of(victim)));
  const std::string key = pipeline::group_file_key("evil", "receipts", "g-empty", "json");
  expect_receipt_refused("evil", "g-empty", key, receipt, "is listed as empty and is not");
}

// A victim said to be combined already, into a real output of the real group's day: the group's
// sealed ledger does not place it there.
TEST_F(AnInsiderWithTheWorkBucket, AVictimClaimedAlreadyCombinedIntoARealOutputStays) {
  const auto real = real_output();
  auto receipt = receipt_for(real.group_id, kCombinedDay);
  for (const auto& victim : victims_)
    receipt.already_combined.push_back({source_of(victim, etag_of(victim)), real.where});
  const std::string key = pipeline::group_file_key("evil", "receipts", real.group_id, "json");
  expect_receipt_refused("evil", real.group_id, key, receipt,
                         "is in no standing output the group's sealed ledger records");
}

// An output planted in the work bucket with an index whose digests are those of its bytes: the
// destination is the configured one, whatever the receipt says; an index planted in the group's
// own ledger folder, naming a real output, has no seal.
TEST_F(AnInsiderWithTheWorkBucket, APlantedOutputAndIndexDecideNothing) {
  std::string planted_bytes;
  pipeline::OutputRecord index;
  index.source_bucket = "adv-ct";
  for (const auto& victim : victims_) {
    index.sources.push_back(source_of(victim, etag_of(victim)));
    index.offsets.push_back(planted_bytes.size());
    index.sha256.push_back(common::sha256_hex(victim.bytes));
    index.content_sha256.push_back(common::sha256_hex(victim.bytes));
    planted_bytes += victim.bytes;
  }
  const std::string index_key =
      pipeline::ledger_key(pipeline::ledger_run_prefix(kVictimDay, "g-plant", "evil"), "out.gz");
  index.where = {work(), "planted/out.gz", planted_bytes.size(),
                 "\"" + common::md5_hex(planted_bytes) + "\""};
  {
    tests::TempDir dir;
    std::ofstream(dir.path() / "out", std::ios::binary) << planted_bytes;
    ASSERT_EQ(tests::aws_cli(*attacker_, "s3api put-object --bucket " + work() +
                                             " --key planted/out.gz --body " +
                                             (dir.path() / "out").string())
                  .exit_code,
              0);
  }
  plant(index_key, json::value_from(index));
  const std::string key = pipeline::group_file_key("evil", "receipts", "g-plant", "json");

  // The receipt names the work bucket as its destination.
  auto receipt = receipt_for("g-plant", kVictimDay);
  receipt.destination_bucket = work();
  receipt.combined.outputs.push_back(index.summary(work(), index_key));
  expect_receipt_refused("evil", "g-plant", key, receipt, "not in the destination bucket");

  // The receipt names the right destination, its output another bucket.
  receipt.destination_bucket = destination();
  expect_receipt_refused("evil", "g-plant", key, receipt,
                         "is not in the destination with its index in the group's ledger");

  // The index, in the group's own ledger folder, names a real output of the destination.
  const auto real = real_output();
  index.where = real.where;
  plant(index_key, json::value_from(index));
  receipt.combined.outputs = {index.summary(work(), index_key)};
  expect_receipt_refused("evil", "g-plant", key, receipt, "is not trusted: it has no seal");
}

// A real, sealed index copied into another group's ledger folder (or edited and its old seal
// kept): a seal holds for its record at its place only.
TEST_F(AnInsiderWithTheWorkBucket, ASealedIndexMovedOrEditedDecidesNothing) {
  const auto real = real_output();
  auto record = json::parse(
      tests::aws_cli(moto(), "s3 cp 's3://" + work() + "/" + real.index_key + "' -").out);
  const auto output = pipeline::read_record<pipeline::OutputRecord>(record);
  const std::string moved =
      pipeline::ledger_key(pipeline::ledger_run_prefix(kVictimDay, "g-moved", "evil"), "x");
  plant(moved, record);
  auto receipt = receipt_for("g-moved", kVictimDay);
  receipt.combined.outputs.push_back(output.summary(work(), moved));
  const std::string key = pipeline::group_file_key("evil", "receipts", "g-moved", "json");
  expect_receipt_refused("evil", "g-moved", key, receipt, "its seal is not for this record");

  // Edited in place: a victim put among its sources, the seal kept.
  auto& sources = record.as_object().at("sources").as_array();
  sources.at(0) = json::value_from(source_of(victims_[0], etag_of(victims_[0])));
  plant(moved, record);
  expect_receipt_refused("evil", "g-moved", key, receipt, "its seal is not for this record");
}

// A receipt kept anywhere but its run's receipts folder, or in another bucket, is not read; a run
// id naming another writer's folder (Athena's results) is not a run.
TEST_F(AnInsiderWithTheWorkBucket, AReceiptOutsideItsRunsFolderIsNotRead) {
  auto receipt = receipt_for("g-where", kVictimDay);
  for (const auto& victim : victims_)
    receipt.combined.empty_sources.push_back(source_of(victim, etag_of(victim)));
  plant("work/evil/elsewhere.json", json::value_from(receipt));
  expect_refused(delete_with("evil", "g-where", work(), "work/evil/elsewhere.json"),
                 "VerificationFailed", "is not where run evil keeps the group's");
  expect_refused(delete_with("evil", "g-where", destination(), "work/evil/elsewhere.json"),
                 "VerificationFailed", "is not where run evil keeps the group's");
  const std::string athena =
      "work/athena-results/receipts/" + pipeline::work_file_name("g-where") + ".json";
  plant(athena, json::value_from(receipt));
  expect_refused(delete_with("athena-results", "g-where", work(), athena), "InvalidInput",
                 "names a folder of the work bucket that is not a run's");
}

// A plan planted for CombineLogFiles giving a victim a size of one byte: combined as planned, its
// output and sealed index would hold one byte of the victim, and DeleteOriginals delete all of it.
// S3's word on the size is taken over the plan's, whether the victim is copied or combined.
TEST_F(AnInsiderWithTheWorkBucket, APlanThatUnderstatesAVictimsSizeCombinesNothing) {
  for (const bool copy : {true, false}) {
    SCOPED_TRACE(copy ? "copied as it is" : "combined");
    pipeline::Plan plan;
    plan.group_id = copy ? "g-size-copy" : "g-size";
    plan.source_bucket = "adv-ct";
    plan.date = kVictimDay;
    plan.operation = copy ? pipeline::Operation::kCopyAll : pipeline::Operation::kAggregate;
    pipeline::PlannedOutput planned;
    planned.key_base = "aggregated/evil/" + plan.group_id;
    planned.copy = copy;
    planned.part_size = 5 << 20;
    auto victim = source_of(victims_[0], etag_of(victims_[0]));
    victim.size = copy ? 1 : (12u << 20);  // a large source is read in ranges: its size is S3's
    planned.sources.push_back(victim);
    plan.outputs.push_back(planned);
    const std::string plan_key = pipeline::group_file_key("evil", "plans", plan.group_id, "json");
    plant(plan_key, json::value_from(plan));
    const auto ledger_before =
        tests::cli_keys(moto(), work(), std::string("ledger/") + kVictimDay + "/");
    const auto run = stack_->invoke(
        "CombineLogFilesFunction",
        json::object{{"run_id", "evil"},
                     {"group_id", plan.group_id},
                     {"operation", copy ? "copy_all" : "aggregate"},
                     {"plan", {{"bucket", work()}, {"key", plan_key}, {"count", 1}, {"bytes", 0}}},
                     {"outputs", 1},
                     {"files", 1},
                     {"bytes", victim.size},
                     {"already_combined", 0}});
    expect_refused(run, "VerificationFailed", "its plan says " + std::to_string(victim.size));
    EXPECT_EQ(tests::cli_keys(moto(), work(), std::string("ledger/") + kVictimDay + "/"),
              ledger_before)
        << "nothing was recorded in the ledger";
  }
}

// Someone who may send to the notification queue (and nothing else) sends S3's notification of
// each victim, as S3 would for a bucket being batched, with DeleteAfterBatch on: ManifestBuilder
// batches the batching buckets only, so no manifest is cut and nothing is moved or deleted.
TEST_F(AnInsiderWithTheWorkBucket, ANotificationForTheArchiveMovesNothing) {
  const std::string queue = stack_->resource("NotificationQueue");
  const std::string queue_arn =
      "arn:aws:sqs:us-east-1:123456789012:" + queue.substr(queue.rfind('/') + 1);
  const auto& admin = moto();
  const tests::MotoFixture sender = user_allowed("sender", "sqs:SendMessage", queue_arn);
  for (const auto& victim : victims_) {
    const auto body =
        tests::s3_object_created("adv-ct", victim.key, victim.bytes.size(), etag_of(victim));
    tests::TempDir dir;
    std::ofstream(dir.path() / "body") << json::serialize(body);
    const auto sent =
        tests::aws_cli(sender, "sqs send-message --queue-url " + queue + " --message-body file://" +
                                   (dir.path() / "body").string());
    ASSERT_EQ(sent.exit_code, 0) << sent.err;
  }
  const auto run = tests::run_sqs_event_source(*stack_, queue, "ManifestBuilderFunction", 1);
  EXPECT_GE(run.invocations, 1);
  EXPECT_EQ(run.failed_records, 0);
  const std::string log = stack_->function_log("ManifestBuilderFunction");
  EXPECT_NE(log.find("a notification for a bucket that is not batched"), std::string::npos);
  const auto files = tests::ledger_file_states(
      json::parse(
          tests::aws_cli(admin, "dynamodb scan --table-name " + stack_->resource("LedgerTable"))
              .out)
          .at("Items")
          .as_array());
  for (const auto& victim : victims_) EXPECT_FALSE(files.contains(victim.key)) << victim.key;
  // The day is over: a flush would cut whatever was recorded for it.
  const auto flushed =
      stack_->invoke("ManifestBuilderFunction", json::parse(R"({"action":"flush"})"));
  EXPECT_EQ(flushed.response.at("manifests_started").as_int64(), 0) << flushed.logs;
  const auto executions =
      json::parse(tests::aws_cli(admin, "stepfunctions list-executions --state-machine-arn " +
                                            stack_->state_machine("ProcessManifestStateMachine"))
                      .out);
  EXPECT_TRUE(executions.at("executions").as_array().empty()) << "no manifest was cut";
  for (const auto& victim : victims_)
    EXPECT_EQ(read_version(victim.key, victim.version_id), victim.bytes) << victim.key;
}

// A checkpoint planted where CombineLogFiles keeps its own, claiming an output adopted with the
// victims in it: without the seal it is not resumed from, and nothing reaches the ledger.
TEST_F(AnInsiderWithTheWorkBucket, APlantedCheckpointIsNotResumedFrom) {
  const auto real = real_output();
  pipeline::OutputRecord adopted;
  adopted.where = real.where;
  adopted.source_bucket = "adv-ct";
  for (const auto& victim : victims_) adopted.sources.push_back(source_of(victim, etag_of(victim)));
  pipeline::Plan plan;
  plan.group_id = "g-check";
  plan.source_bucket = "adv-ct";
  plan.date = kVictimDay;
  pipeline::PlannedOutput planned;
  planned.key_base = "aggregated/evil/out";
  planned.part_size = 5 << 20;
  planned.sources = adopted.sources;
  plan.outputs.push_back(planned);
  const std::string plan_key = pipeline::group_file_key("evil", "plans", "g-check", "json");
  plant(plan_key, json::value_from(plan));
  const std::string checkpoint = pipeline::checkpoint_key("evil", "progress", "g-check", 1, "json");
  pipeline::Combined progress;
  progress.outputs.push_back(adopted);
  plant(checkpoint,
        json::object{{"output", 1}, {"state", nullptr}, {"progress", json::value_from(progress)}});
  const auto ledger_before =
      tests::cli_keys(moto(), work(), std::string("ledger/") + kVictimDay + "/");
  const auto run = stack_->invoke(
      "CombineLogFilesFunction",
      json::object{
          {"run_id", "evil"},
          {"group_id", "g-check"},
          {"operation", "aggregate"},
          {"plan", {{"bucket", work()}, {"key", plan_key}, {"count", 1}, {"bytes", 0}}},
          {"outputs", 1},
          {"files", victims_.size()},
          {"bytes", 0},
          {"already_combined", 0},
          {"continuation",
           {{"progress", {{"bucket", work()}, {"key", checkpoint}, {"count", 0}, {"bytes", 0}}},
            {"sequence", 1}}}});
  expect_refused(run, "VerificationFailed", "is not trusted: it has no seal");
  EXPECT_EQ(tests::cli_keys(moto(), work(), std::string("ledger/") + kVictimDay + "/"),
            ledger_before)
      << "nothing was recorded in the ledger";
}

}  // namespace
