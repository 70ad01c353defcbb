// GetFiles as Lambda runs it (its bootstrap under lambda-local) against moto: what it finds in a
// Control Tower bucket and in other buckets, what it leaves alone, continuation, and bad input.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <map>
#include <set>

#include "common/s3.h"
#include "pipeline/work_files.h"
#include "runtime/clock.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

class GetFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ct_bucket_ = tests::unique_name("ct-logs");
    other_bucket_ = tests::unique_name("app-logs");
    work_bucket_ = tests::unique_name("work");
    ASSERT_TRUE(tests::create_buckets(moto_, {ct_bucket_, other_bucket_, work_bucket_}));
    ASSERT_EQ(tests::aws_cli(moto_, "s3api put-bucket-versioning --bucket " + ct_bucket_ +
                                        " --versioning-configuration Status=Enabled")
                  .exit_code,
              0);
    const std::string org = "o-abc123/AWSLogs/";
    const std::vector<std::string> ct_keys = {
        // before Control Tower 3.0: o-org/AWSLogs/<account>/...
        org +
            "111111111111/CloudTrail/eu-west-1/2026/03/05/"
            "111111111111_CloudTrail_eu-west-1_a.json.gz",
        org +
            "111111111111/CloudTrail/eu-west-1/2026/03/05/"
            "111111111111_CloudTrail_eu-west-1_b.json.gz",
        org + "111111111111/CloudTrail-Digest/eu-west-1/2026/03/05/digest.json.gz",
        org +
            "111111111111/Config/eu-west-1/2026/3/5/ConfigHistory/history with space+plus.json.gz",
        org + "111111111111/CloudTrail/us-west-2/2026/03/05/excluded-region.json.gz",
        org + "111111111111/CloudTrail/eu-west-1/2026/03/04/other-day.json.gz",
        org + "111111111111/Unrelated/eu-west-1/2026/03/05/not-a-log-type.json.gz",
        // Control Tower 3.0 and later: o-org/AWSLogs/o-org/<account>/...
        org + "o-abc123/222222222222/CloudTrail/us-east-1/2026/03/05/new-layout.json.gz",
    };
    for (const auto& key : ct_keys) s3_.put_object(ct_bucket_, key, "{\"Records\":[]}");
    const std::vector<std::string> other_keys = {
        "alb/2026-03-05/a.log",   "app/2026-3-5/b.log",       "x/2026/03/05/c.log",
        "y/2026/3/5/d.log",       "z/log-20260305.txt",       "root-20260305.log",
        "w/2026-03-15/later.log", "v/20260305123/digits.log", "aggregated/2026-03-05/ours.gz"};
    for (const auto& key : other_keys) s3_.put_object(other_bucket_, key, "line\n");
  }

  std::map<std::string, std::string> environment() const {
    return {{"WORK_BUCKET", work_bucket_},
            {"CONTROL_TOWER_BUCKET", ct_bucket_},
            {"OTHER_BUCKETS", "s3://" + other_bucket_},
            {"AGGREGATION_REGIONS", "eu-west-1,us-east-1"},
            {"DELAY_WINDOW_S", "0"},
            {"DESTINATION_BUCKET", other_bucket_},
            {"DESTINATION_PREFIX", "aggregated/"}};
  }

  // group id -> the keys of its file list; `which`: "groups" (all), "short_groups" or "long_groups"
  std::map<std::string, std::set<std::string>> groups_of(const json::value& response,
                                                         const char* which = "groups") {
    const auto groups_ref = pipeline::FileRef::from_json(response.at(which), which);
    std::map<std::string, std::set<std::string>> groups;
    for (const auto& group : pipeline::read_json_array(s3_, groups_ref)) {
      const auto files = pipeline::FileRef::from_json(group.at("files"), "files");
      auto& keys = groups[std::string(group.at("group_id").as_string())];
      for (const auto& line : pipeline::read_jsonl(s3_, files))
        keys.insert(std::string(line.at("key").as_string()));
    }
    return groups;
  }

  // Invokes GetFiles and feeds each continuation back in, as the state machine does, until it
  // hands back none (50 at most); returns the last invocation and how many there were. With
  // `repeat`, every invocation is made twice, as if its first answer were lost and Step Functions
  // retried it.
  std::pair<tests::Invocation, int> list_to_the_end(json::value event,
                                                    const std::map<std::string, std::string>& env,
                                                    bool repeat = false) {
    tests::Invocation run;
    int invocations = 0;
    do {
      if (repeat) tests::invoke_handler(moto_, "GetFiles", event, env);
      run = tests::invoke_handler(moto_, "GetFiles", event, env);
      ++invocations;
      if (run.exit_code != 0) {
        ADD_FAILURE() << run.logs;
        break;
      }
      event = run.response;
    } while (run.response.as_object().contains("continuation") && invocations < 50);
    return {run, invocations};
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  common::S3Client s3_{tests::moto_options(moto_)};
  std::string ct_bucket_, other_bucket_, work_bucket_;
};

