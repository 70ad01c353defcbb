// Every record the functions hand each other reads back from its JSON fixture
// (tests/fixtures/records/) as the same JSON, and a malformed one is InvalidInput, never a
// half-read record or boost's system_error.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "common/dates.h"
#include "pipeline/continuation.h"
#include "pipeline/records.h"
#include "runtime/errors.h"
#include "tests/test_support.h"

namespace {

namespace json = boost::json;
using namespace pipeline;

json::value fixture(const std::string& name) {
  std::ifstream in(tests::source_path("tests/fixtures/records/" + name + ".json"));
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

template <typename T>
T round_trip(const std::string& name) {
  const json::value written = fixture(name);
  const T record = read_record<T>(written);
  EXPECT_EQ(json::value_from(record), written) << name;
  EXPECT_EQ(read_record<T>(json::value_from(record)), record) << name;
  return record;
}

void expect_invalid(const std::function<void()>& read, const std::string& what,
                    const std::string& named) {
  try {
    read();
    ADD_FAILURE() << what << " was read";
  } catch (const runtime::InvalidInput& error) {
    EXPECT_NE(std::string(error.what()).find(named), std::string::npos)
        << what << ": " << error.what();
  }
}

json::value with(json::value record, const std::string& field, json::value value) {
  record.as_object()[field] = std::move(value);
  return record;
}
json::value without(json::value record, const std::string& field) {
  record.as_object().erase(field);
  return record;
}

TEST(Records, EachFixtureReadsBackAsTheSameJson) {
  const auto entry = round_trip<FileEntry>("file_entry");
  EXPECT_EQ(entry.size, 1234u);
  EXPECT_FALSE(round_trip<FileEntry>("file_entry_by_hand").size.has_value()) << "asked of S3";
  const auto tower = round_trip<Group>("group_control_tower");
  EXPECT_EQ(tower.kind, GroupKind::kControlTower);
  EXPECT_EQ(tower.run_id, "day-2026-03-05");
  EXPECT_EQ(tower.files.count, 3);
  EXPECT_EQ(round_trip<Group>("group_other").directory, "app/2026-03-05/");
  const auto plan = round_trip<Plan>("plan");
  ASSERT_EQ(plan.outputs.size(), 1u);
  EXPECT_EQ(plan.outputs[0].sources[1].version_id, "v2");
  ASSERT_EQ(plan.already_combined.size(), 1u);
  EXPECT_EQ(plan.already_combined[0].output.etag, "\"m-1\"");
  EXPECT_TRUE(round_trip<Plan>("plan_copy_all").outputs[0].copy);
  const auto apart = round_trip<Plan>("plan_sources_apart");
  ASSERT_TRUE(apart.outputs[0].sources_file.has_value()) << "the sources in a file of their own";
  EXPECT_EQ(apart.outputs[0].sources_file->count, 100);
  EXPECT_TRUE(apart.outputs[0].sources.empty());
  const auto receipt = round_trip<Receipt>("receipt");
  EXPECT_EQ(receipt.combined.files(), 2u);
  EXPECT_EQ(receipt.combined.skipped[0].reason, "zstd compressed: neither gzip nor text");
  const auto summaries = round_trip<Receipt>("receipt_summaries");
  ASSERT_EQ(summaries.combined.outputs.size(), 1u);
  ASSERT_TRUE(summaries.combined.outputs[0].index.has_value()) << "the index stays in the ledger";
  EXPECT_TRUE(summaries.combined.outputs[0].sources.empty());
  EXPECT_EQ(summaries.combined.files(), 100u);
  EXPECT_EQ(summaries.combined.bytes_in(), 831004u);
  EXPECT_EQ(round_trip<OutputRecord>("output_record").parts, 1u);
  EXPECT_TRUE(round_trip<OutputRecord>("output_record").offsets.empty())
      << "a record written before outputs kept their index";
  const auto indexed = round_trip<OutputRecord>("output_record_indexed");
  EXPECT_EQ(indexed.source_bucket, "aws-controltower-logs-111111111111-eu-west-1");
  EXPECT_EQ(indexed.offsets, (std::vector<std::uint64_t>{0, 5140}));
}

TEST(Records, AnIndexPlacingAnOriginalOutsideItsOutputOrOverAnotherIsAProblem) {
  auto record = read_record<OutputRecord>(fixture("output_record_indexed"));
  EXPECT_EQ(record.index_problem(), std::nullopt);
  record.offsets = {0, 5100};  // the second would start inside the first (5,120 bytes)
  EXPECT_NE(record.index_problem().value_or("").find("inside the original before it"),
            std::string::npos);
  record.offsets = {0, 5150};  // 5,150 + 31 is past the output's 5,171 bytes
  EXPECT_NE(record.index_problem().value_or("").find("would end at byte 5181 of 5171"),
            std::string::npos);
  record.offsets = {0, 5140};
  record.content_sha256[1] = "not a digest";
  EXPECT_NE(record.index_problem().value_or("").find("is not a SHA-256 in hex: 'not a digest'"),
            std::string::npos);
  EXPECT_EQ(read_record<OutputRecord>(fixture("output_record")).index_problem(), std::nullopt)
      << "no index, nothing to contradict";
}

TEST(Records, AnIndexWhoseOffsetsDoNotMatchItsSourcesIsRefused) {
  auto record = fixture("output_record_indexed");
  record.as_object()["offsets"] = json::array{0};
  expect_invalid([&] { read_record<OutputRecord>(record); }, "1 offsets for 2 sources", "offsets");
  record.as_object()["offsets"] = json::array{0, -5};
  expect_invalid([&] { read_record<OutputRecord>(record); }, "whole numbers", "offsets");
  record.as_object()["offsets"] = json::array{0, 5140};
  record.as_object()["sha256"] = json::array{record.at("sha256").at(0)};
  expect_invalid([&] { read_record<OutputRecord>(record); }, "1 sha256 digests for 2 sources",
                 "sha256");
  record.as_object().erase("sha256");
  expect_invalid([&] { read_record<OutputRecord>(record); }, "content digests without the others",
                 "\"sha256\" and \"content_sha256\" together");
}

TEST(Records, EachContinuationReadsBackAsTheSameJson) {
  EXPECT_EQ(round_trip<ListingUnit>("listing_unit").prefixes.size(), 2u);
  EXPECT_EQ(round_trip<ListingContinuation>("continuation_listing").next, 16u);
  EXPECT_EQ(round_trip<CombineContinuation>("continuation_combine").sequence, 2u);
  EXPECT_TRUE(round_trip<DeleteContinuation>("continuation_delete").failed_keys.has_value());
}

TEST(Records, EachStepsResultReadsBackAsTheSameJson) {
  const auto listing = round_trip<ListingResult>("result_listing");
  EXPECT_EQ(listing.group_count, 12u);
  EXPECT_EQ(listing.short_groups.count + listing.long_groups.count, listing.groups.count);
  const auto plan = round_trip<PlanResult>("result_plan");
  ASSERT_TRUE(plan.plan.has_value());
  EXPECT_EQ(round_trip<CombineResult>("result_combine").skipped, 1u);
  EXPECT_EQ(round_trip<DeleteResult>("result_delete").failed, 1u);
  // A step with nothing to combine names no plan; any other must.
  EXPECT_FALSE(
      read_record<PlanResult>(with(without(fixture("result_plan"), "plan"), "operation", "none"))
          .plan);
  expect_invalid([&] { read_record<PlanResult>(without(fixture("result_plan"), "plan")); },
                 "an aggregate step without its plan", "\"plan\"");
}

// A continuation that is not the function's own is InvalidInput saying whose it must be.
TEST(Records, AForeignContinuationIsRefusedNamingTheFunction) {
  const json::object event{{"continuation", fixture("continuation_combine")}};
  expect_invalid([&] { continuation_of<DeleteContinuation>(event, "DeleteOriginals"); },
                 "a combine state given to delete", "not one DeleteOriginals returned");
  expect_invalid(
      [&] {
        continuation_of<ListingContinuation>(
            {{"continuation",
              with(fixture("continuation_listing"), "newest_allowed", "yesterday")}},
            "GetFiles");
      },
      "a listing state with no time", "newest_allowed");
  EXPECT_FALSE(continuation_of<CombineContinuation>(json::object{}, "CombineLogFiles"));
  EXPECT_EQ(checkpoint_key("run-1", "progress", "g/1", 3, "json"),
            "work/run-1/progress/" + work_file_name("g/1") + "-3.json");
}

// An unversioned bucket lists every object's version as "null": it is no version to pin.
TEST(Records, TheNullVersionIsNotWritten) {
  const json::value source = json::value_from(Source{"a.log", 3, "\"e\"", "null"});
  EXPECT_FALSE(source.as_object().contains("version_id"));
}

TEST(Records, AMalformedRecordIsInvalidInputNamingTheField) {
  const json::value entry = fixture("file_entry");
  expect_invalid([&] { read_record<FileEntry>(without(entry, "key")); }, "no key", "\"key\"");
  expect_invalid([&] { read_record<FileEntry>(with(entry, "size", -1)); }, "size -1", "\"size\"");
  expect_invalid([&] { read_record<FileEntry>(with(entry, "size", 1.5)); }, "size 1.5", "\"size\"");
  expect_invalid([&] { read_record<FileEntry>(with(entry, "etag", 7)); }, "etag 7", "\"etag\"");
  expect_invalid([&] { read_record<FileEntry>(json::value("a.log")); }, "a string", "object");

  const json::value group = fixture("group_control_tower");
  expect_invalid([&] { read_record<Group>(with(group, "kind", "mystery")); }, "kind", "mystery");
  expect_invalid([&] { read_record<Group>(with(group, "date", "05/03/2026")); }, "date",
                 "\"date\"");
  expect_invalid([&] { read_record<Group>(without(group, "account")); }, "account", "\"account\"");
  expect_invalid([&] { read_record<Group>(with(group, "run_id", "../up")); }, "run id", "run_id");
  expect_invalid([&] { read_record<Group>(with(group, "files", "s3://x")); }, "files", "");

  const json::value plan = fixture("plan");
  expect_invalid([&] { read_record<Plan>(with(plan, "operation", "merge")); }, "operation",
                 "merge");
  expect_invalid([&] { read_record<Plan>(with(plan, "outputs", json::object{})); }, "outputs",
                 "\"outputs\"");
  json::value bad_output = plan;
  bad_output.at("outputs").as_array()[0].as_object()["copy"] = "yes";
  expect_invalid([&] { read_record<Plan>(bad_output); }, "copy", "\"copy\"");
  json::value bad_source = plan;
  bad_source.at("outputs").as_array()[0].at("sources").as_array()[0].as_object().erase("etag");
  expect_invalid([&] { read_record<Plan>(bad_source); }, "a source's etag", "\"etag\"");

  const json::value receipt = fixture("receipt");
  expect_invalid([&] { read_record<Receipt>(without(receipt, "destination_bucket")); },
                 "destination", "\"destination_bucket\"");
  expect_invalid([&] { read_record<Receipt>(with(receipt, "skipped", json::array{1})); },
                 "skipped 1", "object");
  json::value bad_already = receipt;
  bad_already.at("already_combined").as_array()[0].as_object().erase("output");
  expect_invalid([&] { read_record<Receipt>(bad_already); }, "already combined", "\"output\"");
  json::value both = fixture("receipt_summaries");
  both.at("outputs").as_array()[0].as_object()["sources"] = json::array{};
  both.at("outputs").as_array()[0].as_object()["offsets"] = json::array{0};
  expect_invalid([&] { read_record<Receipt>(both); }, "a summary with an index", "is a summary");
}

// LogForwarder's backfill: the request an operator writes, a batch of Step Functions' S3 listing
// (its field names and epoch seconds, as AWS documents the listObjectsV2 reader), the result.
TEST(Records, TheBackfillsRecordsReadBackAsTheSameJson) {
  EXPECT_EQ(round_trip<BackfillRequest>("backfill_request").source, "s3://zscaler-logs/web/");
  const auto batch = round_trip<BackfillBatch>("backfill_batch");
  ASSERT_EQ(batch.items.size(), 2u);
  EXPECT_EQ(batch.items[0].key, "web/2026/03/05/a b+c.json.gz");
  EXPECT_EQ(batch.items[0].last_modified, 1772672400);
  EXPECT_EQ(batch.items[1].storage_class, "");
  EXPECT_EQ(round_trip<BackfillResult>("result_backfill").outside, 1u);
  auto item = fixture("backfill_batch").at("Items").at(0);
  expect_invalid([&] { read_record<ListedObject>(with(item, "LastModified", "2026-03-05")); },
                 "a listed object modified at a text", "\"LastModified\"");
  expect_invalid([&] { read_record<ListedObject>(with(item, "LastModified", 99999999999999)); },
                 "a listed object modified after any clock can count", "\"LastModified\"");
  expect_invalid([&] { read_record<ListedObject>(without(item, "Etag")); },
                 "a listed object without its ETag", "\"Etag\"");
}

TEST(Records, TheAmplifyExportsRecordsReadBackAsTheSameJson) {
  const auto plan = round_trip<AmplifyPlan>("amplify_plan");
  ASSERT_EQ(plan.apps.size(), 2u);
  EXPECT_EQ(plan.apps[1].app.role_arn, "arn:aws:iam::222222222222:role/logs/amplify-export");
  EXPECT_EQ(common::format_utc_seconds(round_trip<AmplifyChunk>("amplify_chunk").range.end),
            "2026-11-23T00:00:00Z");
  EXPECT_EQ(round_trip<AmplifyExport>("result_amplify").splits, 3u);

  const auto app = fixture("amplify_chunk").at("app");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "appId", "D1A2")); },
                 "an app id Amplify would refuse", "\"appId\"");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "domainName", "-bad-.example.com")); },
                 "a domain name Amplify would refuse", "\"domainName\"");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "appName", "a/../b")); },
                 "an app name that is not one folder", "\"appName\"");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "appName", "")); }, "an empty app name",
                 "\"appName\"");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "accountId", "12345")); },
                 "an account id of five digits", "\"accountId\"");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "roleArn", "amplify-export")); },
                 "a role that is not an ARN", "\"roleArn\"");
  expect_invalid([&] { read_record<AmplifyApp>(with(app, "Region", "eu-west-1")); },
                 "a misspelt field", "\"Region\"");
  const auto chunk = fixture("amplify_chunk");
  expect_invalid(
      [&] { read_record<AmplifyChunk>(with(chunk, "start", "2026-11-16T00:00:00.500Z")); },
      "a start within a second", "\"start\"");
  expect_invalid([&] { read_record<AmplifyChunk>(with(chunk, "end", "2026-11-16T00:00:00Z")); },
                 "a chunk that ends where it starts", "\"start\" before \"end\"");
}

}  // namespace
