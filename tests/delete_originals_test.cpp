// DeleteOriginals at the end of the real chain (every function a bootstrap under lambda-local,
// moto as AWS): only verified, combined versions go; anything newer or changed stays.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "common/s3.h"
#include "pipeline/seal.h"
#include "pipeline/work_files.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

class DeleteOriginalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = tests::unique_name("src");
    work_ = tests::unique_name("work");
    destination_ = tests::unique_name("dest");
    ASSERT_TRUE(tests::create_buckets(moto_, {source_, work_, destination_}));
  }
  void version_source() {
    ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + source_ +
                                        " --versioning-configuration Status=Enabled")
                  .exit_code,
              0);
  }
  std::map<std::string, std::string> environment() const {
    return {{"WORK_BUCKET", work_},
            {"DESTINATION_BUCKET", destination_},
            {"DESTINATION_PREFIX", "agg"},
            {"OTHER_BUCKETS", source_},
            {"DELAY_WINDOW_S", "0"}};
  }
  // GetFiles -> DetermineOperationType -> CombineLogFiles for the single group of the day; returns
  // Combine's result with run_id, ready for DeleteOriginals.
  json::object combine_day(
      const std::function<void()>& after_listing = [] {}, const std::string& run_id = "run") {
    const auto found = tests::invoke_handler(
        moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", run_id}}, environment());
    EXPECT_EQ(found.exit_code, 0) << found.logs;
    const auto groups = pipeline::read_json_array(
        s3_, pipeline::FileRef::from_json(found.response.at("groups"), "g"));
    EXPECT_EQ(groups.size(), 1u);
    json::object group = groups.at(0).as_object();
    group["run_id"] = run_id;
    after_listing();
    auto planned = tests::invoke_handler(moto_, "DetermineOperationType", group, environment());
    EXPECT_EQ(planned.exit_code, 0) << planned.logs;
    json::object plan = planned.response.as_object();
    plan["run_id"] = run_id;
    auto combined = tests::invoke_handler(moto_, "CombineLogFiles", plan, environment());
    EXPECT_EQ(combined.exit_code, 0) << combined.logs;
    json::object result = combined.response.as_object();
    result["run_id"] = run_id;
    return result;
  }
  void expect_an_edited_receipt_deletes_nothing(
      const std::function<void(json::object& index)>& edit_index, const std::string& says,
      const std::function<void(json::object& summary)>& edit_summary = {}, bool reseal = true);
  // The key's versions ({version id, ETag}) as the aws CLI lists them: the claims about what
  // was deleted are checked with an independent client.
  std::vector<std::pair<std::string, std::string>> versions(const std::string& key) {
    return tests::cli_versions(moto_, source_, key);
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  std::string source_, work_, destination_;
};

// A key overwritten during the day: every version listed is an original of its own, combined in
// the order it was written, and exactly the combined versions go; the version written after
// listing survives.
TEST_F(DeleteOriginalsTest, EveryVersionIsCombinedAndExactlyTheCombinedVersionsGo) {
  version_source();
  const std::string dir = "app/2026-03-05/";
  for (int v = 0; v < 3; ++v) {
    s3_.put_object(source_, dir + "a.log", "a version " + std::to_string(v) + "\n");
    s3_.put_object(source_, dir + "b.log", "b version " + std::to_string(v) + "\n");
  }
  s3_.put_object(source_, "app/2026-03-04/other-day.log", "yesterday\n");
  std::string newer;
  const auto combined = combine_day([&] {
    newer = s3_.put_object(source_, dir + "b.log", "b written after listing\n").version_id;
  });
  EXPECT_EQ(json::serialize(combined.at("files")), "6") << json::serialize(combined);
  const auto run = tests::invoke_handler(moto_, "DeleteOriginals", combined, environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("failed").as_int64(), 0);
  EXPECT_TRUE(versions(dir + "a.log").empty()) << "every version of a was combined, and is gone";
  const auto b = versions(dir + "b.log");
  ASSERT_EQ(b.size(), 1u) << "only the version written after listing is left";
  EXPECT_EQ(b[0].first, newer);
  EXPECT_EQ(tests::aws_cli(moto_, "s3 cp s3://" + source_ + "/" + dir + "b.log -").out,
            "b written after listing\n");
  EXPECT_EQ(versions("app/2026-03-04/other-day.log").size(), 1u) << "other days untouched";
  // The combined output holds every deleted version's content, exactly once, oldest first.
  const auto listed = s3_.list_all(destination_);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(tests::aws_cli(moto_, "s3 cp s3://" + destination_ + "/" + listed[0].key + " -").out,
            "a version 0\na version 1\na version 2\nb version 0\nb version 1\nb version 2\n");
}

// A day whose outputs were verified but whose deletions never ran (DeleteOriginals failed, the
// Map run was aborted), run again: what is already in a standing output goes straight to
// deletion, and every line is in the destination exactly once.
// An Express child execution (a short group of the daily run) runs at least once: the same
// group's steps, with the same run id, may run twice side by side. Each bootstrap runs as its own
// process; a chain that fails is retried as Step Functions retries it. Every original ends up in
// exactly one output, byte for byte, no output key gets a second version, and every original goes.
TEST_F(DeleteOriginalsTest, AGroupsStepsRunTwiceAtOnceCombineEachOriginalOnce) {
  version_source();
  ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + destination_ +
                                      " --versioning-configuration Status=Enabled")
                .exit_code,
            0);
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    const std::string line = "line " + std::to_string(i) + " " +
                             std::string(static_cast<std::size_t>(i) * 50, 'x') + "\n";
    s3_.put_object(source_, "app/2026-03-05/" + std::to_string(100 + i) + ".log", line);
    expected += line;
  }
  const auto found = tests::invoke_handler(
      moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "express"}}, environment());
  ASSERT_EQ(found.exit_code, 0) << found.logs;
  json::object group = pipeline::read_json_array(s3_, pipeline::FileRef::from_json(
                                                          found.response.at("short_groups"), "g"))
                           .at(0)
                           .as_object();
  group["run_id"] = "express";

  // One child's steps as the state machine runs them: a step is retried until it answers (at
  // most 5 times), and a continuation is fed back in; the number of failed attempts.
  auto chain = [&](std::string& failures) {
    auto step = [&](const char* function, json::value event) {
      for (int attempt = 0; attempt < 5; ++attempt) {
        auto run = tests::invoke_function(moto_, function, event, environment());
        if (run.exit_code == 0) return run.response;
        failures += std::string(function) + ": " + json::serialize(run.response) + "\n";
      }
      return json::value();
    };
    json::value result = step("DetermineOperationType", group);
    if (!result.is_object() || result.at("operation") == "none") return;
    for (const char* function : {"CombineLogFiles", "DeleteOriginals"}) {
      if (!result.is_object()) return;
      do {
        result.as_object()["run_id"] = "express";
        result = step(function, result);
      } while (result.is_object() && result.as_object().contains("continuation"));
    }
  };
  std::string first_failures, second_failures;
  std::thread second([&] { chain(second_failures); });
  chain(first_failures);
  second.join();
  std::cout << "failed attempts, retried:\n" << first_failures << second_failures;

  EXPECT_TRUE(s3_.list_all(source_).empty()) << "every original is deleted";
  std::string combined;
  for (const auto& key : tests::cli_keys(moto_, destination_, "")) {
    const auto output_versions = tests::cli_versions(moto_, destination_, key);
    EXPECT_EQ(output_versions.size(), 1u)
        << key << " written twice, ETags " << output_versions.front().second << " and "
        << output_versions.back().second;
    combined += tests::aws_cli(moto_, "s3 cp s3://" + destination_ + "/" + key + " -").out;
  }
  std::multiset<std::string> lines_out, lines_in;
  for (auto [text, lines] : {std::pair{&combined, &lines_out}, std::pair{&expected, &lines_in}}) {
    std::istringstream stream(*text);
    for (std::string line; std::getline(stream, line);) lines->insert(line);
  }
  EXPECT_EQ(lines_out, lines_in) << "each line once, none lost";
}

