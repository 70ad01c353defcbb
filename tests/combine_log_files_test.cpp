// CombineLogFiles as Lambda runs it, against moto, with outputs checked by the aws CLI and the
// system's gzip: every original's content, in order, each starting on a new line.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <random>

#include "common/gzip.h"
#include "common/s3.h"
#include "common/work_files.h"
#include "tests/aws_test_support.h"

namespace {

namespace json = boost::json;

std::string random_lines(std::size_t bytes, unsigned seed) {
  std::mt19937 generator(seed);
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  text.reserve(bytes + 100);
  while (text.size() < bytes) {
    text += "{\"eventID\":\"";
    for (int i = 0; i < 60; ++i) text.push_back(kAlphabet[generator() % 64]);
    text += "\"}\n";
  }
  return text;
}

class CombineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = tests::unique_name("src");
    work_ = tests::unique_name("work");
    destination_ = tests::unique_name("dest");
    ASSERT_TRUE(tests::create_buckets(moto_, {source_, work_, destination_}));
  }
  std::map<std::string, std::string> environment() const {
    return {{"WORK_BUCKET", work_},
            {"DESTINATION_BUCKET", destination_},
            {"DESTINATION_PREFIX", "agg"},
            {"GLACIER_MIN_SIZE", "204800"}};
  }
  void put(const std::string& key, const std::string& bytes, const std::string& text) {
    s3_.put_object(source_, key, bytes);
    text_of_[key] = text;
  }
  // GetFiles-like file list -> DetermineOperationType -> CombineLogFiles.
  tests::Invocation plan_and_combine(const std::string& directory,
                                     bool change_after_planning = false) {
    std::vector<json::object> lines;
    for (const auto& object : s3_.list_all(source_, directory)) {
      lines.push_back({{"key", object.key}, {"size", object.size}, {"etag", object.etag}});
    }
    const auto files =
        common::write_jsonl(s3_, work_, "lists/" + tests::unique_name("l") + ".jsonl", lines, 0);
    json::object group{{"group_id", "g-" + directory}, {"kind", "other"},
                       {"source_bucket", source_},     {"directory", directory},
                       {"date", "2026-03-05"},         {"run_id", "run"},
                       {"files", files.to_json()}};
    auto planned = tests::invoke_function(moto_, "DetermineOperationType", group, environment());
    EXPECT_EQ(planned.exit_code, 0) << planned.logs;
    if (change_after_planning)
      s3_.put_object(source_, directory + "changed.log", "rewritten after planning\n");
    json::object event = planned.response.as_object();
    event["run_id"] = "run";
    return tests::invoke_function(moto_, "CombineLogFiles", event, environment());
  }
  json::object receipt_of(const tests::Invocation& run) {
    const auto ref = common::FileRef::from_json(run.response.at("receipt"), "receipt");
    return json::parse(s3_.get_object(ref.bucket, ref.key)).as_object();
  }
  // The output as the aws CLI downloads it, decompressed by the system's gzip when it is .gz.
  std::string fetch_text(const std::string& key) {
    tests::TempDir dir;
    const auto path = (dir.path() / "out").string();
    EXPECT_EQ(
        tests::aws_cli(moto_, "s3 cp 's3://" + destination_ + "/" + key + "' " + path).exit_code,
        0);
    const auto text = tests::run_command((key.ends_with(".gz") ? "gzip -dc " : "cat ") + path);
    EXPECT_EQ(text.exit_code, 0) << text.err;
    return text.out;
  }
  // What an output must decompress to: each source's text, a newline added where it lacks one
  // (always after a large gzip source, whose end is not read).
  std::string expected_text(const json::object& output) {
    std::string text;
    for (const auto& source : output.at("sources").as_array()) {
      const std::string key(source.at("key").as_string());
      const std::string& content = text_of_.at(key);
      text += content;
      const bool large_gzip = output.at("key").as_string().ends_with(".gz") &&
                              source.at("size").as_int64() >= (10 << 20);
      if (large_gzip || content.empty() || content.back() != '\n') {
        if (!content.empty() || large_gzip) text += "\n";
      }
    }
    return text;
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  std::string source_, work_, destination_;
  std::map<std::string, std::string> text_of_;
};

