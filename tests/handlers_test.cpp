// The handlers called in-process, as their main() would, against moto: the typed records go in,
// continuations come back and are fed in again, and the state S3 ends in is read with the aws CLI.
// (The pipeline tests run the bootstraps as processes, for what only a process shows.)
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include "common/deadline.h"
#include "common/gzip.h"
#include "functions/combine_log_files/handler.h"
#include "functions/delete_originals/handler.h"
#include "functions/determine_operation_type/handler.h"
#include "pipeline/continuation.h"
#include "pipeline/plan_files.h"
#include "pipeline/records.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;
using namespace pipeline;

class Handlers : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tests::create_buckets(moto_, {source_, work_, destination_}));
  }
  template <typename Record>
  FileRef put_record(const std::string& key, const Record& record) {
    s3_.put_object(work_, key, json::serialize(json::value_from(record)));
    return FileRef{work_, key, 0, 0};
  }
  template <typename Record>
  Record read_back(const json::value& reference) {
    return read_record<Record>(read_json(s3_, read_record<FileRef>(reference)));
  }
  // Calls `handle` with a deadline already reached (one unit of work a call) until no
  // continuation comes back; returns the last result and how many calls it took.
  template <typename Handle>
  std::pair<json::value, int> run_by_units(json::value event, Handle handle) {
    for (int calls = 1; calls <= 100; ++calls) {
      json::value result = handle(event, common::Deadline(std::chrono::milliseconds(0)));
      if (!result.as_object().contains("continuation")) return {result, calls};
      event = result;
    }
    ADD_FAILURE() << "no end after 100 calls";
    return {};
  }

  tests::MotoFixture moto_ = tests::moto_fixture(true);
  common::S3Client s3_{tests::moto_options(moto_)};
  pipeline::Seals seals_{tests::moto_options(moto_), tests::seal_key(moto_)};
  std::string source_ = tests::unique_name("src"), work_ = tests::unique_name("work"),
              destination_ = tests::unique_name("dest");
};

// DetermineOperationType's Plan, CombineLogFiles' Receipt, DeleteOriginals through continuations
// of one key a call: what each record says is so.
TEST_F(Handlers, AGroupGoesFromFileListToPlanToReceiptToDeletionInProcess) {
  std::vector<json::object> lines;
  std::string expected;
  for (int i = 0; i < 5; ++i) {
    const std::string key = "app/2026-03-05/f" + std::to_string(i) + ".log";
    const std::string text = "line " + std::to_string(i) + "\n";
    s3_.put_object(source_, key, i % 2 ? common::gzip(text) : text);
    lines.push_back(json::value_from(FileEntry{key, std::nullopt, "", "", ""}).as_object());
  }
  Group group;
  group.group_id = source_ + "/app/2026-03-05/";
  group.source_bucket = source_;
  group.date = "2026-03-05";
  group.directory = "app/2026-03-05/";
  group.run_id = "in-process";
  group.files = write_jsonl(s3_, work_, "lists/g.jsonl", lines, 0);

  functions::determine_operation_type::Config planning;
  planning.work_bucket = work_;
  planning.destination_bucket = destination_;
  const json::value planned = functions::determine_operation_type::handle(
      planning, s3_, seals_.checker(), json::value_from(group));
  const auto plan = read_back<Plan>(planned.at("plan"));
  ASSERT_EQ(plan.outputs.size(), 1u);
  EXPECT_EQ(pipeline::planned_sources(s3_, plan.outputs[0]).size(), 5u)
      << "sizes and etags asked of S3";

  functions::combine_log_files::Config combining;
  combining.work_bucket = work_;
  combining.destination_bucket = destination_;
  const auto [combined, combine_calls] =
      run_by_units(planned, [&](const json::value& event, const common::Deadline& d) {
        return functions::combine_log_files::handle(combining, s3_, seals_, event, d);
      });
  EXPECT_EQ(combine_calls, 1) << "small sources commit at the end: no point to stop at before";
  const auto receipt = read_back<Receipt>(combined.at("receipt"));
  ASSERT_EQ(receipt.combined.outputs.size(), 2u) << "gzip and plain apart";
  EXPECT_EQ(receipt.combined.files(), 5u);
  for (const auto& output : receipt.combined.outputs) {
    const auto head = tests::aws_cli(
        moto_, "s3api head-object --bucket " + destination_ + " --key '" + output.where.key + "'");
    EXPECT_NE(head.out.find(output.where.etag.substr(1, output.where.etag.size() - 2)),
              std::string::npos)
        << head.out;
  }

  functions::delete_originals::Config deleting;
  deleting.work_bucket = work_;
  deleting.destination_bucket = destination_;
  deleting.delete_concurrency = 1;
  deleting.keys_per_request = 1;
  const auto [deleted, delete_calls] =
      run_by_units(combined, [&](const json::value& event, const common::Deadline& d) {
        return functions::delete_originals::handle(deleting, s3_, seals_.checker(), event, d);
      });
  EXPECT_EQ(delete_calls, 5) << "one key a call";
  EXPECT_EQ(deleted.at("deleted").to_number<std::int64_t>(), 5);
  EXPECT_TRUE(tests::cli_keys(moto_, source_).empty()) << "every original combined is gone";
  EXPECT_EQ(tests::cli_keys(moto_, destination_).size(), 2u) << "the outputs stay";
}