TEST_F(DeleteOriginalsTest, ADayRunAgainAfterItsDeletionsFailedCombinesNothingTwice) {
  version_source();
  const std::string dir = "app/2026-03-05/";
  s3_.put_object(source_, dir + "a.log", "a\n");
  s3_.put_object(source_, dir + "b.log", "b\n");
  const auto first = combine_day([] {}, "first");
  ASSERT_EQ(first.at("outputs").as_int64(), 1) << json::serialize(first);
  // DeleteOriginals never ran for the first run. A file arrives late, and the day runs again.
  s3_.put_object(source_, dir + "c.log", "c\n");
  const auto again = combine_day([] {}, "again");
  EXPECT_EQ(again.at("already_combined").as_int64(), 2) << json::serialize(again);
  EXPECT_EQ(again.at("files").as_int64(), 1) << "only the late file is combined";
  const auto run = tests::invoke_handler(moto_, "DeleteOriginals", again, environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("deleted").as_int64(), 3);
  for (const char* name : {"a.log", "b.log", "c.log"})
    EXPECT_TRUE(versions(dir + name).empty()) << name;
  std::string all;
  for (const auto& object : s3_.list_all(destination_))
    all += tests::aws_cli(moto_, "s3 cp s3://" + destination_ + "/" + object.key + " -").out;
  std::multiset<std::string> lines;
  std::istringstream stream(all);
  for (std::string line; std::getline(stream, line);) lines.insert(line);
  EXPECT_EQ(lines, (std::multiset<std::string>{"a", "b", "c"})) << all;
}

