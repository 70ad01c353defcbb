// DetermineOperationType as Lambda runs it, against moto: plans from real file lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/s3.h"
#include "pipeline/work_files.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

class DetermineOperationTypeTest : public ::testing::Test {
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
            {"DESTINATION_PREFIX", "aggregated"}};
  }
  // A group whose file list is written as given.
  json::object group(const std::vector<json::object>& lines, json::object fields) {
    const auto files = pipeline::write_jsonl(
        s3_, work_, "lists/" + tests::unique_name("list") + ".jsonl", lines, 0);
    fields["files"] = files.to_json();
    fields["run_id"] = "run";
    fields["source_bucket"] = source_;
    if (!fields.contains("date")) fields["date"] = "2026-03-05";
    return fields;
  }
  // The plan with each output's sources read from the JSONL file the plan keeps them in.
  json::object plan_of(const tests::Invocation& run) {
    const auto ref = pipeline::FileRef::from_json(run.response.at("plan"), "plan");
    auto plan = json::parse(s3_.get_object(ref.bucket, ref.key)).as_object();
    for (auto& output : plan.at("outputs").as_array()) {
      auto& sources = output.as_object().at("sources");
      EXPECT_TRUE(sources.is_object()) << "each output's sources in a file of their own";
      if (!sources.is_object()) continue;
      const auto file = pipeline::FileRef::from_json(sources, "sources");
      json::array lines;
      for (auto& line : pipeline::read_jsonl(s3_, file)) lines.emplace_back(std::move(line));
      EXPECT_EQ(lines.size(), static_cast<std::size_t>(file.count));
      sources = std::move(lines);
    }
    return plan;
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  std::string source_, work_, destination_;
};

TEST_F(DetermineOperationTypeTest, ControlTowerGroupFromGetFilesIsAggregatedUnderHiveKeys) {
  ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + source_ +
                                      " --versioning-configuration Status=Enabled")
                .exit_code,
            0);
  const std::string dir = "o-abc123/AWSLogs/111111111111/CloudTrail/eu-west-1/2026/03/05/";
  for (const char* name : {"b.json.gz", "a.json.gz", "c.json.gz"})
    s3_.put_object(source_, dir + name, "{}");
  const auto found = tests::invoke_handler(
      moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "chain"}},
      {{"WORK_BUCKET", work_}, {"CONTROL_TOWER_BUCKET", source_}, {"DELAY_WINDOW_S", "0"}});
  ASSERT_EQ(found.exit_code, 0) << found.logs;
  const auto groups = pipeline::read_json_array(
      s3_, pipeline::FileRef::from_json(found.response.at("groups"), "g"));
  ASSERT_EQ(groups.size(), 1u);
  json::object item = groups[0].as_object();
  item["run_id"] = "chain";  // what the Map's ItemSelector adds

  const auto run = tests::invoke_handler(moto_, "DetermineOperationType", item, environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("operation").as_string(), "aggregate");
  EXPECT_EQ(run.response.at("files").as_int64(), 3);
  const auto plan = plan_of(run);
  const auto& outputs = plan.at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(
      std::string(outputs[0].at("key_base").as_string()),
      std::string("aggregated/CloudTrail/account=111111111111/region=eu-west-1/date=2026-03-05/"
                  "CloudTrail_111111111111_eu-west-1_2026-03-05-0001"));
  std::vector<std::string> keys;
  for (const auto& source : outputs[0].at("sources").as_array()) {
    keys.emplace_back(source.at("key").as_string());
    EXPECT_TRUE(source.as_object().contains("version_id")) << "the listed version travels on";
  }
  EXPECT_EQ(keys,
            (std::vector<std::string>{dir + "a.json.gz", dir + "b.json.gz", dir + "c.json.gz"}));

  // Deterministic: planned again, the same plan.
  const auto again = tests::invoke_handler(moto_, "DetermineOperationType", item, environment());
  EXPECT_EQ(json::serialize(plan_of(again)), json::serialize(plan));
}

TEST_F(DetermineOperationTypeTest, LargeFilesAreCopiedAsTheyAreAndEmptyGroupsNeedNothing) {
  auto env = environment();
  env["GLACIER_MIN_SIZE"] = "100";
  const auto copy = tests::invoke_handler(
      moto_, "DetermineOperationType",
      group({{{"key", "logs/2026-03-05/big-1.log"}, {"size", 150}, {"etag", "\"1\""}},
             {{"key", "logs/2026-03-05/big-2.log"}, {"size", 120}, {"etag", "\"2\""}}},
            {{"group_id", "g-copy"}, {"kind", "other"}, {"directory", "logs/2026-03-05/"}}),
      env);
  ASSERT_EQ(copy.exit_code, 0) << copy.logs;
  EXPECT_EQ(copy.response.at("operation").as_string(), "copy_all");
  const auto outputs = plan_of(copy).at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].at("key_base").as_string(), "aggregated/" + source_ + "/date=2026-03-05/" +
                                                       tests::output_name("logs/2026-03-05/") +
                                                       "_big-1.log");
  EXPECT_TRUE(outputs[0].at("copy").as_bool());

  const auto none = tests::invoke_handler(
      moto_, "DetermineOperationType",
      group({}, {{"group_id", "g-none"}, {"kind", "other"}, {"directory", "x/"}}), environment());
  ASSERT_EQ(none.exit_code, 0) << none.logs;
  EXPECT_EQ(none.response.at("operation").as_string(), "none");
  EXPECT_FALSE(none.response.as_object().contains("plan"));
}