// A digest's signature is in its object's metadata and chains to the previous digest: only an
// operator who says so (and loses `aws cloudtrail validate-logs`) has them combined.
TEST_F(GetFilesTest, DigestFilesAreListedOnlyWhenCombiningThemIsAllowed) {
  auto env = environment();
  env["COMBINE_CLOUDTRAIL_DIGESTS"] = "TRUE";
  const auto run = tests::invoke_handler(moto_, "GetFiles",
                                         {{"date", "2026-03-05"}, {"run_id", "t-digests"}}, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto groups = groups_of(run.response);
  const std::string digest_group = ct_bucket_ + "/111111111111/CloudTrail-Digest/eu-west-1";
  ASSERT_TRUE(groups.contains(digest_group));
  EXPECT_EQ(groups.at(digest_group),
            std::set<std::string>{"o-abc123/AWSLogs/111111111111/CloudTrail-Digest/eu-west-1/"
                                  "2026/03/05/digest.json.gz"});
  EXPECT_EQ(run.response.at("file_count").as_int64(), 11);

  env["COMBINE_CLOUDTRAIL_DIGESTS"] = "yes";
  const auto refused = tests::invoke_handler(
      moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "t-digests-bad"}}, env);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_EQ(refused.response.at("errorType").as_string(), "ConfigurationError");
  EXPECT_NE(std::string(refused.response.at("errorMessage").as_string())
                .find("COMBINE_CLOUDTRAIL_DIGESTS must be true or false, not 'yes'"),
            std::string::npos)
      << refused.response;
}

TEST_F(GetFilesTest, FindsTheDaysFilesInBothLayoutsAndAllDateForms) {
  const auto run = tests::invoke_handler(moto_, "GetFiles",
                                         {{"date", "2026-03-05"}, {"run_id", "t1"}}, environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const auto groups = groups_of(run.response);
  const std::string org = "o-abc123/AWSLogs/";
  const std::map<std::string, std::set<std::string>> expected = {
      {ct_bucket_ + "/111111111111/CloudTrail/eu-west-1",
       {org + "111111111111/CloudTrail/eu-west-1/2026/03/05/"
              "111111111111_CloudTrail_eu-west-1_a.json.gz",
        org + "111111111111/CloudTrail/eu-west-1/2026/03/05/"
              "111111111111_CloudTrail_eu-west-1_b.json.gz"}},
      {ct_bucket_ + "/111111111111/Config/eu-west-1",
       {org +
        "111111111111/Config/eu-west-1/2026/3/5/ConfigHistory/history with space+plus.json.gz"}},
      {ct_bucket_ + "/222222222222/CloudTrail/us-east-1",
       {org + "o-abc123/222222222222/CloudTrail/us-east-1/2026/03/05/new-layout.json.gz"}},
      {other_bucket_ + "/alb/2026-03-05/", {"alb/2026-03-05/a.log"}},
      {other_bucket_ + "/app/2026-3-5/", {"app/2026-3-5/b.log"}},
      {other_bucket_ + "/x/2026/03/05/", {"x/2026/03/05/c.log"}},
      {other_bucket_ + "/y/2026/3/5/", {"y/2026/3/5/d.log"}},
      {other_bucket_ + "/z/", {"z/log-20260305.txt"}},
      {other_bucket_ + "/", {"root-20260305.log"}},
  };
  EXPECT_EQ(groups, expected) << "CloudTrail-Digest files are left where CloudTrail wrote them";
  EXPECT_EQ(run.response.at("file_count").as_int64(), 10);
  EXPECT_EQ(run.response.at("group_count").as_int64(), 9);
  EXPECT_NE(run.logs.find("stripped it"), std::string::npos)
      << "s3:// in OTHER_BUCKETS is reported";
}

// A short group runs in an Express child execution (five minutes at most), a long one in a
// Standard one: each group is in exactly one of the two lists, by its files and its bytes.
TEST_F(GetFilesTest, EachGroupIsShortOrLongByItsFilesAndBytes) {
  auto parted = [&](const std::string& max_files, const std::string& max_bytes) {
    auto env = environment();
    env["SHORT_GROUP_MAX_FILES"] = max_files;
    env["SHORT_GROUP_MAX_BYTES"] = max_bytes;
    const auto run = tests::invoke_handler(
        moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "t-parted-" + max_files}}, env);
    EXPECT_EQ(run.exit_code, 0) << run.logs;
    auto all = groups_of(run.response);
    auto short_groups = groups_of(run.response, "short_groups");
    const auto long_groups = groups_of(run.response, "long_groups");
    EXPECT_EQ(run.response.at("short_groups").at("count").as_int64() +
                  run.response.at("long_groups").at("count").as_int64(),
              run.response.at("group_count").as_int64());
    for (const auto& [id, keys] : long_groups) {
      EXPECT_FALSE(short_groups.contains(id)) << id << " is in both lists";
      short_groups.emplace(id, keys);
    }
    EXPECT_EQ(short_groups, all) << "the two lists hold every group once";
    std::set<std::string> long_ids;
    for (const auto& [id, keys] : long_groups) long_ids.insert(id);
    return long_ids;
  };
  // By files: only the CloudTrail group of two files is over one file.
  EXPECT_EQ(parted("1", "1000000"),
            std::set<std::string>{ct_bucket_ + "/111111111111/CloudTrail/eu-west-1"});
  // By bytes: the Control Tower files are 14 bytes each, the others 5.
  EXPECT_EQ(parted("5000", "10"),
            (std::set<std::string>{ct_bucket_ + "/111111111111/CloudTrail/eu-west-1",
                                   ct_bucket_ + "/111111111111/Config/eu-west-1",
                                   ct_bucket_ + "/222222222222/CloudTrail/us-east-1"}));
  // 0 files: every group is long (no Express at all).
  EXPECT_EQ(parted("0", "1000000").size(), 9u);
}