// process_manifest's event: the manifest is planned in the call into batch outputs, and the
// manifest id is the receipt's group (run under the sanitizers, as every in-process test).
TEST_F(Handlers, AManifestIsPlannedAndCombinedInOneCall) {
  json::array manifest;
  for (int i = 0; i < 3; ++i) {
    const std::string key = "app/2026-03-05/m" + std::to_string(i) + ".log";
    s3_.put_object(source_, key, "manifest line " + std::to_string(i) + "\n");
    const auto head = s3_.head_object(source_, key);
    manifest.push_back(json::value_from(Source{key, head.size, head.etag, ""}));
  }
  s3_.put_object(work_, "work/m-7/manifest.json", json::serialize(manifest));
  functions::combine_log_files::Config combining;
  combining.work_bucket = work_;
  combining.destination_bucket = destination_;
  const json::value result = functions::combine_log_files::handle(
      combining, s3_, seals_,
      json::object{{"manifest_id", "m-7"},
                   {"source_bucket", source_},
                   {"date", "2026-03-05"},
                   {"manifest", json::value_from(FileRef{work_, "work/m-7/manifest.json", 3, 0})}},
      common::Deadline(std::chrono::seconds(60)));
  const auto receipt = read_back<Receipt>(result.at("receipt"));
  EXPECT_EQ(receipt.group_id, "m-7");
  ASSERT_EQ(receipt.combined.outputs.size(), 1u);
  EXPECT_EQ(receipt.combined.outputs[0].where.key,
            "aggregated/" + source_ + "/date=2026-03-05/batch-m-7-0001.log");
  EXPECT_EQ(receipt.combined.files(), 3u);
}

// A continuation is read as the function's own state or refused, before anything is touched.
TEST_F(Handlers, AContinuationFromAnotherFunctionIsInvalidInputAndDeletesNothing) {
  s3_.put_object(source_, "a.log", "a\n");
  const Receipt receipt{"g", source_, destination_, {}, {}};
  json::object event{
      {"receipt", json::value_from(put_record("receipt.json", receipt))},
      {"run_id", "r"},
      {"continuation", json::value_from(CombineContinuation{{work_, "p", 0, 0}, 1})}};
  functions::delete_originals::Config deleting;
  try {
    functions::delete_originals::handle(deleting, s3_, seals_.checker(), event,
                                        common::Deadline(std::chrono::seconds(60)));
    ADD_FAILURE() << "a combine state was taken for a delete state";
  } catch (const runtime::InvalidInput& error) {
    EXPECT_NE(std::string(error.what()).find("not one DeleteOriginals returned"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(tests::cli_keys(moto_, source_).size(), 1u);
}

}  // namespace