TEST_F(DetermineOperationTypeTest, UnknownSizesAreAskedOfS3) {
  s3_.put_object(source_, "app/2026/03/05/07/a.log", "seven\n");
  s3_.put_object(source_, "app/2026/03/05/07/b.log", "seven!!\n");
  const auto run = tests::invoke_handler(
      moto_, "DetermineOperationType",
      group({{{"key", "app/2026/03/05/07/a.log"}}, {{"key", "app/2026/03/05/07/b.log"}}},
            {{"group_id", "g-head"}, {"kind", "other"}, {"directory", "app/2026/03/05/07/"}}),
      environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("bytes").as_int64(), 14) << "sizes came from HEAD";
  const auto outputs = plan_of(run).at("outputs").as_array();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(std::string(outputs[0].at("key_base").as_string()),
            "aggregated/" + source_ + "/date=2026-03-05/" +
                tests::output_name("app/2026/03/05/07/") + "-0001");
  for (const auto& source : outputs[0].at("sources").as_array()) {
    EXPECT_FALSE(source.at("etag").as_string().empty());
    EXPECT_GT(source.at("size").as_int64(), 0);
  }
}

// A day run again (late files, a backfill over it) must not overwrite the earlier outputs: their
// originals are already deleted.
TEST_F(DetermineOperationTypeTest, ADayAggregatedAgainGetsNewOutputsBesideTheEarlierOnes) {
  const std::string directory = "aggregated/" + source_ + "/date=2026-03-05/";
  const std::string app = tests::output_name("app/2026/03/05/07/");
  const std::string logs = tests::output_name("logs/2026-03-05/");
  for (const std::string& name :
       {app + "-0001.gz", app + "-0002.log", app + "-0009-not-ours.log", logs + "_big-1.log"}) {
    s3_.put_object(destination_, directory + name, "earlier run\n");
  }
  const auto run = tests::invoke_handler(
      moto_, "DetermineOperationType",
      group({{{"key", "app/2026/03/05/07/late.log"}, {"size", 5}, {"etag", "\"e\""}}},
            {{"group_id", "g-late"}, {"kind", "other"}, {"directory", "app/2026/03/05/07/"}}),
      environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(std::string(plan_of(run).at("outputs").at(0).at("key_base").as_string()),
            directory + app + "-0003");

  auto env = environment();
  env["GLACIER_MIN_SIZE"] = "100";
  const auto copy = tests::invoke_handler(
      moto_, "DetermineOperationType",
      group({{{"key", "logs/2026-03-05/big-1.log"}, {"size", 150}, {"etag", "\"1\""}}},
            {{"group_id", "g-copy"}, {"kind", "other"}, {"directory", "logs/2026-03-05/"}}),
      env);
  ASSERT_EQ(copy.exit_code, 0) << copy.logs;
  EXPECT_EQ(std::string(plan_of(copy).at("outputs").at(0).at("key_base").as_string()),
            directory + logs + "_big-1-0002.log");
}

// Groups of one day planned at once never share an output key: folders whose slugs collide, the
// bucket's root beside a folder named root, and files of one name copied from two folders.
TEST_F(DetermineOperationTypeTest, DistinctGroupsNeverShareAnOutputKey) {
  std::set<std::string> keys;
  std::size_t outputs = 0;
  auto plan = [&](const std::string& directory, std::uint64_t size, const std::string& file,
                  const std::map<std::string, std::string>& env) {
    const auto run = tests::invoke_handler(
        moto_, "DetermineOperationType",
        group(
            {{{"key", directory + file}, {"size", size}, {"etag", "\"e\""}},
             {{"key", directory + file}, {"size", size}, {"etag", "\"f\""}, {"version_id", "v2"}}},
            {{"group_id", "g-" + directory}, {"kind", "other"}, {"directory", directory}}),
        env);
    ASSERT_EQ(run.exit_code, 0) << run.logs;
    const json::object planned = plan_of(run);
    for (const auto& output : planned.at("outputs").as_array()) {
      keys.insert(std::string(output.at("key_base").as_string()));
      ++outputs;
    }
  };
  for (const std::string directory : {"a/b/", "a_b/", "", "root/"})
    plan(directory, 10, "x-2026-03-05.log", environment());
  auto copy = environment();
  copy["GLACIER_MIN_SIZE"] = "100";
  for (const std::string directory : {"h1/", "h2/"}) plan(directory, 150, "big.gz", copy);
  EXPECT_EQ(outputs, 4u + 4u) << "one output per folder, one per copied version";
  EXPECT_EQ(keys.size(), outputs) << "every key its own";
}

// MAX_OUTPUT_BYTES bounds each output; HEAD_CONCURRENCY bounds the HEADs for sizes the list did
// not give, as the fault proxy (every request held 100 ms, so they overlap) counts them.
TEST_F(DetermineOperationTypeTest, OutputsAreSplitAtMaxOutputBytesWithAtMostHeadConcurrencyHeads) {
  const std::string directory = "app/2026/03/05/09/";
  std::vector<json::object> lines;
  std::vector<std::string> put_keys;
  for (int i = 0; i < 8; ++i) {
    const std::string key = directory + "f" + std::to_string(i) + ".log";
    s3_.put_object(source_, key, std::string(999, 'a' + i) + "\n");
    lines.push_back({{"key", key}});  // no size, no etag: asked of S3
    put_keys.push_back(key);
  }
  const tests::FaultProxy proxy(moto_.endpoint, "--faults delay --rate 1 --delay-ms 100");
  auto environment_through_proxy = environment();
  environment_through_proxy["AWS_ENDPOINT_URL"] = proxy.url();
  environment_through_proxy["MAX_OUTPUT_BYTES"] = "3000";
  environment_through_proxy["HEAD_CONCURRENCY"] = "3";
  const auto run = tests::invoke_handler(
      moto_, "DetermineOperationType",
      group(lines, {{"group_id", "g-split"}, {"kind", "other"}, {"directory", directory}}),
      environment_through_proxy);
  ASSERT_EQ(run.exit_code, 0) << run.logs;

  const auto outputs = plan_of(run).at("outputs").as_array();
  EXPECT_EQ(outputs.size(), 3u) << "8 files of 1,000 bytes, at most 3,000 bytes an output";
  std::vector<std::string> planned_keys;
  for (const auto& output : outputs) {
    std::int64_t bytes = 0;
    for (const auto& source : output.at("sources").as_array()) {
      bytes += source.at("size").as_int64();
      planned_keys.emplace_back(source.at("key").as_string());
    }
    EXPECT_LE(bytes, 3000) << json::serialize(output);
    EXPECT_EQ(output.at("bytes").as_int64(), bytes);
  }
  std::sort(planned_keys.begin(), planned_keys.end());
  EXPECT_EQ(planned_keys, put_keys) << "every file in exactly one output";

  const auto heads = proxy.stats().at("operations").at("HeadObject");
  EXPECT_EQ(heads.at("count").as_int64(), 8);
  EXPECT_EQ(heads.at("most_in_flight").as_int64(), 3) << "3 at once, never more";
}

TEST_F(DetermineOperationTypeTest, MissingSourceFailsThePlan) {
  const auto run =
      tests::invoke_handler(moto_, "DetermineOperationType",
                            group({{{"key", "gone.log"}}},
                                  {{"group_id", "g-gone"}, {"kind", "other"}, {"directory", ""}}),
                            environment());
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.response.at("errorType").as_string(), "AwsError") << run.logs;
}