// Keys holding "./", "../" and "//" through the whole chain against an S3 that checks every
// signature: listed, combined, and exactly those keys deleted (a client that normalised the path
// would fail SignatureDoesNotMatch, or touch other keys).
TEST(DeleteOriginalsSigned, KeysWithDotSegmentsGoThroughTheDayWithSignaturesChecked) {
  const auto moto = tests::moto_fixture(true);
  common::S3Client s3(tests::moto_options(moto));
  const std::string source = tests::unique_name("dots-src");
  const std::string work = tests::unique_name("dots-work");
  const std::string destination = tests::unique_name("dots-dest");
  ASSERT_TRUE(tests::create_buckets(moto, {source, work, destination}));
  const std::vector<std::string> keys = {"logs/2026-03-05/./a.log", "logs/2026-03-05/x/../b.log",
                                         "logs/2026-03-05//c.log"};
  for (const auto& key : keys) s3.put_object(source, key, key + "\n");
  s3.put_object(source, "logs/2026-03-05/a.log", "a plain neighbour\n");
  const std::map<std::string, std::string> env = {{"WORK_BUCKET", work},
                                                  {"DESTINATION_BUCKET", destination},
                                                  {"DESTINATION_PREFIX", "agg"},
                                                  {"OTHER_BUCKETS", source},
                                                  {"DELAY_WINDOW_S", "0"}};
  const auto found =
      tests::invoke_handler(moto, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "run"}}, env);
  ASSERT_EQ(found.exit_code, 0) << found.logs;
  std::size_t combined = 0;
  for (const auto& item : pipeline::read_json_array(
           s3, pipeline::FileRef::from_json(found.response.at("groups"), "g"))) {
    json::object group = item.as_object();
    group["run_id"] = "run";
    const auto planned = tests::invoke_handler(moto, "DetermineOperationType", group, env);
    ASSERT_EQ(planned.exit_code, 0) << planned.logs;
    json::object plan = planned.response.as_object();
    plan["run_id"] = "run";
    const auto result = tests::invoke_handler(moto, "CombineLogFiles", plan, env);
    ASSERT_EQ(result.exit_code, 0) << result.logs;
    combined += static_cast<std::size_t>(result.response.at("files").as_int64());
    json::object done = result.response.as_object();
    done["run_id"] = "run";
    const auto deleted = tests::invoke_handler(moto, "DeleteOriginals", done, env);
    ASSERT_EQ(deleted.exit_code, 0) << deleted.logs;
  }
  EXPECT_EQ(combined, keys.size() + 1);
  const auto left = tests::aws_cli(moto, "s3api list-objects-v2 --bucket " + source);
  EXPECT_EQ(left.out.find("\"Key\""), std::string::npos) << "every original is gone: " << left.out;
  std::string all;
  for (const auto& object : s3.list_all(destination))
    all += tests::aws_cli(moto, "s3 cp 's3://" + destination + "/" + object.key + "' -").out;
  for (const auto& key : keys) EXPECT_NE(all.find(key + "\n"), std::string::npos) << key;
  EXPECT_NE(all.find("a plain neighbour\n"), std::string::npos);
}

