// AmplifyLogExporter as Lambda runs it, against moto and tools/moto-local's GenerateAccessLogs
// stand-in (signatures and IAM checked; it refuses ranges longer than an app's maxRangeSeconds).
// The stored objects are read back with the aws CLI.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <map>
#include <sstream>

#include "common/dates.h"
#include "common/s3.h"
#include "tests/aws_test_support.h"
#include "tests/in_process.h"

namespace {

namespace json = boost::json;

constexpr std::int64_t kStart = 1763251200;  // 2025-11-16T00:00:00Z
constexpr std::int64_t kDay = 86400;

class AmplifyLogExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = tests::unique_name("amplify-dest");
    ASSERT_TRUE(tests::create_buckets(moto_, {bucket_}));
  }

  // Registers an app with the stand-in; returns its appId.
  std::string register_app(const std::string& account, std::int64_t max_range_seconds,
                           json::object extra = {}) {
    std::string id = "d" + tests::unique_name("").substr(0, 12);
    id.erase(std::remove(id.begin(), id.end(), '-'), id.end());
    json::object app{{"accountId", account},
                     {"region", "eu-west-1"},
                     {"appId", id},
                     {"domainName", "www.example.com"},
                     {"maxRangeSeconds", max_range_seconds}};
    for (const auto& [name, value] : extra) app[name] = value;
    EXPECT_TRUE(tests::register_amplify_app(moto_, app));
    return id;
  }

  static json::object app_record(const std::string& id, const std::string& name,
                                 const std::string& account = "123456789012") {
    return {{"appId", id},
            {"domainName", "www.example.com"},
            {"appName", name},
            {"region", "eu-west-1"},
            {"accountId", account}};
  }
  static std::string utc(std::int64_t seconds) {
    return common::format_utc_seconds(std::chrono::sys_seconds{std::chrono::seconds(seconds)});
  }

  tests::Invocation run(const json::value& event, std::map<std::string, std::string> env = {}) {
    env.emplace("AMPLIFY_APPS", "s3://" + bucket_ + "/config/apps.json");
    env.emplace("DESTINATION_BUCKET", bucket_);
    env.emplace("DESTINATION_PREFIX", "aggregated");
    return tests::invoke_handler(moto_, "AmplifyLogExporter", event, env);
  }
  tests::Invocation export_chunk(const json::object& app, std::int64_t start, std::int64_t end,
                                 std::map<std::string, std::string> env = {}) {
    return run(json::object{{"app", app}, {"start", utc(start)}, {"end", utc(end)}},
               std::move(env));
  }

  // The object as the aws CLI reads it.
  std::string read(const std::string& key) {
    tests::TempDir dir;
    const auto copied = tests::aws_cli(
        moto_, "s3 cp 's3://" + bucket_ + "/" + key + "' " + (dir.path() / "object").string());
    EXPECT_EQ(copied.exit_code, 0) << copied.err;
    std::ifstream in(dir.path() / "object", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Each row's request time (its /page/<epoch> path), counted.
  static std::map<std::int64_t, int> rows_by_time(const std::string& csv, int* headers) {
    std::map<std::int64_t, int> rows;
    std::istringstream lines(csv);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("date,time,")) {
        ++*headers;
        continue;
      }
      const auto page = line.find("/page/");
      if (page == std::string::npos) {
        ADD_FAILURE() << "a row that is not a request: " << line.substr(0, 60);
        continue;
      }
      ++rows[std::stoll(line.substr(page + 6))];
    }
    return rows;
  }

  tests::MotoFixture moto_ = tests::moto_fixture();
  std::string bucket_;
};