TEST_F(DetermineOperationTypeTest, BadInputIsAClearErrorAndWritesNoPlan) {
  const auto good = group({{{"key", "k"}, {"size", 1}, {"etag", "\"e\""}}},
                          {{"group_id", "g"}, {"kind", "other"}, {"directory", ""}});
  std::vector<json::value> bad_events;
  for (const char* field : {"group_id", "run_id", "source_bucket", "date", "kind", "files"}) {
    json::object event = good;
    event.erase(field);
    bad_events.push_back(event);
  }
  json::object bad_date = good;
  bad_date["date"] = "05/03/2026";
  json::object bad_kind = good;
  bad_kind["kind"] = "mystery";
  json::object bad_files = good;
  bad_files["files"] = "not a reference";
  json::object bad_run = good;
  bad_run["run_id"] = "../elsewhere";
  bad_events.push_back(bad_run);
  json::object bad_list = group({{{"size", 3}}}, {{"group_id", "g2"}, {"kind", "other"}});
  for (auto& event : {json::value(bad_date), json::value(bad_kind), json::value(bad_files),
                      json::value(bad_list), json::value("string")}) {
    bad_events.push_back(event);
  }
  const auto before = s3_.list_all(work_).size();
  for (const auto& event : bad_events) {
    const auto run = tests::invoke_handler(moto_, "DetermineOperationType", event, environment());
    EXPECT_EQ(run.exit_code, 1) << json::serialize(event);
    EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput") << json::serialize(event);
  }
  EXPECT_EQ(s3_.list_all(work_).size(), before) << "no plan was written";
}

}  // namespace