TEST_F(GetFilesTest, FileListsCarrySizeEtagAndTheListedVersion) {
  const auto run = tests::invoke_handler(moto_, "GetFiles",
                                         {{"date", "2026-03-05"}, {"run_id", "t2"}}, environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  std::size_t groups = 0, files = 0;
  for (const auto& group : pipeline::read_json_array(
           s3_, pipeline::FileRef::from_json(run.response.at("groups"), "g"))) {
    ++groups;
    EXPECT_EQ(group.at("date").as_string(), "2026-03-05");
    const std::string bucket(group.at("source_bucket").as_string());
    for (const auto& line :
         pipeline::read_jsonl(s3_, pipeline::FileRef::from_json(group.at("files"), "f"))) {
      ++files;
      // The Control Tower bucket is versioned: each file names the version that was listed.
      ASSERT_EQ(line.contains("version_id"), group.at("kind") == "control_tower")
          << json::serialize(line);
      // Size and ETag as S3 has them, read with the aws CLI.
      const std::string version =
          line.contains("version_id")
              ? " --version-id " + std::string(line.at("version_id").as_string())
              : "";
      const auto head =
          tests::aws_cli(moto_, "s3api head-object --bucket " + bucket + " --key '" +
                                    std::string(line.at("key").as_string()) + "'" + version);
      ASSERT_EQ(head.exit_code, 0) << head.err;
      const auto object = json::parse(head.out);
      EXPECT_EQ(line.at("size").as_int64(), object.at("ContentLength").to_number<std::int64_t>());
      EXPECT_EQ(line.at("etag").as_string(), object.at("ETag").as_string());
    }
  }
  EXPECT_EQ(groups, 9u);
  EXPECT_EQ(files, 10u);
}

// ORGANIZATION_ID names the one organization whose logs are listed; without it, every o-* folder.
TEST_F(GetFilesTest, OrganizationIdListsThatOrganizationOnly) {
  s3_.put_object(ct_bucket_,
                 "o-zzz999/AWSLogs/333333333333/CloudTrail/eu-west-1/2026/03/05/other-org.json.gz",
                 "{\"Records\":[]}");
  const std::string other_org_group = ct_bucket_ + "/333333333333/CloudTrail/eu-west-1";
  auto env = environment();
  env["ORGANIZATION_ID"] = "o-abc123";
  const auto one = tests::invoke_handler(moto_, "GetFiles",
                                         {{"date", "2026-03-05"}, {"run_id", "org-one"}}, env);
  ASSERT_EQ(one.exit_code, 0) << one.logs;
  const auto listed = groups_of(one.response);
  EXPECT_FALSE(listed.contains(other_org_group));
  EXPECT_TRUE(listed.contains(ct_bucket_ + "/111111111111/CloudTrail/eu-west-1"));
  const auto every = tests::invoke_handler(
      moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "org-all"}}, environment());
  ASSERT_EQ(every.exit_code, 0) << every.logs;
  EXPECT_TRUE(groups_of(every.response).contains(other_org_group))
      << "without ORGANIZATION_ID the other organization is listed too";
}