TEST_F(AmplifyLogExporterTest, ARangeAmplifyRefusesIsHalvedAndEveryHourIsStoredOnceInOneObject) {
  // Seven days, at most two a request: 7 -> 3.5 -> 1.75 days, four ranges.
  const auto id = register_app("123456789012", 2 * kDay);
  const auto app = app_record(id, "shop");
  const auto run = export_chunk(app, kStart, kStart + 7 * kDay);
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  const std::string key =
      "aggregated/type=amplify_logs/app=shop/date_export=2025-11-16/"
      "log_20251116_000000";
  EXPECT_EQ(run.response.at("key"), key.c_str());
  EXPECT_EQ(run.response.at("ranges"), 4);
  EXPECT_EQ(run.response.at("splits"), 3);
  EXPECT_EQ(run.response.at("rows"), 7 * 24);

  int headers = 0;
  const auto rows = rows_by_time(read(key), &headers);
  EXPECT_EQ(headers, 1) << "one header, the first range's";
  ASSERT_EQ(rows.size(), 7u * 24u);
  EXPECT_EQ(rows.begin()->first, kStart);
  EXPECT_EQ(rows.rbegin()->first, kStart + 7 * kDay - 3600) << "the chunk's end is the next's";
  for (const auto& [time, count] : rows) EXPECT_EQ(count, 1) << "the request at " << utc(time);

  // Amplify reads a range's end as inclusive: each range is asked up to a second before the next.
  const auto ranges = tests::amplify_requests(moto_)[id];
  ASSERT_EQ(ranges.size(), 7u) << "the 7-day and two 3.5-day ranges refused, four served";
  EXPECT_EQ(ranges.back().second, kStart + 7 * kDay - 1);

  // Exported again, the chunk replaces its object: no row twice, no second object.
  ASSERT_EQ(export_chunk(app, kStart, kStart + 7 * kDay).exit_code, 0);
  EXPECT_EQ(tests::cli_keys(moto_, bucket_, "aggregated/").size(), 1u);
  headers = 0;
  EXPECT_EQ(rows_by_time(read(key), &headers).size(), 7u * 24u);
}

TEST_F(AmplifyLogExporterTest, ARangeRefusedBeyondTheDepthFailsWithAmplifysReasonAndStoresNothing) {
  const auto id = register_app("123456789012", 3600);
  const auto run = export_chunk(app_record(id, "blog"), kStart, kStart + 14 * kDay);
  ASSERT_NE(run.exit_code, 0);
  EXPECT_EQ(run.response.at("errorType"), "InvalidInput");
  const std::string message(run.response.at("errorMessage").as_string());
  EXPECT_NE(message.find("after 3 halvings"), std::string::npos) << message;
  EXPECT_NE(message.find("too long"), std::string::npos) << "Amplify's reason: " << message;
  EXPECT_TRUE(tests::cli_keys(moto_, bucket_).empty());
  EXPECT_EQ(tests::cli_open_uploads(moto_, bucket_), 0u);
}

TEST_F(AmplifyLogExporterTest, ALargeFileIsReadInRangesAndUploadedInPartsWithEveryRowOnce) {
  // A request a minute for six days, 1 KiB a row: 8.4 MiB, read in two 5 MiB ranges and
  // uploaded as two parts.
  const auto id =
      register_app("123456789012", 14 * kDay, {{"intervalSeconds", 60}, {"lineBytes", 1024}});
  const auto run = export_chunk(app_record(id, "media"), kStart, kStart + 6 * kDay,
                                {{"PART_BYTES", std::to_string(5 << 20)}});
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("rows"), 6 * 24 * 60);
  const std::string key(run.response.at("key").as_string());
  const auto head = tests::aws_cli(moto_, "s3api head-object --bucket " + bucket_ + " --key '" +
                                              key + "' --query ETag --output text");
  EXPECT_NE(head.out.find("-2\""), std::string::npos) << "a two-part ETag: " << head.out;
  int headers = 0;
  const auto csv = read(key);
  EXPECT_EQ(csv.size(), run.response.at("bytes").to_number<std::uint64_t>());
  const auto rows = rows_by_time(csv, &headers);
  EXPECT_EQ(headers, 1);
  EXPECT_EQ(rows.size(), 6u * 24u * 60u);
  for (const auto& [time, count] : rows) ASSERT_EQ(count, 1) << utc(time);
}