// Unversioned: each key is deleted on condition that it still has the combined ETag, so one
// overwritten after combining survives; the counts carry through continuations (one key per
// invocation here), and the second run of a call changes nothing.
TEST_F(DeleteOriginalsTest, UnversionedFileChangedAfterCombiningIsKept) {
  const std::string dir = "app/2026-03-05/";
  for (const char* name : {"keep-1.log", "keep-2.log", "gone-1.log", "gone-2.log", "gone-3.log"})
    s3_.put_object(source_, dir + name, std::string("combined content of ") + name + "\n");
  const auto combined = combine_day();
  s3_.put_object(source_, dir + "keep-1.log", "new content after combining\n");
  s3_.put_object(source_, dir + "keep-2.log", "new content after combining\n");
  auto env = environment();
  env["MAX_INVOCATION_MS"] = "0";
  env["DELETE_BATCH_KEYS"] = "1";
  env["DELETE_CONCURRENCY"] = "1";
  json::value event = combined;
  tests::Invocation run;
  int invocations = 0;
  do {
    run = tests::invoke_handler(moto_, "DeleteOriginals", event, env);
    ASSERT_EQ(run.exit_code, 0) << run.logs;
    event = run.response;
  } while (run.response.as_object().contains("continuation") && ++invocations < 20);
  EXPECT_GE(invocations, 4);
  EXPECT_EQ(run.response.at("kept_changed").as_int64(), 2) << json::serialize(run.response);
  EXPECT_EQ(run.response.at("deleted").as_int64(), 3);
  std::set<std::string> left;
  for (const auto& object : s3_.list_all(source_)) left.insert(object.key);
  EXPECT_EQ(left, (std::set<std::string>{dir + "keep-1.log", dir + "keep-2.log"}));
  EXPECT_EQ(tests::aws_cli(moto_, "s3 cp s3://" + source_ + "/" + dir + "keep-1.log -").out,
            "new content after combining\n");
}

TEST_F(DeleteOriginalsTest, AnOutputThatDoesNotMatchItsReceiptStopsEverything) {
  const std::string dir = "app/2026-03-05/";
  s3_.put_object(source_, dir + "x.log", "x\n");
  const auto combined = combine_day();
  const auto output = s3_.list_all(destination_).at(0).key;
  // The same size, other bytes: only the ETag tells them apart.
  s3_.put_object(destination_, output, "y\n");
  const auto same_size = tests::invoke_handler(moto_, "DeleteOriginals", combined, environment());
  EXPECT_EQ(same_size.exit_code, 1);
  EXPECT_EQ(same_size.response.at("errorType").as_string(), "VerificationFailed") << same_size.logs;
  EXPECT_EQ(tests::cli_keys(moto_, source_).size(), 1u) << "nothing deleted";
  s3_.put_object(destination_, output, "tampered\n");
  const auto run = tests::invoke_handler(moto_, "DeleteOriginals", combined, environment());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.response.at("errorType").as_string(), "VerificationFailed") << run.logs;
  EXPECT_EQ(tests::cli_keys(moto_, source_).size(), 1u) << "nothing deleted";
  s3_.delete_objects(destination_, {{output, ""}});
  const auto missing = tests::invoke_handler(moto_, "DeleteOriginals", combined, environment());
  EXPECT_EQ(missing.response.at("errorType").as_string(), "VerificationFailed");
  EXPECT_EQ(tests::cli_keys(moto_, source_).size(), 1u);
}