TEST_F(GetFilesTest, ScheduledTimeMeansTheDayBefore) {
  const auto run = tests::invoke_handler(
      moto_, "GetFiles", {{"time", "2026-03-06T01:00:00Z"}, {"run_id", "t3"}}, environment());
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("date").as_string(), "2026-03-05");
  EXPECT_EQ(run.response.at("file_count").as_int64(), 10);
}

TEST_F(GetFilesTest, FilesInsideTheDelayWindowAreLeftAlone) {
  auto env = environment();
  env["DELAY_WINDOW_S"] = "3600";
  const auto run =
      tests::invoke_handler(moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "t4"}}, env);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("file_count").as_int64(), 0);
  EXPECT_EQ(run.response.at("skipped_recent").as_int64(), 10);
}

// The line is drawn from the execution's start, once: a listing continued or retried later leaves
// out exactly what the first invocation did.
TEST_F(GetFilesTest, TheDelayWindowIsMeasuredFromTheRunsStartInEveryContinuation) {
  auto env = environment();
  env["DELAY_WINDOW_S"] = "3600";
  env["MAX_INVOCATION_MS"] = "0";
  env["LIST_CONCURRENCY"] = "1";
  const auto two_hours_on =
      runtime::format_rfc3339_ms(std::chrono::system_clock::now() + std::chrono::hours(2));
  auto [run, invocations] = list_to_the_end(
      json::object{{"date", "2026-03-05"}, {"run_id", "t5"}, {"started_at", two_hours_on}}, env);
  EXPECT_GE(invocations, 2);
  EXPECT_EQ(run.response.at("file_count").as_int64(), 10) << "an hour old at the run's start";
  EXPECT_EQ(run.response.at("skipped_recent").as_int64(), 0);

  const auto now = runtime::format_rfc3339_ms(std::chrono::system_clock::now());
  const auto at_start = tests::invoke_handler(
      moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "t6"}, {"started_at", now}}, env);
  ASSERT_EQ(at_start.exit_code, 0) << at_start.logs;
  EXPECT_TRUE(at_start.response.as_object().contains("continuation"));
  const auto continued = list_to_the_end(at_start.response, env).first;
  EXPECT_EQ(continued.response.at("file_count").as_int64(), 0);
  EXPECT_EQ(continued.response.at("skipped_recent").as_int64(), 10);
}

TEST_F(GetFilesTest, ContinuationAcrossInvocationsGivesTheSameResult) {
  const auto once = tests::invoke_handler(
      moto_, "GetFiles", {{"date", "2026-03-05"}, {"run_id", "one"}}, environment());
  ASSERT_EQ(once.exit_code, 0) << once.logs;
  auto env = environment();
  env["MAX_INVOCATION_MS"] = "0";  // stop after every round
  env["LIST_CONCURRENCY"] = "1";   // eight units per round: two rounds
  const auto [run, invocations] =
      list_to_the_end(json::object{{"date", "2026-03-05"}, {"run_id", "many"}}, env);
  EXPECT_GE(invocations, 2);
  EXPECT_EQ(groups_of(run.response), groups_of(once.response));
  EXPECT_EQ(run.response.at("file_count"), once.response.at("file_count"));

  // Every invocation made twice: no group is listed twice.
  const auto [repeated, repeated_invocations] = list_to_the_end(
      json::object{{"date", "2026-03-05"}, {"run_id", "twice"}}, env, /*repeat=*/true);
  EXPECT_EQ(repeated_invocations, invocations);
  EXPECT_EQ(json::serialize(repeated.response.at("group_count")),
            json::serialize(once.response.at("group_count")));
  EXPECT_EQ(groups_of(repeated.response), groups_of(once.response));
  EXPECT_EQ(repeated.response.at("file_count"), once.response.at("file_count"));
}