TEST_F(CombineTest, EveryOriginalInOrderOnItsOwnLinesGzipAndPlainApart) {
  const std::string dir = "app/2026-03-05/";
  const std::string trail = "{\"Records\":[{\"eventName\":\"GetObject\"}]}";  // no final newline
  put(dir + "a-cloudtrail.json.gz", common::gzip(trail), trail);
  put(dir + "b-with-newline.json.gz", common::gzip("line b\n"), "line b\n");
  put(dir + "c-plain.log", "plain c1\nplain c2", "plain c1\nplain c2");
  put(dir + "d-plain-newline.log", "plain d\n", "plain d\n");
  put(dir + "e-empty.log", "", "");
  put(dir + "f-not-really.gz", "named .gz, plain inside\n", "named .gz, plain inside\n");
  const std::string big_text = random_lines(18 << 20, 1);
  const std::string big_gzip = common::gzip(big_text);
  ASSERT_GE(big_gzip.size(), 10u << 20) << "must be large enough to be copied server-side";
  put(dir + "g-large.json.gz", big_gzip, big_text);
  std::string big_plain = random_lines(12 << 20, 2);
  big_plain.pop_back();  // no final newline
  put(dir + "h-large-plain.log", big_plain, big_plain);
  for (int i = 0; i < 40; ++i) {
    const std::string text = random_lines(2000 + i * 97, 10 + i);
    put(dir + "many-" + std::to_string(100 + i) + ".json.gz", common::gzip(text), text);
  }

  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  const auto& outputs = receipt.at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 2u) << json::serialize(receipt);
  std::set<std::string> combined;
  for (const auto& output : outputs) {
    const std::string key(output.at("key").as_string());
    EXPECT_EQ(fetch_text(key), expected_text(output.as_object())) << key;
    for (const auto& source : output.at("sources").as_array())
      combined.insert(std::string(source.at("key").as_string()));
    const auto head = tests::aws_cli(
        moto_, "s3api head-object --bucket " + destination_ + " --key '" + key + "'");
    EXPECT_NE(head.out.find("STANDARD_IA"), std::string::npos) << head.out;
  }
  EXPECT_TRUE(outputs[0].at("key").as_string().ends_with(".gz"));
  EXPECT_TRUE(outputs[1].at("key").as_string().ends_with(".log"));
  // The large sources went server-side but for their downloaded 5 MiB tails.
  EXPECT_EQ(outputs[0].at("copied_bytes").as_int64(),
            static_cast<std::int64_t>(big_gzip.size() - (5 << 20)));
  EXPECT_EQ(outputs[1].at("copied_bytes").as_int64(),
            static_cast<std::int64_t>(big_plain.size() - (5 << 20)));
  EXPECT_EQ(combined.size(), text_of_.size() - 1)
      << "every non-empty file is in exactly one output";
  EXPECT_EQ(receipt.at("empty_sources").as_array().size(), 1u);
  EXPECT_TRUE(receipt.at("skipped").as_array().empty());
  EXPECT_TRUE(s3_.list_multipart_uploads(destination_).empty()) << "no upload left open";
}

TEST_F(CombineTest, ASourceChangedAfterPlanningIsLeftOutAndReported) {
  const std::string dir = "svc/2026-03-05/";
  put(dir + "changed.log", "original\n", "original\n");
  put(dir + "stable.log", "stable\n", "stable\n");
  const auto run = plan_and_combine(dir, true);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("skipped").as_array().size(), 1u);
  EXPECT_EQ(receipt.at("skipped").at(0).at("key").as_string(), dir + "changed.log");
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 1u);
  EXPECT_EQ(fetch_text(std::string(receipt.at("outputs").at(0).at("key").as_string())), "stable\n");
}

TEST_F(CombineTest, AStaleUploadFromACrashedAttemptIsAbortedAndTheOutputIsWhole) {
  const std::string dir = "svc/2026-03-05/";
  put(dir + "one.log", "one\n", "one\n");
  put(dir + "two.log", "two", "two");
  const std::string key = "agg/" + source_ + "/date=2026-03-05/svc_2026-03-05-0001.log";
  const std::string stale = s3_.create_multipart_upload(destination_, key);
  s3_.upload_part(destination_, key, stale, 1, "half-written garbage");
  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(fetch_text(key), "one\ntwo\n");
  EXPECT_TRUE(s3_.list_multipart_uploads(destination_).empty());
}

TEST_F(CombineTest, CopyAllCopiesEachFileAsItIs) {
  const std::string dir = "big/2026-03-05/";
  const std::string text = random_lines(300 * 1024, 3);
  put(dir + "x.log", text, text);
  const auto run = plan_and_combine(dir);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 1u);
  const std::string key(receipt.at("outputs").at(0).at("key").as_string());
  EXPECT_EQ(key, "agg/" + source_ + "/date=2026-03-05/x.log");
  EXPECT_EQ(fetch_text(key), text);
}