// A day of a.log and b.log combined, then its output's summary in the receipt edited by
// `edit_summary` and its index (the ledger record the summary points at) by `edit_index`, then
// DeleteOriginals: it must fail with VerificationFailed saying `says`, and delete nothing. The
// edited index and receipt are sealed again as CombineLogFiles would seal them (`reseal`): what a
// defect of CombineLogFiles' would write, and what the checks beyond the seal are for; unsealed,
// they are what anyone else who can write the work bucket could write.
void DeleteOriginalsTest::expect_an_edited_receipt_deletes_nothing(
    const std::function<void(json::object& index)>& edit_index, const std::string& says,
    const std::function<void(json::object& summary)>& edit_summary, bool reseal) {
  const std::string dir = "app/2026-03-05/";
  s3_.put_object(source_, dir + "a.log", "a\n");
  s3_.put_object(source_, dir + "b.log", "b\n");
  const auto combined = combine_day();
  const auto ref = pipeline::FileRef::from_json(combined.at("receipt"), "receipt");
  auto receipt = json::parse(s3_.get_object(ref.bucket, ref.key));
  auto& summary = receipt.at("outputs").at(0).as_object();
  const auto index = pipeline::FileRef::from_json(summary.at("index"), "index");
  auto record = json::parse(s3_.get_object(index.bucket, index.key));
  edit_index(record.as_object());
  pipeline::Seals seals(tests::moto_options(moto_), tests::seal_key(moto_));
  if (reseal) seals.sealer().seal(record.as_object(), index.bucket, index.key);
  s3_.put_object(index.bucket, index.key, json::serialize(record));
  if (edit_summary) edit_summary(summary);
  if (reseal) seals.sealer().seal(receipt.as_object(), ref.bucket, ref.key);
  s3_.put_object(ref.bucket, ref.key, json::serialize(receipt));
  const auto run = tests::invoke_handler(moto_, "DeleteOriginals", combined, environment());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.response.at("errorType").as_string(), "VerificationFailed") << run.logs;
  EXPECT_NE(std::string(run.response.at("errorMessage").as_string()).find(says), std::string::npos)
      << run.response;
  EXPECT_EQ(tests::cli_keys(moto_, source_).size(), 2u) << "nothing deleted";
}

// A receipt names each output's index, which must be that output's, with as many originals: one
// pointing elsewhere, or counting otherwise, deletes nothing.
TEST_F(DeleteOriginalsTest, AReceiptWhoseIndexIsNotItsOutputsStopsEverything) {
  expect_an_edited_receipt_deletes_nothing(
      [](json::object&) {}, "is not the index of",
      [](json::object& summary) { summary.at("index").as_object()["count"] = 1; });
}

// An index edited by anyone but CombineLogFiles no longer carries its seal: whatever it says, it
// decides nothing.
TEST_F(DeleteOriginalsTest, AnIndexEditedWithoutItsSealStopsEverything) {
  expect_an_edited_receipt_deletes_nothing(
      [](json::object& output) { output.at("sources").as_array().at(0).as_object()["size"] = 3; },
      "is not trusted: its seal is not for this record", {}, false);
}