TEST_F(GetFilesTest, BadInputIsAClearErrorAndWritesNothing) {
  const std::vector<json::value> bad_events = {
      json::object{{"date", "2026-02-30"}},
      json::object{{"date", 20260305}},
      json::object{{"time", "yesterday"}},
      json::object{},
      json::object{{"date", "2026-03-05"}, {"buckets", json::array{"someone-elses-bucket"}}},
      json::object{{"date", "2026-03-05"}, {"run_id", "../escape"}},
      json::object{{"date", "2026-03-05"}, {"continuation", "forged"}},
      json::object{{"date", "2026-03-05"}, {"started_at", "yesterday"}},
      json::object{{"date", "2026-03-05"}, {"started_at", 1772668800}},
      json::array{1, 2}};
  for (const auto& event : bad_events) {
    const auto run = tests::invoke_handler(moto_, "GetFiles", event, environment());
    EXPECT_EQ(run.exit_code, 1) << json::serialize(event);
    EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput") << json::serialize(event);
  }
  EXPECT_TRUE(s3_.list_all(work_bucket_).empty()) << "nothing was written";
}

// aggregate_history asks GetFiles for the days of a backfill before it runs each of them.
TEST_F(GetFilesTest, ABackfillRangeBecomesItsDaysInOrder) {
  const auto range = tests::invoke_handler(
      moto_, "GetFiles", {{"start_date", "2024-02-27"}, {"end_date", "2024-03-02"}}, environment());
  ASSERT_EQ(range.exit_code, 0) << range.logs;
  EXPECT_EQ(json::serialize(range.response.at("days")),
            R"(["2024-02-27","2024-02-28","2024-02-29","2024-03-01","2024-03-02"])");
  EXPECT_EQ(range.response.at("day_count").as_int64(), 5);
  EXPECT_EQ(json::serialize(range.response.at("buckets")),
            json::serialize(json::array{json::string(ct_bucket_), json::string(other_bucket_)}))
      << "every configured bucket when none is named";

  const auto one = tests::invoke_handler(moto_, "GetFiles",
                                         {{"start_date", "2026-03-05"},
                                          {"end_date", "2026-03-05"},
                                          {"buckets", json::array{"s3://" + other_bucket_}}},
                                         environment());
  ASSERT_EQ(one.exit_code, 0) << one.logs;
  EXPECT_EQ(json::serialize(one.response.at("days")), R"(["2026-03-05"])");
  EXPECT_EQ(json::serialize(one.response.at("buckets")),
            json::serialize(json::array{json::string(other_bucket_)}));

  const std::vector<json::object> bad_ranges = {
      {{"start_date", "2026-03-05"}},
      {{"start_date", "2026-03-05"}, {"end_date", "2026-03-04"}},
      {{"start_date", "2026-03-05"}, {"end_date", "2999-01-01"}},
      {{"start_date", "2000-01-01"}, {"end_date", "2026-01-01"}},
      {{"start_date", "2026-02-30"}, {"end_date", "2026-03-01"}},
      {{"start_date", "2026-03-01"},
       {"end_date", "2026-03-02"},
       {"buckets", json::array{"someone-elses-bucket"}}}};
  for (const auto& event : bad_ranges) {
    const auto run = tests::invoke_handler(moto_, "GetFiles", event, environment());
    EXPECT_EQ(run.exit_code, 1) << json::serialize(event);
    EXPECT_EQ(run.response.at("errorType").as_string(), "InvalidInput") << json::serialize(event);
  }
  EXPECT_TRUE(s3_.list_all(work_bucket_).empty()) << "a range lists nothing and writes nothing";
}

TEST_F(GetFilesTest, MissingConfigurationFailsInitialisation) {
  auto env = environment();
  env["WORK_BUCKET"] = "";
  const auto run = tests::invoke_handler(moto_, "GetFiles", {{"date", "2026-03-05"}}, env);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.response.at("errorType").as_string(), "ConfigurationError");
  EXPECT_NE(run.response.at("errorMessage").as_string().find("WORK_BUCKET"), std::string::npos);
}

}  // namespace