TEST_F(AmplifyLogExporterTest, AUrlThatExpiresMidFileStoresNothingLeavesNoUploadAndIsRetried) {
  // 8.4 MiB, in two ranges of 5 MiB: the URL expires after the first, whose part is uploaded.
  const auto id =
      register_app("123456789012", 14 * kDay,
                   {{"intervalSeconds", 60}, {"lineBytes", 1024}, {"expiresAfterBytes", 5 << 20}});
  const auto run = export_chunk(app_record(id, "expiring"), kStart, kStart + 6 * kDay,
                                {{"PART_BYTES", std::to_string(5 << 20)}});
  ASSERT_NE(run.exit_code, 0);
  EXPECT_EQ(run.response.at("errorType"), "TransientError") << "the state machine asks again";
  EXPECT_NE(std::string(run.response.at("errorMessage").as_string()).find("AccessDenied"),
            std::string::npos)
      << run.response;
  EXPECT_TRUE(tests::cli_keys(moto_, bucket_).empty()) << "no part of the file is stored";
  EXPECT_EQ(tests::cli_open_uploads(moto_, bucket_), 0u) << "the started upload is aborted";
}

TEST_F(AmplifyLogExporterTest, AFileThatIsNotAmplifysCsvIsRefusedAndNothingIsStored) {
  for (const std::string& body : {std::string("<html><body>Service Unavailable</body></html>\n"),
                                  std::string("timestamp,client,path\n2026-11-16T00:00:00Z,a,/\n"),
                                  std::string(70 * 1024, 'x')}) {
    const auto id = register_app("123456789012", 14 * kDay, {{"logBody", body}});
    const auto run = export_chunk(app_record(id, "odd"), kStart, kStart + kDay);
    ASSERT_NE(run.exit_code, 0) << body.substr(0, 20);
    EXPECT_EQ(run.response.at("errorType"), "VerificationFailed") << run.response;
  }
  EXPECT_TRUE(tests::cli_keys(moto_, bucket_).empty());
}

TEST_F(AmplifyLogExporterTest, AnAppInAnotherAccountIsReadAsTheExportsRoleThere) {
  const auto id = register_app("222222222222", 14 * kDay);
  // Asked as this account, the app does not exist: only the role there can read it.
  const auto run = export_chunk(app_record(id, "partner", "222222222222"), kStart, kStart + kDay,
                                {{"CROSS_ACCOUNT_ROLE_NAME", "log-export"}});
  ASSERT_EQ(run.exit_code, 0) << run.logs;
  EXPECT_EQ(run.response.at("rows"), 24);
  auto mislabelled = app_record(id, "partner");  // said to be in this account
  const auto refused = export_chunk(mislabelled, kStart, kStart + kDay);
  ASSERT_NE(refused.exit_code, 0);
  EXPECT_NE(std::string(refused.response.at("errorMessage").as_string()).find("NotFound"),
            std::string::npos)
      << refused.response;
}

TEST_F(AmplifyLogExporterTest, ThePlanCutsTheScheduledWeekIntoChunksForEveryConfiguredApp) {
  common::S3Client s3(tests::moto_options(moto_));
  const json::object config{{"apps", json::array{app_record("d1abc", "shop"),
                                                 app_record("d2def", "blog", "222222222222")}}};
  s3.put_object(bucket_, "config/apps.json", json::serialize(config));
  const auto planned = run(json::object{{"time", "2025-11-24T03:00:00Z"}}, {{"CHUNK_DAYS", "3"}});
  ASSERT_EQ(planned.exit_code, 0) << planned.logs;
  EXPECT_EQ(planned.response.at("from"), "2025-11-17T00:00:00Z");
  EXPECT_EQ(planned.response.at("to"), "2025-11-24T00:00:00Z");
  const auto& apps = planned.response.at("apps").as_array();
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_EQ(apps[1].at("app").at("appName"), "blog");
  const auto& chunks = apps[0].at("chunks").as_array();
  ASSERT_EQ(chunks.size(), 3u) << "3 + 3 + 1 days";
  EXPECT_EQ(chunks[1].at("start"), "2025-11-20T00:00:00Z");
  EXPECT_EQ(chunks[2].at("end"), "2025-11-24T00:00:00Z");

  const auto window =
      run(json::object{{"from", "2025-11-01T00:00:00Z"}, {"to", "2025-11-02T12:00:00Z"}});
  ASSERT_EQ(window.exit_code, 0) << window.logs;
  EXPECT_EQ(window.response.at("apps").at(0).at("chunks").as_array().size(), 1u);
}