// The output's index must place every original inside its output: one that does not (an index
// edited, or written wrong) deletes nothing, since that original could not be cut out again.
TEST_F(DeleteOriginalsTest, AnIndexThatDoesNotFitItsOutputStopsEverything) {
  expect_an_edited_receipt_deletes_nothing(
      [](json::object& output) {
        auto& offsets = output.at("offsets").as_array();
        ASSERT_EQ(offsets.size(), 2u);
        offsets[1] = 1;  // b would start inside a
      },
      "inside the original");
}

// The output is read back and each original's range hashed: an index whose digests are those of
// other bytes (here, two originals' swapped) deletes nothing, though size, ETag and ranges fit.
TEST_F(DeleteOriginalsTest, AnOutputThatDoesNotHoldItsOriginalsByteForByteStopsEverything) {
  expect_an_edited_receipt_deletes_nothing(
      [](json::object& output) {
        auto& digests = output.at("sha256").as_array();
        ASSERT_EQ(digests.size(), 2u);
        std::swap(digests[0], digests[1]);
      },
      "a.log does not have the SHA-256 its index records");
}

TEST_F(DeleteOriginalsTest, BadInputIsAClearErrorAndDeletesNothing) {
  s3_.put_object(source_, "app/2026-03-05/x.log", "x\n");
  const auto not_a_receipt = pipeline::write_jsonl(s3_, work_, "r.json", {{{"outputs", 3}}}, 0);
  for (const json::value& event :
       {json::value(json::object{{"group_id", "g"}}), json::value(json::object{{"receipt", "r"}}),
        json::value(json::object{{"receipt", not_a_receipt.to_json()}}), json::value("x")}) {
    const auto run = tests::invoke_handler(moto_, "DeleteOriginals", event, environment());
    EXPECT_EQ(run.exit_code, 1) << json::serialize(event);
    EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput") << json::serialize(event);
  }
  EXPECT_EQ(s3_.list_all(source_).size(), 1u);
}

}  // namespace

// S3 answers DeleteObjects key by key: a key it refuses is tried again in the next round, and one
// refused in every round is reported (`failed`, the delete-failures work file) and kept in mind.
TEST_F(DeleteOriginalsTest, KeysRefusedInsideADeleteAreRetriedThenReported) {
  const std::string dir = "app/2026-03-05/";
  for (const char* name : {"a.log", "b.log", "c.log", "d.log"})
    s3_.put_object(source_, dir + name, std::string(name) + "\n");
  const auto combined = combine_day();
  ASSERT_EQ(combined.at("files").as_int64(), 4) << json::serialize(combined);
  // Every DeleteObjects has one of its keys refused (InternalError) though moto deleted it: S3's
  // answer for that key was lost.
  const tests::FaultProxy proxy(moto_.endpoint, "--faults key_refused --rate 1");
  auto environment = this->environment();
  environment["AWS_ENDPOINT_URL"] = proxy.url();

  const auto run = tests::invoke_handler(moto_, "DeleteOriginals", combined, environment);

  ASSERT_EQ(run.exit_code, 0) << run.logs;
  // Every round refuses one key: the first of four, then that one alone, until the rounds end.
  EXPECT_EQ(run.response.at("deleted").as_int64(), 3) << json::serialize(run.response);
  EXPECT_EQ(run.response.at("failed").as_int64(), 1) << json::serialize(run.response);
  EXPECT_NE(run.logs.find("S3 refused some deletions; retrying them"), std::string::npos);
  EXPECT_NE(run.logs.find("original could not be deleted; it stays"), std::string::npos);
  EXPECT_GE(proxy.stats().at("faults").at("key_refused").as_int64(), 2)
      << "the refused key was tried again";
  EXPECT_EQ(tests::cli_keys(moto_, work_, "work/run/delete-failures/").size(), 1u)
      << "the key is written down for the operator";
  EXPECT_TRUE(tests::cli_keys(moto_, source_, dir).empty())
      << "moto deleted all four: only the answers were lost";
}