// Forced to stop at every commit point: several invocations, a retried one among them, and the
// same output as one invocation makes. The plan asks for 5 MiB parts (S3's smallest) so 17 MiB
// of logs commit three times.
TEST_F(CombineTest, ContinuationAcrossInvocationsGivesTheSameOutputEvenWhenRetried) {
  const std::string dir = "bulk/2026-03-05/";
  json::array sources;
  for (int i = 0; i < 17; ++i) {
    std::string text = random_lines(1 << 20, 100 + i);
    if (i % 2) text.pop_back();  // some without a final newline
    const std::string key = dir + "part-" + std::to_string(100 + i) + ".log";
    const auto written = s3_.put_object(source_, key, text);
    text_of_[key] = text;
    sources.push_back(json::object{{"key", key}, {"size", text.size()}, {"etag", written.etag}});
  }
  const json::object plan{{"group_id", "g-bulk"},
                          {"operation", "aggregate"},
                          {"source_bucket", source_},
                          {"date", "2026-03-05"},
                          {"outputs", json::array{json::object{{"key_base", "agg/bulk"},
                                                               {"part_size", 5 << 20},
                                                               {"bytes", 17 << 20},
                                                               {"sources", sources}}}}};
  s3_.put_object(work_, "plans/bulk.json", json::serialize(plan));
  const json::object event{{"run_id", "run"},
                           {"group_id", "g-bulk"},
                           {"plan", common::FileRef{work_, "plans/bulk.json", 1, 0}.to_json()}};

  const auto once = tests::invoke_function(moto_, "CombineLogFiles", event, environment());
  ASSERT_EQ(once.exit_code, 0) << once.logs;
  const auto once_receipt = receipt_of(once);
  ASSERT_EQ(once_receipt.at("outputs").as_array().size(), 1u);
  const std::string once_text = fetch_text("agg/bulk.log");
  ASSERT_TRUE(once_text == expected_text(once_receipt.at("outputs").at(0).as_object()));
  s3_.delete_objects(destination_, {{"agg/bulk.log", ""}});

  auto env = environment();
  env["MAX_INVOCATION_MS"] = "0";
  json::value next = event;
  int invocations = 0;
  bool retried = false;
  tests::Invocation run;
  while (true) {
    run = tests::invoke_function(moto_, "CombineLogFiles", next, env);
    ASSERT_EQ(run.exit_code, 0) << run.logs;
    ++invocations;
    if (!run.response.as_object().contains("continuation") || invocations > 40) break;
    if (!retried && invocations == 2) {
      retried = true;  // as if this answer were lost: the previous input is sent again
      continue;
    }
    next = run.response;
  }
  EXPECT_GE(invocations, 4);
  const auto receipt = receipt_of(run);
  ASSERT_EQ(receipt.at("outputs").as_array().size(), 1u);
  EXPECT_TRUE(fetch_text("agg/bulk.log") == once_text) << "identical to the one-shot output";
  EXPECT_EQ(json::serialize(receipt.at("outputs").at(0).at("sources")),
            json::serialize(once_receipt.at("outputs").at(0).at("sources")));
  EXPECT_GE(receipt.at("outputs").at(0).at("parts").as_int64(), 4);
  EXPECT_TRUE(s3_.list_multipart_uploads(destination_).empty()) << "no upload left open";
}

TEST_F(CombineTest, BadInputIsAClearErrorAndWritesNothing) {
  const auto bad_plan = common::write_jsonl(s3_, work_, "bad-plan.json", {{{"no", "outputs"}}}, 0);
  for (const json::value& event :
       {json::value(json::object{{"run_id", "r"}, {"group_id", "g"}}),
        json::value(json::object{{"run_id", "r"}, {"group_id", "g"}, {"plan", "nope"}}),
        json::value(json::object{{"run_id", "r"}, {"group_id", "g"}, {"plan", bad_plan.to_json()}}),
        json::value(json::object{{"group_id", "g"}, {"plan", bad_plan.to_json()}}),
        json::value(
            json::object{{"run_id", "a/b"}, {"group_id", "g"}, {"plan", bad_plan.to_json()}}),
        json::value(42)}) {
    const auto run = tests::invoke_function(moto_, "CombineLogFiles", event, environment());
    EXPECT_EQ(run.exit_code, 1) << json::serialize(event);
    EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput")
        << json::serialize(event) << run.logs;
  }
  EXPECT_TRUE(s3_.list_all(destination_).empty());
}

}  // namespace