TEST_F(AmplifyLogExporterTest, ABadConfigurationOrWindowIsRefusedNamingWhatIsWrong) {
  common::S3Client s3(tests::moto_options(moto_));
  const auto refused = [&](const json::value& config, const json::value& event) {
    s3.put_object(bucket_, "config/apps.json", json::serialize(config));
    const auto run = this->run(event);
    EXPECT_NE(run.exit_code, 0);
    if (run.exit_code == 0) return std::string();
    EXPECT_EQ(run.response.at("errorType"), "InvalidInput");
    return std::string(run.response.at("errorMessage").as_string());
  };
  const json::object week{{"time", "2025-11-24T03:00:00Z"}};
  auto app = app_record("d1abc", "shop");
  auto misspelt = app;
  misspelt["appID"] = "d1abc";
  EXPECT_NE(refused(json::object{{"apps", json::array{misspelt}}}, week).find("\"appID\""),
            std::string::npos);
  auto bad_id = app;
  bad_id["appId"] = "shop-app";
  EXPECT_NE(refused(json::object{{"apps", json::array{bad_id}}}, week).find("\"appId\""),
            std::string::npos);
  auto bad_name = app;
  bad_name["appName"] = "../shop";
  EXPECT_NE(refused(json::object{{"apps", json::array{bad_name}}}, week).find("\"appName\""),
            std::string::npos);
  auto twin = app_record("d9xyz", "shop");
  EXPECT_NE(refused(json::object{{"apps", json::array{app, twin}}}, week).find("two apps"),
            std::string::npos);
  EXPECT_NE(refused(json::object{{"apps", json::array{}}}, week).find("no app"), std::string::npos);
  EXPECT_NE(refused(json::object{{"apps", json::array{app}}},
                    json::object{{"from", "2025-11-02T00:00:00Z"}, {"to", "2025-11-01T00:00:00Z"}})
                .find("before"),
            std::string::npos);
  EXPECT_NE(
      refused(json::object{{"apps", json::array{app}}},
              json::object{{"from", "2025-11-01T00:00:00+01:00"}, {"to", "2025-11-02T00:00:00Z"}})
          .find("UTC"),
      std::string::npos);
  EXPECT_TRUE(tests::cli_keys(moto_, bucket_, "aggregated/").empty());
}

TEST_F(AmplifyLogExporterTest, TheConfigurationCanComeFromParameterStore) {
  const std::string name = "/" + tests::unique_name("amplify") + "/apps";
  const json::object config{{"apps", json::array{app_record("d1abc", "shop")}}};
  tests::TempDir dir;
  std::ofstream(dir.path() / "apps.json") << json::serialize(config);
  ASSERT_EQ(
      tests::aws_cli(moto_, "ssm put-parameter --name " + name + " --type String --value file://" +
                                (dir.path() / "apps.json").string())
          .exit_code,
      0);
  const auto planned =
      run(json::object{{"time", "2025-11-24T03:00:00Z"}}, {{"AMPLIFY_APPS", name}});
  ASSERT_EQ(planned.exit_code, 0) << planned.logs;
  EXPECT_EQ(planned.response.at("apps").at(0).at("chunks").as_array().size(), 1u);
}

}  // namespace
